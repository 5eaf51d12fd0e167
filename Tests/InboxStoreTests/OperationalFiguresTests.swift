import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// What the metrics read from the store: the applier's word that a body changed nothing,
/// and the scrape's figures (journal, outbox by state, sending halt, screens).
@Suite struct OperationalFiguresTests {
    @Test func aBodyWhoseEventsWereAllStoredIsMarkedRepeated() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let first = UpdateBodies.text(id: "wamid.r.1", from: "447700900001", timestamp: 100, body: "one")
        let second = UpdateBodies.text(id: "wamid.r.2", from: "447700900001", timestamp: 101, body: "two")
        _ = try await db.appendToJournal([first, second, first, second, first].map { JournalEntry(receivedAt: 100, body: $0) })
        let applied = try db.applyJournal(limit: 100)
        #expect(applied.map(\.repeated) == [false, false, true, true, true])
        #expect(applied.allSatisfy { $0.outcome == .stored(events: 1, deadLetters: 0) })
        // A body holding one new message and one known is not a repeat.
        let both = Data(String(decoding: UpdateBodies.text(id: "wamid.r.3", from: "447700900001", timestamp: 102, body: "three"),
                               as: UTF8.self)
            .replacingOccurrences(of: #""messages":["#, with: #""messages":[{"from":"447700900001","id":"wamid.r.1","timestamp":"100","type":"text","text":{"body":"one"}},"#).utf8)
        _ = try await db.appendToJournal([JournalEntry(receivedAt: 100, body: both)])
        #expect(try db.applyJournal(limit: 100).map(\.repeated) == [false])
    }

    @Test func figuresCountTheOutboxByStateTheHaltAndRecentScreens() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        var figures = try await db.operationalFigures(screensSeenSince: 0)
        #expect(figures.journal.lag == 0 && figures.journal.oldestWaitingReceivedAt == nil)
        #expect(figures.outbox == ["queued": 0, "in_flight": 0, "uncertain": 0])
        #expect(!figures.sendingHalted && figures.screens == 0)

        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.text(id: "wamid.f.1", from: "447700900002",
                                                                         timestamp: 100, body: "hi")))
        let conversation = try #require(try db.conversations().items.first).id
        for index in 1...3 {
            _ = try await db.enqueueOutbound(in: conversation, content: .text(body: "r\(index)"), localID: "l-\(index)", at: 100)
        }
        let claimed = try #require(try await db.claimNextOutbound(nowMilliseconds: Int64.max / 2))
        try await db.markUncertain(localID: claimed.localID, reason: "lost the connection")
        _ = try #require(try await db.claimNextOutbound(nowMilliseconds: Int64.max / 2))
        try await db.haltSending(code: 190, reason: "token expired", at: 100)
        _ = try await db.appendToJournal([JournalEntry(receivedAt: 150, body: Data("{}".utf8))])

        for account in ["alice", "bob"] {
            try InboxDatabase(path: temp.path, configuration: .init(account: account)).registerAgent(at: 1_000)
        }
        try await db.agentSeen("alice", at: 2_000)
        try await db.agentSeen("alice", at: 1_500)   // never moves back
        figures = try await db.operationalFigures(screensSeenSince: 1_910)
        #expect(figures.outbox == ["queued": 1, "in_flight": 1, "uncertain": 1])
        #expect(figures.sendingHalted)
        #expect(figures.screens == 1)
        #expect(figures.journal.lag == 1 && figures.journal.oldestWaitingReceivedAt == 150)
        #expect(try await db.operationalFigures(screensSeenSince: 900).screens == 2)
    }
}
