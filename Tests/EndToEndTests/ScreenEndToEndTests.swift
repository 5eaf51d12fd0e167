import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// The real binary in tmux on a private socket, fed by real HTTP, read with capture-pane.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ScreenEndToEndTests {
    let socket = "wabox-e2e-\(UUID().uuidString.prefix(8))"
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-tui-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    @discardableResult
    private func tmux(_ arguments: String...) throws -> String {
        try runCommand("/usr/bin/tmux", ["-L", socket] + arguments).stdout
    }

    private func screen() throws -> String { try tmux("capture-pane", "-p", "-t", "inbox") }

    /// Waits until the pane shows `text`, returning the screen; fails with the last screen.
    @discardableResult
    private func waitForScreen(_ what: String, timeout: Double = 15, _ condition: (String) -> Bool) async throws -> String {
        var last = ""
        let found = try await waitUntil(timeout: timeout) {
            last = try screen()
            return condition(last)
        }
        #expect(found, "waited for \(what); the screen was:\n\(last)")
        return last
    }

    private func postFixture(_ name: String, port: Int) throws -> String {
        let file = Fixtures.directory.appendingPathComponent("\(name).json")
        let signature = WebhookSignature(appSecret: Fixtures.appSecret).header(for: try Data(contentsOf: file))
        return try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                                "http://127.0.0.1:\(port)/webhook", "-H", "X-Hub-Signature-256: \(signature)",
                                                "--data-binary", "@\(file.path)"]).stdout
    }

    private func start(width: Int, height: Int, extraEnvironment: String = "") throws {
        let command = """
            env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
            XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state" \
            WABOX_APP_SECRET="\(Fixtures.appSecret)" WABOX_VERIFY_TOKEN="\(Fixtures.verifyToken)" \(extraEnvironment) \
            "\(try waboxBinary())" --db "\(directory.path)/inbox.sqlite" --listen 127.0.0.1:0; \
            echo "wabox exited with $?"; sleep 30
            """
        let status = try runLeavingDaemon("/usr/bin/tmux", ["-L", socket, "new-session", "-d", "-s", "inbox",
                                                             "-x", String(width), "-y", String(height), command])
        #expect(status == 0, "tmux new-session failed")
    }

    private func stop() {
        _ = try? runLeavingDaemon("/usr/bin/tmux", ["-L", socket, "kill-server"])
        try? FileManager.default.removeItem(atPath: "/tmp/tmux-\(getuid())/\(socket)")
        try? FileManager.default.removeItem(at: directory)
    }

    @Test func webhooksAppearLiveThenFilterOpenAndReply() async throws {
        defer { stop() }
        try start(width: 100, height: 30)
        let first = try await waitForScreen("the listener to come up") { $0.range(of: #"● 127\.0\.0\.1:\d+"#, options: .regularExpression) != nil }
        let portText = first.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression).map { String(first[$0].split(separator: ":")[1]) }
        let port = try #require(portText.flatMap { Int($0) })
        #expect(first.contains("No conversations yet"))

        // Webhooks arrive: the screen updates with no key pressed.
        #expect(try postFixture("text", port: port) == "200")
        #expect(try postFixture("multi_entry", port: port) == "200")
        #expect(try postFixture("interactive", port: port) == "200")
        try await waitForScreen("the conversations and the time of the last webhook") {
            $0.contains("Jonas Müller") && $0.contains("李小龙") && $0.contains("Inbox · 9 unread") && $0.contains("webhook")
        }

        // Filter by typing part of a name, accents ignored.
        try tmux("send-keys", "-t", "inbox", "/")
        try tmux("send-keys", "-t", "inbox", "-l", "amel")
        let filtered = try await waitForScreen("the filter") { $0.contains("/amel") && !$0.contains("Jonas Müller") }
        #expect(filtered.contains("Amélie Laurent"))
        try tmux("send-keys", "-t", "inbox", "Enter")
        try tmux("send-keys", "-t", "inbox", "Down")
        try tmux("send-keys", "-t", "inbox", "Enter")
        try await waitForScreen("the thread") { $0.contains("Bonjour, ma commande n'est pas") }

        // Type a reply: it shows at once with the pending tick.
        try tmux("send-keys", "-t", "inbox", "-l", "Nous vérifions, un instant 🙏")
        try tmux("send-keys", "-t", "inbox", "Enter")
        try await waitForScreen("the reply and the outbox count") {
            $0.contains("Nous vérifions, un instant 🙏") && $0.contains("◷") && $0.contains("1 to send")
        }

        // Quit restores the terminal and ends the process.
        try tmux("send-keys", "-t", "inbox", "Escape")
        try tmux("send-keys", "-t", "inbox", "q")
        try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }

        let database = try InboxDatabase(path: directory.appendingPathComponent("inbox.sqlite").path)
        #expect(try database.waitingToSendCount() == 1)
        #expect(try database.integrityCheck() == "ok")
    }

    @Test func narrowTerminalAndWithoutUTF8Locale() async throws {
        defer { stop() }
        try start(width: 40, height: 12, extraEnvironment: "LANG= LC_ALL=")
        let first = try await waitForScreen("the listener") { $0.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression) != nil }
        let portText = first.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression).map { String(first[$0].split(separator: ":")[1]) }
        let port = try #require(portText.flatMap { Int($0) })
        #expect(try postFixture("multi_entry", port: port) == "200")
        // LANG unset: wabox falls back to C.UTF-8, so wide text still lines up.
        let screen = try await waitForScreen("the list") { $0.contains("李小龙") }
        #expect(screen.contains("你好，我的包裹在哪里？"))
        try tmux("send-keys", "-t", "inbox", "-l", "jj")
        try tmux("send-keys", "-t", "inbox", "Enter")
        try await waitForScreen("the thread screen") { $0.contains("window") && $0.contains("你好，我的包裹在哪里？") && !$0.contains("Nightowl") }
        try tmux("send-keys", "-t", "inbox", "-l", "你好 👩‍💻 ok")
        try await waitForScreen("the typed text") { $0.contains("你好 👩‍💻 ok") || $0.contains("你好 👩") }
        try tmux("send-keys", "-t", "inbox", "C-c")
        try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
    }
}
