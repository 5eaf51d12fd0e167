import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

private let amelie = "33612345678"

/// The thread of a customer who edited, deleted, called, and sent what wabox could not
/// read, all before 08:40 on Sat 29 Nov 2025 (the harness's clock).
private func ingestUpdates(_ database: InboxDatabase) async throws {
    let bodies = [
        UpdateBodies.text(id: "wamid.o1", from: amelie, timestamp: 1_764_403_200, body: "Ma commande 4471 est perdue"),
        UpdateBodies.edit(id: "wamid.e1", of: "wamid.o1", from: amelie, timestamp: 1_764_403_500,
                          body: "Ma commande 4472 est arrivée"),
        UpdateBodies.text(id: "wamid.o2", from: amelie, timestamp: 1_764_403_600, body: "mon code secret 1234"),
        UpdateBodies.revoke(id: "wamid.r2", of: "wamid.o2", from: amelie, timestamp: 1_764_403_700),
        UpdateBodies.call(id: "wacid.c1", from: amelie, name: "Amélie Laurent", event: "terminate", timestamp: 1_764_404_000,
                          status: "COMPLETED", duration: 125),
        UpdateBodies.call(id: "wacid.c2", from: amelie, name: "Amélie Laurent", event: "terminate", timestamp: 1_764_404_100,
                          status: "FAILED"),
        UpdateBodies.interactiveWithoutPayload(id: "wamid.u1", from: amelie, name: "Amélie Laurent", timestamp: 1_764_404_200),
        UpdateBodies.call(id: "wacid.c3", from: amelie, name: "Amélie Laurent", event: "connect", timestamp: 1_764_405_000),
    ]
    for body in bodies { _ = try await database.ingest(Fixtures.webhook(body: body)) }
}

@Suite struct UpdateScreenTests {
    @Test func editedDeletedCallsAndUnreadableInTheThread() async throws {
        let h = try await ScreenHarness(width: 100, height: 30)
        try await ingestUpdates(h.database)
        h.app.step()
        let screen = h.screen
        for expected in ["Ma commande 4472 est arrivée", "08:00 · edited 08:05", "deleted by the customer at 08:08",
                         "08:11 · call from Amélie Laurent, answered, 2m 05s",
                         "08:15 · missed call from Amélie Laurent (wabox does not", "answer calls)",
                         "a message wabox could not read (interactive)", "pick it and press d to see it as it came",
                         "08:30 · Amélie Laurent is calling: wabox does not"] {
            #expect(screen.contains(expected), "missing \(expected)\n\(screen)")
        }
        // The replaced and the deleted words are not drawn.
        #expect(!screen.contains("4471"))
        #expect(!screen.contains("secret"))
        // The list's preview is the newest: the call ringing now.
        #expect(h.lines[2].contains("Amélie Laurent is calling"))
        for line in h.lines { #expect(TerminalText.width(of: line) == 100, "\(line)") }
    }

    @Test func theDetailsShowEarlierVersionsAndTheRawMessage() async throws {
        let h = try await ScreenHarness(width: 100, height: 30)
        try await ingestUpdates(h.database)
        h.app.step()
        // Into the thread, then up to the edited message (the first).
        h.press(.enter)
        h.press(.up, .character("g"))
        h.press(.character("d"))
        var screen = h.screen
        #expect(screen.contains("Message — any key closes"), "\(screen)")
        #expect(screen.contains("edited Sat 29 Nov 2025 08:05; before:"), "\(screen)")
        #expect(screen.contains("08:00  Ma commande 4471 est perdue"), "\(screen)")
        h.press(.character("x"))
        #expect(!h.screen.contains("Message — any key closes"))
        // The unreadable one: its reason and the message as it came.
        h.press(.character("G"), .up)
        h.press(.character("d"))
        screen = h.screen
        #expect(screen.contains("wabox could not read it: the interactive message has no interactive"), "\(screen)")
        #expect(screen.contains("as it came:"), "\(screen)")
        #expect(screen.contains(#"{"from":"33612345678","id":"wamid.u1","timestamp":"1764404200""#), "\(screen)")
    }

    @Test func showDeletedStrikesTheWordsThrough() async throws {
        let h = try await ScreenHarness(width: 100, height: 30, showDeleted: true)
        try await ingestUpdates(h.database)
        h.app.step()
        let struck = String("secret".map { Character(String($0) + "\u{0336}") })
        #expect(h.screen.contains(struck), "\(h.screen)")
        #expect(h.screen.contains("deleted by the customer at 08:08"))
    }

    @Test func anAccountAlertShowsOnTheStatusBarOfEveryScreen() async throws {
        var listener = ListenerStatus(address: "127.0.0.1:8080", isUp: true)
        listener.alerts = ["Meta restricted the account: templates and any message the business starts will fail"]
        for (width, height) in [(80, 24), (40, 12)] {
            let h = try await ScreenHarness(width: width, height: height, fixtures: ["text"], listener: listener)
            let bar = try #require(h.lines.last)
            #expect(bar.contains("Meta restricted"), "\(width)x\(height): \(bar)")
            // Drawn as a problem, not as a hint.
            let buffer = try #require(h.backend.lastFrame?.buffer)
            let column = try #require(bar.range(of: "Meta").map { TerminalText.width(of: bar[..<$0.lowerBound]) })
            #expect(buffer[column, height - 1].style == Theme.builtIn[.statusError], "\(width)x\(height)")
        }
        // A halt an alert raised reads as the alert's words.
        listener.alerts = []
        listener.sending = .halted("sending halted: Meta disabled the account: nothing will send until Meta reinstates it")
        let halted = try await ScreenHarness(fixtures: ["text"], listener: listener)
        #expect(halted.lines.last?.contains("sending halted: Meta disabled the account") == true)
    }

    @Test func thePickerHidesMarketingForACustomerWhoSaidStopAndShowsQuality() {
        var state = AppState(width: 80, height: 24, now: 1_764_405_600)
        let conversation = ConversationSummary(
            id: ConversationID(rawValue: 1), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: "Ana", marketingOptOutAt: 1_764_400_000),
            lastActivityAt: 1_764_000_000, lastInboundAt: 1_764_000_000, unreadCount: 0, lastMessage: nil)
        _ = reduce(&state, .conversationsLoaded([conversation], hasMore: false))
        _ = reduce(&state, .key(.enter))
        _ = reduce(&state, .key(.control("t")))
        _ = reduce(&state, .templatesLoaded([
            TemplateChoice(name: "order_update", language: "en_US", body: "Hello {{1}}", parameterCount: 1,
                           category: "UTILITY", quality: "GREEN"),
            TemplateChoice(name: "spring_sale", language: "en_US", body: "20% off!", parameterCount: 0,
                           category: "MARKETING", quality: "RED"),
        ]))
        let text = render(state, theme: .builtIn).buffer.lines.joined(separator: "\n")
        #expect(text.contains("order_update (en_US) GREEN"), "\(text)")
        #expect(!text.contains("spring_sale"), "\(text)")
        #expect(text.contains("1 marketing template hidden: Ana asked on Sat 29 Nov"), "\(text)")
        #expect(state.templatePicker?.templates?.map(\.name) == ["order_update"])

        // Only marketing templates: the picker says why there is nothing to pick.
        _ = reduce(&state, .templatesLoaded([
            TemplateChoice(name: "spring_sale", language: "en_US", body: "20% off!", parameterCount: 0, category: "MARKETING"),
        ]))
        #expect(state.templatePicker?.error?.contains("asked on Sat 29 Nov 2025 to stop marketing messages") == true)
        // A customer who did not opt out sees them all.
        var other = AppState(width: 80, height: 24, now: 1_764_405_600)
        var open = conversation
        open.contact.marketingOptOutAt = nil
        _ = reduce(&other, .conversationsLoaded([open], hasMore: false))
        _ = reduce(&other, .key(.enter))
        _ = reduce(&other, .key(.control("t")))
        _ = reduce(&other, .templatesLoaded([
            TemplateChoice(name: "spring_sale", language: "en_US", body: "20% off!", parameterCount: 0, category: "MARKETING"),
        ]))
        #expect(other.templatePicker?.templates?.map(\.name) == ["spring_sale"])
        #expect(other.templatePicker?.note == nil)
    }
}
