import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// The agent's workbench with the real binaries: `wabox serve` sends through the fake Cloud
/// API; Alice and Bob run `wabox` in tmux on a private socket against the same database.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RepliesNotesLabelsEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]
    let socket = "wabox-bench-\(UUID().uuidString.prefix(8))"
    let accessToken = "e2e-workbench-token-5b2c"

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-workbench")
    }

    private func tmux(_ arguments: String...) throws -> CommandResult {
        try runCommand("/usr/bin/tmux", ["-L", socket] + arguments)
    }

    private func screen(_ agent: String) throws -> String { try tmux("capture-pane", "-p", "-t", agent).stdout }

    /// The list pane of an agent's screen (37 columns at 100).
    private func list(_ agent: String) throws -> String {
        try screen(agent).components(separatedBy: "\n").map { String($0.prefix(37)) }.joined(separator: "\n")
    }

    @discardableResult
    private func waitFor(_ agent: String, _ what: String, timeout: Double = 15,
                         _ read: ((String) throws -> String)? = nil, _ condition: (String) -> Bool) async throws -> String {
        var last = ""
        let found = try await waitUntil(timeout: timeout) {
            last = try read.map { try $0(agent) } ?? screen(agent)
            return condition(last)
        }
        try #require(found, "waited for \(what) on \(agent)'s screen; it was:\n\(last)")
        return last
    }

    private func keys(_ agent: String, _ keys: String...) throws {
        _ = try tmux(["send-keys", "-t", agent] + keys)
    }

    private func type(_ agent: String, _ text: String) throws {
        _ = try tmux("send-keys", "-t", agent, "-l", text)
    }

    private func tmux(_ arguments: [String]) throws -> CommandResult {
        try runCommand("/usr/bin/tmux", ["-L", socket] + arguments)
    }

    private func startAgent(_ name: String, in scope: ProcessScope) throws {
        let command = """
            env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
            XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state-\(name)" \
            "\(try waboxBinary())" --agent \(name) --db "\(databasePath)"; echo "wabox exited with $?"; sleep 30
            """
        try scope.tmux(socket: socket).newSession(name, width: 100, height: 30, command: command)
    }

    @Test func cannedReplyNoteLabelAndFilterAcrossTwoScreens() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await withProcesses { scope in
            try await fake.withRunning { graphURL in
                var serveEnvironment = environment
                serveEnvironment["WABOX_ACCESS_TOKEN"] = accessToken
                serveEnvironment["WABOX_PHONE_NUMBER_ID"] = "106540352242922"
                serveEnvironment["WABOX_GRAPH_URL"] = graphURL
                let (serve, port) = try await startServe(in: scope, environment: serveEnvironment)
                let builder = WebhookBuilder()
                let ana = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
                #expect(try postSigned(builder.message(from: ana, .text("Oi! Meu pedido?")), port: port, via: directory) == "200")
                try startAgent("alice", in: scope)
                try startAgent("bob", in: scope)
                for agent in ["alice", "bob"] {
                    try await waitFor(agent, "the attached screen with Ana") { $0.contains("via wabox serve") && $0.contains("Ana Lima") }
                }

                // A team reply added from the shell while both screens run.
                let added = try runCommand(try waboxBinary(), ["replies", "add", "hello", "Olá {{name}}, aqui é {{agent}}."],
                                           environment: environment.merging(["WABOX_DB": databasePath]) { $1 })
                #expect(added.status == 0, "\(added.stderr)")
                #expect(added.stdout.contains("added /hello"))
                let listed = try runCommand(try waboxBinary(), ["replies", "list", "--db", databasePath], environment: environment)
                #expect(listed.stdout == "/hello\tOlá {{name}}, aqui é {{agent}}.\n", "\(listed.stderr)")

                // Alice expands it with Tab, edits it, sends it: the customer's name is filled in.
                try keys("alice", "Enter")
                try await waitFor("alice", "the compose line") { !$0.contains("Enter to write a reply") }
                try type("alice", "/hello")
                try keys("alice", "Tab")
                try await waitFor("alice", "the expanded reply") { $0.contains("› Olá Ana Lima, aqui é alice.") }
                try type("alice", " Já vejo!")
                try keys("alice", "Enter")
                let bodies = { fake.messageRequests.map { String(decoding: $0.body, as: UTF8.self) } }
                #expect(try await waitUntil(timeout: 15) { bodies().contains { $0.contains("Olá Ana Lima, aqui é alice. Já vejo!") } },
                        "the reply never reached the fake Cloud API: \(bodies())\n\(serve.log)")

                // A note: Bob's screen shows it, the Cloud API never hears of it. Both screens run
                // as the test's account (--agent names only what is shown beside it).
                let account = InboxDatabase.sessionAccount()
                try keys("alice", "Escape")
                try keys("alice", "n")
                try await waitFor("alice", "the note prompt") { $0.contains("note on Ana Lima") }
                try type("alice", "prometi reembolso")
                try keys("alice", "Enter")
                try await waitFor("bob", "Alice's note") { $0.contains("✎ note · \(account)") && $0.contains("prometi reembolso") }
                #expect(!bodies().contains { $0.contains("reembolso") }, "a note reached the Cloud API: \(bodies())")

                // A label, and a second customer: ~l vip shows only Ana, on Bob's screen too.
                try keys("alice", "L")
                try await waitFor("alice", "the label prompt") { $0.contains("label for Ana Lima") }
                try type("alice", "vip")
                try keys("alice", "Enter")
                try await waitFor("bob", "the label on Ana's row", list) { $0.contains("#vip") }
                let ben = SimulatedCustomer(name: "Ben Okafor", waID: "2348031234567")
                #expect(try postSigned(builder.message(from: ben, .text("Hello?")), port: port, via: directory) == "200")
                try await waitFor("bob", "Ben", list) { $0.contains("Ben Okafor") }
                try keys("bob", "/")
                try type("bob", "~l vip")
                try await waitFor("bob", "the label filter", list) { $0.contains("Ana Lima") && !$0.contains("Ben Okafor") }
                #expect(try screen("bob").contains("/~l vip [labelled vip]"))
                try keys("bob", "Escape")
                try await waitFor("bob", "the whole list", list) { $0.contains("Ana Lima") && $0.contains("Ben Okafor") }

                // ~u: Alice has read Ana, not Ben; a broken term says what is wrong.
                try keys("alice", "/")
                try type("alice", "~u")
                try await waitFor("alice", "the unread filter", list) { $0.contains("Ben Okafor") && !$0.contains("Ana Lima") }
                try type("alice", " ~q")
                try await waitFor("alice", "the broken term", list) { $0.contains("~q is not a filter term") }
                try keys("alice", "Escape")

                // The export has the note and the label.
                let exported = try runCommand(try waboxBinary(), ["export", "--db", databasePath, "--contact", "5511987654321"],
                                              environment: environment)
                let records = try exported.stdout.split(separator: "\n").map {
                    try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
                }
                let note = try #require(records.first { $0["direction"] as? String == "note" })
                #expect(note["type"] as? String == "note")
                #expect(note["text"] as? String == "prometi reembolso")
                #expect(note["agent"] as? String == account)
                #expect(records.first { $0["direction"] as? String == "out" }?["agent"] as? String == account)
                #expect(records.allSatisfy { $0["labels"] as? [String] == ["vip"] })

                for agent in ["alice", "bob"] {
                    try keys(agent, "q")
                    try await waitFor(agent, "wabox to exit") { $0.contains("wabox exited with 0") }
                }
                #expect(await serve.stop() == 0)
            }
        }
    }
}
