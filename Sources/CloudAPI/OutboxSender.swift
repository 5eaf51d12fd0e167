import Foundation
import InboxCore
import StoreContract
import Logging
import ServiceLifecycle
import Synchronization

/// Sends the outbox: claims each due row (committed as in flight before the request),
/// posts it, and records the answer.
///
/// - Retries with capped exponential backoff and jitter on 130429, 131056, 131000, HTTP 5xx
///   and connection failures.
/// - Fails the message for good on 131026, 100, 131051 (and 131047, which also marks the
///   conversation's window closed).
/// - Halts all sending on 190, 368 and 131031 until the operator fixes it, and while an
///   account alert from Meta means every send would fail (until Meta lifts it).
/// - Never resends a message whose request may have reached the API without an answer: it
///   becomes `uncertain` and waits for the operator (`wabox resend`).
public final class OutboxSender: Service, Sendable {
    /// Backoff: attempt n waits `min(maxDelay, baseDelay · 2^(n-1))` seconds, then jitter.
    public struct RetryPolicy: Sendable {
        public var baseDelay: Double
        public var maxDelay: Double
        /// Attempts in all before a retryable error fails the message.
        public var maxAttempts: Int

        public init(baseDelay: Double = 1, maxDelay: Double = 300, maxAttempts: Int = 10) {
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
            self.maxAttempts = maxAttempts
        }

        /// The delay before attempt `attempts + 1`, in seconds, before jitter.
        public func delay(afterAttempt attempts: Int) -> Double {
            min(maxDelay, baseDelay * pow(2, Double(max(attempts, 1) - 1)))
        }
    }

    /// Time, made injectable so that tests control it.
    public struct Clock: Sendable {
        /// Now, in Unix milliseconds.
        public var now: @Sendable () -> Int64
        /// Waits for a number of milliseconds.
        public var sleep: @Sendable (Int64) async throws -> Void
        /// Turns a computed delay (seconds) into the one used.
        public var jitter: @Sendable (Double) -> Double

        public init(now: @escaping @Sendable () -> Int64, sleep: @escaping @Sendable (Int64) async throws -> Void,
                    jitter: @escaping @Sendable (Double) -> Double) {
            self.now = now
            self.sleep = sleep
            self.jitter = jitter
        }

        /// The wall clock, real sleeps and "equal jitter" (half fixed, half random).
        public static let system = Clock(
            now: { Int64(Date().timeIntervalSince1970 * 1000) },
            sleep: { try await Task.sleep(for: .milliseconds($0)) },
            jitter: { $0 * Double.random(in: 0.5...1.0) })
    }

    /// What became of one attempt.
    public enum Outcome: Sendable, Hashable, CustomStringConvertible {
        /// Accepted by the Cloud API under this id.
        case accepted(localID: String, wamid: MessageID)
        /// Not sent yet; tried again at this Unix millisecond.
        case retryScheduled(localID: String, at: Int64, reason: String)
        /// Failed for good; the message shows `failed` with `reason`.
        case failed(localID: String, reason: String, code: Int?)
        /// The 24-hour window is closed: only a template can go out.
        case windowClosed(localID: String, reason: String)
        /// Nothing is sent until the operator acts.
        case halted(localID: String, reason: String)
        /// The request may have arrived; the message is `uncertain`, not resent on its own.
        case uncertain(localID: String, reason: String)

        public var description: String {
            switch self {
            case .accepted(_, let wamid): "accepted as \(wamid)"
            case .retryScheduled(_, _, let reason): "will retry: \(reason)"
            case .failed(_, let reason, _): "failed: \(reason)"
            case .windowClosed(_, let reason): reason
            case .halted(_, let reason): "sending halted: \(reason)"
            case .uncertain(_, let reason): "uncertain: \(reason)"
            }
        }
    }

    private let database: any OutboxStore
    private let client: any CloudMessaging
    private let policy: RetryPolicy
    private let clock: Clock
    private let pollInterval: Int64
    private let logger: Logger
    /// After a throughput limit, a 5xx or a connection failure nothing goes out before this
    /// Unix millisecond.
    private let pausedUntil = Mutex<Int64>(0)

    public init(database: any OutboxStore, client: any CloudMessaging, policy: RetryPolicy = RetryPolicy(),
                clock: Clock = .system, pollIntervalMilliseconds: Int64 = 250, logger: Logger) {
        self.database = database
        self.client = client
        self.policy = policy
        self.clock = clock
        self.pollInterval = pollIntervalMilliseconds
        self.logger = logger
    }

    // MARK: - Running

    /// The sender loop for `wabox serve`. At start, rows left in flight by a crash become
    /// `uncertain` and a halt from an earlier run is lifted (the token or account may have
    /// been fixed; if not, the next send halts again). Stops on graceful shutdown after the
    /// request in flight is answered.
    public func run() async throws {
        try await prepareForStart()
        let stopping = StopFlag()
        try await withGracefulShutdownHandler {
            while !stopping.isSet, !Task.isCancelled {
                do {
                    _ = try await sendDue()
                    try await sendReadReceipts()
                } catch {
                    logger.error("outbox pass failed: \(error)")
                }
                try await clock.sleep(pollInterval)
            }
        } onGracefulShutdown: {
            stopping.set()
        }
    }

    /// What `run` does first; also for a one-shot sender such as `wabox send`.
    public func prepareForStart() async throws {
        let recovered = try await database.recoverInFlightOutbound()
        if recovered > 0 {
            logger.warning("\(recovered) message(s) were being sent when wabox stopped; marked uncertain, not resent")
        }
        if let halt = try await database.sendingHalt() {
            if halt.isAccountAlert {
                // Meta's alert holds until Meta lifts it: a restart changes nothing.
                logger.warning("sending stays halted: \(halt.reason)")
            } else {
                logger.notice("lifting the earlier halt to try again (\(halt.reason))")
                try await database.resumeSending()
            }
        }
    }

    /// Sends every row that is due now, one at a time, and returns what became of each.
    /// Stops early when sending halts or pauses.
    public func sendDue() async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        while true {
            let now = clock.now()
            if now < pausedUntil.withLock({ $0 }) { break }
            guard let item = try await database.claimNextOutbound(nowMilliseconds: now) else { break }
            let outcome = try await attempt(item)
            outcomes.append(outcome)
            if case .halted = outcome { break }
        }
        return outcomes
    }

    /// Sends the read receipts that screens without a token of their own queued. One that
    /// fails is tried on the next passes, three times at most, and dropped after an hour.
    public func sendReadReceipts() async throws {
        if clock.now() < pausedUntil.withLock({ $0 }) { return }
        let due = try await database.dueReadReceipts(staleBefore: clock.now() - 3_600_000, maxAttempts: 3, limit: 20)
        for (message, business) in due {
            do {
                try await client.markRead(message, from: business, typing: false)
                try await database.finishReadReceipt(message, done: true)
            } catch {
                logger.notice("read receipt for \(message) not taken: \(error)")
                try await database.finishReadReceipt(message, done: false)
            }
        }
    }

    /// Sends one outbox row now, whether due or not, retrying in place (with real waits
    /// from the clock) until it is accepted or fails for good. For `wabox send`.
    ///
    /// When another sender (a running `wabox serve`) holds the row, waits up to `timeout`
    /// milliseconds for its outcome.
    public func deliver(localID: String, timeout: Int64 = 60_000) async throws -> Outcome {
        let deadline = clock.now() + timeout
        while true {
            if let item = try await database.claimOutbound(localID: localID, nowMilliseconds: clock.now()) {
                let outcome = try await attempt(item)
                guard case .retryScheduled(_, let at, _) = outcome, at < deadline else { return outcome }
                try await clock.sleep(max(0, at - clock.now()))
                continue
            }
            if let settled = try await settledOutcome(localID: localID) { return settled }
            guard clock.now() < deadline else {
                let entry = try await database.outboxEntry(localID: localID)
                return .retryScheduled(localID: localID, at: entry?.nextAttemptAt ?? clock.now(),
                                       reason: entry?.lastError ?? "still waiting in the outbox")
            }
            try await clock.sleep(min(pollInterval, max(1, deadline - clock.now())))
        }
    }

    /// The outcome of a row another sender handled, once it has one.
    private func settledOutcome(localID: String) async throws -> Outcome? {
        guard let message = try await database.outboundSettlement(localID: localID) else {
            throw OutboxError("no outbound message with local id \(localID)")
        }
        if let wamid = message.wamid { return .accepted(localID: localID, wamid: wamid) }
        switch message.status {
        case .failed?:
            let reason = message.error?.title ?? message.error?.message ?? "failed"
            return message.error?.code == 131047 ? .windowClosed(localID: localID, reason: reason)
                : .failed(localID: localID, reason: reason, code: message.error?.code)
        case .uncertain?:
            return .uncertain(localID: localID, reason: try await database.outboxEntry(localID: localID)?.lastError ?? "outcome unknown")
        default:
            if let halt = try await database.sendingHalt() { return .halted(localID: localID, reason: halt.reason) }
            return nil
        }
    }

    // MARK: - One attempt

    /// One attempt, counted in `wabox_sends_total` by outcome and Cloud API error code.
    func attempt(_ item: OutboxItem) async throws -> Outcome {
        var code: Int?
        let outcome = try await attemptOnce(item, code: &code)
        CloudMetrics.countSend(outcome, code: code)
        return outcome
    }

    private func attemptOnce(_ item: OutboxItem, code: inout Int?) async throws -> Outcome {
        let localID = item.localID
        guard var message = item.message else {
            let reason = "the contact has neither a phone number nor a user id to address"
            try await database.markFailed(localID: localID, error: APIErrorDetail(code: nil, title: reason),
                                          closesWindow: false, at: clock.now() / 1000)
            return .failed(localID: localID, reason: reason, code: nil)
        }
        if case .media(var media) = message.kind, media.mediaID == nil {
            // Uploaded once: the id is kept before the send, so a retry sends the same file.
            let path = item.file?.path
            guard let file = item.file, let bytes = await offThePool({ path.flatMap { FileManager.default.contents(atPath: $0) } }) else {
                let reason = "the file to send is gone from the media store (\(item.file?.path ?? "no path")): attach it again"
                try await database.markFailed(localID: localID, error: APIErrorDetail(code: nil, title: reason),
                                              closesWindow: false, at: clock.now() / 1000)
                return .failed(localID: localID, reason: reason, code: nil)
            }
            do throws(CloudFailure) {
                media.mediaID = try await client.uploadMedia(bytes, mimeType: file.mimeType, filename: file.filename,
                                                             from: item.phoneNumberID)
            } catch {
                switch error {
                case .network, .invalidResponse, .tooLarge:
                    // An upload is not a message: whatever became of it, nothing reached the
                    // customer, so it is retried rather than marked uncertain; an API that
                    // cannot be reached pauses the queue, as on a send.
                    let reason = "upload: \(error)"
                    var unreachable = false
                    if case .network(let transport) = error { unreachable = !transport.requestMayHaveArrived }
                    return try await retry(item, reason: reason, limit: policy.maxAttempts,
                                           detail: APIErrorDetail(code: nil, title: reason), pauseAll: unreachable)
                case .api, .http:
                    if case .api(let api) = error { code = api.code }
                    return try await handle(error, for: item)
                }
            }
            try await database.recordUpload(localID: localID, mediaID: media.mediaID!)
            message.kind = .media(media)
        }
        let receipt: SendReceipt
        do throws(CloudFailure) {
            receipt = try await client.send(message, from: item.phoneNumberID)
        } catch {
            if case .api(let api) = error { code = api.code }
            return try await handle(error, for: item)
        }
        try await database.markAccepted(localID: localID, wamid: receipt.wamid,
                                        heldForQualityReview: receipt.isHeldForQualityReview, at: clock.now() / 1000)
        logger.info("sent", metadata: ["local_id": "\(localID)", "wamid": "\(receipt.wamid)"])
        return .accepted(localID: localID, wamid: receipt.wamid)
    }

    private func handle(_ failure: CloudFailure, for item: OutboxItem) async throws -> Outcome {
        let localID = item.localID
        let nowSeconds = clock.now() / 1000
        logger.warning("send failed", metadata: ["local_id": "\(localID)", "attempt": "\(item.attempts)",
                                                 "error": "\(failure)"])
        switch failure {
        case .api(let error):
            switch error.meaning.action {
            case .retry(let limit):
                // 131056 concerns one customer: only this conversation waits (the outbox
                // keeps a conversation in order). The others concern the whole number.
                return try await retry(item, reason: error.description, limit: limit ?? policy.maxAttempts,
                                       detail: error.detail, pauseAll: error.code != 131056)
            case .fail:
                try await database.markFailed(localID: localID, error: error.detail, closesWindow: false, at: nowSeconds)
                return .failed(localID: localID, reason: error.description, code: error.code)
            case .windowClosed:
                try await database.markFailed(localID: localID, error: error.detail, closesWindow: true, at: nowSeconds)
                return .windowClosed(localID: localID, reason: error.meaning.explanation)
            case .haltSending:
                try await database.haltSending(code: error.code, reason: error.meaning.explanation, at: nowSeconds)
                try await database.releaseOutbound(localID: localID, lastError: error.description)
                logger.error("sending halted: \(error.meaning.explanation)")
                return .halted(localID: localID, reason: error.meaning.explanation)
            }
        case .http(let status, _) where status >= 500:
            return try await retry(item, reason: failure.description, limit: policy.maxAttempts,
                                   detail: APIErrorDetail(code: nil, title: failure.description), pauseAll: true)
        case .http:
            let detail = APIErrorDetail(code: nil, title: failure.description)
            try await database.markFailed(localID: localID, error: detail, closesWindow: false, at: nowSeconds)
            return .failed(localID: localID, reason: failure.description, code: nil)
        case .network(let transport) where !transport.requestMayHaveArrived:
            return try await retry(item, reason: failure.description, limit: policy.maxAttempts,
                                   detail: APIErrorDetail(code: nil, title: failure.description), pauseAll: true)
        case .network, .invalidResponse, .tooLarge:
            try await database.markUncertain(localID: localID, reason: failure.description)
            return .uncertain(localID: localID, reason: failure.description)
        }
    }

    private func retry(_ item: OutboxItem, reason: String, limit: Int, detail: APIErrorDetail,
                       pauseAll: Bool) async throws -> Outcome {
        let now = clock.now()
        guard item.attempts < limit else {
            var detail = detail
            detail.title = "gave up after \(item.attempts) attempts: " + (detail.title ?? reason)
            try await database.markFailed(localID: item.localID, error: detail, closesWindow: false, at: now / 1000)
            return .failed(localID: item.localID, reason: detail.title!, code: detail.code)
        }
        let delay = max(0, clock.jitter(policy.delay(afterAttempt: item.attempts)))
        let at = now + Int64((delay * 1000).rounded())
        try await database.scheduleRetry(localID: item.localID, atMilliseconds: at, lastError: reason)
        if pauseAll { pausedUntil.withLock { $0 = max($0, at) } }
        return .retryScheduled(localID: item.localID, at: at, reason: reason)
    }
}

/// Set once graceful shutdown begins: the loop finishes the request in flight, then stops.
private final class StopFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
