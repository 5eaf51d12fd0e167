import InboxCore

/// One terminal cell: a grapheme cluster and its style. The cell right of a wide glyph
/// holds `continuation` so that nothing is drawn there.
public struct Cell: Hashable, Sendable {
    public var text: String
    public var style: Style

    public init(text: String = " ", style: Style = .plain) {
        self.text = text
        self.style = style
    }

    public static let continuation = ""
    public var isContinuation: Bool { text.isEmpty }
}

/// A whole frame, rendered before anything is drawn; the backend sends only the cells
/// that changed since the last frame.
public struct Buffer: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, style: Style = .plain) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(style: style), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Fills a rectangle with blanks in `style`.
    public mutating func fill(x: Int, y: Int, width: Int, height: Int, style: Style) {
        for row in max(0, y)..<min(self.height, y + height) {
            for column in max(0, x)..<min(self.width, x + width) {
                self[column, row] = Cell(style: style)
            }
        }
    }

    /// Writes `text` (sanitised) at `(x, y)`, clipped to `maxWidth` cells and the buffer's
    /// edge; a wide glyph that would not fit whole is left out. Returns the cells used.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height, x < width else { return 0 }
        let limit = min(width, x + (maxWidth ?? width))
        var column = x
        for character in TerminalText.sanitize(text) {
            let cells = TerminalText.width(of: character)
            if cells == 0 {
                // A stray combining mark: attach it to the previous cell.
                if column > x, column - 1 < width, column - 1 >= 0 {
                    self[column - 1, y].text.append(character)
                }
                continue
            }
            if column + cells > limit { break }
            if column >= 0 {
                // Overwriting half of a wide glyph leaves the other half blank.
                clearWideNeighbours(x: column, y: y, span: cells)
                self[column, y] = Cell(text: String(character), style: style)
                if cells == 2 { self[column + 1, y] = Cell(text: Cell.continuation, style: style) }
            }
            column += cells
        }
        return column - x
    }

    private mutating func clearWideNeighbours(x: Int, y: Int, span: Int) {
        if x > 0, self[x, y].isContinuation { self[x - 1, y].text = " " }
        let after = x + span
        if after < width, self[after, y].isContinuation { self[after, y].text = " " }
    }

    /// The frame as plain text lines (trailing spaces kept), for tests and captures.
    public var lines: [String] {
        (0..<height).map { row in
            var line = ""
            for column in 0..<width where !self[column, row].isContinuation {
                line += self[column, row].text
            }
            return line
        }
    }

    /// Cells that differ from `previous` (all of them when sizes differ), row by row.
    public func changes(from previous: Buffer?) -> [(x: Int, y: Int, cell: Cell)] {
        var out: [(x: Int, y: Int, cell: Cell)] = []
        let full = previous == nil || previous!.width != width || previous!.height != height
        for row in 0..<height {
            for column in 0..<width {
                let cell = self[column, row]
                if full || previous![column, row] != cell {
                    out.append((column, row, cell))
                }
            }
        }
        return out
    }
}
