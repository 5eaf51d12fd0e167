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
        #expect(lines.first == #"{"id":"wamid.nul","phone_number_id":"106540352242922","contact":{"wa_id":"15550001","user_id":null,"username":null,"name":"Nul"},"direction":"in","type":"text","text":"before\u0000after","caption":null,"timestamp":10,"status":"received","reply_to":null,"reactions":[],"error":null}"#)
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
}
