import Foundation
import InboxCore
import PostgresNIO
import StoreContract

// The webhook log on PostgreSQL (`wabox journal`, `wabox journal show`), as SQLite's
// (InboxStore's JournalLog.swift): every body the journal still holds, with what became of
// it, read back from the rows it left, a page of bodies per read-only transaction.

extension PostgresStore: JournalLogStore {
    /// Bodies read per round trip.
    static let journalLogPage = 256

    public func journalLog(_ filter: JournalLogFilter, emit: (JournalLogEntry) throws -> Void) async throws -> Int {
        var identifiers: Set<String>?
        if let contact = filter.contact { identifiers = try await customerIdentifiers(for: contact) }
        let decoder = self.decoder
        let since = filter.receivedSince ?? Int64.min
        var count = 0
        // A page at a time; each page's entries are emitted once it is read.
        var after: Int64 = 0
        while true {
            let (page, last, full) = try await readOnly { [after, identifiers] tx -> ([JournalLogEntry], Int64, Bool) in
                guard let mark = try await tx.int64("SELECT applied_through FROM journal_mark WHERE id = 1") else {
                    throw PostgresStoreError("the journal has no applied mark (table journal_mark is empty): run `wabox doctor`")
                }
                let bodies = try await tx.rows("""
                    SELECT id, received_at, body FROM journal WHERE id > \(after) AND received_at >= \(since)
                    ORDER BY id LIMIT \(Self.journalLogPage)
                    """) { row in
                    let (id, receivedAt, body) = try row.decode((Int64, Int64, ByteBuffer).self)
                    return (id, receivedAt, Data(body.readableBytesView))
                }
                var entries: [JournalLogEntry] = []
                for (id, receivedAt, body) in bodies {
                    var problem: String?
                    var events: [InboxEvent] = []
                    do {
                        events = try decoder.decode(body, receivedAt: receivedAt)
                    } catch {
                        problem = String(describing: error)
                    }
                    if let identifiers, !JournalLogFilter.body(body, events: events, names: identifiers) { continue }
                    let letters = try await tx.rows("""
                        SELECT id, path, reason, replayed_at FROM dead_letter WHERE journal_id = \(id) ORDER BY id
                        """) { row in
                        let (letter, path, reason, replayedAt) = try row.decode((Int64, String?, String, Int64?).self)
                        return JournalLogEntry.DeadLetter(id: letter, path: path, reason: reason, replayedAt: replayedAt)
                    }
                    let accountErrors = Int(try await tx.int64("SELECT count(*) FROM account_error WHERE journal_id = \(id)") ?? 0)
                    let outcome: JournalOutcome
                    if id > mark {
                        outcome = .unapplied
                    } else if letters.contains(where: { $0.replayedAt == nil }) {
                        outcome = .deadLetter
                    } else if accountErrors > 0 {
                        outcome = .error
                    } else if try await Self.isDuplicate(id: id, events: events, leftRows: !letters.isEmpty, in: tx) {
                        outcome = .duplicate
                    } else {
                        outcome = .stored
                    }
                    entries.append(JournalLogEntry(id: id, receivedAt: receivedAt, size: body.count, outcome: outcome,
                                                   events: EventTally(events), problem: problem, deadLetters: letters,
                                                   accountErrors: accountErrors))
                }
                return (entries, bodies.last?.0 ?? after, bodies.count == Self.journalLogPage)
            }
            for entry in page where filter.outcomes.isEmpty || filter.outcomes.contains(entry.outcome) {
                try emit(entry)
                count += 1
            }
            guard full else { return count }
            after = last
        }
    }

    public func journalBody(id: Int64) async throws -> JournalBodyLookup {
        try await readOnly { tx in
            if let (found, receivedAt, body) = try await tx.row("SELECT id, received_at, body FROM journal WHERE id = \(id)",
                                                                  read: { try $0.decode((Int64, Int64, ByteBuffer).self) }) {
                return .found(RawWebhook(webhookID: found, receivedAt: receivedAt, body: Data(body.readableBytesView)))
            }
            // Ids are never drawn twice: one at or below the newest drawn was pruned.
            let newest = try await tx.int64("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM journal_id_seq") ?? 0
            return id > 0 && id <= newest ? .pruned : .neverJournaled
        }
    }

    public func newestJournalID() async throws -> Int64 {
        try await readOnly { tx in try await tx.int64("SELECT coalesce(max(id), 0) FROM journal") ?? 0 }
    }

    /// Every identifier of the customers `identifier` names (their numbers before a change
    /// too); the identifier itself when it names none.
    func customerIdentifiers(for identifier: String) async throws -> Set<String> {
        let key = CustomerAddress(identifier).key
        return try await readOnly { tx in
            var identifiers: Set<String> = [key]
            let rows = try await tx.rows("""
                SELECT c.wa_id, c.user_id, c.username, p.wa_id FROM contact c
                LEFT JOIN contact_previous_number p ON p.contact_id = c.id
                WHERE c.wa_id = \(key) OR c.user_id = \(key) OR c.username = \(key)
                """) { try $0.decode((String?, String?, String?, String?).self) }
            for (waID, userID, username, previous) in rows {
                identifiers.formUnion([waID, userID, username, previous].compactMap { $0 })
            }
            return identifiers
        }
    }

    /// Whether an applied body repeats an earlier one: it holds messages, every one of them
    /// stored with another body; or it holds parts that leave rows on every apply and left
    /// none itself.
    static func isDuplicate(id: Int64, events: [InboxEvent], leftRows: Bool, in tx: Transaction) async throws -> Bool {
        if !leftRows, events.contains(where: leavesRowsOnEveryApply) { return true }
        var sawMessage = false
        for event in events {
            let wamid: MessageID
            switch event {
            case .message(let message): wamid = message.id
            case .echo(.message(let message)): wamid = message.id
            default: continue
            }
            sawMessage = true
            let source = try await tx.int64("SELECT webhook_id FROM message WHERE wamid = \(wamid.rawValue)")
            guard let source, source != id else { return false }
        }
        return sawMessage
    }
}
