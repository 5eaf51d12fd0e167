import InboxCore
import InboxStore

// The filter line (`/`): free text and the filter language's `~` terms. A term that cannot
// be read is said on the list instead of a list that matches nothing.

extension AppState {
    /// What is wrong with the filter as typed, or nil when it can be run.
    public var filterProblem: String? {
        let filter: ConversationFilter
        do {
            filter = try ConversationFilter.parse(self.filter.text)
        } catch {
            return String(describing: error)
        }
        if agent == nil, filter.terms.contains(where: { $0.condition == .claimedBy("me") }) {
            return "~a me: this screen shows the team's view, with no account of its own; write ~a ACCOUNT"
        }
        return nil
    }

    /// The terms of the filter in words, when it has any and can be run.
    var filterSummary: String? {
        guard let filter = try? ConversationFilter.parse(self.filter.text), !filter.terms.isEmpty else { return nil }
        return filter.summary
    }
}

extension Renderer {
    /// After the filter text on its line: the terms in words, when there is room.
    mutating func filterSummary(x: Int, y: Int, width: Int) {
        guard let summary = state.filterSummary, width > 8 else { return }
        let text = " [" + summary + "]"
        guard TerminalText.width(of: text) <= width else { return }
        buffer.put(text, x: x, y: y, style: theme[.filter].merging(attributes: .dim))
    }

    /// Instead of the list while the filter cannot be run: what is wrong.
    mutating func filterProblem(_ problem: String, x: Int, y: Int, width: Int, rows: Int) {
        for (index, line) in TerminalText.wrap(TerminalText.sanitize(problem), to: width - 2).prefix(rows).enumerated() {
            buffer.put(line, x: x + 1, y: y + index, style: theme[.failed])
        }
    }
}
