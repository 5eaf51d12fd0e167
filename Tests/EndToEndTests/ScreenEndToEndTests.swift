import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
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

    private var pane: TmuxPane { TmuxPane(socket: socket) }

    private func screen() throws -> String { try pane.screen() }

    /// Waits until the pane shows `text`, returning the screen; fails with the last screen.
    @discardableResult
    private func waitForScreen(_ what: String, timeout: Double = 15, _ condition: (String) -> Bool) async throws -> String {
        try await pane.waitForScreen(what, timeout: timeout, condition)
    }

    private func postFixture(_ name: String, port: Int) throws -> String {
        try post(Data(contentsOf: Fixtures.directory.appendingPathComponent("\(name).json")), port: port)
    }

    /// Presses keys by tmux name (`Enter`, `Escape`, `C-u`, …).
    private func press(_ keys: String...) throws {
        try pane.press(keys)
    }

    /// Types text literally.
    private func type(_ text: String) throws {
        try pane.type(text)
    }

    /// Filters the list by `name` and opens the first match, `shown` as its header says;
    /// each key waits for the screen state it depends on.
    private func open(_ name: String, shown: String) async throws {
        try press("/")
        try type(name)
        try await waitForScreen("the filter /\(name)") { $0.contains("/\(name)") }
        try press("Enter")
        // The filtered list has loaded: the match is on the first row, where the selection is.
        try await waitForScreen("\(shown) on the first row") {
            $0.components(separatedBy: "\n").dropFirst().first?.contains(shown) == true
        }
        try press("Enter")
        try await waitForScreen("\(shown)'s thread focused") { !$0.contains("Enter to write a reply") }
    }

    private func post(_ body: Data, port: Int) throws -> String {
        try postSigned(body, port: port, via: directory)
    }

    private func port(in screen: String) throws -> Int {
        let text = screen.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression)
            .map { String(screen[$0].split(separator: ":")[1]) }
        return try #require(text.flatMap { Int($0) }, "no listener address on the screen:\n\(screen)")
    }

    private func start(in scope: ProcessScope, width: Int, height: Int, extraEnvironment: String = "",
                       arguments: String = "--listen 127.0.0.1:0") throws {
        let command = """
            env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
            XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state" \
            WABOX_APP_SECRET="\(Fixtures.appSecret)" WABOX_VERIFY_TOKEN="\(Fixtures.verifyToken)" \(extraEnvironment) \
            "\(try waboxBinary())" \(arguments) --db "\(directory.path)/inbox.sqlite"; \
            echo "wabox exited with $?"; sleep 30
            """
        try scope.tmux(socket: socket).newSession("inbox", width: width, height: height, command: command)
    }

    /// Removes the test's folder, once the scope has stopped everything that used it.
    private func removeFolder() {
        try? FileManager.default.removeItem(at: directory)
    }

    @Test func webhooksAppearLiveThenFilterOpenAndReply() async throws {
        defer { removeFolder() }
        try await withProcesses { scope in
            try start(in: scope, width: 100, height: 30)
            let first = try await waitForScreen("the listener to come up") { $0.range(of: #"● 127\.0\.0\.1:\d+"#, options: .regularExpression) != nil }
            let port = try self.port(in: first)
            #expect(first.contains("No conversations yet"))

            // Webhooks arrive: the screen updates with no key pressed.
            #expect(try postFixture("text", port: port) == "200")
            #expect(try postFixture("multi_entry", port: port) == "200")
            #expect(try postFixture("interactive", port: port) == "200")
            try await waitForScreen("the conversations and the time of the last webhook") {
                $0.contains("Jonas Müller") && $0.contains("李小龙") && $0.contains("Inbox · 9 unread") && $0.contains("webhook")
            }

            // Filter by typing part of a name, accents ignored.
            try press("/")
            try type("amel")
            let filtered = try await waitForScreen("the filter") { $0.contains("/amel") && !$0.contains("Jonas Müller") }
            #expect(filtered.contains("Amélie Laurent"))
            try press("Enter")
            try press("Down")
            try press("Enter")
            try await waitForScreen("the thread") { $0.contains("Bonjour, ma commande n'est pas") }

            // The fixtures are old: the window is closed, so Enter offers templates instead of
            // sending text that would fail; without Cloud API settings it says what to set.
            try type("Nous vérifions")
            try press("Enter")
            try await waitForScreen("the template picker") { $0.contains("Templates") && $0.contains("WABOX_ACCESS_TOKEN") }
            try press("Escape")
            try press("C-u")
            try press("Escape")
            try press("Escape")  // clears the filter

            // A customer writes now: their window is open and a reply goes to the outbox.
            let builder = WebhookBuilder()
            let customer = SimulatedCustomer(name: "Zoë Ångström", waID: "46701234567")
            #expect(try post(builder.message(from: customer, .text("Hej! Är ni öppna idag?")), port: port) == "200")
            try await waitForScreen("the new customer") { $0.contains("Zoë Ångström") }
            try await open("zoe", shown: "Zoë Ångström")
            try await waitForScreen("the open thread") { $0.contains("Är ni öppna idag?") && $0.contains("window 23h") }
            try type("Nous vérifions, un instant 🙏")
            try press("Enter")
            try await waitForScreen("the reply, the outbox count and why it waits") {
                $0.contains("Nous vérifions, un instant 🙏") && $0.contains("◷") && $0.contains("1 to send")
                    && $0.contains("replies wait in the outbox")
            }

            // Quit restores the terminal and ends the process.
            try press("Escape")
            try press("q")
            try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }

            let database = try InboxDatabase(path: directory.appendingPathComponent("inbox.sqlite").path)
            #expect(try database.waitingToSendCount() == 1)
            #expect(try database.integrityCheck() == "ok")
        }
    }

    @Test func narrowTerminalAndWithoutUTF8Locale() async throws {
        defer { removeFolder() }
        try await withProcesses { scope in
            try start(in: scope, width: 40, height: 12, extraEnvironment: "LANG= LC_ALL=")
            let first = try await waitForScreen("the listener") { $0.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression) != nil }
            let port = try self.port(in: first)
            #expect(try postFixture("multi_entry", port: port) == "200")
            // LANG unset: wabox falls back to C.UTF-8, so wide text still lines up.
            let screen = try await waitForScreen("the list") { $0.contains("李小龙") }
            #expect(screen.contains("你好，我的包裹在哪里？"))
            try type("jj")
            try press("Enter")
            try await waitForScreen("the thread screen") { $0.contains("window") && $0.contains("你好，我的包裹在哪里？") && !$0.contains("Nightowl") }
            try type("你好 👩‍💻 ok")
            try await waitForScreen("the typed text") { $0.contains("你好 👩‍💻 ok") }
            try press("C-c")
            try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
        }
    }

    @Test func replyGetsItsTicksAndClosedWindowSendsATemplate() async throws {
        defer { removeFolder() }
        let fake = FakeCloudAPI(accessToken: "test-access-token-4242")
        fake.addTemplates([
            .init(id: "1", name: "order_update", language: "en_US",
                  body: "Hello {{1}}, your order {{2}} is on its way."),
            .init(id: "2", name: "draft_offer", language: "en_US", status: "PENDING", body: "Not approved yet"),
        ])
        try await withProcesses { scope in
            try await fake.withRunning { graphURL in
                try start(in: scope, width: 100, height: 30, extraEnvironment: """
                    WABOX_ACCESS_TOKEN=test-access-token-4242 WABOX_PHONE_NUMBER_ID=106540352242922 \
                    WABOX_WABA_ID=102290129340398 WABOX_GRAPH_URL=\(graphURL)
                    """)
                let port = try self.port(in: try await waitForScreen("the listener") { $0.contains("● 127.0.0.1:") })
                fake.postStatuses(.init(url: "http://127.0.0.1:\(port)/webhook", appSecret: Fixtures.appSecret,
                                        delay: .milliseconds(600)))
                let builder = WebhookBuilder()
                let customer = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
                #expect(try post(builder.message(from: customer, .text("Oi! Meu pedido chegou quebrado")), port: port) == "200")
                try await waitForScreen("the customer") { $0.contains("Ana Lima") }
                try press("Enter")
                try type("Sinto muito! Vamos trocar 📦")
                try press("Enter")
                // The ticks advance as the fake's status webhooks come back: sent, delivered, read.
                try await waitForScreen("the sent tick") { $0.contains("Sinto muito! Vamos trocar 📦") && $0.contains(" ✓\n") }
                try await waitForScreen("the delivered tick") { $0.contains(" ✓✓\n") }
                let database = try InboxDatabase(path: directory.appendingPathComponent("inbox.sqlite").path)
                #expect(try await waitUntil(timeout: 10) {
                    try database.messages(in: ConversationID(rawValue: 1)).items.last?.status == .read
                })
                // Opening the conversation sent a read receipt for the customer's message.
                let bodies = { fake.messageRequests.map { String(decoding: $0.body, as: UTF8.self) } }
                #expect(bodies().contains { $0.contains(#""status":"read""#) })
                #expect(bodies().contains { $0.contains("Sinto muito! Vamos trocar") })

                // A customer whose last message is days old: Enter offers the approved templates.
                let old = SimulatedCustomer(name: "Kenji Sato", waID: "819012345678")
                #expect(try post(builder.message(from: old, .text("まだですか？"), timestamp: Int64(Date().timeIntervalSince1970) - 3 * 86_400),
                                 port: port) == "200")
                try press("Escape")
                try await waitForScreen("the old customer in the list") { $0.contains("Kenji Sato") }
                try await open("kenji", shown: "Kenji Sato")
                try type("hello")
                try press("Enter")
                let picker = try await waitForScreen("the template picker") { $0.contains("order_update (en_US)") }
                #expect(!picker.contains("draft_offer"))
                try press("Enter")
                try await waitForScreen("the first parameter") { $0.contains("{{1}} of 2") }
                try type("Kenji")
                try press("Enter")
                try await waitForScreen("the second parameter") { $0.contains("{{2}} of 2") && $0.contains("Hello Kenji, your order") }
                try type("A-1042")
                try press("Enter")
                try await waitForScreen("the template in the thread") {
                    $0.contains("[order_update] Hello Kenji, your order A-1042") && $0.contains("is on its way.")
                }
                #expect(try await waitUntil(timeout: 10) {
                    bodies().contains { $0.contains(#""name":"order_update""#) && $0.contains(#""text":"A-1042""#) }
                })
                #expect(fake.webhookErrors.isEmpty, "status webhooks failed: \(fake.webhookErrors)")
                try press("C-c")
                try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
            }
        }
    }

    /// `mark_read = "never"` (here as WABOX_MARK_READ): opening a conversation sends no read
    /// receipt, though the reply from the same screen reaches the Cloud API.
    @Test func markReadNeverSendsNoReceipt() async throws {
        defer { removeFolder() }
        let fake = FakeCloudAPI(accessToken: "test-access-token-4242")
        try await withProcesses { scope in
            try await fake.withRunning { graphURL in
                try start(in: scope, width: 100, height: 30, extraEnvironment: """
                    WABOX_ACCESS_TOKEN=test-access-token-4242 WABOX_PHONE_NUMBER_ID=106540352242922 \
                    WABOX_GRAPH_URL=\(graphURL) WABOX_MARK_READ=never
                    """)
                let port = try self.port(in: try await waitForScreen("the listener") { $0.contains("● 127.0.0.1:") })
                let customer = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
                #expect(try post(WebhookBuilder().message(from: customer, .text("Oi! Tem alguém aí?")), port: port) == "200")
                try await waitForScreen("the customer") { $0.contains("Ana Lima") }
                try press("Enter")
                try await waitForScreen("the open thread") { $0.contains("Tem alguém aí?") && $0.contains("window 23h") }
                try type("Sim, estou aqui")
                try press("Enter")
                let bodies = { fake.messageRequests.map { String(decoding: $0.body, as: UTF8.self) } }
                #expect(try await waitUntil(timeout: 15) { bodies().contains { $0.contains("Sim, estou aqui") } },
                        "the reply never reached the fake Cloud API")
                #expect(!bodies().contains { $0.contains(#""status":"read""#) }, "a read receipt was sent: \(bodies())")
                try press("Escape")
                try press("q")
                try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
            }
        }
    }

    /// The pane with its colours, as SGR sequences.
    private func screenWithColours() throws -> String { try pane.screen(colours: true) }

    /// `--theme` finds a theme in the XDG themes folder and maps its `#rrggbb` to the nearest
    /// of the 256 colours; `WABOX_THEME` does the same; `NO_COLOR` draws no colour at all.
    @Test func themesByFlagEnvironmentAndNoColor() async throws {
        defer { removeFolder() }
        let themes = directory.appendingPathComponent("config/wabox/themes")
        try FileManager.default.createDirectory(at: themes, withIntermediateDirectories: true)
        // #fe0102 is nearest to index 196 (#ff0000), #0000fd to 21 (#0000ff).
        try "name = \"mine\"\n\n[selection]\nfg = \"#0000fd\"\nbg = \"#fe0102\"\n"
            .write(to: themes.appendingPathComponent("mine.toml"), atomically: true, encoding: .utf8)
        let customer = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
        let runs: [(String, String, (String) -> Bool)] = [
            ("", "--theme mine --listen 127.0.0.1:0", { $0.contains("38;5;21") && $0.contains("48;5;196") }),
            ("WABOX_THEME=mine", "--listen 127.0.0.1:0", { $0.contains("38;5;21") && $0.contains("48;5;196") }),
            ("NO_COLOR=1", "--listen 127.0.0.1:0", { screen in
                screen.range(of: #"\e\[[0-9;]*(3[0-7]|4[0-7]|9[0-7]|10[0-7]|[34]8;[25])[;m]"#, options: .regularExpression) == nil
                    && screen.contains("\u{1b}[7m") }),
        ]
        for (environment, arguments, check) in runs {
            try await withProcesses { scope in
                try start(in: scope, width: 80, height: 24, extraEnvironment: environment, arguments: arguments)
                let port = try self.port(in: try await waitForScreen("the listener") { $0.contains("● 127.0.0.1:") })
                #expect(try post(WebhookBuilder().message(from: customer, .text("Olá")), port: port) == "200")
                try await waitForScreen("the customer") { $0.contains("Ana Lima") }
                var coloured = ""
                let drawn = try await waitUntil(timeout: 10) {
                    coloured = try screenWithColours()
                    return check(coloured)
                }
                #expect(drawn, "\(environment) \(arguments): the colours were not drawn as the theme says:\n\(coloured.debugDescription)")
                try press("q")
                try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
            }
        }
    }

    /// The hangup of a dropped SSH connection: `wabox` gets SIGHUP while its agent types,
    /// clears the typing note other agents see, and exits.
    @Test func sighupClearsTheAgentsTypingNoteAndExits() async throws {
        defer { removeFolder() }
        try await withProcesses { scope in
            try start(in: scope, width: 100, height: 30, arguments: "--agent alice --listen 127.0.0.1:0")
            let port = try self.port(in: try await waitForScreen("the listener") { $0.contains("● 127.0.0.1:") })
            let customer = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
            #expect(try post(WebhookBuilder().message(from: customer, .text("Oi!")), port: port) == "200")
            try await waitForScreen("the customer") { $0.contains("Ana Lima") }
            try press("Enter")
            try await waitForScreen("the open thread") { $0.contains("window 23h") }
            try type("Bom dia Ana")
            let database = try InboxDatabase(path: directory.appendingPathComponent("inbox.sqlite").path)
            let everyNote = Viewer(agent: "bob", nowMilliseconds: 0)
            let typing = try await waitUntil(timeout: 10) {
                try database.conversations(viewer: everyNote).items.first?.typing.isEmpty == false
            }
            try #require(typing, "alice's typing note never reached the database")

            let pane = try #require(try scope.tmux(socket: socket).processes.last)
            let children = (try? String(contentsOfFile: "/proc/\(pane)/task/\(pane)/children", encoding: .utf8)) ?? ""
            let wabox = try #require(children.split(separator: " ").compactMap { pid_t($0) }.first, "no wabox under the pane")
            kill(wabox, SIGHUP)
            try await waitForScreen("wabox to exit") { $0.contains("wabox exited with") }
            #expect(try database.conversations(viewer: everyNote).items.first?.typing.isEmpty == true,
                    "the typing note outlived the hangup")
        }
    }

    /// `wabox demo` as a newcomer sees it: customers write in with no key pressed, a reply
    /// reaches the read ticks, the closed window offers templates, a failure is explained.
    @Test func demoComesAliveAndAnswers() async throws {
        defer { removeFolder() }
        try await withProcesses { scope in
            try start(in: scope, width: 110, height: 34, arguments: "demo --pace 0.3")
            let screen = try await waitForScreen("the customers", timeout: 30) {
                $0.contains("DEMO") && $0.contains("[image]") && $0.contains("[location]") && $0.contains("Lucas 🚀 Oliveira")
                    && $0.contains("王芳") && $0.contains("@night.owl") && $0.contains("Kenji Sato")
            }
            #expect(screen.contains("ليلى حداد"))

            // A reply to Amélie goes out through the fake Cloud API and comes back read.
            try await open("amelie", shown: "Amélie Laurent")
            try await waitForScreen("Amélie's thread") { $0.contains("Ma commande n° 4471") }
            try type("Je m'en occupe tout de suite.")
            try press("Enter")
            try await waitForScreen("the delivered ticks") { $0.contains("Je m'en occupe tout de suite.") && $0.contains("✓✓") }
            let database = try InboxDatabase(path: directory.appendingPathComponent("inbox.sqlite").path)
            #expect(try await waitUntil(timeout: 15) {
                try database.searchMessages("occupe", limit: 1).first?.message.status == .read
            }, "the reply never reached the read ticks")

            // Kenji wrote three days ago: Enter offers the approved templates.
            try press("Escape", "Escape")
            try await open("kenji", shown: "Kenji Sato")
            try await waitForScreen("Kenji's hint") { $0.contains("the 24-hour window is closed") }
            try type("hello")
            try press("Enter")
            try await waitForScreen("the template picker") { $0.contains("order_update (en_US)") && $0.contains("welcome_back") }
            try press("Escape", "C-u", "Escape", "Escape")

            // Ravi's number has no WhatsApp: the reply fails with the reason in plain words.
            try await open("ravi", shown: "Ravi Kumar")
            try await waitForScreen("Ravi's hint") { $0.contains("this customer's number is not on WhatsApp") }
            try type("Confirmed!")
            try press("Enter")
            try await waitForScreen("the failure") { $0.contains("not sent: undeliverable") }

            try press("C-c")
            try await waitForScreen("wabox to exit") { $0.contains("wabox exited with 0") }
        }
    }
}
