import Foundation
import GRDB
import InboxCore

// The applier: turns journaled bodies into inbox rows, in journal order, many bodies per
// transaction, and moves its high-water mark (`journal_mark`) in the same transaction, so
// that a crash at any point leaves every body either applied or past the mark, never both.

/// The SHA-256 of a body, in hex: what recognises a replay among the bodies that left dead
/// letters or account errors.
enum BodyDigest {
    static func of(_ body: Data) -> String { MediaDigest.hex(of: body) }
}

/// A body whose events SQLite refused (a constraint, a trigger): the batch is redone with
/// a savepoint per body up to this one, which becomes a dead letter.
struct BodyFailure: Error {
    var journalID: Int64
    var error: DatabaseError
}

extension InboxDatabase {
    /// The most bodies the applier takes in one transaction. Larger batches write each page
    /// they touch to the WAL once for more bodies: measured with `wabox-screen-bench
    /// --store-ingest 300000`, 81 µs per webhook in batches of 512, 63 in 2048, 42 in 4096.
    /// The listener's commits never wait that long: the applier yields to them.
    public static let applierBatch = 4096

    /// Applies, in one transaction, up to `limit` journaled bodies past the mark, in journal
    /// order, and moves the mark past them; returns them (empty when nothing waits).
    /// `shouldYield` is asked after each body: true ends the batch there (at least one body
    /// is applied), so that the listener's journal commits do not wait behind a long one.
    ///
    /// Bodies apply without a savepoint each (a savepoint makes SQLite copy every page it
    /// changes). When SQLite refuses one body's events, the batch rolls back and is done
    /// again with a savepoint per body up to that one, which becomes a dead letter; the
    /// others are stored. A full disk or an I/O error is no body's fault: it is thrown, and
    /// the mark stays where it was. Blocking: for the applier's own thread and tools.
    public func applyJournal(limit: Int, shouldYield: () -> Bool = { false }) throws -> [AppliedBody] {
        let applied: [AppliedBody]
        do {
            applied = try writer.write { db in
                try Self.applyBatch(limit: limit, through: nil, guarded: false, decoder: decoder, shouldYield: shouldYield,
                                    in: db)
            }
        } catch let failure as BodyFailure {
            applied = try writer.write { db in
                try Self.applyBatch(limit: limit, through: failure.journalID, guarded: true, decoder: decoder,
                                    shouldYield: { false }, in: db)
            }
        }
        if !applied.isEmpty { committed() }
        return applied
    }

    /// Applies every body journaled so far, in batches of `batch`; returns how many. For
    /// commands that read the inbox as current when no listener applies the journal.
    @discardableResult
    public func applyWholeJournal(batch: Int = applierBatch) throws -> Int {
        var total = 0
        while true {
            // Until nothing waits: a short batch is not the end (the one redone after a
            // refused body ends at that body).
            let applied = try applyJournal(limit: batch)
            if applied.isEmpty { return total }
            total += applied.count
        }
    }

    /// One batch in the caller's transaction. `through` bounds it to the bodies up to that
    /// id; `guarded` gives each body a savepoint.
    static func applyBatch(limit: Int, through last: Int64?, guarded: Bool, decoder: WebhookDecoder,
                           shouldYield: () -> Bool, in db: Database) throws -> [AppliedBody] {
        let mark = try appliedThrough(in: db)
        // Read as the batch goes: one that yields early reads no body it does not apply.
        let rows = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT id, received_at, body FROM journal WHERE id > ? AND id <= ? ORDER BY id LIMIT ?
            """), arguments: [mark, last ?? Int64.max, limit])
        let statements = IngestStatements(db)
        var applied: [AppliedBody] = []
        while let row = try rows.next() {
            let id: Int64 = row[0]
            let receivedAt: Int64 = row[1]
            let body: Data = row[2]
            let outcome: IngestOutcome
            var repeated = false
            if guarded {
                outcome = try applyGuarded(id: id, receivedAt: receivedAt, body: body, decoder: decoder,
                                           statements: statements, repeated: &repeated)
            } else {
                do {
                    outcome = try apply(id: id, receivedAt: receivedAt, body: body, decoder: decoder, statements: statements,
                                        repeated: &repeated)
                } catch let error as DatabaseError where isBodyError(error) {
                    throw BodyFailure(journalID: id, error: error)
                }
            }
            applied.append(AppliedBody(journalID: id, outcome: outcome, repeated: repeated))
            if shouldYield() { break }
        }
        guard !applied.isEmpty else { return [] }
        try db.cachedStatement(sql: "UPDATE journal_mark SET applied_through = ? WHERE id = 1")
            .execute(arguments: [applied[applied.count - 1].journalID])
        return applied
    }

    /// Whether SQLite refused the statement for what it was asked to write (a constraint, a
    /// trigger, a type) rather than for the state of the disk or the file.
    static func isBodyError(_ error: DatabaseError) -> Bool {
        switch error.resultCode.primaryResultCode {
        case .SQLITE_CONSTRAINT, .SQLITE_MISMATCH, .SQLITE_TOOBIG, .SQLITE_RANGE, .SQLITE_ERROR: true
        default: false
        }
    }

    private static func applyGuarded(id: Int64, receivedAt: Int64, body: Data, decoder: WebhookDecoder,
                                     statements: IngestStatements, repeated: inout Bool) throws -> IngestOutcome {
        let db = statements.db
        var outcome = IngestOutcome.duplicate
        var repeatedHere = false
        defer { repeated = repeatedHere }
        do {
            try db.inSavepoint {
                outcome = try apply(id: id, receivedAt: receivedAt, body: body, decoder: decoder, statements: statements,
                                    repeated: &repeatedHere)
                return .commit
            }
        } catch let error as DatabaseError where isBodyError(error) {
            // The savepoint rolled back this body's rows: keep the body as a dead letter.
            let digest = BodyDigest.of(body)
            if try appliedBefore(digest: digest, in: db) { return .duplicate }
            repeatedHere = false
            let reason = "could not apply: \(error.message ?? error.description)"
            try insertDeadLetter(journalID: id, digest: digest, at: receivedAt, reason: reason, in: db)
            outcome = .deadLetter(reason: reason)
        }
        return outcome
    }

    /// Applies one body's events. Messages, statuses and reactions are idempotent by their
    /// keys, so a replayed body changes nothing through them; dead letters and account
    /// errors have no key, and are stored only when no earlier copy of the body left some
    /// (recognised by the body's SHA-256, computed only for such bodies).
    /// `repeated` is set when every event of the body was stored already.
    private static func apply(id: Int64, receivedAt: Int64, body: Data, decoder: WebhookDecoder,
                              statements: IngestStatements, repeated: inout Bool) throws -> IngestOutcome {
        let db = statements.db
        var events: [InboxEvent]
        do {
            events = try decoder.decode(body, receivedAt: receivedAt)
        } catch {
            let digest = BodyDigest.of(body)
            if try appliedBefore(digest: digest, in: db) { return .duplicate }
            try insertDeadLetter(journalID: id, digest: digest, at: receivedAt, reason: error.description, in: db)
            return .deadLetter(reason: error.description)
        }
        var replay = false
        var linkAfter: (deadLetter: Int64, accountError: Int64, digest: String)?
        if events.contains(where: leavesRowsOnEveryApply) {
            let digest = BodyDigest.of(body)
            if try appliedBefore(digest: digest, in: db) {
                replay = true
                events.removeAll(where: leavesRowsOnEveryApply)
            } else {
                linkAfter = (try maxID("dead_letter", in: db), try maxID("account_error", in: db), digest)
            }
        }
        var applier = EventApplier(statements: statements, webhookID: nil, sourceID: id, receivedAt: receivedAt)
        for event in events {
            try applier.apply(event)
        }
        repeated = !events.isEmpty && applier.repeats == events.count
        if let linkAfter {
            // The rows this body left name it, and carry its digest for the replay check.
            for (table, after) in [("dead_letter", linkAfter.deadLetter), ("account_error", linkAfter.accountError)] {
                try db.cachedStatement(sql: "UPDATE \(table) SET journal_id = ?, digest = ? WHERE id > ?")
                    .execute(arguments: [id, linkAfter.digest, after])
            }
        } else if applier.deadLetters > 0 {
            // Set aside while applying (a stranger's edit or deletion): the last rows of the
            // table, this transaction's. They name the body too, so that it is kept past the
            // journal's retention and `wabox replay --dead-letters` finds it.
            try db.cachedStatement(sql: """
                UPDATE dead_letter SET journal_id = ? WHERE journal_id IS NULL AND webhook_id IS NULL
                  AND id > (SELECT coalesce(max(id), 0) FROM dead_letter) - ?
                """).execute(arguments: [id, applier.deadLetters])
        }
        return replay ? .duplicate : .stored(events: events.count, deadLetters: applier.deadLetters)
    }

    /// Events that write a row each time they are applied, having no key of their own.
    static func leavesRowsOnEveryApply(_ event: InboxEvent) -> Bool {
        switch event {
        case .malformed, .accountErrors: true
        default: false
        }
    }

    private static func appliedBefore(digest: String, in db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM dead_letter WHERE digest = ?1) OR EXISTS (SELECT 1 FROM account_error WHERE digest = ?1)
            """), arguments: [digest]) ?? false
    }

    private static func maxID(_ table: String, in db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(max(id), 0) FROM \(table)")) ?? 0
    }

    private static func insertDeadLetter(journalID: Int64, digest: String, at receivedAt: Int64, reason: String,
                                         in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO dead_letter (journal_id, digest, received_at, path, reason, raw) VALUES (?, ?, ?, NULL, ?, NULL)
            """).execute(arguments: [journalID, digest, receivedAt, reason])
    }
}
