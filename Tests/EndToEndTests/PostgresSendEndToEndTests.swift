import Foundation
import InboxCore
import InboxTesting
import Logging
import PostgresNIO
import PostgresStore
import Simulator
import Testing

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Sending on PostgreSQL (issue 19), the real binaries against the fake Cloud API: three
/// `wabox serve` share one outbox and each reply goes out once, even when one of them is
/// killed while they send; `wabox send --db postgres://…` sends from a script beside them.
@Suite(.postgresServer, .serialized, .timeLimit(.minutes(10)))
struct PostgresSendEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]
    let accessToken = "pg-e2e-access-token-51c2"

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-pgsend")
    }

    private func sendingEnvironment(graphURL: String) -> [String: String] {
        environment.merging([
            "WABOX_ACCESS_TOKEN": accessToken,
            "WABOX_PHONE_NUMBER_ID": "106540352242922",
            "WABOX_GRAPH_URL": graphURL,
        ]) { $1 }
    }

    /// The text of each send request the fake received (`text.body`).
    private func sentTexts(_ fake: FakeCloudAPI) -> [String] {
        fake.messageRequests.compactMap { request in
            guard let object = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any],
                  object["type"] as? String == "text" else { return nil }
            return (object["text"] as? [String: Any])?["body"] as? String
        }
    }

    /// Outbound messages by state: accepted (with a wamid), uncertain, still waiting.
    private func outboundStates(_ store: PostgresStore) async throws -> (accepted: Int, uncertain: Int, waiting: Int) {
        var states = (accepted: 0, uncertain: 0, waiting: 0)
        for try await (wamid, status) in try await store.client.query("""
            SELECT wamid, status FROM message WHERE direction = 'out'
            """, logger: quiet).decode((String?, String).self) {
            if wamid != nil { states.accepted += 1 } else if status == "uncertain" { states.uncertain += 1 } else { states.waiting += 1 }
        }
        return states
    }

    @Test func threeListenersSendEveryReplyOnceThoughOneIsKilledWhileSending() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let location = server.location(database: database)
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { graphURL in
            let environment = sendingEnvironment(graphURL: graphURL)
            try await withProcesses { scope in
                var listeners: [BackgroundProcess] = []
                for _ in 0..<3 {
                    let (serve, _) = try await startServe(in: scope, database: server.url(database: database),
                                                          environment: environment)
                    #expect(serve.log.contains("outbox sender on"), "\(serve.log)")
                    listeners.append(serve)
                }
                // Agents' replies land in the one outbox, forty of them to eight customers.
                let replies = (0..<40).map { "reply \($0) to customer \($0 % 8)" }
                try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { store in
                    for (index, text) in replies.enumerated() {
                        let conversation = try await store.conversationForSending(
                            to: "3361200000\(index % 8)", on: PhoneNumberID("106540352242922"), at: 1_764_400_000)
                        try await store.enqueueOutbound(in: conversation, content: .text(body: text),
                                                        localID: "agent-\(index)", at: 1_764_400_000 + Int64(index),
                                                        agent: "amelie")
                    }
                }
                // One listener dies with SIGKILL once the sending is under way.
                #expect(try await waitUntil(timeout: 120) { sentTexts(fake).count >= 8 })
                listeners[0].send(SIGKILL)
                // A script sends beside the two that are left.
                let sent = try await blockingWork { [environment] in
                    try runCommand(try waboxBinary(), ["send", "--db", server.url(database: database), "--to", "+33612999999",
                                                       "--text", "sent from a script"], environment: environment)
                }
                #expect(sent.status == 0, "\(sent.stderr)")
                #expect(sent.stdout.hasPrefix("wamid."), "\(sent.stdout)")
                let settled = try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { store in
                    let deadline = ContinuousClock.now + .seconds(120)
                    var states = try await outboundStates(store)
                    while states.waiting > 0, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(100))
                        states = try await outboundStates(store)
                    }
                    return states
                }
                let texts = sentTexts(fake)
                #expect(texts.count == Set(texts).count, "a reply was sent twice: \(texts.sorted())")
                #expect(Set(texts).isSuperset(of: ["sent from a script"]))
                #expect(settled.waiting == 0, "replies never sent: \(settled)")
                // At most the one the killed listener had in flight is uncertain (never resent);
                // every other reply was accepted, once.
                #expect(settled.uncertain <= 1, "\(settled)")
                #expect(settled.accepted + settled.uncertain == replies.count + 1, "\(settled)")
                #expect(texts.count >= settled.accepted && texts.count <= settled.accepted + settled.uncertain,
                        "\(texts.count) requests for \(settled)")
                for survivor in listeners.dropFirst() {
                    #expect(survivor.isRunning)
                    #expect(await survivor.stop() == 0)
                    #expect(!survivor.log.contains(accessToken))
                    #expect(!survivor.log.contains(server.password))
                }
            }
        }
    }

    @Test func aScriptSendsAFileThroughPostgreSQL() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let file = directory.appendingPathComponent("etiquette-retour.pdf")
        let bytes = Data("%PDF-1.4 étiquette de retour 7781\n%%EOF\n".utf8)
        try bytes.write(to: file)
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { graphURL in
            var sending = sendingEnvironment(graphURL: graphURL)
            sending["WABOX_MEDIA_DIR"] = directory.appendingPathComponent("media").path
            let result = try await blockingWork { [sending] in
                try runCommand(try waboxBinary(), ["send", "--db", server.url(database: database), "--to", "33612345678",
                                                   "--file", file.path, "--caption", "Votre étiquette"],
                               environment: sending)
            }
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("wamid."), "\(result.stdout)")
            #expect(!result.stderr.contains(server.password))
            let uploads = fake.requests.filter { $0.method == "POST" && $0.path.hasSuffix("/106540352242922/media") }
            #expect(uploads.count == 1 && uploads.first?.body.range(of: bytes) != nil, "the upload does not carry the file")
            let send = try #require(fake.messageRequests.first)
            let body = try #require(try JSONSerialization.jsonObject(with: send.body) as? [String: Any])
            let document = try #require(body["document"] as? [String: Any], "\(body)")
            #expect(document["caption"] as? String == "Votre étiquette")
            #expect(document["filename"] as? String == "etiquette-retour.pdf")
        }
        // The bytes stay in the database, for a sender on any host to upload again.
        try await PostgresStore.withStore(server.location(database: database), logger: quiet, maximumConnections: 1) { store in
            let kept = try await store.mediaFile(contentHash: MediaDigest.hex(of: bytes))
            #expect(kept == bytes)
        }
    }
}

extension PostgresSendEndToEndTests {
    @Test func doctorAndExportReadAPostgreSQLInbox() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let url = server.url(database: database)
        let doctor: @Sendable () async throws -> CommandResult = { [environment] in
            try await blockingWork { try runCommand(try waboxBinary(), ["doctor", "--db", url], environment: environment) }
        }
        // A database no wabox serve has started on: said, and left without a schema.
        let empty = try await doctor()
        #expect(empty.stdout.contains("holds no wabox schema yet"), "\(empty.stdout)")
        #expect(!empty.stdout.contains(server.password) && !empty.stderr.contains(server.password))
        let tables = try await PostgresStore.reading(server.location(database: database), logger: quiet) { store in
            try await store.client.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", logger: quiet)
                .collect().first?.decode(Int.self) ?? -1
        }
        #expect(tables == 0, "doctor created tables")
        try await withProcesses { scope in
            // A listener without a token: it applies, nobody sends.
            let (serve, port) = try await startServe(in: scope, database: url)
            try await PostgresStore.withStore(server.location(database: database), logger: quiet, maximumConnections: 2) { store in
                let conversation = try await store.conversationForSending(to: "33612345678", on: PhoneNumberID("106540352242922"),
                                                                          at: 1_764_400_000)
                try await store.enqueueOutbound(in: conversation, content: .text(body: "waits for a sender"), localID: "doc-1",
                                                at: 1_764_400_000, agent: "amelie")
            }
            var report = try await doctor()
            _ = try await waitUntilAsync(timeout: 60) {
                report = try await doctor()
                return report.stdout.contains("applied by serve")
            }
            #expect(report.stdout.contains("schema v\(PostgresStore.latestSchemaVersion) (current)"), "\(report.stdout)")
            #expect(report.stdout.contains("applied by serve (pid \(serve.pid)"), "\(report.stdout)")
            #expect(report.stdout.contains("database role \(server.user)"), "\(report.stdout)")
            #expect(report.stdout.contains("1 message(s) wait and no wabox serve sends"), "\(report.stdout)")
            #expect(report.status == 1, "an outbox nobody sends is a failure")
            #expect(!report.stdout.contains(server.password))
            // The export reads its writes: a webhook acknowledged just before is in it.
            let body = UpdateBodies.text(id: "wamid.doc.1", from: "33612345678", timestamp: 1_764_400_100, body: "C'est urgent")
            #expect(try postSigned(body, port: port, via: directory) == "200")
            let exported = try await blockingWork { [environment] in
                try runCommand(try waboxBinary(), ["export", "--db", url], environment: environment)
            }
            #expect(exported.status == 0, "\(exported.stderr)")
            let lines = exported.stdout.split(separator: "\n")
            #expect(lines.count == 2, "\(exported.stdout)")
            // Oldest first: the reply (written at …000) before the customer's message (…100).
            #expect(lines.first?.contains(#""id":"local:doc-1""#) == true && lines.first?.contains(#""agent":"amelie""#) == true)
            #expect(lines.last?.contains(#""id":"wamid.doc.1""#) == true && lines.last?.contains("C'est urgent") == true)
            #expect(await serve.stop() == 0)
        }
        // Nothing answers: one line in the words serve would use.
        let closed = try closedPort()
        let unreachable = try await blockingWork { [environment] in
            try runCommand(try waboxBinary(), ["doctor", "--db", "postgres://\(server.user):\(server.password)@127.0.0.1:\(closed)/\(database)?sslmode=disable"],
                           environment: environment)
        }
        #expect(unreachable.status == 1)
        #expect(unreachable.stdout.contains("nothing accepts connections at 127.0.0.1:\(closed)"), "\(unreachable.stdout)")
        #expect(!unreachable.stdout.contains(server.password))
    }
}

extension PostgresSendEndToEndTests {
    /// With WABOX_WABA_ID, one listener of the two fetches the approved templates for
    /// both, once a period, into the cache screens read.
    @Test func oneListenerOfTwoRefreshesTheTemplateCache() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.addTemplates([FakeCloudAPI.Template(id: "7001", name: "order_update", language: "fr",
                                                 body: "Votre commande {{1}} est en route")])
        try await fake.withRunning { graphURL in
            var environment = sendingEnvironment(graphURL: graphURL)
            environment["WABOX_WABA_ID"] = "102290129340398"  // the fake's account
            try await withProcesses { scope in
                let (first, _) = try await startServe(in: scope, database: server.url(database: database), environment: environment)
                let (second, _) = try await startServe(in: scope, database: server.url(database: database), environment: environment)
                let cached = try await PostgresStore.withStore(server.location(database: database), logger: quiet,
                                                               maximumConnections: 2) { store in
                    var cached: (fetchedAt: Int64, json: String)?
                    _ = try await waitUntilAsync(timeout: 60) {
                        cached = try await store.cachedTemplates()
                        return cached != nil
                    }
                    return cached
                }
                #expect(cached?.json.contains("order_update") == true, "\(String(describing: cached))")
                // Both asked for the turn at their start; one got it.
                let fetches = fake.requests.filter { $0.path.hasSuffix("/message_templates") }.count
                #expect(fetches == 1, "the templates were fetched \(fetches) times")
                // `wabox templates` lists the shared cache.
                let listed = try await blockingWork { [environment] in
                    try runCommand(try waboxBinary(), ["templates", "--db", server.url(database: database), "--format", "jsonl"],
                                   environment: environment)
                }
                #expect(listed.status == 0, "\(listed.stderr)")
                #expect(listed.stdout.contains("\"name\":\"order_update\"") && listed.stdout.contains("\"language\":\"fr\""),
                        "\(listed.stdout)")
                #expect(await first.stop() == 0)
                #expect(await second.stop() == 0)
            }
        }
    }
}

extension PostgresSendEndToEndTests {
    @Test func aBackupOfThePostgreSQLInboxRestoresIntoAnotherDatabase() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let url = server.url(database: database)
        let backup = directory.appendingPathComponent("inbox.pgdump").path
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope, database: url)
            let builder = WebhookBuilder()
            let customer = SimulatedCustomer(name: "Noor Haddad", waID: "971501234567")
            for index in 0..<3 {
                #expect(try postSigned(builder.message(from: customer, .text("backup \(index)"), id: "wamid.backup.\(index)"),
                                       port: port, via: directory) == "200")
            }
            try await PostgresStore.withStore(server.location(database: database), logger: quiet, maximumConnections: 1) { store in
                let applied = try await waitUntilApplied(store, wamids: 3)
                #expect(applied)
            }
            // Taken while the listener runs.
            let result = try await blockingWork { [environment] in
                try runCommand(try waboxBinary(), ["backup", "--db", url, "--to", backup], environment: environment)
            }
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("(3 messages when it started"), "\(result.stdout)")
            #expect(result.stdout.contains("pg_restore --no-owner"), "\(result.stdout)")
            #expect(!result.stdout.contains(server.password) && !result.stderr.contains(server.password))
            // Never over an existing file.
            let again = try await blockingWork { [environment] in
                try runCommand(try waboxBinary(), ["backup", "--db", url, "--to", backup], environment: environment)
            }
            #expect(again.status == 1 && again.stderr.contains("never overwrites"), "\(again.stderr)")
            #expect(await serve.stop() == 0)
        }
        // Restored with PostgreSQL's own tool into a fresh database: the same messages.
        let restored = try await server.createDatabase()
        let location = server.location(database: restored)
        var libpq = ProcessInfo.processInfo.environment
        libpq["PGPASSWORD"] = server.password
        let restore = try runCommand("/usr/bin/pg_restore", ["--no-owner", "--host=127.0.0.1", "--port=\(server.port)",
                                                             "--username=\(server.user)", "--dbname=\(restored)", backup],
                                     environment: libpq)
        #expect(restore.status == 0, "\(restore.stderr)")
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 1) { store in
            let texts = try await store.client.query("SELECT text FROM message ORDER BY timestamp, id", logger: quiet)
                .collect().map { try $0.decode(String.self) }
            #expect(texts == ["backup 0", "backup 1", "backup 2"])
        }
    }

    /// Waits until `wamids` messages of this test are applied.
    private func waitUntilApplied(_ store: PostgresStore, wamids: Int) async throws -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let count = try await store.client.query("SELECT count(*) FROM message WHERE wamid LIKE 'wamid.backup.%'",
                                                     logger: quiet).collect().first?.decode(Int.self) ?? 0
            if count == wamids { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

extension PostgresSendEndToEndTests {
    @Test func theJournalOfAPostgreSQLInboxListsShowsAndReplaysItsBodies() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let url = server.url(database: database)
        let journal: @Sendable ([String]) async throws -> CommandResult = { [environment] arguments in
            try await blockingWork { try runCommand(try waboxBinary(), ["journal"] + arguments + ["--db", url], environment: environment) }
        }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope, database: url)
            let builder = WebhookBuilder()
            let noor = SimulatedCustomer(name: "Noor Haddad", waID: "971501234567")
            let omar = SimulatedCustomer(name: "Omar Said", waID: "971509876543")
            #expect(try postSigned(builder.message(from: noor, .text("first"), id: "wamid.journal.1"), port: port,
                                   via: directory) == "200")
            #expect(try postSigned(builder.message(from: omar, .text("second"), id: "wamid.journal.2"), port: port,
                                   via: directory) == "200")
            // Signed, but no webhook wabox can read: kept as a dead letter.
            #expect(try postSigned(Data(#"{"object":"whatsapp_business_account","entry":"not a list"}"#.utf8), port: port,
                                   via: directory) == "200")
            let listed = try await eventually(timeout: 30) {
                ((try? await journal([]))?.stdout.components(separatedBy: "\n").filter { $0.contains("stored") }.count ?? 0) == 2
            }
            #expect(listed)
            let all = try await journal([])
            #expect(all.status == 0, "\(all.stderr)")
            let lines = all.stdout.components(separatedBy: "\n").filter { !$0.isEmpty }
            #expect(lines.first?.contains("RECEIVED") == true && lines.count == 4, "\(all.stdout)")
            #expect(lines.filter { $0.contains("dead-letter") }.count == 1, "\(all.stdout)")
            #expect(!all.stdout.contains(server.password) && !all.stderr.contains(server.password))
            // By contact, by outcome, as JSON lines.
            let noorOnly = try await journal(["--contact", "+971501234567", "--format", "jsonl"])
            let objects = noorOnly.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(objects.count == 1 && objects.first?["outcome"] as? String == "stored", "\(noorOnly.stdout)")
            let letters = try await journal(["--outcome", "dead-letter", "--format", "jsonl"])
            let letter = try #require(letters.stdout.split(separator: "\n").first.flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }, "\(letters.stdout) \(letters.stderr)")
            let id = try #require(letter["id"] as? Int)
            // One body, pretty-printed; and a body that never was.
            let shown = try await journal(["show", String(id)])
            #expect(shown.status == 0 && shown.stdout.contains("webhook #\(id)") && shown.stdout.contains("not a list"),
                    "\(shown.stdout) \(shown.stderr)")
            let missing = try await journal(["show", "999999"])
            #expect(missing.status == 1 && missing.stderr.contains("was ever journaled"), "\(missing.stderr)")
            // Replay beside the running listener: the body no release reads stays a dead letter.
            let replay: @Sendable ([String]) async throws -> CommandResult = { [environment] arguments in
                try await blockingWork {
                    try runCommand(try waboxBinary(), ["replay"] + arguments + ["--db", url], environment: environment)
                }
            }
            let replayed = try await replay(["--dead-letters"])
            #expect(replayed.status == 0 && replayed.stdout.contains("1 body replayed: 1 dead letter still unreadable"),
                    "\(replayed.stdout) \(replayed.stderr)")
            let notThere = try await replay(["--id", "999999"])
            #expect(notThere.status == 1 && notThere.stdout.contains("webhook #999999 is not in the journal"),
                    "\(notThere.stdout) \(notThere.stderr)")
            #expect(!replayed.stdout.contains(server.password) && !notThere.stderr.contains(server.password))
            #expect(await serve.stop() == 0)
        }
    }

    /// Polls `condition` until it holds or `timeout` seconds pass.
    private func eventually(timeout: Double, _ condition: () async -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return await condition()
    }
}
