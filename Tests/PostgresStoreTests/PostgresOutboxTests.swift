import Foundation
import InboxCore
import InboxTesting
import Logging
import PostgresNIO
@testable import PostgresStore
import StoreContract
import Synchronization
import Testing

// What only PostgreSQL's outbox has to show: several senders, each a process of its own
// (a client with its own connections), draining one outbox at once; and a row left in
// flight made uncertain only once its sender is gone.

private let phone = PhoneNumberID("106540352242922")

/// Runs `body` with `count` stores on one fresh database, as `count` processes.
private func withStores(_ count: Int, _ body: @Sendable ([PostgresStore]) async throws -> Void) async throws {
    let server = try PostgresSuite.server
    let location = server.location(database: try await server.createDatabase())
    @Sendable func nest(_ opened: [PostgresStore]) async throws {
        guard opened.count < count else { return try await body(opened) }
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 3) { store in
            try await nest(opened + [store])
        }
    }
    try await nest([])
}

private func uncertainCount(_ store: PostgresStore) async throws -> Int {
    for try await count in try await store.client.query("""
        SELECT count(*) FROM message WHERE status = 'uncertain'
        """).decode(Int.self) { return count }
    return 0
}

/// The claims the senders made, in the order they made them.
private final class ClaimLog: Sendable {
    let entries = Mutex<[(sender: Int, localID: String)]>([])
}

@Suite(.postgresServer) struct PostgresOutboxTests {
    @Test func threeSendersSendEveryReplyOnceAndEachConversationInOrder() async throws {
        try await withStores(3) { stores in
            let customers = (0..<8).map { "3361000000\($0)" }
            var written: [String] = []
            for round in 0..<5 {
                for (index, customer) in customers.enumerated() {
                    let conversation = try await stores[0].conversationForSending(to: customer, on: phone, at: 1_764_400_000)
                    let localID = "c\(index)-r\(round)"
                    try await stores[0].enqueueOutbound(in: conversation, content: .text(body: localID), localID: localID,
                                                        at: 1_764_400_000 + Int64(round), agent: "tester")
                    written.append(localID)
                }
            }
            // Each claim is logged with a global sequence number as the sender sees it.
            let claims = ClaimLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, store) in stores.enumerated() {
                    let outbox = PostgresOutbox(store: store, claimant: LeaseClaimant(pid: Int32(100 + index), host: "test"))
                    try await outbox.renewPresence()
                    group.addTask {
                        var idle = 0
                        // Until the outbox is empty: a sender that finds nothing due while
                        // another holds a conversation's head tries again.
                        while idle < 200 {
                            guard let item = try await outbox.claimNextOutbound(nowMilliseconds: 1_764_400_100_000) else {
                                if try await outbox.store.client.query("SELECT 1 FROM outbox LIMIT 1")
                                    .collect().isEmpty { return }
                                idle += 1
                                try await Task.sleep(for: .milliseconds(5))
                                continue
                            }
                            idle = 0
                            claims.entries.withLock { $0.append((index, item.localID)) }
                            try await outbox.markAccepted(localID: item.localID, wamid: MessageID("wamid." + item.localID),
                                                          heldForQualityReview: false, at: 1_764_400_100)
                        }
                        Issue.record("sender \(index) found the outbox stuck")
                    }
                }
                try await group.waitForAll()
            }
            let claimed = claims.entries.withLock { $0 }
            #expect(claimed.map(\.localID).sorted() == written.sorted(), "every reply claimed exactly once")
            for index in customers.indices {
                let order = claimed.map(\.localID).filter { $0.hasPrefix("c\(index)-") }
                #expect(order == (0..<5).map { "c\(index)-r\($0)" }, "conversation \(index) went out in order")
            }
            // The work was shared: no sender did it all (each claims as soon as it can).
            #expect(Set(claimed.map(\.sender)).count > 1)
            for try await count in try await stores[0].client.query("""
                SELECT count(*) FROM message WHERE direction = 'out' AND status = 'accepted' AND wamid = 'wamid.' || local_id
                """).decode(Int.self) {
                #expect(count == written.count)
            }
        }
    }

    @Test func aRowInFlightBecomesUncertainOnlyOnceItsSenderIsGone() async throws {
        try await withStores(2) { stores in
            let conversation = try await stores[0].conversationForSending(to: "33612345678", on: phone, at: 1_764_400_000)
            try await stores[0].enqueueOutbound(in: conversation, content: .text(body: "held by the dying sender"),
                                                localID: "dying-1", at: 1_764_400_000, agent: "tester")
            try await stores[0].enqueueOutbound(in: conversation, content: .text(body: "waits behind it"),
                                                localID: "dying-2", at: 1_764_400_001, agent: "tester")
            // The sender that will die, and the survivor: presences long enough that no
            // load lets one lapse by itself during the test.
            let dying = PostgresOutbox(store: stores[0], claimant: LeaseClaimant(pid: 1, host: "a"), lifetime: .seconds(600))
            try await dying.renewPresence()
            #expect(try await dying.claimNextOutbound(nowMilliseconds: 1_764_400_100_000)?.localID == "dying-1")
            let survivor = PostgresOutbox(store: stores[1], claimant: LeaseClaimant(pid: 1, host: "b"), lifetime: .seconds(600),
                                          sweepInterval: 0)
            try await survivor.renewPresence()
            // While the holder's presence lasts, its row is its own, and the conversation waits.
            #expect(try await survivor.recoverInFlightOutbound() == 0)
            #expect(try await survivor.claimNextOutbound(nowMilliseconds: 1_764_400_100_000) == nil)
            // The holder dies: its presence is no longer renewed, and lapses (here at once,
            // as if its lifetime had passed on the database's clock).
            try await stores[0].client.query("""
                UPDATE lease SET renewed_at = now() - interval '601 seconds' WHERE name = \(dying.presenceName)
                """)
            // The survivor's next claim makes the row uncertain (it may have gone out) and
            // the conversation moves on.
            let next = try await survivor.claimNextOutbound(nowMilliseconds: 1_764_400_100_000)
            #expect(next?.localID == "dying-2")
            #expect(try await survivor.outboxEntry(localID: "dying-1")?.state == "uncertain")
            #expect(try await survivor.outboundSettlement(localID: "dying-1")?.status == .uncertain)
            #expect(try await uncertainCount(stores[0]) == 1)
            // The survivor's own row in flight is not touched by its own sweep.
            #expect(try await survivor.recoverInFlightOutbound() == 0)
            #expect(try await survivor.outboxEntry(localID: "dying-2")?.state == "in_flight")
        }
    }

    @Test func aReadReceiptGoesOutOnceAndOneThatFailedComesBack() async throws {
        try await withStores(2) { stores in
            let first = PostgresOutbox(store: stores[0], claimant: LeaseClaimant(pid: 1, host: "a"))
            let second = PostgresOutbox(store: stores[1], claimant: LeaseClaimant(pid: 1, host: "b"))
            try await first.queueReadReceipt(for: MessageID("wamid.in-1"), from: phone, at: 1_000)
            try await first.queueReadReceipt(for: MessageID("wamid.in-2"), from: phone, at: 2_000)
            let taken = try await first.dueReadReceipts(staleBefore: 0, maxAttempts: 3, limit: 20)
            #expect(taken.map(\.message) == [MessageID("wamid.in-1"), MessageID("wamid.in-2")])
            #expect(try await second.dueReadReceipts(staleBefore: 0, maxAttempts: 3, limit: 20).isEmpty)
            try await first.finishReadReceipt(MessageID("wamid.in-1"), done: true)
            try await first.finishReadReceipt(MessageID("wamid.in-2"), done: false)
            let retried = try await second.dueReadReceipts(staleBefore: 0, maxAttempts: 3, limit: 20)
            #expect(retried.map(\.message) == [MessageID("wamid.in-2")])
            try await second.finishReadReceipt(MessageID("wamid.in-2"), done: false)
            // Tried three times: dropped.
            _ = try await first.dueReadReceipts(staleBefore: 0, maxAttempts: 3, limit: 20)
            try await first.finishReadReceipt(MessageID("wamid.in-2"), done: false)
            #expect(try await second.dueReadReceipts(staleBefore: 0, maxAttempts: 3, limit: 20).isEmpty)
        }
    }

    @Test func aFileQueuedOnOneHostIsUploadedFromAnotherThroughTheDatabase() async throws {
        try await withStores(2) { stores in
            let folders = (0..<2).map {
                FileManager.default.temporaryDirectory.appendingPathComponent("wabox-pg-file-\($0)-\(UUID().uuidString)")
            }
            defer { for folder in folders { try? FileManager.default.removeItem(at: folder) } }
            for folder in folders { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
            let bytes = Data("%PDF-1.4 bon de retour 5512\n%%EOF\n".utf8)
            let hash = MediaDigest.hex(of: bytes)
            // The screen's host kept its copy in its media folder, named by the hash.
            let queued = folders[0].appendingPathComponent(hash).path
            try bytes.write(to: URL(fileURLWithPath: queued))
            let conversation = try await stores[0].conversationForSending(to: "33612345678", on: phone, at: 1_764_400_000)
            try await stores[0].enqueueFile(in: conversation, file: OutboundFile(path: queued, mimeType: "application/pdf",
                                                                                filename: "bon-5512.pdf", size: Int64(bytes.count)),
                                            kind: .document, sha256: hash, caption: "Le bon de retour", localID: "file-1",
                                            at: 1_764_400_000, agent: "amelie")
            // That folder is not on the sender's host.
            try FileManager.default.removeItem(at: folders[0])
            let outbox = PostgresOutbox(store: stores[1], claimant: LeaseClaimant(pid: 201, host: "sender-host"),
                                        mediaDirectory: folders[1].path)
            try await outbox.renewPresence()
            let item = try #require(try await outbox.claimNextOutbound(nowMilliseconds: 1_764_400_001_000))
            let file = try #require(item.file)
            #expect(file.path == folders[1].appendingPathComponent(hash).path)
            #expect(FileManager.default.contents(atPath: file.path) == bytes)
            #expect(file.filename == "bon-5512.pdf" && file.mimeType == "application/pdf")
            guard case .media(let media) = item.kind else { Issue.record("not a file: \(item.kind)"); return }
            #expect(media.kind == .document && media.caption == "Le bon de retour" && media.mediaID == nil)
            // The upload's media id is kept for the send and for the thread.
            try await outbox.recordUpload(localID: "file-1", mediaID: "8812")
            let ids = try await stores[0].client.query("""
                SELECT o.upload_id, md.media_id, md.state FROM outbox o JOIN media md ON md.message_id = o.message_id
                """).collect().map { try $0.decode((String?, String, String).self) }
            #expect(ids.count == 1 && ids[0].0 == "8812" && ids[0].1 == "8812" && ids[0].2 == "ready")

            // A row pointed (by anyone with the database's password) at another file of the
            // sender's host, named like a hash: its bytes are not the ones named, so it is
            // never what the sender uploads.
            let secret = folders[1].appendingPathComponent(String(repeating: "ab", count: 32))
            try Data("WABOX_ACCESS_TOKEN=do-not-send".utf8).write(to: secret)
            let other = try await stores[0].conversationForSending(to: "33698765432", on: phone, at: 1_764_400_100)
            try await stores[0].enqueueFile(in: other, file: OutboundFile(path: file.path, mimeType: "application/pdf",
                                                                         filename: "x.pdf", size: Int64(bytes.count)),
                                            kind: .document, sha256: hash, caption: nil, localID: "file-2",
                                            at: 1_764_400_100, agent: "mallory")
            try await stores[0].client.query("""
                UPDATE outbox SET file_path = \(secret.path)
                WHERE message_id = (SELECT id FROM message WHERE local_id = 'file-2')
                """)
            let hijacked = try #require(try await outbox.claimNextOutbound(nowMilliseconds: 1_764_400_101_000))
            #expect(hijacked.localID == "file-2")
            #expect(hijacked.file?.path != secret.path, "the sender would upload a file the row merely named")
            #expect(hijacked.file.map { FileManager.default.contents(atPath: $0.path) } != .some(try Data(contentsOf: secret)))
        }
    }

    @Test func aReplyIsInTheAuditTrailFromTheMomentItIsWritten() async throws {
        try await withStores(1) { stores in
            let store = stores[0]
            let conversation = try await store.conversationForSending(to: "33612345678", on: phone, at: 1_764_400_000)
            try await store.enqueueOutbound(in: conversation, content: .text(body: "Votre colis part demain"),
                                            localID: "audited-1", at: 1_764_400_000, agent: "amelie")
            try await store.enqueueTemplate(in: conversation, template: TemplateMessage(name: "order_update", languageCode: "fr"),
                                            localID: "audited-2", at: 1_764_400_010, agent: "amelie")
            let rows = try await store.client.query("""
                SELECT at, account, action, contact_wa_id, detail FROM audit ORDER BY id
                """).collect().map { try $0.decode((Int64, String, String, String?, String).self) }
            #expect(rows.count == 2)
            let first = try AuditDetail.decoder.decode(AuditDetail.self, from: Data(rows[0].4.utf8))
            #expect(rows[0].0 == 1_764_400_000 && rows[0].1 == "amelie" && rows[0].2 == "send" && rows[0].3 == "33612345678")
            #expect(first == AuditDetail(type: "text", localID: "audited-1", text: "Votre colis part demain"))
            let second = try AuditDetail.decoder.decode(AuditDetail.self, from: Data(rows[1].4.utf8))
            #expect(second.type == "template" && second.template == "order_update" && second.localID == "audited-2")
        }
    }

    @Test func aPeriodicJobsTurnGoesToOneListenerAndToAnotherOnceItLapses() async throws {
        try await withStores(2) { stores in
            let first = LeaseClaimant(pid: 1, host: "a"), second = LeaseClaimant(pid: 2, host: "b")
            let job = PostgresStore.templateRefreshTurn
            #expect(try await stores[0].takeTurn(of: job, first, period: .seconds(600)))
            #expect(try await !stores[1].takeTurn(of: job, second, period: .seconds(600)))
            #expect(try await !stores[0].takeTurn(of: job, first, period: .seconds(600)), "a turn is one period, even its holder's")
            // The period ends (its holder may have died): the next to ask takes it.
            try await stores[0].client.query("""
                UPDATE lease SET renewed_at = now() - interval '601 seconds' WHERE name = \(job)
                """)
            #expect(try await stores[1].takeTurn(of: job, second, period: .seconds(600)))
            #expect(try await !stores[0].takeTurn(of: job, first, period: .seconds(600)))
        }
    }

    @Test func aRowWhoseOutcomeCouldNotBeWrittenBecomesUncertainAndALateRetryDoesNotRequeueIt() async throws {
        try await withStores(2) { stores in
            let conversation = try await stores[0].conversationForSending(to: "33612345678", on: phone, at: 1_764_400_000)
            for index in 1...2 {
                try await stores[0].enqueueOutbound(in: conversation, content: .text(body: "reply \(index)"),
                                                    localID: "late-\(index)", at: 1_764_400_000 + Int64(index), agent: "tester")
            }
            let sender = PostgresOutbox(store: stores[0], claimant: LeaseClaimant(pid: 1, host: "a"), lifetime: .seconds(600),
                                        sweepInterval: 0)
            try await sender.renewPresence()
            #expect(try await sender.claimNextOutbound(nowMilliseconds: 1_764_400_100_000)?.localID == "late-1")
            // Its own row while it sends it: left alone.
            #expect(try await sender.recoverInFlightOutbound() == 0)
            // The answer came, but writing it failed (the connection dropped): the sender
            // tried to settle the row and could not. Its next sweep makes the row uncertain,
            // and the conversation moves on.
            sender.releaseHold("late-1")
            #expect(try await sender.claimNextOutbound(nowMilliseconds: 1_764_400_100_000)?.localID == "late-2")
            #expect(try await sender.outboxEntry(localID: "late-1")?.state == "uncertain")
            // A sender cut off for longer than its presence: another listener made its row
            // uncertain; the retry it schedules when it is back changes nothing.
            try await stores[0].client.query("""
                UPDATE lease SET renewed_at = now() - interval '601 seconds' WHERE name = \(sender.presenceName)
                """)
            let other = PostgresOutbox(store: stores[1], claimant: LeaseClaimant(pid: 2, host: "b"))
            #expect(try await other.recoverInFlightOutbound() == 1)
            try await sender.scheduleRetry(localID: "late-2", atMilliseconds: 1_764_400_200_000, lastError: "131000")
            #expect(try await sender.outboxEntry(localID: "late-2")?.state == "uncertain")
            #expect(try await sender.outboundSettlement(localID: "late-2")?.status == .uncertain)
        }
    }
}
