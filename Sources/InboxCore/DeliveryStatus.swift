/// Where an outbound message stands. Statuses only move forward along `rank`.
///
/// `failed` sits above `sent` and below `delivered`: it replaces `pending`, `accepted` or
/// `sent`, but a later `delivered` or `read` shows the customer got the message after all,
/// and a `failed` that arrives after `delivered` is ignored.
public enum DeliveryStatus: String, Sendable, Codable, CaseIterable, Hashable {
    /// Local only: written to the outbox, not yet accepted by the Cloud API.
    case pending
    /// The request was sent but no answer was recorded (a crash in between). Never resent
    /// without the operator's word.
    case uncertain
    /// The Cloud API answered the send with a wamid: taken, not sent yet. A template may
    /// still be held for quality review, and an accepted message may fail later. Only
    /// status webhooks move it on.
    case accepted
    case sent
    case failed
    case delivered
    case read
    /// A voice message was played.
    case played

    public var rank: Int {
        switch self {
        case .pending, .uncertain: 0
        case .accepted: 1
        case .sent: 2
        case .failed: 3
        case .delivered: 4
        case .read: 5
        case .played: 6
        }
    }

    /// Whether a message at `self` should move to `next`.
    public func advances(to next: DeliveryStatus) -> Bool {
        next.rank > rank
    }
}
