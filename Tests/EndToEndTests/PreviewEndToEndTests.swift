import Foundation
import InboxTesting
import Testing

/// The demo's photo drawn inline by the real binary in tmux (private socket), read back
/// with its colours by `capture-pane -e`.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PreviewEndToEndTests {
    let socket = "wabox-preview-\(UUID().uuidString.prefix(8))"
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-preview-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private func tmux(_ arguments: String...) throws -> String {
        try runCommand("/usr/bin/tmux", ["-L", socket] + arguments).stdout
    }

    /// Waits until the pane (with its SGR colour sequences) satisfies `condition`.
    @discardableResult
    private func waitForScreen(_ what: String, timeout: Double = 20, _ condition: (String) -> Bool) async throws -> String {
        try await TmuxPane(socket: socket).waitForScreen(what, timeout: timeout, colours: true, condition)
    }

    /// How many of the 8 rows between the row holding `caption` and the time line under it
    /// (`· downloaded`) hold block or braille symbols coloured with indexed colours 16–255
    /// (`38;5;N` / `48;5;N`): the picture chafa drew. Nil while that layout is not on screen.
    static func pictureRows(under caption: String, in screen: String) -> Int? {
        let rows = screen.components(separatedBy: "\n")
        let plain = rows.map { $0.replacingOccurrences(of: #"\x1b\[[0-9;]*m"#, with: "", options: .regularExpression) }
        guard let top = plain.firstIndex(where: { $0.contains(caption) }), top + 9 < rows.count,
              plain[top + 9].contains("· downloaded") else { return nil }
        return rows[(top + 1)...(top + 8)].count { row in
            let symbols = row.unicodeScalars.filter { (0x2580...0x259f).contains($0.value) || (0x2800...0x28ff).contains($0.value) }
            return symbols.count >= 3 && indexedColours(in: row).filter { $0 >= 16 }.count >= 3
        }
    }

    /// The N of every `38;5;N` and `48;5;N` in an SGR-coded line.
    static func indexedColours(in line: String) -> [Int] {
        line.components(separatedBy: "8;5;").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
    }

    /// The plain rows from the one holding `caption` on.
    private func rowsFrom(_ caption: String) throws -> [String] {
        let plain = try tmux("capture-pane", "-p", "-t", "inbox").components(separatedBy: "\n")
        guard let row = plain.firstIndex(where: { $0.contains(caption) }) else { return [] }
        return Array(plain[row...])
    }

    @Test func theDemosPhotoIsDrawnInlineUnderItsMessage() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let command = """
                env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
                XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state" \
                "\(try waboxBinary())" demo --pace 0.3 --db "\(directory.path)/inbox.sqlite"; \
                echo "wabox exited with $?"; sleep 30
                """
            try scope.tmux(socket: socket).newSession("inbox", width: 110, height: 34, command: command)
            try await waitForScreen("Wang Fang's photo in the list", timeout: 30) { $0.contains("王芳") && $0.contains("[image]") }
            // Open her conversation by her number.
            _ = try tmux("send-keys", "-t", "inbox", "/")
            _ = try tmux("send-keys", "-t", "inbox", "-l", "8613800138000")
            try await waitForScreen("the filter") { $0.contains("/8613800138000") }
            _ = try tmux("send-keys", "-t", "inbox", "Enter", "Enter")
            let caption = "[image] 包裹外箱破损了，请看照片"
            // Under the caption, 8 rows of picture (the photo's flat edges may show as coloured
            // blanks), then the time line: the text around the picture is intact.
            try await waitForScreen("the photo drawn under its message") { (Self.pictureRows(under: caption, in: $0) ?? 0) >= 5 }
            let rows = try rowsFrom(caption)
            #expect(rows.count > 9 && rows[9].contains("· 20 KB · downloaded"), "from the caption on:\n\(rows.joined(separator: "\n"))")
            _ = try tmux("send-keys", "-t", "inbox", "C-c")
            try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
        }
    }
}
