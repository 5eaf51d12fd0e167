import Foundation
import InboxCore
import GRDB
import StoreContract

// The SQLite store's side of the store contract (StoreContract.JournalStore): thin adapters
// over the journal (Journal.swift) and the listener lease (ListenerLease.swift), which is
// the applier lease here (the one process that holds it listens, applies and sends).

extension InboxDatabase: JournalStore {
    /// One listener per file: a redelivered body is journaled again and applied as a no-op.
    public var foldsRedeliveredBodies: Bool { false }

    @discardableResult
    public func appendJournal(_ bodies: [JournalAppend]) async throws -> [Int64] {
        try await appendToJournal(bodies.map { JournalEntry(receivedAt: $0.receivedAt, body: $0.body) })
    }

    public func unappliedJournal(after: Int64?, limit: Int) async throws -> [JournaledBody] {
        try await writer.read { db in
            let mark = try Self.appliedThrough(in: db)
            return try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, received_at, body FROM journal WHERE id > ? ORDER BY id LIMIT ?
                """), arguments: [max(mark, after ?? 0), limit])
                .map { JournaledBody(id: $0[0], receivedAt: $0[1], body: $0[2]) }
        }
    }

    public func markJournalApplied(through id: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE journal_mark SET applied_through = max(applied_through, ?) WHERE id = 1",
                           arguments: [id])
        }
    }

    public func journalAppliedThrough() async throws -> Int64 {
        try await writer.read { db in try Self.appliedThrough(in: db) }
    }

    /// The listener lease, its heartbeat in milliseconds of this machine's clock (SQLite
    /// is shared by the processes of one machine only).
    public func acquireApplierLease(_ claimant: LeaseClaimant, lifetime: Duration) async throws -> LeaseAttempt {
        let now = Self.leaseClock()
        let candidate = ListenerLease(pid: claimant.pid, host: claimant.host,
                                      role: ListenerLease.Role(rawValue: claimant.role) ?? .serve,
                                      address: nil, sending: true, startedAt: now, heartbeatAt: now)
        let milliseconds = lifetime.wholeMilliseconds
        switch try await acquireLease(candidate, isAlive: { now - $0.heartbeatAt < milliseconds }) {
        case .acquired: return .acquired
        case .heldBy(let holder): return .heldBy(LeaseClaimant(pid: holder.pid, host: holder.host, role: holder.role.rawValue))
        }
    }

    public func renewApplierLease(_ claimant: LeaseClaimant) async throws -> Bool {
        try await renewLease(pid: claimant.pid, host: claimant.host, at: Self.leaseClock())
    }

    public func releaseApplierLease(_ claimant: LeaseClaimant) async throws {
        try await releaseLease(pid: claimant.pid, host: claimant.host)
    }

    private static func leaseClock() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

extension InboxDatabase: ApplyingStore {
    /// Blocking, like `applyJournal(limit:shouldYield:)` under it: the listener's applier
    /// runs it on a thread of its own.
    public func applyJournalBatch(limit: Int) async throws -> [AppliedBody] {
        try applyJournal(limit: limit)
    }

    public func journalProgressNow() async throws -> JournalProgress {
        try journalProgress()
    }
}

extension InboxDatabase: PruningStore {}
