import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// Signed webhooks posted by one curl, many at a time, each answer written to a log as
/// `CODE ID` (000 when no answer came).
struct WebhookLoad {
    let process: BackgroundProcess
    let ids: [String]

    /// A customer's text message with its own wamid.
    static func body(id: String, from waID: String, text: String) -> Data {
        Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
            "contacts":[{"profile":{"name":"Customer \(waID)"},"wa_id":"\(waID)"}],
            "messages":[{"from":"\(waID)","id":"\(id)","timestamp":"\(Int(Date().timeIntervalSince1970))","type":"text","text":{"body":"\(text)"}}]}}]}]}
            """.utf8)
    }

    /// Starts posting `count` webhooks (`texts(i)` as the i-th text), `parallel` at a time.
    static func start(in scope: ProcessScope, port: Int, folder: URL, run: String, count: Int, parallel: Int = 4,
                      texts: (Int) -> String = { "message \($0)" }) throws -> WebhookLoad {
        let bodies = folder.appendingPathComponent("load-\(run)")
        try FileManager.default.createDirectory(at: bodies, withIntermediateDirectories: true)
        var config = ""
        var ids: [String] = []
        for index in 0..<count {
            let id = "wamid.\(run).\(index)"
            let body = body(id: id, from: "4470000\(String(format: "%04d", index % 50))", text: texts(index))
            let file = bodies.appendingPathComponent("\(index).json")
            try body.write(to: file)
            let signature = WebhookSignature(appSecret: Fixtures.appSecret).header(for: body)
            if index > 0 { config += "next\n" }
            config += """
                url = "http://127.0.0.1:\(port)/webhook"
                header = "X-Hub-Signature-256: \(signature)"
                header = "Expect:"
                header = "Content-Type: application/json"
                data-binary = "@\(file.path)"
                output = "/dev/null"
                max-time = 30
                write-out = "%{http_code} \(id)\\n"

                """
            ids.append(id)
        }
        let configFile = bodies.appendingPathComponent("curl.config")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let process = try scope.start("/usr/bin/curl", ["-s", "--no-progress-meter", "--parallel", "--parallel-immediate",
                                                        "--parallel-max", String(parallel),
                                                        "--config", configFile.path],
                                      logFile: folder.appendingPathComponent("load-\(run).log"))
        return WebhookLoad(process: process, ids: ids)
    }

    /// Every answer so far, by webhook id.
    var answers: [String: String] {
        var answers: [String: String] = [:]
        for line in process.log.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[1].hasPrefix("wamid.") { answers[String(parts[1])] = String(parts[0]) }
        }
        return answers
    }

    var acknowledged: Set<String> { Set(answers.filter { $0.value == "200" }.keys) }

    /// Waits for curl to finish every transfer.
    func finish() async throws {
        let done = try await waitUntil(timeout: 120) { !process.isRunning }
        #expect(done, "curl still posting after two minutes")
        await process.stop()
    }
}

/// The durability promises, through the built binary: what `wabox serve` answered 200 is in
/// its journal, applied by the listener (after a restart, by its start-up catch-up), and in
/// `wabox export` after a signal, a kill -9, or a webhook of the batch that fails.
@Suite(.serialized, .timeLimit(.minutes(3))) struct DurabilityEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-durability")
    }

    private func exportedIDs(from path: String? = nil) throws -> Set<String> {
        let result = try runCommand(try waboxBinary(), ["export", "--db", path ?? databasePath, "--format", "jsonl"],
                                    environment: environment)
        try #require(result.status == 0, "export failed: \(result.stderr)")
        return Set(try result.stdout.split(separator: "\n").map { line in
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(record["id"] as? String)
        })
    }

    /// Loopback TCP connections from a client to `port` that are established.
    static func establishedConnections(toPort port: Int) -> Int {
        // Read to the end: a /proc file has no size, and a busy machine's table is long.
        let table = String(decoding: FileHandle(forReadingAtPath: "/proc/net/tcp")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        let remote = String(format: ":%04X", port)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[2].hasSuffix(remote) && fields[3] == "01"
        }.count
    }

    /// Waits until the listener on `port` has applied every journaled body.
    private func waitUntilApplied(port: Int) async throws {
        var health = ""
        let applied = try await waitUntil(timeout: 60) {
            health = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/healthz"]).stdout
            return health.contains(#""applier_lag":0"#)
        }
        #expect(applied, "the listener did not apply its journal: \(health)")
    }

    /// Takes the database's write lock while the load runs and waits until webhooks queue
    /// behind the journal commit it holds up: at that moment a batch is between its arrival
    /// and its commit, which is when an early 200 would be a lie.
    private func holdCommits(port: Int, in scope: ProcessScope) async throws -> DatabaseWriteLock {
        let lock = try DatabaseWriteLock(path: databasePath)
        var health = ""
        func queuedBehind() throws -> Bool {
            health = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/healthz"]).stdout
            return health.range(of: #""queue":[1-9]"#, options: .regularExpression) != nil
        }
        var queued = try await waitUntil(timeout: 3) { try queuedBehind() }
        if !queued {
            // The held batch may hold every request curl has in flight, and curl sends no more
            // until they are answered: one more webhook, from a process of its own, queues behind.
            let body = WebhookLoad.body(id: "wamid.behind-the-held-commit", from: "447000888888", text: "queued")
            _ = try scope.start("/usr/bin/curl", try signedPost(body, port: port, via: directory, maxTime: 120),
                                logFile: directory.appendingPathComponent("behind.log"))
            queued = try await waitUntil(timeout: 30) { try queuedBehind() }
        }
        if !queued { try lock.release() }
        try #require(queued, "no webhook queued behind the held commit: \(health)")
        return lock
    }

    @Test func durabilityFullIsParsedAndReachesSQLite() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (full, _) = try await startServe(in: scope, ["--durability", "full"])
            #expect(full.log.contains("durability full: PRAGMA synchronous = FULL"), "\(full.log)")
            #expect(await full.stop() == 0)
            let (normal, _) = try await startServe(in: scope)
            #expect(normal.log.contains("durability normal: PRAGMA synchronous = NORMAL"), "\(normal.log)")
            #expect(await normal.stop() == 0)
        }
        let wrong = try runCommand(try waboxBinary(), ["serve", "--db", databasePath, "--durability", "fsync"],
                                   environment: environment)
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("durability"), "\(wrong.stderr)")
    }

    /// SIGTERM or SIGINT while curl keeps 4 requests in flight (few, so that the suites
    /// running beside stay unhurried): each request has its 200 after the commit or no 200
    /// at all, and the server exits cleanly.
    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalWithRequestsInFlightLosesNoAcknowledgedWebhook(signal: Int32) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let load = try WebhookLoad.start(in: scope, port: port, folder: directory, run: "signal\(signal)", count: 2500)
            let underWay = try await waitUntil(timeout: 60) { load.acknowledged.count >= 150 || !load.process.isRunning }
            try #require(underWay && load.process.isRunning, "the load ended before the signal: \(load.answers.count) answers")
            // The signal comes while a batch waits for its commit, and the commit is let go
            // only once the listener has begun to shut down (it no longer takes connections):
            // a listener that acknowledged before committing, or stopped without waiting for
            // the commit, loses what it acknowledged.
            let lock = try await holdCommits(port: port, in: scope)
            serve.send(signal)
            let closing = try await waitUntil(timeout: 30) {
                try runCommand("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(port)/healthz"]).status == 7
            }
            try lock.release()
            #expect(closing, "the listener still took connections 30 s after the signal")
            #expect(await serve.stop(signal: signal, timeout: 30) == 0, "\(serve.log)")
            try await load.finish()
            let answers = load.answers
            let acknowledged = load.acknowledged
            #expect(answers.count == load.ids.count, "curl reported \(answers.count) of \(load.ids.count) transfers; unread lines: \(load.process.log.split(separator: "\n").filter { $0.split(separator: " ").count != 2 }.prefix(5))")
            #expect(acknowledged.count < load.ids.count, "every request was answered before the signal: none was in flight")
            let exported = try exportedIDs()
            let lost = acknowledged.subtracting(exported)
            #expect(lost.isEmpty, "\(lost.count) of \(acknowledged.count) acknowledged webhooks are not stored: \(lost.sorted().prefix(5))")
        }
    }

    /// `wabox backup` while curl keeps posting: the copy passes integrity_check, holds every
    /// webhook acknowledged before the backup began, and serves as an inbox of its own.
    @Test func aBackupUnderLoadHoldsEveryAcknowledgedWebhookAndServes() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appendingPathComponent("copy.sqlite").path
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let load = try WebhookLoad.start(in: scope, port: port, folder: directory, run: "backup", count: 2500)
            let underWay = try await waitUntil(timeout: 60) { load.acknowledged.count >= 200 || !load.process.isRunning }
            try #require(underWay && load.process.isRunning, "the load ended before the backup: \(load.answers.count) answers")
            let acknowledgedBefore = load.acknowledged
            let backup = try runCommand(try waboxBinary(), ["backup", "--db", databasePath, "--to", copy], environment: environment)
            let stillPosting = load.process.isRunning
            #expect(backup.status == 0, "backup failed: \(backup.stderr)")
            #expect(backup.stdout.contains("backed up") && backup.stdout.contains(copy), "\(backup.stdout)")
            #expect(stillPosting, "the load ended during the backup: it was not taken under load")
            // A second backup to the same path is refused, and the copy is untouched.
            let again = try runCommand(try waboxBinary(), ["backup", "--db", databasePath, "--to", copy], environment: environment)
            #expect(again.status != 0 && again.stderr.contains("already exists"), "\(again.stderr)")
            try await load.finish()
            #expect(await serve.stop() == 0)

            #expect(try InboxDatabase(path: copy).integrityCheck() == "ok")
            let inCopy = try exportedIDs(from: copy)
            let missing = acknowledgedBefore.subtracting(inCopy)
            #expect(missing.isEmpty, "\(missing.count) of \(acknowledgedBefore.count) webhooks acknowledged before the backup are not in it: \(missing.sorted().prefix(5))")
            // The copy is a working inbox: serve it, post to it, export what arrived.
            let (restored, restoredPort) = try await startServe(in: scope, database: copy)
            let answer = try postSigned(WebhookLoad.body(id: "wamid.after-restore", from: "447000999999", text: "after restore"),
                                        port: restoredPort, via: directory)
            #expect(answer == "200", "the restored copy answered \(answer)")
            #expect(await restored.stop() == 0)
            #expect(try exportedIDs(from: copy).contains("wamid.after-restore"))
        }
    }

    /// Two kill -9 under load on one database, each followed by a restart.
    @Test func twoKillsUnderLoadLoseNoAcknowledgedWebhook() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var acknowledged = Set<String>()
        try await withProcesses { scope in
            for round in 1...2 {
                let (serve, port) = try await startServe(in: scope)
                let load = try WebhookLoad.start(in: scope, port: port, folder: directory, run: "kill\(round)", count: 2500)
                let underWay = try await waitUntil(timeout: 60) { load.acknowledged.count >= 100 + 100 * round || !load.process.isRunning }
                try #require(underWay && load.process.isRunning, "round \(round): the load ended before the kill")
                // The kill comes while a batch waits for its commit.
                let lock = try await holdCommits(port: port, in: scope)
                #expect(await serve.stop(signal: SIGKILL) == 128 + SIGKILL)
                try lock.release()
                try await load.finish()
                let answered = load.acknowledged
                #expect(answered.count < load.ids.count, "round \(round): nothing was in flight at the kill")
                acknowledged.formUnion(answered)
            }
            // The database opens after the second crash, the listener applies what the
            // crashes left in the journal, and serves again.
            let (serve, port) = try await startServe(in: scope)
            try await waitUntilApplied(port: port)
            let store = try InboxDatabase(path: databasePath)
            let wamid = try Regex(#""id":"(wamid\.[^"]+)""#)
            let journaled = Set(try store.journalBodies().flatMap { body in
                String(decoding: body, as: UTF8.self).matches(of: wamid).compactMap { $0.output[1].substring.map(String.init) }
            })
            let notJournaled = acknowledged.subtracting(journaled)
            #expect(notJournaled.isEmpty, "\(notJournaled.count) acknowledged webhooks are not in the journal: \(notJournaled.sorted().prefix(5))")
            let notApplied = try acknowledged.filter { try store.message(MessageID($0)) == nil }
            #expect(notApplied.isEmpty, "\(notApplied.count) acknowledged webhooks not applied after the restart: \(notApplied.sorted().prefix(5))")
            #expect(await serve.stop() == 0)
        }
        let exported = try exportedIDs()
        let lost = acknowledged.subtracting(exported)
        #expect(lost.isEmpty, "\(lost.count) of \(acknowledged.count) acknowledged webhooks lost across kill -9: \(lost.sorted().prefix(5))")
        #expect(try InboxDatabase(path: databasePath).integrityCheck() == "ok")
    }

    /// Twenty webhooks wait behind a held write lock and are journaled together, then
    /// applied; one of them fails in SQLite while being applied. The applier's batch is
    /// redone with a savepoint per body: the others are stored, the failing one is kept as
    /// a dead letter, and every one was answered 200.
    @Test func aBatchWithAWebhookThatFailsToApplyStoresTheOthers() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let failing = "this one fails in SQLite"
        _ = try InboxDatabase(path: databasePath)
        try makeMessagesFail(withText: failing, inDatabaseAt: databasePath)
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let lock = try DatabaseWriteLock(path: databasePath)
            let load = try WebhookLoad.start(in: scope, port: port, folder: directory, run: "batch", count: 20, parallel: 20,
                                             texts: { $0 == 12 ? failing : "message \($0)" })
            // All twenty connections open and none answered: their webhooks wait for one commit.
            let waiting = try await waitUntil(timeout: 8) { Self.establishedConnections(toPort: port) >= 20 }
            let answeredEarly = load.answers.count
            try lock.release()
            #expect(waiting && answeredEarly == 0,
                    "the webhooks did not wait together behind the lock: \(Self.establishedConnections(toPort: port)) connections, \(answeredEarly) answered")
            try await load.finish()
            #expect(load.answers.values.allSatisfy { $0 == "200" } && load.answers.count == 20, "\(load.answers)")
            #expect(await serve.stop() == 0)
        }
        let exported = try exportedIDs()
        #expect(exported == Set((0..<20).filter { $0 != 12 }.map { "wamid.batch.\($0)" }), "\(exported.sorted())")
        let deadLetters = try InboxDatabase(path: databasePath).deadLetters()
        #expect(deadLetters.count == 1)
        #expect(deadLetters.first?.reason.contains("fails on purpose") == true, "\(deadLetters)")
    }
}
