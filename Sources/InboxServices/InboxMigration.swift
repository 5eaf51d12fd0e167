import Foundation
import InboxCore
import InboxStore
import Logging
import PostgresStore

/// `wabox migrate`: a team's SQLite inbox moved into PostgreSQL with its whole history.
///
/// Here because it is the one module that knows both stores: InboxStore reads the file
/// (GRDB), PostgresStore writes the database (postgres-nio), and neither depends on the
/// other; they meet in StoreContract's InboxRowSource.
public enum InboxMigration {
    /// A migration that could not start or did not finish, in words that say what to do.
    /// Nothing was written to PostgreSQL beyond its schema.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        /// The counts, when they were compared and differed.
        public var report: Report?
    }

    /// Each table's rows on both sides.
    public struct Report: Sendable {
        public var counts: SQLiteImportReport
        /// Downloaded and sent files whose bytes were copied into the database, so that a
        /// screen on any host can show them.
        public var filesCopied = 0
        /// Ready files not found (or no longer matching their hash) at their path: the rows
        /// are kept, and a screen elsewhere says the file is on the old host only.
        public var filesMissing: [String] = []

        init(counts: SQLiteImportReport) {
            self.counts = counts
        }

        /// One line per table: `contact  1,204 → 1,204 ✓`.
        public var lines: [String] { counts.lines }
    }

    /// Copies the inbox at `path` into the empty PostgreSQL database at `location`.
    ///
    /// The file is opened as every wabox command opens it: an older file is brought to
    /// this release's schema first, so that one copier reads one schema. Outbound messages
    /// left in flight become uncertain, as `wabox serve` would make them when it starts
    /// again (nothing sends them while the inbox moves). Refused while a `wabox serve` or a
    /// screen with its listener runs on the file: what it wrote after the copy would be lost.
    public static func run(from path: String, to location: PostgresLocation, connectTimeout: Duration = .seconds(10),
                           logger: Logger) async throws -> Report {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "no SQLite inbox at \(path): give --from the file wabox serve used (its --db)")
        }
        let database: InboxDatabase
        do {
            database = try InboxDatabase(path: path, configuration: .init(indexesSearch: false))
        } catch {
            throw Failure(description: "\(error)")
        }
        if let lease = try database.currentLease(), LeaseHolder().isAlive(lease), database.isLeaseOfThisFile(lease) {
            throw Failure(description: """
                \(lease.holderDescription) is running on \(path): stop it first (systemctl stop wabox, or Ctrl-C), \
                then run wabox migrate again; start wabox serve with --db \(location.redacted) afterwards
                """)
        }
        try await database.recoverInFlightOutbound()
        let source = try database.rowSource()
        do {
            try await PostgresStore.probe(location, timeout: connectTimeout, logger: logger)
        } catch {
            throw Failure(description: error.description)
        }
        do {
            return try await PostgresStore.withStore(location, logger: logger, maximumConnections: 2) { store in
                var report = Report(counts: try await store.importInbox(from: source))
                // The search words of the whole history, before any search needs them: a
                // search scans only the newest rows not indexed yet.
                while try await store.indexSearchText(limit: 5_000) > 0 {}
                (report.filesCopied, report.filesMissing) = try await copyFiles(into: store)
                return report
            }
        } catch let failure as SQLiteImportError {
            throw Failure(description: failure.description, report: failure.report.map(Report.init))
        }
    }

    /// The bytes of every ready file the copied media rows name, from the media folder on
    /// this host, into the database (after the rows' transaction: files are large, and one
    /// missing must not undo the move). Returns how many were copied and the paths missing.
    private static func copyFiles(into store: PostgresStore) async throws -> (Int, [String]) {
        var copied = 0
        var missing: [String] = []
        for (hash, path) in try await store.readyFilesNotShared() {
            guard let bytes = FileManager.default.contents(atPath: path), MediaDigest.hex(of: bytes) == hash else {
                missing.append(path)
                continue
            }
            try await store.shareMediaFile(contentHash: hash, bytes: bytes)
            copied += 1
        }
        return (copied, missing)
    }
}
