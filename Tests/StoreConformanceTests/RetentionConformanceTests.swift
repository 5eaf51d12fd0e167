import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Logging
import PostgresNIO
import PostgresStore
import StoreContract
import Testing

// Retention's promises (StoreContract.PruningStore) on every backend: applied bodies older
// than the cutoff go, oldest first and a chunk at a time; a dead letter's body and a body
// not yet applied stay; an account error keeps its row; the audit trail loses only what is
// older than its cutoff.

/// The journal's body ids, oldest first, as each backend keeps them.
private func journalIDs(_ store: ApplyingInbox) async throws -> [Int64] {
    if let postgres = store as? PostgresStore {
        return try await postgres.client.query("SELECT id FROM journal ORDER BY id").collect().map { try $0.decode(Int64.self) }
    }
    let sqlite = try #require(store as? InboxDatabase)
    var ids: [Int64] = []
    _ = try sqlite.journalLog(JournalLogFilter()) { ids.append($0.id) }
    return ids.sorted()
}

@Suite(.postgresServer) struct RetentionConformanceTests {
    @Test(arguments: Backend.allCases)
    func appliedBodiesPastTheCutoffGoAndDeadLettersStay(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let pruner = try #require(store as? any PruningStore)
            let old: Int64 = 1_760_000_000, recent: Int64 = 1_764_500_000
            // Old: three texts, a stranger's deletion (a dead letter) and an account error.
            let texts = try await store.journalAndApply((0..<3).map {
                Bodies.text("wamid.old.\($0)", from: "33612345678", timestamp: old + Int64($0), text: "old \($0)")
            }, receivedAt: old)
            let letter = try await store.journalAndApply([
                UpdateBodies.revoke(id: "wamid.revoke.x", of: "wamid.old.0", from: "33699999999", timestamp: old + 10),
            ], receivedAt: old)
            #expect(letter.count == 1 && letter.allSatisfy { if case .stored(_, 1) = $0.outcome { true } else { false } },
                    "\(letter.map(\.outcome))")
            let errors = try await store.journalAndApply([Bodies.accountErrors(code: 131042, title: "Payment issue")],
                                                         receivedAt: old)
            let fresh = try await store.journalAndApply([
                Bodies.text("wamid.new", from: "33612345678", timestamp: recent, text: "new"),
            ], receivedAt: recent)
            // Old too, but not applied yet: it stays until it is.
            let waiting = try await store.appendJournal([
                JournalAppend(receivedAt: old, body: Bodies.text("wamid.waiting", from: "33612345678", timestamp: old + 20)),
            ])
            #expect(try await journalIDs(store).count == 7)

            let cutoff = recent - 86_400
            // A chunk at a time: two, then the rest of what may go.
            #expect(try await pruner.pruneJournal(receivedBefore: cutoff, limit: 2) == 2)
            #expect(try await pruner.pruneJournal(receivedBefore: cutoff, limit: 10) == 2)
            #expect(try await pruner.pruneJournal(receivedBefore: cutoff, limit: 10) == 0)
            let kept = try await journalIDs(store)
            #expect(kept == (letter.map(\.journalID) + fresh.map(\.journalID) + waiting).sorted(),
                    "texts \(texts.map(\.journalID)), errors \(errors.map(\.journalID)), kept \(kept)")
            // What the bodies held stays: the messages, the dead letter, the account error.
            let snapshot = try await store.inboxSnapshot()
            #expect(Set(snapshot.messages.map(\.wamid)).isSuperset(of: ["wamid.old.0", "wamid.old.1", "wamid.old.2", "wamid.new"]))
            #expect(snapshot.deadLetters.count == 1)
            #expect(snapshot.accountErrors.map(\.code) == [131042])
            // Once applied, the waiting body is old enough to go.
            _ = try await store.applyAll()
            #expect(try await pruner.pruneJournal(receivedBefore: cutoff, limit: 10) == 1)
            #expect(try await journalIDs(store) == (letter.map(\.journalID) + fresh.map(\.journalID)).sorted())
        }
    }

    @Test(arguments: Backend.allCases)
    func theAuditTrailLosesOnlyWhatIsOlderThanItsCutoff(_ backend: Backend) async throws {
        try await withSendingInbox(backend) { inboxes in
            let inbox = inboxes[0]
            for (index, at) in [Int64(1_760_000_000), 1_760_000_100, 1_760_000_200, 1_764_500_000].enumerated() {
                try await inbox.reply(to: "33612345678", "reply \(index)", localID: "audit-\(index)", at: at)
            }
            let trail = try #require(inbox.inbox as? any AuditTrailStore)
            let pruner = try #require(inbox.inbox as? any PruningStore)
            func times() async throws -> [Int64] {
                var times: [Int64] = []
                _ = try await trail.auditTrail(AuditQuery()) { times.append($0.at) }
                return times
            }
            #expect(try await times() == [1_760_000_000, 1_760_000_100, 1_760_000_200, 1_764_500_000])
            #expect(try await pruner.pruneAudit(before: 1_760_000_150, limit: 1) == 1)
            #expect(try await pruner.pruneAudit(before: 1_760_000_150, limit: 10) == 1)
            #expect(try await pruner.pruneAudit(before: 1_760_000_150, limit: 10) == 0)
            #expect(try await times() == [1_760_000_200, 1_764_500_000])
        }
    }
}

@Suite(.postgresServer) struct JournalLogConformanceTests {
    @Test(arguments: Backend.allCases)
    func theLogTellsWhatBecameOfEachBody(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let log = try #require(store as? any JournalLogStore)
            let first = Bodies.text("wamid.log.1", from: "33612345678", timestamp: 1_764_400_000, text: "un")
            try await store.journalAndApply([
                first,
                Bodies.text("wamid.log.2", from: "33698765432", name: "Jonas Weber", timestamp: 1_764_400_010, text: "deux"),
                Data(#"{"object":"whatsapp_business_account","entry":"not a list"}"#.utf8),
                Bodies.accountErrors(code: 131042, title: "Payment issue"),
            ])
            // The same message in another body (Meta redelivered it, differently wrapped).
            try await store.journalAndApply([Bodies.envelope([[Bodies.change(["contacts": [Bodies.contact("33612345678", name: "Amélie")],
                "messages": [Bodies.textMessage("wamid.log.1", from: "33612345678", timestamp: 1_764_400_000, text: "un")]])]])])
            try await store.appendJournal([JournalAppend(receivedAt: 1_764_500_000, body: first, isReplay: true)])
            var entries: [JournalLogEntry] = []
            try await log.journalLog(JournalLogFilter()) { entries.append($0) }
            #expect(entries.map(\.outcome) == [.stored, .stored, .deadLetter, .error, .duplicate, .unapplied])
            #expect(entries.map(\.events.description)
                    == ["1 message", "1 message", "no events", "1 account error", "1 message", "1 message"])
            #expect(entries[2].problem != nil && entries[2].deadLetters.count == 1)
            #expect(entries[3].accountErrors == 1)
            var amelie: [Int64] = []
            try await log.journalLog(JournalLogFilter(contact: "+33612345678")) { amelie.append($0.id) }
            #expect(amelie == [entries[0].id, entries[4].id, entries[5].id])
            var letters: [Int64] = []
            try await log.journalLog(JournalLogFilter(outcomes: [.deadLetter])) { letters.append($0.id) }
            #expect(letters == [entries[2].id])
            guard case .found(let body) = try await log.journalBody(id: entries[0].id) else {
                Issue.record("the first body is not found")
                return
            }
            #expect(body.body == first)
            #expect(try await log.journalBody(id: entries[5].id + 100) == .neverJournaled)
            #expect(try await log.newestJournalID() == entries[5].id)
        }
    }
}
