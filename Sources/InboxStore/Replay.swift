import Foundation
import GRDB
import InboxCore

// Replay (`wabox replay`): stored bodies applied again with the decoder of this release, so
// that what an older one could not read turns into messages. Events are idempotent by their
// keys, so a body replayed again, or one that was fully read already, changes nothing.

extension InboxDatabase {
    /// Bodies replayed per transaction at most, and the longest a transaction goes on taking
    /// more: it holds the write lock, and the listener's journal commits wait for it.
    static let replayBatch = 64
    static let replayTransactionTime: Duration = .milliseconds(10)
    /// The least rest between two transactions, which is also at least as long as the one
    /// before took. Other processes (`wabox serve`, agents' screens) wait for the lock in
    /// SQLite's busy handler, which sleeps and looks again: a writer that takes the lock
    /// again at once would starve them (measured: `serve`'s applier timed out on
    /// `database is locked` during a replay without rests).
    static let replayRest: Duration = .milliseconds(20)

    /// Applies the selected bodies again with this database's decoder, in journal order, a
    /// few per transaction on SQLite's write lock, resting between them so that the
    /// listener, its applier and the screens write in turn. Only bodies the applier has
    /// applied are replayed: one past its mark is left to it. Never stores a dead letter or
    /// an account error again. `progress` hears how many of how many bodies are done after
    /// each transaction.
    ///
    /// A dead letter whose part now reads is marked `replayed_at` (the row stays); a message
    /// kept as unreadable or of an unknown type whose body now reads gets its content, in the
    /// same row.
    ///
    /// - Important: Blocks the calling thread (it sleeps between transactions): for
    ///   commands on the main thread, and tests.
    public func replay(_ selection: ReplaySelection, now: Int64 = Int64(Date().timeIntervalSince1970),
                       progress: (_ done: Int, _ of: Int) -> Void = { _, _ in }) throws -> ReplayReport {
        var report = ReplayReport()
        let ids = try writer.read { db in try Self.replayIDs(selection, report: &report, in: db) }
        let decoder = self.decoder
        var next = 0
        while next < ids.count {
            let before = report
            var took = Duration.zero
            (report, next) = try writer.write { db in
                let started = ContinuousClock.now
                defer { took = ContinuousClock.now - started }
                var report = before
                let first = next
                var next = next
                let statements = IngestStatements(db)
                let mark = try Self.appliedThrough(in: db)
                let end = min(ids.count, next + Self.replayBatch)
                while next < end, next == first || ContinuousClock.now - started < Self.replayTransactionTime {
                    let id = ids[next]
                    next += 1
                    guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                        SELECT received_at, body, 1 FROM journal WHERE id = ?1
                        UNION ALL SELECT received_at, body, 0 FROM webhook WHERE id = ?1
                        """), arguments: [id]) else {
                        report.missing.append(id)
                        continue
                    }
                    if row[2] as Bool, id > mark {
                        report.notApplied.append(id)
                        continue
                    }
                    try Self.replayBody(id: id, receivedAt: row[0], body: row[1], decoder: decoder, now: now,
                                        statements: statements, report: &report)
                }
                return (report, next)
            }
            if report.changes > before.changes { committed() }
            progress(next, ids.count)
            if next < ids.count {
                let rest = max(took, Self.replayRest)
                Thread.sleep(forTimeInterval: Double(rest.components.seconds) + Double(rest.components.attoseconds) / 1e18)
            }
        }
        return report
    }

    /// The ids of the bodies `selection` names, oldest first.
    private static func replayIDs(_ selection: ReplaySelection, report: inout ReplayReport, in db: Database) throws -> [Int64] {
        switch selection {
        case .ids(let ids):
            return Array(Set(ids)).sorted()
        case .receivedSince(let cutoff):
            return try Int64.fetchAll(db, sql: """
                SELECT id FROM webhook WHERE received_at >= ?1 UNION ALL SELECT id FROM journal WHERE received_at >= ?1
                ORDER BY id
                """, arguments: [cutoff])
        case .deadLetters:
            report.deadLettersWithoutBody = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM dead_letter WHERE replayed_at IS NULL AND journal_id IS NULL AND webhook_id IS NULL
                  AND \(replayableLetter)
                """) ?? 0
            report.messagesWithoutBody = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM message WHERE webhook_id IS NULL AND \(unreadContent)
                """) ?? 0
            return try Int64.fetchAll(db, sql: """
                SELECT coalesce(journal_id, webhook_id) AS id FROM dead_letter
                WHERE replayed_at IS NULL AND coalesce(journal_id, webhook_id) IS NOT NULL AND \(replayableLetter)
                UNION
                SELECT webhook_id FROM message WHERE webhook_id IS NOT NULL AND \(unreadContent)
                ORDER BY id
                """)
        }
    }

    /// Messages whose content wabox could not read: unreadable, or of a type it did not know.
    private static let unreadContent = #"(content LIKE '{"unknown":%' OR content LIKE '{"unreadable":%')"#

    /// Dead letters a replay may resolve: not the verdicts on an edit or a deletion by
    /// someone other than the message's author (the body read fine; the sender was wrong).
    private static let replayableLetter = "NOT (path IS NULL AND reason LIKE '% comes from %, not the message''s author')"

    /// Applies one body again, in a savepoint of its own, and counts what changed.
    private static func replayBody(id: Int64, receivedAt: Int64, body: Data, decoder: WebhookDecoder, now: Int64,
                                   statements: IngestStatements, report: inout ReplayReport) throws {
        let db = statements.db
        report.bodies += 1
        let letters = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT id, path FROM dead_letter
            WHERE (journal_id = ?1 OR webhook_id = ?1) AND replayed_at IS NULL AND \(replayableLetter) ORDER BY id
            """), arguments: [id]).map { (id: $0[0] as Int64, path: $0[1] as String?) }
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
        do {
            try db.inSavepoint {
                var applier = EventApplier(statements: statements, webhookID: nil, sourceID: id, receivedAt: receivedAt)
                for event in events {
                    let message: InboundMessage?
                    switch event {
                    case .message(let inbound): message = inbound
                    case .echo(.message(let echo)): message = echo
                    default: message = nil
                    }
                    if let message {
                        if let rowID = try statements(.messageExists).int64(message.id.rawValue) {
                            if try readAgain(rowID: rowID, as: message, in: db) { read += 1 }
                            continue
                        }
                        added += 1
                    }
                    try applier.apply(event)
                }
                return .commit
            }
        } catch let error as DatabaseError where !isBodyError(error) {
            throw error  // the disk or the file, not this body: stop
        } catch let error as DatabaseError {
            report.failures.append(ReplayReport.Failure(id: id, reason: "could not apply: \(error.message ?? error.description)"))
            return
        } catch {
            report.failures.append(ReplayReport.Failure(id: id, reason: "could not apply: \(error)"))
            return
        }
        for letter in report.countReplayed(letters: letters, stillUnreadable: unreadable, added: added, read: read) {
            try db.cachedStatement(sql: "UPDATE dead_letter SET replayed_at = ? WHERE id = ?").execute(arguments: [now, letter])
        }
    }

    /// Gives a stored message that wabox could not read the content the body now reads as;
    /// returns whether it changed. A message read in full, or edited since (its row shows
    /// the edit), is left as it is.
    private static func readAgain(rowID: Int64, as message: InboundMessage, in db: Database) throws -> Bool {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT content, edited_at, error_code, error_title FROM message WHERE id = ?
            """), arguments: [rowID]), row["edited_at"] as Int64? == nil else { return false }
        let stored = try StoredJSON.decode(MessageContent.self, from: row["content"])
        switch stored {
        case .unknown, .unreadable: break
        default: return false
        }
        guard stored != message.content else { return false }
        let content = message.content
        try db.cachedStatement(sql: "UPDATE message SET type = ?, text = ?, caption = ?, content = ? WHERE id = ?")
            .execute(arguments: [content.typeName, content.text, content.caption, try StoredJSON.encode(content), rowID])
        // The error the row showed was wabox's own account of why it could not read it.
        let title: String? = row["error_title"]
        if row["error_code"] as Int? == nil, title?.hasPrefix(EventApplier.unreadableTitle) ?? false {
            let error = EventApplier.shownError(of: message)
            try db.cachedStatement(sql: """
                UPDATE message SET error_code = ?, error_title = ?, error_message = ?, error_details = ? WHERE id = ?
                """).execute(arguments: [error?.code, error?.title, error?.message, error?.details, rowID])
        }
        // A file now: the downloader takes it like any other (the queue may be past this row).
        if case .media(let media) = content, let mediaID = media.mediaID, !mediaID.isEmpty {
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO media (message_id, media_id, kind, mime_type, sha256, filename, sent_at)
                SELECT id, ?, ?, ?, ?, ?, timestamp FROM message WHERE id = ? AND direction = 'in'
                """).execute(arguments: [mediaID, media.kind.rawValue, media.mimeType, media.sha256, media.filename, rowID])
        }
        return true
    }
}
