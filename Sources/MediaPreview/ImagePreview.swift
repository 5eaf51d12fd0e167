import InboxCore

/// A photo or sticker drawn as terminal cells: what the screen puts in the thread. A pure
/// value, made once per image and size (`ImagePreviewer.make`), kept by the screen.
public struct ImagePreview: Sendable, Hashable {
    public var format: ImageFormat
    /// The image's own size, from its header.
    public var pixelWidth: Int
    public var pixelHeight: Int
    /// The grid: `rows` lines of `columns` cells, row by row. Empty (0 × 0) when the
    /// preview was asked for without colours (`PreviewColors.none`): only the size is known.
    public var columns: Int
    public var rows: Int
    public var cells: [PreviewCell]

    public init(format: ImageFormat, pixelWidth: Int, pixelHeight: Int, columns: Int, rows: Int, cells: [PreviewCell]) {
        precondition(cells.count == columns * rows, "a preview holds rows × columns cells")
        self.format = format
        self.pixelWidth = pixelWidth
        self.pixelHeight = pixelHeight
        self.columns = columns
        self.rows = rows
        self.cells = cells
    }

    /// Whether there is a picture to draw (not only the size).
    public var hasPicture: Bool { !cells.isEmpty }

    /// Row `y` as runs of cells of one colour pair, left to right: what a screen writes
    /// in one go.
    public func runs(inRow y: Int) -> [PreviewRun] {
        var runs: [PreviewRun] = []
        for cell in cells[(y * columns)..<((y + 1) * columns)] {
            if let last = runs.last, last.foreground == cell.foreground, last.background == cell.background {
                runs[runs.count - 1].text.append(cell.character)
            } else {
                runs.append(PreviewRun(text: String(cell.character), foreground: cell.foreground, background: cell.background))
            }
        }
        return runs
    }
}

/// One cell of a preview: a symbol one cell wide (a block, a box-drawing piece, a braille
/// pattern or a space) and its two colours.
public struct PreviewCell: Sendable, Hashable {
    public var character: Character
    public var foreground: PreviewColor
    public var background: PreviewColor

    public init(character: Character, foreground: PreviewColor, background: PreviewColor) {
        self.character = character
        self.foreground = foreground
        self.background = background
    }
}

/// Cells side by side in one colour pair.
public struct PreviewRun: Sendable, Hashable {
    public var text: String
    public var foreground: PreviewColor
    public var background: PreviewColor
}

/// A preview's colour, as a theme names one: the terminal's own (where the image is
/// transparent) or one of the 256 indexed colours.
public enum PreviewColor: Sendable, Hashable {
    case terminalDefault
    case index(UInt8)
}

/// How previews are coloured, from what the screen can show.
public enum PreviewColors: String, Sendable, Hashable {
    /// Colours 16–255 of the 256: their values are the same on every 256-colour terminal,
    /// while 0–15 are the user's own palette. Bounded, so the colour pairs stay few.
    case indexed240
    /// No colour at all (`NO_COLOR`, the `mono` theme, an ASCII-only terminal): only the
    /// image's size is read from its header, for a line of text.
    case none
}

/// What a preview is made from, and the key it is kept under: one file (named by its
/// content hash in the media store) at one size, in one colour mode.
public struct PreviewRequest: Sendable, Hashable {
    public var path: String
    /// The box the preview must fit in, in cells; the preview keeps the image's shape.
    public var maxColumns: Int
    public var maxRows: Int
    public var colors: PreviewColors

    public init(path: String, maxColumns: Int, maxRows: Int, colors: PreviewColors) {
        self.path = path
        self.maxColumns = maxColumns
        self.maxRows = maxRows
        self.colors = colors
    }
}

public enum ImageFormat: String, Sendable, Hashable {
    case jpeg = "JPEG", png = "PNG", webp = "WebP"
}

/// Why there is no preview, in words for the screen.
public struct PreviewFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }

    /// Refused from the header alone, before any pixel is decoded: a decompression bomb
    /// (a few kilobytes that claim gigabytes of pixels) or simply too big to be worth it.
    public static func tooLarge(width: Int, height: Int) -> PreviewFailure {
        let megapixels = (Double(width) * Double(height) / 1_000_000).rounded()
        return PreviewFailure("""
            too large to preview: \(width)×\(height) is \(Int(megapixels)) megapixels, over the \
            \(ImagePreviewer.maximumPixels / 1_000_000)-megapixel limit (o opens it)
            """)
    }

    public static let notAnImage = PreviewFailure("not a JPEG, PNG or WebP image, so no preview (o opens it)")

    public static func damaged(_ detail: String) -> PreviewFailure {
        PreviewFailure("the file is damaged or cut short" + (detail.isEmpty ? "" : " (\(detail))"))
    }

    public static let outOfMemory = PreviewFailure("not enough memory to decode it")
}
