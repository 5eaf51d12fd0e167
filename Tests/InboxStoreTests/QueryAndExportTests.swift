import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

@Suite struct QueryAndExportTests {
    @Test func exportLinesFollowTheContract() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try db.conversations().items.first)
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "Désolé, on regarde \"ça\""),
                                     replyTo: "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=",
                                     localID: "l-1", at: 1_764_403_260)
        try await db.markAccepted(localID: "l-1", wamid: "wamid.out.1", at: 1_764_403_261)
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "second"), localID: "l-2", at: 1_764_403_270)
        try await db.markAccepted(localID: "l-2", wamid: "wamid.out.2", at: 1_764_403_271)
        _ = try await db.ingest(Fixtures.webhook("statuses"))
        _ = try await db.ingest(webhook("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Amélie Laurent"},"wa_id":"33612345678"}],
              "messages":[{"from":"33612345678","id":"wamid.r","timestamp":"1764404200","type":"reaction",
                           "reaction":{"message_id":"wamid.out.1","emoji":"🙏"}}]}}]}]}
            """))
        let lines = try exportLines(db)
        #expect(lines == [
            #"{"id":"wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=","phone_number_id":"106540352242922","contact":{"wa_id":"33612345678","user_id":"FR.8837465512093847561","username":"amelie.l","name":"Amélie Laurent","marketing_opt_out":false},"direction":"in","type":"text","text":"Bonjour, ma commande n'est pas arrivée","caption":null,"timestamp":1764403200,"status":"received","reply_to":null,"reactions":[],"error":null,"media":null,"edited_at":null,"edits":[],"deleted_at":null,"call":null,"labels":[],"agent":null}"#,
            #"{"id":"wamid.out.1","phone_number_id":"106540352242922","contact":{"wa_id":"33612345678","user_id":"FR.8837465512093847561","username":"amelie.l","name":"Amélie Laurent","marketing_opt_out":false},"direction":"out","type":"text","text":"Désolé, on regarde \"ça\"","caption":null,"timestamp":1764403260,"status":"read","reply_to":"wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=","reactions":[{"emoji":"🙏","from":"33612345678"}],"error":null,"media":null,"edited_at":null,"edits":[],"deleted_at":null,"call":null,"labels":[],"agent":"tester"}"#,
            #"{"id":"wamid.out.2","phone_number_id":"106540352242922","contact":{"wa_id":"33612345678","user_id":"FR.8837465512093847561","username":"amelie.l","name":"Amélie Laurent","marketing_opt_out":false},"direction":"out","type":"text","text":"second","caption":null,"timestamp":1764403270,"status":"failed","reply_to":null,"reactions":[],"error":{"code":131047,"title":"Re-engagement message"},"media":null,"edited_at":null,"edits":[],"deleted_at":null,"call":null,"labels":[],"agent":"tester"}"#,
        ])
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object.keys.count == 19)  // the contract's keys up to "media", then edits, deletion, call, labels and agent
            #expect((object["contact"] as? [String: Any])?.keys.count == 5)
        }
    }

    @Test func exportByAnyIdentifier() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("multi_entry"))
        #expect(try exportLines(db, contact: "33612345678").count == 2)
        #expect(try exportLines(db, contact: "+33612345678").count == 2)
        #expect(try exportLines(db, contact: "FR.8837465512093847561").count == 2)
        #expect(try exportLines(db, contact: "night.owl").count == 1)
        #expect(try exportLines(db, contact: "@night.owl").count == 1)
        #expect(throws: InboxDatabase.UnknownContact.self) { try exportLines(db, contact: "nobody") }
        let escaped = try exportLines(db, contact: "8613812345678")
        #expect(escaped.first?.contains("你好，我的包裹在哪里？") == true)
    }

    @Test func controlCharactersAreEscapedInExport() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.ctl", from: "1555", timestamp: 10,
                                            body: #"line\nnext\u001b[31m red \u0007 \\ done"#))
        let line = try #require(try exportLines(db).first)
        #expect(line.contains(#""text":"line\nnext\u001b[31m red \u0007 \\ done""#))
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object?["text"] as? String == "line\nnext\u{1b}[31m red \u{07} \\ done")
    }

    @Test func conversationsPageByLastActivityWithoutOffsets() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        // 120 customers; several share a timestamp so that the id breaks ties.
        let webhooks = (0..<120).map { index in
            textWebhook(id: "wamid.c\(index)", from: "1555000\(1000 + index)", name: "Customer \(index)",
                        timestamp: 1_000 + Int64(index / 3))
        }
        _ = try await db.ingest(webhooks)
        var seen: [String] = []
        var cursor: ConversationCursor?
        var pages = 0
        repeat {
            let page = try db.conversations(after: cursor, limit: 50)
            seen += page.items.map(\.contact.displayName)
            cursor = page.next
            pages += 1
        } while cursor != nil
        #expect(pages == 3)
        #expect(seen.count == 120)
        #expect(Set(seen).count == 120)
        #expect(seen.first == "Customer 119")
        #expect(seen.last == "Customer 0")
        let summaries = try db.conversations(limit: 120).items
        #expect(summaries.map(\.lastActivityAt) == summaries.map(\.lastActivityAt).sorted(by: >))
    }

    @Test func threadPagesBackwardsAndForwards() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest((0..<250).map { index in
            textWebhook(id: "wamid.m\(index)", from: "1555", timestamp: 5_000 + Int64(index / 2), body: "message \(index)")
        })
        let conversation = try #require(try db.conversations().items.first)
        #expect(conversation.unreadCount == 250)
        #expect(conversation.lastMessage?.wamid == "wamid.m249")

        var older: [String] = []
        var page = try db.messages(in: conversation.id, limit: 100)
        older = page.items.compactMap(\.wamid?.rawValue) + older
        while let next = page.next {
            page = try db.messages(in: conversation.id, before: next, limit: 100)
            older = page.items.compactMap(\.wamid?.rawValue) + older
        }
        #expect(older == (0..<250).map { "wamid.m\($0)" })

        let first = try db.messages(in: conversation.id, after: MessageCursor(timestamp: 0, id: 0), limit: 100)
        #expect(first.items.first?.wamid == "wamid.m0")
        #expect(first.items.count == 100)
        let second = try db.messages(in: conversation.id, after: try #require(first.next), limit: 100)
        #expect(second.items.first?.wamid == "wamid.m100")
    }

    @Test func unreadCountsAndMarkRead() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("multi_entry"))
        #expect(try db.unreadTotal() == 4)
        let amelie = try #require(try db.conversations().items.first { $0.contact.name == "李小龙" })
        #expect(amelie.unreadCount == 1)
        try await db.markRead(amelie.id, asTeam: true)
        #expect(try db.conversation(amelie.id)?.unreadCount == 0)
        #expect(try db.unreadTotal() == 3)
    }

    @Test func serviceWindowStartsAtTheLastCustomerMessage() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.a", from: "1555", timestamp: 2_000))
        _ = try await db.ingest(textWebhook(id: "wamid.b", from: "1555", timestamp: 1_000))  // late, older
        let conversation = try #require(try db.conversations().items.first)
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "hi"), localID: "x", at: 3_000)
        let after = try #require(try db.conversation(conversation.id))
        #expect(after.lastInboundAt == 2_000)
        #expect(after.lastActivityAt == 3_000)
        #expect(after.lastMessage?.localID == "x")
        #expect(after.lastMessage?.status == .pending)
    }
}

@Suite struct ContactFilterTests {
    @Test func filterFindsSubstringsThroughTheTrigramIndexAndFollowsRenames() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        _ = try await database.ingest(textWebhook(id: "wamid.f1", from: "4915112345678", name: "Jonas Müller", timestamp: 1_764_400_000))
        _ = try await database.ingest(textWebhook(id: "wamid.f2", from: "33612345678", name: "Amélie Laurent", timestamp: 1_764_400_100))
        func names(_ filter: String) throws -> [String] {
            try database.conversations(matching: filter).items.compactMap(\.contact.name)
        }
        #expect(try names("ULLE") == ["Jonas Müller"])      // middle of the name, case and accent folded
        #expect(try names("élie lau") == ["Amélie Laurent"])
        #expect(try names("2345678") == ["Amélie Laurent", "Jonas Müller"])
        #expect(try names("+49 151") == ["Jonas Müller"])
        #expect(try names("zz") == [])
        #expect(try names("50%") == [])                     // not a pattern
        // A new profile name replaces the old one in the index.
        _ = try await database.ingest(textWebhook(id: "wamid.f3", from: "4915112345678", name: "Jonas Schmidt", timestamp: 1_764_400_200))
        #expect(try names("muller") == [])
        #expect(try names("schmid") == ["Jonas Schmidt"])
    }
}
