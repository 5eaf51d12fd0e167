import Foundation
import PostgresNIO
import StoreContract

// Voice-note transcripts on PostgreSQL (issue 19), as SQLite keeps them (InboxStore's
// Transcripts.swift). One listener at a time transcribes, under the `transcriber` lease;
// the file it runs the program on may have been downloaded on another host, so a job's
// file is copied from the database into this host's media folder first.

extension PostgresStore {
    /// The lease of the transcriber.
    public static let transcriberLease = "transcriber"
}

/// The transcripts of a shared PostgreSQL inbox, as one host's transcriber sees them.
public struct PostgresTranscripts: TranscriptStore {
    public let store: PostgresStore
    /// This host's media folder: a file downloaded elsewhere is copied into it.
    public let mediaDirectory: String

    public init(store: PostgresStore, mediaDirectory: String) {
        self.store = store
        self.mediaDirectory = mediaDirectory
    }

    /// Other listeners' commits ring no bell here: the transcriber looks every poll.
    public var transcriptVersion: Int? { nil }

    public func dueTranscripts(limit: Int) async throws -> [TranscriptJob] {
        let rows = try await store.client.query("""
            SELECT md.message_id, md.path, md.content_hash FROM media md
            JOIN message m ON m.id = md.message_id
            LEFT JOIN transcript t ON t.message_id = md.message_id
            WHERE md.state = 'ready' AND md.kind IN ('audio', 'voice') AND md.path IS NOT NULL
              AND m.direction = 'in' AND (t.state IS NULL OR t.state = 'running')
            ORDER BY md.message_id LIMIT \(limit)
            """, logger: store.logger)
        var jobs: [TranscriptJob] = []
        for try await (messageID, path, hash) in rows.decode((Int64, String, String?).self) {
            jobs.append(TranscriptJob(messageID: messageID, path: path, contentHash: hash))
        }
        // Downloaded on another host: copied here from the database first.
        var local: [TranscriptJob] = []
        for var job in jobs {
            if let hash = job.contentHash, let here = try await store.localFile(hash: hash, path: job.path, in: mediaDirectory) {
                job.path = here
            }
            local.append(job)
        }
        return local
    }

    public func startTranscript(_ messageID: Int64, at: Int64) async throws {
        try await store.client.query("""
            INSERT INTO transcript (message_id, state, updated_at) VALUES (\(messageID), 'running', \(at))
            ON CONFLICT (message_id) DO UPDATE SET state = 'running', text = NULL, reason = NULL,
                updated_at = excluded.updated_at
            """, logger: store.logger)
    }

    public func finishTranscript(_ messageID: Int64, _ outcome: Result<String, TranscriptFailure>, at: Int64) async throws {
        let (state, text, reason): (TranscriptState, String?, String?) = switch outcome {
        case .success(let text): (.done, PostgresText.safe(text) as String, nil)
        case .failure(let failure): (.failed, nil, PostgresText.safe(failure.reason) as String)
        }
        try await store.client.query("""
            INSERT INTO transcript (message_id, state, text, reason, updated_at)
            VALUES (\(messageID), \(state.rawValue), \(text)::text, \(reason)::text, \(at))
            ON CONFLICT (message_id) DO UPDATE SET state = excluded.state, text = excluded.text,
                reason = excluded.reason, updated_at = excluded.updated_at
            """, logger: store.logger)
    }

    public func transcript(ofContentHash hash: String, besides messageID: Int64) async throws -> MediaStatus.Transcript? {
        let rows = try await store.client.query("""
            SELECT t.state, t.text, t.reason FROM media md JOIN transcript t ON t.message_id = md.message_id
            WHERE md.content_hash = \(hash) AND md.message_id <> \(messageID) AND t.state = 'done' LIMIT 1
            """, logger: store.logger)
        for try await (state, text, reason) in rows.decode((String, String?, String?).self) {
            return MediaStatus.Transcript(state: TranscriptState(rawValue: state) ?? .failed, text: text, reason: reason)
        }
        return nil
    }
}
