import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Logging
import PostgresNIO
import PostgresStore
import StoreContract
import Testing

// The applier's promises (StoreContract.ApplyingStore), written once and run against every
// backend: journaled bodies become the same inbox rows on SQLite and on PostgreSQL, read
// back through InboxSnapshotStore.

typealias ApplyingInbox = any ApplyingStore & InboxSnapshotStore

private let quiet = Logger(label: "wabox.tests.applier") { _ in SwiftLogNoOpLogHandler() }

/// Runs `body` with a store on one fresh inbox of `backend`.
func withInbox(_ backend: Backend, _ body: @Sendable (ApplyingInbox) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        try await body(temporary.database)
    case .postgres:
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 3) { store in
            try await body(store)
        }
    }
}

extension ApplyingStore {
    /// Journals `bodies` (received at `receivedAt`) and applies everything waiting.
    @discardableResult
    func journalAndApply(_ bodies: [Data], receivedAt: Int64 = 1_764_500_000) async throws -> [AppliedBody] {
        try await appendJournal(bodies.map { JournalAppend(receivedAt: receivedAt, body: $0) })
        return try await applyAll()
    }

    /// Applies every body waiting, batch after batch, until none waits. (A batch may end
    /// short of its limit: the one redone after a refused body stops at that body.)
    func applyAll(batch: Int = 64) async throws -> [AppliedBody] {
        var applied: [AppliedBody] = []
        while true {
            let batchApplied = try await applyJournalBatch(limit: batch)
            if batchApplied.isEmpty { return applied }
            applied += batchApplied
        }
    }
}

@Suite(.postgresServer) struct ApplierConformanceTests {
    @Test(arguments: Backend.allCases)
    func aMessageIsStoredWithItsContactAndConversation(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let applied = try await store.journalAndApply([
                Bodies.text("wamid.first", from: "33612345678", name: "Amélie Laurent", timestamp: 1_764_400_000, text: "Bonjour"),
            ])
            #expect(applied.map(\.outcome) == [.stored(events: 1, deadLetters: 0)])
            #expect(applied.map(\.repeated) == [false])
            let progress = try await store.journalProgressNow()
            #expect(progress.applied == applied[0].journalID && progress.lag == 0 && progress.oldestWaitingReceivedAt == nil)
            let snapshot = try await store.inboxSnapshot()
            #expect(snapshot.conversations == [ConversationSnapshot(
                phoneNumberID: Bodies.phoneNumberID, displayPhoneNumber: Bodies.displayNumber, contactWaID: "33612345678",
                contactUserID: nil, contactName: "Amélie Laurent", lastActivityAt: 1_764_400_000, lastInboundAt: 1_764_400_000,
                lastMessageWamid: "wamid.first", unreadCount: 1, inboundCount: 1)])
            #expect(snapshot.messages == [MessageSnapshot(
                wamid: "wamid.first", phoneNumberID: Bodies.phoneNumberID, contactWaID: "33612345678", direction: "in",
                kind: "text", text: "Bonjour", status: "received", statusAt: nil, timestamp: 1_764_400_000, errorCode: nil,
                errorTitle: nil, editedAt: nil, deletedAt: nil)])
            // The same customer writing to our other number: a second conversation, one contact.
            try await store.journalAndApply([
                Bodies.text("wamid.second", from: "33612345678", name: "Amélie L.", timestamp: 1_764_400_100, text: "Encore",
                            phone: Bodies.otherPhoneNumberID),
            ])
            let after = try await store.inboxSnapshot()
            #expect(after.conversations.count == 2)
            #expect(Set(after.conversations.map(\.contactName)) == ["Amélie L."], "the newer profile name wins on the one contact")
        }
    }

    @Test(arguments: Backend.allCases)
    func theSameBodyJournaledTwiceIsAppliedOnce(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let message = Bodies.text("wamid.twice", from: "33612345678", timestamp: 1_764_400_000)
            let status = Bodies.status("wamid.out", "read", timestamp: 1_764_400_050)
            try await store.journalAndApply([message, status])
            let before = try await store.inboxSnapshot()
            // Redelivered (folded by PostgreSQL, journaled again by SQLite) and replayed.
            try await store.appendJournal([JournalAppend(receivedAt: 1_764_500_001, body: message)])
            let applied = try await store.journalAndApply([message, status])
            try await store.appendJournal([JournalAppend(receivedAt: 1_764_500_002, body: message, isReplay: true),
                                           JournalAppend(receivedAt: 1_764_500_002, body: status, isReplay: true)])
            let replayed = try await store.applyAll()
            #expect(replayed.count == 2 && replayed.allSatisfy { $0.repeated }, "\(replayed)")
            #expect(applied.allSatisfy { $0.repeated }, "\(applied)")
            #expect(try await store.inboxSnapshot() == before)
            #expect(before.messages.count == 1 && before.conversations.first?.unreadCount == 1 && before.statusEvents == 1)
        }
    }

    @Test(arguments: Backend.allCases)
    func statusesOutOfOrderNeverLowerTheTick(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            try await store.journalAndApply([Bodies.echo("wamid.out.1", to: "33612345678", timestamp: 100),
                                             Bodies.echo("wamid.out.2", to: "33612345678", timestamp: 100)])
            #expect(try await store.inboxSnapshot().message("wamid.out.1")?.status == "sent")
            // Each in a body of its own, one batch: read first, then what came before it.
            try await store.journalAndApply([
                Bodies.status("wamid.out.1", "read", timestamp: 130),
                Bodies.status("wamid.out.1", "delivered", timestamp: 120),
                Bodies.status("wamid.out.1", "failed", timestamp: 125, errorCode: 131026),
                Bodies.status("wamid.out.1", "sent", timestamp: 110),
            ])
            // failed replaces sent, a later delivered wins over it, and failed after delivered changes nothing.
            try await store.journalAndApply([Bodies.status("wamid.out.2", "failed", timestamp: 111, errorCode: 131026)])
            let failed = try await store.inboxSnapshot().message("wamid.out.2")
            #expect(failed?.status == "failed" && failed?.errorCode == 131026 && failed?.statusAt == 111)
            try await store.journalAndApply([Bodies.status("wamid.out.2", "delivered", timestamp: 115),
                                             Bodies.status("wamid.out.2", "failed", timestamp: 116, errorCode: 131000)])
            let snapshot = try await store.inboxSnapshot()
            let first = snapshot.message("wamid.out.1")
            #expect(first?.status == "read" && first?.statusAt == 130 && first?.errorCode == nil)
            let second = snapshot.message("wamid.out.2")
            #expect(second?.status == "delivered" && second?.statusAt == 115)
            #expect(snapshot.statusEvents == 7)
        }
    }

    @Test(arguments: Backend.allCases)
    func aStatusBeforeItsMessageIsKeptAndAppliedWhenItArrives(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            try await store.journalAndApply([Bodies.status("wamid.early", "sent", timestamp: 201),
                                             Bodies.status("wamid.early", "delivered", timestamp: 202)])
            let waiting = try await store.inboxSnapshot()
            #expect(waiting.messages.isEmpty && waiting.statusEvents == 2)
            try await store.journalAndApply([Bodies.echo("wamid.early", to: "33612345678", timestamp: 200)])
            let message = try await store.inboxSnapshot().message("wamid.early")
            #expect(message?.direction == "out" && message?.status == "delivered" && message?.statusAt == 202)
        }
    }

    @Test(arguments: Backend.allCases)
    func aBodyOfSeveralEntriesAndChangesAppliesWhole(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let body = Bodies.envelope([
                [
                    Bodies.change(["contacts": [Bodies.contact("33600000001", name: "Un"), Bodies.contact("33600000002", name: "Deux")],
                                   "messages": [Bodies.textMessage("wamid.m1", from: "33600000001", timestamp: 300, text: "un"),
                                                Bodies.textMessage("wamid.m2", from: "33600000002", timestamp: 301, text: "deux")]]),
                    Bodies.change(["statuses": [Bodies.statusObject("wamid.nowhere", "delivered", timestamp: 302)]]),
                ],
                [
                    Bodies.change(phone: Bodies.otherPhoneNumberID,
                                  ["contacts": [Bodies.contact("33600000001", name: "Un")],
                                   "messages": [Bodies.textMessage("wamid.m3", from: "33600000001", timestamp: 303, text: "trois"),
                                                Bodies.textMessage("wamid.m4", from: "33600000001", timestamp: 304, text: "quatre")]]),
                ],
            ])
            let applied = try await store.journalAndApply([body])
            #expect(applied.map(\.outcome) == [.stored(events: 5, deadLetters: 0)])
            let snapshot = try await store.inboxSnapshot()
            #expect(snapshot.messages.compactMap(\.wamid) == ["wamid.m1", "wamid.m2", "wamid.m3", "wamid.m4"])
            #expect(snapshot.statusEvents == 1)
            let other = snapshot.conversations.first { $0.phoneNumberID == Bodies.otherPhoneNumberID }
            #expect(other?.unreadCount == 2 && other?.lastMessageWamid == "wamid.m4" && other?.lastActivityAt == 304)
            #expect(snapshot.conversations.count == 3)
        }
    }

    static let hostileTexts = [
        #"She said "no" \ 'maybe' `rm -rf /` </b> ; DROP TABLE message; --"#,
        "👩‍👩‍👧‍👦 🇫🇷 e\u{301} \u{FE0F}",
        "مرحبا بالعالم \u{202E}txet desrever\u{202C} שלום",
        "before\u{0}after",
        String(repeating: "0123456789abcdé ", count: 256),
    ]

    @Test(arguments: Backend.allCases)
    func hostileTextRoundTrips(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let bodies = Self.hostileTexts.enumerated().map { index, text in
                Bodies.text("wamid.hostile.\(index)", from: "3360000010\(index)", name: "\"Ro'bert\" 👩‍👧 \u{202E}lin", timestamp: 400,
                            text: text)
            }
            let applied = try await store.journalAndApply(bodies)
            #expect(applied.map(\.outcome) == Array(repeating: .stored(events: 1, deadLetters: 0), count: bodies.count))
            let snapshot = try await store.inboxSnapshot()
            for (index, text) in Self.hostileTexts.enumerated() {
                let stored = snapshot.message("wamid.hostile.\(index)")?.text
                #expect(stored.map { Array($0.unicodeScalars) } == Array(text.unicodeScalars), "text \(index) came back as \(stored ?? "nothing")")
            }
            #expect(snapshot.conversations.allSatisfy { $0.contactName == "\"Ro'bert\" 👩‍👧 \u{202E}lin" })
        }
    }

    @Test(arguments: Backend.allCases)
    func anUndecodableBodyBecomesADeadLetterAndTheMarkMovesPastIt(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let broken = Data(#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"#.utf8)
            let applied = try await store.journalAndApply([
                Bodies.text("wamid.before", from: "33612345678", timestamp: 500), broken,
                Bodies.text("wamid.after", from: "33612345678", timestamp: 501),
            ])
            #expect(applied.count == 3)
            guard applied.count == 3 else { return }
            #expect(applied[0].outcome == .stored(events: 1, deadLetters: 0))
            guard case .deadLetter = applied[1].outcome else {
                Issue.record("the broken body became \(applied[1].outcome)")
                return
            }
            #expect(applied[2].outcome == .stored(events: 1, deadLetters: 0))
            #expect(try await store.journalAppliedThrough() == applied[2].journalID)
            #expect(try await store.unappliedJournal(limit: 10).isEmpty)
            let snapshot = try await store.inboxSnapshot()
            #expect(snapshot.deadLetters.count == 1 && snapshot.messages.count == 2)
            // Account errors are kept once; a replay of either body adds nothing.
            let errors = Bodies.accountErrors(code: 131042, title: "Business eligibility payment issue")
            #expect(try await store.journalAndApply([errors]).map(\.outcome) == [.stored(events: 1, deadLetters: 0)])
            try await store.appendJournal([JournalAppend(receivedAt: 1, body: broken, isReplay: true),
                                           JournalAppend(receivedAt: 1, body: errors, isReplay: true)])
            #expect(try await store.applyAll().map(\.outcome) == [.duplicate, .duplicate])
            let after = try await store.inboxSnapshot()
            #expect(after.deadLetters == snapshot.deadLetters)
            #expect(after.accountErrors == [AccountErrorSnapshot(phoneNumberID: Bodies.phoneNumberID, code: 131042,
                                                                 title: "Business eligibility payment issue")])
        }
    }

    @Test(arguments: Backend.allCases)
    func aBodyTheStoreRefusesBecomesADeadLetterAndTheOthersAreStored(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            try await refuseMessages(withText: "poison", in: store)
            let applied = try await store.journalAndApply([
                Bodies.text("wamid.good.1", from: "33612345678", timestamp: 600, text: "good"),
                Bodies.text("wamid.poison", from: "33612345679", timestamp: 601, text: "poison"),
                Bodies.text("wamid.good.2", from: "33612345678", timestamp: 602, text: "good too"),
            ])
            #expect(applied.count == 3)
            guard applied.count == 3 else { return }
            guard case .deadLetter(let reason) = applied[1].outcome else {
                Issue.record("the refused body became \(applied[1].outcome)")
                return
            }
            #expect(reason.hasPrefix("could not apply: "), "\(reason)")
            #expect(try await store.journalAppliedThrough() == applied[2].journalID)
            let snapshot = try await store.inboxSnapshot()
            #expect(snapshot.messages.compactMap(\.wamid) == ["wamid.good.1", "wamid.good.2"])
            #expect(snapshot.conversations.map(\.contactWaID) == ["33612345678"], "the refused body's contact stayed")
            #expect(snapshot.deadLetters.count == 1)
        }
    }

    @Test(arguments: Backend.allCases)
    func theNewestReactionOfEachReactorStands(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            try await store.journalAndApply([
                Bodies.text("wamid.liked", from: "33612345678", timestamp: 700),
                Bodies.reaction("wamid.r1", from: "33612345678", to: "wamid.liked", emoji: "👍", timestamp: 720),
                // Older, arriving late: changes nothing.
                Bodies.reaction("wamid.r0", from: "33612345678", to: "wamid.liked", emoji: "❤️", timestamp: 710),
                Bodies.reaction("wamid.r2", from: "33699999999", to: "wamid.liked", emoji: "😂", timestamp: 730),
            ])
            var snapshot = try await store.inboxSnapshot()
            #expect(snapshot.reactions == [
                ReactionSnapshot(messageWamid: "wamid.liked", reactorWaID: "33612345678", emoji: "👍", timestamp: 720),
                ReactionSnapshot(messageWamid: "wamid.liked", reactorWaID: "33699999999", emoji: "😂", timestamp: 730),
            ])
            #expect(snapshot.messages.count == 1, "a reaction is no message")
            try await store.journalAndApply([
                Bodies.reaction("wamid.r3", from: "33612345678", to: "wamid.liked", emoji: nil, timestamp: 740),
            ])
            snapshot = try await store.inboxSnapshot()
            #expect(snapshot.reactions.first { $0.reactorWaID == "33612345678" }?.emoji == nil)
        }
    }
}

extension ApplierConformanceTests {
    @Test(arguments: Backend.allCases)
    func editsAndDeletionsWaitForTheirMessageAndOnlyTheAuthorsApply(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let author = "33612345678"
            // The edit and a stranger's deletion come before the message they change.
            try await store.journalAndApply([
                UpdateBodies.edit(id: "wamid.edit.1", of: "wamid.original", from: author, timestamp: 810, body: "corrected"),
                UpdateBodies.revoke(id: "wamid.revoke.x", of: "wamid.original", from: "33699999999", timestamp: 820),
            ])
            #expect(try await store.inboxSnapshot().messages.isEmpty)
            let applied = try await store.journalAndApply([
                UpdateBodies.text(id: "wamid.original", from: author, timestamp: 800, body: "first try"),
            ])
            #expect(applied.map(\.outcome) == [.stored(events: 1, deadLetters: 1)], "the stranger's deletion is set aside")
            var snapshot = try await store.inboxSnapshot()
            let edited = snapshot.message("wamid.original")
            #expect(edited?.text == "corrected" && edited?.editedAt == 810 && edited?.deletedAt == nil)
            #expect(snapshot.deadLetters.count == 1)
            // The author's own deletion applies, once.
            let revoke = UpdateBodies.revoke(id: "wamid.revoke.1", of: "wamid.original", from: author, timestamp: 830)
            try await store.journalAndApply([revoke])
            try await store.appendJournal([JournalAppend(receivedAt: 1, body: revoke, isReplay: true)])
            _ = try await store.applyAll()
            snapshot = try await store.inboxSnapshot()
            #expect(snapshot.message("wamid.original")?.deletedAt == 830)
            #expect(snapshot.deadLetters.count == 1)
        }
    }
}

/// Makes the store refuse every inbound message whose text is `text`, as a constraint
/// would: on SQLite a trigger that aborts, on PostgreSQL one that raises a check violation.
func refuseMessages(withText text: String, in store: ApplyingInbox) async throws {
    switch store {
    case let database as InboxDatabase:
        try makeMessagesFail(withText: text, inDatabaseAt: database.path)
    case let postgres as PostgresStore:
        let literal = "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        try await postgres.client.query(PostgresQuery(unsafeSQL: """
            CREATE FUNCTION test_refuse_message() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.text = \(literal) THEN
                    RAISE EXCEPTION 'this message fails on purpose' USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
            END $$
            """))
        try await postgres.client.query("""
            CREATE TRIGGER test_refuse_message BEFORE INSERT ON message FOR EACH ROW EXECUTE FUNCTION test_refuse_message()
            """)
    default:
        Issue.record("no way to make \(type(of: store)) refuse a message")
    }
}
