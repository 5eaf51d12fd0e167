import Foundation
import InboxCore
import InboxServices
import InboxStore
import InboxTesting
import Logging
import PostgresNIO
import PostgresStore
import Testing

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// `wabox migrate` (issue 19): a SQLite inbox with every kind of row copied into a fresh
/// PostgreSQL database reads back the same there, takes new webhooks with new ids, and a
/// database that holds an inbox already is refused.
@Suite(.postgresServer, .serialized, .timeLimit(.minutes(10)))
struct MigrateEndToEndTests {
    static let now: Int64 = 1_764_500_000
    /// What COPY's text format must escape, in a message and in a note.
    static let escapes = "a tab\there, a new line\nthere, a backslash \\ and a return\r."
    static let legacy = UpdateBodies.text(id: "wamid.legacy.1", from: "33600000001", timestamp: now - 90_000, body: "from 2025")

    /// A SQLite inbox with a row in every table `wabox migrate` copies: the fixtures'
    /// bodies (statuses before their message, reactions, edits, revokes, calls, account and
    /// template updates, a changed number, dead letters, account errors), a text with a NUL,
    /// a body journaled by a release before the journal (table `webhook`), replies sent,
    /// queued, uncertain and as a template, two agents' claims, read marks, typing, notes,
    /// labels, canned replies (and the audit trail they leave), media and a transcript.
    static func makeInbox() async throws -> TemporaryDatabase {
        let temp = try TemporaryDatabase()
        let database = temp.database
        let sql = """
            INSERT INTO webhook (id, received_at, signature, body) VALUES (1, \(now - 90_000), 'sha256=legacy', X'\(legacy.hex)');
            INSERT INTO dead_letter (webhook_id, received_at, path, reason, raw)
                VALUES (1, \(now - 90_000), 'entry[0].changes[0]', 'an older release could not read it', '{}');
            UPDATE sqlite_sequence SET seq = 1 WHERE name = 'journal';
            UPDATE journal_mark SET applied_through = 1;
            """
        let inserted = try runCommand("/usr/bin/sqlite3", [temp.path, sql])
        try #require(inserted.status == 0, "sqlite3 failed: \(inserted.stderr)")

        var received = now - 80_000
        for fixture in ["text", "statuses", "reactions", "edits_revokes", "calls", "account_updates", "template_updates",
                        "changed_number", "context_referral", "escaped", "interactive", "location_contacts",
                        "malformed_batch", "media", "message_echoes", "multi_entry", "order", "other_fields",
                        "preferences", "unreadable", "unsupported_unknown", "username_only", "value_errors"] {
            received += 10
            _ = try await database.ingest(Fixtures.webhook(fixture, receivedAt: received))
        }
        _ = try await database.ingest([
            Fixtures.webhook(body: UpdateBodies.text(id: "wamid.nul.1", from: "33611111111", timestamp: now - 500,
                                                     body: "before\u{0}after"), receivedAt: now - 500),
            Fixtures.webhook(body: UpdateBodies.text(id: "wamid.escapes.1", from: "33611111111", timestamp: now - 450,
                                                     body: escapes), receivedAt: now - 450),
            Fixtures.webhook(body: UpdateBodies.text(id: "wamid.plain.1", from: "33622222222", name: "Bruno",
                                                     timestamp: now - 400, body: "hello"), receivedAt: now - 400),
            Fixtures.webhook(body: UpdateBodies.image(id: "wamid.image.1", from: "33622222222", name: "Bruno",
                                                      timestamp: now - 300, caption: "the receipt"), receivedAt: now - 300),
            // An edit and a deletion of messages not stored (yet): they wait, as statuses do.
            Fixtures.webhook(body: UpdateBodies.edit(id: "wamid.edit.9", of: "wamid.later.1", from: "33622222222",
                                                     timestamp: now - 200, body: "edited early"), receivedAt: now - 200),
            Fixtures.webhook(body: UpdateBodies.revoke(id: "wamid.revoke.9", of: "wamid.later.2", from: "33622222222",
                                                       timestamp: now - 100), receivedAt: now - 100),
        ])

        let conversation = try #require(try database.conversations(limit: 100).items
            .first { $0.contact.waID?.rawValue == "33611111111" }).id
        try database.registerAgent(at: now)
        _ = try await database.claim(conversation, at: now)
        try await database.markRead(conversation)
        try await database.noteTyping(in: conversation, until: (now + 3_600) * 1000)
        _ = try await database.addNote(to: conversation, text: "call back after 5pm\n" + escapes, at: now)
        _ = try await database.toggleLabel("VIP", on: conversation, at: now)
        _ = try await database.saveCannedReply(CannedReply(name: "hello", text: "Hello! How can we help?"), at: now)
        try await database.cacheTemplates(#"[{"name":"order_update","language":"en","status":"APPROVED"}]"#, at: now)
        let bob = try temp.open(as: "bob", displayName: "Bob")
        try bob.registerAgent(at: now + 1)
        try await bob.markRead(conversation)

        try await database.enqueueOutbound(in: conversation, content: .text(body: "accepted reply"), localID: "l-1", at: now + 2)
        try await database.markAccepted(localID: "l-1", wamid: "wamid.out.1", at: now + 3)
        try await database.enqueueOutbound(in: conversation, content: .text(body: "uncertain reply"), localID: "l-2", at: now + 4)
        _ = try await database.claimOutbound(localID: "l-2", nowMilliseconds: (now + 4) * 1000)
        try await database.markUncertain(localID: "l-2", reason: "the connection dropped mid-request")
        try await database.enqueueOutbound(in: conversation, content: .text(body: "queued reply"), localID: "l-3", at: now + 5)
        try await database.enqueueTemplate(in: conversation, template: TemplateMessage(name: "order_update", languageCode: "en"),
                                           localID: "t-1", at: now + 6)
        try await database.haltSending(code: 131_031, reason: "the account is restricted", at: now + 7)
        try await database.queueReadReceipt(for: "wamid.plain.1", from: PhoneNumberID(UpdateBodies.phoneNumberID), at: now * 1000)

        _ = try await database.queueNewMedia()
        let item = try #require(try await database.dueMedia(at: (now + 10) * 1000, limit: 10).first)
        // Kept in the media folder beside the file, as the downloader keeps it.
        let photo = Data("a photo of the receipt".utf8)
        let folder = temp.directory.appendingPathComponent("media")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let kept = folder.appendingPathComponent(MediaDigest.hex(of: photo))
        try photo.write(to: kept)
        try await database.markMediaReady(item.messageID, contentHash: MediaDigest.hex(of: photo), path: kept.path,
                                          fileSize: Int64(photo.count), mimeType: "image/jpeg")
        try await database.startTranscript(item.messageID, at: now * 1000)
        try await database.finishTranscript(item.messageID, .success("the receipt, read aloud"), at: now * 1000 + 5)
        return temp
    }

    /// Every table's rows in PostgreSQL, by name.
    private func counts(_ store: PostgresStore) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in PostgresStore.importedTableNames {
            for try await count in try await store.client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"),
                                                                 logger: quiet).decode(Int.self) {
                counts[table] = count
            }
        }
        return counts
    }

    @Test func anInboxWithEveryKindOfRowReadsBackTheSameOnPostgreSQL() async throws {
        let temp = try await Self.makeInbox()
        defer { temp.remove() }
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())

        let report = try await InboxMigration.run(from: temp.path, to: location, logger: quiet)

        // (a) Every table copied, every count the same, and none of them empty: the inbox
        // above has every kind of row.
        let tables = report.counts.tables
        #expect(Set(tables.map(\.name)) == Set(PostgresStore.importedTableNames))
        for table in tables {
            #expect(table.matches, "\(table.name): \(table.source) in SQLite, \(table.target) in PostgreSQL")
            #expect(table.source > 0, "the test inbox has no row in \(table.name)")
        }
        let journal = try #require(tables.first { $0.name == "journal" })
        let sqliteJournal = try await temp.database.rowSource().count(of: "journal")
        #expect(journal.source == sqliteJournal + 1, "the journal's count is table journal's plus table webhook's")

        try await PostgresStore.withStore(location, logger: quiet) { store in
            // The counts were read in PostgreSQL, not copied from the report.
            let stored = try await counts(store)
            for table in tables { #expect(stored[table.name] == table.source, "\(table.name)") }

            // (b) The inbox reads back the same through the stores' common read-back.
            let sqliteSnapshot = try await temp.database.inboxSnapshot()
            let postgresSnapshot = try await store.inboxSnapshot()
            #expect(postgresSnapshot == sqliteSnapshot)
            #expect(postgresSnapshot.message("wamid.nul.1")?.text == "before\u{0}after", "the NUL is kept in the content")
            // The export reads the same, notes and labels included.
            var sqliteLines: [String] = [], postgresLines: [String] = []
            _ = try await temp.database.exportRecords(contact: nil, showDeleted: true) { sqliteLines.append($0.jsonLine) }
            _ = try await store.exportRecords(contact: nil, showDeleted: true) { postgresLines.append($0.jsonLine) }
            let firstDifference = zip(sqliteLines, postgresLines).first { $0 != $1 }
            #expect(postgresLines == sqliteLines, "\(sqliteLines.count) lines on SQLite, \(postgresLines.count) on PostgreSQL; first differing:\nSQLite     \(firstDifference?.0 ?? "none")\nPostgreSQL \(firstDifference?.1 ?? "none")")
            #expect(postgresLines.contains { $0.contains(#""direction":"note""#) }, "no note in the export")
            #expect(postgresLines.contains { $0.contains(#""labels":["#) && !$0.contains(#""labels":[]"#) }, "no label in the export")
            // The history's search words are written before migrate returns.
            for try await pending in try await store.client.query("""
                SELECT (SELECT count(*) FROM message WHERE search_words IS NULL) + (SELECT count(*) FROM contact WHERE search_key IS NULL)
                """, logger: quiet).decode(Int.self) {
                #expect(pending == 0, "rows left without search words")
            }
            let foundOnPostgres = try await store.searchHits("after", limit: 5, includeDeleted: false).map(\.wamid)
            let foundOnSQLite = try await temp.database.searchHits("after", limit: 5, includeDeleted: false).map(\.wamid)
            #expect(foundOnPostgres == foundOnSQLite)
            for try await text in try await store.client.query("SELECT text FROM message WHERE wamid = 'wamid.nul.1'",
                                                               logger: quiet).decode(String.self) {
                #expect(text == "before\u{FFFD}after", "the text column keeps what follows a NUL (as U+FFFD)")
            }
            var legacyBody: Data?
            for try await body in try await store.client.query("SELECT body FROM journal WHERE id = 1", logger: quiet)
                .decode(ByteBuffer.self) {
                legacyBody = Data(body.readableBytesView)
            }
            #expect(legacyBody == Self.legacy, "the body of table webhook keeps its id and its bytes")
            for try await text in try await store.client.query("SELECT text FROM message WHERE wamid = 'wamid.escapes.1'",
                                                               logger: quiet).decode(String.self) {
                #expect(text == Self.escapes)
            }
            for try await text in try await store.client.query("SELECT text FROM note", logger: quiet).decode(String.self) {
                #expect(text == "call back after 5pm\n" + Self.escapes)
            }
            #expect(try await store.journalAppliedThrough() == (try await temp.database.journalAppliedThrough()))
            var bobSeen: Int64 = 0
            for try await seen in try await store.client.query("""
                SELECT max(inbound_seen) FROM agent_read WHERE agent = 'bob'
                """, logger: quiet).decode(Int64.self) {
                bobSeen = seen
            }
            #expect(bobSeen > 0, "bob's read mark came along")
            var outbox: [String: String] = [:]
            for try await (localID, state) in try await store.client.query("""
                SELECT m.local_id, o.state FROM outbox o JOIN message m ON m.id = o.message_id
                """, logger: quiet).decode((String, String).self) {
                outbox[localID] = state
            }
            #expect(outbox == ["l-2": "uncertain", "l-3": "queued", "t-1": "queued"])
            var flags: [Bool] = []
            for try await forwarded in try await store.client.query("SELECT echo FROM message WHERE echo", logger: quiet)
                .decode(Bool.self) {
                flags.append(forwarded)
            }
            #expect(!flags.isEmpty, "the 0/1 flags are booleans: the echo stays one")

            // (c) A webhook after the migration: new ids past every copied one, and it lands.
            let maximum = try await temp.database.journalAppliedThrough()
            let body = UpdateBodies.text(id: "wamid.after.1", from: "33699999999", name: "After", timestamp: Self.now + 100,
                                         body: "first message on PostgreSQL")
            let ids = try await store.appendJournal([JournalAppend(receivedAt: Self.now + 100, body: body)])
            let id = try #require(ids.first)
            #expect(id > maximum, "journal id \(id) is past the migrated \(maximum)")
            #expect(try await store.applyWholeJournal() == 1)
            let after = try await store.inboxSnapshot()
            #expect(after.message("wamid.after.1")?.text == "first message on PostgreSQL")
            #expect(after.conversations.count == sqliteSnapshot.conversations.count + 1)
            #expect(try await store.feedPosition() > 0, "the change feed runs on the migrated inbox")
        }
    }

    @Test func aDatabaseThatHoldsAnInboxIsRefusedAndLeftAsItWas() async throws {
        let temp = try await Self.makeInbox()
        defer { temp.remove() }
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet) { store in
            _ = try await store.appendJournal([JournalAppend(receivedAt: Self.now, body: UpdateBodies.text(
                id: "wamid.already.1", from: "33655555555", timestamp: Self.now, body: "already here"))])
            _ = try await store.applyWholeJournal()
        }
        let failure = await #expect(throws: InboxMigration.Failure.self) {
            try await InboxMigration.run(from: temp.path, to: location, logger: quiet)
        }
        let message = failure?.description ?? ""
        #expect(message.contains("already holds an inbox"), "\(message)")
        #expect(message.contains("contact 1") && message.contains("message 1") && message.contains("journal 1"), "\(message)")
        #expect(message.contains("Create a new database"), "\(message)")
        #expect(!message.contains(server.password))
        try await PostgresStore.withStore(location, logger: quiet) { store in
            let stored = try await counts(store)
            #expect(stored["message"] == 1 && stored["journal"] == 1 && stored["note"] == 0, "\(stored)")
        }
    }

    /// A count that differs after the copy (here a source that says it holds one note more
    /// than it gives) rolls everything back and names the table.
    @Test func aCountThatDiffersKeepsNothing() async throws {
        let temp = try await Self.makeInbox()
        defer { temp.remove() }
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        let source = OneNoteMore(rows: try temp.database.rowSource())
        try await PostgresStore.withStore(location, logger: quiet) { store in
            let error = await #expect(throws: SQLiteImportError.self) { try await store.importInbox(from: source) }
            #expect(error?.kind == .countMismatch)
            #expect(error?.description.contains("note (2 in SQLite, 1 in PostgreSQL)") == true, "\(error?.description ?? "")")
            #expect(error?.report?.tables.filter { !$0.matches }.map(\.name) == ["note"])
            let stored = try await counts(store)
            #expect(stored.filter { $0.value > 0 }.keys.sorted() == ["journal_mark", "media_progress"],
                    "only the seeded marks are left: \(stored)")
            #expect(try await store.journalAppliedThrough() == 0)
        }
    }

    @Test func theBinaryPrintsTheCountsAndFailsOnANonEmptyTarget() async throws {
        let temp = try await Self.makeInbox()
        defer { temp.remove() }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let url = server.url(database: database)
        let config = temp.directory.appendingPathComponent("config")
        let environment = ["XDG_CONFIG_HOME": config.path, "XDG_DATA_HOME": temp.directory.path]

        let first = try runCommand(try waboxBinary(), ["migrate", "--from", temp.path, "--to", url], environment: environment)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let messages = try await temp.database.inboxSnapshot().messages.count
        let line = try #require(first.stdout.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("message ") },
                                "\(first.stdout)")
        #expect(line.split(separator: " ") == ["message", "\(messages)", "→", "\(messages)", "✓"], "\(line)")
        for table in PostgresStore.importedTableNames {
            #expect(first.stdout.contains("  \(table) "), "no count for \(table):\n\(first.stdout)")
        }
        #expect(!first.stdout.contains("✗"))
        #expect(first.stdout.contains("migrated in "), "\(first.stdout)")
        // The photo's bytes went into the database, for screens on other hosts.
        #expect(first.stdout.contains("files: 1 copied into the database"), "\(first.stdout)")
        #expect(first.stdout.contains("postgres://\(server.user):***@127.0.0.1:\(server.port)/\(database)"), "\(first.stdout)")

        // Without --to, WABOX_DB names the database (the password out of the process list).
        let second = try runCommand(try waboxBinary(), ["migrate", "--from", temp.path],
                                    environment: environment.merging(["WABOX_DB": url]) { $1 })
        #expect(second.status != 0)
        #expect(second.stderr.contains("already holds an inbox"), "\(second.stderr)")
        for output in [first.stdout, first.stderr, second.stdout, second.stderr] {
            #expect(!output.contains(server.password), "the password was printed:\n\(output)")
        }

        let missing = try runCommand(try waboxBinary(), ["migrate", "--from", temp.directory.appendingPathComponent("none.sqlite").path,
                                                         "--to", url], environment: environment)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no SQLite inbox at"), "\(missing.stderr)")
    }
}

/// The SQLite inbox, but counting one note more than it has.
private struct OneNoteMore: InboxRowSource {
    let rows: SQLiteRowSource

    func hasTable(_ table: String) async throws -> Bool { try await rows.hasTable(table) }

    func rows(of table: String, columns: [String], key: [String], after: [StoredValue]?,
              limit: Int) async throws -> [[StoredValue]] {
        try await rows.rows(of: table, columns: columns, key: key, after: after, limit: limit)
    }

    func count(of table: String) async throws -> Int {
        try await rows.count(of: table) + (table == "note" ? 1 : 0)
    }
}

private extension Data {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// The figure for docs: `WABOX_BENCH_MIGRATE=20000 swift test --skip-build --filter MigrateBenchmark` builds an
/// inbox of that many messages (ten per customer, each with its journal body) and times
/// `wabox migrate` on it. Off unless asked for: it measures, it checks
/// only that the copy is whole.
@Suite(.postgresServer, .serialized, .enabled(if: ProcessInfo.processInfo.environment["WABOX_BENCH_MIGRATE"] != nil))
struct MigrateBenchmark {
    @Test func migrateAnInboxOfManyMessages() async throws {
        let total = Int(ProcessInfo.processInfo.environment["WABOX_BENCH_MIGRATE"] ?? "") ?? 20_000
        let temp = try TemporaryDatabase(configuration: .init(indexesSearch: false))
        defer { temp.remove() }
        let now = MigrateEndToEndTests.now
        var batch: [IncomingWebhook] = []
        for index in 0..<total {
            let customer = "336\(String(format: "%08d", index / 10))"
            batch.append(Fixtures.webhook(body: UpdateBodies.text(id: "wamid.bench.\(index)", from: customer, name: "Customer \(index / 10)",
                                                                  timestamp: now + Int64(index), body: "message number \(index) of the benchmark"),
                                          receivedAt: now + Int64(index)))
            if batch.count == 500 {
                _ = try await temp.database.ingest(batch)
                batch.removeAll()
            }
        }
        if !batch.isEmpty { _ = try await temp.database.ingest(batch) }
        let server = try PostgresSuite.server
        let url = server.url(database: try await server.createDatabase())
        let started = ContinuousClock.now
        let result = try runCommand(try waboxBinary(), ["migrate", "--from", temp.path, "--to", url],
                                    environment: ["XDG_CONFIG_HOME": temp.directory.path])
        let elapsed = ContinuousClock.now - started
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        print("wabox migrate of \(total) messages: \(elapsed)\n\(result.stdout)\(result.stderr)")
    }
}
