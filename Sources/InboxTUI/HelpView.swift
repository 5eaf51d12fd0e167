import InboxCore
import InboxStore

// The key help overlay.

extension Renderer {
    mutating func helpOverlay() {
        let keys: [(String, String)] = [
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
            ("R", "send a message marked ? again"),
            ("o  S", "open the picked file / save a copy of it"),
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
}
