import InboxCore
import InboxStore

// The key help overlay.

extension Renderer {
    /// The keys the help lists, by their default names (`KeyMap.helpLabel` renames them).
    static let helpEntries: [(String, String)] = [
            ("j k  ↓ ↑", "move in the list or the thread"),
            ("g", "jump to the newest conversations (↑ 3 new)"),
            ("Enter", "open the conversation / send"),
            ("/", "filter: name, ~u ~w ~W ~F ~a ~n ~l, ! not"),
            ("u", "show unread only"),
            ("v", "show all / mine / unassigned"),
            ("a", "claim the conversation (again: give back)"),
            ("x", "resolve (reopens when the customer writes)"),
            ("n  L", "private note / put or take off a label"),
            ("/NAME Tab", "canned reply in compose (/ Tab lists)"),
            ("s", "search all messages"),
            ("↑ in compose", "pick a message; r replies to it"),
            ("Ctrl-T  t", "send an approved template"),
            ("Ctrl-O", "send a file (Tab completes the path)"),
            ("R", "send a message marked ? again"),
            ("o", "open the picked file with open_command"),
            ("S", "save a copy of the file in download_dir"),
            ("+", "react to the picked message; again: remove"),
            ("J", "the raw webhook the picked message came in"),
            ("i", "who the customer is: ids, window, claim"),
            ("Ctrl-B", "compose: add reply buttons to the text"),
            ("d", "the picked message whole: versions, raw"),
            ("Esc", "cancel reply, leave compose, clear filter"),
            ("PgUp PgDn", "scroll the thread"),
            ("Ctrl-A E U W", "edit the line"),
            ("q  Ctrl-C", "quit"),
        ]

    /// How many help rows fit on a screen `height` rows tall.
    static func helpRows(height: Int) -> Int { max(1, min(height - 2, helpEntries.count + 4) - 3) }

    mutating func helpOverlay() {
        let keys = Self.helpEntries
        let boxWidth = min(state.width - 2, 60)
        let boxHeight = min(state.height - 2, keys.count + 4)
        let x0 = (state.width - boxWidth) / 2, y0 = (state.height - boxHeight) / 2
        buffer.fill(x: x0, y: y0, width: boxWidth, height: boxHeight, style: theme[.help])
        // Taller than the screen: ↓ ↑ scroll, and the title says so.
        let rows = Self.helpRows(height: state.height)
        let top = min(state.workbench.helpTop, max(0, keys.count - rows))
        let title = keys.count > rows ? " Keys — ↓ ↑ more, others close " : " Keys — any key closes "
        buffer.put(title, x: x0 + 2, y: y0, style: theme[.help].merging(attributes: .bold), maxWidth: boxWidth - 4)
        for (index, (key, what)) in keys.dropFirst(top).prefix(rows).enumerated() {
            buffer.put(state.keys.helpLabel(key), x: x0 + 2, y: y0 + 2 + index, style: theme[.help].merging(attributes: .bold),
                       maxWidth: 14)
            buffer.put(what, x: x0 + 17, y: y0 + 2 + index, style: theme[.help], maxWidth: boxWidth - 18)
        }
    }
}
