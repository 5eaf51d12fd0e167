import Foundation
import InboxCore

// What every store promises for the journal-first ingest (DESIGN.md, "Durability and
// acknowledgement"), whatever its engine: SQLite (InboxStore's InboxDatabase) or PostgreSQL
// (PostgresStore). The conformance suite (Tests/StoreConformanceTests) checks each promise
// once, against both. No engine is imported here.

/// A signed webhook body on its way into the journal.
public struct JournalAppend: Sendable, Equatable {
    /// Unix seconds.
    public var receivedAt: Int64
    /// The bytes exactly as signed.
    public var body: Data
    /// Journaled again on purpose (`wabox replay`): never folded into an earlier copy.
    public var isReplay: Bool

    public init(receivedAt: Int64, body: Data, isReplay: Bool = false) {
        self.receivedAt = receivedAt
        self.body = body
        self.isReplay = isReplay
    }
}

/// A body in the journal.
public struct JournaledBody: Sendable, Equatable {
    /// Grows with the order in which bodies were committed.
    public var id: Int64
    public var receivedAt: Int64
    public var body: Data

    public init(id: Int64, receivedAt: Int64, body: Data) {
        self.id = id
        self.receivedAt = receivedAt
        self.body = body
    }
}

/// A process asking for, or holding, the applier lease.
public struct LeaseClaimant: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var host: String
    /// `serve` or `inbox`.
    public var role: String

    public init(pid: Int32, host: String, role: String = "serve") {
        self.pid = pid
        self.host = host
        self.role = role
    }

    public var description: String { "\(role) (pid \(pid) on \(host))" }
}

/// What became of an attempt to take the applier lease.
public enum LeaseAttempt: Sendable, Equatable {
    case acquired
    case heldBy(LeaseClaimant)
}

/// The journal and the lease that makes one process at a time its applier.
///
/// - Appending returns only once the bodies are committed (a 200 means journaled).
/// - Ids grow in commit order: a reader that has seen id N never later sees a new body
///   with an id below N, so the applied mark (`markJournalApplied`) skips nothing.
/// - Exactly one claimant holds the lease; one that stops renewing loses it once
///   `lifetime` has passed since its last renewal, and another may then take it.
public protocol JournalStore: Sendable {
    /// Whether a body appended twice (Meta delivered it to two listeners, or twice to one)
    /// is journaled once. A store that several listeners share must (PostgreSQL: a unique
    /// key on the body's SHA-256). SQLite has one listener per file: it journals a copy
    /// again, with no random-keyed index on the acknowledgement path, and its applier
    /// makes the copy a no-op (messages by wamid, statuses by key).
    var foldsRedeliveredBodies: Bool { get }

    /// Appends the bodies in one transaction, in order, and returns when it committed: the
    /// ids of the bodies this call journaled (none for a body journaled already, when
    /// `foldsRedeliveredBodies`).
    @discardableResult
    func appendJournal(_ bodies: [JournalAppend]) async throws -> [Int64]

    /// Up to `limit` bodies past the applied mark (and past `after`, when given), oldest first.
    func unappliedJournal(after: Int64?, limit: Int) async throws -> [JournaledBody]

    /// Every body up to `id` is applied. The mark never moves back.
    func markJournalApplied(through id: Int64) async throws

    /// The applied mark: every body up to it is applied (0 when none).
    func journalAppliedThrough() async throws -> Int64

    /// Takes the applier lease for `claimant` unless another holds it and renewed it less
    /// than `lifetime` ago. Atomic: two claimants at once cannot both acquire it. A holder
    /// asking again keeps it (and renews it).
    func acquireApplierLease(_ claimant: LeaseClaimant, lifetime: Duration) async throws -> LeaseAttempt

    /// Heartbeat of the holder; false when the lease is no longer `claimant`'s.
    func renewApplierLease(_ claimant: LeaseClaimant) async throws -> Bool

    /// Gives the lease up, if `claimant` holds it.
    func releaseApplierLease(_ claimant: LeaseClaimant) async throws
}

extension JournalStore {
    public func unappliedJournal(limit: Int) async throws -> [JournaledBody] {
        try await unappliedJournal(after: nil, limit: limit)
    }
}
