import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// What is stored is what is read back, shown and exported (issue 15).
@Suite struct FidelityTests {
    // MARK: - Text is never cut

    @Test func textWithANulIsExportedWhole() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.nul", from: "15550001", name: "Nul", timestamp: 10,
                                            body: #"before\u0000after"#))
        _ = try await db.ingest(webhook("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Nul"},"wa_id":"15550001"}],
              "messages":[{"from":"15550001","id":"wamid.nul.image","timestamp":"11","type":"image",
                           "image":{"id":"m1","mime_type":"image/jpeg","caption":"le\\u0000colis"}}]}}]}]}
            """))
        let lines = try exportLines(db)
        #expect(lines.first == #"{"id":"wamid.nul","phone_number_id":"106540352242922","contact":{"wa_id":"15550001","user_id":null,"username":null,"name":"Nul","marketing_opt_out":false},"direction":"in","type":"text","text":"before\u0000after","caption":null,"timestamp":10,"status":"received","reply_to":null,"reactions":[],"error":null,"media":null,"edited_at":null,"edits":[],"deleted_at":null,"call":null,"labels":[],"agent":null}"#)
        #expect(lines.last?.contains(#""caption":"le\u0000colis""#) == true, "\(lines)")
    }

    @Test func textWithANulIsReadWholeByTheThreadTheListAndSearch() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.nul", from: "15550001", name: "Nul", timestamp: 10,
                                            body: #"before\u0000after"#))
        let conversation = try #require(try db.conversations().items.first)
        #expect(conversation.lastMessage?.content == .text(body: "before\u{0}after"))
        #expect(try db.messages(in: conversation.id).items.first?.content == .text(body: "before\u{0}after"))
        // Indexed or not yet indexed, the hit's snippet carries the text after the NUL.
        _ = try db.indexMessagesForSearch()
        let hit = try #require(try db.searchMessages("after").first)
        #expect(hit.snippet.contains("after"), "\(hit.snippet)")
        let unindexed = try InboxDatabase(path: temp.path, configuration: .init(indexesSearch: false))
        _ = try await unindexed.ingest(textWebhook(id: "wamid.nul.2", from: "15550001", name: "Nul", timestamp: 12,
                                                   body: #"first\u0000second"#))
        let pending = try #require(try unindexed.searchMessages("second").first)
        #expect(pending.snippet.contains("second"), "\(pending.snippet)")
    }

    // MARK: - Accepted is not sent

    @Test func aSendTheCloudAPITookIsAcceptedUntilAStatusWebhookSaysMore() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try db.conversations().items.first)
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "on it"), localID: "l-1", at: 1_764_404_000)
        try await db.markAccepted(localID: "l-1", wamid: "wamid.out.A", at: 1_764_404_001)
        #expect(try db.message("wamid.out.A")?.status?.rawValue == "accepted")
        #expect(try exportLines(db).last?.contains(#""status":"accepted""#) == true)
        _ = try await db.ingest(statusWebhook(id: "wamid.out.A", status: "sent", timestamp: 1_764_404_002))
        #expect(try db.message("wamid.out.A")?.status == .sent)

        // An accepted message may still fail.
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "again"), localID: "l-2", at: 1_764_404_010)
        try await db.markAccepted(localID: "l-2", wamid: "wamid.out.B", at: 1_764_404_011)
        _ = try await db.ingest(statusWebhook(id: "wamid.out.B", status: "failed", timestamp: 1_764_404_012, errorCode: 131026))
        #expect(try db.message("wamid.out.B")?.status == .failed)

        // Statuses that came before the answer still apply: accepted does not move them back.
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "fast"), localID: "l-3", at: 1_764_404_020)
        _ = try await db.ingest(statusWebhook(id: "wamid.out.C", status: "delivered", timestamp: 1_764_404_022, callback: "l-3"))
        try await db.markAccepted(localID: "l-3", wamid: "wamid.out.C", at: 1_764_404_023)
        #expect(try db.message("wamid.out.C")?.status == .delivered)
    }

    // MARK: - A changed number keeps one customer

    /// Amélie (fixture "text") moves from 33612345678 to 33698765432.
    private func amelieChangedNumber() async throws -> TemporaryDatabase {
        let temp = try TemporaryDatabase()
        _ = try await temp.database.ingest(Fixtures.webhook("text"))
        _ = try await temp.database.ingest(Fixtures.webhook("changed_number"))
        return temp
    }

    @Test func aLateMessageFromTheOldNumberJoinsTheSameCustomer() async throws {
        let temp = try await amelieChangedNumber()
        defer { temp.remove() }
        let db = temp.database
        // Sent before the change, delivered after it, in the older payload shape (no user id).
        _ = try await db.ingest(textWebhook(id: "wamid.late", from: "33612345678", name: "Amélie Laurent",
                                            timestamp: 1_764_403_700, body: "sent from the old phone"))
        #expect(try db.counts().contacts == 1)
        let conversations = try db.conversations().items
        #expect(conversations.count == 1)
        let conversation = try #require(conversations.first)
        #expect(conversation.contact.waID == "33698765432")
        #expect(try db.messages(in: conversation.id).items.map(\.wamid?.rawValue).contains("wamid.late"))
        // A message without a profile is not a different one.
        _ = try await db.ingest(textWebhook(id: "wamid.late.2", from: "33612345678", timestamp: 1_764_403_750))
        #expect(try db.counts().contacts == 1)
    }

    @Test func theOldNumberWithAnotherProfileIsANewCustomer() async throws {
        let temp = try await amelieChangedNumber()
        defer { temp.remove() }
        let db = temp.database
        // The number was given to someone else.
        _ = try await db.ingest(textWebhook(id: "wamid.bruno", from: "33612345678", name: "Bruno Costa",
                                            timestamp: 1_764_404_000, body: "hello, new here"))
        #expect(try db.counts().contacts == 2)
        let bruno = try #require(try db.contacts(matching: "33612345678").first)
        #expect(bruno.name == "Bruno Costa")
        let amelie = try #require(try db.contacts(matching: "33698765432").first)
        #expect(amelie.id != bruno.id)
        #expect(amelie.name == "Amélie Laurent")
        // From now on the number is Bruno's, whatever name it shows.
        _ = try await db.ingest(textWebhook(id: "wamid.bruno.2", from: "33612345678", name: "Amélie Laurent",
                                            timestamp: 1_764_404_100))
        #expect(try db.contacts(matching: "33612345678").map(\.id) == [bruno.id])
        #expect(try db.counts().contacts == 2)
    }

    @Test func theOldNumberWithAnotherUserIDIsANewCustomer() async throws {
        let temp = try await amelieChangedNumber()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.other", from: "33612345678", userID: "FR.1111111111",
                                            name: "Amélie Laurent", timestamp: 1_764_404_000))
        #expect(try db.counts().contacts == 2)
        #expect(try db.contacts(matching: "FR.8837465512093847561").first?.waID == "33698765432")
    }
}
