import Foundation
import GRDB
import InboxCore

extension Schema {
    /// v9: the durable download queue of inbound media, and files waiting to be sent. Filled off the ingest path from
    /// `message` by `queueNewMedia()`, up to a mark, so that acknowledging a webhook never
    /// waits for it.
    static func registerMedia(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9: media download queue") { db in
            try db.execute(sql: """
                CREATE TABLE media (
                    message_id INTEGER PRIMARY KEY REFERENCES message(id) ON DELETE CASCADE,
                    media_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    mime_type TEXT,
                    -- As the webhook gave it (base64); the metadata's may be hex.
                    sha256 TEXT,
                    filename TEXT,
                    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ready', 'failed', 'expired')),
                    reason TEXT,
                    file_size INTEGER,
                    -- Lowercase hex SHA-256 of the bytes kept: the file's name in the media folder.
                    content_hash TEXT,
                    -- The absolute path of the kept file once ready.
                    path TEXT,
                    -- Unix seconds the customer sent it: media ids stop working after about 7 days.
                    sent_at INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    -- Unix milliseconds.
                    next_attempt_at INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX media_due ON media(state, next_attempt_at);
                -- A second message with the same media id reuses the file.
                CREATE INDEX media_by_media_id ON media(media_id);
                -- Every inbound media message with an id up to queued_through has its row.
                CREATE TABLE media_progress (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    queued_through INTEGER NOT NULL
                );
                INSERT INTO media_progress (id, queued_through) VALUES (1, 0);

                -- A file to send: its copy in the media store, and the media id its upload
                -- returned (reused on every retry, so it is uploaded once).
                ALTER TABLE outbox ADD COLUMN file_path TEXT;
                ALTER TABLE outbox ADD COLUMN upload_id TEXT;
                """)
        }
    }
}

extension MediaItem {
    init(row: Row) {
        self.init(messageID: row["message_id"], mediaID: row["media_id"],
                  kind: MediaAttachment.Kind(rawValue: row["kind"]) ?? .document, mimeType: row["mime_type"],
                  sha256: row["sha256"], filename: row["filename"],
                  state: MediaState(rawValue: row["state"]) ?? .pending, reason: row["reason"],
                  fileSize: row["file_size"], contentHash: row["content_hash"], path: row["path"],
                  sentAt: row["sent_at"], attempts: row["attempts"], nextAttemptAt: row["next_attempt_at"],
                  durationMilliseconds: row["duration_ms"])
    }
}

extension InboxDatabase: MediaQueueStore {
    /// The database's commit count: the downloader queues after each.
    public var messageVersion: Int? { changeCount }

    /// Messages looked at per transaction when queueing.
    static let mediaQueueChunk = 500

    /// Adds a queue row for every inbound media message that arrived since the last call,
    /// and returns how many were added. Runs in short transactions of its own.
    @discardableResult
    public func queueNewMedia() async throws -> Int {
        var added = 0
        while true {
            let (count, more) = try await writer.write { db -> (Int, Bool) in
                let mark = try Int64.fetchOne(db, sql: "SELECT queued_through FROM media_progress WHERE id = 1") ?? 0
                let rows = try Row.fetchAll(db, sql: """
                    SELECT id, type, content, timestamp FROM message
                    WHERE id > ? AND direction = 'in' AND type IN ('image', 'video', 'audio', 'document', 'sticker')
                    ORDER BY id LIMIT ?
                    """, arguments: [mark, Self.mediaQueueChunk])
                var count = 0
                for row in rows {
                    guard case .media(let media) = try StoredJSON.decode(MessageContent.self, from: row["content"]),
                          let mediaID = media.mediaID, !mediaID.isEmpty else { continue }
                    try db.execute(sql: """
                        INSERT OR IGNORE INTO media (message_id, media_id, kind, mime_type, sha256, filename, sent_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [row["id"] as Int64, mediaID, media.kind.rawValue, media.mimeType, media.sha256,
                                         media.filename, row["timestamp"] as Int64])
                    count += db.changesCount
                }
                // Every media message up to the newest one looked at is queued; when the
                // chunk was not full, every message up to the newest row is.
                let through = rows.count == Self.mediaQueueChunk
                    ? (rows.last?["id"] as Int64? ?? mark)
                    : max(mark, try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM message") ?? 0)
                try db.execute(sql: "UPDATE media_progress SET queued_through = ? WHERE id = 1", arguments: [through])
                return (count, rows.count == Self.mediaQueueChunk)
            }
            added += count
            if !more { return added }
        }
    }

    /// Pending items whose next attempt is due at `now` (Unix milliseconds), oldest first.
    public func dueMedia(at now: Int64, limit: Int) async throws -> [MediaItem] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM media WHERE state = 'pending' AND next_attempt_at <= ?
                ORDER BY next_attempt_at, message_id LIMIT ?
                """, arguments: [now, limit]).map(MediaItem.init(row:))
        }
    }

    /// The queue row of a message, when it has media.
    public func media(ofMessage messageID: Int64) throws -> MediaItem? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM media WHERE message_id = ?", arguments: [messageID]).map(MediaItem.init(row:))
        }
    }

    /// Counts by state, for `doctor` and the status bar.
    public func mediaCounts() throws -> [MediaState: Int] {
        try writer.read { db in
            var counts: [MediaState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM media GROUP BY state") {
                if let state = MediaState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// The bytes are kept at `path`, named by `contentHash`: the item is ready. An audio
    /// file's playing time goes with it, when its format says.
    public func markMediaReady(_ messageID: Int64, contentHash: String, path: String, fileSize: Int64,
                               mimeType: String?, durationMilliseconds: Int64? = nil) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                UPDATE media SET state = 'ready', reason = NULL, content_hash = ?, path = ?, file_size = ?,
                    mime_type = coalesce(mime_type, ?), duration_ms = coalesce(?, duration_ms), attempts = attempts + 1
                WHERE message_id = ?
                """, arguments: [contentHash, path, fileSize, mimeType, durationMilliseconds, messageID])
        }
    }

    /// A ready item with the same media id, whose file can serve another message.
    public func readyMedia(withMediaID mediaID: String) async throws -> MediaItem? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM media WHERE media_id = ? AND state = 'ready' LIMIT 1",
                             arguments: [mediaID]).map(MediaItem.init(row:))
        }
    }

    /// Given up (`failed`) or gone (`expired`), with the reason in plain words.
    public func markMedia(_ messageID: Int64, _ state: MediaState, reason: String) async throws {
        precondition(state == .failed || state == .expired, "only failed and expired carry a reason")
        try await writer.write { db in
            try db.execute(sql: "UPDATE media SET state = ?, reason = ?, attempts = attempts + 1 WHERE message_id = ?",
                           arguments: [state.rawValue, reason, messageID])
        }
    }

    /// A transient failure: try again at `at` (Unix milliseconds); `reason` shows meanwhile.
    public func retryMedia(_ messageID: Int64, at: Int64, reason: String) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                UPDATE media SET attempts = attempts + 1, next_attempt_at = ?, reason = ? WHERE message_id = ?
                """, arguments: [at, reason, messageID])
        }
    }
}
