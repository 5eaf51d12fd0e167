import Foundation
import InboxCore
import PostgresNIO
import StoreContract

// The media download queue on PostgreSQL (issue 19), as SQLite's (InboxStore's
// MediaQueue.swift), with two differences a shared inbox needs:
//
// - The queue is filled by the applier, in each batch's transaction. PostgreSQL draws ids
//   at insert, not at commit, so a queuer beside the applier could move its mark past an
//   inbound message not yet committed and never queue it; the applier is the only writer
//   of inbound messages, and its batches take turns on the journal's mark.
// - The bytes are kept in the database too (`media_file`), so that a screen on any host
//   shows the photo the downloader fetched on another; each host's media folder is a cache
//   of them.

extension PostgresStore {
    static let mediaFilesMigration = Migration(version: 10, name: "media files", statements: [
        """
        -- The bytes of every downloaded file, by the lowercase hex SHA-256 that names it in
        -- the media folders: a screen on any host copies what it shows into its own.
        CREATE TABLE media_file (
            content_hash text PRIMARY KEY,
            bytes bytea NOT NULL,
            stored_at bigint NOT NULL        -- Unix milliseconds
        )
        """,
    ])

    /// The lease of the media downloader.
    public static let mediaDownloaderLease = "media downloader"

    /// Messages looked at per statement when queueing.
    static let mediaQueueChunk = 500

    /// Adds a queue row for every inbound media message past the queue's mark, in `tx`, and
    /// moves the mark to the newest message `tx` sees. The caller holds the journal's mark
    /// (no batch of the applier runs meanwhile).
    static func queueMedia(in tx: Transaction) async throws -> Int {
        guard var mark = try await tx.int64("SELECT queued_through FROM media_progress WHERE id = 1 FOR UPDATE") else {
            throw PostgresStoreError("the media queue has no mark (table media_progress is empty): run `wabox doctor`")
        }
        var added = 0
        while true {
            let rows = try await tx.rows("""
                SELECT id, content, timestamp FROM message
                WHERE id > \(mark) AND direction = 'in' AND type IN ('image', 'video', 'audio', 'document', 'sticker')
                ORDER BY id LIMIT \(Self.mediaQueueChunk)
                """) { try $0.decode((Int64, String, Int64).self) }
            for (id, content, timestamp) in rows {
                // A row whose content does not read (an older release's) holds no file to
                // fetch; it must not stop the applier's batch.
                guard case .media(let media)? = try? StoredJSON.decode(MessageContent.self, from: content),
                      let mediaID = media.mediaID, !mediaID.isEmpty else { continue }
                if try await tx.returnsRow("""
                    INSERT INTO media (message_id, media_id, kind, mime_type, sha256, filename, sent_at)
                    VALUES (\(id), \(mediaID), \(media.kind.rawValue), \(media.mimeType), \(media.sha256),
                            \(media.filename), \(timestamp))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """) {
                    added += 1
                }
            }
            if rows.count == Self.mediaQueueChunk, let last = rows.last {
                mark = last.0
                continue
            }
            let newest = try await tx.int64("SELECT max(id) FROM message") ?? 0
            try await tx.run("UPDATE media_progress SET queued_through = \(max(mark, newest)) WHERE id = 1")
            return added
        }
    }

    /// The file named `hash` (a hex SHA-256) where this host can read it: `path` when it is
    /// here (this host downloaded or queued it), else its copy in `directory`, written from
    /// the bytes the database keeps when it is not there yet. Nil when neither this host nor
    /// the database has the file (or `hash` names none).
    ///
    /// - Important: A path from the database is anyone's with the database's password: a
    ///   file there is used only when it holds the bytes `hash` names, so that no row can
    ///   make this host send or transcribe another of its files.
    public func localFile(hash: String, path: String, in directory: String) async throws -> String? {
        guard hash.count == 64, hash.allSatisfy(\.isHexDigit) else { return nil }
        let local = (directory as NSString).appendingPathComponent(hash)
        for candidate in [local, path] where FileManager.default.fileExists(atPath: candidate) {
            if Self.holds(candidate, hash) { return candidate }
        }
        guard let bytes = try await mediaFile(contentHash: hash), MediaDigest.hex(of: bytes) == hash else { return nil }
        try MediaCopy.write(bytes, to: local)
        return local
    }

    /// Whether the file at `path` hashes to `hash`.
    static func holds(_ path: String, _ hash: String) -> Bool {
        guard let bytes = FileManager.default.contents(atPath: path) else { return false }
        return MediaDigest.hex(of: bytes) == hash.lowercased()
    }

    /// The bytes of a downloaded file, if the shared inbox keeps them.
    public func mediaFile(contentHash: String) async throws -> Data? {
        let rows = try await client.query("SELECT bytes FROM media_file WHERE content_hash = \(contentHash)", logger: logger)
        for try await bytes in rows.decode(ByteBuffer.self) { return Data(bytes.readableBytesView) }
        return nil
    }

    /// Every ready file the media rows name whose bytes the database does not keep yet, by
    /// hash, with the path it was kept at (`wabox migrate` copies them in).
    public func readyFilesNotShared() async throws -> [(contentHash: String, path: String)] {
        try await client.query("""
            SELECT DISTINCT ON (md.content_hash) md.content_hash, md.path FROM media md
            WHERE md.state = 'ready' AND md.content_hash IS NOT NULL AND md.path IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM media_file f WHERE f.content_hash = md.content_hash)
            ORDER BY md.content_hash, md.message_id
            """, logger: logger).collect().map { try $0.decode((String, String).self) }.map { (contentHash: $0.0, path: $0.1) }
    }

    /// Counts by state, for `doctor`.
    public func mediaCounts() async throws -> [MediaState: Int] {
        var counts: [MediaState: Int] = [:]
        let rows = try await client.query("SELECT state, count(*) FROM media GROUP BY state", logger: logger)
        for try await (state, count) in rows.decode((String, Int64).self) {
            if let state = MediaState(rawValue: state) { counts[state] = Int(count) }
        }
        return counts
    }
}

extension PostgresStore: MediaQueueStore {
    /// The applier queues in its batches: the downloader asks once, at its start, for what
    /// an import left unqueued.
    public var messageVersion: Int? { nil }

    @discardableResult
    public func queueNewMedia() async throws -> Int {
        try await transaction { tx in
            // Between two batches of the applier.
            _ = try await tx.int64("SELECT applied_through FROM journal_mark WHERE id = 1 FOR UPDATE")
            return try await Self.queueMedia(in: tx)
        }
    }

    public func dueMedia(at now: Int64, limit: Int) async throws -> [MediaItem] {
        try await items("""
            SELECT \(unescaped: Self.mediaColumns) FROM media WHERE state = 'pending' AND next_attempt_at <= \(now)
            ORDER BY next_attempt_at, message_id LIMIT \(limit)
            """)
    }

    public func readyMedia(withMediaID mediaID: String) async throws -> MediaItem? {
        try await items("""
            SELECT \(unescaped: Self.mediaColumns) FROM media WHERE media_id = \(mediaID) AND state = 'ready' LIMIT 1
            """).first
    }

    /// Whether the database keeps the bytes: a ready item's file serves a twin on any host.
    public func keepsFile(of item: MediaItem) async throws -> Bool {
        guard let hash = item.contentHash else { return false }
        let rows = try await client.query("SELECT 1 FROM media_file WHERE content_hash = \(hash)", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    public func markMediaReady(_ messageID: Int64, contentHash: String, path: String, fileSize: Int64,
                               mimeType: String?, durationMilliseconds: Int64?) async throws {
        try await client.query("""
            UPDATE media SET state = 'ready', reason = NULL, content_hash = \(contentHash), path = \(path),
                file_size = \(fileSize), mime_type = coalesce(mime_type, \(mimeType)),
                duration_ms = coalesce(\(durationMilliseconds), duration_ms), attempts = attempts + 1
            WHERE message_id = \(messageID)
            """, logger: logger)
    }

    public func markMedia(_ messageID: Int64, _ state: MediaState, reason: String) async throws {
        precondition(state == .failed || state == .expired, "only failed and expired carry a reason")
        try await client.query("""
            UPDATE media SET state = \(state.rawValue), reason = \(PostgresText.safe(reason)), attempts = attempts + 1
            WHERE message_id = \(messageID)
            """, logger: logger)
    }

    public func retryMedia(_ messageID: Int64, at: Int64, reason: String) async throws {
        try await client.query("""
            UPDATE media SET attempts = attempts + 1, next_attempt_at = \(at), reason = \(PostgresText.safe(reason))
            WHERE message_id = \(messageID)
            """, logger: logger)
    }

    public func shareMediaFile(contentHash: String, bytes: Data) async throws {
        try await client.query("""
            INSERT INTO media_file (content_hash, bytes, stored_at)
            VALUES (\(contentHash), \(ByteBuffer(data: bytes)), \(Int64(Date().timeIntervalSince1970 * 1000)))
            ON CONFLICT (content_hash) DO NOTHING
            """, logger: logger)
    }

    static let mediaColumns = """
        message_id, media_id, kind, mime_type, sha256, filename, state, reason, file_size, content_hash, path,
        sent_at, attempts, next_attempt_at, duration_ms
        """

    private func items(_ query: PostgresQuery) async throws -> [MediaItem] {
        var items: [MediaItem] = []
        for try await row in try await client.query(query, logger: logger) {
            let cells = row.makeRandomAccess()
            func value<T: PostgresDecodable>(_ name: String, _: T.Type = T.self) throws -> T { try cells[name].decode(T.self) }
            items.append(MediaItem(
                messageID: try value("message_id"), mediaID: try value("media_id"),
                kind: MediaAttachment.Kind(rawValue: try value("kind")) ?? .document, mimeType: try value("mime_type"),
                sha256: try value("sha256"), filename: try value("filename"),
                state: MediaState(rawValue: try value("state")) ?? .pending, reason: try value("reason"),
                fileSize: try value("file_size"), contentHash: try value("content_hash"), path: try value("path"),
                sentAt: try value("sent_at"), attempts: Int(try value("attempts", Int32.self)),
                nextAttemptAt: try value("next_attempt_at"), durationMilliseconds: try value("duration_ms")))
        }
        return items
    }
}
