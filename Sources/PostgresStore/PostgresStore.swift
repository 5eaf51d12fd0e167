import Foundation
import InboxCore
import Logging
import PostgresNIO
import StoreContract

// The inbox on PostgreSQL (issue 19): one database that any number of `wabox serve` and
// screens on any host share. Every statement goes through postgres-nio's PostgresClient
// (its connection pool) with its values bound as parameters: a PostgresQuery's
// interpolations are binds ($1, $2 …), never text pasted into the SQL.

/// The store on a PostgreSQL database. Its client's pool runs while `withStore`'s body
/// runs (or while `client.run()` runs in a service group).
public final class PostgresStore: Sendable {
    public let client: PostgresClient
    public let location: PostgresLocation
    let logger: Logger
    /// Reads journaled bodies into events, as SQLite's applier does (InboxCore's decoder).
    let decoder: WebhookDecoder
    /// Rung after each append of this process, and by `followJournal` on another's.
    public let journalAppends: JournalBell? = JournalBell()

    /// A store on `location`; nothing connects until `client.run()` runs and a query is made.
    /// `decoder` is the configuration the SQLite store takes as `InboxDatabase.Configuration.decoder`.
    public init(_ location: PostgresLocation, logger: Logger, maximumConnections: Int = 20,
                decoder: WebhookDecoder.Configuration = .init()) {
        self.location = location
        self.logger = logger
        self.decoder = WebhookDecoder(configuration: decoder)
        var configuration = Self.clientConfiguration(location)
        configuration.options.maximumConnections = maximumConnections
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs `body` with a store on `location` whose pool runs meanwhile, its schema migrated
    /// first; the pool closes (its connections too) when `body` returns or throws.
    public static func withStore<Result: Sendable>(
        _ location: PostgresLocation, logger: Logger, maximumConnections: Int = 20,
        _ body: @Sendable (PostgresStore) async throws -> Result
    ) async throws -> Result {
        try await opened(location, logger: logger, maximumConnections: maximumConnections, migrating: true, body)
    }

    /// As `withStore`, with the schema left as it is: for a command that only reads
    /// (`wabox doctor`), which must not change a database a newer or older wabox serves.
    public static func reading<Result: Sendable>(
        _ location: PostgresLocation, logger: Logger, _ body: @Sendable (PostgresStore) async throws -> Result
    ) async throws -> Result {
        try await opened(location, logger: logger, maximumConnections: 2, migrating: false, body)
    }

    private static func opened<Result: Sendable>(
        _ location: PostgresLocation, logger: Logger, maximumConnections: Int, migrating: Bool,
        _ body: @Sendable (PostgresStore) async throws -> Result
    ) async throws -> Result {
        let store = PostgresStore(location, logger: logger, maximumConnections: maximumConnections)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await store.client.run() }
            do {
                if migrating { try await store.migrate() }
                let result = try await body(store)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// The client's settings for `location`: `sslmode=require` encrypts without checking the
    /// certificate, `verify-full` checks it against the system's roots and the host name.
    public static func clientConfiguration(_ location: PostgresLocation) -> PostgresClient.Configuration {
        PostgresClient.Configuration(host: location.host, port: location.port, username: location.user,
                                     password: location.password, database: location.database,
                                     tls: tlsSettings(location).map { .require($0) } ?? .disable)
    }

    /// The TLS `location` asks for, nil for none: the pool's and every single connection's.
    static func tlsSettings(_ location: PostgresLocation) -> TLSConfiguration? {
        switch location.tls {
        case .disable:
            return nil
        case .require:
            var unverified = TLSConfiguration.makeClientConfiguration()
            unverified.certificateVerification = .none
            return unverified
        case .verifyFull:
            return .makeClientConfiguration()
        }
    }

}

// MARK: - Schema

extension PostgresStore {
    /// One version of the schema: statements run in order, in the migration's transaction.
    struct Migration: Sendable {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// Every version, oldest first. Append; never edit one that has shipped.
    static let migrations: [Migration] = [
        Migration(version: 1, name: "journal, applied mark, leases", statements: [
            """
            -- The journal: every signed body exactly as received. Ids are drawn under the
            -- journal lock (appendJournal), so they grow in commit order across listeners.
            -- digest is the body's SHA-256 for a body as delivered (NULL for a replay): Meta
            -- may deliver one body to two listeners, and the second append is folded into
            -- the first.
            CREATE TABLE journal (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                received_at bigint NOT NULL,
                body bytea NOT NULL,
                digest bytea
            )
            """,
            "CREATE UNIQUE INDEX journal_digest ON journal (digest)",
            """
            -- Every body with an id up to applied_through is applied.
            CREATE TABLE journal_mark (
                id integer PRIMARY KEY CHECK (id = 1),
                applied_through bigint NOT NULL
            )
            """,
            "INSERT INTO journal_mark (id, applied_through) VALUES (1, 0)",
            """
            -- Leases that make one process at a time do a job for every listener (name
            -- 'applier'). Times are the database's clock, the one clock every host shares.
            CREATE TABLE lease (
                name text PRIMARY KEY,
                pid integer NOT NULL,
                host text NOT NULL,
                role text NOT NULL,
                lifetime_ms bigint NOT NULL,
                acquired_at timestamptz NOT NULL,
                renewed_at timestamptz NOT NULL
            )
            """,
        ]),
        inboxRows,
        changeFeedMigration,
        inboxChangeTriggers,
        outboxMigration,
        teamRows,
        searchMigration,
        failingRepliesMigration,
        outboxChangeTriggers,
        mediaFilesMigration,
    ]

    /// `pg_advisory_xact_lock` keys: one for migrations, one that orders journal appends.
    static let migrationLock: Int64 = 0x7761_626F_7801 // "wabox", 1
    static let journalLock: Int64 = 0x7761_626F_7802

    /// Brings the schema to the newest version, in one transaction under an advisory lock:
    /// two listeners starting together migrate once, the second finding it done.
    public func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger)
                .decode(Int.self) {
                applied.insert(version)
            }
            for migration in Self.migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("""
                    INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))
                    """, logger: logger)
                logger.info("PostgreSQL schema migrated", metadata: ["version": "\(migration.version)"])
            }
        }
    }

    /// The versions applied, oldest first.
    public func schemaVersions() async throws -> [Int] {
        var versions: [Int] = []
        for try await version in try await client.query("SELECT version FROM schema_migrations ORDER BY version",
                                                         logger: logger).decode(Int.self) {
            versions.append(version)
        }
        return versions
    }
}

// MARK: - The journal

extension PostgresStore: JournalStore {
    /// Several listeners share the database: a body delivered to two is journaled once.
    public var foldsRedeliveredBodies: Bool { true }

    /// One statement for the whole batch (arrays unnested in order), in a transaction that
    /// first takes the journal lock, held to the commit: ids are drawn and committed in one
    /// order across every listener, so the applier's mark never passes a body that commits
    /// later. A body whose digest is journaled already is skipped (ON CONFLICT DO NOTHING).
    @discardableResult
    public func appendJournal(_ bodies: [JournalAppend]) async throws -> [Int64] {
        guard !bodies.isEmpty else { return [] }
        let received = bodies.map(\.receivedAt)
        let buffers = bodies.map { ByteBuffer(bytes: $0.body) }
        let replays = bodies.map(\.isReplay)
        let logger = self.logger
        let ids = try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.journalLock))", logger: logger)
            let rows = try await connection.query("""
                INSERT INTO journal (received_at, body, digest)
                SELECT t.received_at, t.body, CASE WHEN t.replay THEN NULL ELSE sha256(t.body) END
                FROM unnest(\(received)::bigint[], \(buffers)::bytea[], \(replays)::boolean[])
                     WITH ORDINALITY AS t(received_at, body, replay, n)
                ORDER BY t.n
                ON CONFLICT (digest) DO NOTHING
                RETURNING id
                """, logger: logger)
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            // Heard at commit by the applier of whichever listener holds its lease.
            if !ids.isEmpty { try await connection.query("NOTIFY \(unescaped: Self.journalChannel)", logger: logger) }
            return ids.sorted()
        }
        if !ids.isEmpty { journalAppends?.ring() }
        return ids
    }

    public func unappliedJournal(after: Int64?, limit: Int) async throws -> [JournaledBody] {
        let rows = try await client.query("""
            SELECT id, received_at, body FROM journal
            WHERE id > greatest((SELECT applied_through FROM journal_mark WHERE id = 1), \(after ?? 0))
            ORDER BY id LIMIT \(limit)
            """, logger: logger)
        var bodies: [JournaledBody] = []
        for try await (id, receivedAt, body) in rows.decode((Int64, Int64, ByteBuffer).self) {
            bodies.append(JournaledBody(id: id, receivedAt: receivedAt, body: Data(body.readableBytesView)))
        }
        return bodies
    }

    public func markJournalApplied(through id: Int64) async throws {
        try await client.query("""
            UPDATE journal_mark SET applied_through = greatest(applied_through, \(id)) WHERE id = 1
            """, logger: logger)
    }

    public func journalAppliedThrough() async throws -> Int64 {
        for try await mark in try await client.query("SELECT applied_through FROM journal_mark WHERE id = 1",
                                                      logger: logger).decode(Int64.self) {
            return mark
        }
        return 0
    }

    /// How many bodies the journal holds (tests, `doctor`).
    public func journalCount() async throws -> Int {
        for try await count in try await client.query("SELECT count(*) FROM journal", logger: logger).decode(Int.self) {
            return count
        }
        return 0
    }
}

// MARK: - The applier lease

extension PostgresStore {
    static let applierLease = "applier"

    /// A lease row with a heartbeat, on the database's clock: the claimant takes it when
    /// nobody holds it, when it is its own, or when the holder's last renewal is older than
    /// the holder's lifetime. One statement (INSERT … ON CONFLICT DO UPDATE … WHERE), so two
    /// claimants at once cannot both win.
    public func acquireApplierLease(_ claimant: LeaseClaimant, lifetime: Duration) async throws -> LeaseAttempt {
        try await acquireLease(Self.applierLease, for: claimant, lifetime: lifetime)
    }

    public func renewApplierLease(_ claimant: LeaseClaimant) async throws -> Bool {
        try await renewLease(Self.applierLease, for: claimant)
    }

    public func releaseApplierLease(_ claimant: LeaseClaimant) async throws {
        try await releaseLease(Self.applierLease, for: claimant)
    }

    /// Takes lease `name` for `claimant` unless another holds it and renewed it less than
    /// its lifetime ago; a holder asking again keeps it (and renews it). One statement, so
    /// two claimants at once cannot both win.
    public func acquireLease(_ name: String, for claimant: LeaseClaimant, lifetime: Duration) async throws -> LeaseAttempt {
        let milliseconds = lifetime.wholeMilliseconds
        // The holder may let go between the two statements: ask again.
        for _ in 0..<5 {
            let won = try await client.query("""
                INSERT INTO lease AS held (name, pid, host, role, lifetime_ms, acquired_at, renewed_at)
                VALUES (\(name), \(claimant.pid), \(claimant.host), \(claimant.role), \(milliseconds), now(), now())
                ON CONFLICT (name) DO UPDATE SET
                    acquired_at = CASE WHEN held.pid = excluded.pid AND held.host = excluded.host
                                       THEN held.acquired_at ELSE now() END,
                    pid = excluded.pid, host = excluded.host, role = excluded.role,
                    lifetime_ms = excluded.lifetime_ms, renewed_at = now()
                WHERE (held.pid = excluded.pid AND held.host = excluded.host)
                   OR held.renewed_at + held.lifetime_ms * interval '1 millisecond' < now()
                RETURNING pid
                """, logger: logger)
            for try await _ in won { return .acquired }
            let holder = try await client.query("SELECT pid, host, role FROM lease WHERE name = \(name)", logger: logger)
            for try await (pid, host, role) in holder.decode((Int32, String, String).self) {
                return .heldBy(LeaseClaimant(pid: pid, host: host, role: role))
            }
        }
        throw PostgresStoreError("the \(name) lease changed hands five times while this process asked for it: start again")
    }

    /// The holder's heartbeat; false when lease `name` is no longer `claimant`'s.
    public func renewLease(_ name: String, for claimant: LeaseClaimant) async throws -> Bool {
        let renewed = try await client.query("""
            UPDATE lease SET renewed_at = now()
            WHERE name = \(name) AND pid = \(claimant.pid) AND host = \(claimant.host)
            RETURNING pid
            """, logger: logger)
        for try await _ in renewed { return true }
        return false
    }

    /// Gives lease `name` up, if `claimant` holds it.
    public func releaseLease(_ name: String, for claimant: LeaseClaimant) async throws {
        try await client.query("""
            DELETE FROM lease WHERE name = \(name) AND pid = \(claimant.pid) AND host = \(claimant.host)
            """, logger: logger)
    }
}

/// A PostgreSQL store failure, in words that say what to do.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
