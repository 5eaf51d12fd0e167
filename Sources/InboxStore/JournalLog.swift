import Foundation
import GRDB
import InboxCore

// The webhook log (`wabox journal`): every body the journal (and, from before v11, table
// `webhook`) still holds, with what became of it, read back from the rows it left.

extension InboxDatabase: JournalLogStore {
    /// Streams the bodies the filter selects to `emit`, oldest first (ids follow arrival),
    /// each decoded again to tell its events; returns how many were emitted. Reads one
    /// snapshot: bodies journaled meanwhile are not listed.
    @discardableResult
    public func journalLog(_ filter: JournalLogFilter, emit: (JournalLogEntry) throws -> Void) throws -> Int {
        let identifiers = try filter.contact.map(customerIdentifiers(for:))
        let decoder = self.decoder
        return try writer.read { db in
            let mark = try Self.appliedThrough(in: db)
            var count = 0
            // Every id of table webhook is below the journal's: one order for both.
            for table in ["webhook", "journal"] {
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT id, received_at, body FROM \(table) WHERE received_at >= ? ORDER BY id
                    """, arguments: [filter.receivedSince ?? Int64.min])
                while let row = try rows.next() {
                    let id: Int64 = row[0]
                    let body: Data = row[2]
                    var problem: String?
                    var events: [InboxEvent] = []
                    do {
                        events = try decoder.decode(body, receivedAt: row[1])
                    } catch {
                        problem = String(describing: error)
                    }
                    if let identifiers, !JournalLogFilter.body(body, events: events, names: identifiers) { continue }
                    let letters = try Row.fetchAll(db.cachedStatement(sql: """
                        SELECT id, path, reason, replayed_at FROM dead_letter WHERE journal_id = ?1 OR webhook_id = ?1 ORDER BY id
                        """), arguments: [id]).map {
                        JournalLogEntry.DeadLetter(id: $0[0], path: $0[1], reason: $0[2], replayedAt: $0[3])
                    }
                    let accountErrors = try Int.fetchOne(db.cachedStatement(sql: """
                        SELECT count(*) FROM account_error WHERE journal_id = ?1 OR webhook_id = ?1
                        """), arguments: [id]) ?? 0
                    let outcome: JournalOutcome
                    if table == "journal", id > mark {
                        outcome = .unapplied
                    } else if letters.contains(where: { $0.replayedAt == nil }) {
                        outcome = .deadLetter
                    } else if accountErrors > 0 {
                        outcome = .error
                    } else if try Self.isDuplicate(id: id, events: events, leftRows: !letters.isEmpty, in: db) {
                        outcome = .duplicate
                    } else {
                        outcome = .stored
                    }
                    guard filter.outcomes.isEmpty || filter.outcomes.contains(outcome) else { continue }
                    try emit(JournalLogEntry(id: id, receivedAt: row[1], size: body.count, outcome: outcome,
                                             events: EventTally(events), problem: problem, deadLetters: letters,
                                             accountErrors: accountErrors))
                    count += 1
                }
            }
            return count
        }
    }

    public func newestJournalID() throws -> Int64 { try journalProgress().journaled }

    /// One body exactly as received, by its id in the journal (or table `webhook`).
    public func journalBody(id: Int64) throws -> JournalBodyLookup {
        try writer.read { db in
            if let row = try Row.fetchOne(db, sql: """
                SELECT id, received_at, body FROM journal WHERE id = ?1
                UNION ALL SELECT id, received_at, body FROM webhook WHERE id = ?1
                """, arguments: [id]) {
                return .found(RawWebhook(webhookID: row["id"], receivedAt: row["received_at"], body: row["body"]))
            }
            // Journal ids never come back (AUTOINCREMENT): one at or below the newest was pruned.
            let newest = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'journal'") ?? 0
            return id > 0 && id <= newest ? .pruned : .neverJournaled
        }
    }

    /// Every identifier of the customers `identifier` names (their numbers before a change
    /// too); the identifier itself when it names none.
    func customerIdentifiers(for identifier: String) throws -> Set<String> {
        var key = identifier.trimmingCharacters(in: .whitespaces)
        if key.hasPrefix("+") || key.hasPrefix("@") { key.removeFirst() }
        var identifiers: Set<String> = [key]
        for contact in try contacts(matching: key) {
            identifiers.formUnion([contact.identity.waID?.rawValue, contact.identity.userID?.rawValue,
                                   contact.identity.username].compactMap { $0 })
            identifiers.formUnion(try writer.read { db in
                try String.fetchAll(db, sql: "SELECT wa_id FROM contact_previous_number WHERE contact_id = ?",
                                    arguments: [contact.id.rawValue])
            })
        }
        return identifiers
    }

    /// Whether an applied body repeats an earlier one: it holds messages, every one of them
    /// stored with another body; or it holds parts that leave rows on every apply (dead
    /// letters, account errors) and left none itself.
    static func isDuplicate(id: Int64, events: [InboxEvent], leftRows: Bool, in db: Database) throws -> Bool {
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
            let source = try Int64?.fetchOne(db.cachedStatement(sql: "SELECT webhook_id FROM message WHERE wamid = ?"),
                                             arguments: [wamid.rawValue]) ?? nil
            guard let source, source != id else { return false }
        }
        return sawMessage
    }
}
