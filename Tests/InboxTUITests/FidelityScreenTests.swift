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
}
