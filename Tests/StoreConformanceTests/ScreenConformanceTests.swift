import Foundation
import InboxCore
import InboxStore
import InboxTesting
import PostgresStore
import StoreContract
import Testing

// The screen's promises (StoreContract.InboxScreenStore), run against both stores: the
// same inbox shows the same list under every filter, the same threads and contact panels,
// and an agent's claims, notes, labels and read marks leave the same rows. Row ids are
// left out of the comparison: PostgreSQL's identities skip the values a conflict used.

/// A sync read of the screen, off the concurrency pool (the screen's loop is a thread of
/// its own; PostgreSQL's store waits for its pool there).
private func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A message as both stores must show it: without its row ids.
private func comparable(_ message: StoredMessage?) -> StoredMessage? {
    guard var message else { return nil }
    message.rowID = 0
    message.conversationID = ConversationID(rawValue: 0)
    return message
}

private func comparable(_ row: ConversationSummary) -> ConversationSummary {
    var row = row
    row.id = ConversationID(rawValue: 0)
    row.contact.id = ContactID(rawValue: 0)
    row.lastMessage = comparable(row.lastMessage)
    return row
}

/// Every step of a filter's walk, joined, as the screen shows them.
private func list(_ store: any InboxScreenStore, _ filter: String, viewer: Viewer, scope: ConversationScope = .all,
                  unreadOnly: Bool = false, now: Int64) async throws -> [ConversationSummary] {
    try await read {
        let parsed = try ConversationFilter.parse(filter)
        var found: [ConversationSummary] = []
        var from: ConversationCursor?
        while true {
            // A small window, so that walks take several steps.
            let step = try store.conversationStep(filter: parsed, unreadOnly: unreadOnly, scope: scope, after: from,
                                                  limit: 500 - found.count, viewer: viewer, now: now, window: 7)
            found += step.items
            guard let next = step.scannedTo ?? step.next, found.count < 500 else { return found }
            from = next
        }
    }
}

@Suite(.postgresServer) struct ScreenConformanceTests {
    @Test func theSameInboxShowsTheSameScreenOnBothStores() async throws {
        try await withBothStores { sqlite, postgres in
            var maker = StreamMaker(random: SeededGenerator(state: 7))
            let bodies = (0..<160).map { _ in maker.next() }
            for store in [sqlite, postgres] as [any ApplyingStore] {
                try await store.appendJournal(bodies)
            }
            _ = try await sqlite.applyAll(batch: 16)
            _ = try await postgres.applyAll(batch: 16)
            while try await postgres.indexSearchText() > 0 {}
            let screen = PostgresScreenStore(store: postgres, identity: sqlite.identity)
            let stores: [any InboxScreenStore] = [sqlite, screen]
            let agent = sqlite.identity.account
            let team = Viewer.team, mine = Viewer(agent: agent, nowMilliseconds: 1)
            let now = Int64(Date().timeIntervalSince1970)

            let everything = try await list(sqlite, "", viewer: team, now: now)
            #expect(everything.count > 3, "the stream made conversations")
            // An agent works some of them, the same on both stores.
            for store in stores {
                let rows = try await list(store, "", viewer: team, now: now)
                for (index, row) in rows.enumerated() {
                    switch index % 4 {
                    case 0:
                        #expect(try await store.claim(row.id, takeOver: false, at: now) == .claimed)
                        _ = try await store.addNote(to: row.id, text: "called back, note \(index)", at: now)
                    case 1:
                        #expect(try await store.toggleLabel("vip", on: row.id, at: now))
                        try await store.markRead(row.id, asTeam: false)
                    case 2:
                        try await store.resolve(row.id, at: now)
                        #expect(try await store.toggleLabel("later", on: row.id, at: now))
                        #expect(try await !store.toggleLabel("later", on: row.id, at: now))
                    default:
                        try await store.markRead(row.id, asTeam: true)
                    }
                }
            }
            let filters = ["", "~u", "~w", "!~w", "~F", "~n", "~a me", "!~a me", "~l vip", "!~l vip", "~u ~l vip", "a",
                           "+33", "49 151"]
            for filter in filters {
                for viewer in [team, mine] {
                    let expected = try await list(sqlite, filter, viewer: viewer, now: now).map(comparable)
                    let found = try await list(screen, filter, viewer: viewer, now: now).map(comparable)
                    #expect(found == expected, "filter \"\(filter)\", agent \(viewer.agent ?? "none")")
                }
            }
            for scope in ConversationScope.allCases {
                let expected = try await list(sqlite, "", viewer: mine, scope: scope, unreadOnly: true, now: now)
                let found = try await list(screen, "", viewer: mine, scope: scope, unreadOnly: true, now: now)
                #expect(found.map(comparable) == expected.map(comparable), "scope \(scope)")
            }
            // The rows the change feed names, patched in, as the walk shows them.
            let sqliteRows = try await list(sqlite, "", viewer: mine, now: now)
            let postgresRows = try await list(screen, "", viewer: mine, now: now)
            #expect(sqliteRows.count == postgresRows.count)
            let picked = Set(sqliteRows.indices.filter { $0 % 3 == 0 })
            let patchedSQLite = try await read {
                try sqlite.conversations(among: Set(picked.map { sqliteRows[$0].id }), filter: .init(text: "", terms: []),
                                         unreadOnly: false, scope: .all, viewer: mine, now: now)
            }
            let patchedPostgres = try await read {
                try screen.conversations(among: Set(picked.map { postgresRows[$0].id }), filter: .init(text: "", terms: []),
                                         unreadOnly: false, scope: .all, viewer: mine, now: now)
            }
            #expect(patchedPostgres.map(comparable) == patchedSQLite.map(comparable))
            // Each conversation's thread, notes, panel and newest customer message.
            for (expected, found) in zip(sqliteRows, postgresRows) {
                let (a, b) = (expected.id, found.id)
                let threads = try await read {
                    (try sqlite.messages(in: a, before: nil, limit: 40), try screen.messages(in: b, before: nil, limit: 40))
                }
                #expect(threads.1.items.map(comparable) == threads.0.items.map(comparable), "thread of \(expected.contact.displayName)")
                #expect((threads.1.next == nil) == (threads.0.next == nil))
                let quoted = try await read {
                    (try sqlite.quotedMessages(for: threads.0.items).mapValues(comparable),
                     try screen.quotedMessages(for: threads.1.items).mapValues(comparable))
                }
                #expect(quoted.1 == quoted.0)
                let notes = try await read { (try sqlite.notes(in: a), try screen.notes(in: b)) }
                #expect(notes.1.map { [$0.agent, $0.text] } == notes.0.map { [$0.agent, $0.text] })
                let latest = try await read { (try sqlite.latestInboundMessage(in: a), try screen.latestInboundMessage(in: b)) }
                #expect(comparable(latest.1) == comparable(latest.0))
                let panels = try await read { (try sqlite.contactDetails(of: a, viewer: mine), try screen.contactDetails(of: b, viewer: mine)) }
                #expect(panels.1.map { [$0.receivedCount, $0.sentCount] } == panels.0.map { [$0.receivedCount, $0.sentCount] })
                #expect(comparable(panels.1?.lastMessage) == comparable(panels.0?.lastMessage))
                #expect(panels.1?.otherBusinessNumbers == panels.0?.otherBusinessNumbers)
            }
            let workbench = try await read { (try sqlite.labels(), try screen.labels()) }
            #expect(workbench.1 == workbench.0 && workbench.0 == ["later", "vip"])
            let arrivals = try await read { (try sqlite.arrivals(after: 0, limit: 20), try screen.arrivals(after: 0, limit: 20)) }
            #expect(arrivals.1.arrivals.map(\.content) == arrivals.0.arrivals.map(\.content))
            #expect(!arrivals.0.arrivals.isEmpty)
            // The trail of all that, whole and for one customer, as `wabox audit` lists it.
            func trail(_ store: any AuditTrailStore, _ query: AuditQuery) async throws -> [AuditEntry] {
                var entries: [AuditEntry] = []
                _ = try await store.auditTrail(query) { entry in
                    var entry = entry
                    entry.id = 0
                    entry.conversationID = entry.conversationID.map { _ in ConversationID(rawValue: 0) }
                    entries.append(entry)
                }
                return entries
            }
            let customer = try #require(sqliteRows.first?.contact.waID?.rawValue)
            for query in [AuditQuery(), AuditQuery(account: agent), AuditQuery(contact: customer), AuditQuery(since: now + 1)] {
                let expected = try await trail(sqlite, query), found = try await trail(postgres, query)
                #expect(found == expected, "\(query)")
            }
            #expect(try await trail(sqlite, AuditQuery()).count > 8)
            await #expect(throws: UnknownContact.self) { try await trail(postgres, AuditQuery(contact: "nobody.here")) }
        }
    }

    @Test func aReplyFromTheScreenIsQueuedOnceWithItsAuditEntry() async throws {
        try await withBothStores { sqlite, postgres in
            let body = UpdateBodies.text(id: "wamid.screen.1", from: "33600000001", name: "Lucie",
                                         timestamp: Int64(Date().timeIntervalSince1970), body: "Bonjour")
            for store in [sqlite, postgres] as [any ApplyingStore] {
                _ = try await store.journalAndApply([body])
            }
            let screen = PostgresScreenStore(store: postgres, identity: AgentIdentity(account: "alice", displayName: "Alice"))
            let now = Int64(Date().timeIntervalSince1970)
            let row = try #require(try await list(screen, "", viewer: .team, now: now).first)
            let sent = try await screen.enqueueOutbound(in: row.id, content: .text(body: "Hello\u{0}there"), replyTo: nil,
                                                        localID: "local-screen-1", at: now)
            #expect(sent.status == .pending && sent.agent == "alice" && sent.content.text == "Hello\u{0}there")
            let buttons = try await screen.enqueueButtons(in: row.id, ReplyButtons(body: "Pick one", titles: ["Yes", "No"]),
                                                          replyTo: nil, localID: "local-screen-2", at: now)
            #expect(buttons.buttons == ["Yes", "No"])
            let reaction = try await screen.enqueueReaction(in: row.id, to: MessageID("wamid.screen.1"), emoji: "👍",
                                                            localID: "local-screen-3", at: now)
            #expect(reaction.status == .pending)
            let thread = try await read { try screen.messages(in: row.id, before: nil, limit: 10) }
            #expect(thread.items.map(\.localID) == [nil, "local-screen-1", "local-screen-2"])
            #expect(thread.items.first?.reactions.map(\.emoji) == ["👍"])
            // Sent once: the outbox holds each, and the trail names Alice.
            var queued: [String] = []
            for try await localID in try await postgres.client.query("""
                SELECT m.local_id FROM outbox o JOIN message m ON m.id = o.message_id WHERE o.state = 'queued' ORDER BY m.id
                """).decode(String.self) { queued.append(localID) }
            #expect(queued == ["local-screen-1", "local-screen-2", "local-screen-3"])
            let audit = try await postgres.client.query(
                "SELECT account, display_name, detail FROM audit WHERE action = 'send' ORDER BY id")
            var entries: [(String, String?, String)] = []
            for try await entry in audit.decode((String, String?, String).self) { entries.append(entry) }
            #expect(entries.count == 3)
            #expect(entries.allSatisfy { $0.0 == "alice" && $0.1 == "Alice" })
            #expect(entries[1].2.contains("Yes"))
        }
    }
}

extension ScreenConformanceTests {
    @Test func cannedRepliesAreKeptAlikeOnBothStores() async throws {
        try await withBothStores { sqlite, postgres in
            let screen = PostgresScreenStore(store: postgres, identity: sqlite.identity)
            var outcomes: [[String]] = []
            for store in [sqlite, screen] as [any CannedReplyStore] {
                var outcome: [String] = []
                outcome.append("\(try await store.saveCannedReply(CannedReply(name: "thanks", text: "Thank you, {{name}}!"), at: 1))")
                outcome.append("\(try await store.saveCannedReply(CannedReply(name: "Address", text: "Rua Augusta 1"), at: 2))")
                // The same name in other letters replaces it.
                outcome.append("\(try await store.saveCannedReply(CannedReply(name: "THANKS", text: "Merci !"), at: 3))")
                outcome.append("\(try await store.saveCannedReply(CannedReply(name: "bye", text: "Bye"), at: 4))")
                outcome += try await store.cannedReplies().map { "\($0.name)=\($0.text)" }
                outcome.append("\(try await store.removeCannedReply(named: "ADDRESS", at: 5))")
                outcome.append("\(try await store.removeCannedReply(named: "address", at: 6))")
                outcome += try await store.cannedReplies().map(\.name)
                do {
                    _ = try await store.saveCannedReply(CannedReply(name: "no spaces", text: "x"), at: 7)
                } catch {
                    outcome.append("\(error)")
                }
                outcomes.append(outcome)
            }
            #expect(outcomes[1] == outcomes[0])
            #expect(outcomes[0].prefix(4) == ["false", "false", "true", "false"])
            #expect(outcomes[0][4...6] == ["Address=Rua Augusta 1", "bye=Bye", "thanks=Merci !"])
        }
    }
}
