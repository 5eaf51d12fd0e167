import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// A customer's text message, signed as the listener would store it.
private func customerWrites(_ name: String, waID: String, id: String, at timestamp: Int64, _ text: String) -> IncomingWebhook {
    Fixtures.webhook(body: Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
          "contacts":[{"profile":{"name":"\(name)"},"wa_id":"\(waID)"}],
          "messages":[{"from":"\(waID)","id":"\(id)","timestamp":"\(timestamp)","type":"text","text":{"body":"\(text)"}}]}}]}]}
        """.utf8))
}

/// Two agents' screens on one database, each with its own connections: what one does
/// shows on the other's screen after its next poll.
@Suite struct SharedScreenTests {
    private let now = ScreenHarness.fixedNow

    private func twoAgents() async throws -> (alice: ScreenHarness, bob: ScreenHarness) {
        let alice = try await ScreenHarness(agent: "alice")
        try alice.database.registerAgent(at: now)
        _ = try await alice.database.ingest(customerWrites("Ana Souza", waID: "5511987654321", id: "w.ana", at: now - 60, "Oi, tudo bem?"))
        _ = try await alice.database.ingest(customerWrites("Ben Okafor", waID: "2348031234567", id: "w.ben", at: now - 120, "Hello?"))
        let bob = try ScreenHarness(sharing: alice, agent: "bob")
        try await alice.settle { alice.screen.contains("Ben Okafor") }
        try await bob.settle { bob.screen.contains("Ben Okafor") }
        return (alice, bob)
    }

    /// The list row (left pane, 30 columns at 80) that names `name`.
    private func row(_ name: String, on harness: ScreenHarness) -> String {
        harness.lines.dropFirst().map { String($0.prefix(30)) }.first { $0.contains(name) } ?? ""
    }

    @Test func aClaimShowsOnTheOtherScreenAndTakingOverNeedsASecondPress() async throws {
        let (alice, bob) = try await twoAgents()
        // Ana is at the top and selected on both screens.
        alice.press(.character("a"))
        try await bob.settle { row("Ana Souza", on: bob).contains("alice") }
        try await alice.settle { alice.screen.contains("claimed") }
        #expect(row("Ana Souza", on: alice).contains("alice"))
        #expect(alice.lines[0].contains("yours"))

        bob.press(.character("a"))
        #expect(bob.screen.contains("alice has this conversation: press a again to take it over"))
        #expect(try alice.database.conversations().items.first?.assignee == "alice")
        bob.press(.character("a"))
        try await alice.settle { row("Ana Souza", on: alice).contains("bob") }
        #expect(alice.lines[0].contains("bob's"))

        // Only mine: Bob sees Ana, Alice sees nothing of hers.
        alice.press(.character("v"))
        try await alice.settle { alice.screen.contains("Nothing open is claimed") }
        #expect(alice.screen.contains("Nothing open is claimed"))
        bob.press(.character("v"))
        try await bob.settle { !bob.screen.contains("Ben Okafor") }
        #expect(bob.screen.contains("Ana Souza"))
        #expect(bob.lines[0].contains("[mine]"))
    }

    @Test func typingShowsOnTheOtherScreenAndStopsWithTheReply() async throws {
        let (alice, bob) = try await twoAgents()
        alice.press(.enter)
        alice.type("Olá Ana")
        try await bob.settle { row("Ana Souza", on: bob).contains("alice") || bob.screen.contains("alice is typing…") }
        #expect(bob.screen.contains("alice is typing…"))
        #expect(!alice.screen.contains("is typing"))

        alice.press(.enter)
        try await bob.settle { !bob.screen.contains("alice is typing…") }
        #expect(!bob.screen.contains("is typing"))
    }

    @Test func readingIsPerAgentAndResolvingIsShared() async throws {
        let (alice, bob) = try await twoAgents()
        #expect(row("Ana Souza", on: bob).contains("(1)"))
        alice.press(.enter)
        try await alice.settle { !row("Ana Souza", on: alice).contains("(1)") }
        try await bob.settle()
        #expect(row("Ana Souza", on: bob).contains("(1)"))

        alice.press(.escape)
        alice.press(.character("x"))
        try await bob.settle { row("Ana Souza", on: bob).contains("done") }
        try await alice.settle { alice.screen.contains("resolved: the customer's next message reopens it") }
        #expect(alice.lines[0].contains("resolved"))

        _ = try await alice.database.ingest(customerWrites("Ana Souza", waID: "5511987654321", id: "w.ana2", at: now, "Ainda aí?"))
        try await bob.settle { row("Ana Souza", on: bob).contains("(2)") }
        #expect(!row("Ana Souza", on: bob).contains("done"))
    }

    /// Bob calls himself alice: both screens still name his account, first, wherever he
    /// appears (his claim, his reply, his status bar); the borrowed name only goes beside it.
    @Test func aBorrowedDisplayNameNeverHidesTheAccount() async throws {
        let alice = try await ScreenHarness(agent: "alice")
        try alice.database.registerAgent(at: now)
        _ = try await alice.database.ingest(customerWrites("Ana Souza", waID: "5511987654321", id: "w.ana", at: now - 60, "Oi, tudo bem?"))
        let bob = try ScreenHarness(sharing: alice, agent: "bob", displayName: "alice")
        try await alice.settle { alice.screen.contains("Ana Souza") }
        try await bob.settle { bob.screen.contains("Ana Souza") }
        #expect(bob.lines[23].contains("bob (alice)"), "\(bob.screen)")

        bob.press(.character("a"))
        try await alice.settle { row("Ana Souza", on: alice).contains("bob") }
        bob.press(.enter)
        bob.type("Bom dia")
        bob.press(.enter)
        alice.press(.enter)
        // The reply's time line, right-aligned under it: who sent it, then when.
        func senderLine(_ harness: ScreenHarness) -> String? {
            guard let index = harness.lines.lastIndex(where: { $0.hasSuffix("Bom dia") || $0.contains("Bom dia ") }),
                  index + 1 < harness.lines.count else { return nil }
            return harness.lines[index + 1]
        }
        for screen in [alice, bob] {
            try await screen.settle { senderLine(screen)?.contains("bob (alice) · 08:40") == true }
            #expect(senderLine(screen)?.contains("bob (alice) · 08:40") == true, "\(screen.screen)")
        }
        // The claim in the header: Bob's on Alice's screen, "yours" on his.
        #expect(alice.lines[0].contains("bob (alice)'s"), "\(alice.screen)")
        #expect(bob.lines[0].contains("yours"))
        // A customer's message names nobody.
        #expect(alice.lines.first { $0.contains("Oi, tudo bem?") }.map { !$0.contains("bob") } == true)
        let open = try #require(alice.app.state.open?.id)
        let sent = try #require(try alice.database.messages(in: open).items.last)
        #expect(sent.agent == "bob")
    }
}
