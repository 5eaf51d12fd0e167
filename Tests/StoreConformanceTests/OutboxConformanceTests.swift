import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Logging
import PostgresStore
import StoreContract
import Testing

// The outbox's promises (StoreContract.OutboxStore), written once and run against every
// backend: what a claim hands the sender, the order of a conversation's messages, the
// settling of a row by each answer, statuses that come before the answer, halts.

private let quiet = Logger(label: "wabox.tests.outbox") { _ in SwiftLogNoOpLogHandler() }

/// A fresh inbox of one backend, seen by a sender, with a way to write replies into it.
struct SendingInbox: Sendable {
    var outbox: any OutboxStore
    var inbox: ApplyingInbox
    /// Writes a text reply to the customer `waID` (creating the conversation) under `localID`.
    var reply: @Sendable (_ waID: String, _ text: String, _ localID: String, _ at: Int64) async throws -> Void

    func reply(to waID: String, _ text: String, localID: String, at timestamp: Int64 = 1_764_400_500) async throws {
        try await reply(waID, text, localID, timestamp)
    }
}

/// Runs `body` with `senders` views of one fresh inbox of `backend` (on PostgreSQL, each a
/// sender of its own with its presence kept; on SQLite, the one database).
func withSendingInbox(_ backend: Backend, senders: Int = 1,
                      _ body: @Sendable ([SendingInbox]) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let database = temporary.database
        let inbox = SendingInbox(outbox: database, inbox: database) { waID, text, localID, at in
            let conversation = try await database.conversationForSending(to: waID, on: PhoneNumberID(Bodies.phoneNumberID),
                                                                         at: at)
            try await database.enqueueOutbound(in: conversation, content: .text(body: text), localID: localID, at: at)
        }
        try await body(Array(repeating: inbox, count: senders))
    case .postgres:
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2 + senders) { store in
            let outboxes = (0..<senders).map { index in
                PostgresOutbox(store: store, claimant: LeaseClaimant(pid: Int32(1000 + index), host: "test"))
            }
            for outbox in outboxes { try await outbox.renewPresence() }
            let inboxes = outboxes.map { outbox in
                SendingInbox(outbox: outbox, inbox: store) { waID, text, localID, at in
                    let conversation = try await store.conversationForSending(
                        to: waID, on: PhoneNumberID(Bodies.phoneNumberID), at: at)
                    try await store.enqueueOutbound(in: conversation, content: .text(body: text), localID: localID, at: at,
                                                    agent: "tester")
                }
            }
            try await body(inboxes)
        }
    }
}

extension Bodies {
    /// A status of our message `id` that carries our local id, as Meta sends it when the
    /// send request set `biz_opaque_callback_data`.
    static func status(_ id: String, _ status: String, timestamp: Int64, callbackData: String) -> Data {
        var object = statusObject(id, status, timestamp: timestamp)
        object["biz_opaque_callback_data"] = callbackData
        return single(["statuses": [object]])
    }
}

private extension SendingInbox {
    func message(_ text: String) async throws -> MessageSnapshot? {
        try await inbox.inboxSnapshot().messages.first { $0.text == text }
    }
}

@Suite(.postgresServer) struct OutboxConformanceTests {
    @Test(arguments: Backend.allCases)
    func aClaimHandsTheSenderTheReplyOnceAndTheAnswerSettlesIt(_ backend: Backend) async throws {
        try await withSendingInbox(backend) { inboxes in
            let inbox = inboxes[0]
            try await inbox.reply(to: "33612345678", "Your order ships today", localID: "local-1")
            #expect(try await inbox.outboxEntry("local-1")?.state == "queued")
            let item = try #require(try await inbox.outbox.claimNextOutbound(nowMilliseconds: 1_764_400_600_000))
            #expect(item.localID == "local-1")
            #expect(item.recipient == .waID(WaID("33612345678")))
            #expect(item.phoneNumberID == PhoneNumberID(Bodies.phoneNumberID))
            #expect(item.kind == .text(body: "Your order ships today"))
            #expect(item.attempts == 1)
            #expect(try await inbox.outboxEntry("local-1")?.state == "in_flight")
            // In flight: nobody else gets it, by either way of claiming.
            #expect(try await inbox.outbox.claimNextOutbound(nowMilliseconds: 1_764_400_600_000) == nil)
            #expect(try await inbox.outbox.claimOutbound(localID: "local-1", nowMilliseconds: 1_764_400_600_000) == nil)
            try await inbox.outbox.markAccepted(localID: "local-1", wamid: MessageID("wamid.out-1"),
                                                heldForQualityReview: false, at: 1_764_400_601)
            #expect(try await inbox.outboxEntry("local-1") == nil)
            let message = try #require(try await inbox.message("Your order ships today"))
            #expect(message.wamid == "wamid.out-1" && message.status == "accepted" && message.direction == "out")
            let settled = try await inbox.outbox.outboundSettlement(localID: "local-1")
            #expect(settled == OutboundSettlement(wamid: MessageID("wamid.out-1"), status: .accepted, error: nil))
            #expect(try await inbox.outbox.outboundSettlement(localID: "no-such-id") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func aConversationsRepliesGoOutInOrderWhileOthersGoAhead(_ backend: Backend) async throws {
        try await withSendingInbox(backend) { inboxes in
            let inbox = inboxes[0]
            let now: Int64 = 1_764_400_600_000
            try await inbox.reply(to: "33612345678", "first to Amélie", localID: "a-1", at: 1_764_400_500)
            try await inbox.reply(to: "33612345678", "second to Amélie", localID: "a-2", at: 1_764_400_501)
            try await inbox.reply(to: "4915112345678", "first to Jonas", localID: "j-1", at: 1_764_400_502)
            let first = try #require(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now))
            // Amélie's second waits for her first, in flight; Jonas's goes ahead.
            let second = try #require(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now))
            #expect([first.localID, second.localID] == ["a-1", "j-1"])
            #expect(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now) == nil)
            // A retry keeps holding the conversation back until it is due and sent.
            try await inbox.outbox.scheduleRetry(localID: "a-1", atMilliseconds: now + 5_000, lastError: "131000")
            #expect(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now + 1_000) == nil)
            let again = try #require(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now + 5_000))
            #expect(again.localID == "a-1" && again.attempts == 2)
            try await inbox.outbox.markAccepted(localID: "a-1", wamid: MessageID("wamid.a-1"), heldForQualityReview: false,
                                                at: 1_764_400_606)
            let third = try #require(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now + 5_000))
            #expect(third.localID == "a-2")
        }
    }

    @Test(arguments: Backend.allCases)
    func statusesThatComeBeforeTheAnswerAreNotUndoneByIt(_ backend: Backend) async throws {
        try await withSendingInbox(backend) { inboxes in
            let inbox = inboxes[0]
            let now: Int64 = 1_764_400_600_000
            try await inbox.reply(to: "33612345678", "linked by its callback data", localID: "early-1")
            try await inbox.reply(to: "4915112345678", "waits for its wamid", localID: "early-2")
            _ = try #require(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now))
            _ = try #require(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now))
            // Meta's statuses arrive while both requests wait for their answers.
            try await inbox.inbox.journalAndApply([
                Bodies.status("wamid.early-1", "delivered", timestamp: 1_764_400_602, callbackData: "early-1"),
                Bodies.status("wamid.early-2", "read", timestamp: 1_764_400_603),
            ])
            #expect(try await inbox.message("linked by its callback data")?.status == "delivered")
            #expect(try await inbox.message("waits for its wamid")?.status == "pending")
            try await inbox.outbox.markAccepted(localID: "early-1", wamid: MessageID("wamid.early-1"),
                                                heldForQualityReview: false, at: 1_764_400_601)
            try await inbox.outbox.markAccepted(localID: "early-2", wamid: MessageID("wamid.early-2"),
                                                heldForQualityReview: false, at: 1_764_400_601)
            let linked = try #require(try await inbox.message("linked by its callback data"))
            #expect(linked.status == "delivered" && linked.wamid == "wamid.early-1")
            let waited = try #require(try await inbox.message("waits for its wamid"))
            #expect(waited.status == "read" && waited.statusAt == 1_764_400_603)
            #expect(try await inbox.outboxEntry("early-1") == nil)
            #expect(try await inbox.outboxEntry("early-2") == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func eachAnswerSettlesTheRowItsOwnWay(_ backend: Backend) async throws {
        try await withSendingInbox(backend) { inboxes in
            let inbox = inboxes[0], outbox = inboxes[0].outbox
            let now: Int64 = 1_764_400_600_000
            for (index, waID) in ["33600000001", "33600000002", "33600000003"].enumerated() {
                try await inbox.reply(to: waID, "reply \(index)", localID: "r-\(index)")
            }
            for _ in 0..<3 { _ = try #require(try await outbox.claimNextOutbound(nowMilliseconds: now)) }
            try await outbox.markFailed(localID: "r-0", error: APIErrorDetail(code: 131047, title: "Re-engagement message"),
                                        closesWindow: true, at: 1_764_400_601)
            try await outbox.markUncertain(localID: "r-1", reason: "the connection dropped after the request was written")
            try await outbox.releaseOutbound(localID: "r-2", lastError: "sending halted")
            let failed = try #require(try await inbox.message("reply 0"))
            #expect(failed.status == "failed" && failed.errorCode == 131047 && failed.errorTitle == "Re-engagement message")
            #expect(try await inbox.outboxEntry("r-0") == nil)
            #expect(try await outbox.outboundSettlement(localID: "r-0")?.error?.code == 131047)
            #expect(try await inbox.message("reply 1")?.status == "uncertain")
            // A failed reply and an uncertain one each count in their conversation's `~F`.
            let failing = try await inbox.inbox.inboxSnapshot().conversations
                .map { ($0.contactWaID ?? "", $0.failingReplies) }.sorted { $0.0 < $1.0 }
            #expect(failing.map(\.1) == [1, 1, 0], "\(failing)")
            #expect(try await inbox.outboxEntry("r-1")?.state == "uncertain")
            // Released: queued again, the attempt not counted; an uncertain row is never claimed.
            let released = try #require(try await inbox.outboxEntry("r-2"))
            #expect(released.state == "queued" && released.attempts == 0 && released.lastError == "sending halted")
            let next = try #require(try await outbox.claimNextOutbound(nowMilliseconds: now))
            #expect(next.localID == "r-2" && next.attempts == 1)
            #expect(try await outbox.claimNextOutbound(nowMilliseconds: now) == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func aHaltStopsEveryClaimUntilSendingResumes(_ backend: Backend) async throws {
        try await withSendingInbox(backend, senders: 2) { inboxes in
            let now: Int64 = 1_764_400_600_000
            try await inboxes[0].reply(to: "33612345678", "held by the halt", localID: "h-1")
            try await inboxes[0].outbox.haltSending(code: 190, reason: "the access token expired", at: 1_764_400_600)
            try await inboxes[0].outbox.haltSending(code: 368, reason: "a later reason", at: 1_764_400_601)
            // Every sender sees the halt, with the first reason.
            for inbox in inboxes {
                #expect(try await inbox.outbox.sendingHalt() == SendingHalt(code: 190, reason: "the access token expired",
                                                                          since: 1_764_400_600))
                #expect(try await inbox.outbox.claimNextOutbound(nowMilliseconds: now) == nil)
            }
            try await inboxes[1].outbox.resumeSending()
            #expect(try await inboxes[0].outbox.sendingHalt() == nil)
            #expect(try await inboxes[0].outbox.claimNextOutbound(nowMilliseconds: now)?.localID == "h-1")
        }
    }
}

extension SendingInbox {
    func outboxEntry(_ localID: String) async throws -> OutboxEntry? {
        try await outbox.outboxEntry(localID: localID)
    }
}
