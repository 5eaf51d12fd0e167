import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// Canned replies, notes, labels and the filter language's SQL, on real database files.
@Suite struct RepliesNotesLabelsStoreTests {
    private let now: Int64 = 1_764_500_000

    /// Four customers: Ana wrote an hour ago (window open), Ben two days ago (closed), Chloé
    /// ten minutes ago, Dmitri three days ago.
    private func inbox() async throws -> (TemporaryDatabase, [String: ConversationID]) {
        let temp = try TemporaryDatabase()
        let db = temp.database
        let customers: [(String, String, Int64)] = [
            ("Ana Souza", "5511900000001", now - 3_600), ("Ben Okafor", "2348000000002", now - 2 * 86_400),
            ("Chloé Dubois", "3361000000003", now - 600), ("Dmitri Ivanov", "7900000000004", now - 3 * 86_400),
        ]
        for (name, waID, at) in customers {
            _ = try await db.ingest(textWebhook(id: "w.\(waID)", from: waID, name: name, timestamp: at))
        }
        var ids: [String: ConversationID] = [:]
        for conversation in try db.conversations().items {
            ids[String(conversation.contact.name!.prefix(while: { $0 != " " }))] = conversation.id
        }
        return (temp, ids)
    }

    private func names(_ db: InboxDatabase, _ filter: String, agent: String? = nil) throws -> [String] {
        try db.conversations(matching: filter, viewer: Viewer(agent: agent, nowMilliseconds: now * 1000), now: now)
            .items.map { String($0.contact.name!.prefix(while: { $0 != " " })) }
    }

    @Test func eachTermIsAQuery() async throws {
        let (temp, ids) = try await inbox()
        defer { temp.remove() }
        let db = temp.database
        let alice = try temp.open(as: "alice"), bob = try temp.open(as: "bob")
        try await db.markRead(ids["Ana"]!, asTeam: true)
        _ = try await alice.claim(ids["Ben"]!, at: now)
        _ = try await bob.claim(ids["Dmitri"]!, at: now)
        try await alice.toggleLabel("vip", on: ids["Ben"]!, at: now)
        try await alice.toggleLabel("vip", on: ids["Chloé"]!, at: now)
        try await alice.toggleLabel("billing", on: ids["Chloé"]!, at: now)
        try await db.enqueueOutbound(in: ids["Dmitri"]!, content: .text(body: "hi"), localID: "l-d", at: now - 3 * 86_400 + 5)
        try await db.markFailed(localID: "l-d", error: APIErrorDetail(code: 131026, title: "Message undeliverable"), at: now)

        #expect(try names(db, "") == ["Chloé", "Ana", "Ben", "Dmitri"])
        #expect(try names(db, "~u") == ["Chloé", "Ben", "Dmitri"])
        #expect(try names(db, "!~u") == ["Ana"])
        #expect(try names(db, "~w") == ["Chloé", "Ana"])
        #expect(try names(db, "~W") == ["Ben", "Dmitri"])
        #expect(try names(db, "!~w") == ["Ben", "Dmitri"])
        #expect(try names(db, "~F") == ["Dmitri"])
        #expect(try names(db, "!~F") == ["Chloé", "Ana", "Ben"])
        #expect(try names(db, "~a alice") == ["Ben"])
        #expect(try names(db, "!~a alice") == ["Chloé", "Ana", "Dmitri"])
        #expect(try names(db, "~a me", agent: "bob") == ["Dmitri"])
        #expect(try names(db, "~n") == ["Chloé", "Ana"])
        #expect(try names(db, "!~n") == ["Ben", "Dmitri"])
        #expect(try names(db, "~l vip") == ["Chloé", "Ben"])
        #expect(try names(db, "~l VIP") == ["Chloé", "Ben"])
        #expect(try names(db, "!~l vip") == ["Ana", "Dmitri"])
        #expect(try names(db, "~l nothing") == [])
        // All terms hold, free text included.
        #expect(try names(db, "~l vip ~u ~W") == ["Ben"])
        #expect(try names(db, "~l vip dubois") == ["Chloé"])
        #expect(try names(db, "o ~n !~l billing") == ["Ana"])
        #expect(throws: ConversationFilter.ParseError.self) { try db.conversations(matching: "~q") }
    }

    /// A filter that must walk the list does it a window at a time; the steps together
    /// find what one query finds, in order, and an index-driven one takes one step.
    @Test func aWalkInStepsFindsWhatOneQueryFinds() async throws {
        let (temp, ids) = try await inbox()
        defer { temp.remove() }
        let db = temp.database
        let bob = try temp.open(as: "bob")
        try await db.markRead(ids["Chloé"]!, asTeam: true)
        let filter = try ConversationFilter.parse("o !~u")  // a one-letter text and a negation: walked
        var found: [String] = []
        var from: ConversationCursor?
        var steps = 0
        repeat {
            let step = try db.conversationStep(filter: filter, after: from, limit: 10 - found.count, now: now, window: 1)
            found += step.items.map { $0.contact.name! }
            from = step.scannedTo
            steps += 1
        } while from != nil
        #expect(found == ["Chloé Dubois"])
        #expect(steps == 5)  // one window per conversation, and the empty one after the last
        #expect(try db.conversations(filter: filter, now: now).items.map(\.contact.name!) == ["Chloé Dubois"])
        // Two a page: the second step fills it; the walk stopped at Ana, more may follow.
        let walked = try ConversationFilter.parse("o")
        let first = try db.conversationStep(filter: walked, limit: 2, now: now, window: 1)
        #expect(first.items.map(\.contact.name!) == ["Chloé Dubois"])
        let second = try db.conversationStep(filter: walked, after: first.scannedTo, limit: 1, now: now, window: 1)
        #expect(second.items.map(\.contact.name!) == ["Ana Souza"])
        #expect(second.scannedTo != nil)
        // An index hands over only its own candidates: Dmitri, the oldest, in the first
        // window of two, where a walk of all four would take two.
        _ = try await bob.claim(ids["Dmitri"]!, at: now)
        let claimed = try db.conversationStep(filter: try ConversationFilter.parse("~a bob"), now: now, window: 2)
        #expect(claimed.items.map(\.contact.name!) == ["Dmitri Ivanov"])
        #expect(claimed.scannedTo == nil)
        try await db.toggleLabel("vip", on: ids["Dmitri"]!, at: now)
        let labelled = try db.conversationStep(filter: try ConversationFilter.parse("~l vip o"), now: now, window: 2)
        #expect(labelled.items.map(\.contact.name!) == ["Dmitri Ivanov"])
        #expect(labelled.scannedTo == nil)
    }

    @Test func aWindowRefusedByTheAPIIsClosed() async throws {
        let (temp, ids) = try await inbox()
        defer { temp.remove() }
        let db = temp.database
        try await db.enqueueOutbound(in: ids["Ana"]!, content: .text(body: "hi"), localID: "l-a", at: now - 60)
        try await db.markFailed(localID: "l-a", error: APIErrorDetail(code: 131047, title: "Re-engagement message"),
                                closesWindow: true, at: now - 30)
        #expect(try names(db, "~w") == ["Chloé"])
        #expect(try names(db, "~W ~F") == ["Ana"])
    }

    @Test func failedRepliesAreCountedWhateverWritesTheStatus() async throws {
        let (temp, ids) = try await inbox()
        defer { temp.remove() }
        let db = temp.database
        try await db.enqueueOutbound(in: ids["Ana"]!, content: .text(body: "one"), localID: "l-1", at: now - 50)
        try await db.markUncertain(localID: "l-1", reason: "no answer")
        #expect(try names(db, "~F") == ["Ana"])
        try await db.resendUncertain(localID: "l-1", atMilliseconds: now * 1000)
        #expect(try names(db, "~F") == [])
        // A status webhook can fail a sent message too.
        try await db.enqueueOutbound(in: ids["Ben"]!, content: .text(body: "two"), localID: "l-2", at: now - 40)
        try await db.markAccepted(localID: "l-2", wamid: "wamid.two", at: now - 39)
        _ = try await db.ingest(statusWebhook(id: "wamid.two", status: "failed", timestamp: now - 20, errorCode: 131026))
        #expect(try names(db, "~F") == ["Ben"])
    }

    @Test func labelsToggleAndFollowTheConversation() async throws {
        let (temp, ids) = try await inbox()
        defer { temp.remove() }
        let db = temp.database
        let alice = try temp.open(as: "alice"), bob = try temp.open(as: "bob")
        #expect(try await alice.toggleLabel("vip", on: ids["Dmitri"]!, at: now))
        #expect(try await alice.toggleLabel("Billing", on: ids["Dmitri"]!, at: now))
        #expect(try db.labels() == ["Billing", "vip"])
        #expect(try db.conversation(ids["Dmitri"]!)?.labels == ["Billing", "vip"])
        #expect(try await !bob.toggleLabel("VIP", on: ids["Dmitri"]!, at: now))
        #expect(try db.conversation(ids["Dmitri"]!)?.labels == ["Billing"])
        #expect(try db.labels() == ["Billing", "vip"])  // the label stays for completion
        await #expect(throws: WorkbenchError.self) { try await db.toggleLabel("two words", on: ids["Ana"]!, at: now) }
        // A customer's new message moves the conversation up; the label's walk follows.
        #expect(try await alice.toggleLabel("vip", on: ids["Dmitri"]!, at: now))
        #expect(try await alice.toggleLabel("vip", on: ids["Ben"]!, at: now))
        #expect(try names(db, "~l vip") == ["Ben", "Dmitri"])
        _ = try await db.ingest(textWebhook(id: "w.d2", from: "7900000000004", name: "Dmitri Ivanov", timestamp: now - 5))
        #expect(try names(db, "~l vip") == ["Dmitri", "Ben"])
    }

    @Test func cannedRepliesAndNotes() async throws {
        let (temp, ids) = try await inbox()
        defer { temp.remove() }
        let db = temp.database
        let alice = try temp.open(as: "alice"), bob = try temp.open(as: "bob")
        #expect(try await !alice.saveCannedReply(CannedReply(name: "hello", text: "Hi {{name}}!"), at: now))
        #expect(try await bob.saveCannedReply(CannedReply(name: "HELLO", text: "Hello {{name}}"), at: now))
        try await bob.saveCannedReply(CannedReply(name: "bye", text: "Bye"), at: now)
        #expect(try db.cannedReplies() == [CannedReply(name: "bye", text: "Bye"), CannedReply(name: "hello", text: "Hello {{name}}")])
        #expect(try await db.removeCannedReply(named: "bye", at: now))
        #expect(try await !db.removeCannedReply(named: "bye", at: now))
        await #expect(throws: WorkbenchError.self) { try await db.saveCannedReply(CannedReply(name: "a b", text: "x"), at: now) }
        await #expect(throws: WorkbenchError.self) { try await db.saveCannedReply(CannedReply(name: "empty", text: " "), at: now) }

        let counts = try db.counts()
        try await alice.addNote(to: ids["Ana"]!, text: "  called her, parcel is lost ", at: now - 100)
        try await bob.addNote(to: ids["Ana"]!, text: "refund sent", at: now - 10)
        #expect(try db.notes(in: ids["Ana"]!).map(\.text) == ["called her, parcel is lost", "refund sent"])
        #expect(try db.notes(in: ids["Ana"]!).map(\.agent) == ["alice", "bob"])
        #expect(try db.notes(in: ids["Ben"]!).isEmpty)
        // A note is not a message: nothing for the outbox, the list, or the unread count.
        #expect(try db.counts() == counts)
        #expect(try await db.outboxWaitingCount() == 0)
        await #expect(throws: WorkbenchError.self) { try await alice.addNote(to: ids["Ana"]!, text: "  ", at: now) }
    }

    @Test func exportHasNotesAndLabels() async throws {
        let (temp, ids) = try await inbox()
        defer { temp.remove() }
        let db = temp.database
        let alice = try temp.open(as: "alice")
        try await alice.toggleLabel("vip", on: ids["Ana"]!, at: now)
        try await alice.toggleLabel("billing", on: ids["Ana"]!, at: now)
        try await alice.addNote(to: ids["Ana"]!, text: "line one\nsaid \"soon\"", at: now - 100)
        let lines = try exportLines(db, contact: "5511900000001")
        #expect(lines == [
            #"{"id":"w.5511900000001","phone_number_id":"106540352242922","contact":{"wa_id":"5511900000001","user_id":null,"username":null,"name":"Ana Souza","marketing_opt_out":false},"direction":"in","type":"text","text":"hello","caption":null,"timestamp":1764496400,"status":"received","reply_to":null,"reactions":[],"error":null,"media":null,"edited_at":null,"edits":[],"deleted_at":null,"call":null,"labels":["billing","vip"],"agent":null}"#,
            #"{"id":"note:1","phone_number_id":"106540352242922","contact":{"wa_id":"5511900000001","user_id":null,"username":null,"name":"Ana Souza","marketing_opt_out":false},"direction":"note","type":"note","text":"line one\nsaid \"soon\"","caption":null,"timestamp":1764499900,"status":null,"reply_to":null,"reactions":[],"error":null,"media":null,"edited_at":null,"edits":[],"deleted_at":null,"call":null,"labels":["billing","vip"],"agent":"alice"}"#,
        ])
        #expect(try exportLines(db).count == 5)
        #expect(try exportLines(db, contact: "2348000000002").allSatisfy { $0.contains(#""labels":[],"agent":null}"#) })
    }
}
