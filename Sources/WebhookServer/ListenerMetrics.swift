import InboxStore
import Logging
import Metrics
import NIOCore

/// The names the listener's metrics go by (Prometheus conventions: `_total` for counters,
/// base units). The backend is whatever the program bootstrapped swift-metrics with; this
/// module only uses the swift-metrics API.
public enum MetricNames {
    /// Webhooks by what became of them; `outcome` is one of `WebhookOutcome`.
    public static let webhooksReceived = "wabox_webhooks_received_total"
    /// From a signed webhook's last byte to its 200 (the journal commit between).
    public static let webhookAck = "wabox_webhook_ack_seconds"
    /// Webhooks per journal transaction (group commit).
    public static let journalCommitBatch = "wabox_journal_commit_batch_size"
    /// How long a journal transaction took.
    public static let journalCommit = "wabox_journal_commit_seconds"
}

/// The `outcome` label of `wabox_webhooks_received_total`. The listener counts what it
/// refuses when it answers; what it acknowledged is counted once the applier applied it
/// (`stored`, `duplicate`, `dead_letter`), so that each webhook is counted once.
public enum WebhookOutcome: String, Sendable, CaseIterable {
    /// Applied, and it brought something new.
    case stored
    /// Applied, and every event in it was stored already (Meta redelivered it).
    case duplicate
    /// 401: no signature or a wrong one (429 too: a client that keeps sending them).
    case badSignature = "bad_signature"
    /// 413: over the body limit.
    case tooLarge = "too_large"
    /// Acknowledged, but it could not be decoded or applied: kept as a dead letter.
    case deadLetter = "dead_letter"
    /// 5xx: signed but not stored (the queue was full, shutting down, the disk refused).
    case refused
}

/// Counters and timers of `POST /webhook`, made once when the listener is built (after
/// the program bootstrapped its metrics backend), so that a request only increments an
/// atomic or records into a histogram.
struct ListenerMetrics: Sendable {
    let badSignature: Counter
    let tooLarge: Counter
    let refused: Counter
    let ack: Metrics.Timer

    init() {
        func counter(_ outcome: WebhookOutcome) -> Counter {
            Counter(label: MetricNames.webhooksReceived, dimensions: [("outcome", outcome.rawValue)])
        }
        badSignature = counter(.badSignature)
        tooLarge = counter(.tooLarge)
        refused = counter(.refused)
        ack = Metrics.Timer(label: MetricNames.webhookAck)
    }

    /// Counts an answer other than the 200.
    func countRefusal(status: Int) {
        switch status {
        case 401, 429: badSignature.increment()
        case 413: tooLarge.increment()
        default: refused.increment()
        }
    }

    /// A webhook read completely at `start` (`NIODeadline.now().uptimeNanoseconds`) is acknowledged now.
    func acknowledged(since start: UInt64) {
        let now = NIODeadline.now().uptimeNanoseconds
        ack.recordNanoseconds(Int64(truncatingIfNeeded: now &- start))
    }
}

/// The applier's share of `wabox_webhooks_received_total`: what became of acknowledged bodies.
struct AppliedMetrics: Sendable {
    let stored: Counter
    let duplicate: Counter
    let deadLetter: Counter

    init() {
        func counter(_ outcome: WebhookOutcome) -> Counter {
            Counter(label: MetricNames.webhooksReceived, dimensions: [("outcome", outcome.rawValue)])
        }
        stored = counter(.stored)
        duplicate = counter(.duplicate)
        deadLetter = counter(.deadLetter)
    }
}

extension AppliedMetrics {
    /// Logs the dead letters and counts what became of each body: `dead_letter` when it left
    /// one, `duplicate` when it changed nothing, `stored` otherwise.
    func count(_ applied: [AppliedBody], logger: Logger) {
        var stored = 0, duplicates = 0, deadLetters = 0
        for body in applied {
            switch body.outcome {
            case .deadLetter(let reason):
                deadLetters += 1
                logger.warning("journaled webhook \(body.journalID) kept as a dead letter: \(reason)")
            case .duplicate:
                duplicates += 1
            case .stored(_, let left) where left > 0:
                deadLetters += 1
            case .stored:
                if body.repeated { duplicates += 1 } else { stored += 1 }
            }
        }
        if stored > 0 { self.stored.increment(by: stored) }
        if duplicates > 0 { duplicate.increment(by: duplicates) }
        if deadLetters > 0 { deadLetter.increment(by: deadLetters) }
    }
}
