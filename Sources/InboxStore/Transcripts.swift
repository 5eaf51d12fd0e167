import Foundation
import GRDB
import InboxCore

extension InboxDatabase: TranscriptStore {
    /// The database's commit count: the transcriber looks again after each.
    public var transcriptVersion: Int? { changeCount }

    /// The customers' downloaded voice notes and audio files that have no transcript yet,
    /// oldest first: those never taken up, and those a stopped process left `running`.
    public func dueTranscripts(limit: Int) async throws -> [TranscriptJob] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT md.message_id, md.path, md.content_hash FROM media md
                JOIN message m ON m.id = md.message_id
                LEFT JOIN transcript t ON t.message_id = md.message_id
                WHERE md.state = 'ready' AND md.kind IN ('audio', 'voice') AND md.path IS NOT NULL
                  AND m.direction = 'in' AND (t.state IS NULL OR t.state = 'running')
                ORDER BY md.message_id LIMIT ?
                """, arguments: [limit]).map {
                TranscriptJob(messageID: $0["message_id"], path: $0["path"], contentHash: $0["content_hash"])
            }
        }
    }

    /// Marks a transcript as being made (the screen says so); `at` in Unix milliseconds.
    public func startTranscript(_ messageID: Int64, at: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO transcript (message_id, state, updated_at) VALUES (?, 'running', ?)
                ON CONFLICT (message_id) DO UPDATE SET state = 'running', text = NULL, reason = NULL,
                    updated_at = excluded.updated_at
                """, arguments: [messageID, at])
        }
    }

    /// Keeps what the transcriber printed, or why it failed: either way it is not run again.
    public func finishTranscript(_ messageID: Int64, _ outcome: Result<String, TranscriptFailure>, at: Int64) async throws {
        let (state, text, reason): (TranscriptState, String?, String?) = switch outcome {
        case .success(let text): (.done, text, nil)
        case .failure(let failure): (.failed, nil, failure.reason)
        }
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO transcript (message_id, state, text, reason, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (message_id) DO UPDATE SET state = excluded.state, text = excluded.text,
                    reason = excluded.reason, updated_at = excluded.updated_at
                """, arguments: [messageID, state.rawValue, text, reason, at])
        }
    }

    /// The finished transcript of another message with the same bytes, if there is one.
    public func transcript(ofContentHash hash: String, besides messageID: Int64) async throws -> MediaStatus.Transcript? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: """
                SELECT t.state, t.text, t.reason FROM media md JOIN transcript t ON t.message_id = md.message_id
                WHERE md.content_hash = ? AND md.message_id <> ? AND t.state = 'done' LIMIT 1
                """, arguments: [hash, messageID]).map(Self.transcript(from:))
        }
    }

    /// A message's transcript, when it has one.
    public func transcript(ofMessage messageID: Int64) throws -> MediaStatus.Transcript? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT state, text, reason FROM transcript WHERE message_id = ?",
                             arguments: [messageID]).map(Self.transcript(from:))
        }
    }

    private static func transcript(from row: Row) -> MediaStatus.Transcript {
        MediaStatus.Transcript(state: TranscriptState(rawValue: row["state"]) ?? .failed, text: row["text"],
                               reason: row["reason"])
    }
}
