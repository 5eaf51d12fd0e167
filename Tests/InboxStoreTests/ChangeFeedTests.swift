import Foundation
import GRDB
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// The change feed: triggers record what each commit changed, by conversation and kind,
/// whichever connection writes; a reader that fell behind the pruned range overflows.
@Suite struct ChangeFeedTests {
    let builder = WebhookBuilder()
    let now: Int64 = 1_764_500_000

    func customer(_ n: Int) -> SimulatedCustomer {
        SimulatedCustomer(name: "Customer \(n)", waID: "3361234\(String(format: "%04d", n))")
    }

    func message(from n: Int, _ text: String = "hello", id: String = WebhookBuilder.newMessageID(), at: Int64? = nil)
        -> IncomingWebhook {
        Fixtures.webhook(body: builder.message(from: customer(n), .text(text), id: id, timestamp: at ?? now), receivedAt: now)
    }

    func conversation(of n: Int, in database: InboxDatabase) throws -> ConversationID {
        let waID = customer(n).waID!
        return try #require(try database.conversations(limit: 1000).items.first { $0.contact.waID?.rawValue == waID }?.id)
    }

    @Test func eachKindIsRecordedByTriggersFromAnotherConnection() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let screen = temp.database
        // Another opening of the file, as another agent's process has.
        let other = try temp.open(as: "bob")
        _ = try await other.ingest([message(from: 1), message(from: 2)])
        let first = try conversation(of: 1, in: screen)
        let second = try conversation(of: 2, in: screen)

        var seen = try screen.latestChangeSequence()
        #expect(seen > 0)
        func next(_ what: Comment) throws -> ChangeBatch {
            let batch = try screen.changes(after: seen)
            #expect(!batch.overflow, what)
            #expect(batch.sequence > seen, "\(what) moves the feed")
            seen = batch.sequence
            return batch
        }

        // A new message: the message and its conversation's activity.
        _ = try await other.ingest([message(from: 1, "again")])
        var batch = try next("a new message")
        #expect(batch.conversations[.message] == [first])
        #expect(batch.conversations[.conversation] == [first])
        #expect(!batch.allConversations.contains(second))

        // A reply: its row, then its status ticks.
        let reply = try await other.enqueueOutbound(in: second, content: .text(body: "hi"), localID: "local-1", at: now)
        batch = try next("a reply")
        #expect(batch.conversations[.message] == [second])
        let wamid = "wamid.OUT\(UUID().uuidString)"
        try await other.markAccepted(localID: try #require(reply.localID), wamid: MessageID(wamid), at: now)
        _ = try next("the reply accepted")
        _ = try await other.ingest([Fixtures.webhook(body: builder.status(.delivered, of: wamid, to: customer(2),
                                                                          timestamp: now + 5), receivedAt: now)])
        batch = try next("a delivered tick")
        #expect(batch.conversations[.status] == [second])
        #expect(batch.conversations[.message] == nil)
        #expect(!batch.allConversations.contains(first))

        // Claims, read marks, labels, notes, typing notes.
        #expect(try await other.claim(first, at: now) == .claimed)
        #expect(try next("a claim").conversations[.claim] == [first])
        try await other.markRead(first)
        #expect(try next("a read mark").conversations[.read] == [first])
        #expect(try await other.toggleLabel("vip", on: second, at: now))
        batch = try next("a label")
        #expect(batch.conversations[.label] == [second])
        #expect(batch.workbench, "a new label's name is for every screen's completion")
        _ = try await other.addNote(to: second, text: "called them", at: now)
        #expect(try next("a note").conversations[.note] == [second])
        try await other.noteTyping(in: first, until: (now + 10) * 1000)
        #expect(try next("a typing note").conversations[.typing] == [first])
        try await other.stopTyping(in: first)
        #expect(try next("a typing note ended").conversations[.typing] == [first])

        // The customer's new name, on a later message: the contact.
        let renamed = SimulatedCustomer(name: "Renamed", waID: customer(2).waID)
        _ = try await other.ingest([Fixtures.webhook(body: builder.message(from: renamed, .text("it's me"), timestamp: now + 9),
                                                     receivedAt: now)])
        #expect(try next("a new name").conversations[.contact] == [second])

        // Nothing new: an empty batch at the same position.
        let idle = try screen.changes(after: seen)
        #expect(idle.isEmpty)
        #expect(idle.sequence == seen)
    }

    @Test func journalRowsNotYetAppliedRecordNothing() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        _ = try await temp.database.ingest([message(from: 1)])
        let before = try temp.database.latestChangeSequence()
        let listener = try temp.open(as: "serve")
        let body = builder.message(from: customer(3), .text("journaled"), timestamp: now)
        _ = try await listener.appendToJournal([JournalEntry(receivedAt: now, body: body)])
        #expect(try temp.database.latestChangeSequence() == before, "a journaled body is not in the inbox yet")
        #expect(try temp.database.changes(after: before).isEmpty)

        #expect(try listener.applyWholeJournal() == 1)
        let applied = try temp.database.changes(after: before)
        let third = try conversation(of: 3, in: temp.database)
        #expect(applied.conversations[.conversation]?.contains(third) == true, "applied, the new customer is in the feed")
        #expect(applied.conversations[.message] == [third])
    }

    @Test func aReaderBehindThePrunedRangeOverflows() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        _ = try await temp.database.ingest([message(from: 1)])
        let start = try temp.database.latestChangeSequence()
        let id = try conversation(of: 1, in: temp.database)
        // Enough rows to pass the pruning point twice over, in one transaction.
        let rows = InboxDatabase.changeFeedKept + 2_000
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: temp.path, configuration: configuration)
        try await queue.write { db in
            for _ in 0..<rows {
                try db.execute(sql: "INSERT INTO change (conversation_id, kind) VALUES (?, 'typing')", arguments: [id.rawValue])
            }
        }
        let kept = try await queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM change") ?? 0 }
        #expect(kept <= InboxDatabase.changeFeedKept + 1_000, "old rows are pruned (\(kept) kept)")
        let latest = try temp.database.latestChangeSequence()
        #expect(latest == start + Int64(rows))

        let behind = try temp.database.changes(after: start)
        #expect(behind.overflow, "the rows after \(start) are gone: reload everything")
        #expect(behind.sequence == latest)
        // Within the kept range but more than a batch holds: overflow too.
        let many = try temp.database.changes(after: latest - 3_000, limit: 2_000)
        #expect(many.overflow)
        let few = try temp.database.changes(after: latest - 10, limit: 2_000)
        #expect(!few.overflow)
        #expect(few.conversations[.typing] == [id])
    }
}
