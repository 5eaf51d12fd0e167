import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// The screen shows what happened (issue 15): whole texts, and no tick before WhatsApp sent.
@Suite struct FidelityScreenTests {
    private func text(_ id: String, _ body: String, at timestamp: Int64) -> IncomingWebhook {
        Fixtures.webhook(body: Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Nul"},"wa_id":"15550001"}],
              "messages":[{"from":"15550001","id":"\(id)","timestamp":"\(timestamp)","type":"text","text":{"body":"\(body)"}}]}}]}]}
            """.utf8))
    }

    @Test func aNulShowsAsItsPlaceholderInTheListTheThreadAndSearch() async throws {
        let h = try await ScreenHarness(width: 100, height: 24)
        _ = try await h.database.ingest(text("wamid.nul", #"before\u0000after"#, at: ScreenHarness.fixedNow - 60))
        try await h.settle { h.screen.components(separatedBy: "before␀after").count == 3 }
        #expect(h.screen.components(separatedBy: "before␀after").count == 3, "list and thread\n\(h.screen)")
        h.press(.character("s"))
        h.type("after")
        try await h.settle { h.lines[2].contains("before␀after") }
        #expect(h.lines[2].contains("before␀after"), "\(h.screen)")
    }

    @Test func anAcceptedReplyShowsAClockNotATick() async throws {
        let h = try await ScreenHarness(width: 100, height: 24)
        _ = try await h.database.ingest(text("wamid.in", "hello", at: ScreenHarness.fixedNow - 60))
        let conversation = try #require(try h.database.conversations().items.first)
        try await h.database.enqueueOutbound(in: conversation.id, content: .text(body: "taken reply"), localID: "l-1",
                                             at: ScreenHarness.fixedNow - 30)
        try await h.database.markAccepted(localID: "l-1", wamid: "wamid.out.1", at: ScreenHarness.fixedNow - 29)
        try await h.settle { h.screen.contains("taken reply") }
        // The thread's bubble, then its time line with the clock; the list's preview likewise.
        let bubble = try #require(h.lines.lastIndex { $0.contains("taken reply") })
        let meta = h.lines[bubble + 1]
        #expect(meta.contains("◶") && !meta.contains("✓"), "\(h.screen)")
        #expect(h.lines[2].contains("◶ taken reply"), "\(h.screen)")
    }

    @Test func aHeldTemplateSaysSoInTheThread() async throws {
        let h = try await ScreenHarness(width: 100, height: 24)
        _ = try await h.database.ingest(text("wamid.in", "hello", at: ScreenHarness.fixedNow - 60))
        let conversation = try #require(try h.database.conversations().items.first)
        try await h.database.enqueueTemplate(in: conversation.id, template: TemplateMessage(name: "order_update", languageCode: "en"),
                                             localID: "l-1", at: ScreenHarness.fixedNow - 30)
        try await h.database.markAccepted(localID: "l-1", wamid: "wamid.held", heldForQualityReview: true,
                                          at: ScreenHarness.fixedNow - 29)
        try await h.settle { h.screen.contains("held by WhatsApp for quality review") }
        #expect(h.screen.contains("held by WhatsApp for quality review"), "\(h.screen)")
        // Once WhatsApp sends it, the note goes.
        _ = try await h.database.ingest(Fixtures.webhook(body: Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"106540352242922"},
              "statuses":[{"id":"wamid.held","status":"sent","timestamp":"\(ScreenHarness.fixedNow - 10)","recipient_id":"15550001"}]}}]}]}
            """.utf8)))
        try await h.settle { !h.screen.contains("held by WhatsApp") }
        #expect(!h.screen.contains("held by WhatsApp"), "\(h.screen)")
    }
}
