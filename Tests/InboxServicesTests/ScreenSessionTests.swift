import Foundation
import InboxCore
import InboxServices
import InboxStore
import InboxTesting
import InboxTUI
import Logging
import Simulator
import Synchronization
import Testing
import WebhookServer

/// A terminal in memory that the session's thread reads and the test's task writes.
final class SharedTerminal: SessionTerminal, @unchecked Sendable {
    private struct State {
        var keys: [Key] = []
        var text = ""
        var closed = false
        var woken: Int32?
    }

    private let state = Mutex(State())
    private let screen = InMemoryBackend(width: 80, height: 24)

    var size: (width: Int, height: Int) { screen.size }
    let isUTF8 = true
    let colorCount = 256

    func draw(_ frame: Frame) {
        screen.draw(frame)
        let text = screen.text
        state.withLock { $0.text = text }
    }

    func readKey(timeoutMilliseconds: Int) -> Key? {
        let deadline = Date().addingTimeInterval(Double(timeoutMilliseconds) / 1000)
        repeat {
            if let key = state.withLock({ $0.keys.isEmpty ? nil : $0.keys.removeFirst() }) { return key }
            if timeoutMilliseconds > 0 { usleep(5_000) }
        } while Date() < deadline
        return nil
    }

    func alert(_ alert: TerminalAlert) { screen.alert(alert) }

    func pendingSignal() -> Int32 { 0 }

    func wake(on descriptor: Int32, drain: @escaping () -> Void) {
        state.withLock { $0.woken = descriptor }
    }

    func close() { state.withLock { $0.closed = true } }

    func press(_ keys: Key...) { state.withLock { $0.keys += keys } }
    var text: String { state.withLock { $0.text } }
    var isClosed: Bool { state.withLock { $0.closed } }
    var wakeDescriptor: Int32? { state.withLock { $0.woken } }
}

@Suite struct ScreenSessionTests {
    /// The embedded inbox in-process: the session takes the lease, listens on a free
    /// port, shows a webhook posted to it, and gives everything back on `q`.
    @Test func embeddedSessionListensShowsAndQuits() async throws {
        let temp = try TemporaryDatabase(configuration: .init(account: "alice"))
        defer { temp.remove() }
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let terminal = SharedTerminal()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var session = ScreenSession(database: temp.database, theme: .builtIn, logger: quiet)
        session.services.listener = WebhookConfiguration(host: "127.0.0.1", port: 0, verifyToken: Fixtures.verifyToken,
                                                         appSecret: Fixtures.appSecret)
        session.services.onListening = { continuation.yield($0) }
        session.preferences.utcOffset = 0
        // A loaded machine may take a while to drain the listener; the lease goes last (the
        // wait for the end below outlasts this).
        session.stopTimeout = 60
        let finished = Mutex(false)
        let runner = Thread { [session] in
            session.run { terminal }
            finished.withLock { $0 = true }
        }
        runner.start()

        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let answer = await WebhookPoster(url: "http://127.0.0.1:\(port)/webhook", appSecret: Fixtures.appSecret)
            .post(try Fixtures.data("text"))
        #expect(answer.status == 200, "\(answer)")
        let shown = try await waitUntil(timeout: 20) { terminal.text.contains("127.0.0.1:\(port)") && terminal.text.contains("Amélie Laurent") }
        #expect(shown, "the screen showed:\n\(terminal.text)")
        #expect(try temp.database.currentLease()?.agent == "alice")
        #expect(terminal.wakeDescriptor != nil, "the session hands the terminal the database's wake-up descriptor")

        terminal.press(.character("q"))
        let quit = try await waitUntil(timeout: 90) { finished.withLock { $0 } }
        #expect(quit, "the session did not end on q; the screen showed:\n\(terminal.text)")
        #expect(terminal.isClosed)
        #expect(try temp.database.currentLease() == nil)
    }
}
