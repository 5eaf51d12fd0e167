import Foundation
import GRDB
import Synchronization
import InboxCore
// The store contract's types (IngestOutcome, AppliedBody, JournalProgress) are this
// module's vocabulary too: its callers need not import StoreContract to use them.
@_exported import StoreContract

/// The inbox's SQLite database: the only owner of SQL in wabox.
///
/// Wraps a GRDB `DatabasePool` in WAL mode. Every write method keeps the inbox's
/// invariants (ticks only move forward, applying a webhook twice changes nothing).
public final class InboxDatabase: Sendable {
    public struct Configuration: Sendable {
        /// How hard a commit waits for the disk.
        public enum Durability: String, Sendable, CaseIterable {
            /// WAL with `synchronous=NORMAL`: a committed webhook survives a crash of the
            /// process (`kill -9`), the last commits may be lost on power failure.
            case normal
            /// WAL with `synchronous=FULL`: survives power loss too, at a cost per commit.
            case full
        }

        public var durability: Durability
        public var readonly: Bool
        /// Whether this process indexes new messages for full-text search after its commits
        /// (and catches up when it opens the database). Off only in tests that need messages
        /// left unindexed; another process or `indexMessagesForSearch()` does it then.
        public var indexesSearch: Bool
        /// What the agent asked to be called (`--agent`, `WABOX_AGENT`, `agent`): shown beside
        /// the account, recorded with each action, never used instead of the account.
        public var displayName: String?
        /// The account this connection acts as. nil, as wabox always leaves it: the store's
        /// own rule (`InboxDatabase.sessionAccount`). Set only by tests that play several
        /// agents in one process, each through a database of its own.
        public var account: String?
        /// What the applier and `replay` decode bodies with. Production leaves it alone;
        /// tests set it to stand in for a release that reads more (or fewer) types.
        public var decoder: WebhookDecoder.Configuration

        public init(durability: Durability = .normal, readonly: Bool = false, indexesSearch: Bool = true,
                    displayName: String? = nil, account: String? = nil, decoder: WebhookDecoder.Configuration = .init()) {
            self.durability = durability
            self.readonly = readonly
            self.indexesSearch = indexesSearch
            self.displayName = displayName
            self.account = account
            self.decoder = decoder
        }
    }

    public struct OpenError: Error, CustomStringConvertible {
        public var description: String
    }

    let writer: any DatabaseWriter
    public let path: String
    /// Who acts through this database: every claim, note, label, canned reply and message
    /// sent is recorded under `identity.account`, and in the audit trail.
    public let identity: AgentIdentity
    private let changes: ChangeWatcher
    /// Nil for a read-only database.
    let checkpointer: WALCheckpointer?
    /// Nil for a read-only database, or when `indexesSearch` is off.
    let searchIndexer: SearchIndexer?
    /// Rung after each journal commit of this process: the applier's wake-up.
    let journalBell = Doorbell()
    /// What the applier decodes journaled bodies with.
    let decoder: WebhookDecoder

    /// Opens (creating when needed) the database at `path` and runs pending migrations.
    /// A new file and its folder are made readable by the owner only, unless the folder
    /// already exists and its group may write it: then the group may use the file too.
    public init(path: String, configuration: Configuration = .init()) throws {
        self.path = path
        identity = AgentIdentity(account: configuration.account ?? Self.sessionAccount(),
                                 displayName: configuration.displayName)
        decoder = WebhookDecoder(configuration: configuration.decoder)
        let fileManager = FileManager.default
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !fileManager.fileExists(atPath: directory) {
            do {
                try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
            } catch {
                throw OpenError(description: "cannot create the database folder \(directory): \(error.localizedDescription). Create it, or pass --db with a writable path.")
            }
        }
        let isNew = !fileManager.fileExists(atPath: path)
        if isNew, !configuration.readonly {
            // A folder its group may write (a shared inbox: `chmod 2770`, group of the agents)
            // gets a file the group may write too; anywhere else the owner alone.
            let folderMode = (try? fileManager.attributesOfItem(atPath: directory.isEmpty ? "." : directory))?[.posixPermissions]
                as? NSNumber
            let shared = (folderMode?.intValue ?? 0) & 0o070 == 0o070
            guard fileManager.createFile(atPath: path, contents: nil,
                                         attributes: [.posixPermissions: shared ? 0o660 : 0o600]) else {
                throw OpenError(description: "cannot create the database file \(path): check that its folder is writable, or pass --db with another path.")
            }
        }
        var config = GRDB.Configuration()
        config.readonly = configuration.readonly
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        let synchronous = configuration.durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            if db.configuration.readonly {
                // Readers (the screen's queries) map the file instead of copying each page
                // with a system call: at a million conversations a filter key's CPU p99
                // drops from 15–19 ms to 11 ms. Pages stay the kernel's, shared by every
                // screen; the writer keeps `pread`, so the listener's memory stays its own.
                try db.execute(sql: "PRAGMA mmap_size = \(Self.readerMapBytes)")
            } else {
                // The writer leaves checkpoints to `WALCheckpointer`, off the commit path,
                // and checkpoints itself only when the WAL outgrows this many pages. A
                // larger page cache keeps more of the indexes that every webhook touches.
                try db.execute(sql: """
                    PRAGMA wal_autocheckpoint = \(WALCheckpointer.writerFallbackPages);
                    PRAGMA journal_size_limit = \(WALCheckpointer.walSizeLimit);
                    PRAGMA cache_size = -16384;
                    """)
            }
            db.add(function: Schema.foldFunction)
        }
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            if !configuration.readonly {
                // GRDB sets `synchronous = NORMAL` on the writer when it turns WAL on, after
                // `prepareDatabase`: set the chosen level again, or `full` is silently lost.
                try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
                try Schema.migrator.migrate(pool)
                checkpointer = try WALCheckpointer(path: path)
            } else {
                checkpointer = nil
            }
            searchIndexer = configuration.readonly || !configuration.indexesSearch ? nil : SearchIndexer(writer: pool)
            writer = pool
            changes = try ChangeWatcher(path: path)
        } catch {
            throw OpenError(description: "cannot open the database \(path): \(error). Check the path and its permissions, or pass --db with another file.")
        }
        // Messages a crash left unindexed (or another process's latest) are indexed now.
        searchIndexer?.messagesLanded()
    }

    /// How much of the file a reader maps (SQLite's own ceiling on Linux, about 2 GB).
    static let readerMapBytes = 0x7fff_0000

    /// A commit that may have added messages landed.
    func committed() {
        checkpointer?.commitLanded()
        searchIndexer?.messagesLanded()
    }

    /// A number that changes with every commit to the file, by this process or any other
    /// (`PRAGMA data_version`): the screen polls it to redraw when a webhook lands or
    /// another agent acts. One cheap statement on a connection of its own.
    public var changeCount: Int { changes.version }

    /// Whether every migration has run (for `doctor` and the health check).
    public func isMigrated() throws -> Bool {
        try writer.read { db in try Schema.migrator.hasCompletedMigrations(db) }
    }

    /// `PRAGMA integrity_check`, `ok` when the file is sound.
    public func integrityCheck() throws -> String {
        try writer.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "\n") }
    }
    /// The writer connection's `PRAGMA synchronous` (`NORMAL`, `FULL`), as `durability` set
    /// it: what a commit survives, told by SQLite itself.
    public func synchronousMode() throws -> String {
        let level = try writer.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        return [0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"][level] ?? "\(level)"
    }
}

/// Copies the WAL into the database file on a connection and a thread of its own, so that
/// the writer never waits for a checkpoint (and its `fsync`s) between two group commits.
///
/// Started after each commit of the journal or the applier; at most one checkpoint runs at
/// a time, and one more follows, `pause` later, if commits landed meanwhile. PASSIVE checkpoints never block the writer or
/// readers. Should they fall behind (a reader holding an old snapshot), the writer's own
/// automatic checkpoint at `writerFallbackPages` still bounds the WAL.
final class WALCheckpointer: Sendable {
    static let writerFallbackPages = 16_384
    /// After a checkpoint, the next waits this long. Journal commits are small and many
    /// (one per group of requests); a checkpoint after each, with its fsync, cost about 18 µs
    /// of CPU per webhook under `scripts/bench-ingest`'s load (wrk -c16). 10 ms: 20% more
    /// webhooks a second, p99 the same (4.5 ms); 50 ms: no more webhooks, p99 6–12 ms.
    static let pause = Duration.milliseconds(10)
    static let walSizeLimit = 64 * 1024 * 1024

    private let worker: CoalescingWorker

    init(path: String) throws {
        var configuration = GRDB.Configuration()
        configuration.label = "wabox.wal-checkpoint"
        let connection = try DatabaseQueue(path: path, configuration: configuration)
        worker = CoalescingWorker(label: "wabox.wal-checkpoint", pause: Self.pause) {
            do {
                _ = try connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            } catch {
                // Nothing is lost when a checkpoint fails (the WAL still holds every commit)
                // and the writer's automatic checkpoint takes over; the next commit retries.
            }
        }
    }

    /// A commit landed: checkpoint in the background, unless a checkpoint is already running
    /// (then it runs once more when done).
    func commitLanded() { worker.request() }
}

/// Runs a piece of work on a thread of its own when asked. Asked again while it runs, or
/// within `pause` after it ran, it runs once more after that, however many times it was
/// asked meanwhile: under a stream of requests the work runs at most once per `pause`
/// and each run covers more.
final class CoalescingWorker: Sendable {
    private let queue: DispatchQueue
    private let pause: Duration
    private let state = Mutex((running: false, again: false))
    private let work: @Sendable () -> Void

    init(label: String, pause: Duration = .zero, work: @escaping @Sendable () -> Void) {
        queue = DispatchQueue(label: label, qos: .utility)
        self.pause = pause
        self.work = work
    }

    func request() {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        guard start else { return }
        queue.async { self.run() }
    }

    private func run() {
        work()
        if pause > .zero {
            let (seconds, attoseconds) = pause.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { self.finish() }
        } else {
            finish()
        }
    }

    private func finish() {
        let again = state.withLock { state -> Bool in
            if state.again {
                state.again = false
                return true
            }
            state.running = false
            return false
        }
        if again { queue.async { self.run() } }
    }
}

extension InboxDatabase: InboxScreenStore {}

extension InboxDatabase: CannedReplyStore {}

extension InboxDatabase: AuditTrailStore {}
