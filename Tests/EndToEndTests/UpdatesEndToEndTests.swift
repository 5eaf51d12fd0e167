import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// Everything Meta sends reaches the agent: `wabox serve` (with the fake Cloud API in this
/// process for its template cache) receives a customer's edit, deletion, call, marketing
/// stop and a message without its payload, an account restriction and a rejected
/// template; then `wabox export`, `wabox templates`, `wabox doctor` and an agent's screen
/// in tmux (attached to serve) show each.
@Suite(.serialized, .timeLimit(.minutes(4))) struct UpdatesEndToEndTests {
    let directory: URL
    let databasePath: String
    let socket = "wabox-updates-\(UUID().uuidString.prefix(8))"
    let accessToken = "e2e-updates-token-3c9d1e"
    let amelie = "33612345678"

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-updates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        databasePath = directory.appendingPathComponent("data/inbox.sqlite").path
    }

    func serveEnvironment(graphURL: String) -> [String: String] {
        [
            "WABOX_APP_SECRET": Fixtures.appSecret, "WABOX_VERIFY_TOKEN": Fixtures.verifyToken,
            "WABOX_ACCESS_TOKEN": accessToken, "WABOX_PHONE_NUMBER_ID": UpdateBodies.phoneNumberID,
            "WABOX_WABA_ID": UpdateBodies.account, "WABOX_GRAPH_URL": graphURL,
            "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
        ]
    }

    /// Runs a blocking command on a thread of its own, never on the cooperative pool that
    /// the in-process fake Cloud API needs.
    func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    func wabox(_ arguments: [String], environment: [String: String]) async throws -> CommandResult {
        let binary = try waboxBinary()
        return try await offPool { try runCommand(binary, arguments, environment: environment) }
    }

    func post(_ body: Data, port: Int) async throws {
        let folder = directory
        let answer = try await offPool { try postSigned(body, port: port, via: folder) }
        #expect(answer == "200", "the listener answered \(answer)")
    }

    func exported(_ environment: [String: String]) async throws -> [[String: Any]] {
        let result = try await wabox(["export", "--db", databasePath], environment: environment)
        return try result.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// Polls `check` every 100 ms until it returns a value, for at most `timeout` seconds;
    /// a wait that gives up records what it last saw.
    @discardableResult
    func waitFor<T>(_ what: String, timeout: Double = 20, _ check: () async throws -> (T?, String)) async throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = ""
        repeat {
            let (value, last) = try await check()
            if let value { return value }
            seen = last
            try await Task.sleep(for: .milliseconds(100))
        } while Date() < deadline
        Issue.record("waited \(Int(timeout)) s for \(what); last saw:\n\(seen)")
        throw Fixtures.FixtureError(description: "gave up waiting for \(what)")
    }

    func screen() async throws -> String {
        let socket = self.socket
        return try await offPool { try runCommand("/usr/bin/tmux", ["-L", socket, "capture-pane", "-p", "-t", "agent"]).stdout }
    }

    func press(_ keys: String...) async throws {
        let socket = self.socket
        _ = try await offPool { try runCommand("/usr/bin/tmux", ["-L", socket, "send-keys", "-t", "agent"] + keys) }
    }

    @discardableResult
    func waitForScreen(_ what: String, _ condition: @escaping (String) -> Bool) async throws -> String {
        try await waitFor(what) {
            let text = try await screen()
            return (condition(text) ? text : nil, text)
        }
    }

    @Test func editsDeletionsCallsAlertsTemplatesAndPreferencesReachTheAgent() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.addTemplates([
            .init(id: "11", name: "order_update", language: "fr", body: "Bonjour {{1}}, votre commande est partie."),
            .init(id: "12", name: "spring_sale", language: "en_US", category: "MARKETING", body: "20% off this week"),
            .init(id: "13", name: "loyalty_offer", language: "fr", category: "MARKETING", body: "Une offre pour vous"),
        ])
        try await fake.withRunning { graphURL in
            let environment = serveEnvironment(graphURL: graphURL)
            try await withProcesses { scope in
                let serve = try scope.start(try waboxBinary(), ["serve", "--db", databasePath, "--listen", "127.0.0.1:0"],
                                            environment: environment, logFile: directory.appendingPathComponent("serve.log"))
                guard let port = try await serve.waitForLog(#"listening on http://127\.0\.0\.1:(\d+)/webhook"#).flatMap(Int.init) else {
                    Issue.record("wabox serve did not start:\n\(serve.log)")
                    return
                }
                // The template cache is filled when serve starts.
                try await waitFor("the template cache") {
                    let listed = try await wabox(["templates", "--db", databasePath, "--format", "jsonl"], environment: environment)
                    return (listed.stdout.split(separator: "\n").count == 3 ? true : nil, listed.stdout + listed.stderr)
                }
                let now = Int64(Date().timeIntervalSince1970)
                let bodies = [
                    UpdateBodies.text(id: "wamid.o1", from: amelie, timestamp: now - 300, body: "Mon colis 4471 est perdu"),
                    // The deletion before the message it deletes; the edit after.
                    UpdateBodies.revoke(id: "wamid.r2", of: "wamid.o2", from: amelie, timestamp: now - 200),
                    UpdateBodies.text(id: "wamid.o2", from: amelie, timestamp: now - 250, body: "mon code secret 9876"),
                    UpdateBodies.edit(id: "wamid.e1", of: "wamid.o1", from: amelie, timestamp: now - 240,
                                      body: "Mon colis 4472 est arrivé, merci"),
                    UpdateBodies.call(id: "wacid.c1", from: amelie, name: "Amélie Laurent", event: "connect", timestamp: now - 180),
                    UpdateBodies.call(id: "wacid.c1", from: amelie, name: "Amélie Laurent", event: "terminate",
                                      timestamp: now - 110, status: "COMPLETED", duration: 65),
                    UpdateBodies.interactiveWithoutPayload(id: "wamid.u1", from: amelie, name: "Amélie Laurent", timestamp: now - 100),
                    UpdateBodies.preference(waID: amelie, value: "stop", timestamp: now - 90),
                    UpdateBodies.accountUpdate(event: "ACCOUNT_RESTRICTION",
                                               restrictions: [("RESTRICTED_BIZ_INITIATED_MESSAGING", now + 86_400)], time: now),
                    UpdateBodies.templateStatus(name: "spring_sale", language: "en_US", event: "REJECTED",
                                                reason: "INVALID_FORMAT", category: "MARKETING", time: now + 1),
                    UpdateBodies.templateQuality(name: "order_update", language: "fr", score: "YELLOW", time: now + 1),
                ]
                for body in bodies { try await post(body, port: port) }

                // Applying may run behind the acknowledgement: wait for the last row to show.
                let rows = try await waitFor("the export to show every update") {
                    let rows = try await exported(environment)
                    let done = rows.contains { $0["id"] as? String == "wamid.u1" }
                        && (rows.first?["contact"] as? [String: Any])?["marketing_opt_out"] as? Bool == true
                        && rows.contains { ($0["call"] as? [String: Any])?["status"] as? String == "answered" }
                    return (done ? rows : nil, "\(rows)")
                }
                let byID = Dictionary(rows.map { ($0["id"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
                #expect(rows.map { $0["id"] as? String } == ["wamid.o1", "wamid.o2", "wacid.c1", "wamid.u1"])
                let edited = try #require(byID["wamid.o1"])
                #expect(edited["text"] as? String == "Mon colis 4472 est arrivé, merci")
                #expect(edited["edited_at"] as? Int == Int(now - 240))
                #expect((edited["edits"] as? [[String: Any]])?.map { $0["text"] as? String } == ["Mon colis 4471 est perdu"])
                let deleted = try #require(byID["wamid.o2"])
                #expect(deleted["deleted_at"] as? Int == Int(now - 200))
                #expect(deleted["text"] is NSNull)
                let call = try #require(byID["wacid.c1"]?["call"] as? [String: Any])
                #expect(byID["wacid.c1"]?["type"] as? String == "call")
                #expect(call["id"] as? String == "wacid.c1")
                #expect(call["direction"] as? String == "in")
                #expect(call["duration"] as? Int == 65)
                #expect((byID["wamid.u1"]?["error"] as? [String: Any])?["title"] as? String
                    == "wabox could not read this message: the interactive message has no interactive object")
                #expect(serve.isRunning)

                // The template cache, as `wabox templates` lists it.
                let listed = try await wabox(["templates", "--db", databasePath, "--format", "jsonl"], environment: environment)
                let templates = try listed.stdout.split(separator: "\n").map {
                    try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
                }
                let sale = try #require(templates.first { $0["name"] as? String == "spring_sale" })
                #expect(sale["status"] as? String == "REJECTED")
                #expect(sale["reason"] as? String == "INVALID_FORMAT")
                #expect(sale["offered"] as? Bool == false)
                #expect(sale["refreshed_at"] as? Int != nil)
                let order = try #require(templates.first { $0["name"] as? String == "order_update" })
                #expect(order["quality"] as? String == "YELLOW")
                #expect(order["offered"] as? Bool == true)
                let table = try await wabox(["templates", "--db", databasePath], environment: environment)
                #expect(table.status == 0, "\(table.stderr)")
                #expect(table.stdout.contains("spring_sale"))
                #expect(table.stdout.contains("REJECTED"))
                #expect(table.stdout.contains("refreshed "))

                // doctor names the alert and what stops working.
                let doctor = try await wabox(["doctor", "--db", databasePath], environment: environment)
                let accountLine = doctor.stdout.split(separator: "\n").first { $0.dropFirst(2).hasPrefix("account ") }
                #expect(accountLine?.hasPrefix("!") == true, "\(doctor.stdout)")
                #expect(accountLine?.contains("Meta restricted the account until") == true, "\(doctor.stdout)")
                #expect(accountLine?.contains("templates and any message the business starts will fail") == true)

                // An agent's screen, attached to serve (no token of its own: templates come from the cache).
                let command = """
                    env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
                    XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state" \
                    "\(try waboxBinary())" --no-listener --agent alice --db "\(databasePath)"; \
                    echo "wabox exited with $?"; sleep 30
                    """
                try scope.tmux(socket: socket).newSession("agent", width: 120, height: 30, command: command)
                try await waitForScreen("the alert on the status bar") { $0.contains("Meta restricted the account") }
                try await press("Enter")
                let thread = try await waitForScreen("the thread") {
                    $0.contains("Mon colis 4472 est arrivé") && $0.contains("call from Amélie Laurent")
                }
                #expect(thread.contains("· edited"), "\(thread)")
                #expect(thread.contains("deleted by the customer at"), "\(thread)")
                #expect(!thread.contains("secret"), "\(thread)")
                #expect(thread.contains("call from Amélie Laurent, answered, 1m 05s"), "\(thread)")
                #expect(thread.contains("a message wabox could not read (interactive)"), "\(thread)")
                try await press("C-t")
                let picker = try await waitForScreen("the template picker") { $0.contains("order_update (fr)") }
                #expect(!picker.contains("spring_sale"), "\(picker)")
                #expect(!picker.contains("loyalty_offer"), "\(picker)")
                #expect(picker.contains("order_update (fr) YELLOW"), "\(picker)")
                #expect(picker.contains("1 marketing template hidden: Amélie Laurent asked"), "\(picker)")
                try await press("Escape")
                try await press("q")
                await serve.stop()
            }
        }
    }
}
