import InboxCore
import InboxStore

/// A rendered frame and where the terminal cursor goes (nil: hidden).
public struct Frame: Sendable, Equatable {
    public var buffer: Buffer
    public var cursor: (x: Int, y: Int)?

    public static func == (lhs: Frame, rhs: Frame) -> Bool {
        lhs.buffer == rhs.buffer && lhs.cursor?.x == rhs.cursor?.x && lhs.cursor?.y == rhs.cursor?.y
    }
}

/// Renders the whole screen from the state. Pure: no database, no terminal.
public func render(_ state: AppState, theme: Theme) -> Frame {
    var renderer = Renderer(state: state, theme: theme)
    return renderer.render()
}

struct Renderer {
    let state: AppState
    let theme: Theme
    var buffer: Buffer
    var cursor: (x: Int, y: Int)?

    init(state: AppState, theme: Theme) {
        self.state = state
        self.theme = theme
        buffer = Buffer(width: state.width, height: state.height, style: theme[.base])
    }

    var glyphs: Glyphs { state.asciiOnly ? .ascii : .unicode }

    mutating func render() -> Frame {
        let width = state.width, height = state.height
        guard width >= 20, height >= 6 else {
            buffer.put("terminal too small", x: 0, y: 0, style: theme[.statusError])
            return Frame(buffer: buffer, cursor: nil)
        }
        let bodyHeight = height - 1
        if state.isNarrow {
            if state.showingThread, state.open != nil {
                threadPane(x: 0, y: 0, width: width, height: bodyHeight)
            } else if state.focus == .search {
                searchPane(x: 0, y: 0, width: width, height: bodyHeight)
            } else {
                listPane(x: 0, y: 0, width: width, height: bodyHeight)
            }
        } else {
            let listWidth = min(40, max(28, width * 3 / 8))
            if state.focus == .search {
                searchPane(x: 0, y: 0, width: listWidth, height: bodyHeight)
            } else {
                listPane(x: 0, y: 0, width: listWidth, height: bodyHeight)
            }
            for row in 0..<bodyHeight {
                buffer.put(glyphs.vertical, x: listWidth, y: row, style: theme[.border])
            }
            threadPane(x: listWidth + 1, y: 0, width: width - listWidth - 1, height: bodyHeight)
        }
        statusBar(y: height - 1)
        if let picker = state.templatePicker { templateOverlay(picker) }
        if state.showHelp { helpOverlay() }
        return Frame(buffer: buffer, cursor: state.showHelp || state.templatePicker != nil ? nil : cursor)
    }

    // MARK: - List

    mutating func listPane(x: Int, y: Int, width: Int, height: Int) {
        let unread = state.conversations.reduce(0) { $0 + $1.unreadCount }
        if state.focus == .filter || !state.filter.isEmpty {
            buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.filter])
            let used = buffer.put("/", x: x, y: y, style: theme[.filter])
            let fieldX = x + used
            let (text, cursorOffset) = visibleSlice(state.filter, width: width - used - 1)
            buffer.put(text, x: fieldX, y: y, style: theme[.filter], maxWidth: width - used)
            if state.focus == .filter { cursor = (fieldX + cursorOffset, y) }
        } else {
            var title = "Inbox"
            if unread > 0 { title += " · \(unread) unread" }
            buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.header])
            buffer.put(title, x: x + 1, y: y, style: theme[.header], maxWidth: width - 1)
        }
        var labels: [String] = []
        if state.scope != .all { labels.append(state.scope.rawValue) }
        if state.unreadOnly { labels.append("unread") }
        if !labels.isEmpty {
            let label = "[" + labels.joined(separator: " ") + "]"
            buffer.put(label, x: x + width - TerminalText.width(of: label), y: y, style: theme[.unread])
        }
        let rows = height - 1
        guard !state.conversations.isEmpty else {
            let message = switch (state.scope, state.filter.isEmpty && !state.unreadOnly) {
            case (.all, true): "No conversations yet. Webhooks that arrive show up here."
            case (.mine, true): "Nothing open is claimed by you. a claims the selected conversation; v shows the others."
            case (.unassigned, true): "Every open conversation is claimed. v shows the others."
            default: "Nothing matches. Esc clears the filter."
            }
            for (index, line) in TerminalText.wrap(message, to: width - 2).prefix(rows).enumerated() {
                buffer.put(line, x: x + 1, y: y + 2 + index, style: theme[.notice])
            }
            return
        }
        let visible = max(1, rows / 2)
        for slot in 0..<visible {
            let index = state.listTop + slot
            guard index < state.conversations.count else { break }
            entry(state.conversations[index], x: x, y: y + 1 + slot * 2, width: width)
        }
    }

    mutating func entry(_ conversation: ConversationSummary, x: Int, y: Int, width: Int) {
        let isSelected = conversation.id == state.selected
        let base = isSelected ? theme[.selection] : theme[.list]
        buffer.fill(x: x, y: y, width: width, height: 2, style: base)
        let unread = conversation.unreadCount > 0
        let time = Describe.relative(conversation.lastActivityAt, now: state.now, offset: state.utcOffset)
        let badge = unread ? " (\(conversation.unreadCount))" : ""
        // Who holds it, or that it is resolved: the name keeps at least a few cells.
        var owner = ""
        if conversation.resolvedAt != nil {
            owner = " done"
        } else if let assignee = conversation.assignee {
            owner = " " + TerminalText.truncate(TerminalText.sanitize(assignee), to: max(1, width / 4))
        }
        let right = owner + badge + " " + time
        let rightWidth = TerminalText.width(of: right)
        let nameStyle = unread && !isSelected ? theme[.unread] : base
        buffer.put(unread ? glyphs.unreadDot : " ", x: x, y: y, style: unread && !isSelected ? theme[.unread] : base)
        buffer.put(TerminalText.truncate(TerminalText.sanitize(conversation.contact.displayName), to: width - rightWidth - 3),
                   x: x + 2, y: y, style: nameStyle.merging(attributes: unread ? .bold : []))
        var rightX = x + width - rightWidth
        if !owner.isEmpty {
            let mine = conversation.assignee == state.agent && conversation.resolvedAt == nil
            rightX += buffer.put(owner, x: rightX, y: y,
                                 style: isSelected ? base : theme[.time].merging(attributes: mine ? .bold : []))
        }
        if unread {
            rightX += buffer.put(badge, x: rightX, y: y, style: isSelected ? base : theme[.unread])
        }
        buffer.put(" " + time, x: rightX, y: y, style: isSelected ? base : theme[.time])

        var previewX = x + 2
        var previewWidth = width - 3
        if !conversation.serviceWindow(now: state.now).isOpen {
            buffer.put(glyphs.windowClosed, x: x + width - 2, y: y + 1, style: isSelected ? base : theme[.windowClosed])
            previewWidth -= 2
        }
        let typing = conversation.typingAgents(nowMilliseconds: state.now * 1000)
        if !typing.isEmpty {
            buffer.put(TerminalText.truncate(TerminalText.sanitize(Describe.typing(typing)), to: previewWidth),
                       x: previewX, y: y + 1, style: isSelected ? base : theme[.notice])
        } else if let message = conversation.lastMessage {
            if message.direction == .outbound, let status = message.status {
                let (tick, style) = tickGlyph(status)
                let used = buffer.put(tick, x: previewX, y: y + 1, style: isSelected ? base : style)
                previewX += used + 1
                previewWidth -= used + 1
            }
            let preview = Describe.content(message.content).replacingOccurrences(of: "\n", with: " ")
            buffer.put(TerminalText.truncate(TerminalText.sanitize(preview), to: previewWidth),
                       x: previewX, y: y + 1, style: isSelected ? base : theme[.preview])
        }
    }

    // MARK: - Search

    mutating func searchPane(x: Int, y: Int, width: Int, height: Int) {
        buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.filter])
        let used = buffer.put("search: ", x: x, y: y, style: theme[.filter])
        let (text, cursorOffset) = visibleSlice(state.searchQuery, width: width - used - 1)
        buffer.put(text, x: x + used, y: y, style: theme[.filter])
        cursor = (x + used + cursorOffset, y)
        if state.searchHits.isEmpty {
            let hint = state.searchQuery.isEmpty ? "Type words to find in every message." : "No message matches."
            buffer.put(hint, x: x + 1, y: y + 2, style: theme[.notice], maxWidth: width - 1)
            return
        }
        for (index, hit) in state.searchHits.prefix(max(0, (height - 1) / 2)).enumerated() {
            let row = y + 1 + index * 2
            let style = index == state.searchSelected ? theme[.selection] : theme[.list]
            buffer.fill(x: x, y: row, width: width, height: 2, style: style)
            let time = Describe.relative(hit.message.timestamp, now: state.now, offset: state.utcOffset)
            buffer.put(TerminalText.truncate(hit.conversation.contact.displayName, to: width - time.count - 3),
                       x: x + 1, y: row, style: style.merging(attributes: .bold))
            buffer.put(time, x: x + width - time.count, y: row, style: style)
            buffer.put(TerminalText.truncate(TerminalText.sanitize(hit.snippet), to: width - 3), x: x + 2, y: row + 1,
                       style: style)
        }
    }

    // MARK: - Thread

    mutating func threadPane(x: Int, y: Int, width: Int, height: Int) {
        guard let open = state.open else {
            buffer.put("Select a conversation with ↑↓ or j/k, Enter to open it.", x: x + 1, y: y + 1,
                       style: theme[.notice], maxWidth: width - 2)
            return
        }
        // Header: who, on which number, and the service window.
        buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.header])
        var ids: [String] = []
        if let waID = open.contact.waID { ids.append("+" + waID.rawValue) }
        if let username = open.contact.username, open.contact.name != nil { ids.append("@" + username) }
        if open.contact.waID == nil, let userID = open.contact.userID { ids.append(userID.rawValue) }
        var windowText: String
        let windowStyle: Style
        if case .open(let closesAt) = open.serviceWindow(now: state.now) {
            // Rounded down, and never the full 24h0m: the clock may lag the message by a second.
            let left = max(0, closesAt - state.now - 1)
            windowText = "window \(left / 3600)h\((left % 3600) / 60)m"
            windowStyle = theme[.header]
        } else {
            windowText = "window closed: template only"
            windowStyle = theme[.windowClosed]
        }
        if open.resolvedAt != nil {
            windowText = "resolved · " + windowText
        } else if let assignee = open.assignee {
            windowText = (assignee == state.agent ? "yours" : TerminalText.sanitize(assignee) + "'s") + " · " + windowText
        }
        let windowWidth = TerminalText.width(of: windowText)
        let used = buffer.put(TerminalText.truncate(TerminalText.sanitize(open.contact.displayName), to: max(1, width - windowWidth - 3)),
                              x: x + 1, y: y, style: theme[.header].merging(attributes: .bold))
        let idsText = " " + ids.joined(separator: " ")
        if width - used - windowWidth - 4 > 4 {
            buffer.put(TerminalText.truncate(idsText, to: width - used - windowWidth - 4), x: x + 1 + used, y: y,
                       style: theme[.header])
        }
        buffer.put(windowText, x: x + width - windowWidth - 1, y: y, style: windowStyle.merging(background: theme[.header].background))

        // Compose line and its reply preview at the bottom.
        let composeY = y + height - 1
        var bodyBottom = composeY
        if let draft = state.templateDraft {
            bodyBottom -= 1
            let text = "template \(draft.template.name): " + draft.template.preview(with: draft.values)
                .replacingOccurrences(of: "\n", with: " ")
            buffer.fill(x: x, y: bodyBottom, width: width, height: 1, style: theme[.quote])
            buffer.put(glyphs.quoteBar + " " + TerminalText.truncate(TerminalText.sanitize(text), to: width - 4),
                       x: x + 1, y: bodyBottom, style: theme[.quote])
        } else if let reply = state.replyTo {
            bodyBottom -= 1
            let text = "replying to: " + Describe.content(reply.content).replacingOccurrences(of: "\n", with: " ")
            buffer.fill(x: x, y: bodyBottom, width: width, height: 1, style: theme[.quote])
            buffer.put(glyphs.quoteBar + " " + TerminalText.truncate(TerminalText.sanitize(text), to: width - 4),
                       x: x + 1, y: bodyBottom, style: theme[.quote])
        }
        let typing = open.typingAgents(nowMilliseconds: state.now * 1000)
        if !typing.isEmpty, bodyBottom - 1 > y + 1 {
            bodyBottom -= 1
            buffer.put(TerminalText.truncate(TerminalText.sanitize(Describe.typing(typing)), to: width - 2),
                       x: x + 1, y: bodyBottom, style: theme[.notice])
        }
        composeLine(open, x: x, y: composeY, width: width)

        // Messages, anchored to the bottom.
        let lines = threadLines(width: width)
        let bodyHeight = bodyBottom - (y + 1)
        guard bodyHeight > 0 else { return }
        var scroll = min(state.threadScroll, max(0, lines.count - bodyHeight))
        if let picked = state.pickedMessage,
           let first = lines.firstIndex(where: { $0.messageRowID == picked }),
           let last = lines.lastIndex(where: { $0.messageRowID == picked }) {
            // Keep the picked message on screen.
            let end = lines.count - scroll
            if last >= end { scroll = max(0, lines.count - last - 1) }
            if first < end - bodyHeight { scroll = max(0, lines.count - first - bodyHeight) }
        }
        let end = lines.count - scroll
        let start = max(0, end - bodyHeight)
        for (offset, line) in lines[start..<end].enumerated() {
            let row = bodyBottom - (end - start) + offset
            let picked = line.messageRowID != nil && line.messageRowID == state.pickedMessage
            var column = x + 1 + line.indent
            if line.alignRight {
                column = x + width - 1 - line.segments.reduce(0) { $0 + TerminalText.width(of: $1.text) }
            }
            for segment in line.segments {
                column += buffer.put(segment.text, x: column, y: row,
                                     style: picked ? theme[.selection] : segment.style, maxWidth: x + width - column)
            }
        }
        if state.threadHasOlder, start == 0 {
            buffer.put("↑ older messages: k / PgUp", x: x + 1, y: y + 1, style: theme[.notice], maxWidth: width - 2)
        }
    }

    mutating func composeLine(_ open: ConversationSummary, x: Int, y: Int, width: Int) {
        buffer.fill(x: x, y: y, width: width, height: 1, style: theme[.compose])
        var prompt = glyphs.prompt
        if let draft = state.templateDraft {
            prompt = "{{\(draft.values.count + 1)}} of \(draft.template.parameterCount) " + glyphs.prompt
        }
        let used = buffer.put(prompt, x: x, y: y, style: theme[.compose])
        if state.compose.isEmpty, state.templateDraft != nil || !open.serviceWindow(now: state.now).isOpen {
            let hint = state.templateDraft != nil ? "type the value, Enter for the next, Esc cancels"
                : "window closed: Ctrl-T picks a template"
            buffer.put(hint, x: x + used, y: y, style: theme[.notice].merging(background: theme[.compose].background),
                       maxWidth: width - used)
            if state.focus == .compose { cursor = (x + used, y) }
            return
        }
        if state.compose.isEmpty, state.focus != .compose {
            let hint = "Enter to write a reply"
            buffer.put(hint, x: x + used, y: y, style: theme[.notice].merging(background: theme[.compose].background),
                       maxWidth: width - used)
            return
        }
        let (text, cursorOffset) = visibleSlice(state.compose, width: width - used - 1)
        buffer.put(text, x: x + used, y: y, style: theme[.compose])
        if state.focus == .compose { cursor = (x + used + cursorOffset, y) }
    }

    struct Segment {
        var text: String
        var style: Style
    }

    struct Line {
        var segments: [Segment]
        var alignRight = false
        var indent = 0
        var messageRowID: Int64?
    }

    /// Every line of the thread, oldest first: day separators, notices, quotes, bodies,
    /// times with ticks, reactions and failure reasons.
    func threadLines(width: Int) -> [Line] {
        var lines: [Line] = []
        let bubble = max(10, min(width - 4, width * 3 / 4))
        var lastDay: Int?
        for message in state.thread {
            let day = Describe.civil(message.timestamp, offset: state.utcOffset).dayNumber
            if day != lastDay {
                let label = " " + Describe.day(message.timestamp, offset: state.utcOffset) + " "
                let side = max(0, (width - 2 - TerminalText.width(of: label)) / 2)
                let rule = String(repeating: glyphs.horizontal, count: side)
                lines.append(Line(segments: [Segment(text: rule + label + rule, style: theme[.separator])]))
                lastDay = day
            }
            let id = message.rowID
            if Describe.isNotice(message.content) {
                let who = message.content == .requestWelcome ? (state.open?.contact.displayName ?? "customer") + " " : ""
                for text in TerminalText.wrap(TerminalText.sanitize(who + Describe.content(message.content)), to: width - 6) {
                    let pad = max(0, (width - 2 - TerminalText.width(of: text)) / 2)
                    lines.append(Line(segments: [Segment(text: text, style: theme[.notice])], indent: pad, messageRowID: id))
                }
                continue
            }
            let outbound = message.direction == .outbound
            let bodyStyle = outbound ? theme[.outbound] : theme[.inbound]
            var block: [Line] = []
            if message.forwarded {
                block.append(Line(segments: [Segment(text: glyphs.forwarded + " forwarded", style: theme[.notice])]))
            }
            if let replyTo = message.replyTo {
                let quoted = state.quoted[replyTo].map { Describe.content($0.content) } ?? "an earlier message"
                let text = TerminalText.truncate(TerminalText.sanitize(quoted.replacingOccurrences(of: "\n", with: " ")),
                                                 to: bubble - 2)
                block.append(Line(segments: [Segment(text: glyphs.quoteBar + " " + text, style: theme[.quote])]))
            }
            let body = Describe.content(message.content)
            for text in TerminalText.wrap(sanitizeLines(body), to: bubble) {
                block.append(Line(segments: [Segment(text: text, style: bodyStyle)]))
            }
            var meta = [Segment(text: Describe.clock(message.timestamp, offset: state.utcOffset), style: theme[.time])]
            if outbound, let status = message.status {
                let (tick, style) = tickGlyph(status)
                meta.append(Segment(text: " " + tick, style: style))
            }
            if !message.reactions.isEmpty {
                meta.append(Segment(text: "  " + message.reactions.map(\.emoji).joined(separator: " "), style: theme[.reaction]))
            }
            block.append(Line(segments: meta))
            if outbound, message.status == .failed {
                let reason = TerminalText.sanitize(Describe.reason(message.error))
                for text in TerminalText.wrap(glyphs.failed + " not sent: " + reason, to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: theme[.failed])]))
                }
            } else if outbound, message.status == .uncertain {
                let text = "? may not have gone out (" + TerminalText.sanitize(message.outboxNote ?? "no answer from the Cloud API")
                    + "): pick it and press R to send again"
                for text in TerminalText.wrap(text, to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: theme[.failed])]))
                }
            } else if outbound, message.status == .pending, let note = message.outboxNote {
                for text in TerminalText.wrap("retrying: " + TerminalText.sanitize(note), to: bubble) {
                    block.append(Line(segments: [Segment(text: text, style: theme[.notice])]))
                }
            }
            for var line in block {
                line.alignRight = outbound
                line.messageRowID = id
                lines.append(line)
            }
        }
        return lines
    }

    /// Sanitises each line of a multi-line text, keeping the line breaks.
    private func sanitizeLines(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { TerminalText.sanitize(String($0)) }
            .joined(separator: "\n")
    }

    func tickGlyph(_ status: DeliveryStatus) -> (String, Style) {
        switch status {
        case .pending: (glyphs.pending, theme[.tickPending])
        case .uncertain: ("?", theme[.tickFailed])
        case .sent: (glyphs.sent, theme[.tickSent])
        case .delivered: (glyphs.delivered, theme[.tickDelivered])
        case .read: (glyphs.delivered, theme[.tickRead])
        case .played: (glyphs.played, theme[.tickPlayed])
        case .failed: (glyphs.failed, theme[.tickFailed])
        }
    }

    // MARK: - Status bar and help

    mutating func statusBar(y: Int) {
        let width = state.width
        buffer.fill(x: 0, y: y, width: width, height: 1, style: theme[.statusBar])
        var parts: [String] = []
        let listener = state.listener
        if listener.isDemo { parts.append("DEMO") }
        if let agent = state.agent { parts.append(TerminalText.sanitize(agent)) }
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
        let left = " " + parts.joined(separator: " · ")
        let hints = state.isNarrow ? "? help " : "/ filter  s search  u unread  ? help  q quit "
        // Never hidden by a problem or a notice: anyone can write into this inbox.
        let warning = listener.isInsecure ? buffer.put(" INSECURE: signatures not checked ", x: 0, y: y, style: theme[.statusError]) : 0
        let used = warning + buffer.put(left, x: warning, y: y, style: theme[.statusBar])
        var problem = listener.problem
        switch listener.sending {
        case .halted(let reason): problem = problem ?? reason
        case .off(let reason) where listener.waitingToSend > 0: problem = problem ?? reason
        default: break
        }
        if let problem = state.flash ?? problem {
            let style = state.flash == nil ? theme[.statusError] : theme[.statusBar]
            buffer.put(" " + TerminalText.truncate(TerminalText.sanitize(problem), to: max(0, width - used - 2)) + " ",
                       x: used + 1, y: y, style: style)
        } else if width - used > TerminalText.width(of: hints) + 1 {
            buffer.put(hints, x: width - TerminalText.width(of: hints), y: y, style: theme[.statusBar])
        }
    }

    mutating func helpOverlay() {
        let keys: [(String, String)] = [
            ("j k  ↓ ↑", "move in the list or the thread"),
            ("Enter", "open the conversation / send"),
            ("/", "filter by name, number or username"),
            ("u", "show unread only"),
            ("v", "show all / mine / unassigned"),
            ("a", "claim the conversation (again: give back)"),
            ("x", "resolve (reopens when the customer writes)"),
            ("s", "search all messages"),
            ("↑ in compose", "pick a message; r replies to it"),
            ("Ctrl-T  t", "send an approved template"),
            ("R", "send a message marked ? again"),
            ("Esc", "cancel reply, leave compose, clear filter"),
            ("PgUp PgDn", "scroll the thread"),
            ("Ctrl-A E U W", "edit the line"),
            ("q  Ctrl-C", "quit"),
        ]
        let boxWidth = min(state.width - 2, 60)
        let boxHeight = min(state.height - 2, keys.count + 4)
        let x0 = (state.width - boxWidth) / 2, y0 = (state.height - boxHeight) / 2
        buffer.fill(x: x0, y: y0, width: boxWidth, height: boxHeight, style: theme[.help])
        buffer.put(" Keys — any key closes ", x: x0 + 2, y: y0, style: theme[.help].merging(attributes: .bold))
        for (index, (key, what)) in keys.prefix(boxHeight - 3).enumerated() {
            buffer.put(key, x: x0 + 2, y: y0 + 2 + index, style: theme[.help].merging(attributes: .bold), maxWidth: 14)
            buffer.put(what, x: x0 + 17, y: y0 + 2 + index, style: theme[.help], maxWidth: boxWidth - 18)
        }
    }

    mutating func templateOverlay(_ picker: TemplatePicker) {
        let boxWidth = min(state.width - 2, 70)
        let rows = picker.templates.map { max(1, $0.count) } ?? 1
        let boxHeight = min(state.height - 2, rows + 5)
        let x0 = (state.width - boxWidth) / 2, y0 = (state.height - boxHeight) / 2
        buffer.fill(x: x0, y: y0, width: boxWidth, height: boxHeight, style: theme[.help])
        buffer.put(" Templates — Enter picks, Esc closes ", x: x0 + 2, y: y0, style: theme[.help].merging(attributes: .bold),
                   maxWidth: boxWidth - 4)
        guard let templates = picker.templates, !templates.isEmpty else {
            let text = picker.error ?? "loading approved templates…"
            for (index, line) in TerminalText.wrap(TerminalText.sanitize(text), to: boxWidth - 4).prefix(boxHeight - 3).enumerated() {
                buffer.put(line, x: x0 + 2, y: y0 + 2 + index, style: picker.error == nil ? theme[.help] : theme[.failed])
            }
            return
        }
        let visible = max(1, boxHeight - 4)
        let top = max(0, min(picker.selected - visible + 1, templates.count - visible))
        for (offset, template) in templates[top..<min(templates.count, top + visible)].enumerated() {
            let index = top + offset
            let style = index == picker.selected ? theme[.selection] : theme[.help]
            let row = y0 + 2 + offset
            buffer.fill(x: x0 + 1, y: row, width: boxWidth - 2, height: 1, style: style)
            let label = "\(template.name) (\(template.language))"
            let used = buffer.put(TerminalText.truncate(TerminalText.sanitize(label), to: boxWidth / 2), x: x0 + 2, y: row,
                                  style: style.merging(attributes: .bold))
            let body = (template.body ?? "").replacingOccurrences(of: "\n", with: " ")
            buffer.put(TerminalText.truncate(TerminalText.sanitize(body), to: max(0, boxWidth - used - 6)),
                       x: x0 + 4 + used, y: row, style: style)
        }
    }

    /// The part of a line that fits in `width` cells around the cursor, and the cursor's
    /// offset in cells within it.
    func visibleSlice(_ line: ComposeLine, width: Int) -> (String, Int) {
        guard width > 0 else { return ("", 0) }
        let widths = line.characters.map { TerminalText.width(of: Character(TerminalText.sanitize(String($0)))) }
        var start = 0
        var cursorCells = widths[0..<line.cursor].reduce(0, +)
        while cursorCells > width - 1, start < line.cursor {
            cursorCells -= widths[start]
            start += 1
        }
        var text = ""
        var used = 0
        for index in start..<line.characters.count {
            if used + widths[index] > width { break }
            text.append(line.characters[index])
            used += widths[index]
        }
        return (text, cursorCells)
    }
}

/// The symbols the screen draws, in Unicode or plain ASCII when the locale is not UTF-8.
struct Glyphs {
    var vertical, horizontal, unreadDot, windowClosed, quoteBar, forwarded, prompt: String
    var pending, sent, delivered, played, failed, up, down: String

    static let unicode = Glyphs(vertical: "│", horizontal: "─", unreadDot: "●", windowClosed: "⊘", quoteBar: "┃",
                                forwarded: "↪", prompt: "› ", pending: "◷", sent: "✓", delivered: "✓✓",
                                played: "✓✓▸", failed: "✗", up: "●", down: "○")
    static let ascii = Glyphs(vertical: "|", horizontal: "-", unreadDot: "*", windowClosed: "x", quoteBar: "|",
                              forwarded: ">", prompt: "> ", pending: "..", sent: "v", delivered: "vv",
                              played: "vv>", failed: "X", up: "+", down: "-")
}

extension Style {
    func merging(attributes: TextAttributes) -> Style {
        var copy = self
        copy.attributes.formUnion(attributes)
        return copy
    }

    func merging(background: ThemeColor) -> Style {
        var copy = self
        if copy.background == .terminalDefault { copy.background = background }
        return copy
    }
}
