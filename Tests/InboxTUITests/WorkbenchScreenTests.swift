import Foundation
import InboxCore
import InboxStore
import InboxTesting
@testable import InboxTUI
import Simulator
import Testing

/// The workbench on the in-memory screen: reactions with ticks, reply buttons, the phone
/// app's messages, the contact panel, the raw view and the bell.
@Suite struct WorkbenchScreenTests {
    let amelie = SimulatedCustomer(name: "Amélie Laurent", waID: "33612345678")
    let builder = WebhookBuilder()

    /// A harness with Amélie's message of a few minutes ago, her thread open and focused.
    private func harness(width: Int = 80, height: Int = 24, agent: String? = nil) async throws -> ScreenHarness {
        let h = try await ScreenHarness(width: width, height: height, agent: agent)
        _ = try await h.database.ingest(Fixtures.webhook(body: builder.message(
            from: amelie, .text("Bonjour, ma commande ?"), id: "wamid.IN-amelie", timestamp: ScreenHarness.fixedNow - 300)))
        try await h.settle { h.screen.contains("Bonjour, ma commande ?") }
        h.press(.enter)
        return h
    }

    /// The style of the cell where `text` starts on the screen, its lowest row first (the
    /// thread's, not the list's preview).
    private func style(of text: String, in h: ScreenHarness) -> Style? {
        let buffer = h.buffer
        for y in (0..<buffer.height).reversed() {
            let line = buffer.lines[y]
            guard let range = line.range(of: text) else { continue }
            let cells = TerminalText.width(of: line[line.startIndex..<range.lowerBound])
            var seen = 0
            for x in 0..<buffer.width where !buffer[x, y].isContinuation {
                if seen == cells { return buffer[x, y].style }
                seen += 1
            }
        }
        return nil
    }

    @Test func aReactionIsPickedAndShowsUnderTheMessageWithItsTick() async throws {
        let h = try await harness()
        h.press(.up, .character("+"))
        #expect(h.screen.contains("React — ← → Enter, or 1–6; Esc closes"))
        #expect(h.screen.contains("👍"))
        #expect(h.screen.contains("or type one:"))
        h.press(.right, .enter)
        try await h.settle { h.screen.contains("❤️◷") }
        #expect(style(of: "◷", in: h) == Theme.builtIn[.tickPending])
        // The reaction is not a message of its own in the list.
        #expect(h.lines[2].contains("Bonjour, ma commande ?"), "\(h.screen)")
        // Picking it again offers to remove it.
        h.press(.character("+"))
        #expect(h.screen.contains("yours now: ❤️, choose it again to remove it"))
        h.press(.escape)
    }

    @Test func replyButtonsAreTitledOnTheComposeLineAndShownAsSent() async throws {
        let h = try await harness()
        h.type("Livraison demain ?")
        h.press(.control("b"))
        #expect(h.screen.contains("┃ buttons for: Livraison demain ?"))
        #expect(h.screen.contains("button 1 of 3 › a button title"))
        h.type("Oui")
        h.press(.enter)
        #expect(h.screen.contains("buttons for: Livraison demain ? · [ Oui ]"))
        #expect(h.screen.contains("button 2 of 3 ›"))
        h.type("Non, vendredi")
        h.press(.enter)
        h.press(.enter)
        try await h.settle { h.screen.contains("[ Oui ] [ Non, vendredi ]") }
        #expect(h.screen.contains("Livraison demain ?"))

        // The customer taps a button: their answer quotes the question.
        let openID = try #require(h.app.state.open?.id)
        let sent = try #require(try h.database.messages(in: openID).items.last)
        try await h.database.markAccepted(localID: try #require(sent.localID), wamid: MessageID("wamid.OUT-q"),
                                          at: ScreenHarness.fixedNow)
        _ = try await h.database.ingest(Fixtures.webhook(body: builder.message(
            from: amelie, .buttonReply(id: "wabox-1", title: "Oui"), id: "wamid.IN-oui", timestamp: ScreenHarness.fixedNow,
            replyTo: "wamid.OUT-q")))
        try await h.settle { h.screen.contains("[button] Oui") }
        #expect(h.screen.contains("┃ Livraison demain ?"))
    }

    @Test func aMessageFromThePhoneAppIsOutboundAndMarked() async throws {
        let h = try await harness()
        _ = try await h.database.ingest(Fixtures.webhook(body: builder.echo(
            to: amelie, .text("Je vous rappelle"), id: "wamid.ECHO-1", timestamp: ScreenHarness.fixedNow - 60)))
        try await h.settle { h.screen.contains("Je vous rappelle") }
        let row = try #require(h.lines.lastIndex { $0.contains("Je vous rappelle") })
        let trimmed = { (line: String) in line.trimmingCharacters(in: .whitespaces) }
        #expect(trimmed(h.lines[row - 1]).hasSuffix("sent from the phone app"), "\(h.screen)")
        #expect(trimmed(h.lines[row]).hasSuffix("Je vous rappelle"), "right-aligned as an outbound message")
        #expect(style(of: "Je vous rappelle", in: h) == Theme.builtIn[.outbound])
    }

    @Test func theContactPanelSaysWhoTheCustomerIs() async throws {
        let h = try await harness(agent: "alice")
        h.press(.escape, .character("a"))
        try await h.settle { h.app.state.open?.assignee == "alice" }
        h.press(.character("i"))
        try await h.settle { h.screen.contains("Amélie Laurent — any key closes") }
        for expected in ["number      +33612345678", "user id     " + SimulatedCustomer.userID(forWaID: "33612345678"),
                         "writes to   +15550783881", "messages    1 received · 0 sent", "window      open, 23h54m left",
                         "claimed by  alice (you) since", "labels      not kept by this version"] {
            #expect(h.screen.contains(expected), "missing \(expected)\n\(h.screen)")
        }
        h.press(.character("x"))
        #expect(!h.screen.contains("any key closes"))
        #expect(h.app.state.open?.resolvedAt == nil, "the key that closes the panel does nothing else")
        // On a narrow screen the panel fits.
        let narrow = try await harness(width: 40, height: 12)
        narrow.press(.escape, .character("i"))
        try await narrow.settle { narrow.screen.contains("any key closes") }
        for line in narrow.lines { #expect(TerminalText.width(of: line) == 40, "\(line)") }
    }

    @Test func theRawViewShowsTheWebhookPrettyPrintedAndSanitised() async throws {
        let h = try await ScreenHarness(width: 100, height: 30)
        // JSON escapes C0 controls, but a C1 control (U+009B, CSI) and a bidi override arrive raw.
        let hostile = builder.message(from: amelie, .text("evil \u{1b}]0;owned\u{07} text \u{9b}31m \u{202e}txet"), id: "wamid.IN-raw",
                                      timestamp: ScreenHarness.fixedNow - 30)
        _ = try await h.database.ingest(Fixtures.webhook(body: hostile, receivedAt: ScreenHarness.fixedNow - 29))
        try await h.settle { h.screen.contains("Amélie Laurent") }
        h.press(.enter, .up, .character("J"))
        try await h.settle { h.screen.contains("webhook #") }
        #expect(h.screen.contains("received Sat 29 Nov 2025 08:39:31"), "\(h.screen)")
        #expect(h.screen.contains(#""id": "wamid.IN-raw","#))
        #expect(h.screen.contains(#""object": "whatsapp_business_account""#))
        // The escape in the customer's text is shown as JSON wrote it, never sent to the terminal.
        #expect(h.screen.contains(#"evil \u001b]0;owned\u0007 text"#), "\(h.screen)")
        let drawn = h.buffer.lines.joined().unicodeScalars
        #expect(!drawn.contains { $0.value == 0x1b || $0.value == 0x07 || $0.value == 0x9b || $0.value == 0x202e })
        h.press(.character("g"))
        #expect(h.screen.contains("line 1 of"))
        h.press(.escape)
        #expect(!h.screen.contains("webhook #"))
    }

    @Test func aNewMessageElsewhereRingsTheBellButTheBacklogAndTheOpenThreadDoNot() async throws {
        let h = try await ScreenHarness(fixtures: ["text", "multi_entry"])
        try await h.settle { !h.screen.isEmpty }
        for _ in 0..<3 { h.app.step() }
        #expect(h.backend.alerts.isEmpty, "the backlog rang")
        let open = try #require(h.app.state.open).contact
        // A message in the conversation on screen: no bell.
        let again = SimulatedCustomer(name: open.name, waID: open.waID?.rawValue, userID: open.userID?.rawValue,
                                      username: open.username)
        _ = try await h.database.ingest(Fixtures.webhook(body: builder.message(from: again, .text("me again"),
                                                                               timestamp: ScreenHarness.fixedNow)))
        try await h.settle { h.screen.contains("me again") }
        #expect(h.backend.alerts.isEmpty)
        // A new customer: the bell, once.
        _ = try await h.database.ingest(Fixtures.webhook(body: builder.message(
            from: SimulatedCustomer(name: "Zoë", waID: "46701234567"), .text("Hej!"), timestamp: ScreenHarness.fixedNow)))
        try await h.settle { h.screen.contains("Zoë") }
        #expect(h.backend.alerts == [.bell])
    }
}
