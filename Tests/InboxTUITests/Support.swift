import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// An app on a temporary database and an in-memory terminal, driven step by step.
final class ScreenHarness {
    let temp: TemporaryDatabase
    /// This screen's own database (its agent's account).
    let database: InboxDatabase
    let backend: InMemoryBackend
    let app: InboxApp
    nonisolated(unsafe) static var fixedNow: Int64 = 1_764_405_600  // Sat 29 Nov 2025 08:40 UTC

    /// Whether this harness made the database (and removes it).
    private let ownsDatabase: Bool

    init(width: Int = 80, height: Int = 24, theme: Theme = .builtIn, fixtures: [String] = [],
         now: Int64 = ScreenHarness.fixedNow, listener: ListenerStatus = ListenerStatus(),
         agent: String? = nil, openCommand: String? = nil, downloadDirectory: String? = nil,
         notify: NotifyMode = .bell, keys: KeyMap = .standard, showDeleted: Bool = false,
         personalReplies: [CannedReply] = [], listWindow: Int = InboxDatabase.listWindow) async throws {
        // The screen's agent is the database's account, as in wabox.
        temp = try TemporaryDatabase(configuration: .init(account: agent))
        database = temp.database
        ownsDatabase = true
        for name in fixtures {
            _ = try await temp.database.ingest(Fixtures.webhook(name))
        }
        backend = InMemoryBackend(width: width, height: height)
        var configuration = InboxApp.Configuration(utcOffset: 0, asciiOnly: false, pollMilliseconds: 0, agent: agent,
                                                   reloadInterval: .zero)
        // Never the real ~/Downloads: a folder in the test's own temporary directory.
        configuration.downloadDirectory = downloadDirectory ?? temp.directory.appendingPathComponent("Downloads").path
        configuration.openCommand = openCommand
        configuration.notify = notify
        configuration.keys = keys
        configuration.showDeleted = showDeleted
        configuration.personalReplies = personalReplies
        configuration.listWindow = listWindow
        app = InboxApp(database: temp.database, backend: backend, theme: theme, configuration: configuration,
                       clock: { now }, listenerStatus: { listener })
        app.step()
    }

    /// A second screen on the same database file, through connections of its own, as
    /// another agent's `wabox` in another SSH session has.
    init(sharing other: ScreenHarness, agent: String, displayName: String? = nil, width: Int = 80, height: Int = 24,
         now: Int64 = ScreenHarness.fixedNow) throws {
        temp = other.temp
        ownsDatabase = false
        database = try other.temp.open(as: agent, displayName: displayName)
        try database.registerAgent(at: now)
        backend = InMemoryBackend(width: width, height: height)
        var configuration = InboxApp.Configuration(utcOffset: 0, asciiOnly: false, pollMilliseconds: 0, agent: agent,
                                                   reloadInterval: .zero)
        configuration.displayName = displayName
        app = InboxApp(database: database, backend: backend, theme: .builtIn, configuration: configuration, clock: { now })
        app.step()
    }

    /// Types keys and runs the loop until they are handled.
    func press(_ keys: Key...) {
        backend.pendingKeys += keys
        app.step()
    }

    func type(_ text: String) {
        backend.type(text)
        app.step()
    }

    /// Runs the loop until `condition` holds (background writes finish), with a deadline;
    /// when the deadline passes, records a failure that shows the screen.
    func settle(timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation,
                _ condition: () -> Bool = { true }) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            app.step()
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        } while Date() < deadline
        Issue.record("the screen never reached the state waited for; it shows:\n\(screen)", sourceLocation: sourceLocation)
    }

    var screen: String { backend.text }
    var lines: [String] { backend.lines }
    /// The last frame drawn, cell by cell.
    var buffer: Buffer { backend.lastFrame?.buffer ?? Buffer(width: 0, height: 0) }

    deinit { if ownsDatabase { temp.remove() } }
}
