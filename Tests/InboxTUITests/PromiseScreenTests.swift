import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// README promises kept by the screen with its real database behind it.
@Suite struct PromiseScreenTests {
    /// `R` on a message marked `?` (outcome unknown) puts it back in the outbox, where the
    /// sender picks it up; the screen shows it waiting again.
    @Test func resendingAnUncertainMessageQueuesItAgain() async throws {
        let h = try await ScreenHarness(fixtures: ["text"])
        let conversation = try #require(try h.database.conversations().items.first)
        try await h.database.enqueueOutbound(in: conversation.id, content: .text(body: "Votre colis arrive"),
                                             localID: "l-unsure", at: ScreenHarness.fixedNow - 30)
        try await h.database.markUncertain(localID: "l-unsure", reason: "no answer from the Cloud API")
        h.press(.enter)
        try await h.settle { h.screen.contains("Votre colis arrive") }
        #expect(try h.database.waitingToSendCount() == 0)
        h.press(.up)
        #expect(h.app.state.pickedMessage != nil)
        h.press(.character("R"))
        try await h.settle { (try? h.database.waitingToSendCount()) == 1 }
        let resent = try #require(try h.database.messages(in: conversation.id).items.last)
        #expect(resent.localID == "l-unsure")
        #expect(resent.status == .pending)
        try await h.settle { h.lines.contains { $0.contains("Votre colis arrive") && $0.contains("◷") } }
    }
}
