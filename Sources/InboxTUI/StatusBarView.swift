import InboxCore
import InboxStore

// The bottom line: listener, outbox, notices and key hints.

extension Renderer {
    mutating func statusBar(y: Int) {
        let width = state.width
        buffer.fill(x: 0, y: y, width: width, height: 1, style: theme[.statusBar])
        var parts: [String] = []
        let listener = state.listener
        if listener.isDemo { parts.append("DEMO") }
        if let agent = state.agent { parts.append(TerminalText.sanitize(state.agentLabel(agent))) }
        if let attached = listener.attachedTo {
            let address = listener.address.map { $0 + " " } ?? ""
            parts.append((listener.isUp ? glyphs.up : glyphs.down) + " " + address + "via " + TerminalText.sanitize(attached))
        } else if let address = listener.address {
            parts.append((listener.isUp ? glyphs.up : glyphs.down) + " " + address)
        }
        if let last = listener.lastWebhookAt {
            // Minutes, not seconds: a status bar that changes every second would redraw
            // (and cost bytes over SSH) every second.
            let age = state.now - last
            parts.append(age < 60 ? "webhook <1m ago" : "webhook \(Describe.age(age)) ago")
        }
        if listener.waitingToSend > 0 { parts.append("\(listener.waitingToSend) to send") }
        // The applier runs just behind the acknowledgements; said only once it is a second
        // or more behind, when what the screen shows is visibly not all that was received.
        if listener.applierLag > 0, let oldest = listener.oldestUnappliedAt, state.now - oldest >= 2 {
            parts.append("applying \(listener.applierLag) webhooks")
        }
        let left = " " + parts.joined(separator: " · ")
        // A file picked in the thread: what o and S do with it.
        let pickedFile = state.focus == .thread && state.pickedMessage.flatMap { picked in
            state.thread.last { $0.rowID == picked }.map { if case .media = $0.content { true } else { false } }
        } == true
        let keys = pickedFile ? (state.isNarrow ? "o open · S save " : "o open · S save  r reply  ? help ")
            : state.isNarrow ? "? help " : "/ filter  s search  u unread  ? help  q quit "
        // Never hidden by a problem or a notice: anyone can write into this inbox.
        let warning = listener.isInsecure ? buffer.put(" INSECURE: signatures not checked ", x: 0, y: y, style: theme[.statusError]) : 0
        let used = warning + buffer.put(left, x: warning, y: y, style: theme[.statusBar])
        // In the demo, a customer whose replies do not simply go through says why.
        let hints = pickedFile ? keys
            : state.selectedHint.map { TerminalText.truncate(TerminalText.sanitize($0), to: max(1, width - used - 3)) + " " }
            ?? keys
        var problem = listener.problem
        switch listener.sending {
        case .halted(let reason): problem = problem ?? reason
        case .off(let reason) where listener.waitingToSend > 0: problem = problem ?? reason
        default: break
        }
        if problem == nil, let alert = listener.alerts.first {
            // Until Meta lifts it, on every screen: agents must not send into a wall.
            problem = alert + (listener.alerts.count > 1 ? " (+\(listener.alerts.count - 1) more: wabox doctor)" : "")
        }
        if let problem = state.flash ?? problem {
            let style = state.flash == nil ? theme[.statusError] : theme[.statusBar]
            buffer.put(" " + TerminalText.truncate(TerminalText.sanitize(problem), to: max(0, width - used - 2)) + " ",
                       x: used + 1, y: y, style: style)
        } else if width - used > TerminalText.width(of: hints) + 1 {
            buffer.put(hints, x: width - TerminalText.width(of: hints), y: y, style: theme[.statusBar])
        }
    }
}
