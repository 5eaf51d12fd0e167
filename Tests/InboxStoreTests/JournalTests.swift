import Foundation
import GRDB
import InboxCore
@testable import InboxStore
import InboxTesting
import Testing

/// A customer's text message in the current payload shape, as raw bytes.
private func textBody(_ id: String, from waID: String = "33611111111", at timestamp: Int64 = 1_764_400_000,
                      text: String = "hello") -> Data {
    Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
          "contacts":[{"profile":{"name":"Customer"},"wa_id":"\(waID)"}],
          "messages":[{"from":"\(waID)","id":"\(id)","timestamp":"\(timestamp)","type":"text","text":{"body":"\(text)"}}]}}]}]}
        """.utf8)
}

private func journal(_ bodies: [Data], in db: InboxDatabase, receivedAt: Int64 = 1_764_500_000) throws -> [Int64] {
    try db.appendToJournalSync(bodies.map { JournalEntry(receivedAt: receivedAt, body: $0) })
}

private func wamidsInApplyOrder(_ db: InboxDatabase) throws -> [String] {
    try db.writer.read { db in try String.fetchAll(db, sql: "SELECT wamid FROM message ORDER BY id") }
}

/// The journal and its applier: a 200 means the body is journaled; the applier turns it
/// into rows just behind, in journal order, and moves its mark in the same transaction.
@Suite struct JournalTests {
    @Test func journaledBodiesWaitUntilAppliedInJournalOrder() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let ids = try journal((0..<5).map { textBody("wamid.order.\($0)", at: 1_764_400_000 - Int64($0)) }, in: db)
        #expect(ids == ids.sorted() && Set(ids).count == 5)
        // Journaled, acknowledged, not yet in the inbox.
        #expect(try db.counts().messages == 0)
        #expect(try db.journalProgress() == JournalProgress(journaled: ids[4], applied: ids[0] - 1,
                                                             oldestWaitingReceivedAt: 1_764_500_000))
        let applied = try db.applyJournal(limit: 512)
        #expect(applied.map(\.journalID) == ids)
        #expect(applied.allSatisfy { $0.outcome == .stored(events: 1, deadLetters: 0) })
        // Applied in journal order, whatever the messages' own timestamps.
        #expect(try wamidsInApplyOrder(db) == (0..<5).map { "wamid.order.\($0)" })
        #expect(try db.journalProgress().lag == 0)
        #expect(try db.applyJournal(limit: 512).isEmpty)
    }

    @Test func theApplierTakesBatchesAndMovesTheMarkWithEach() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let ids = try journal((0..<1200).map { textBody("wamid.batch.\($0)", from: "3361\($0 % 40)") }, in: db)
        var sizes: [Int] = []
        while true {
            let applied = try db.applyJournal(limit: 512)
            guard let last = applied.last else { break }
            sizes.append(applied.count)
            #expect(try db.journalProgress().applied == last.journalID)
            #expect(try db.counts().messages == sizes.reduce(0, +))
        }
        #expect(sizes == [512, 512, 176])
        #expect(try db.journalProgress().applied == ids.last)
        // A batch asked to yield ends after the body it is on.
        _ = try journal((0..<10).map { textBody("wamid.yield.\($0)") }, in: db)
        var asked = 0
        let short = try db.applyJournal(limit: 512) {
            asked += 1
            return asked == 3
        }
        #expect(short.count == 3)
        #expect(try db.journalProgress().lag == 7)
    }

    /// The rows and the mark commit together: a batch that fails after applying bodies
    /// leaves neither the rows nor a moved mark.
    @Test func theMarkMovesInTheSameTransactionAsTheRows() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try journal((0..<3).map { textBody("wamid.atomic.\($0)") }, in: db)
        try db.writer.write { db in
            try db.execute(sql: """
                CREATE TRIGGER test_mark_fails BEFORE UPDATE ON journal_mark
                BEGIN SELECT RAISE(ABORT, 'the mark cannot move'); END
                """)
        }
        #expect(throws: DatabaseError.self) { try db.applyJournal(limit: 512) }
        #expect(try db.counts().messages == 0)
        #expect(try db.journalProgress().lag == 3)
        try db.writer.write { db in try db.execute(sql: "DROP TRIGGER test_mark_fails") }
        #expect(try db.applyJournal(limit: 512).count == 3)
        #expect(try db.counts().messages == 3)
    }

    /// A body whose events SQLite refuses is redone in a savepoint: the bodies around it are
    /// stored, it becomes one dead letter, and a replay of it adds no second one.
    @Test func aBodyThatFailsToApplyBecomesOneDeadLetterAndTheOthersAreStored() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        try makeMessagesFail(withText: "fails here", inDatabaseAt: temp.path)
        let bodies = (0..<5).map { textBody("wamid.guard.\($0)", text: $0 == 2 ? "fails here" : "fine \($0)") }
        let ids = try journal(bodies, in: db)
        // The redo goes as far as the failing body; the next batch takes the rest.
        let first = try db.applyJournal(limit: 512)
        #expect(first.map(\.journalID) == Array(ids.prefix(3)))
        let applied = first + (try db.applyJournal(limit: 512))
        #expect(applied.map(\.journalID) == ids)
        guard case .deadLetter(let reason) = applied[2].outcome else {
            Issue.record("expected the failing body to be a dead letter: \(applied)")
            return
        }
        #expect(reason.contains("fails on purpose"))
        #expect(applied.enumerated().allSatisfy { $0.offset == 2 || $0.element.outcome == .stored(events: 1, deadLetters: 0) })
        #expect(try wamidsInApplyOrder(db) == ["wamid.guard.0", "wamid.guard.1", "wamid.guard.3", "wamid.guard.4"])
        #expect(try db.deadLetters().count == 1)
        // Meta redelivers it: journaled again, recognised by its hash, no second dead letter.
        _ = try journal([bodies[2]], in: db)
        #expect(try db.applyJournal(limit: 512).map(\.outcome) == [.duplicate])
        #expect(try db.deadLetters().count == 1)
    }

    /// Commands that read the inbox as current apply the whole journal first: the batch
    /// redone after a refused body ends at that body, and the bodies after it still apply.
    @Test func theWholeJournalAppliesPastARefusedBody() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        try makeMessagesFail(withText: "fails here", inDatabaseAt: temp.path)
        _ = try journal((0..<5).map { textBody("wamid.whole.\($0)", text: $0 == 1 ? "fails here" : "fine \($0)") }, in: db)
        #expect(try db.applyWholeJournal() == 5)
        #expect(try db.journalProgress().lag == 0)
        #expect(try db.counts().messages == 4)
        #expect(try db.deadLetters().count == 1)
    }

    /// Dead letters and account errors have no key of their own: a replayed body is known
    /// by its SHA-256 and stores them once; export is unchanged by the replay.
    @Test func replaysStoreDeadLettersAndAccountErrorsOnce() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let bodies = [Data("{\"object\": [truncated".utf8), try Fixtures.data("malformed_batch"),
                      try Fixtures.data("value_errors"), try Fixtures.data("multi_entry")]
        _ = try journal(bodies, in: db)
        _ = try db.applyJournal(limit: 512)
        let letters = try db.deadLetters().count
        let errors = try db.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM account_error") }
        let exportBefore = try exportLines(db)
        // Two of malformed_batch's messages are unreadable rather than broken: they are stored
        // as messages that say so, not as dead letters.
        #expect(letters == 4)
        #expect((errors ?? 0) >= 1)
        _ = try journal(bodies + bodies, in: db)
        let replayed = try db.applyJournal(limit: 512).map(\.outcome)
        #expect(Array(replayed.prefix(3)) == [.duplicate, .duplicate, .duplicate])
        #expect(try db.deadLetters().count == letters)
        #expect(try db.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM account_error") } == errors)
        #expect(try exportLines(db) == exportBefore)
        // Each row names the body it came from.
        let unlinked = try db.writer.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM dead_letter WHERE journal_id IS NULL OR digest IS NULL")
        }
        #expect(unlinked == 0)
    }

    /// A full disk is no body's fault: the batch fails, nothing becomes a dead letter, the
    /// mark stays, and once there is room again the bodies apply.
    @Test func aFullDiskLeavesTheBodiesWaitingNotDeadLettered() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try journal((0..<50).map { textBody("wamid.full.\($0)", from: "3362\($0)", text: String(repeating: "x", count: 2000)) }, in: db)
        let pages = try db.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
        try db.writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }
        let error = #expect(throws: DatabaseError.self) { try db.applyJournal(limit: 512) }
        #expect(error?.resultCode.primaryResultCode == .SQLITE_FULL, "\(String(describing: error))")
        #expect(try db.deadLetters().isEmpty)
        #expect(try db.journalProgress().lag == 50)
        try db.writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        #expect(try db.applyJournal(limit: 512).count == 50)
        #expect(try db.counts().messages == 50)
    }

    /// Applied bodies older than the cutoff go, oldest first and a chunk at a time; bodies
    /// of dead letters stay, and so do bodies not yet applied, whatever their age.
    @Test func pruningRemovesOldAppliedBodiesOnly() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let day: Int64 = 86_400, now: Int64 = 1_800_000_000
        _ = try journal((0..<7).map { textBody("wamid.old.\($0)") }, in: db, receivedAt: now - 40 * day)
        _ = try journal([Data("not json, old".utf8)], in: db, receivedAt: now - 40 * day)
        _ = try journal((0..<2).map { textBody("wamid.new.\($0)") }, in: db, receivedAt: now - day)
        _ = try db.applyWholeJournal()
        _ = try journal([textBody("wamid.old.unapplied")], in: db, receivedAt: now - 40 * day)
        let cutoff = now - 30 * day
        #expect(try db.pruneJournal(receivedBefore: cutoff, limit: 4) == 4)
        #expect(try db.pruneJournal(receivedBefore: cutoff, limit: 4) == 3)
        #expect(try db.pruneJournal(receivedBefore: cutoff, limit: 4) == 0)
        let left = try db.journalBodies()
        #expect(left.count == 4)
        #expect(left.contains(Data("not json, old".utf8)))
        #expect(left.contains(textBody("wamid.old.unapplied")))
        // What was applied stays applied; the waiting body still applies.
        #expect(try db.counts().messages == 9)
        #expect(try db.applyWholeJournal() == 1)
        #expect(try db.counts().messages == 10)
        #expect(try db.deadLetters().count == 1)
        // New bodies never take the ids of pruned ones: the mark stays below them.
        let next = try journal([textBody("wamid.after.prune")], in: db)
        #expect(next[0] > (try db.journalProgress().applied))
    }
}

/// A database made before the journal: its bodies (table `webhook`) were applied with their
/// commit, so the applier's mark starts past them and nothing is applied twice.
@Suite struct JournalMigrationTests {
    @Test func bodiesOfTheOldJournalAreReadableAndCountAsApplied() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-v10-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("inbox.sqlite").path
        let junk = Data("{\"object\": [truncated".utf8)
        do {
            var configuration = Configuration()
            configuration.prepareDatabase { db in db.add(function: Schema.foldFunction) }
            let old = try DatabaseQueue(path: path, configuration: configuration)
            try Schema.migrator.migrate(old, upTo: "v9: media download queue")
            try old.write { db in
                for (index, body) in [textBody("wamid.before.0"), junk, textBody("wamid.before.2")].enumerated() {
                    try db.execute(sql: "INSERT INTO webhook (id, received_at, signature, body) VALUES (?, 1764400000, ?, ?)",
                                   arguments: [index + 1, "sha256=\(index)", body])
                }
                try db.execute(sql: "INSERT INTO dead_letter (webhook_id, received_at, reason) VALUES (2, 1764400000, 'not JSON')")
            }
        }
        let db = try InboxDatabase(path: path)
        #expect(try db.journalProgress() == JournalProgress(journaled: 3, applied: 3, oldestWaitingReceivedAt: nil))
        #expect(try db.journalBodies().count == 3)
        #expect(try db.applyWholeJournal() == 0)
        // New bodies go on from the old ids; a replay of the old dead letter's body is known.
        let ids = try journal([textBody("wamid.after.0"), junk], in: db)
        #expect(ids == [4, 5])
        #expect(try db.applyJournal(limit: 512).map(\.outcome) == [.stored(events: 1, deadLetters: 0), .duplicate])
        #expect(try db.deadLetters().count == 1)
        #expect(try db.journalBodies().count == 5)
    }
}
