import Foundation
import GRDB
import InboxCore
@testable import InboxStore
import InboxTesting
import Testing

/// Who did what: every action is done as the database's account, whatever display name the
/// agent chose, and appended to a trail that only retention pruning may shorten.
@Suite struct AuditTrailTests {
    private let now: Int64 = 1_764_500_000

    private func inbox() async throws -> (TemporaryDatabase, ConversationID) {
        let temp = try TemporaryDatabase()
        _ = try await temp.database.ingest(textWebhook(id: "w.ana", from: "5511900000001", name: "Ana Souza", timestamp: now - 60))
        return (temp, try #require(try temp.database.conversations().items.first?.id))
    }

    private func trail(_ db: InboxDatabase, _ query: AuditQuery = .init()) throws -> [AuditEntry] {
        var entries: [AuditEntry] = []
        try db.auditTrail(query) { entries.append($0) }
        return entries
    }

    @Test func everyActionIsRecordedUnderTheAccountNotTheBorrowedName() async throws {
        let (temp, ana) = try await inbox()
        defer { temp.remove() }
        // Bob calls himself alice: the name goes beside his account, never instead of it.
        let bob = try temp.open(as: "bob", displayName: "alice"), alice = try temp.open(as: "alice")
        #expect(bob.identity == AgentIdentity(account: "bob", displayName: "alice"))
        #expect(bob.identity.label == "bob (alice)")

        try await bob.enqueueOutbound(in: ana, content: .text(body: "Bom dia"), localID: "l-text", at: now)
        try await bob.enqueueTemplate(in: ana, template: TemplateMessage(name: "order_update", languageCode: "pt_BR",
                                                                          bodyParameters: ["Ana"]),
                                      displayText: "[order_update] Olá Ana", localID: "l-template", at: now + 1)
        try await bob.enqueueFile(in: ana, file: OutboundFile(path: temp.directory.path + "/nota.pdf", mimeType: "application/pdf",
                                                              filename: "nota.pdf", size: 3),
                                  kind: .document, sha256: "abc", caption: "a nota", localID: "l-file", at: now + 2)
        try await bob.enqueueReaction(in: ana, to: "w.ana", emoji: "👍", localID: "l-reaction", at: now + 3)
        try await bob.enqueueButtons(in: ana, ReplyButtons(body: "Chegou?", titles: ["Sim", "Não"]), localID: "l-buttons",
                                     at: now + 4)
        try await bob.markUncertain(localID: "l-text", reason: "no answer")
        try await bob.resendUncertain(localID: "l-text", atMilliseconds: (now + 5) * 1000)
        let note = try await bob.addNote(to: ana, text: "ligou, pacote perdido", at: now + 6)
        #expect(try await alice.claim(ana, at: now + 7) == .claimed)
        #expect(try await bob.claim(ana, takeOver: true, at: now + 8) == .claimed)
        #expect(try await bob.release(ana, at: now + 9))
        try await bob.resolve(ana, at: now + 10)
        try await bob.reopen(ana, at: now + 11)
        try await bob.toggleLabel("vip", on: ana, at: now + 12)
        try await bob.toggleLabel("VIP", on: ana, at: now + 13)
        try await bob.saveCannedReply(CannedReply(name: "hello", text: "Oi {{name}}"), at: now + 14)
        try await bob.saveCannedReply(CannedReply(name: "hello", text: "Olá {{name}}"), at: now + 15)
        #expect(try await bob.removeCannedReply(named: "hello", at: now + 16))
        // What changes nothing is not recorded: a release of what is not yours, an open conversation reopened.
        #expect(try await !bob.release(ana, at: now + 17))
        try await bob.reopen(ana, at: now + 18)

        let entries = try trail(temp.database)
        #expect(entries.map(\.action) == [.send, .send, .send, .send, .send, .resend, .note, .claim, .claim, .release,
                                          .resolve, .reopen, .labelAdd, .labelRemove, .replyAdd, .replyEdit, .replyRemove])
        #expect(entries.map(\.at) == (0...16).map { now + $0 })
        #expect(entries.filter { $0.account == "alice" }.map(\.action) == [.claim])
        for entry in entries where entry.account != "alice" {
            #expect(entry.account == "bob")
            #expect(entry.displayName == "alice")
            #expect(entry.agentLabel == "bob (alice)")
        }
        let aboutAna = entries.filter { $0.conversationID == ana }
        #expect(aboutAna.count == 14)
        #expect(aboutAna.allSatisfy { $0.contactWaID == "5511900000001" && $0.contactName == "Ana Souza" })
        #expect(entries.filter { $0.conversationID == nil }.map(\.action) == [.replyAdd, .replyEdit, .replyRemove])

        let sends = entries.filter { $0.action == .send }.map(\.detail)
        #expect(sends.map(\.type) == ["text", "template", "document", "reaction", "interactive"])
        #expect(sends.map(\.localID) == ["l-text", "l-template", "l-file", "l-reaction", "l-buttons"])
        #expect(sends[0].text == "Bom dia")
        #expect(sends[1].template == "order_update")
        #expect(sends[2].filename == "nota.pdf" && sends[2].caption == "a nota")
        #expect(sends[3].emoji == "👍" && sends[3].reactedTo == "w.ana")
        #expect(sends[4].buttons == ["Sim", "Não"] && sends[4].text == "Chegou?")
        #expect(entries[5].detail == AuditDetail(type: "text", localID: "l-text"))
        #expect(entries[6].detail == AuditDetail(text: "ligou, pacote perdido", noteID: note.id))
        #expect(entries[7].detail.takenFrom == nil)
        #expect(entries[8].detail.takenFrom == "alice")
        #expect(entries[12].detail.label == "vip" && entries[13].detail.label == "vip")
        #expect(entries[15].detail == AuditDetail(text: "Olá {{name}}", reply: "hello"))
        #expect(entries[16].detail == AuditDetail(text: "Olá {{name}}", reply: "hello"))

        // The rows themselves carry the account: the messages sent, the note, the claim.
        let sent = try temp.database.messages(in: ana).items.filter { $0.direction == .outbound }
        #expect(sent.count == 4)
        #expect(sent.allSatisfy { $0.agent == "bob" })
        #expect(try temp.database.notes(in: ana).map(\.agent) == ["bob"])
        #expect(try temp.database.messages(in: ana).items.first { $0.direction == .inbound }?.agent == nil)
        let exported = try exportLines(temp.database, contact: "5511900000001")
        #expect(exported.filter { $0.contains(#""direction":"out""#) }.allSatisfy { $0.hasSuffix(#""agent":"bob"}"#) })
        #expect(exported.first?.hasSuffix(#""agent":null}"#) == true)
        #expect(exported.contains { $0.contains(#""direction":"note""#) && $0.hasSuffix(#""agent":"bob"}"#) })

        #expect(entries[8].jsonLine == """
            {"id":9,"at":\(now + 8),"account":"bob","display_name":"alice","action":"claim","conversation_id":\(ana.rawValue),\
            "contact":{"wa_id":"5511900000001","user_id":null,"name":"Ana Souza"},"detail":{"taken_from":"alice"}}
            """)
        #expect(entries[16].jsonLine == """
            {"id":17,"at":\(now + 16),"account":"bob","display_name":"alice","action":"reply_remove","conversation_id":null,\
            "contact":null,"detail":{"reply":"hello","text":"Olá {{name}}"}}
            """)
    }

    @Test func theTrailIsFilteredBySinceAccountAndContact() async throws {
        let (temp, ana) = try await inbox()
        defer { temp.remove() }
        _ = try await temp.database.ingest(textWebhook(id: "w.ben", userID: "US.77", name: "Ben", timestamp: now - 30))
        let ben = try #require(try temp.database.conversations().items.first { $0.contact.name == "Ben" }?.id)
        let alice = try temp.open(as: "alice"), bob = try temp.open(as: "bob")
        try await alice.addNote(to: ana, text: "one", at: now - 3_600)
        try await bob.addNote(to: ben, text: "two", at: now - 60)
        try await alice.resolve(ben, at: now)

        #expect(try trail(temp.database).count == 3)
        #expect(try trail(temp.database, AuditQuery(since: now - 60)).map(\.detail.text) == ["two", nil])
        #expect(try trail(temp.database, AuditQuery(account: "alice")).map(\.action) == [.note, .resolve])
        #expect(try trail(temp.database, AuditQuery(contact: "+5511900000001")).map(\.detail.text) == ["one"])
        #expect(try trail(temp.database, AuditQuery(contact: "US.77")).map(\.action) == [.note, .resolve])
        #expect(try trail(temp.database, AuditQuery(account: "bob", contact: "US.77")).map(\.action) == [.note])
        #expect(try trail(temp.database, AuditQuery(account: "carol")).isEmpty)
        #expect(throws: InboxDatabase.UnknownContact.self) { try trail(temp.database, AuditQuery(contact: "nobody")) }
    }

    /// Outside the program too: an UPDATE or DELETE on the file (as sqlite3 would run it)
    /// is refused by the triggers; only the pruning path removes entries, and only old ones.
    @Test func theTrailIsAppendOnlyExceptForPruning() async throws {
        let (temp, ana) = try await inbox()
        defer { temp.remove() }
        for offset in 0..<5 { try await temp.database.addNote(to: ana, text: "note \(offset)", at: now - 1_000 + Int64(offset) * 500) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let raw = try DatabaseQueue(path: temp.path, configuration: configuration)
        let update = #expect(throws: DatabaseError.self) {
            try raw.write { try $0.execute(sql: "UPDATE audit SET account = 'mallory'") }
        }
        #expect(update?.message?.contains("append-only") == true, "\(String(describing: update))")
        let delete = #expect(throws: DatabaseError.self) {
            try raw.write { try $0.execute(sql: "DELETE FROM audit WHERE id = 1") }
        }
        #expect(delete?.message?.contains("only pruning past audit_retention") == true, "\(String(describing: delete))")
        #expect(throws: DatabaseError.self) { try raw.write { try $0.execute(sql: "DELETE FROM audit") } }
        #expect(try trail(temp.database).count == 5)

        // Pruning: entries before the cutoff go, a chunk at a time; the flag does not outlive it.
        #expect(try temp.database.pruneAudit(before: now, limit: 1) == 1)
        #expect(try temp.database.pruneAudit(before: now, limit: 10) == 1)
        #expect(try trail(temp.database).map(\.at) == [now, now + 500, now + 1_000])
        #expect(try await raw.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM audit_pruning") } == 0)
        #expect(throws: DatabaseError.self) { try raw.write { try $0.execute(sql: "DELETE FROM audit") } }
        #expect(try trail(temp.database).count == 3)
    }

    /// A database made before accounts were recorded: its names stay as they were, read as
    /// accounts, and its outbound rows say no agent.
    @Test func theMigrationKeepsEarlierNamesAsAccounts() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-v16-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("inbox.sqlite").path
        var configuration = Configuration()
        configuration.prepareDatabase { db in db.add(function: Schema.foldFunction) }
        let before = try DatabaseQueue(path: path, configuration: configuration)
        // The migration before v17, whatever came after it.
        let names = Schema.migrator.migrations
        let v17 = try #require(names.firstIndex(of: "v17: agent identity, audit trail"))
        let earlier = names[v17 - 1]
        #expect(Schema.migrator.migrations.last == "v18: change feed")
        try Schema.migrator.migrate(before, upTo: earlier)
        try await before.write { db in
            try db.execute(sql: """
                INSERT INTO contact (id, wa_id, name, created_at) VALUES (1, '5511900000001', 'Ana', 1);
                INSERT INTO conversation (id, phone_number_id, contact_id, last_activity_at, assigned_to, assigned_at)
                    VALUES (1, '106540352242922', 1, 10, 'carol', 5);
                INSERT INTO message (id, local_id, conversation_id, direction, type, text, content, timestamp, status)
                    VALUES (1, 'old-1', 1, 'out', 'text', 'Olá', '{"text":{"body":"Olá"}}', 10, 'sent');
                INSERT INTO note (conversation_id, agent, text, created_at) VALUES (1, 'carol', 'antes', 9);
                INSERT INTO agent (name, first_seen_at, last_seen_at) VALUES ('carol', 1, 2);
                """)
        }
        try before.close()

        let carol = try InboxDatabase(path: path, configuration: .init(account: "carol"))
        #expect(try carol.isMigrated())
        #expect(try carol.conversation(ConversationID(rawValue: 1))?.assignee == "carol")
        #expect(try await carol.claim(ConversationID(rawValue: 1), at: 20) == .alreadyYours)
        #expect(try carol.messages(in: ConversationID(rawValue: 1)).items.map(\.agent) == [nil])
        let lines = try exportLines(carol)
        #expect(lines.count == 2)
        #expect(lines.first { $0.contains(#""direction":"note""#) }?.hasSuffix(#""agent":"carol"}"#) == true)
        #expect(lines.first { $0.contains(#""direction":"out""#) }?.hasSuffix(#""agent":null}"#) == true)
        #expect(try trail(carol).isEmpty)
        #expect(try carol.displayNames().isEmpty)
    }

    /// (That `USER` and `WABOX_AGENT` change nothing is seen on the binary: AgentIdentityEndToEndTests.)
    @Test func theSessionAccountIsTheProcessesUser() throws {
        let expected = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid-\(getuid())"
        #expect(InboxDatabase.sessionAccount() == expected)
        let temp = try InboxDatabase(path: FileManager.default.temporaryDirectory
            .appendingPathComponent("wabox-identity-\(UUID().uuidString)/inbox.sqlite").path,
                                     configuration: .init(displayName: "somebody-else"))
        defer { try? FileManager.default.removeItem(atPath: (temp.path as NSString).deletingLastPathComponent) }
        #expect(temp.identity == AgentIdentity(account: expected, displayName: "somebody-else"))
    }
}
