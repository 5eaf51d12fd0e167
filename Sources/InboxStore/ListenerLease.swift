import Foundation
import GRDB
import InboxCore

// One process at a time holds the listener lease: it runs the webhook listener and the
// outbox sender; the others attach.

/// The process that runs the listener and the sender for a database.
public struct ListenerLease: Sendable, Equatable {
    public enum Role: String, Sendable {
        /// `wabox serve`.
        case serve
        /// A `wabox` screen with the listener embedded.
        case inbox
    }

    public var pid: Int32
    public var host: String
    public var role: Role
    public var agent: String?
    /// Where the listener answers, when it runs one.
    public var address: String?
    /// Whether it sends the outbox.
    public var sending: Bool
    public var startedAt: Int64
    public var heartbeatAt: Int64
    /// The database file the holder opened (device and inode), recorded when it took the
    /// lease: a copy of the file carries the row but is not the holder's file.
    public var fileID: String?

    public init(pid: Int32, host: String, role: Role, agent: String? = nil, address: String?, sending: Bool,
                startedAt: Int64, heartbeatAt: Int64, fileID: String? = nil) {
        self.fileID = fileID
        self.pid = pid
        self.host = host
        self.role = role
        self.agent = agent
        self.address = address
        self.sending = sending
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }

    /// "wabox serve" or "alice's wabox", for the status bar.
    public var shortDescription: String {
        role == .serve ? "wabox serve" : (agent.map { "\($0)'s wabox" } ?? "another wabox")
    }

    /// "wabox serve (pid 42 on box)" for messages.
    public var holderDescription: String {
        let who = role == .serve ? "wabox serve" : "wabox" + (agent.map { " of \($0)" } ?? "")
        return "\(who) (pid \(pid) on \(host))"
    }
}

/// What became of an attempt to take the lease.
public enum LeaseOutcome: Sendable, Equatable {
    case acquired
    case heldBy(ListenerLease)
}

extension InboxDatabase {
    /// Takes the listener lease for `candidate` unless a holder that `isAlive` has it.
    /// Atomic across processes: two starting at once cannot both acquire it.
    public func acquireLease(_ candidate: ListenerLease,
                             isAlive: @Sendable (ListenerLease) -> Bool) async throws -> LeaseOutcome {
        let fileID = fileIdentity()
        return try await writer.writeWithoutTransaction { db in
            var outcome = LeaseOutcome.acquired
            try db.inTransaction(.immediate) {
                if let holder = try Self.lease(in: db), holder.pid != candidate.pid || holder.host != candidate.host,
                   isAlive(holder) {
                    outcome = .heldBy(holder)
                    return .rollback
                }
                try db.execute(sql: """
                    INSERT OR REPLACE INTO listener_lease
                        (id, pid, host, role, agent, address, sending, started_at, heartbeat_at, file_id)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [candidate.pid, candidate.host, candidate.role.rawValue, candidate.agent,
                                     candidate.address, candidate.sending, candidate.startedAt, candidate.heartbeatAt,
                                     fileID])
                return .commit
            }
            return outcome
        }
    }

    /// Heartbeat of the holder; false when the lease is no longer this process's.
    public func renewLease(pid: Int32, host: String, at now: Int64) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE listener_lease SET heartbeat_at = ? WHERE pid = ? AND host = ?",
                           arguments: [now, pid, host])
            return db.changesCount > 0
        }
    }

    /// Records where the holder's listener answers once it is up.
    public func updateLeaseAddress(_ address: String, pid: Int32, host: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE listener_lease SET address = ? WHERE pid = ? AND host = ?",
                           arguments: [address, pid, host])
        }
    }

    public func releaseLease(pid: Int32, host: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM listener_lease WHERE pid = ? AND host = ?", arguments: [pid, host])
        }
    }

    /// The current holder, alive or not.
    public func currentLease() throws -> ListenerLease? {
        try writer.read { db in try Self.lease(in: db) }
    }

    private static func lease(in db: Database) throws -> ListenerLease? {
        try Row.fetchOne(db, sql: "SELECT * FROM listener_lease WHERE id = 1").map { row in
            ListenerLease(pid: row["pid"], host: row["host"], role: ListenerLease.Role(rawValue: row["role"]) ?? .serve,
                          agent: row["agent"], address: row["address"], sending: row["sending"],
                          startedAt: row["started_at"], heartbeatAt: row["heartbeat_at"], fileID: row["file_id"])
        }
    }

    /// The database file as the lease names it: device and inode, which a copy of the file
    /// (a backup) does not share. Nil when the file cannot be looked at.
    public func fileIdentity() -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return "\(info.st_dev):\(info.st_ino)"
    }

    /// Whether `lease` was taken on this very file, not on the original of a copy.
    public func isLeaseOfThisFile(_ lease: ListenerLease) -> Bool {
        guard let fileID = lease.fileID else { return false }
        return fileID == fileIdentity()
    }
}
