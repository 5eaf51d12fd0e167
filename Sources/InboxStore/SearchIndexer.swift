import Foundation
import GRDB

extension Schema {
    /// v6 takes full-text indexing off the commit path: the insert trigger of v3 cost about
    /// 40 µs per message inside every group commit. `SearchIndexer` indexes new messages in
    /// transactions of its own just after, and `message_fts_progress` records how far it got;
    /// search scans the few messages above that mark, so its results stay complete.
    static func registerDeferredSearch(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6: message full-text index kept by an indexer after the commits") { db in
            try db.execute(sql: """
                -- Every message with an id up to indexed_through is in message_fts, and none above it.
                CREATE TABLE message_fts_progress (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    indexed_through INTEGER NOT NULL
                );
                INSERT INTO message_fts_progress (id, indexed_through) SELECT 1, coalesce(max(id), 0) FROM message;
                DROP TRIGGER message_fts_insert;
                DROP TRIGGER message_fts_update;
                DROP TRIGGER message_fts_delete;
                -- Only indexed rows are in message_fts: a 'delete' of a row it does not hold
                -- would corrupt it. Rows above the mark are indexed as they are when reached.
                CREATE TRIGGER message_fts_update AFTER UPDATE OF text, caption ON message
                WHEN old.id <= (SELECT indexed_through FROM message_fts_progress) BEGIN
                    INSERT INTO message_fts(message_fts, rowid, text, caption) VALUES ('delete', old.id, old.text, old.caption);
                    INSERT INTO message_fts(rowid, text, caption) VALUES (new.id, new.text, new.caption);
                END;
                -- SQLite gives a new row max(id) + 1: once the newest rows are gone, their ids
                -- come back, so the mark comes down with them to stay below every new row.
                CREATE TRIGGER message_fts_delete AFTER DELETE ON message
                WHEN old.id <= (SELECT indexed_through FROM message_fts_progress) BEGIN
                    INSERT INTO message_fts(message_fts, rowid, text, caption) VALUES ('delete', old.id, old.text, old.caption);
                    UPDATE message_fts_progress SET indexed_through = (SELECT coalesce(max(id), 0) FROM message)
                    WHERE indexed_through > (SELECT coalesce(max(id), 0) FROM message);
                END;
                """)
        }
    }
}

/// Brings `message_fts` up to date with `message`, in transactions of its own on the
/// database's writer, after the commits that add messages, and once when the database
/// opens (which is all a crash costs: indexing resumes from the mark).
///
/// At most one run at a time, on a thread of its own; a run goes on while messages wait,
/// a chunk per transaction so that a group commit never queues long behind it.
final class SearchIndexer: Sendable {
    /// Messages indexed per transaction. FTS5 writes one segment per transaction: larger
    /// chunks merge less; smaller ones hold the writer for less time (about 5 ms here).
    static let chunk = 512
    /// After a run, the next waits this long: under a stream of commits the indexer wakes
    /// four times a second and indexes what gathered, instead of competing with each group
    /// commit for the writer (measured with `scripts/bench-ingest`: 6% more webhooks a second).
    static let pause = Duration.milliseconds(250)

    private let worker: CoalescingWorker

    init(writer: any DatabaseWriter) {
        worker = CoalescingWorker(label: "wabox.search-indexer", pause: Self.pause) {
            do {
                while try writer.write({ db in try Self.indexNext(limit: Self.chunk, in: db) }) == Self.chunk {}
            } catch {
                // The mark did not move: these messages are still found by the scan, and the
                // next commit (or the next start) tries again.
            }
        }
    }

    /// Messages were committed: index them in the background, unless a run is already
    /// going (then it looks again when done).
    func messagesLanded() { worker.request() }

    /// Indexes up to `limit` messages above the mark and moves the mark past them, in the
    /// caller's transaction. Returns how many it indexed.
    static func indexNext(limit: Int, in db: Database) throws -> Int {
        let mark = try Int64.fetchOne(db.cachedStatement(sql: "SELECT indexed_through FROM message_fts_progress")) ?? 0
        let range = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT count(*) AS count, max(id) AS last FROM (SELECT id FROM message WHERE id > ? ORDER BY id LIMIT ?)
            """), arguments: [mark, limit])
        guard let range, let last = range["last"] as Int64? else { return 0 }
        try db.cachedStatement(sql: """
            INSERT INTO message_fts(rowid, text, caption) SELECT id, text, caption FROM message WHERE id > ? AND id <= ?
            """).execute(arguments: [mark, last])
        try db.cachedStatement(sql: "UPDATE message_fts_progress SET indexed_through = ?").execute(arguments: [last])
        return range["count"]
    }
}

extension InboxDatabase {
    /// Messages committed but not yet in the full-text index (search still finds them).
    public func messagesAwaitingSearchIndex() throws -> Int {
        try writer.read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM message WHERE id > (SELECT indexed_through FROM message_fts_progress)
                """) ?? 0
        }
    }

    /// Indexes every message waiting for the full-text index, now, on the caller's thread;
    /// returns how many. The background indexer does this by itself.
    @discardableResult
    public func indexMessagesForSearch() throws -> Int {
        var total = 0
        while true {
            let count = try writer.write { db in try SearchIndexer.indexNext(limit: SearchIndexer.chunk, in: db) }
            total += count
            if count < SearchIndexer.chunk { return total }
        }
    }
}
