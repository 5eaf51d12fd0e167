import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// `wabox journal` and `wabox replay` through the built binary, on a database an older
/// release left with dead letters, while `wabox serve` runs on it.
@Suite(.serialized, .timeLimit(.minutes(3))) struct WebhookLogEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-webhook-log")
    }

    private func wabox(_ arguments: [String]) throws -> CommandResult {
        try runCommand(try waboxBinary(), arguments + ["--db", databasePath],
                       environment: environment.merging(["TZ": "UTC"]) { $1 })
    }

    private func export() throws -> String {
        let result = try wabox(["export", "--format", "jsonl"])
        try #require(result.status == 0, "export failed: \(result.stderr)")
        return result.stdout
    }

    @Test func journalListsShowsAndReplayTurnsDeadLettersIntoMessagesOnce() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // What an older release that could not read polls left behind: a poll kept as a dead
        // letter, and a message without a sender that no release can read.
        let poll = pollBody("wamid.e2e.poll", question: "Which day?")
        let noSender = Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"106540352242922"},
              "messages":[{"id":"wamid.e2e.nosender","timestamp":"1764400003","type":"text","text":{"body":"who?"}}]}}]}]}
            """.utf8)
        let now = Int64(Date().timeIntervalSince1970)
        do {
            let older = try InboxDatabase(path: databasePath, configuration: .init(decoder: Releases.refusingPolls))
            _ = try older.ingestSync([IncomingWebhook(receivedAt: now - 7200, body: poll),
                                      IncomingWebhook(receivedAt: now - 3600, body: noSender)])
        }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let text = WebhookLoad.body(id: "wamid.e2e.text", from: "33622222222", text: "still there?")
            #expect(try postSigned(text, port: port, via: directory) == "200")

            // The log: newest last, aligned, what each body held.
            var listed = ""
            let applied = try await waitUntil(timeout: 30) {
                listed = try wabox(["journal"]).stdout
                return listed.split(separator: "\n").count == 4 && listed.contains("stored")
            }
            try #require(applied, "journal did not list the three bodies:\n\(listed)")
            let rows = listed.split(separator: "\n").map(String.init)
            #expect(rows[0].hasPrefix("ID  RECEIVED"), "\(listed)")
            // The outcome column starts at the same cell on every row; the events follow.
            let column = try #require(rows[0].range(of: "OUTCOME")).lowerBound.utf16Offset(in: rows[0])
            func outcomeAndEvents(_ row: String) -> String { String(row.dropFirst(column)) }
            // This release reads the poll (as a message of a type it does not know): the
            // log says so beside the dead letter the older one left.
            #expect(outcomeAndEvents(rows[1]) == "dead-letter  1 message · dead letter at entry[0].changes[0].value.messages[0]: poll messages are not supported", "\(listed)")
            #expect(outcomeAndEvents(rows[2]).hasPrefix("dead-letter  1 unreadable part · dead letter at entry[0].changes[0].value.messages[0]: message wamid.e2e.nosender names no sender"), "\(listed)")
            #expect(outcomeAndEvents(rows[3]) == "stored       1 message", "\(listed)")
            let ids = rows.dropFirst().map { Int64($0.split(separator: " ")[0])! }

            let jsonl = try wabox(["journal", "--outcome", "dead-letter", "--format", "jsonl", "--since", "1d"])
            #expect(jsonl.status == 0, "\(jsonl.stderr)")
            let objects = try jsonl.stdout.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            #expect(objects.map { $0["id"] as? Int } == [Int(ids[0]), Int(ids[1])])
            #expect(objects.map { $0["size"] as? Int } == [poll.count, noSender.count])
            #expect(try wabox(["journal", "--contact", "33622222222"]).stdout.split(separator: "\n").count == 3)
            #expect(try wabox(["journal", "--since", "90m"]).stdout.split(separator: "\n").count == 3)
            let badSince = try wabox(["journal", "--since", "soon"])
            #expect(badSince.status != 0 && badSince.stderr.contains("30d, 12h, 90m"), "\(badSince.stderr)")

            // One body, for a person and byte for byte.
            let shown = try wabox(["journal", "show", String(ids[0])])
            #expect(shown.stdout.hasPrefix("webhook #\(ids[0]) · received "), "\(shown.stdout)")
            #expect(shown.stdout.contains("\"type\": \"poll\",\n"), "\(shown.stdout)")
            #expect(shown.stdout.split(separator: "\n").count > 20, "\(shown.stdout)")
            let file = directory.appendingPathComponent("poll.json")
            #expect(try wabox(["journal", "show", String(ids[0]), "--raw", file.path]).status == 0)
            #expect(try Data(contentsOf: file) == poll)
            let again = try wabox(["journal", "show", String(ids[1]), "--raw", file.path])
            #expect(again.status != 0 && again.stderr.contains("--force"), "\(again.stderr)")
            #expect(try Data(contentsOf: file) == poll)
            #expect(try wabox(["journal", "show", String(ids[1]), "--raw", file.path, "--force"]).status == 0)
            #expect(try Data(contentsOf: file) == noSender)
            #expect(try wabox(["journal", "show", String(ids[0]), "--raw", "-"]).stdout == String(decoding: poll, as: UTF8.self))
            #expect(try wabox(["journal", "show", "999999"]).stderr.contains("no webhook #999999"))

            // This release reads polls (as a message of a type it does not know): the dead
            // letter becomes a message, while serve keeps running.
            let before = try export()
            #expect(!before.contains("wamid.e2e.poll"))
            let replay = try wabox(["replay", "--dead-letters"])
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout == "2 bodies replayed: 1 dead letter became a message, 1 dead letter still unreadable\n")
            let after = try export()
            let pollLine = try #require(after.split(separator: "\n").first { $0.contains("wamid.e2e.poll") })
            #expect(pollLine.contains(#""type":"poll""#), "\(pollLine)")
            #expect(after.split(separator: "\n").count == before.split(separator: "\n").count + 1)
            #expect(try wabox(["journal", "--outcome", "dead-letter"]).stdout.split(separator: "\n").count == 2)

            // Twice changes nothing; nor does replaying every body.
            let twice = try wabox(["replay", "--dead-letters"])
            #expect(twice.stdout == "2 bodies replayed: 1 dead letter still unreadable, 1 unchanged\n", "\(twice.stdout)")
            let everything = try wabox(["replay", "--since", "30d"])
            #expect(everything.stdout == "3 bodies replayed: 1 dead letter still unreadable, 2 unchanged\n", "\(everything.stdout)")
            #expect(try export() == after)
            let missing = try wabox(["replay", "--id", "999999"])
            #expect(missing.status != 0 && missing.stdout.contains("webhook #999999 is not in the journal"), "\(missing.stdout)")

            // The listener went on acknowledging and applying meanwhile.
            let late = WebhookLoad.body(id: "wamid.e2e.late", from: "33622222222", text: "after the replay")
            #expect(try postSigned(late, port: port, via: directory) == "200")
            #expect(try export().contains("wamid.e2e.late"))
            #expect(await serve.stop() == 0, "\(serve.log)")
        }
    }

    /// A long replay shares SQLite's write lock with `serve`: a webhook posted while it runs
    /// is acknowledged before it ends. (Without rests between its transactions, one waited
    /// 15 s in the busy handler, measured.)
    @Test func serveKeepsAcknowledgingWhileALongReplayRuns() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let now = Int64(Date().timeIntervalSince1970)
        let path = databasePath
        try await blockingWork {
            let store = try InboxDatabase(path: path, configuration: .init(indexesSearch: false))
            for chunk in 0..<8 {
                _ = try store.ingestSync((0..<1000).map {
                    IncomingWebhook(receivedAt: now - 600, body: pollBody("wamid.long.\(chunk).\($0)", from: "4470\($0 % 100)"))
                })
            }
        }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let replay = try scope.start(try waboxBinary(), ["replay", "--since", "1h", "--db", databasePath],
                                         environment: environment, logFile: directory.appendingPathComponent("replay.log"))
            // Its first progress line: well into the replay, with more to come.
            let running = try await replay.waitForLog(#"wabox: replayed (\d+) of 8000"#, timeout: 60)
            try #require(running != nil, "no progress from the replay:\n\(replay.log)")
            let late = WebhookLoad.body(id: "wamid.long.late", from: "33622222222", text: "during the replay")
            #expect(try postSigned(late, port: port, via: directory) == "200")
            #expect(replay.isRunning, "the webhook was acknowledged only once the replay had ended:\n\(replay.log)")
            let ended = try await waitUntil(timeout: 120) { !replay.isRunning }
            try #require(ended, "the replay did not end:\n\(replay.log)")
            #expect(replay.terminationStatus == 0)
            #expect(replay.log.contains("8000 bodies replayed: 8000 unchanged"), "\(replay.log)")
            #expect(!serve.log.contains("database is locked"), "\(serve.log)")
            #expect(try export().contains("wamid.long.late"))
            #expect(await serve.stop() == 0)
        }
    }
}
