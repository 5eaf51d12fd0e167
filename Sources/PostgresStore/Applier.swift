import Foundation
import InboxCore
import Logging
import PostgresNIO
import StoreContract

// The applier on PostgreSQL (StoreContract.ApplyingStore): journaled bodies become inbox
// rows in journal order, many per transaction, and the applied mark moves in the same
// transaction, as SQLite's applier does (InboxStore/Applier.swift). The mark's row is
// locked for the transaction, so two appliers never apply one body twice even if the lease
// were ever held by two.

/// A body whose events PostgreSQL refused: the batch is redone with a savepoint per body up
/// to this one, which becomes a dead letter.
struct BodyRefused: Error {
    var journalID: Int64
    var error: PSQLError
}

extension PostgresStore: ApplyingStore {
    /// The most bodies one batch applies (SQLite's figure; each body costs round trips here,
    /// so a batch of this size holds the mark's lock for a few seconds at most).
    public static let applierBatch = 4096

    /// Applies up to `limit` bodies past the mark in one transaction. Bodies apply without a
    /// savepoint each; when PostgreSQL refuses one body's rows (a constraint, a value out of
    /// range), the batch rolls back and is done again with a savepoint per body up to that
    /// one, which becomes a dead letter. A lost connection is no body's fault: it is thrown,
    /// and the mark stays where it was.
    ///
    /// Then the search indexer writes the words of what landed (its own transaction: a
    /// failure there is logged, and the rows are scanned by searches until the next pass).
    public func applyJournalBatch(limit: Int) async throws -> [AppliedBody] {
        let applied: [AppliedBody]
        do {
            applied = try await applyInTransaction(limit: limit, through: nil, guarded: false)
        } catch let refused as BodyRefused {
            logger.notice("a journaled body could not be applied; applying its batch again with a savepoint per body",
                          metadata: ["journal_id": "\(refused.journalID)",
                                     "error": "\(refused.error.serverInfo?[.message] ?? String(reflecting: refused.error))"])
            applied = try await applyInTransaction(limit: limit, through: refused.journalID, guarded: true)
        }
        do {
            try await indexSearchText()
        } catch {
            logger.warning("the search indexer could not write this pass: \(String(reflecting: error))")
        }
        return applied
    }

    /// Applies every body journaled so far, in batches, until none waits; returns how many.
    /// (A batch may end short of its limit: the one redone after a refused body stops there.)
    @discardableResult
    public func applyWholeJournal(batch: Int = applierBatch) async throws -> Int {
        var total = 0
        while true {
            let applied = try await applyJournalBatch(limit: batch)
            if applied.isEmpty { return total }
            total += applied.count
        }
    }

    /// Journal ids are drawn from an identity, and an append that rolled back leaves a gap:
    /// `journaled` is the newest id, so the lag is at most the count waiting.
    public func journalProgressNow() async throws -> JournalProgress {
        let logger = self.logger
        return try await client.withConnection { connection in
            try await Self.journalProgress(in: Transaction(connection: connection, logger: logger))
        } ?? JournalProgress(journaled: 0, applied: 0, oldestWaitingReceivedAt: nil)
    }

    /// The progress as `tx` sees it; nil when the journal has no applied mark.
    static func journalProgress(in tx: Transaction) async throws -> JournalProgress? {
        try await tx.row("""
            SELECT coalesce((SELECT max(id) FROM journal), 0), m.applied_through,
                   (SELECT received_at FROM journal WHERE id > m.applied_through ORDER BY id LIMIT 1)
            FROM journal_mark m WHERE m.id = 1
            """) { row in
            let (journaled, applied, oldest) = try row.decode((Int64, Int64, Int64?).self)
            return JournalProgress(journaled: max(journaled, applied), applied: applied, oldestWaitingReceivedAt: oldest)
        }
    }

    private func applyInTransaction(limit: Int, through last: Int64?, guarded: Bool) async throws -> [AppliedBody] {
        let logger = self.logger, decoder = self.decoder
        return try await client.withConnection { connection in
            let tx = Transaction(connection: connection, logger: logger)
            try await tx.run("BEGIN")
            do {
                let applied = try await Self.applyBatch(limit: limit, through: last, guarded: guarded, decoder: decoder, in: tx)
                try await tx.run("COMMIT")
                return applied
            } catch {
                // On a lost connection this fails too, and the server rolls back on its own.
                _ = try? await tx.run("ROLLBACK")
                throw error
            }
        }
    }

    private static func applyBatch(limit: Int, through last: Int64?, guarded: Bool, decoder: WebhookDecoder,
                                   in tx: Transaction) async throws -> [AppliedBody] {
        guard let mark = try await tx.int64("SELECT applied_through FROM journal_mark WHERE id = 1 FOR UPDATE") else {
            throw PostgresStoreError("the journal has no applied mark (table journal_mark is empty): run `wabox doctor`")
        }
        let bodies = try await tx.rows("""
            SELECT id, received_at, body FROM journal WHERE id > \(mark) AND id <= \(last ?? Int64.max)
            ORDER BY id LIMIT \(limit)
            """) { row in
            let (id, receivedAt, body) = try row.decode((Int64, Int64, ByteBuffer).self)
            return JournaledBody(id: id, receivedAt: receivedAt, body: Data(body.readableBytesView))
        }
        guard let newest = bodies.last else { return [] }
        var applied: [AppliedBody] = []
        applied.reserveCapacity(bodies.count)
        for body in bodies {
            var repeated = false
            let outcome: IngestOutcome
            if guarded {
                outcome = try await applyGuarded(body, decoder: decoder, in: tx, repeated: &repeated)
            } else {
                do {
                    outcome = try await apply(body, decoder: decoder, in: tx, repeated: &repeated)
                } catch let error as PSQLError where isBodyError(error) {
                    throw BodyRefused(journalID: body.id, error: error)
                }
            }
            applied.append(AppliedBody(journalID: body.id, outcome: outcome, repeated: repeated))
        }
        // The batch's customer files join the download queue with it (MediaQueue.swift).
        _ = try await queueMedia(in: tx)
        try await tx.run("UPDATE journal_mark SET applied_through = \(newest.id) WHERE id = 1")
        return applied
    }

    /// Whether PostgreSQL refused a statement for what it was asked to write (SQLSTATE class
    /// 22 data exception, 23 integrity constraint, 54 program limit, P0001 a trigger's
    /// RAISE) rather than for the connection or the server's state.
    static func isBodyError(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("54") || state == "P0001"
    }

    private static func applyGuarded(_ body: JournaledBody, decoder: WebhookDecoder, in tx: Transaction,
                                     repeated: inout Bool) async throws -> IngestOutcome {
        try await tx.run("SAVEPOINT body")
        do {
            let outcome = try await apply(body, decoder: decoder, in: tx, repeated: &repeated)
            try await tx.run("RELEASE SAVEPOINT body")
            return outcome
        } catch let error as PSQLError where isBodyError(error) {
            // The savepoint undoes this body's rows: keep the body as a dead letter.
            try await tx.run("ROLLBACK TO SAVEPOINT body")
            try await tx.run("RELEASE SAVEPOINT body")
            repeated = false
            let digest = MediaDigest.hex(of: body.body)
            if try await appliedBefore(digest: digest, in: tx) { return .duplicate }
            let reason = "could not apply: \(error.serverInfo?[.message] ?? String(reflecting: error))"
            try await EventWriter(tx: tx, journalID: body.id, receivedAt: body.receivedAt, digest: digest)
                .insertDeadLetter(path: nil, reason: reason, raw: nil)
            return .deadLetter(reason: reason)
        }
    }

    /// Applies one body's events. Messages, statuses and reactions are idempotent by their
    /// keys; dead letters and account errors have none, and are stored only when no earlier
    /// copy of the body left some (recognised by the body's SHA-256, computed only for such
    /// bodies). `repeated` is set when every event of the body was stored already.
    private static func apply(_ body: JournaledBody, decoder: WebhookDecoder, in tx: Transaction,
                              repeated: inout Bool) async throws -> IngestOutcome {
        var events: [InboxEvent]
        do {
            events = try decoder.decode(body.body, receivedAt: body.receivedAt)
        } catch {
            let digest = MediaDigest.hex(of: body.body)
            if try await appliedBefore(digest: digest, in: tx) { return .duplicate }
            try await EventWriter(tx: tx, journalID: body.id, receivedAt: body.receivedAt, digest: digest)
                .insertDeadLetter(path: nil, reason: error.description, raw: nil)
            return .deadLetter(reason: error.description)
        }
        var replay = false
        var digest: String?
        if events.contains(where: leavesRowsOnEveryApply) {
            let bodyDigest = MediaDigest.hex(of: body.body)
            if try await appliedBefore(digest: bodyDigest, in: tx) {
                replay = true
                events.removeAll(where: leavesRowsOnEveryApply)
            } else {
                digest = bodyDigest
            }
        }
        var writer = EventWriter(tx: tx, journalID: body.id, receivedAt: body.receivedAt, digest: digest)
        for event in events {
            try await writer.apply(event)
        }
        repeated = !events.isEmpty && writer.repeats == events.count
        return replay ? .duplicate : .stored(events: events.count, deadLetters: writer.deadLetters)
    }

    /// Events that write a row each time they are applied, having no key of their own.
    static func leavesRowsOnEveryApply(_ event: InboxEvent) -> Bool {
        switch event {
        case .malformed, .accountErrors: true
        default: false
        }
    }

    private static func appliedBefore(digest: String, in tx: Transaction) async throws -> Bool {
        try await tx.returnsRow("""
            SELECT 1 WHERE EXISTS (SELECT 1 FROM dead_letter WHERE digest = \(digest))
                        OR EXISTS (SELECT 1 FROM account_error WHERE digest = \(digest))
            """)
    }
}
