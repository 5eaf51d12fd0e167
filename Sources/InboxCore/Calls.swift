/// What became of a call, as its notice in the conversation and the export show it.
public struct CallSummary: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable {
        /// Rang, not answered or ended yet.
        case ringing
        /// Picked up (and perhaps ended).
        case answered
        /// Ended without being picked up, or refused.
        case missed
    }

    public var id: CallID
    public var direction: CallEvent.Direction
    public var outcome: Outcome
    /// Seconds the call lasted, once it ended after being answered.
    public var duration: Int64?
    /// When it ended, if it did (Unix seconds).
    public var endedAt: Int64?

    public init(id: CallID, direction: CallEvent.Direction, outcome: Outcome, duration: Int64? = nil, endedAt: Int64? = nil) {
        self.id = id
        self.direction = direction
        self.outcome = outcome
        self.duration = duration
        self.endedAt = endedAt
    }
}

/// Everything known about one call, built from its events in whatever order they came:
/// applying the same event twice, or in another order, gives the same state.
public struct CallState: Sendable, Hashable, Codable {
    public var id: CallID
    public var direction: CallEvent.Direction?
    /// The earliest time the call's events tell: when the notice sits in the thread.
    public var firstSeen: Int64
    public var terminated = false
    /// The newest terminate's time, status and figures.
    public var terminatedAt: Int64?
    public var terminateStatus: String?
    public var startTime: Int64?
    public var endTime: Int64?
    public var duration: Int64?
    /// Call statuses seen (`RINGING`, `ACCEPTED`, `REJECTED`, …), upper case, sorted.
    public var statuses: [String] = []

    public init(first event: CallEvent) {
        id = event.id
        firstSeen = event.timestamp
        absorb(event)
    }

    public mutating func absorb(_ event: CallEvent) {
        direction = direction ?? event.direction
        // When the call began: the earliest event, or the start a terminate reports.
        firstSeen = min(firstSeen, event.timestamp, event.startTime ?? .max)
        switch event.kind {
        case .terminate:
            terminated = true
            if event.timestamp >= (terminatedAt ?? .min) {
                terminatedAt = event.timestamp
                terminateStatus = event.status?.uppercased() ?? terminateStatus
                startTime = event.startTime ?? startTime
                endTime = event.endTime ?? endTime
                duration = event.duration ?? duration
            }
        case .status:
            if let status = event.status?.uppercased(), !statuses.contains(status) {
                statuses.append(status)
                statuses.sort()
            }
        case .connect, .other:
            break
        }
    }

    public var summary: CallSummary {
        let seconds = duration ?? both(startTime, endTime).map { max(0, $0.1 - $0.0) }
        let connected = (seconds ?? 0) > 0 || startTime != nil || statuses.contains("ACCEPTED")
        let refused = statuses.contains("REJECTED") || statuses.contains("FAILED")
        let outcome: CallSummary.Outcome
        if connected {
            outcome = .answered
        } else if terminated || refused {
            outcome = .missed
        } else {
            outcome = .ringing
        }
        return CallSummary(id: id, direction: direction ?? .customer, outcome: outcome,
                           duration: connected && terminated ? (seconds ?? 0) : nil,
                           endedAt: terminated ? (endTime ?? terminatedAt) : nil)
    }
}

private func both<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
