import Foundation
import GRDB
import InboxCore
@testable import InboxStore
import InboxTesting
import Testing

/// What differs between two dumps, table by table: rows only in `before`, rows only in `after`.
func dumpDifference(_ before: [String: [String]], _ after: [String: [String]]) -> String {
    Set(before.keys).union(after.keys).sorted().compactMap { table in
        let old = Set(before[table] ?? []), new = Set(after[table] ?? [])
        guard old != new else { return nil }
        return "\(table): gone \(old.subtracting(new).sorted()), new \(new.subtracting(old).sorted())"
    }.joined(separator: "\n")
}

/// Every row of every table but the search index's and the change feed's (a log of the
/// writes for screens, not content), as text, sorted: what "changes nothing" is checked against.
func tableDump(_ database: InboxDatabase) throws -> [String: [String]] {
    try database.writer.read { db in
        let tables = try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'message_fts%'
              AND name != 'change'
            """)
        var dump: [String: [String]] = [:]
        for table in tables {
            dump[table] = try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map(\.description).sorted()
        }
        return dump
    }
}

func exportRecords(_ database: InboxDatabase) throws -> [ExportRecord] {
    var records: [ExportRecord] = []
    try database.export { records.append($0) }
    return records
}

func exportLines(_ database: InboxDatabase) throws -> [String] { try exportRecords(database).map(\.jsonLine) }

@Suite struct ReplayTests {
    @Test func aDeadLetterBecomesAMessageOnceTheDecoderLearnsItsType() throws {
        let old = try TemporaryDatabase(configuration: .init(indexesSearch: false, decoder: Releases.refusingPolls))
        defer { old.remove() }
        let outcomes = try old.database.ingestSync([
            IncomingWebhook(receivedAt: 1_764_500_000, body: pollBody("wamid.poll.1", alsoText: "wamid.text.1")),
            IncomingWebhook(receivedAt: 1_764_500_001, body: pollBody("wamid.poll.2", question: "Lunch?")),
        ])
        #expect(outcomes == [.stored(events: 2, deadLetters: 1), .stored(events: 1, deadLetters: 1)])
        #expect(try old.database.counts().messages == 1)
        #expect(try old.database.deadLetters().map(\.path) == ["entry[0].changes[0].value.messages[1]",
                                                                "entry[0].changes[0].value.messages[0]"])

        // The same file, opened by the release that reads polls.
        let newer = try InboxDatabase(path: old.path, configuration: .init(indexesSearch: false, decoder: Releases.learned))
        let report = try newer.replay(.deadLetters, now: 1_764_600_000)
        #expect(report.summary == "2 bodies replayed: 2 dead letters became messages", "\(report)")
        let texts = try exportLines(newer)
        #expect(try newer.counts().messages == 3)
        let polls = try exportRecords(newer).filter { $0.id.hasPrefix("wamid.poll.") }
        #expect(polls.map(\.text) == ["Poll: Which day suits you?", "Poll: Lunch?"])
        // The rows stay, marked.
        var log: [JournalLogEntry] = []
        try newer.journalLog(JournalLogFilter()) { log.append($0) }
        #expect(log.map(\.outcome) == [.stored, .stored])
        #expect(log.flatMap(\.deadLetters).map(\.replayedAt) == [1_764_600_000, 1_764_600_000])

        // Again: nothing waits, and replaying every body changes nothing.
        let dump = try tableDump(newer)
        #expect(try newer.replay(.deadLetters, now: 1_764_700_000).summary == "nothing to replay")
        let again = try newer.replay(.receivedSince(0), now: 1_764_700_000)
        #expect(again.summary == "2 bodies replayed: 2 unchanged", "\(again)")
        #expect(dumpDifference(dump, try tableDump(newer)) == "")
        #expect(try exportLines(newer) == texts)
    }

    @Test func unreadableAndUnknownMessagesGetTheirContentInTheSameRow() throws {
        let temp = try TemporaryDatabase(configuration: .init(indexesSearch: false))
        defer { temp.remove() }
        _ = try temp.database.ingestSync([try Fixtures.webhook("unreadable"), try Fixtures.webhook("unsupported_unknown"),
                                          IncomingWebhook(receivedAt: 1_764_500_000, body: pollBody("wamid.poll.9"))])
        func rows() throws -> [String: Int64] {
            try temp.database.writer.read { db in
                Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT wamid, id FROM message").map { ($0[0], $0[1]) })
            }
        }
        let before = try rows()
        let location = try #require(try exportRecords(temp.database).first { $0.id == "wamid.badload.2" })
        #expect(location.error?.title?.hasPrefix("wabox could not read this message") == true)

        let newer = try InboxDatabase(path: temp.path, configuration: .init(indexesSearch: false, decoder: Releases.learned))
        let report = try newer.replay(.deadLetters)
        // The location, the hologram and the poll; the interactive and the text without
        // payloads stay unreadable (this release reads them no better).
        #expect(report.summary == "3 bodies replayed: 3 unreadable messages now read", "\(report)")
        #expect(try rows() == before)
        let records = Dictionary(uniqueKeysWithValues: try exportRecords(newer).map { ($0.id, $0) })
        #expect(records["wamid.badload.2"]?.type == "location")
        #expect(records["wamid.badload.2"]?.text == "Tokyo")
        #expect(records["wamid.badload.2"]?.error == nil)
        #expect(records["wamid.future.1"]?.text == "a hologram")
        #expect(records["wamid.poll.9"]?.text == "Poll: Which day suits you?")
        #expect(records["wamid.notext.3"]?.error?.title?.hasPrefix("wabox could not read this message") == true)
        // Meta's own error on the unsupported message stays.
        #expect(records["wamid.unsup.1"]?.error?.code == 131051)

        let dump = try tableDump(newer)
        let again = try newer.replay(.deadLetters)
        #expect(again.summary == "1 body replayed: 1 unchanged", "\(again)")
        #expect(dumpDifference(dump, try tableDump(newer)) == "")
    }

    /// Every fixture through this release, then every body again: not a row changes.
    @Test func replayingWhatWasAppliedChangesNothing() throws {
        let temp = try TemporaryDatabase(configuration: .init(indexesSearch: false))
        defer { temp.remove() }
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.directory.path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
        #expect(names.count > 20)
        for (index, name) in names.enumerated() {
            _ = try temp.database.ingestSync([try Fixtures.webhook(name, receivedAt: 1_764_500_000 + Int64(index))])
        }
        let dump = try tableDump(temp.database)
        let exported = try exportLines(temp.database)
        let open = try temp.database.writer.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM dead_letter WHERE journal_id IS NOT NULL") ?? 0
        }
        #expect(open > 0)
        for _ in 0..<2 {
            let report = try temp.database.replay(.receivedSince(0))
            #expect(report.bodies == names.count)
            #expect(report.changes == 0, "\(report)")
            #expect(report.deadLettersOpen == open, "\(report)")
            #expect(report.failures.isEmpty)
            #expect(dumpDifference(dump, try tableDump(temp.database)) == "")
            #expect(try exportLines(temp.database) == exported)
        }
    }

    @Test func bodiesPastTheMarkAreLeftToTheApplierAndMissingOnesSaidSo() throws {
        let temp = try TemporaryDatabase(configuration: .init(indexesSearch: false))
        defer { temp.remove() }
        _ = try temp.database.ingestSync([IncomingWebhook(receivedAt: 1_764_500_000, body: pollBody("wamid.poll.a"))])
        let waiting = try temp.database.appendToJournalSync([JournalEntry(receivedAt: 1_764_500_001, body: pollBody("wamid.poll.b"))])
        let report = try temp.database.replay(.ids(waiting + [waiting[0] + 100, 1]))
        #expect(report.notApplied == waiting)
        #expect(report.missing == [waiting[0] + 100])
        #expect(report.summary == "1 body replayed: 1 unchanged")
        #expect(try temp.database.counts().messages == 1)
    }
}

@Suite struct JournalLogTests {
    @Test func theLogTellsEachBodysOutcomeAndEvents() throws {
        let temp = try TemporaryDatabase(configuration: .init(indexesSearch: false))
        defer { temp.remove() }
        let db = temp.database
        _ = try db.ingestSync([
            try Fixtures.webhook("unreadable", receivedAt: 1_764_500_000),        // stored: 4 messages, 1 status
            try Fixtures.webhook("unreadable", receivedAt: 1_764_500_100),        // a copy
            try Fixtures.webhook("malformed_batch", receivedAt: 1_764_500_200),   // dead letters
            try Fixtures.webhook("value_errors", receivedAt: 1_764_500_300),      // account errors
            IncomingWebhook(receivedAt: 1_764_500_400, body: Data("[1, 2]".utf8)),
        ])
        _ = try db.appendToJournalSync([JournalEntry(receivedAt: 1_764_500_500, body: pollBody("wamid.poll.z"))])
        var entries: [JournalLogEntry] = []
        try db.journalLog(JournalLogFilter()) { entries.append($0) }
        #expect(entries.map(\.outcome) == [.stored, .duplicate, .deadLetter, .error, .deadLetter, .unapplied])
        #expect(entries[0].events.description == "4 messages, 1 status")
        #expect(entries[0].size == (try Fixtures.data("unreadable")).count)
        #expect(entries[2].deadLetters.count == 3, "\(entries[2].deadLetters)")
        #expect(entries[3].events.description == "1 account error")
        #expect(entries[4].problem != nil && entries[4].deadLetters.map(\.path) == [nil])
        #expect(entries[5].events.description == "1 message")
        #expect(entries.map(\.id) == entries.map(\.id).sorted())

        func ids(_ filter: JournalLogFilter) throws -> [Int64] {
            var ids: [Int64] = []
            try db.journalLog(filter) { ids.append($0.id) }
            return ids
        }
        #expect(try ids(JournalLogFilter(outcomes: [.deadLetter, .error])) == [entries[2].id, entries[3].id, entries[4].id])
        #expect(try ids(JournalLogFilter(receivedSince: 1_764_500_300)) == entries[3...].map(\.id))
        // By any identifier of a known contact, and by the bare number of one the inbox never stored.
        #expect(try ids(JournalLogFilter(contact: "+819012345678")) == entries[0...2].map(\.id))
        #expect(try ids(JournalLogFilter(contact: "33622222222")) == [entries[5].id])
        #expect(try ids(JournalLogFilter(contact: "nobody")) == [])

        let line = try #require(try JSONSerialization.jsonObject(with: Data(entries[2].jsonLine.utf8)) as? [String: Any])
        #expect(line["outcome"] as? String == "dead-letter")
        #expect((line["dead_letters"] as? [[String: Any]])?.count == 3)
        #expect((line["events"] as? [String: Int])?["message"] == 4)
        #expect(try db.journalBody(id: entries[0].id) == .found(RawWebhook(webhookID: entries[0].id, receivedAt: 1_764_500_000,
                                                                          body: try Fixtures.data("unreadable"))))
        #expect(try db.journalBody(id: entries[5].id + 1) == .neverJournaled)
    }
}
