/// Where frames are drawn and keys come from: curses in the program, memory in tests.
public protocol TerminalBackend: AnyObject {
    /// The terminal's size in cells.
    var size: (width: Int, height: Int) { get }
    /// Draws a frame; implementations send only what changed since the last one.
    func draw(_ frame: Frame)
    /// The next key, waiting at most `timeoutMilliseconds` (0: do not wait).
    func readKey(timeoutMilliseconds: Int) -> Key?
    /// As `readKey(timeoutMilliseconds:)`; with `wakeOnChange` false a commit does not end
    /// the wait early (the screen knows of one already and reloads when it is due), so a
    /// stream of commits wakes the screen once per reload, not once per write.
    func readKey(timeoutMilliseconds: Int, wakeOnChange: Bool) -> Key?
    /// Rings the bell or shows a desktop notification (`TerminalAlert.escapeSequence`).
    func alert(_ alert: TerminalAlert)
}

extension TerminalBackend {
    public func readKey(timeoutMilliseconds: Int, wakeOnChange: Bool) -> Key? {
        readKey(timeoutMilliseconds: timeoutMilliseconds)
    }
}

/// A terminal in memory for tests: keys are queued by the test, frames are kept.
public final class InMemoryBackend: TerminalBackend {
    public var width: Int
    public var height: Int
    public var pendingKeys: [Key] = []
    public private(set) var lastFrame: Frame?
    public private(set) var drawCount = 0
    /// Cells sent over all frames, as a curses backend would send them.
    public private(set) var cellsWritten = 0
    /// Every bell and notification asked for, in order.
    public private(set) var alerts: [TerminalAlert] = []

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var size: (width: Int, height: Int) { (width, height) }

    public func draw(_ frame: Frame) {
        cellsWritten += frame.buffer.changes(from: lastFrame?.buffer).count
        lastFrame = frame
        drawCount += 1
    }

    public func alert(_ alert: TerminalAlert) {
        alerts.append(alert)
    }

    public func readKey(timeoutMilliseconds: Int) -> Key? {
        pendingKeys.isEmpty ? nil : pendingKeys.removeFirst()
    }

    /// The screen as text lines.
    public var lines: [String] { lastFrame?.buffer.lines ?? [] }

    /// The screen as one string, lines joined with newlines.
    public var text: String { lines.joined(separator: "\n") }

    public func type(_ text: String) {
        pendingKeys += text.map { Key.character($0) }
    }
}
