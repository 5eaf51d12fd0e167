import Foundation
import InboxCore

// What every store promises the applier (DESIGN.md, "Durability and acknowledgement"): the
// journaled bodies become inbox rows in journal order, and the applied mark moves in the
// same transaction as the rows, so a crash leaves each body either applied or waiting,
// never both. SQLite (InboxStore's InboxDatabase) and PostgreSQL (PostgresStore) each
// implement it; the listener's applier service (WebhookServer) sees only this protocol.

/// What became of one journaled body once applied.
public enum IngestOutcome: Sendable, Equatable {
    /// Applied; `deadLetters` parts could not be decoded and were kept aside.
    case stored(events: Int, deadLetters: Int)
    /// A copy of a body already applied, recognised by its hash because that copy left dead
    /// letters or account errors: those are not stored again, and the rest of its events
    /// changed nothing. (A replayed body without such rows is `stored`, and changes nothing
    /// either: messages, statuses and reactions are idempotent by their keys.)
    case duplicate
    /// Kept as a dead letter: the body could not be decoded or applied.
    case deadLetter(reason: String)
}

/// One journaled body once applied.
public struct AppliedBody: Sendable, Equatable {
    public var journalID: Int64
    public var outcome: IngestOutcome
    /// Every event the body held was stored already (its messages by wamid, its statuses by
    /// key): a redelivery or a replay, which changed nothing.
    public var repeated = false

    public init(journalID: Int64, outcome: IngestOutcome, repeated: Bool = false) {
        self.journalID = journalID
        self.outcome = outcome
        self.repeated = repeated
    }
}

/// How far the applier is behind the journal.
public struct JournalProgress: Sendable, Equatable {
    /// The id of the newest journaled body (0 when none).
    public var journaled: Int64
    /// Every body up to this id is applied.
    public var applied: Int64
    /// When the oldest body not yet applied was received (Unix seconds); nil when none waits.
    public var oldestWaitingReceivedAt: Int64?

    public init(journaled: Int64, applied: Int64, oldestWaitingReceivedAt: Int64?) {
        self.journaled = journaled
        self.applied = applied
        self.oldestWaitingReceivedAt = oldestWaitingReceivedAt
    }

    /// Bodies journaled but not yet applied. On SQLite journal ids have no gaps
    /// (AUTOINCREMENT, and only applied bodies are ever pruned), so this is a count; on
    /// PostgreSQL an append that rolled back leaves a gap, so it is at most that.
    public var lag: Int64 { max(0, journaled - applied) }
}

/// A journal whose bodies the store itself turns into inbox rows.
public protocol ApplyingStore: JournalStore {
    /// Applies, in one transaction, up to `limit` journaled bodies past the applied mark, in
    /// journal order, and moves the mark past them in that transaction; returns them (empty
    /// when nothing waits). A body whose events the store refuses becomes a dead letter
    /// and the others are stored; a failure that is no body's fault (the disk, the
    /// connection) is thrown and the mark stays where it was.
    func applyJournalBatch(limit: Int) async throws -> [AppliedBody]

    /// How far the applier is behind the journal.
    func journalProgressNow() async throws -> JournalProgress

    /// Rung when bodies may have been journaled, so that an idle applier need not poll
    /// often; nil: the applier polls.
    var journalAppends: JournalBell? { get }
}

extension ApplyingStore {
    public var journalAppends: JournalBell? { nil }
}

/// The retention of what a store keeps only for a while: applied webhook bodies
/// (`journal_retention`) and the audit trail's entries (`audit_retention`). The applier
/// prunes, a chunk per transaction, once it has caught up.
public protocol PruningStore: Sendable {
    /// Removes up to `limit` applied bodies received before `cutoff` (Unix seconds),
    /// oldest first; a dead letter's body stays whatever its age, and an account error
    /// keeps its row without it. Returns how many were removed.
    func pruneJournal(receivedBefore cutoff: Int64, limit: Int) async throws -> Int

    /// Removes up to `limit` audit entries recorded before `cutoff` (Unix seconds), oldest
    /// first: the one way rows leave the append-only trail. Returns how many.
    func pruneAudit(before cutoff: Int64, limit: Int) async throws -> Int
}
