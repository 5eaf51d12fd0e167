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

    /// The conversation list's width beside the thread on a wide screen.
    static func listWidth(screenWidth width: Int) -> Int { min(40, max(28, width * 3 / 8)) }

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
            let listWidth = Self.listWidth(screenWidth: width)
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
        if let prompt = state.workbench.prompt { workbenchPrompt(prompt, y: height - 1) }
        if let picker = state.templatePicker { templateOverlay(picker) }
        workbenchOverlays()
        if let details = state.details { detailsOverlay(details) }
        if let picker = state.workbench.replyPicker { replyPickerOverlay(picker) }
        if state.showHelp { helpOverlay() }
        let overlaid = state.showHelp || state.templatePicker != nil || state.workbench.hasOverlay || state.details != nil
        return Frame(buffer: buffer, cursor: overlaid ? nil : cursor)
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
    var vertical, horizontal, unreadDot, windowClosed, quoteBar, forwarded, prompt, newAbove: String
    /// `pending`: not yet taken by the Cloud API; `accepted`: taken, another clock face.
    var pending, accepted, sent, delivered, played, failed, up, down: String

    static let unicode = Glyphs(vertical: "│", horizontal: "─", unreadDot: "●", windowClosed: "⊘", quoteBar: "┃",
                                forwarded: "↪", prompt: "› ", newAbove: "↑", pending: "◷", accepted: "◶", sent: "✓", delivered: "✓✓",
                                played: "✓✓▸", failed: "✗", up: "●", down: "○")
    static let ascii = Glyphs(vertical: "|", horizontal: "-", unreadDot: "*", windowClosed: "x", quoteBar: "|",
                              forwarded: ">", prompt: "> ", newAbove: "^", pending: "..", accepted: "o", sent: "v", delivered: "vv",
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
