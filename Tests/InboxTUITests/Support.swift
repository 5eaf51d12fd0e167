import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI

/// An app on a temporary database and an in-memory terminal, driven step by step.
final class ScreenHarness {
    let temp: TemporaryDatabase
    let backend: InMemoryBackend
    let app: InboxApp
    nonisolated(unsafe) static var fixedNow: Int64 = 1_764_405_600  // Sat 29 Nov 2025 08:40 UTC

    init(width: Int = 80, height: Int = 24, theme: Theme = .builtIn, fixtures: [String] = [],
         now: Int64 = ScreenHarness.fixedNow, listener: ListenerStatus = ListenerStatus()) async throws {
        temp = try TemporaryDatabase()
        for name in fixtures {
            _ = try await temp.database.ingest(Fixtures.webhook(name))
        }
        backend = InMemoryBackend(width: width, height: height)
        app = InboxApp(database: temp.database, backend: backend, theme: theme,
                       configuration: .init(utcOffset: 0, asciiOnly: false, pollMilliseconds: 0),
                       clock: { now }, listenerStatus: { listener })
        app.step()
    }

    var database: InboxDatabase { temp.database }

    /// Types keys and runs the loop until they are handled.
    func press(_ keys: Key...) {
        backend.pendingKeys += keys
        app.step()
    }

    func type(_ text: String) {
        backend.type(text)
        app.step()
    }

    /// Runs the loop until `condition` holds (background writes finish), with a deadline.
    func settle(_ condition: () -> Bool = { true }) async throws {
        let deadline = Date().addingTimeInterval(5)
        repeat {
            app.step()
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        } while Date() < deadline
    }

    var screen: String { backend.text }
    var lines: [String] { backend.lines }

    deinit { temp.remove() }
}
