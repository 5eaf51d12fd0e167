import Foundation
import GRDB
import InboxCore
@testable import InboxStore
import InboxTesting
import Simulator
import Testing

/// Echoes from the WhatsApp Business app, the agent's reactions and reply buttons through
/// the outbox, new customer messages for notifications, the contact panel and the raw view.
@Suite struct WorkbenchStoreTests {
    let customer = SimulatedCustomer(name: "Amélie Laurent", waID: "33612345678")
    let builder = WebhookBuilder()

    private func incoming(_ body: Data, receivedAt: Int64 = 1_764_500_000) -> IncomingWebhook {
        Fixtures.webhook(body: body, receivedAt: receivedAt)
    }

    /// The customer writes once; returns the conversation and the message.
    private func customerWrote(_ database: InboxDatabase, id: String = "wamid.IN-first", at time: Int64 = 1_764_499_000)
        async throws -> (ConversationSummary, StoredMessage) {
        _ = try await database.ingest(incoming(builder.message(from: customer, .text("Bonjour"), id: id, timestamp: time)))
        let conversation = try #require(try database.conversations().items.first)
        let message = try #require(try database.message(MessageID(id)))
        return (conversation, message)
    }

    // MARK: - Echoes

    @Test func anEchoIsAnOutboundMessageThatOpensNoWindowAndCountsOnce() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        let echo = builder.echo(to: customer, .text("Sent from my phone"), id: "wamid.ECHO1", timestamp: 1_764_400_000)
        #expect(try await database.ingest(incoming(echo)) == .stored(events: 1, deadLetters: 0))
        // The same echo again in another body (a retry Meta signs anew): no second row.
        let again = builder.echo(to: customer, .text("Sent from my phone"), id: "wamid.ECHO1", timestamp: 1_764_400_000)
        _ = try await database.ingest(incoming(again + Data(" ".utf8)))

        let conversation = try #require(try database.conversations().items.first)
        #expect(conversation.contact.waID == WaID("33612345678"))
        #expect(conversation.lastInboundAt == nil, "an echo does not open the 24-hour window")
        #expect(!conversation.serviceWindow(now: 1_764_400_100).isOpen)
        #expect(conversation.unreadCount == 0)
        let messages = try database.messages(in: conversation.id).items
        #expect(messages.count == 1)
        let message = try #require(messages.first)
        #expect(message.direction == .outbound)
        #expect(message.sentFromPhoneApp)
        #expect(message.status == .sent)
        #expect(message.content == .text(body: "Sent from my phone"))
        #expect(conversation.lastMessage?.wamid == MessageID("wamid.ECHO1"))

        // Its statuses move it on like any outbound message.
        _ = try await database.ingest(incoming(builder.status(.read, of: "wamid.ECHO1", to: customer, timestamp: 1_764_400_050)))
        #expect(try database.message(MessageID("wamid.ECHO1"))?.status == .read)

        var rows: [ExportRecord] = []
        try database.export { rows.append($0) }
        #expect(rows.map(\.direction) == ["out"])
        #expect(rows.first?.text == "Sent from my phone")
    }

    @Test func aReactionEchoIsTheBusinesssReaction() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        let (_, message) = try await customerWrote(temp.database)
        let echo = builder.echo(to: customer, .reaction(to: "wamid.IN-first", emoji: "🙏"), id: "wamid.ECHO2", timestamp: 1_764_499_100)
        _ = try await database.ingest(incoming(echo))
        let wamid = try #require(message.wamid)
        let reactions = try #require(try database.message(wamid)).reactions
        #expect(reactions == [StoredReaction(emoji: "🙏", from: "106540352242922", isBusiness: true)])
    }

    // MARK: - Reactions

    @Test func aReactionGoesThroughTheOutboxAndShowsUnderItsMessage() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        let (conversation, message) = try await customerWrote(database)
        let wamid = try #require(message.wamid)
        let carrier = try await database.enqueueReaction(in: conversation.id, to: wamid, emoji: "👍", localID: "react-1",
                                                         at: 1_764_499_500)
        #expect(carrier.status == .pending)

        // Under the message, pending; never a message of its own in the thread, the list or the export.
        #expect(try database.message(wamid)?.reactions.map(\.emoji) == ["👍"])
        #expect(try database.message(wamid)?.reactions.first?.status == .pending)
        #expect(try database.messages(in: conversation.id).items.map(\.rowID) == [message.rowID])
        #expect(try database.conversations().items.first?.lastMessage?.rowID == message.rowID)
        var rows: [ExportRecord] = []
        try database.export { rows.append($0) }
        #expect(rows.count == 1)
        #expect(rows.first?.reactions.map(\.emoji) == ["👍"])

        // The sender sends `type: reaction` naming the message, not as a reply.
        let item = try #require(try await database.claimNextOutbound(nowMilliseconds: 1_764_499_501_000))
        #expect(item.localID == "react-1")
        #expect(item.kind == .reaction(to: wamid, emoji: "👍"))
        #expect(item.replyTo == nil)
        let body = try #require(item.message?.body)
        #expect(body.type == "reaction")
        #expect(body.reaction?.messageID == wamid.rawValue)
        #expect(body.reaction?.emoji == "👍")
        #expect(body.context == nil)
        try await database.markAccepted(localID: "react-1", wamid: MessageID("wamid.OUT-react"), at: 1_764_499_502)
        _ = try await database.ingest(incoming(builder.status(.sent, of: "wamid.OUT-react", to: customer, timestamp: 1_764_499_503)))
        #expect(try database.message(wamid)?.reactions.first?.status == .sent)

        // The same emoji again removes it: an empty emoji goes out, and nothing shows.
        try await database.enqueueReaction(in: conversation.id, to: wamid, emoji: "", localID: "react-2", at: 1_764_499_600)
        #expect(try database.message(wamid)?.reactions == [])
        let removal = try #require(try await database.claimNextOutbound(nowMilliseconds: 1_764_499_601_000))
        #expect(removal.kind == .reaction(to: wamid, emoji: ""))
        // A removal WhatsApp refused shows, so the agent knows the customer still sees the old one.
        try await database.markFailed(localID: "react-2", error: APIErrorDetail(code: 131000, title: "Something went wrong"),
                                      at: 1_764_499_602)
        let failed = try #require(try database.message(wamid)?.reactions.first)
        #expect(failed.emoji.isEmpty)
        #expect(failed.status == .failed)
        #expect(failed.error?.code == 131000)
        rows = []
        try database.export { rows.append($0) }
        #expect(rows.first?.reactions == [], "the export lists reactions the customer has, not a failed removal")
    }

    @Test func aReactionInFlightWhenWaboxStopsIsUncertainAndCanBeSentAgain() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        let (conversation, message) = try await customerWrote(database)
        let wamid = try #require(message.wamid)
        try await database.enqueueReaction(in: conversation.id, to: wamid, emoji: "❤️", localID: "react-u", at: 1_764_499_500)
        _ = try #require(try await database.claimNextOutbound(nowMilliseconds: 1_764_499_501_000))
        #expect(try await database.recoverInFlightOutbound() == 1)
        let reaction = try #require(try database.message(wamid)?.reactions.first)
        #expect(reaction.status == .uncertain)
        #expect(reaction.localID == "react-u")
        try await database.resendUncertain(localID: "react-u", atMilliseconds: 1_764_499_600_000)
        #expect(try database.message(wamid)?.reactions.first?.status == .pending)
    }

    // MARK: - Reply buttons

    @Test func buttonsAreSentAsAnInteractiveMessageAndTheAnswerQuotesThem() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        let (conversation, _) = try await customerWrote(database)
        let buttons = ReplyButtons(body: "Shall we deliver tomorrow?", titles: ["Yes", "No, Friday"])
        let stored = try await database.enqueueButtons(in: conversation.id, buttons, localID: "btn-1", at: 1_764_499_500)
        #expect(stored.buttons == ["Yes", "No, Friday"])
        #expect(stored.content == .text(body: "Shall we deliver tomorrow?"))
        let item = try #require(try await database.claimNextOutbound(nowMilliseconds: 1_764_499_501_000))
        #expect(item.kind == .buttons(buttons))
        let json = String(decoding: try CloudJSON.encode(try #require(item.message?.body)), as: UTF8.self)
        #expect(json.contains(#""type":"interactive""#))
        #expect(json.contains(#""interactive":{"action":{"buttons":[{"reply":{"id":"wabox-1","title":"Yes"},"type":"reply"}"#), "\(json)")
        #expect(json.contains(#""body":{"text":"Shall we deliver tomorrow?"}"#))
        try await database.markAccepted(localID: "btn-1", wamid: MessageID("wamid.OUT-btn"), at: 1_764_499_502)

        // The customer taps one: their answer names the message it answers.
        _ = try await database.ingest(incoming(builder.message(from: customer, .buttonReply(id: "wabox-1", title: "Yes"),
                                                               id: "wamid.IN-yes", timestamp: 1_764_499_600,
                                                               replyTo: "wamid.OUT-btn")))
        let answer = try #require(try database.message(MessageID("wamid.IN-yes")))
        #expect(answer.replyTo == MessageID("wamid.OUT-btn"))
        let quoted = try database.quotedMessages(for: [answer])
        #expect(quoted[MessageID("wamid.OUT-btn")]?.buttons == ["Yes", "No, Friday"])

        var rows: [ExportRecord] = []
        try database.export { rows.append($0) }
        #expect(rows.map(\.type) == ["text", "interactive", "interactive"])
    }

    @Test func buttonsWhatsAppWouldRefuseAreRefusedBeforeTheOutbox() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let (conversation, _) = try await customerWrote(temp.database)
        let long = ReplyButtons(body: "Pick one", titles: ["A title far too long to fit"])
        await #expect(throws: OutboxError("button title \"A title far too long to fit\" is 27 characters: WhatsApp takes at most 20")) {
            try await temp.database.enqueueButtons(in: conversation.id, long, localID: "btn-x", at: 1_764_499_500)
        }
        let four = ReplyButtons(body: "Pick one", titles: ["a", "b", "c", "d"])
        #expect(four.problem == "WhatsApp takes at most 3 reply buttons")
        #expect(try await temp.database.outboxWaitingCount() == 0)
    }

    // MARK: - Arrivals

    @Test func arrivalsAreTheCustomersNewMessagesOnly() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        let (conversation, _) = try await customerWrote(database)
        let mark = try database.latestMessageRowID()
        #expect(try database.arrivals(after: mark).arrivals.isEmpty)
        // An echo, a reply, a status and a reaction are not customer messages.
        _ = try await database.ingest(incoming(builder.echo(to: customer, .text("from the phone"), id: "wamid.E")))
        try await database.enqueueOutbound(in: conversation.id, content: .text(body: "reply"), localID: "r1", at: 1_764_499_700)
        _ = try await database.ingest(incoming(builder.message(from: customer, .reaction(to: "wamid.IN-first", emoji: "👍"))))
        #expect(try database.arrivals(after: mark).arrivals.isEmpty)
        _ = try await database.ingest(incoming(builder.message(from: customer, .text("Still there?"), id: "wamid.IN-2",
                                                               timestamp: 1_764_499_800), receivedAt: 1_764_499_801))
        let (arrivals, through) = try database.arrivals(after: mark)
        #expect(arrivals.map(\.content) == [.text(body: "Still there?")])
        #expect(arrivals.first?.receivedAt == 1_764_499_801)
        #expect(arrivals.first?.contact.name == "Amélie Laurent")
        #expect(through == (try database.latestMessageRowID()))
        #expect(try database.arrivals(after: through).arrivals.isEmpty)
    }

    // MARK: - The raw view

    @Test func theRawViewFindsTheWebhookAMessageCameIn() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        let body = builder.message(from: customer, .text("Où est mon colis ?"), id: "wamid.IN-raw", timestamp: 1_764_499_000)
        _ = try await database.ingest(incoming(body, receivedAt: 1_764_499_002))
        let message = try #require(try database.message(MessageID("wamid.IN-raw")))
        guard case .found(let raw) = try database.rawWebhook(forMessage: message.rowID) else {
            Issue.record("no webhook for the message")
            return
        }
        #expect(raw.body == body)
        #expect(raw.receivedAt == 1_764_499_002)

        let conversation = try #require(try database.conversations().items.first)
        let sent = try await database.enqueueOutbound(in: conversation.id, content: .text(body: "x"), localID: "o1", at: 1_764_499_100)
        #expect(try database.rawWebhook(forMessage: sent.rowID) == .sentFromWabox)

        // A message stored before messages kept their webhook is found by its id in the journal.
        try await temp.database.writer.write { db in
            try db.execute(sql: "UPDATE message SET webhook_id = NULL WHERE id = ?", arguments: [message.rowID])
        }
        #expect(try database.rawWebhook(forMessage: message.rowID) == .found(raw))
        try await temp.database.writer.write { db in
            try db.execute(sql: "UPDATE message SET webhook_id = 999 WHERE id = ?", arguments: [message.rowID])
        }
        #expect(try database.rawWebhook(forMessage: message.rowID) == .pruned(webhookID: 999))
    }

    // MARK: - The contact panel

    @Test func theContactPanelGathersWhoTheCustomerIs() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let database = temp.database
        let (conversation, first) = try await customerWrote(database)
        _ = try await database.ingest(incoming(builder.message(from: customer, .text("Anyone?"), id: "wamid.IN-2",
                                                               timestamp: 1_764_499_500)))
        let alice = try temp.open(as: "alice")
        try alice.registerAgent(at: 1_764_499_000)
        _ = try await alice.claim(conversation.id, takeOver: false, at: 1_764_499_600)
        let details = try #require(try database.contactDetails(of: conversation.id))
        #expect(details.conversation.contact.waID == WaID("33612345678"))
        #expect(details.conversation.contact.userID == UserID(SimulatedCustomer.userID(forWaID: "33612345678")))
        #expect(details.firstMessage?.rowID == first.rowID)
        #expect(details.lastMessage?.content == .text(body: "Anyone?"))
        #expect(details.receivedCount == 2)
        #expect(details.sentCount == 0)
        #expect(details.conversation.assignee == "alice")
        #expect(details.claimedAt == 1_764_499_600)
        #expect(details.labels == nil && details.notesCount == nil)
    }
}
