import Foundation
import InboxCore
import InboxStore

// Private notes (`n`) and labels (`L`): a one-line prompt at the bottom of the screen, for
// the open conversation in the thread, else the selected one. A note is stored with the
// agent's name and time and shown in the thread to every agent; it never reaches the
// customer. A label is toggled: a new name makes it, Tab completes the ones there are.

/// A note or a label being typed for a conversation.
public struct WorkbenchPrompt: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case note, label }

    public var kind: Kind
    public var conversation: ConversationID
    /// Who it is about, for the prompt.
    public var customer: String
    public var line = ComposeLine()

    public init(kind: Kind, conversation: ConversationID, customer: String) {
        self.kind = kind
        self.conversation = conversation
        self.customer = customer
    }
}

// MARK: - Keys

/// `n` and `L` in the list or the thread.
func openPrompt(_ kind: WorkbenchPrompt.Kind, for conversation: ConversationSummary?, _ state: inout AppState) -> [Effect] {
    guard let conversation else {
        state.flash = "select a conversation first"
        return []
    }
    state.workbench.prompt = WorkbenchPrompt(kind: kind, conversation: conversation.id,
                                             customer: conversation.contact.displayName)
    return []
}

func promptKey(_ key: Key, _ state: inout AppState) -> [Effect] {
    guard var prompt = state.workbench.prompt else { return [] }
    switch key {
    case .escape:
        state.workbench.prompt = nil
        return []
    case .enter:
        let text = prompt.line.text.trimmingCharacters(in: .whitespaces)
        switch prompt.kind {
        case .note:
            guard !text.isEmpty else {
                state.flash = "the note is empty: type it, Enter saves it, Esc cancels"
                return []
            }
            state.workbench.prompt = nil
            return [.addNote(prompt.conversation, text: text)]
        case .label:
            if let problem = LabelName.validate(text) {
                state.flash = problem
                return []
            }
            state.workbench.prompt = nil
            let known = state.workbench.labels.first { $0.lowercased() == text.lowercased() } ?? text
            return [.toggleLabel(prompt.conversation, label: known)]
        }
    case .tab where prompt.kind == .label:
        let typed = prompt.line.text.lowercased()
        let candidates = state.workbench.labels.filter { $0.lowercased().hasPrefix(typed) }
        guard !candidates.isEmpty else {
            state.flash = state.workbench.labels.isEmpty ? "no labels yet: type a name, Enter makes it"
                : "no label starts with \(TerminalText.sanitize(prompt.line.text)): Enter makes it"
            return []
        }
        // The longest start they share, or the one when there is one.
        var common = candidates[0]
        for candidate in candidates.dropFirst() {
            common = String(zip(common, candidate).prefix { $0.0.lowercased() == $0.1.lowercased() }.map { $0.0 })
        }
        prompt.line = ComposeLine(common)
        if candidates.count > 1 { state.flash = candidates.joined(separator: " ") }
    default:
        guard edit(&prompt.line, with: key) else { return [] }
    }
    state.workbench.prompt = prompt
    return []
}

// MARK: - Drawing

extension Renderer {
    /// The prompt, over the status bar.
    mutating func workbenchPrompt(_ prompt: WorkbenchPrompt, y: Int) {
        let width = state.width
        let style = prompt.kind == .note ? theme[.note] : theme[.compose]
        buffer.fill(x: 0, y: y, width: width, height: 1, style: style)
        let customer = TerminalText.truncate(TerminalText.sanitize(prompt.customer), to: max(4, width / 5))
        let label = (prompt.kind == .note ? " note on " : " label for ") + customer + " " + glyphs.prompt
        let used = buffer.put(label, x: 0, y: y, style: style.merging(attributes: .bold), maxWidth: width)
        let hint = switch prompt.kind {
        case .note: " Enter saves · never sent · Esc cancels "
        case .label: " Tab completes · Enter toggles · Esc cancels "
        }
        let hintWidth = TerminalText.width(of: hint)
        // The hint until the first letter; then the whole line is the agent's.
        let showsHint = prompt.line.isEmpty && width - used > hintWidth
        let room = width - used - 1 - (showsHint ? hintWidth : 0)
        let (text, cursorOffset) = visibleSlice(prompt.line, width: max(1, room))
        buffer.put(TerminalText.sanitize(text), x: used, y: y, style: style, maxWidth: max(0, room))
        if showsHint {
            buffer.put(hint, x: width - hintWidth, y: y, style: style.merging(attributes: .dim))
        }
        cursor = (used + cursorOffset, y)
    }

    /// A note's lines in the thread: who and when, then the text, in the note style.
    func noteLines(_ note: ConversationNote, width: Int) -> [Line] {
        let style = theme[.note]
        let head = (state.asciiOnly ? "# note · " : "✎ note · ") + TerminalText.sanitize(state.agentLabel(note.agent)) + " · "
            + Describe.clock(note.createdAt, offset: state.utcOffset) + " · not sent"
        var lines = [Line(segments: [Segment(text: TerminalText.truncate(head, to: width - 4), style: style)], indent: 1)]
        for text in TerminalText.wrap(TerminalText.sanitizeKeepingLines(note.text), to: max(10, width - 6)) {
            lines.append(Line(segments: [Segment(text: text, style: style)], indent: 3))
        }
        return lines
    }

    /// The notes of the open conversation that go before a message at `timestamp` (all that
    /// are left when nil), taken from `notes`.
    func notesBefore(_ timestamp: Int64?, _ notes: inout ArraySlice<ConversationNote>, width: Int) -> [Line] {
        var lines: [Line] = []
        while let note = notes.first, timestamp.map({ note.createdAt < $0 }) ?? true {
            notes.removeFirst()
            guard note.conversationID == state.open?.id else { continue }
            lines += noteLines(note, width: width)
        }
        return lines
    }

    /// Labels as `#vip #billing`, truncated to `cells`.
    func labelTags(_ labels: [String], cells: Int) -> String {
        guard !labels.isEmpty, cells > 1 else { return "" }
        return TerminalText.truncate(labels.map { "#" + TerminalText.sanitize($0) }.joined(separator: " "), to: cells)
    }
}

// MARK: - Effects

extension InboxApp {
    /// Canned replies, labels and notes against the store: reads at once, writes off the
    /// main thread.
    func performWorkbench(_ effect: Effect) {
        let now = clock()
        switch effect {
        case .loadWorkbench:
            do {
                dispatch(.workbenchLoaded(replies: try database.cannedReplies(), labels: try database.labels(),
                                          displayNames: try database.displayNames()))
            } catch {
                if !(error is any StoreUnreachableError) {
                    dispatch(.failed("could not load canned replies and labels: \(error)"))
                }
            }
        case .addNote(let id, let text):
            background("note not saved") { [completed] database in
                try await database.addNote(to: id, text: text, at: now)
                completed.post(.notice("note saved: every agent sees it, the customer never does"))
            }
        case .toggleLabel(let id, let label):
            background("label not changed") { [completed] database in
                let on = try await database.toggleLabel(label, on: id, at: now)
                completed.post(.notice(on ? "labelled \(label)" : "label \(label) taken off"))
            }
        default:
            break
        }
    }
}
