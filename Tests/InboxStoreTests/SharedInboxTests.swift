import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

@Suite struct SharedInboxTests {
    private func viewer(_ agent: String) -> Viewer { Viewer(agent: agent, nowMilliseconds: 1_000_000) }

    @Test func unreadIsCountedPerAgent() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.a1", from: "111", name: "Ana", timestamp: 100))
        _ = try await db.ingest(textWebhook(id: "wamid.a2", from: "111", name: "Ana", timestamp: 101))
        let alice = try temp.open(as: "alice"), bob = try temp.open(as: "bob")
        try alice.registerAgent(at: 200)
        try bob.registerAgent(at: 200)
        let ana = try #require(try db.conversations(viewer: viewer("alice")).items.first)
        #expect(ana.unreadCount == 2)

        try await alice.markRead(ana.id)
        #expect(try db.conversation(ana.id, viewer: viewer("alice"))?.unreadCount == 0)
        #expect(try db.conversation(ana.id, viewer: viewer("bob"))?.unreadCount == 2)

        _ = try await db.ingest(textWebhook(id: "wamid.a3", from: "111", name: "Ana", timestamp: 102))
        #expect(try db.conversation(ana.id, viewer: viewer("alice"))?.unreadCount == 1)
        #expect(try db.conversation(ana.id, viewer: viewer("bob"))?.unreadCount == 3)
        #expect(try db.conversations(matching: "", unreadOnly: true, viewer: viewer("alice")).items.count == 1)
        try await alice.markRead(ana.id)
        #expect(try db.conversations(matching: "", unreadOnly: true, viewer: viewer("alice")).items.isEmpty)
        #expect(try db.conversations(matching: "", unreadOnly: true, viewer: viewer("bob")).items.count == 1)
    }

    @Test func aNewAgentStartsFromWhatTheTeamHasNotRead() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.a1", from: "111", name: "Ana", timestamp: 100))
        _ = try await db.ingest(textWebhook(id: "wamid.b1", from: "222", name: "Ben", timestamp: 100))
        let alice = try temp.open(as: "alice")
        try alice.registerAgent(at: 150)
        let ana = try #require(try db.conversations(matching: "ana").items.first)
        try await alice.markRead(ana.id)
        _ = try await db.ingest(textWebhook(id: "wamid.c1", from: "333", name: "Cho", timestamp: 160))

        try temp.open(as: "carol").registerAgent(at: 200)
        let unread = try db.conversations(viewer: viewer("carol")).items.map { ($0.contact.name ?? "", $0.unreadCount) }
        #expect(unread.sorted { $0.0 < $1.0 }.map(\.1) == [0, 1, 1])
    }

    @Test func claimsAreVisibleAndTakingOverIsDeliberate() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.a1", from: "111", name: "Ana", timestamp: 100))
        _ = try await db.ingest(textWebhook(id: "wamid.b1", from: "222", name: "Ben", timestamp: 101))
        let ana = try #require(try db.conversations(matching: "ana").items.first)
        let alice = try temp.open(as: "alice"), bob = try temp.open(as: "bob")

        #expect(try await alice.claim(ana.id, at: 300) == .claimed)
        #expect(try await alice.claim(ana.id, at: 301) == .alreadyYours)
        #expect(try await bob.claim(ana.id, at: 302) == .heldBy("alice"))
        #expect(try db.conversation(ana.id)?.assignee == "alice")
        #expect(try db.conversations(matching: "", scope: .mine, viewer: viewer("alice")).items.map(\.id) == [ana.id])
        #expect(try db.conversations(matching: "", scope: .mine, viewer: viewer("bob")).items.isEmpty)
        #expect(try db.conversations(matching: "", scope: .unassigned, viewer: viewer("bob")).items.map { $0.contact.name } == ["Ben"])

        #expect(try await bob.release(ana.id, at: 303) == false)
        #expect(try await bob.claim(ana.id, takeOver: true, at: 303) == .claimed)
        #expect(try db.conversation(ana.id)?.assignee == "bob")
        #expect(try await bob.release(ana.id, at: 304))
        #expect(try db.conversation(ana.id)?.assignee == nil)
    }

    @Test func theCustomersNextMessageReopensAResolvedConversation() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.a1", from: "111", name: "Ana", timestamp: 100))
        let ana = try #require(try db.conversations().items.first)
        let alice = try temp.open(as: "alice")
        _ = try await alice.claim(ana.id, at: 110)
        try await alice.resolve(ana.id, at: 120)
        #expect(try db.conversation(ana.id)?.resolvedAt == 120)
        #expect(try db.conversations(matching: "", scope: .mine, viewer: viewer("alice")).items.isEmpty)
        #expect(try db.conversations(matching: "", scope: .all, viewer: viewer("alice")).items.count == 1)

        // A late copy of an older message does not reopen it; a new one does.
        _ = try await db.ingest(textWebhook(id: "wamid.a0", from: "111", name: "Ana", timestamp: 90))
        #expect(try db.conversation(ana.id)?.resolvedAt == 120)
        _ = try await db.ingest(textWebhook(id: "wamid.a2", from: "111", name: "Ana", timestamp: 130))
        let reopened = try #require(try db.conversation(ana.id))
        #expect(reopened.resolvedAt == nil)
        #expect(reopened.assignee == "alice")
        #expect(try db.conversations(matching: "", scope: .mine, viewer: viewer("alice")).items.count == 1)
    }

    @Test func typingNotesShowToOthersUntilTheyExpire() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.a1", from: "111", name: "Ana", timestamp: 100))
        let ana = try #require(try db.conversations().items.first)
        let alice = try temp.open(as: "alice")
        try await alice.noteTyping(in: ana.id, until: 5_000)

        let seenByBob = try #require(try db.conversation(ana.id, viewer: Viewer(agent: "bob", nowMilliseconds: 1_000)))
        #expect(seenByBob.typingAgents(nowMilliseconds: 1_000) == ["alice"])
        #expect(seenByBob.typingAgents(nowMilliseconds: 6_000).isEmpty)
        #expect(try db.conversation(ana.id, viewer: Viewer(agent: "alice", nowMilliseconds: 1_000))?.typing == [])
        #expect(try db.conversation(ana.id, viewer: Viewer(agent: "bob", nowMilliseconds: 5_001))?.typing == [])

        try await alice.stopTyping()
        #expect(try db.conversation(ana.id, viewer: Viewer(agent: "bob", nowMilliseconds: 1_000))?.typing == [])
    }

    @Test func mergingContactsKeepsEachAgentsReadMarkAndTheClaim() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        // Known first by user id only, then by number only; a later webhook links the two.
        _ = try await db.ingest(textWebhook(id: "wamid.u1", userID: "US.1", name: "Ana", timestamp: 100))
        _ = try await db.ingest(textWebhook(id: "wamid.n1", from: "111", name: "Ana", timestamp: 101))
        _ = try await db.ingest(textWebhook(id: "wamid.n2", from: "111", name: "Ana", timestamp: 102))
        let alice = try temp.open(as: "alice")
        try alice.registerAgent(at: 103)
        let byUser = try #require(try db.contacts(matching: "US.1").first)
        let conversations = try db.conversations(viewer: viewer("alice")).items
        #expect(conversations.count == 2)
        let userConversation = try #require(conversations.first { $0.contact.id == byUser.id })
        try await alice.markRead(userConversation.id)
        _ = try await alice.claim(userConversation.id, at: 104)

        _ = try await db.ingest(textWebhook(id: "wamid.both", from: "111", userID: "US.1", name: "Ana", timestamp: 105))
        let merged = try db.conversations(viewer: viewer("alice")).items
        #expect(merged.count == 1)
        #expect(merged.first?.unreadCount == 3)
        #expect(merged.first?.assignee == "alice")
    }

    @Test func oneProcessHoldsTheListenerLease() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let serve = ListenerLease(pid: 10, host: "box", role: .serve, address: "127.0.0.1:8080", sending: true,
                                  startedAt: 1_000, heartbeatAt: 1_000)
        let inbox = ListenerLease(pid: 20, host: "box", role: .inbox, agent: "alice", address: nil, sending: true,
                                  startedAt: 2_000, heartbeatAt: 2_000)
        #expect(try await db.acquireLease(serve, isAlive: { _ in true }) == .acquired)
        // The lease names the file its holder opened (a copy of the file is not its file).
        var held = serve
        held.fileID = db.fileIdentity()
        #expect(held.fileID != nil)
        #expect(try await db.acquireLease(inbox, isAlive: { _ in true }) == .heldBy(held))
        // The holder itself may take it again (a restart with the same pid).
        #expect(try await db.acquireLease(serve, isAlive: { _ in true }) == .acquired)

        #expect(try await db.renewLease(pid: 10, host: "box", at: 3_000))
        #expect(try db.currentLease()?.heartbeatAt == 3_000)
        // A dead holder is replaced; the old one then learns it lost the lease.
        #expect(try await db.acquireLease(inbox, isAlive: { _ in false }) == .acquired)
        #expect(try await db.renewLease(pid: 10, host: "box", at: 4_000) == false)
        #expect(try db.currentLease()?.holderDescription == "wabox of alice (pid 20 on box)")
        try await db.releaseLease(pid: 10, host: "box")
        #expect(try db.currentLease()?.pid == 20)
        try await db.releaseLease(pid: 20, host: "box")
        #expect(try db.currentLease() == nil)
    }

    @Test func commitsByAnotherProcessChangeTheChangeCount() async throws {
        // Without search indexers: their commits, after the ingest's, would move the count
        // at a moment of the machine's choosing.
        let temp = try TemporaryDatabase(configuration: .init(indexesSearch: false))
        defer { temp.remove() }
        // A second database object is a second set of connections, as another process has.
        let other = try InboxDatabase(path: temp.path, configuration: .init(indexesSearch: false, account: "bob"))
        let before = temp.database.changeCount
        // Reading through the other connections commits nothing.
        _ = try other.conversations()
        #expect(temp.database.changeCount == before)
        _ = try await other.ingest(textWebhook(id: "wamid.a1", from: "111", name: "Ana", timestamp: 100))
        let afterIngest = temp.database.changeCount
        #expect(afterIngest != before)
        #expect(temp.database.changeCount == afterIngest)
        let ana = try #require(try other.conversations().items.first)
        _ = try await other.claim(ana.id, at: 1)
        #expect(temp.database.changeCount != afterIngest)
    }

    @Test func aDatabaseInAGroupFolderIsSharedWithTheGroupOnly() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let mode = { (path: String) in
            ((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        #expect(try mode(temp.path) & 0o777 == 0o600)

        let team = temp.directory.appendingPathComponent("team")
        try FileManager.default.createDirectory(at: team, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o2770], ofItemAtPath: team.path)
        let shared = try InboxDatabase(path: team.appendingPathComponent("inbox.sqlite").path)
        _ = try await shared.ingest(textWebhook(id: "wamid.a1", from: "111", name: "Ana", timestamp: 100))
        #expect(try mode(shared.path) & 0o777 == 0o660)
        #expect(try mode(shared.path + "-wal") & 0o777 == 0o660)

        let fresh = temp.directory.appendingPathComponent("new/inbox.sqlite").path
        _ = try InboxDatabase(path: fresh)
        #expect(try mode(fresh) & 0o777 == 0o600)
        #expect(try mode((fresh as NSString).deletingLastPathComponent) & 0o777 == 0o700)
    }
}
