import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// The demo names the customers whose replies do not simply go through.
@Suite struct DemoHintTests {
    @Test func theSelectedCustomersHintTakesThePlaceOfTheKeys() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        _ = try await temp.database.ingest([Fixtures.webhook("text"), Fixtures.webhook("username_only")])
        let hint = "this customer's number is not on WhatsApp: see how a failure is explained"
        var configuration = InboxApp.Configuration(utcOffset: 0, pollMilliseconds: 0, reloadInterval: .zero)
        configuration.hints = ["33612345678": hint]
        let backend = InMemoryBackend(width: 120, height: 24)
        let app = InboxApp(database: temp.database, backend: backend, theme: .builtIn, configuration: configuration,
                           clock: { 1_764_405_600 }, listenerStatus: { ListenerStatus(isDemo: true) })
        app.step()
        // The newest conversation (the username-only customer) has no hint: the keys show.
        #expect(backend.lines.last?.hasSuffix("/ filter  s search  u unread  ? help  q quit ") == true, "\(backend.text)")
        backend.pendingKeys = [.character("j")]
        app.step()
        #expect(backend.lines[3].contains("Amélie Laurent"), "\(backend.text)")
        #expect(backend.lines.last?.hasSuffix(hint + " ") == true, "\(backend.text)")
        #expect(backend.lines.last?.contains("q quit") == false)
    }
}
