import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// Builds a signed webhook from a JSON text, for scenarios the fixtures do not cover.
func webhook(_ json: String, receivedAt: Int64 = 1_764_500_000) -> IncomingWebhook {
    Fixtures.webhook(body: Data(json.utf8), receivedAt: receivedAt)
}

/// One text message from a customer, in the current payload shape.
func textWebhook(id: String, from waID: String? = nil, userID: String? = nil, name: String? = nil,
                 phoneNumberID: String = "106540352242922", timestamp: Int64, body: String = "hello") -> IncomingWebhook {
    func quoted(_ value: String?) -> String { value.map { "\"\($0)\"" } ?? "null" }
    return webhook("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"\(phoneNumberID)"},
          "contacts":[{"profile":{"name":\(quoted(name))},"wa_id":\(quoted(waID)),"user_id":\(quoted(userID))}],
          "messages":[{"from":\(quoted(waID)),"from_user_id":\(quoted(userID)),"id":"\(id)","timestamp":"\(timestamp)",
                       "type":"text","text":{"body":"\(body)"}}]}}]}]}
        """)
}

func statusWebhook(id: String, status: String, timestamp: Int64, callback: String? = nil,
                   errorCode: Int? = nil) -> IncomingWebhook {
    let callbackField = callback.map { #","biz_opaque_callback_data":"\#($0)""# } ?? ""
    let errors = errorCode.map { #","errors":[{"code":\#($0),"title":"Error \#($0)"}]"# } ?? ""
    return webhook("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "metadata":{"phone_number_id":"106540352242922"},
          "statuses":[{"id":"\(id)","status":"\(status)","timestamp":"\(timestamp)","recipient_id":"33612345678"\(callbackField)\(errors)}]}}]}]}
        """)
}

@Suite struct IngestTests {

    /// A profile is only as new as the newest event that carried it: messages that repeat
    /// the name write nothing, yet a late copy of an older name does not come back.
    @Test func aLateMessageDoesNotBringBackAnOlderName() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        func name() throws -> String? { try db.conversations().items.first?.contact.name }
        _ = try await db.ingest(textWebhook(id: "wamid.n1", from: "33611111111", name: "Old Name", timestamp: 100))
        _ = try await db.ingest(textWebhook(id: "wamid.n2", from: "33611111111", name: "New Name", timestamp: 200))
        _ = try await db.ingest(textWebhook(id: "wamid.n3", from: "33611111111", name: "New Name", timestamp: 300))
        #expect(try name() == "New Name")
        _ = try await db.ingest(textWebhook(id: "wamid.n4", from: "33611111111", name: "Old Name", timestamp: 250))
        _ = try await db.ingest(textWebhook(id: "wamid.n0", from: "33611111111", name: "Old Name", timestamp: 150))
        #expect(try name() == "New Name")
        // A newer message with another name does change it.
        _ = try await db.ingest(textWebhook(id: "wamid.n5", from: "33611111111", name: "Newest", timestamp: 301))
        #expect(try name() == "Newest")
        #expect(try db.messages(in: try #require(db.conversations().items.first).id).items.count == 6)
    }

    /// Two contacts merged by a late webhook keep the profile of the one that spoke last,
    /// although its repeated messages wrote nothing to its contact row.
    @Test func aMergeKeepsTheProfileThatSpokeLast() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(textWebhook(id: "wamid.m1", from: "33622222222", name: "Ann", timestamp: 100))
        _ = try await db.ingest(textWebhook(id: "wamid.m2", userID: "FR.42", name: "Annie", timestamp: 200))
        for time in stride(from: 300, through: 1000, by: 100) {
            _ = try await db.ingest(textWebhook(id: "wamid.m\(time)", from: "33622222222", name: "Ann", timestamp: Int64(time)))
        }
        _ = try await db.ingest(textWebhook(id: "wamid.late", from: "33622222222", userID: "FR.42", name: "Annie",
                                            timestamp: 250))
        let conversations = try db.conversations().items
        #expect(conversations.count == 1)
        #expect(conversations.first?.contact.name == "Ann")
        #expect(conversations.first?.contact.userID == "FR.42")
    }
    /// A replay (Meta delivers the same body twice) is journaled again and changes nothing
    /// else: messages, reactions and statuses are idempotent by their keys.
    @Test func replayingAWebhookChangesNothing() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        #expect(try await db.ingest(Fixtures.webhook("multi_entry")) == .stored(events: 6, deadLetters: 0))
        let before = try db.counts()
        let exportBefore = try exportLines(db)
        #expect(try await db.ingest(Fixtures.webhook("multi_entry")) == .stored(events: 6, deadLetters: 0))
        var after = try db.counts()
        #expect(after.webhooks == before.webhooks + 1)
        after.webhooks = before.webhooks
        #expect(after == before)
        let exportAfter = try exportLines(db)
        #expect(exportAfter == exportBefore, "\(exportBefore.joined(separator: "\n"))\n---\n\(exportAfter.joined(separator: "\n"))")
        #expect(try db.unreadTotal() == 4)
    }

    @Test func contactsConversationsAndBusinessNumbers() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("multi_entry"))
        let page = try db.conversations(limit: 10)
        #expect(page.items.map(\.contact.displayName) == ["@night.owl", "Amélie Laurent", "李小龙", "Amélie Laurent"]
            || page.items.map(\.contact.displayName) == ["Nightowl", "Amélie Laurent", "李小龙", "Amélie Laurent"])
        // Amélie writes to two business numbers: two conversations, one contact.
        let amelie = page.items.filter { $0.contact.waID == "33612345678" }
        #expect(Set(amelie.map(\.business.phoneNumberID)) == ["106540352242922", "106540352242923"])
        #expect(Set(amelie.map(\.contact.id)).count == 1)
        #expect(amelie.first?.contact.userID == "FR.8837465512093847561")
        #expect(try db.counts().contacts == 3)
    }

    @Test func statusesOutOfOrderAndDuplicatedOnlyMoveForward() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try db.conversations().items.first)
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "We are on it"), localID: "l-1",
                                     at: 1_764_404_000)
        try await db.markAccepted(localID: "l-1", wamid: "wamid.out.A", at: 1_764_404_001)
        #expect(try db.message("wamid.out.A")?.status == .accepted)

        for (status, time) in [("read", 1_764_404_003), ("delivered", 1_764_404_002), ("read", 1_764_404_003),
                               ("sent", 1_764_404_001), ("failed", 1_764_404_004)] {
            _ = try await db.ingest(statusWebhook(id: "wamid.out.A", status: status, timestamp: Int64(time)))
        }
        let message = try #require(try db.message("wamid.out.A"))
        #expect(message.status == .read)
        #expect(message.error == nil)
        #expect(try db.counts().statusEvents == 4)  // the duplicate read is not kept twice
    }

    @Test func failedReplacesSentButNotDelivered() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try db.conversations().items.first)
        for id in ["A", "B"] {
            try await db.enqueueOutbound(in: conversation.id, content: .text(body: id), localID: id, at: 1_764_404_000)
            try await db.markAccepted(localID: id, wamid: MessageID("wamid.\(id)"), at: 1_764_404_001)
        }
        _ = try await db.ingest(statusWebhook(id: "wamid.A", status: "failed", timestamp: 1_764_404_002, errorCode: 131026))
        _ = try await db.ingest(statusWebhook(id: "wamid.B", status: "delivered", timestamp: 1_764_404_002))
        _ = try await db.ingest(statusWebhook(id: "wamid.B", status: "failed", timestamp: 1_764_404_003, errorCode: 131026))
        #expect(try db.message("wamid.A")?.status == .failed)
        #expect(try db.message("wamid.A")?.error?.code == 131026)
        #expect(try db.message("wamid.B")?.status == .delivered)
        #expect(try db.message("wamid.B")?.error == nil)
    }

    @Test func statusBeforeItsMessageIsAppliedWhenTheMessageAppears() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        _ = try await db.ingest(statusWebhook(id: "wamid.early", status: "delivered", timestamp: 1_764_404_002))
        _ = try await db.ingest(statusWebhook(id: "wamid.early", status: "read", timestamp: 1_764_404_003))
        #expect(try db.message("wamid.early") == nil)

        let conversation = try #require(try db.conversations().items.first)
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "Late answer"), localID: "l-9",
                                     at: 1_764_404_000)
        try await db.markAccepted(localID: "l-9", wamid: "wamid.early", at: 1_764_404_004)
        #expect(try db.message("wamid.early")?.status == .read)
    }

    @Test func statusBeforeTheSendReturnedFindsItsMessageByCallbackData() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try db.conversations().items.first)
        try await db.enqueueOutbound(in: conversation.id, content: .text(body: "Sending…"), localID: "local-1",
                                     at: 1_764_404_099)
        // statuses.json: read first, then sent (carrying local-1), then delivered.
        _ = try await db.ingest(Fixtures.webhook("statuses"))
        let message = try #require(try db.message("wamid.out.1"))
        #expect(message.localID == "local-1")
        #expect(message.status == .read)
        // The send call's answer arrives last and changes nothing.
        try await db.markAccepted(localID: "local-1", wamid: "wamid.out.1", at: 1_764_404_200)
        #expect(try db.message("wamid.out.1")?.status == .read)
    }

    @Test func reactionsReplaceAndRemoveInTimestampOrder() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let target = MessageID("wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=")
        _ = try await db.ingest(Fixtures.webhook("text"))
        _ = try await db.ingest(Fixtures.webhook("reactions"))
        #expect(try db.message(target)?.reactions == [StoredReaction(emoji: "❤️", from: "33612345678")])
        #expect(try db.counts().messages == 1)  // reactions are not messages

        // An older reaction arriving late does not come back.
        _ = try await db.ingest(webhook(reaction(id: "wamid.react.0", target: target.rawValue, emoji: "😡", at: 1_764_403_599)))
        #expect(try db.message(target)?.reactions.map(\.emoji) == ["❤️"])
        // A newer removal removes it.
        _ = try await db.ingest(webhook(reaction(id: "wamid.react.5", target: target.rawValue, emoji: nil, at: 1_764_403_700)))
        #expect(try db.message(target)?.reactions == [])
    }

    private func reaction(id: String, target: String, emoji: String?, at timestamp: Int64) -> String {
        let emojiField = emoji.map { #","emoji":"\#($0)""# } ?? ""
        return """
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Amélie"},"wa_id":"33612345678"}],
              "messages":[{"from":"33612345678","id":"\(id)","timestamp":"\(timestamp)","type":"reaction",
                           "reaction":{"message_id":"\(target)"\(emojiField)}}]}}]}]}
            """
    }

    @Test func changedNumberKeepsHistory() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        _ = try await db.ingest(Fixtures.webhook("changed_number"))
        _ = try await db.ingest(textWebhook(id: "wamid.after.change", from: "33698765432", name: "Amélie Laurent",
                                            timestamp: 1_764_403_900, body: "new phone, same me"))
        let conversations = try db.conversations().items
        #expect(conversations.count == 1)
        let conversation = try #require(conversations.first)
        #expect(conversation.contact.waID == "33698765432")
        #expect(conversation.contact.userID == "FR.8837465512093847561")
        #expect(conversation.contact.name == "Amélie Laurent")
        let thread = try db.messages(in: conversation.id).items
        #expect(thread.map(\.content.typeName) == ["text", "system", "text"])
        // The notice is not customer text: it does not count as unread or open the window.
        #expect(conversation.unreadCount == 2)
        #expect(conversation.lastInboundAt == 1_764_403_900)
        #expect(try db.contacts(matching: "33612345678").isEmpty)
        #expect(try db.contacts(matching: "+33698765432").count == 1)

        // Replaying the notice changes nothing.
        let before = try db.counts()
        _ = try await db.ingest(Fixtures.webhook("changed_number"))
        #expect(try db.counts().contacts == 1)
        #expect(try db.counts().messages == before.messages)
    }

    @Test func usernameOnlyContactMergesWhenBothIdsAppear() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("username_only"))
        let owl = try #require(try db.contacts(matching: "night.owl").first)
        #expect(owl.waID == nil)
        #expect(owl.userID == "US.13491208655302741918")
        #expect(owl.parentUserID == "US.ENT.99887766")
        #expect(owl.displayName == "Nightowl")

        // The same person, seen first by phone number only.
        _ = try await db.ingest(textWebhook(id: "wamid.phone.1", from: "15551230000", timestamp: 1_764_404_100))
        #expect(try db.counts().contacts == 2)
        // A webhook names both identifiers: the two contacts become one, history and all.
        _ = try await db.ingest(textWebhook(id: "wamid.both.1", from: "15551230000", userID: "US.13491208655302741918",
                                            name: "Night Owl", timestamp: 1_764_404_300))
        #expect(try db.counts().contacts == 1)
        let conversations = try db.conversations().items
        #expect(conversations.count == 1)
        let merged = try #require(conversations.first)
        #expect(merged.contact.waID == "15551230000")
        #expect(merged.contact.userID == "US.13491208655302741918")
        #expect(merged.contact.username == "night.owl")
        #expect(merged.contact.name == "Night Owl")
        #expect(merged.unreadCount == 3)
        #expect(try db.messages(in: merged.id).items.map(\.wamid) == ["wamid.phone.1", "wamid.user.1", "wamid.both.1"])
    }

    @Test func undecodableBodiesAndMalformedPartsBecomeDeadLetters() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let junk = Fixtures.webhook(body: Data("{\"object\": [truncated".utf8))
        guard case .deadLetter(let reason) = try await db.ingest(junk) else {
            Issue.record("expected a dead letter")
            return
        }
        #expect(reason.contains("not a webhook JSON object"))
        #expect(try db.journalBodies() == [Data("{\"object\": [truncated".utf8)])

        #expect(try await db.ingest(Fixtures.webhook("malformed_batch")) == .stored(events: 8, deadLetters: 3))
        let letters = try db.deadLetters()
        #expect(letters.count == 4)
        #expect(letters[0].path == nil)
        #expect(letters[1].path == "entry[0].changes[0].value.messages[0]")
        #expect(try db.counts().messages == 4)
    }

    @Test func otherObjectsAreJournaledAndChangeNothing() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        #expect(try await db.ingest(Fixtures.webhook("other_fields")) == .stored(events: 3, deadLetters: 0))
        #expect(try await db.ingest(Fixtures.webhook("other_object")) == .stored(events: 1, deadLetters: 0))
        #expect(try await db.ingest(Fixtures.webhook("value_errors")) == .stored(events: 1, deadLetters: 0))
        let counts = try db.counts()
        #expect(counts.webhooks == 3)
        #expect(counts.messages == 0)
        #expect(counts.deadLetters == 0)
    }

    @Test func everyFixtureIngestsAndExports() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        let names = ["text", "media", "location_contacts", "interactive", "reactions", "order", "unsupported_unknown",
                     "context_referral", "statuses", "username_only", "escaped", "multi_entry", "changed_number"]
        let outcomes = try await db.ingest(names.map { try Fixtures.webhook($0) })
        #expect(outcomes.allSatisfy { if case .stored(_, 0) = $0 { true } else { false } })
        #expect(try db.integrityCheck() == "ok")
        let lines = try exportLines(db)
        let messageCount = try db.counts().messages
        #expect(lines.count == messageCount)
    }
}

func exportLines(_ db: InboxDatabase, contact: String? = nil) throws -> [String] {
    var lines: [String] = []
    try db.export(contact: contact) { record in lines.append(record.jsonLine) }
    return lines
}
