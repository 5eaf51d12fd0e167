import InboxCore
import InboxStore

// The full-text search pane: the query line and one hit per two rows.

extension Renderer {
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
}
