import Foundation
import HTTPTypes
import HummingbirdCore
import InboxCore
import InboxStore
import InboxTesting
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization
import Testing
@testable import WebhookServer

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

// MARK: - The connection without a socket

/// Stands in for the ingest pipeline: keeps what is enqueued until the test commits it.
private final class ManualCommitter: WebhookCommitter {
    private struct State {
        var waiting: [IngestPipeline.Waiter] = []
        var refusal: (any Error & Sendable)?
    }
    private let state = Mutex(State())

    var waiting: Int { state.withLock { $0.waiting.count } }

    /// Makes `enqueue` throw `error` from now on, as a full or closed pipeline does.
    func refuse(with error: any Error & Sendable) { state.withLock { $0.refusal = error } }

    func enqueue(_ body: ByteBuffer, receivedAt: Int64, waiter: IngestPipeline.Waiter) throws {
        try state.withLock { state in
            if let refusal = state.refusal { throw refusal }
            state.waiting.append(waiter)
        }
    }

    /// The oldest enqueued webhook's commit lands: its answer is called back on its event
    /// loop, as `IngestPipeline` does.
    func commitOldest(_ result: Result<Journaled, any Error> = .success(Journaled(journalID: 1))) {
        let waiter = state.withLock { $0.waiting.removeFirst() }
        guard case .eventLoop(let loop, let callback) = waiter else {
            Issue.record("the channel handler waits with a task")
            return
        }
        loop.execute { callback(result) }
    }
}

/// Stands in for the router at the end of the pipeline: sees the parts that reached it,
/// and, like the router's channel, takes up requests only when a read completes, then
/// answers each (on a later turn of the event loop) with 200 and `router <path>`.
private final class StandInRouter: ChannelInboundHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private var reading: [String] = []
    private var readPaths: [String] = []
    /// The paths of the requests answered, in order.
    private(set) var answered: [String] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): reading.append(head.path ?? "")
        case .body: break
        case .end: readPaths.append(reading.removeFirst())
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        let paths = readPaths
        readPaths.removeAll()
        for path in paths {
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = loopBound.value
                let body = ByteBuffer(string: "router \(path)")
                context.write(handler.wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: [
                    .contentLength: String(body.readableBytes),
                ]))), promise: nil)
                context.write(handler.wrapOutboundOut(.body(body)), promise: nil)
                context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                handler.answered.append(path)
            }
        }
        context.fireChannelReadComplete()
    }
}

/// Counts the reads the pipeline asks of the socket.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    private(set) var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// One listener connection on an `EmbeddedChannel`: the handlers of the listener's own
/// pipeline (connection guard, HTTP/1.1 codec, webhook handler, Hummingbird's connection
/// state handler) in the order the listener adds them, a stand-in router at the end, and
/// a clock the test moves.
private struct Connection {
    let channel = EmbeddedChannel()
    let committer: any WebhookCommitter
    let router = StandInRouter()
    let reads = ReadCounter()
    private var received = ByteBuffer()

    static let timeouts = ConnectionGuard.Timeouts(requestTimeout: .seconds(15), idleTimeout: .seconds(60))

    init(committer: any WebhookCommitter = ManualCommitter(), bodyLimit: Int = 4 * 1024 * 1024) throws {
        self.committer = committer
        let intake = WebhookIntake(
            configuration: WebhookConfiguration(verifyToken: Fixtures.verifyToken, appSecret: Fixtures.appSecret,
                                                bodyLimit: bodyLimit),
            logger: quiet, now: { 1_764_500_000 })
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(reads)
        try pipeline.addHandler(ConnectionGuard(timeouts: Self.timeouts, logger: quiet))
        try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false,
                                                 withOutboundHeaderValidation: false)
        try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try pipeline.addHandler(WebhookChannelHandler(intake: intake, committer: committer))
        try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: quiet))
        try pipeline.addHandler(router)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.10", port: 40_000)).wait()
    }

    var manual: ManualCommitter { committer as! ManualCommitter }
    var isOpen: Bool { channel.isActive }

    /// Sends bytes as one read, then runs what the event loop has due.
    func send(_ bytes: [UInt8]) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        channel.embeddedEventLoop.run()
    }

    /// The oldest webhook's commit lands; the event loop runs what follows from it.
    func commit() {
        manual.commitOldest()
        channel.embeddedEventLoop.run()
    }

    func advance(by amount: TimeAmount) { channel.embeddedEventLoop.advanceTime(by: amount) }

    /// The answers written since the last call, parsed.
    mutating func answers() throws -> [Answer] {
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(var chunk) = data else {
                Issue.record("the listener wrote a file region")
                continue
            }
            received.writeBuffer(&chunk)
        }
        var answers: [Answer] = []
        while let answer = Answer.parse(&received) { answers.append(answer) }
        return answers
    }

    struct Answer: Equatable, CustomStringConvertible {
        var status: Int
        var headers: [String: String]
        var body: String

        var description: String { "\(status) \(body.debugDescription)" }

        static func parse(_ buffer: inout ByteBuffer) -> Answer? {
            let view = buffer.readableBytesView
            guard let end = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
            let headLength = view.distance(from: view.startIndex, to: end.upperBound)
            let lines = String(decoding: view.prefix(headLength), as: UTF8.self).components(separatedBy: "\r\n")
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            guard buffer.readableBytes >= headLength + length else { return nil }
            buffer.moveReaderIndex(forwardBy: headLength)
            let body = buffer.readString(length: length) ?? ""
            let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? -1
            return Answer(status: status, headers: headers, body: body)
        }
    }
}

private func textWebhook(_ id: String) -> [UInt8] {
    Array("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"1"},"contacts":[{"profile":{"name":"E"},"wa_id":"15550001"}],
        "messages":[{"from":"15550001","id":"\(id)","timestamp":"1000","type":"text","text":{"body":"hi"}}]}}]}]}
        """.utf8)
}

private func signedRequest(_ id: String, headers: [(String, String)] = []) -> [UInt8] {
    let body = textWebhook(id)
    return rawRequest(headers: [("X-Hub-Signature-256", WebhookSignature(appSecret: Fixtures.appSecret).header(for: body))]
                      + headers, body: body)
}

private func get(_ path: String) -> [UInt8] { rawRequest("GET", path: path) }

private let received = "EVENT_RECEIVED\n"

// MARK: - Tests

/// The listener's connection handling, driven byte by byte and tick by tick on an
/// `EmbeddedChannel`: what is answered, in which order, and when the connection closes.
@Suite struct EmbeddedListenerTests {
    @Test func aSignedWebhookIsAnsweredOnlyOnceCommitted() throws {
        var connection = try Connection()
        try connection.send(signedRequest("wamid.e.1"))
        #expect(connection.manual.waiting == 1)
        #expect(try connection.answers() == [])
        connection.commit()
        let answers = try connection.answers()
        #expect(answers.map(\.status) == [200])
        #expect(answers.first?.body == received)
        #expect(connection.isOpen)
        #expect(connection.router.answered == [])
    }

    @Test func unsignedAndOversizedWebhooksAreAnsweredAtOnceAndTheConnectionStays() throws {
        var connection = try Connection(bodyLimit: 1000)
        try connection.send(rawRequest(body: textWebhook("wamid.e.unsigned")))
        try connection.send(rawRequest(headers: [("X-Hub-Signature-256", "sha256=00")], body: textWebhook("wamid.e.bad")))
        try connection.send(rawRequest(body: Array(repeating: UInt8(ascii: " "), count: 1001)))
        // No length declared: the body grows past the limit as its chunks arrive.
        let chunk = "258\r\n" + String(repeating: " ", count: 600) + "\r\n"
        try connection.send(Array("POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(chunk)\(chunk)0\r\n\r\n".utf8))
        try connection.send(get("/healthz"))
        let answers = try connection.answers()
        #expect(answers.map(\.status) == [401, 401, 413, 413, 200])
        #expect(answers[0].body.contains("missing X-Hub-Signature-256"))
        #expect(answers[1].body.contains("WABOX_APP_SECRET"))
        #expect(answers[2].body == "body of 1001 bytes is over the 1000-byte limit\n")
        #expect(answers[3].body == "body is over the 1000-byte limit\n")
        #expect(answers[4].body == "router /healthz")
        #expect(connection.manual.waiting == 0)
        #expect(connection.isOpen)
    }

    /// Webhooks, router requests and refusals pipelined in one read are answered in the
    /// order they were sent, however long each waits; reading pauses meanwhile.
    @Test func pipelinedRequestsAreAnsweredInTheOrderSent() throws {
        var connection = try Connection()
        let readsBefore = connection.reads.reads
        try connection.send(signedRequest("wamid.p.1") + get("/healthz")
                            + rawRequest(headers: [("X-Hub-Signature-256", "sha256=00")], body: textWebhook("wamid.p.2"))
                            + get("/webhook?hub.challenge=c") + signedRequest("wamid.p.3") + get("/last"))
        // The first webhook waits for its commit: nothing behind it is taken up.
        #expect(try connection.answers() == [])
        #expect(connection.router.answered == [])
        connection.channel.read()
        #expect(connection.reads.reads == readsBefore, "reading goes on while requests are held")

        connection.commit()
        var answers = try connection.answers()
        #expect(answers.map(\.status) == [200, 200, 401, 200])
        #expect(answers.map { $0.body.contains("WABOX_APP_SECRET") ? "401" : $0.body }
                == [received, "router /healthz", "401", "router /webhook?hub.challenge=c"])
        #expect(connection.manual.waiting == 1)  // the third webhook
        #expect(connection.reads.reads == readsBefore)

        connection.commit()
        answers = try connection.answers()
        #expect(answers.map(\.body) == [received, "router /last"])
        #expect(connection.router.answered == ["/healthz", "/webhook?hub.challenge=c", "/last"])
        // Everything answered: the read held back goes on.
        #expect(connection.reads.reads == readsBefore + 1)
        #expect(connection.isOpen)
    }

    /// A webhook behind a router request waits for the router's answer.
    @Test func aWebhookBehindARouterRequestWaitsForItsAnswer() throws {
        var connection = try Connection()
        try connection.channel.writeInbound(ByteBuffer(bytes: get("/healthz") + signedRequest("wamid.r.1")))
        // The router has not answered yet (its answer is due on the next turn of the loop).
        #expect(connection.manual.waiting == 0)
        connection.channel.embeddedEventLoop.run()
        #expect(connection.manual.waiting == 1)
        connection.commit()
        #expect(try connection.answers().map(\.body) == ["router /healthz", received])
    }

    @Test func connectionCloseClosesAfterTheAnswer() throws {
        var connection = try Connection()
        try connection.send(signedRequest("wamid.c.1", headers: [("Connection", "close")]))
        #expect(connection.isOpen)
        connection.commit()
        #expect(try connection.answers().map(\.body) == [received])
        #expect(!connection.isOpen)
    }

    @Test func aFullOrClosingPipelineIsAnswered503WithRetryAfter() throws {
        var connection = try Connection()
        connection.manual.refuse(with: IngestPipeline.Overloaded())
        try connection.send(signedRequest("wamid.f.1"))
        connection.manual.refuse(with: IngestPipeline.Closed())
        try connection.send(signedRequest("wamid.f.2"))
        let answers = try connection.answers()
        #expect(answers.map(\.status) == [503, 503])
        #expect(answers.map { $0.headers["retry-after"] } == ["1", "5"])
        #expect(answers.allSatisfy { $0.body.contains("retry later") })
        #expect(connection.isOpen)
    }

    /// The real pipeline, its writer not running: the first webhook fills the queue of one,
    /// the other connections' are refused at once with 503 and `Retry-After`. (Formerly
    /// `BackpressureTests.fullQueueThroughTheRouter`, from when the router had a
    /// `POST /webhook` route of its own; its assertions are the last two.)
    @Test func aFullIngestQueueIsAnswered503() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let pipeline = IngestPipeline(database: temp.database, capacity: 1, logger: quiet)
        defer { pipeline.close() }
        var connections = try (0..<3).map { _ in try Connection(committer: pipeline) }
        for (index, connection) in connections.enumerated() { try connection.send(signedRequest("wamid.q.\(index)")) }
        #expect(pipeline.depth == 1)
        #expect(try connections[0].answers() == [])
        var statuses: [(HTTPResponse.Status, String?)] = []
        for index in connections.indices.dropFirst() {
            let answers = try connections[index].answers()
            #expect(answers.map(\.status) == [503])
            #expect(answers.allSatisfy { $0.body.contains("retry later") })
            statuses += answers.map { (HTTPResponse.Status(code: $0.status), $0.headers["retry-after"]) }
        }
        #expect(statuses.contains { $0.0 == .serviceUnavailable && $0.1 == "1" })
        #expect(statuses.allSatisfy { $0.0 == .ok || ($0.0 == .serviceUnavailable && $0.1 == "1") })
    }

    // MARK: Timeouts

    @Test func aSilentConnectionIsClosedWhenIdle() throws {
        let connection = try Connection()
        connection.advance(by: .seconds(60) - .nanoseconds(1))
        #expect(connection.isOpen)
        connection.advance(by: .nanoseconds(1))
        #expect(!connection.isOpen)
    }

    @Test func theIdleClockStartsAgainAfterEachAnswer() throws {
        var connection = try Connection()
        connection.advance(by: .seconds(50))
        try connection.send(get("/healthz"))
        #expect(try connection.answers().map(\.status) == [200])
        connection.advance(by: .seconds(59))
        #expect(connection.isOpen)  // 109 s after it opened, 59 s after the answer
        try connection.send(signedRequest("wamid.i.1"))
        connection.commit()
        connection.advance(by: .seconds(59))
        #expect(connection.isOpen)
        connection.advance(by: .seconds(1))
        #expect(!connection.isOpen)
    }

    /// Headers trickled a byte at a time never reach the idle limit, but the request
    /// limit counts from the request's first byte.
    @Test func aTrickledRequestIsCutOffAtTheRequestTimeout() throws {
        let connection = try Connection()
        let request = signedRequest("wamid.t.1")
        for byte in request.prefix(140) {
            try connection.send([byte])
            connection.advance(by: .milliseconds(100))
        }
        #expect(connection.isOpen)  // 14 s
        connection.advance(by: .milliseconds(999))
        #expect(connection.isOpen)
        connection.advance(by: .milliseconds(1))
        #expect(!connection.isOpen)
        #expect(connection.manual.waiting == 0)
    }

    /// A webhook read in full and waiting for its commit runs no clock: a slow disk is not
    /// the client's fault.
    @Test func noClockRunsWhileAWebhookAwaitsItsCommit() throws {
        var connection = try Connection()
        try connection.send(signedRequest("wamid.w.1"))
        connection.advance(by: .seconds(600))
        #expect(connection.isOpen)
        connection.commit()
        #expect(try connection.answers().map(\.status) == [200])
        connection.advance(by: .seconds(60))
        #expect(!connection.isOpen)
    }

    // MARK: Shutdown

    /// Graceful shutdown closes idle connections at once; one with a webhook waiting for
    /// its commit is closed after the answer.
    @Test func quiesceWaitsForTheWebhookAwaitingItsCommit() throws {
        let idle = try Connection()
        idle.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        idle.channel.embeddedEventLoop.run()
        #expect(!idle.isOpen)

        var busy = try Connection()
        try busy.send(signedRequest("wamid.s.1"))
        busy.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        busy.channel.embeddedEventLoop.run()
        #expect(busy.isOpen)
        busy.commit()
        #expect(try busy.answers().map(\.body) == [received])
        #expect(!busy.isOpen)
    }
}
