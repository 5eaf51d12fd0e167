import CloudAPI
import Foundation
import Hummingbird
import InboxCore
import InboxStore
import InboxTesting
import Logging
import ServiceLifecycle
import Simulator
import Synchronization
import Testing
import WebhookServer

let accessToken = "test-access-token-5f2c9a"
let businessNumber: PhoneNumberID = "106540352242922"
let customer = "33612345678"
let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

func client(_ url: String, token: String = accessToken) -> GraphCloudClient {
    GraphCloudClient(configuration: .init(graphURL: url, graphVersion: "v26.0", accessToken: token, timeout: .seconds(30)),
                     logger: quiet)
}

func json(_ text: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

/// A clock the test moves by hand: nothing waits for real.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64 = 1_764_403_300_000) { value = Mutex(start) }
    var now: Int64 { value.withLock { $0 } }
    func advance(_ milliseconds: Int64) { value.withLock { $0 += milliseconds } }

    /// No jitter, so that delays are exactly the policy's.
    var senderClock: OutboxSender.Clock {
        OutboxSender.Clock(now: { self.now }, sleep: { self.advance($0) }, jitter: { $0 })
    }
}

/// A temporary database holding one conversation with Amélie (wa_id 33612345678) on
/// `businessNumber`, whose last message came at 1764403200.
func inboxWithConversation() async throws -> (TemporaryDatabase, ConversationID) {
    let temp = try TemporaryDatabase()
    _ = try await temp.database.ingest(Fixtures.webhook("text"))
    let conversation = try #require(try temp.database.conversations().items.first)
    return (temp, conversation.id)
}

/// Runs a Hummingbird application on a free loopback port for the duration of `body`,
/// then shuts it down gracefully.
func withRunning<App: ApplicationProtocol, T: Sendable>(
    _ makeApp: (@escaping @Sendable (Int) async -> Void) -> App, _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let app = makeApp { port in continuation.yield(port) }
    let services = ServiceGroup(configuration: .init(services: [app], logger: quiet))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await services.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        do {
            let result = try await body(port)
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            return result
        } catch {
            await services.triggerGracefulShutdown()
            throw error
        }
    }
}

/// The real listener on loopback, writing into `database`.
func withListener<T: Sendable>(_ database: InboxDatabase, _ body: @Sendable (String) async throws -> T) async throws -> T {
    try await withRunning({ onRunning in
        makeWebhookApplication(
            configuration: WebhookConfiguration(host: "127.0.0.1", port: 0, verifyToken: Fixtures.verifyToken,
                                                appSecret: Fixtures.appSecret),
            database: database, logger: quiet, onServerRunning: onRunning)
    }) { port in try await body("http://127.0.0.1:\(port)/webhook") }
}

/// The outcome of an async call with typed throws, as a `Result`.
func outcome<T>(_ body: () async throws(CloudFailure) -> T) async -> Result<T, CloudFailure> {
    do throws(CloudFailure) {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}
