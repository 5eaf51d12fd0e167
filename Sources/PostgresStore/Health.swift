import Foundation
import Logging
import PostgresNIO
import StoreContract

// What `wabox doctor` reads of a PostgreSQL inbox: the server, the schema, how far the
// applier is behind and who applies, what waits to be sent and who sends. One read-only
// transaction; nothing is migrated or written.

/// A PostgreSQL inbox at a glance.
public struct PostgresHealth: Sendable, Equatable {
    public struct Lease: Sendable, Equatable {
        public var holder: LeaseClaimant
        /// Since the last renewal, in milliseconds (the database's clock).
        public var renewedAgo: Int64
        public var lifetime: Int64
        public var isLive: Bool { renewedAgo <= lifetime }
    }

    /// `server_version`, e.g. `15.8 (Debian 15.8-0+deb12u1)`.
    public var serverVersion: String
    /// The role the connection acts as: who a reply sent from this inbox is written by.
    public var role: String
    /// Versions applied, and the newest this wabox knows.
    public var schemaVersions: [Int]
    public var latestSchemaVersion: Int
    /// Nil until the schema has the journal (a database `wabox serve` never started on).
    public var progress: JournalProgress?
    public var journalCount: Int
    public var messages: Int
    public var contacts: Int
    public var applier: Lease?
    /// Outbox rows by state (`queued`, `in_flight`, `uncertain`).
    public var outbox: [String: Int]
    /// Senders whose presence lease is live.
    public var liveSenders: Int
    public var halt: SendingHalt?
}

extension PostgresStore {
    /// The newest schema version this build migrates to.
    public static var latestSchemaVersion: Int { migrations.map(\.version).max() ?? 0 }

    public func health() async throws -> PostgresHealth {
        return try await readOnly { tx in
            let (version, role) = try await tx.row("SELECT current_setting('server_version'), current_user::text") {
                try $0.decode((String, String).self)
            } ?? ("unknown", "")
            var health = PostgresHealth(serverVersion: version, role: role, schemaVersions: [],
                                        latestSchemaVersion: Self.latestSchemaVersion, progress: nil, journalCount: 0,
                                        messages: 0, contacts: 0, applier: nil, outbox: [:], liveSenders: 0, halt: nil)
            let hasSchema = try await tx.returnsRow("SELECT 1 WHERE to_regclass('schema_migrations') IS NOT NULL")
            guard hasSchema else { return health }
            health.schemaVersions = try await tx.rows("SELECT version FROM schema_migrations ORDER BY version") {
                try $0.decode(Int.self)
            }
            let versions = Set(health.schemaVersions)
            if versions.contains(1) {
                health.progress = try await Self.journalProgress(in: tx)
                health.journalCount = Int(try await tx.int64("SELECT count(*) FROM journal") ?? 0)
                health.applier = try await tx.row("""
                    SELECT pid, host, role, (extract(epoch FROM now() - renewed_at) * 1000)::bigint, lifetime_ms
                    FROM lease WHERE name = \(Self.applierLease)
                    """, read: { row in
                    let (pid, host, role, ago, lifetime) = try row.decode((Int32, String, String, Int64, Int64).self)
                    return PostgresHealth.Lease(holder: LeaseClaimant(pid: pid, host: host, role: role), renewedAgo: ago,
                                                lifetime: lifetime)
                })
            }
            if versions.contains(2) {
                health.messages = Int(try await tx.int64("SELECT count(*) FROM message") ?? 0)
                health.contacts = Int(try await tx.int64("SELECT count(*) FROM contact") ?? 0)
                health.halt = try await PostgresOutbox.halt(in: tx)
            }
            if versions.contains(5) {
                for (state, count) in try await tx.rows("SELECT state, count(*) FROM outbox GROUP BY state", read: {
                    try $0.decode((String, Int).self)
                }) {
                    health.outbox[state] = count
                }
                health.liveSenders = Int(try await tx.int64("""
                    SELECT count(*) FROM lease
                    WHERE name LIKE 'sender %' AND renewed_at + lifetime_ms * interval '1 millisecond' > now()
                    """) ?? 0)
            }
            return health
        }
    }
}
