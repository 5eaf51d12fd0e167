import Foundation
import HTTPTypes
import InboxCore
import InboxStore
import Logging
import NIOCore

/// What `POST /webhook` does with a request, for the channel handler that serves the route
/// on the event loop (`WebhookChannelHandler`): check the size and the signature on the
/// bytes as received, and turn the journal commit's outcome into an answer. Nothing here
/// decodes the body: the applier does, after the 200.
struct WebhookIntake: Sendable {
    static let signatureHeader = HTTPField.Name("X-Hub-Signature-256")!

    /// An answer to a webhook request: status, a short plain-text body, and `Retry-After`
    /// for 503.
    struct Answer: Sendable, Equatable {
        var status: HTTPResponse.Status
        var text: String
        var retryAfter: String?

        static let received = Answer(status: .ok, text: "EVENT_RECEIVED\n")
    }

    enum Verdict: Sendable {
        /// Answer now; nothing is stored.
        case answer(Answer)
        /// Signed: journal this body, received at `receivedAt`, then answer with `answer(for:)`.
        case commit(body: ByteBuffer, receivedAt: Int64)
    }

    let bodyLimit: Int
    let signature: WebhookSignature
    let skipSignature: Bool
    let limiter: UnauthenticatedLimiter
    let logger: Logger
    let now: @Sendable () -> Int64
    /// What the channel handler counts and times.
    let metrics = ListenerMetrics()

    init(configuration: WebhookConfiguration, logger: Logger, now: @escaping @Sendable () -> Int64,
         limiter: UnauthenticatedLimiter? = nil) {
        bodyLimit = configuration.bodyLimit
        signature = WebhookSignature(appSecret: configuration.appSecret,
                                     previousAppSecret: configuration.previousAppSecret)
        skipSignature = configuration.insecureSkipSignature
        self.limiter = limiter ?? UnauthenticatedLimiter(configuration: configuration.unauthenticatedLimit)
        self.logger = logger
        self.now = now
    }

    func tooLarge(declaredLength length: Int?) -> Answer? {
        guard let length, length > bodyLimit else { return nil }
        return Answer(status: .contentTooLarge, text: "body of \(length) bytes is over the \(bodyLimit)-byte limit\n")
    }

    var tooLarge: Answer {
        Answer(status: .contentTooLarge, text: "body is over the \(bodyLimit)-byte limit\n")
    }

    static let tooManyFailures = Answer(
        status: .tooManyRequests,
        text: "too many requests without a valid X-Hub-Signature-256 from this address; slow down\n", retryAfter: "1")

    /// Checks the signature on the raw bytes, where NIO read them. `client` keys the rate
    /// limit of requests that fail the check; signed requests never spend from it.
    func verdict(signatureHeader: String?, body buffer: ByteBuffer, client: String) -> Verdict {
        let valid = buffer.withUnsafeReadableBytes { signature.isValid(header: signatureHeader, body: $0) }
        if !valid && !skipSignature {
            guard limiter.allow(client) else { return .answer(Self.tooManyFailures) }
            guard signatureHeader != nil else {
                return .answer(Answer(status: .unauthorized,
                                      text: "missing X-Hub-Signature-256 header: only signed webhooks are accepted\n"))
            }
            logger.warning("webhook with a bad signature refused", metadata: ["bytes": "\(buffer.readableBytes)", "peer": "\(client)"])
            return .answer(Answer(status: .unauthorized,
                                  text: "X-Hub-Signature-256 does not match the body: check that WABOX_APP_SECRET is the app secret of the Meta app\n"))
        }
        return .commit(body: buffer, receivedAt: now())
    }

    /// The answer once the pipeline refused or journaled the webhook.
    func answer(for result: Result<Journaled, any Error>) -> Answer {
        switch result {
        case .success:
            return .received
        case .failure(is IngestPipeline.Overloaded):
            return Answer(status: .serviceUnavailable, text: "ingest queue is full, retry later\n", retryAfter: "1")
        case .failure(is IngestPipeline.Closed):
            return Answer(status: .serviceUnavailable, text: "shutting down, retry later\n", retryAfter: "5")
        case .failure(let error):
            logger.error("webhook not stored, answering 500 so that Meta retries: \(error)")
            return Answer(status: .internalServerError, text: "could not store the webhook; it will be retried\n")
        }
    }
}
