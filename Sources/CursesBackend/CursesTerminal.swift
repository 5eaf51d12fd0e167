import CNcurses
import Foundation
import InboxCore
import InboxTUI

/// The real terminal, through ncursesw. The only code in wabox that calls curses, always
/// from the main thread.
///
/// Draws only the cells that changed since the last frame, reads keys with `get_wch`,
/// uses the terminal's default colours, and restores the terminal on `close()`, on
/// SIGINT/SIGTERM/SIGHUP (reported through `pendingSignal`) and on a crash.
public final class CursesTerminal: TerminalBackend {
    /// Whether the locale is UTF-8; when false the screen is drawn in ASCII.
    public let isUTF8: Bool
    public let hasColors: Bool
    private var previous: Buffer?
    private var pairs = ColorPairs(limit: 1)
    /// A cell of the frame being drawn found no free colour pair.
    private var pairsRanOut = false
    private var isOpen = true
    /// Colours the terminal has (`COLORS`), 0 without colours.
    public let colorCount: Int
    /// A descriptor `readKey` also returns for, and what empties it.
    private var wakeup: (descriptor: Int32, drain: () -> Void)?

    /// Sets the locale (falling back to C.UTF-8), enters curses mode and installs the
    /// signal handlers.
    public init(useColors: Bool) {
        setlocale(LC_ALL, "")
        if !Self.codesetIsUTF8() {
            setlocale(LC_ALL, "C.UTF-8")
        }
        isUTF8 = Self.codesetIsUTF8()
        cnc_install_signal_handlers()
        setenv("ESCDELAY", "25", 0)
        initscr()
        raw()
        noecho()
        nonl()
        keypad(cnc_stdscr(), true)
        intrflush(cnc_stdscr(), false)
        if useColors, has_colors() {
            start_color()
            use_default_colors()
            hasColors = true
        } else {
            hasColors = false
        }
        colorCount = hasColors ? Int(cnc_colors()) : 0
        pairs = ColorPairs(limit: hasColors ? min(cnc_color_pairs(), 32_767) : 1)
        curs_set(0)
    }

    deinit { close() }

    /// Makes `readKey` return early when `descriptor` becomes readable, calling `drain`
    /// then, so that a screen can wait long for keys and still show a change at once. The
    /// caller owns the descriptor.
    public func wake(on descriptor: Int32, drain: @escaping () -> Void) {
        wakeup = (descriptor, drain)
    }

    /// Leaves curses mode and gives the terminal back as it was.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        wakeup = nil
        endwin()
    }

    /// SIGINT, SIGTERM or SIGHUP received since the last call, or 0.
    public func pendingSignal() -> Int32 { cnc_take_signal() }

    public var size: (width: Int, height: Int) { (Int(cnc_cols()), Int(cnc_lines())) }

    // MARK: - Output

    public func draw(_ frame: Frame) {
        let buffer = frame.buffer
        if previous?.width != buffer.width || previous?.height != buffer.height {
            previous = nil
            clearok(cnc_stdscr(), true)
        }
        pairsRanOut = false
        paint(buffer)
        if pairsRanOut {
            // Pictures brought more colour pairs than the terminal has: number them afresh
            // for this frame alone and paint it whole, so every cell, the theme's included,
            // gets its own colours back. (Only a frame with more pairs than the terminal
            // has falls back to the default colours for the rest.)
            pairs.reset()
            previous = nil
            clearok(cnc_stdscr(), true)
            paint(buffer)
        }
        if let cursor = frame.cursor {
            curs_set(1)
            move(Int32(cursor.y), Int32(cursor.x))
        } else {
            curs_set(0)
        }
        refresh()
        flushOverlays(cursor: frame.cursor)
        previous = buffer
    }

    /// ZWJ sequences to draw over curses's output once it is done (see `paint`).
    private var overlays: [(x: Int, y: Int, text: String)] = []

    /// Hands curses the cells that changed since `previous` (all of them without one).
    private func paint(_ buffer: Buffer) {
        var overlays: [(x: Int, y: Int, text: String)] = []
        for change in buffer.changes(from: previous) {
            let cell = change.cell
            guard !cell.isContinuation else { continue }
            var text = cell.text
            if !isUTF8 {
                text = String(repeating: "?", count: TerminalText.width(of: Character(text)) == 2 ? 2 : 1)
                if cell.text.unicodeScalars.allSatisfy(\.isASCII) { text = cell.text }
            } else if text.unicodeScalars.count > 1, text.unicodeScalars.contains(where: { $0.value == 0x200d }) {
                // curses counts each part of a ZWJ sequence; the terminal draws one glyph
                // two cells wide. Give curses the first part, then draw the whole
                // cluster over it once curses is done.
                overlays.append((change.x, change.y, text))
                text = String(text.unicodeScalars.first!)
            }
            attrset(attributes(for: cell.style))
            _ = text.withCString { mvaddstr(Int32(change.y), Int32(change.x), $0) }
        }
        self.overlays = overlays
    }

    private func flushOverlays(cursor: (x: Int, y: Int)?) {
        guard !overlays.isEmpty else { return }
        var out = ""
        for overlay in overlays {
            out += "\u{1b}[\(overlay.y + 1);\(overlay.x + 1)H" + overlay.text
        }
        if let cursor { out += "\u{1b}[\(cursor.y + 1);\(cursor.x + 1)H" }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private func attributes(for style: Style) -> Int32 {
        var value: Int32 = 0
        if style.attributes.contains(.bold) { value |= cnc_a_bold() }
        if style.attributes.contains(.dim) { value |= cnc_a_dim() }
        if style.attributes.contains(.underline) { value |= cnc_a_underline() }
        if style.attributes.contains(.reverse) { value |= cnc_a_reverse() }
        if style.attributes.contains(.italic) { value |= cnc_a_italic() }
        if hasColors {
            value |= cnc_color_pair(pair(foreground: color(style.foreground), background: color(style.background)))
        }
        return value
    }

    private func pair(foreground: Int16, background: Int16) -> Int32 {
        if foreground == -1, background == -1 { return 0 }
        switch pairs.number(foreground: foreground, background: background) {
        case .existing(let number):
            return number
        case .new(let number):
            init_pair(Int16(number), foreground, background)
            return number
        case .full:
            pairsRanOut = true
            return 0
        }
    }

    /// The terminal colour for a theme colour: itself when the terminal has it, else the
    /// nearest one it has.
    private func color(_ color: ThemeColor) -> Int16 {
        switch color {
        case .terminalDefault:
            return -1
        case .index(let index):
            if Int(index) < colorCount { return Int16(index) }
            return Int16(ColorMatch.nearestBasic(ColorMatch.rgb(ofIndex: index), count: colorCount))
        case .rgb(let r, let g, let b):
            if colorCount >= 256 { return Int16(ColorMatch.nearest256(r, g, b)) }
            return Int16(ColorMatch.nearestBasic((r, g, b), count: colorCount))
        }
    }

    /// Writes the bell or the notification's escape sequences straight to the terminal:
    /// curses has flushed its own output by the end of every `draw`, so nothing interleaves.
    public func alert(_ alert: TerminalAlert) {
        guard isOpen else { return }
        FileHandle.standardOutput.write(Data(alert.escapeSequence.utf8))
    }

    // MARK: - Input

    public func readKey(timeoutMilliseconds: Int) -> Key? {
        readKey(timeoutMilliseconds: timeoutMilliseconds, wakeOnChange: true)
    }

    public func readKey(timeoutMilliseconds: Int, wakeOnChange: Bool) -> Key? {
        if timeoutMilliseconds > 0, !wakeOnChange {
            // Keys and signals only: the change that would wake us is known already.
            if let key = readKey(timeoutMilliseconds: 0) { return key }
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 1, Int32(timeoutMilliseconds))
            return readKey(timeoutMilliseconds: 0)
        }
        if timeoutMilliseconds > 0, let wakeup {
            // Keys curses already holds come first; then wait for a key, the wake-up
            // descriptor, or a signal (a resize, a hang-up), whichever is first.
            if let key = readKey(timeoutMilliseconds: 0) { return key }
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeup.descriptor, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, Int32(timeoutMilliseconds))
            if fds[1].revents != 0 { wakeup.drain() }
            return readKey(timeoutMilliseconds: 0)
        }
        timeout(Int32(timeoutMilliseconds))
        var character: UInt32 = 0
        let result = cnc_get_wch(&character)
        if result == ERR { return nil }
        if result == cnc_key_code_yes() { return Self.functionKey(Int32(character)) }
        if character < 32 || character == 127 { return Key.fromControlByte(character) }
        guard let scalar = Unicode.Scalar(character) else { return nil }
        return .character(Character(scalar))
    }

    private static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: .up
        case KEY_DOWN: .down
        case KEY_LEFT: .left
        case KEY_RIGHT: .right
        case KEY_HOME: .home
        case KEY_END: .end
        case KEY_NPAGE: .pageDown
        case KEY_PPAGE: .pageUp
        case KEY_BACKSPACE: .backspace
        case KEY_DC: .delete
        case KEY_ENTER: .enter
        case KEY_BTAB: .backTab
        case KEY_RESIZE: .resize
        default: nil
        }
    }

    private static func codesetIsUTF8() -> Bool {
        guard let codeset = nl_langinfo(nl_item(CODESET)) else { return false }
        let name = String(cString: codeset).uppercased()
        return name == "UTF-8" || name == "UTF8"
    }
}

/// Nearest-colour matching for terminals with fewer colours than a theme names.
enum ColorMatch {
    static let basic: [(UInt8, UInt8, UInt8)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ]

    static func rgb(ofIndex index: UInt8) -> (UInt8, UInt8, UInt8) {
        let i = Int(index)
        if i < 16 { return basic[i] }
        if i < 232 {
            let steps: [UInt8] = [0, 95, 135, 175, 215, 255]
            let n = i - 16
            return (steps[n / 36], steps[n / 6 % 6], steps[n % 6])
        }
        let gray = UInt8(8 + (i - 232) * 10)
        return (gray, gray, gray)
    }

    static func nearest256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        (16..<256).min { distance(rgb(ofIndex: UInt8($0)), (r, g, b)) < distance(rgb(ofIndex: UInt8($1)), (r, g, b)) } ?? 7
    }

    static func nearestBasic(_ color: (UInt8, UInt8, UInt8), count: Int) -> Int {
        let limit = max(1, min(16, count))
        return (0..<limit).min { distance(basic[$0], color) < distance(basic[$1], color) } ?? 7
    }

    private static func distance(_ a: (UInt8, UInt8, UInt8), _ b: (UInt8, UInt8, UInt8)) -> Int {
        let dr = Int(a.0) - Int(b.0), dg = Int(a.1) - Int(b.1), db = Int(a.2) - Int(b.2)
        return dr * dr + dg * dg + db * db
    }
}

/// Curses colour pairs, numbered on first use. A terminal has a fixed number of them
/// (`COLOR_PAIRS`, at most 32,767 through `init_pair`); the theme needs a few dozen, but
/// every picture brings up to a few hundred pairs of indexed colours, so a long session
/// runs out. Then the numbering starts again (`reset`) and the frame is painted whole.
struct ColorPairs {
    /// Pairs 1..<limit can be defined; 0 is the terminal's default colours.
    let limit: Int32
    private var numbers: [Key: Int32] = [:]
    private var next: Int32 = 1

    private struct Key: Hashable {
        var foreground: Int16
        var background: Int16
    }

    enum Lookup: Equatable {
        case existing(Int32)
        /// Not defined yet: the caller defines it (`init_pair`) before use.
        case new(Int32)
        /// No pair left until `reset`.
        case full
    }

    init(limit: Int32) {
        self.limit = limit
    }

    var count: Int { numbers.count }

    mutating func number(foreground: Int16, background: Int16) -> Lookup {
        let key = Key(foreground: foreground, background: background)
        if let number = numbers[key] { return .existing(number) }
        guard next < limit else { return .full }
        let number = next
        next += 1
        numbers[key] = number
        return .new(number)
    }

    /// Forgets every pair: the caller repaints everything on screen, since the numbers
    /// now mean other colours.
    mutating func reset() {
        numbers = [:]
        next = 1
    }
}
