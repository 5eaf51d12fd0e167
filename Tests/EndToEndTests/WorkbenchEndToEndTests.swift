import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// The workbench through the real binary in tmux on a private socket: a reaction reaches the
/// fake Cloud API, and a new customer message rings the bell while the backlog does not.
@Suite(.serialized, .timeLimit(.minutes(2))) struct WorkbenchEndToEndTests {
    let socket = "wabox-wb-\(UUID().uuidString.prefix(8))"
    let directory: URL
    let accessToken = "test-access-token-5151"

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-workbench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private var databasePath: String { directory.appendingPathComponent("inbox.sqlite").path }

    @discardableResult
    private func tmux(_ arguments: String...) throws -> String {
        try runCommand("/usr/bin/tmux", ["-L", socket] + arguments).stdout
    }

    private var pane: TmuxPane { TmuxPane(socket: socket) }

    private func screen() throws -> String { try pane.screen() }

    @discardableResult
    private func waitForScreen(_ what: String, timeout: Double = 15, _ condition: (String) -> Bool) async throws -> String {
        try await pane.waitForScreen(what, timeout: timeout, condition)
    }

    private func press(_ keys: String...) throws {
        try pane.press(keys)
    }

    private func type(_ text: String) throws {
        try pane.type(text)
    }

    private func port(in screen: String) throws -> Int {
        let text = screen.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression)
            .map { String(screen[$0].split(separator: ":")[1]) }
        return try #require(text.flatMap { Int($0) }, "no listener address on the screen:\n\(screen)")
    }

    private func start(in scope: ProcessScope, extraEnvironment: String = "") throws {
        let command = """
            env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
            XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state" \
            WABOX_APP_SECRET="\(Fixtures.appSecret)" WABOX_VERIFY_TOKEN="\(Fixtures.verifyToken)" \(extraEnvironment) \
            "\(try waboxBinary())" --listen 127.0.0.1:0 --db "\(databasePath)"; \
            echo "wabox exited with $?"; sleep 30
            """
        try scope.tmux(socket: socket).newSession("inbox", width: 100, height: 30, command: command)
    }

    @Test func aReactionReachesTheCloudAPIAndTheSameOneAgainRemovesIt() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await withProcesses { scope in
            try await fake.withRunning { graphURL in
                try start(in: scope, extraEnvironment: """
                    WABOX_ACCESS_TOKEN=\(accessToken) WABOX_PHONE_NUMBER_ID=106540352242922 WABOX_GRAPH_URL=\(graphURL)
                    """)
                let port = try self.port(in: try await waitForScreen("the listener") { $0.contains("● 127.0.0.1:") })
                fake.postStatuses(.init(url: "http://127.0.0.1:\(port)/webhook", appSecret: Fixtures.appSecret,
                                        delay: .milliseconds(100)))
                let customer = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
                let wamid = WebhookBuilder.newMessageID()
                #expect(try postSigned(WebhookBuilder().message(from: customer, .text("Chegou, obrigada!"), id: wamid),
                                       port: port, via: directory) == "200")
                try await waitForScreen("the customer") { $0.contains("Ana Lima") }
                try press("Enter")
                try await waitForScreen("the open thread") { $0.contains("Chegou, obrigada!") && $0.contains("window 23h") }
                try press("Up")
                try press("+")
                try await waitForScreen("the reaction picker") { $0.contains("React — ") }
                try press("Enter")

                let reactions = {
                    fake.messageRequests.map { String(decoding: $0.body, as: UTF8.self) }.filter { $0.contains(#""type":"reaction""#) }
                }
                #expect(try await waitUntil(timeout: 15) { reactions().count == 1 }, "no reaction reached the fake Cloud API")
                let sent = try #require(reactions().first)
                #expect(sent.contains(#""message_id":"\#(wamid)""#), "\(sent)")
                #expect(sent.contains(#""emoji":"👍""#), "\(sent)")
                #expect(!sent.contains(#""context""#))
                // The fake's `sent` status webhook gives it its tick under the message.
                try await waitForScreen("the reaction's tick") { $0.contains("👍✓") }

                // 👍 again: the empty emoji removes it.
                try press("+")
                try await waitForScreen("the picker offering removal") { $0.contains("choose it again to remove it") }
                try press("Enter")
                #expect(try await waitUntil(timeout: 15) { reactions().count == 2 }, "the removal never reached the fake Cloud API")
                #expect(reactions().last?.contains(#""emoji":"""#) == true, "\(reactions())")
                // Gone from under the message (the status bar still says it is being removed).
                try await waitForScreen("the reaction gone") { screen in
                    ["👍✓", "👍◶", "👍◷"].allSatisfy { !screen.contains($0) } && screen.contains("removing your 👍")
                }
                #expect(fake.webhookErrors.isEmpty, "status webhooks failed: \(fake.webhookErrors)")
                try press("C-c")
                try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
            }
        }
    }

    /// A broken keys.toml or notify setting stops wabox before it takes the terminal,
    /// saying where and what to write instead.
    @Test func aBrokenKeysFileOrNotifySettingIsRefusedBeforeTheScreen() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config/wabox")
        try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
        let keys = config.appendingPathComponent("keys.toml")
        try "# mine\nreply = \"e\"\nreact = \"Ctl-R\"\n".write(to: keys, atomically: true, encoding: .utf8)
        let environment = ["XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
                           "XDG_STATE_HOME": directory.appendingPathComponent("state").path, "TERM": "xterm-256color"]
        let refused = try runCommand(try waboxBinary(), ["--no-listener", "--db", databasePath], environment: environment)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("keys file \(keys.path), line 3, react: \"Ctl-R\" is not a key"), "\(refused.stderr)")
        try FileManager.default.removeItem(at: keys)
        var loud = environment
        loud["WABOX_NOTIFY"] = "loud"
        let notify = try runCommand(try waboxBinary(), ["--no-listener", "--db", databasePath], environment: loud)
        #expect(notify.status == 1)
        #expect(notify.stderr.contains(#"notify is "loud"; use "bell""#), "\(notify.stderr)")
    }

    @Test func aNewMessageRingsTheBellAndTheBacklogDoesNot() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // The backlog is in the database before the screen starts.
        let builder = WebhookBuilder()
        do {
            let database = try InboxDatabase(path: databasePath)
            for (name, waID) in [("Bruno Costa", "5511900000001"), ("Chloé Martin", "33600000002")] {
                _ = try await database.ingest(Fixtures.webhook(body: builder.message(
                    from: SimulatedCustomer(name: name, waID: waID), .text("Backlog from \(name)"))))
            }
        }
        try await withProcesses { scope in
            try start(in: scope)
            let first = try await waitForScreen("the backlog and the listener") {
                $0.contains("Bruno Costa") && $0.contains("Chloé Martin") && $0.contains("● 127.0.0.1:")
            }
            let port = try self.port(in: first)
            let flag = { try self.tmux("display-message", "-p", "-t", "inbox", "#{window_bell_flag}")
                .trimmingCharacters(in: .whitespacesAndNewlines) }
            // The screen has drawn the backlog, so it has looked at it: no bell.
            #expect(try flag() == "0", "the backlog rang the bell")

            #expect(try postSigned(builder.message(from: SimulatedCustomer(name: "Zoë Ångström", waID: "46701234567"),
                                                   .text("Hej! Är ni öppna?")), port: port, via: directory) == "200")
            try await waitForScreen("the new customer") { $0.contains("Zoë Ångström") }
            var last = ""
            let rang = try await waitUntil(timeout: 10) {
                last = try flag()
                return last == "1"
            }
            #expect(rang, "no bell for a new message: window_bell_flag is \(last)")
            try press("C-c")
            try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
        }
    }
}
