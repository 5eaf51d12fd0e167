import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import InboxCore
import InboxStore
import Logging
import NIOCore

/// Everything the listener needs to know.
public struct WebhookConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The token Meta echoes in the verification GET.
    public var verifyToken: String
    /// The app secret that keys `X-Hub-Signature-256`.
    public var appSecret: String
    /// Bodies above this are refused with 413. Meta's cap is 3 MB.
    public var bodyLimit: Int
    /// Webhooks waiting for a commit before the listener answers 503.
    public var queueCapacity: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, verifyToken: String, appSecret: String,
                bodyLimit: Int = 4 * 1024 * 1024, queueCapacity: Int = 8192) {
        self.host = host
        self.port = port
        self.verifyToken = verifyToken
        self.appSecret = appSecret
        self.bodyLimit = bodyLimit
        self.queueCapacity = queueCapacity
    }
}

/// Builds the listener: used by `wabox serve`, the embedded listener and the tests alike.
///
/// - Parameters:
///   - now: the clock, in Unix seconds (tests pass a fixed one).
///   - onServerRunning: called with the bound port once the socket listens.
public func makeWebhookApplication(
    configuration: WebhookConfiguration,
    database: InboxDatabase,
    logger: Logger,
    now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let pipeline = IngestPipeline(database: database, capacity: configuration.queueCapacity, logger: logger)
    let routes = WebhookRoutes(configuration: configuration, pipeline: pipeline, database: database,
                               logger: logger, now: now)
    let router = Router()
    routes.register(on: router)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                             serverName: nil, reuseAddress: true),
        services: [pipeline],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

struct WebhookRoutes: Sendable {
    static let signatureHeader = HTTPField.Name("X-Hub-Signature-256")!

    let configuration: WebhookConfiguration
    let pipeline: IngestPipeline
    let database: InboxDatabase
    let logger: Logger
    let now: @Sendable () -> Int64
    let signature: WebhookSignature
    let decoder = WebhookDecoder()

    init(configuration: WebhookConfiguration, pipeline: IngestPipeline, database: InboxDatabase, logger: Logger,
         now: @escaping @Sendable () -> Int64) {
        self.configuration = configuration
        self.pipeline = pipeline
        self.database = database
        self.logger = logger
        self.now = now
        signature = WebhookSignature(appSecret: configuration.appSecret)
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/webhook") { request, _ in verify(request) }
        router.post("/webhook") { request, _ in try await receive(request) }
        router.get("/healthz") { _, _ in health() }
    }

    // MARK: - Verification

    /// Meta's subscription handshake: echo `hub.challenge` when the token matches.
    func verify(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        guard query["hub.mode"].map(String.init) == "subscribe", let challenge = query["hub.challenge"] else {
            return .text(.badRequest, "expected hub.mode=subscribe, hub.verify_token and hub.challenge (Meta's verification request)\n")
        }
        let token = query["hub.verify_token"].map(String.init) ?? ""
        guard constantTimeEqual(token, configuration.verifyToken) else {
            logger.warning("verification GET with a wrong verify token")
            return .text(.forbidden, "verify token does not match WABOX_VERIFY_TOKEN\n")
        }
        logger.info("webhook verified by a subscription request")
        return .text(.ok, String(challenge))
    }

    // MARK: - Events

    func receive(_ request: Request) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > configuration.bodyLimit {
            return .text(.contentTooLarge, "body of \(length) bytes is over the \(configuration.bodyLimit)-byte limit\n")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: configuration.bodyLimit)
        } catch is NIOTooManyBytesError {
            return .text(.contentTooLarge, "body is over the \(configuration.bodyLimit)-byte limit\n")
        }
        let body = Data(buffer.readableBytesView)
        guard let header = request.headers[Self.signatureHeader] else {
            return .text(.unauthorized, "missing X-Hub-Signature-256 header: only signed webhooks are accepted\n")
        }
        guard signature.isValid(header: header, body: body) else {
            logger.warning("webhook with a bad signature refused", metadata: ["bytes": "\(body.count)"])
            return .text(.unauthorized, "X-Hub-Signature-256 does not match the body: check that WABOX_APP_SECRET is the app secret of the Meta app\n")
        }
        let receivedAt = now()
        let events = Result { () throws(WebhookDecoder.Failure) in try decoder.decode(body, receivedAt: receivedAt) }
        let outcome: IngestOutcome
        do {
            outcome = try await pipeline.submit(
                IncomingWebhook(receivedAt: receivedAt, signature: header, body: body, events: events))
        } catch is IngestPipeline.Overloaded {
            var response = Response.text(.serviceUnavailable, "ingest queue is full, retry later\n")
            response.headers[.retryAfter] = "1"
            return response
        } catch is IngestPipeline.Closed {
            var response = Response.text(.serviceUnavailable, "shutting down, retry later\n")
            response.headers[.retryAfter] = "5"
            return response
        } catch {
            logger.error("webhook not stored, answering 500 so that Meta retries: \(error)")
            return .text(.internalServerError, "could not store the webhook; it will be retried\n")
        }
        if case .deadLetter(let reason) = outcome {
            logger.warning("webhook stored as a dead letter: \(reason)")
        }
        return .text(.ok, "EVENT_RECEIVED\n")
    }

    // MARK: - Health

    func health() -> Response {
        let queue = pipeline.depth
        do {
            _ = try database.unreadTotal()
            return .text(.ok, #"{"status":"ok","database":"ok","queue":\#(queue)}"# + "\n", contentType: "application/json")
        } catch {
            return .text(.serviceUnavailable, #"{"status":"error","database":"unreadable","queue":\#(queue)}"# + "\n",
                         contentType: "application/json")
        }
    }
}

/// Compares two secrets without leaking where they differ through timing.
func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    // Hash both to equal-length digests first so that the length is not leaked either.
    let left = Array(SHA256.hash(data: Array(lhs.utf8)))
    let right = Array(SHA256.hash(data: Array(rhs.utf8)))
    var difference: UInt8 = 0
    for index in 0..<left.count { difference |= left[index] ^ right[index] }
    return difference == 0
}

extension Response {
    static func text(_ status: HTTPResponse.Status, _ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(status: status, headers: [.contentType: contentType, .contentLength: String(buffer.readableBytes)],
                        body: .init(byteBuffer: buffer))
    }
}
