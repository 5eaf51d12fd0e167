import Foundation
import GRDB
import GRDBSQLite
import Synchronization

// The journal: every signed webhook body exactly as it arrived, appended in the order the
// listener committed them. A 200 means the body is here; the applier (Applier.swift) turns
// it into inbox rows just behind. The acknowledgement path only appends: no decoding, no
// index but the row id.

/// The bytes of a webhook body as received, bound into SQLite without a copy of their own
/// (`Data` here, NIO's `ByteBuffer` in the listener).
public protocol JournalBody: Sendable {
    func withUnsafeBodyBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result
}

extension Data: JournalBody {
    public func withUnsafeBodyBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(body)
    }
}

/// One body on its way into the journal.
public struct JournalEntry<Body: JournalBody>: Sendable {
    /// Unix seconds.
    public var receivedAt: Int64
    public var body: Body

    public init(receivedAt: Int64, body: Body) {
        self.receivedAt = receivedAt
        self.body = body
    }
}


extension InboxDatabase {
    /// Appends the bodies to the journal in one transaction (one group commit) and returns
    /// their ids, in order. When this returns, every body is durable: this is what a 200
    /// promises. Nothing is decoded.
    public func appendToJournal<Body: JournalBody>(_ entries: [JournalEntry<Body>]) async throws -> [Int64] {
        let ids = try await writer.write { db in try Self.append(entries, in: db) }
        journalAppended()
        return ids
    }

    /// Blocking variant of `appendToJournal(_:)` for callers outside Swift concurrency.
    public func appendToJournalSync<Body: JournalBody>(_ entries: [JournalEntry<Body>]) throws -> [Int64] {
        let ids = try writer.write { db in try Self.append(entries, in: db) }
        journalAppended()
        return ids
    }

    static func append<Body: JournalBody>(_ entries: [JournalEntry<Body>], in db: Database) throws -> [Int64] {
        let statement = try RawStatement(db, "INSERT INTO journal (received_at, body) VALUES (?, ?)")
        var ids: [Int64] = []
        ids.reserveCapacity(entries.count)
        for entry in entries {
            try entry.body.withUnsafeBodyBytes { bytes in
                // Stepped inside the closure, so SQLite may read the bytes where they are.
                try statement.execute(entry.receivedAt, UnretainedBlob(bytes: bytes))
            }
            ids.append(db.lastInsertedRowID)
        }
        return ids
    }

    /// A journal commit landed: the applier has work, the WAL grew.
    func journalAppended() {
        checkpointer?.commitLanded()
        journalBell.ring()
    }

    /// How far the applier is behind the journal: two lookups by row id, and one more when
    /// something waits.
    public func journalProgress() throws -> JournalProgress {
        try writer.read { db in try Self.progress(in: db) }
    }

    static func progress(in db: Database) throws -> JournalProgress {
        let journaled = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'journal'")) ?? 0
        let applied = try appliedThrough(in: db)
        var oldest: Int64?
        if journaled > applied {
            oldest = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT received_at FROM journal WHERE id > ? ORDER BY id LIMIT 1
                """), arguments: [applied])
        }
        return JournalProgress(journaled: journaled, applied: applied, oldestWaitingReceivedAt: oldest)
    }

    static func appliedThrough(in db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT applied_through FROM journal_mark WHERE id = 1")) ?? 0
    }

    /// Waits until this process appended to the journal (or `wakeApplier()` was called)
    /// since the last wait, or `timeout` passed; for the applier's own thread (it blocks).
    /// Other processes' appends are seen when the timeout ends.
    public func waitForJournal(timeout: Duration) {
        journalBell.wait(timeout: timeout)
    }

    /// Ends the applier's `waitForJournal` at once (it is asked to stop).
    public func wakeApplier() { journalBell.ring() }
}

// MARK: - Retention

extension InboxDatabase {
    /// Deletes up to `limit` applied bodies received before `cutoff` (Unix seconds), oldest
    /// first, in one short transaction; returns how many went. Bodies of dead letters stay
    /// (they are what an operator looks at), and so do bodies not yet applied, whatever
    /// their age. Bodies journaled before v11 (table `webhook`) go by the same rule.
    ///
    /// Ids grow with time, so the oldest bodies come first and a run stops at the first body
    /// newer than `cutoff`: each call reads about `limit` rows, however long the journal.
    public func pruneJournal(receivedBefore cutoff: Int64, limit: Int = 500) throws -> Int {
        try writer.write { db in
            var removed = try Self.prune(table: "journal", letterColumn: "journal_id", cutoff: cutoff, limit: limit, in: db)
            if removed < limit {
                removed += try Self.prune(table: "webhook", letterColumn: "webhook_id", cutoff: cutoff,
                                          limit: limit - removed, in: db)
            }
            return removed
        }
    }

    private static func prune(table: String, letterColumn: String, cutoff: Int64, limit: Int,
                              in db: Database) throws -> Int {
        let mark = try appliedThrough(in: db)
        // The first `limit` bodies that are neither a dead letter's nor newer than the cutoff,
        // walking by id; the walk ends at the first body newer than the cutoff.
        let ids = try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT id FROM (
                SELECT id, received_at FROM \(table) WHERE id <= ?
                  AND NOT EXISTS (SELECT 1 FROM dead_letter WHERE dead_letter.\(letterColumn) = \(table).id)
                ORDER BY id LIMIT ?
            ) WHERE received_at < ?
            """), arguments: [mark, limit, cutoff])
        guard !ids.isEmpty else { return 0 }
        let list = ids.map(String.init).joined(separator: ",")
        // An account error keeps its row, not its body.
        try db.execute(sql: "UPDATE account_error SET \(letterColumn) = NULL WHERE \(letterColumn) IN (\(list))")
        try db.execute(sql: "DELETE FROM \(table) WHERE id IN (\(list))")
        return db.changesCount
    }
}

// MARK: - Pieces

/// Bytes bound without a copy (`SQLITE_STATIC`): valid only while the statement runs inside
/// the closure that lent them.
struct UnretainedBlob: RawBindable {
    let bytes: UnsafeRawBufferPointer

    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        // A zero-length blob still needs an address: NULL would bind SQL NULL.
        sqlite3_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), nil)
    }
}

/// Wakes one waiting thread when rung; a ring with nobody waiting is kept for the next
/// wait, and many rings before it count as one. The waiter looks for work after each
/// wait: a ring that lands while it is waking is covered by that look (work is committed
/// before its ring), so none is lost; at worst a wait returns once for nothing.
final class Doorbell: Sendable {
    private let rung = Mutex(false)
    private let semaphore = DispatchSemaphore(value: 0)

    func ring() {
        let wake = rung.withLock { rung -> Bool in
            defer { rung = true }
            return !rung
        }
        if wake { semaphore.signal() }
    }

    /// Returns once rung (at once if it was rung since the last wait) or after `timeout`.
    func wait(timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        _ = semaphore.wait(timeout: .now() + .nanoseconds(nanoseconds))
        rung.withLock { $0 = false }
    }
}
