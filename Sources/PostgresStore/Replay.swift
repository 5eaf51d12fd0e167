import Foundation
import InboxCore
import PostgresNIO
import StoreContract

// `wabox replay` on PostgreSQL (issue 19), as SQLite's (InboxStore's Replay.swift): stored
// bodies applied again with this release's decoder, a few per transaction. Each transaction
// holds the journal's mark, as the applier's batches do, so the two take turns and the
// listeners keep journaling and acknowledging meanwhile.

extension PostgresStore {
    /// Bodies replayed per transaction at most.
    static let replayBatch = 64

    /// Messages whose content wabox could not read: unreadable, or of a type it did not know.
    private static let unreadContent = #"(content LIKE '{"unknown":%' OR content LIKE '{"unreadable":%')"#

    /// Dead letters a replay may resolve: not the verdicts on an edit or a deletion by
    /// someone other than the message's author (the body read fine; the sender was wrong).
    private static let replayableLetter = "NOT (path IS NULL AND reason LIKE '% comes from %, not the message''s author')"

    /// Applies the selected bodies again, in journal order; only bodies the applier has
    /// applied (one past its mark is left to it). Never stores a dead letter or an account
    /// error again. A dead letter whose part now reads is marked `replayed_at`; a message
    /// kept as unreadable whose body now reads gets its content, in the same row.
    public func replay(_ selection: ReplaySelection, now: Int64 = Int64(Date().timeIntervalSince1970),
                       progress: @Sendable (_ done: Int, _ of: Int) -> Void = { _, _ in }) async throws -> ReplayReport {
        let (ids, counted) = try await readOnly { tx in try await Self.replayIDs(selection, in: tx) }
        var report = counted
        let decoder = self.decoder
        var next = 0
        while next < ids.count {
            let slice = Array(ids[next..<min(ids.count, next + Self.replayBatch)])
            report = try await transaction { [report] tx in
                var report = report
                guard let mark = try await tx.int64("SELECT applied_through FROM journal_mark WHERE id = 1 FOR UPDATE") else {
                    throw PostgresStoreError("the journal has no applied mark (table journal_mark is empty): run `wabox doctor`")
                }
                for id in slice {
                    guard let (receivedAt, body) = try await tx.row("SELECT received_at, body FROM journal WHERE id = \(id)",
                                                                   read: { try $0.decode((Int64, ByteBuffer).self) }) else {
                        report.missing.append(id)
                        continue
                    }
                    if id > mark {
                        report.notApplied.append(id)
                        continue
                    }
                    try await Self.replayBody(id: id, receivedAt: receivedAt, body: Data(body.readableBytesView),
                                              decoder: decoder, now: now, in: tx, report: &report)
                }
                // A message a replay stored or read as a file joins the download queue.
                _ = try await Self.queueMedia(in: tx)
                return report
            }
            next += slice.count
            progress(next, ids.count)
        }
        return report
    }

    /// The ids of the bodies `selection` names, oldest first, and what a replay of dead
    /// letters cannot reach.
    private static func replayIDs(_ selection: ReplaySelection, in tx: Transaction) async throws -> ([Int64], ReplayReport) {
        var report = ReplayReport()
        switch selection {
        case .ids(let ids):
            return (Array(Set(ids)).sorted(), report)
        case .receivedSince(let cutoff):
            return (try await tx.rows("SELECT id FROM journal WHERE received_at >= \(cutoff) ORDER BY id") {
                try $0.decode(Int64.self)
            }, report)
        case .deadLetters:
            report.deadLettersWithoutBody = Int(try await tx.int64(PostgresQuery(unsafeSQL: """
                SELECT count(*) FROM dead_letter WHERE replayed_at IS NULL AND journal_id IS NULL AND \(replayableLetter)
                """)) ?? 0)
            report.messagesWithoutBody = Int(try await tx.int64(PostgresQuery(unsafeSQL: """
                SELECT count(*) FROM message WHERE webhook_id IS NULL AND \(unreadContent)
                """)) ?? 0)
            let ids = try await tx.rows(PostgresQuery(unsafeSQL: """
                SELECT journal_id AS id FROM dead_letter
                WHERE replayed_at IS NULL AND journal_id IS NOT NULL AND \(replayableLetter)
                UNION
                SELECT webhook_id FROM message WHERE webhook_id IS NOT NULL AND \(unreadContent)
                ORDER BY id
                """)) { try $0.decode(Int64.self) }
            return (ids, report)
        }
    }

    /// Applies one body again, in a savepoint of its own, and counts what changed.
    private static func replayBody(id: Int64, receivedAt: Int64, body: Data, decoder: WebhookDecoder, now: Int64,
                                   in tx: Transaction, report: inout ReplayReport) async throws {
        report.bodies += 1
        let letters = try await tx.rows(PostgresQuery(unsafeSQL: """
            SELECT id, path FROM dead_letter WHERE journal_id = $1 AND replayed_at IS NULL AND \(replayableLetter) ORDER BY id
            """, binds: { var binds = PostgresBindings(); binds.append(id); return binds }())) {
            try $0.decode((Int64, String?).self)
        }
        guard var events = try? decoder.decode(body, receivedAt: receivedAt) else {
            // Still not a body this decoder reads.
            report.deadLettersOpen += letters.count
            if letters.isEmpty { report.unchanged += 1 }
            return
        }
        let unreadable = Set(events.compactMap { event -> String? in
            if case .malformed(let part) = event { return part.path }
            return nil
        })
        // Their rows were stored when the body was first applied.
        events.removeAll(where: leavesRowsOnEveryApply)
        var added = 0
        var read = 0
        try await tx.run("SAVEPOINT replay")
        do {
            var writer = EventWriter(tx: tx, journalID: id, receivedAt: receivedAt, digest: nil)
            for event in events {
                let message: InboundMessage?
                switch event {
                case .message(let inbound): message = inbound
                case .echo(.message(let echo)): message = echo
                default: message = nil
                }
                if let message {
                    if let rowID = try await tx.int64("SELECT id FROM message WHERE wamid = \(message.id.rawValue)") {
                        if try await readAgain(rowID: rowID, as: message, in: tx) { read += 1 }
                        continue
                    }
                    added += 1
                }
                try await writer.apply(event)
            }
            try await tx.run("RELEASE SAVEPOINT replay")
        } catch let error as PSQLError where isBodyError(error) {
            try await tx.run("ROLLBACK TO SAVEPOINT replay")
            try await tx.run("RELEASE SAVEPOINT replay")
            report.failures.append(ReplayReport.Failure(
                id: id, reason: "could not apply: \(error.serverInfo?[.message] ?? String(reflecting: error))"))
            return
        } catch let error as PSQLError {
            throw error  // the connection or the server, not this body: stop
        } catch {
            // This body's events could not be written (a value that does not encode): as SQLite.
            try await tx.run("ROLLBACK TO SAVEPOINT replay")
            try await tx.run("RELEASE SAVEPOINT replay")
            report.failures.append(ReplayReport.Failure(id: id, reason: "could not apply: \(error)"))
            return
        }
        let ofBody = letters.map { (id: $0.0, path: $0.1) }
        for letter in report.countReplayed(letters: ofBody, stillUnreadable: unreadable, added: added, read: read) {
            try await tx.run("UPDATE dead_letter SET replayed_at = \(now) WHERE id = \(letter)")
        }
    }

    /// Gives a stored message that wabox could not read the content the body now reads as;
    /// returns whether it changed. A message read in full, or edited since, is left as it is.
    private static func readAgain(rowID: Int64, as message: InboundMessage, in tx: Transaction) async throws -> Bool {
        guard let (stored, editedAt, errorCode, errorTitle) = try await tx.row("""
            SELECT content, edited_at, error_code, error_title FROM message WHERE id = \(rowID)
            """, read: { try $0.decode((String, Int64?, Int64?, String?).self) }), editedAt == nil else { return false }
        let old = try StoredJSON.decode(MessageContent.self, from: stored)
        switch old {
        case .unknown, .unreadable: break
        default: return false
        }
        guard old != message.content else { return false }
        let content = message.content
        try await tx.run("""
            UPDATE message SET type = \(content.typeName), text = \(PostgresText.safe(content.text))::text,
                caption = \(PostgresText.safe(content.caption))::text, content = \(try StoredJSON.encode(content))
            WHERE id = \(rowID)
            """)
        // The error the row showed was wabox's own account of why it could not read it.
        if errorCode == nil, errorTitle?.hasPrefix(EventWriter.unreadableTitle) ?? false {
            let error = EventWriter.shownError(of: message)
            try await tx.run("""
                UPDATE message SET error_code = \(error?.code)::bigint, error_title = \(PostgresText.safe(error?.title))::text,
                    error_message = \(PostgresText.safe(error?.message))::text,
                    error_details = \(PostgresText.safe(error?.details))::text
                WHERE id = \(rowID)
                """)
        }
        // A file now: the downloader takes it like any other (the queue may be past this row).
        if case .media(let media) = content, let mediaID = media.mediaID, !mediaID.isEmpty {
            try await tx.run("""
                INSERT INTO media (message_id, media_id, kind, mime_type, sha256, filename, sent_at)
                SELECT id, \(mediaID), \(media.kind.rawValue), \(media.mimeType), \(media.sha256), \(media.filename), timestamp
                FROM message WHERE id = \(rowID) AND direction = 'in'
                ON CONFLICT DO NOTHING
                """)
        }
        return true
    }
}
