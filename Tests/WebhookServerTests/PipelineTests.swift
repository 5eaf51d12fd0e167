import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InboxCore
import InboxStore
import InboxTesting
import Logging
import NIOCore
import Synchronization
import Testing
import WebhookServer

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

private func textWebhook(_ index: Int) -> Data {
    Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"1"},"contacts":[{"profile":{"name":"Q"},"wa_id":"15550001"}],
        "messages":[{"from":"15550001","id":"wamid.queue.\(index)","timestamp":"\(1000 + index)",
        "type":"text","text":{"body":"n\(index)"}}]}}]}]}
        """.utf8)
}

/// A flag shared with escaping closures.
private final class Flag: Sendable {
    private let state = Mutex(false)
    var isSet: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}

/// Holds the database's write lock from another connection, as a long checkpoint or a
/// second writer would, so that the pipeline's writer waits and its queue fills up.
private final class WriteLock: Sendable {
    private let queue: DatabaseQueue
    private let released = Mutex(false)

    init(path: String) throws {
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        // The search indexer of a freshly opened database may hold the lock for a moment.
        configuration.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
    }

    /// Lets the writer go on; later calls do nothing.
    func release() throws {
        let wasHeld = released.withLock { released -> Bool in
            defer { released = true }
            return !released
        }
        guard wasHeld else { return }
        try queue.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
    }
}

@Suite(.timeLimit(.minutes(1))) struct BackpressureTests {
    /// A full queue is answered at once with 503 and `Retry-After`, through the listener's
    /// own connection handling on a real socket; the webhooks it did take are committed and
    /// answered 200 once the writer can go on.
    @Test func fullQueueIsAnswered503WithRetryAfter() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let app = makeWebhookApplication(
            configuration: WebhookConfiguration(host: "127.0.0.1", port: 0, verifyToken: Fixtures.verifyToken,
                                                appSecret: Fixtures.appSecret, queueCapacity: 1),
            database: temp.database, logger: quiet, now: { 1_764_500_000 })
        let lock = try WriteLock(path: temp.path)
        let answers = try await app.test(.live) { client in
            let port = try #require(client.port)
            // The writer can hold one batch and the queue one webhook: of three requests on
            // three connections, at least one finds the queue full.
            return try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?, String).self) { group in
                for index in 0..<3 {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port) { connection in
                            let body = textWebhook(index)
                            let headers: HTTPFields = [
                                HTTPField.Name("X-Hub-Signature-256")!: WebhookSignature(appSecret: Fixtures.appSecret).header(for: body),
                                .contentType: "application/json",
                            ]
                            let response = try await connection.execute(
                                .init("/webhook", method: .post, headers: headers, body: ByteBuffer(bytes: body)))
                            return (response.status, response.headers[.retryAfter], String(buffer: response.body ?? ByteBuffer()))
                        }
                    }
                }
                var answers: [(HTTPResponse.Status, String?, String)] = []
                for try await answer in group {
                    answers.append(answer)
                    if answer.0 == .serviceUnavailable { try lock.release() }
                }
                return answers
            }
        }
        try lock.release()
        let refused = answers.filter { $0.0 == .serviceUnavailable }
        let stored = answers.filter { $0.0 == .ok }
        #expect(refused.count >= 1)
        #expect(refused.count + stored.count == 3)
        for answer in refused {
            #expect(answer.1 == "1")
            #expect(answer.2.contains("retry later"))
        }
        #expect(try temp.database.counts().messages == stored.count)
    }
}

@Suite(.timeLimit(.minutes(1))) struct PipelineCancellationTests {
    /// Cancelling the writer's task (without a graceful shutdown, as when the task that runs
    /// the embedded listener is cancelled) ends `run`, after journaling and answering every
    /// webhook it had queued; later webhooks are refused as `Closed`. The pipeline only
    /// journals: with no applier running, nothing is applied.
    @Test func cancellingTheWriterDrainsTheQueueAndReturns() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let pipeline = IngestPipeline(database: temp.database, logger: quiet)
        let submitted = Task {
            try await withThrowingTaskGroup(of: Journaled.self) { group in
                for index in 0..<20 {
                    group.addTask { try await pipeline.submit(ByteBuffer(bytes: textWebhook(index)), receivedAt: 1_764_500_000) }
                }
                var outcomes: [Journaled] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
        }
        #expect(try await waitUntil { pipeline.depth == 20 })
        let returned = Flag()
        let writer = Task {
            try await pipeline.run()
            returned.set()
        }
        writer.cancel()
        #expect(try await waitUntil { returned.isSet }, "run() did not return after its task was cancelled")
        let outcomes = try await submitted.value
        #expect(Set(outcomes.map(\.journalID)).count == 20)
        #expect(try temp.database.counts().webhooks == 20)
        #expect(try temp.database.counts().messages == 0)
        #expect(try temp.database.journalProgress().lag == 20)
        await #expect(throws: IngestPipeline.Closed.self) {
            _ = try await pipeline.submit(ByteBuffer(bytes: textWebhook(99)), receivedAt: 1_764_500_000)
        }
    }

    /// An idle writer, waiting for webhooks, returns as soon as its task is cancelled.
    @Test func cancellingAnIdleWriterReturns() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let pipeline = IngestPipeline(database: temp.database, logger: quiet)
        let returned = Flag()
        let writer = Task {
            try await pipeline.run()
            returned.set()
        }
        // Once this is answered the writer goes back to waiting for webhooks.
        _ = try await pipeline.submit(ByteBuffer(bytes: textWebhook(1)), receivedAt: 1_764_500_000)
        writer.cancel()
        #expect(try await waitUntil { returned.isSet }, "run() did not return after its task was cancelled")
    }
}

@Suite(.timeLimit(.minutes(1))) struct WebhookChannelHandlerTests {
    /// Requests pipelined on one connection, some served by the channel handler (webhooks)
    /// and some by the router, are answered in the order they were sent.
    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let app = makeWebhookApplication(
            configuration: WebhookConfiguration(host: "127.0.0.1", port: 0, verifyToken: Fixtures.verifyToken,
                                                appSecret: Fixtures.appSecret),
            database: temp.database, logger: quiet, now: { 1_764_500_000 })
        let signature = WebhookSignature(appSecret: Fixtures.appSecret)
        let field = HTTPField.Name("X-Hub-Signature-256")!
        try await app.test(.live) { client in
            // The live test client sends concurrent requests down one connection.
            try await withThrowingTaskGroup(of: (Int, HTTPResponse.Status, String).self) { group in
                for index in 0..<12 {
                    group.addTask {
                        let response: TestResponse
                        switch index % 4 {
                        case 0:
                            let body = textWebhook(index)
                            response = try await client.execute(uri: "/webhook", method: .post,
                                                                headers: [field: signature.header(for: body)],
                                                                body: ByteBuffer(bytes: body))
                        case 1:
                            response = try await client.execute(uri: "/healthz", method: .get)
                        case 2:
                            response = try await client.execute(uri: "/webhook", method: .post,
                                                                headers: [field: "sha256=00"],
                                                                body: ByteBuffer(bytes: textWebhook(index)))
                        default:
                            response = try await client.execute(
                                uri: "/webhook?hub.mode=subscribe&hub.verify_token=\(Fixtures.verifyToken)&hub.challenge=c\(index)",
                                method: .get)
                        }
                        return (index, response.status, String(buffer: response.body))
                    }
                }
                for try await (index, status, body) in group {
                    switch index % 4 {
                    case 0: #expect(status == .ok && body == "EVENT_RECEIVED\n", "request \(index)")
                    case 1: #expect(status == .ok && body.contains(#""status":"ok""#), "request \(index)")
                    case 2: #expect(status == .unauthorized, "request \(index)")
                    default: #expect(status == .ok && body == "c\(index)", "request \(index)")
                    }
                }
            }
        }
        #expect(try temp.database.counts().messages == 3)
    }
}
