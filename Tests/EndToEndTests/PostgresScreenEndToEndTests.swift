import Foundation
import InboxCore
import InboxTesting
import Logging
import PostgresNIO
import PostgresStore
import Simulator
import Testing

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// The whole of issue 19 at once, with the real binaries: two `wabox serve` and two
/// agents' screens (in tmux) on one PostgreSQL. Webhooks stream into both listeners while
/// one is killed; nothing either acknowledged is lost, both screens show the new
/// customer, and a reply typed on one screen goes out exactly once, from whichever
/// listener's sender takes it, with its ticks on both screens.
@Suite(.postgresServer, .serialized, .timeLimit(.minutes(10)))
struct PostgresScreenEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]
    let accessToken = "pg-screen-access-token-77a1"
    let socket = "wabox-pgscreen-\(UUID().uuidString.prefix(8))"

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-pgscreen")
    }

    @discardableResult
    private func waitForScreen(_ agent: String, _ what: String, timeout: Double = 30,
                               _ condition: (String) -> Bool) async throws -> String {
        try await TmuxPane(socket: socket, target: agent).waitForScreen(what, timeout: timeout, condition)
    }

    private func tmux(_ arguments: String...) throws {
        _ = try runCommand("/usr/bin/tmux", ["-L", socket] + arguments)
    }

    /// The text of each send request the fake received (`text.body`).
    private func sentTexts(_ fake: FakeCloudAPI) -> [String] {
        fake.messageRequests.compactMap { request in
            guard let object = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any],
                  object["type"] as? String == "text" else { return nil }
            return (object["text"] as? [String: Any])?["body"] as? String
        }
    }

    @Test func twoListenersAndTwoScreensOnOneDatabaseLoseNothingAndSendOnce() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let url = server.url(database: database)
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { graphURL in
            var sending = environment
            sending["WABOX_ACCESS_TOKEN"] = accessToken
            sending["WABOX_PHONE_NUMBER_ID"] = "106540352242922"
            sending["WABOX_GRAPH_URL"] = graphURL
            try await withProcesses { scope in
                let (first, firstPort) = try await startServe(in: scope, database: url, environment: sending)
                let (second, secondPort) = try await startServe(in: scope, database: url, environment: sending)
                let builder = WebhookBuilder()
                let earlier = SimulatedCustomer(name: "Kofi Mensah", waID: "233241234567")
                #expect(try postSigned(builder.message(from: earlier, .text("Hello?")), port: firstPort, via: directory) == "200")

                // Two agents on other "hosts": screens with no listener, on the database alone.
                for agent in ["alice", "bob"] {
                    let command = """
                        env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
                        XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state-\(agent)" \
                        "\(try waboxBinary())" --agent \(agent) --db "\(url)"; echo "wabox exited with $?"; sleep 30
                        """
                    try scope.tmux(socket: socket).newSession(agent, width: 110, height: 24, command: command)
                }
                for agent in ["alice", "bob"] {
                    let shown = try await waitForScreen(agent, "\(agent)'s screen on the shared inbox") {
                        $0.contains("shared inbox") && $0.contains("Kofi Mensah")
                    }
                    #expect(!shown.contains(server.password), "the password shows:\n\(shown)")
                }

                // Webhooks stream into both listeners; the first is killed with SIGKILL halfway.
                let customers = (0..<40).map { SimulatedCustomer(name: "Load \($0)", waID: "4479000\(String(format: "%05d", $0))") }
                var acknowledged: [String] = []
                for (index, customer) in customers.enumerated() {
                    if index == 20 { first.send(SIGKILL) }
                    let wamid = "wamid.pgscreen.load.\(index)"
                    let port = index < 20 && index % 2 == 0 ? firstPort : secondPort
                    let status = try postSigned(builder.message(from: customer, .text("load \(index)"), id: wamid), port: port,
                                                via: directory)
                    if status == "200" { acknowledged.append(wamid) }
                    if index >= 20 { #expect(status == "200", "the surviving listener answered \(status)") }
                }
                // The new customer, through the listener that is left: on both screens.
                let customer = SimulatedCustomer(name: "Inês Araújo", waID: "351912345678")
                #expect(try postSigned(builder.message(from: customer, .text("Olá, a minha encomenda?")), port: secondPort,
                                       via: directory) == "200")
                for agent in ["alice", "bob"] {
                    try await waitForScreen(agent, "the new customer on \(agent)'s screen") {
                        $0.contains("Inês Araújo") && $0.contains("Olá, a minha encomenda")
                    }
                }
                // Nothing acknowledged is lost: every one of them is a message in the database.
                let acknowledgedWamids = acknowledged
                try await PostgresStore.withStore(server.location(database: database), logger: quiet,
                                                  maximumConnections: 1) { store in
                    var stored = Set<String>()
                    for try await wamid in try await store.client.query(
                        "SELECT wamid FROM message WHERE wamid LIKE 'wamid.pgscreen.load.%'", logger: quiet).decode(String.self) {
                        stored.insert(wamid)
                    }
                    #expect(stored.isSuperset(of: acknowledgedWamids),
                            "lost: \(Set(acknowledgedWamids).subtracting(stored).sorted())")
                    #expect(acknowledgedWamids.count >= 20)
                }

                // Meta's status webhooks for what is sent go to the listener that is left.
                fake.postStatuses(.init(url: "http://127.0.0.1:\(secondPort)/webhook", appSecret: Fixtures.appSecret,
                                        statuses: [.sent, .delivered]))
                // Alice finds Inês's conversation, opens it and replies.
                try tmux("send-keys", "-t", "alice", "/")
                try tmux("send-keys", "-t", "alice", "-l", "ines")
                try tmux("send-keys", "-t", "alice", "Enter")
                try tmux("send-keys", "-t", "alice", "Enter")
                try await waitForScreen("alice", "the thread") { $0.contains("Olá, a minha encomenda") && $0.contains("Inês") }
                try tmux("send-keys", "-t", "alice", "-l", "Bom dia Inês, já vai a caminho")
                try tmux("send-keys", "-t", "alice", "Enter")
                let went = try await waitUntil(timeout: 60) { sentTexts(fake).contains("Bom dia Inês, já vai a caminho") }
                #expect(went, "the reply never reached the Cloud API:\n\(second.log)")
                // Bob opens it too and sees the reply delivered.
                try tmux("send-keys", "-t", "bob", "/")
                try tmux("send-keys", "-t", "bob", "-l", "ines")
                try tmux("send-keys", "-t", "bob", "Enter")
                try tmux("send-keys", "-t", "bob", "Enter")
                for agent in ["bob", "alice"] {
                    try await waitForScreen(agent, "the reply delivered on \(agent)'s screen") { screen in
                        // The thread's line under the reply: who sent it, when, and its ticks.
                        screen.contains("já vai a caminho")
                            && screen.components(separatedBy: "\n").contains { $0.contains(" · ") && $0.contains("✓✓") }
                    }
                }
                // Given time to go out twice, it went out once.
                try await Task.sleep(for: .seconds(2))
                #expect(sentTexts(fake).filter { $0 == "Bom dia Inês, já vai a caminho" }.count == 1)

                for agent in ["alice", "bob"] {
                    try tmux("send-keys", "-t", agent, "Escape")
                    try tmux("send-keys", "-t", agent, "q")
                    try await waitForScreen(agent, "\(agent)'s wabox to exit") { $0.contains("wabox exited with 0") }
                }
                #expect(second.isRunning)
                #expect(await second.stop() == 0)
                #expect(!second.log.contains(server.password))
            }
        }
    }

    @Test func teamRepliesAreKeptInTheSharedInbox() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let url = server.url(database: try await server.createDatabase())
        func replies(_ words: String...) async throws -> CommandResult {
            try await blockingWork { [environment] in
                try runCommand(try waboxBinary(), ["replies", "--db", url] + words, environment: environment)
            }
        }
        let added = try await replies("add", "thanks", "Thank you, {{name}}!")
        #expect(added.status == 0 && added.stdout.contains("added /thanks"), "\(added.stderr)")
        #expect(try await replies("add", "THANKS", "Merci").stdout.contains("replaced /THANKS"))
        let listed = try await replies("list")
        #expect(listed.stdout == "/thanks\tMerci\n", "\(listed.stdout)")
        #expect(try await replies("remove", "thanks").stdout.contains("removed /thanks"))
        let missing = try await replies("remove", "thanks")
        #expect(missing.status == 1 && missing.stderr.contains("no team reply is called thanks"), "\(missing.stderr)")
        #expect(!missing.stderr.contains(server.password))
        // `wabox audit` on the shared inbox: each change, by the database role.
        let audit = try await blockingWork { [environment] in
            try runCommand(try waboxBinary(), ["audit", "--db", url, "--format", "jsonl"], environment: environment)
        }
        #expect(audit.status == 0, "\(audit.stderr)")
        let actions = audit.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["action"] as? String
        }
        #expect(actions == ["reply_add", "reply_edit", "reply_remove"], "\(audit.stdout)")
        #expect(audit.stdout.contains("\"account\":\"\(server.user)\""), "\(audit.stdout)")
    }

    /// The database stops answering (its processes paused, as a network that drops packets
    /// does): the status bar says so, the screen keeps its list and its keys, and when the
    /// database answers again the screen catches up by itself.
    @Test func aScreenSaysWhenTheDatabaseIsUnreachableAndCatchesUp() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withPostgresServer { server in
            let url = server.url(database: try await server.createDatabase())
            try await withProcesses { scope in
                let (_, port) = try await startServe(in: scope, database: url)
                let builder = WebhookBuilder()
                let first = SimulatedCustomer(name: "Amara Okafor", waID: "2348012345678")
                #expect(try postSigned(builder.message(from: first, .text("Good morning")), port: port, via: directory) == "200")
                let command = """
                    env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
                    XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state" \
                    "\(try waboxBinary())" --db "\(url)"; echo "wabox exited with $?"; sleep 30
                    """
                try scope.tmux(socket: socket).newSession("agent", width: 110, height: 24, command: command)
                try await waitForScreen("agent", "the screen") { $0.contains("shared inbox") && $0.contains("Amara Okafor") }

                // Every process of the server paused: connections stay open and nothing answers.
                // (Each backend is a session of its own: the server and its children, by pid.)
                let paused = [server.processID] + childProcesses(of: server.processID)
                for pid in paused { kill(pid, SIGSTOP) }
                var resumed = false
                defer { if !resumed { for pid in paused { kill(pid, SIGCONT) } } }
                let down = try await waitForScreen("agent", "the status bar to say the database is unreachable") {
                    $0.contains("database unreachable")
                }
                #expect(down.contains("Amara Okafor"), "the list went:\n\(down)")
                // Keys still work: the filter line opens and closes at once.
                try tmux("send-keys", "-t", "agent", "/")
                try await waitForScreen("agent", "the filter line", timeout: 10) { $0.contains("/") && $0.contains("Amara Okafor") }
                try tmux("send-keys", "-t", "agent", "Escape")

                for pid in paused { kill(pid, SIGCONT) }
                resumed = true
                try await waitForScreen("agent", "the database back", timeout: 60) { !$0.contains("database unreachable") }
                let later = SimulatedCustomer(name: "Chidi Eze", waID: "2348098765432")
                #expect(try postSigned(builder.message(from: later, .text("Are you open?")), port: port, via: directory) == "200")
                try await waitForScreen("agent", "the next customer", timeout: 60) { $0.contains("Chidi Eze") }
                try tmux("send-keys", "-t", "agent", "q")
                try await waitForScreen("agent", "wabox to exit") { $0.contains("wabox exited with 0") }
            }
        }
    }
}

/// The processes whose parent is `parent` (from /proc).
private func childProcesses(of parent: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry in
        guard let pid = pid_t(entry),
              let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After "(comm)": state, then the parent's pid.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
    }
}
