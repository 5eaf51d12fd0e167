import Foundation
import InboxCore

// The webhook log (`wabox journal`): every body the journal still holds, with what became
// of it, read back from the rows it left. SQLite's also lists its older table `webhook`.

/// What became of a journaled body.
public enum JournalOutcome: String, Sendable, CaseIterable {
    /// Applied.
    case stored
    /// A copy of a body applied before (Meta sends some twice): the messages it holds came
    /// with an earlier body, or an earlier copy left its dead letters and account errors.
    case duplicate
    /// It left a dead letter not replayed since: a part, or the whole body, could not be read
    /// or applied.
    case deadLetter = "dead-letter"
    /// Meta reported errors on the account in it (`value.errors`).
    case error
    /// Journaled (acknowledged) and not applied yet.
    case unapplied
}

/// One body in the webhook log.
public struct JournalLogEntry: Sendable, Equatable {
    public struct DeadLetter: Sendable, Equatable {
        public var id: Int64
        /// Where in the body (`entry[0].changes[0].value.messages[1]`); nil for the whole body.
        public var path: String?
        public var reason: String
        /// When `wabox replay` found the part readable (Unix seconds); nil while it is not.
        public var replayedAt: Int64?

        public init(id: Int64, path: String?, reason: String, replayedAt: Int64?) {
            self.id = id
            self.path = path
            self.reason = reason
            self.replayedAt = replayedAt
        }
    }

    /// The id `wabox journal show` and `wabox replay --id` take.
    public var id: Int64
    /// Unix seconds.
    public var receivedAt: Int64
    /// Bytes, as signed.
    public var size: Int
    public var outcome: JournalOutcome
    /// What the decoder reads in the body now.
    public var events: EventTally
    /// Why the decoder cannot read the body at all; nil when it can.
    public var problem: String?
    public var deadLetters: [DeadLetter]
    public var accountErrors: Int

    public init(id: Int64, receivedAt: Int64, size: Int, outcome: JournalOutcome, events: EventTally, problem: String?,
                deadLetters: [DeadLetter], accountErrors: Int) {
        self.id = id
        self.receivedAt = receivedAt
        self.size = size
        self.outcome = outcome
        self.events = events
        self.problem = problem
        self.deadLetters = deadLetters
        self.accountErrors = accountErrors
    }

    /// The entry as one line of JSON (`wabox journal --format jsonl`), without the newline.
    public var jsonLine: String {
        let json = JSONWriter()
        json.object {
            json.field("id", id)
            json.field("received_at", receivedAt)
            json.field("size", Int64(size))
            json.field("outcome", outcome.rawValue)
            json.key("events")
            json.object {
                for (kind, count) in events.counts { json.field(kind.rawValue, Int64(count)) }
            }
            json.field("problem", problem)
            json.key("dead_letters")
            json.array(deadLetters) { letter in
                json.object {
                    json.field("id", letter.id)
                    json.field("path", letter.path)
                    json.field("reason", letter.reason)
                    json.field("replayed_at", letter.replayedAt)
                }
            }
            json.field("account_errors", Int64(accountErrors))
        }
        return json.output
    }
}

/// Which bodies `journalLog` lists.
public struct JournalLogFilter: Sendable {
    /// Only bodies received at or after this time (Unix seconds).
    public var receivedSince: Int64?
    /// Only bodies about this customer: any identifier `export --contact` takes. A customer
    /// the inbox does not know (every message of theirs a dead letter) is looked for by the
    /// identifier itself.
    public var contact: String?
    /// Only bodies with one of these outcomes; every outcome when empty.
    public var outcomes: Set<JournalOutcome>

    public init(receivedSince: Int64? = nil, contact: String? = nil, outcomes: Set<JournalOutcome> = []) {
        self.receivedSince = receivedSince
        self.contact = contact
        self.outcomes = outcomes
    }
}

/// What `journalBody(id:)` finds.
public enum JournalBodyLookup: Sendable, Equatable {
    case found(RawWebhook)
    /// Applied and pruned after `journal_retention`.
    case pruned
    /// No body ever had this id.
    case neverJournaled
}


extension JournalLogFilter {
    /// Whether an event of the body is about one of the customers; for a part that could not
    /// be read (or a body that could not be decoded), whether the body names one at all.
    public static func body(_ body: Data, events: [InboxEvent], names identifiers: Set<String>) -> Bool {
        for event in events {
            guard let customer = event.customer else { continue }
            if [customer.waID?.rawValue, customer.userID?.rawValue, customer.username].contains(where: {
                $0.map(identifiers.contains) ?? false
            }) { return true }
        }
        let unread = events.isEmpty || events.contains { if case .malformed = $0 { true } else { false } }
        return unread && identifiers.contains { body.range(of: Data("\"\($0)\"".utf8)) != nil }
    }

}

/// The webhook log of a store, for `wabox journal` and `wabox journal show`.
public protocol JournalLogStore: Sendable {
    /// Streams the bodies the filter selects to `emit`, oldest first (ids follow arrival),
    /// each decoded again to tell its events; returns how many were emitted.
    @discardableResult
    func journalLog(_ filter: JournalLogFilter, emit: (JournalLogEntry) throws -> Void) async throws -> Int

    /// One body exactly as received, by its id.
    func journalBody(id: Int64) async throws -> JournalBodyLookup

    /// The newest journal id (0 when none): the widest id the log shows.
    func newestJournalID() async throws -> Int64
}
