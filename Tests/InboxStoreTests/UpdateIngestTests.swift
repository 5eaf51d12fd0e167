import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

private let amelie = "33612345678"

/// A body applied again with no signature: the journal keeps it twice, so the events are
/// applied twice (a replay the journal does not catch), which must change nothing.
private func unsigned(_ body: Data, receivedAt: Int64 = 1_764_500_000) -> IncomingWebhook {
    IncomingWebhook(receivedAt: receivedAt, body: body)
}

private func records(_ db: InboxDatabase, showDeleted: Bool = false) throws -> [[String: Any]] {
    var lines: [[String: Any]] = []
    try db.export(showDeleted: showDeleted) { record in
        lines.append(try JSONSerialization.jsonObject(with: Data(record.jsonLine.utf8)) as? [String: Any] ?? [:])
    }
    return lines
}

private func exported(_ db: InboxDatabase, showDeleted: Bool = false) throws -> [String] {
    var lines: [String] = []
    try db.export(showDeleted: showDeleted) { lines.append($0.jsonLine) }
    return lines
}

@Suite struct UpdateIngestTests {
    let original = UpdateBodies.text(id: "wamid.o1", from: amelie, timestamp: 100, body: "Bonjour, colis 4471 ?")
    let firstEdit = UpdateBodies.edit(id: "wamid.e1", of: "wamid.o1", from: amelie, timestamp: 200, body: "Bonjour, colis 4472 ?")
    let secondEdit = UpdateBodies.edit(id: "wamid.e2", of: "wamid.o1", from: amelie, timestamp: 300, body: "Bonsoir, colis 4472 ?")

    private func checkEdited(_ db: InboxDatabase) throws {
        let message = try #require(try db.message("wamid.o1"))
        #expect(message.content == .text(body: "Bonsoir, colis 4472 ?"))
        #expect(message.editedAt == 300)
        #expect(message.earlierVersions == [
            MessageVersion(content: .text(body: "Bonjour, colis 4471 ?"), timestamp: 100),
            MessageVersion(content: .text(body: "Bonjour, colis 4472 ?"), timestamp: 200),
        ])
        let record = try #require(try records(db).first)
        #expect(record["text"] as? String == "Bonsoir, colis 4472 ?")
        #expect(record["edited_at"] as? Int == 300)
        let edits = record["edits"] as? [[String: Any]]
        #expect(edits?.map { $0["text"] as? String } == ["Bonjour, colis 4471 ?", "Bonjour, colis 4472 ?"])
        #expect(edits?.map { $0["timestamp"] as? Int } == [100, 200])
        #expect(try db.counts().messages == 1)
        // Search finds the current words, not the replaced ones.
        #expect(try db.searchMessages("Bonsoir").count == 1)
        #expect(try db.searchMessages("4471").isEmpty)
    }

    @Test func anEditShowsTheNewContentAndKeepsTheEarlierVersions() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        for body in [original, firstEdit, secondEdit] { _ = try await db.ingest(Fixtures.webhook(body: body)) }
        try checkEdited(db)
        // Applied again (a replay the journal did not catch): nothing changes.
        let before = try exported(db)
        for body in [original, firstEdit, secondEdit] { _ = try await db.ingest(unsigned(body)) }
        #expect(try exported(db) == before)
    }

    @Test func editsThatComeBeforeTheirMessageWaitAndApplyInAnyOrder() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        // The newest edit first, then the older one, then the message itself.
        _ = try await db.ingest(Fixtures.webhook(body: secondEdit))
        _ = try await db.ingest(Fixtures.webhook(body: firstEdit))
        #expect(try db.counts().messages == 0)
        _ = try await db.ingest(Fixtures.webhook(body: original))
        try checkEdited(db)
        // The original in the middle of its edits.
        let other = try TemporaryDatabase()
        defer { other.remove() }
        _ = try await other.database.ingest(Fixtures.webhook(body: secondEdit))
        _ = try await other.database.ingest(Fixtures.webhook(body: original))
        _ = try await other.database.ingest(Fixtures.webhook(body: firstEdit))
        try checkEdited(other.database)
    }

    @Test func aCaptionEditKeepsTheFile() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.image(id: "wamid.p1", from: amelie, timestamp: 100,
                                                                          caption: "carton")))
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.captionEdit(id: "wamid.pe", of: "wamid.p1", from: amelie,
                                                                                timestamp: 150, caption: "carton abîmé")))
        let record = try #require(try records(db).first)
        #expect(record["type"] as? String == "image")
        #expect(record["caption"] as? String == "carton abîmé")
        #expect((record["edits"] as? [[String: Any]])?.first?["caption"] as? String == "carton")
        #expect((record["media"] as? [String: Any])?["id"] as? String == "5550001")
    }

    @Test func onlyTheAuthorEditsOrDeletes() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook(body: original))
        let intruder = "4915112345678"
        let edit = UpdateBodies.edit(id: "wamid.x1", of: "wamid.o1", from: intruder, name: "Jonas", timestamp: 200, body: "hacked")
        #expect(try await db.ingest(Fixtures.webhook(body: edit)) == .stored(events: 1, deadLetters: 1))
        let revoke = UpdateBodies.revoke(id: "wamid.x2", of: "wamid.o1", from: intruder, name: "Jonas", timestamp: 210)
        #expect(try await db.ingest(Fixtures.webhook(body: revoke)) == .stored(events: 1, deadLetters: 1))
        let message = try #require(try db.message("wamid.o1"))
        #expect(message.content == .text(body: "Bonjour, colis 4471 ?"))
        #expect(message.editedAt == nil)
        #expect(message.deletedAt == nil)
        #expect(try db.deadLetters().map(\.reason).allSatisfy { $0.contains("not the message's author") })
    }

    @Test func aDeletionHidesTheContentUnlessShowDeleted() async throws {
        for order in [[0, 1], [1, 0]] {
            let temp = try TemporaryDatabase()
            defer { temp.remove() }
            let db = temp.database
            let revoke = UpdateBodies.revoke(id: "wamid.r1", of: "wamid.o1", from: amelie, timestamp: 400)
            let bodies = [original, revoke]
            for index in order { _ = try await db.ingest(Fixtures.webhook(body: bodies[index])) }
            let message = try #require(try db.message("wamid.o1"))
            #expect(message.deletedAt == 400, "order \(order)")
            #expect(message.content == .text(body: "Bonjour, colis 4471 ?"))
            let hidden = try #require(try records(db).first)
            #expect(hidden["deleted_at"] as? Int == 400)
            #expect(hidden["text"] is NSNull)
            let shown = try #require(try records(db, showDeleted: true).first)
            #expect(shown["text"] as? String == "Bonjour, colis 4471 ?")
            // Deleted words are not found, unless the team keeps them.
            #expect(try db.searchMessages("colis").isEmpty)
            #expect(try db.searchMessages("colis", includeDeleted: true).count == 1)
            let before = try exported(db)
            _ = try await db.ingest(unsigned(revoke))
            #expect(try exported(db) == before)
        }
    }

    @Test func callsBecomeOneNoticeEachInAnyOrder() async throws {
        let connect = UpdateBodies.call(id: "wacid.c1", from: amelie, name: "Amélie Laurent", event: "connect", timestamp: 500)
        let terminate = UpdateBodies.call(id: "wacid.c1", from: amelie, name: "Amélie Laurent", event: "terminate",
                                          timestamp: 640, status: "COMPLETED", duration: 125)
        let missed = UpdateBodies.call(id: "wacid.c2", from: amelie, name: "Amélie Laurent", event: "terminate",
                                       timestamp: 700, status: "FAILED")
        var exports: [[String]] = []
        for bodies in [[connect, terminate, missed], [terminate, missed, connect]] {
            let temp = try TemporaryDatabase()
            defer { temp.remove() }
            let db = temp.database
            for body in bodies { _ = try await db.ingest(Fixtures.webhook(body: body)) }
            for body in bodies { _ = try await db.ingest(unsigned(body)) }
            let rows = try records(db)
            #expect(rows.map { $0["id"] as? String } == ["wacid.c1", "wacid.c2"])
            #expect(rows.map { $0["type"] as? String } == ["call", "call"])
            #expect(rows.map { $0["timestamp"] as? Int } == [500, 700])
            let calls = rows.compactMap { $0["call"] as? [String: Any] }
            #expect(calls.map { $0["status"] as? String } == ["answered", "missed"])
            #expect(calls.map { $0["direction"] as? String } == ["in", "in"])
            #expect(calls[0]["duration"] as? Int == 125)
            #expect(calls[1]["duration"] is NSNull)
            // A customer's calls want attention, but they do not open the service window.
            let conversation = try #require(try db.conversations().items.first)
            #expect(conversation.unreadCount == 2)
            #expect(conversation.lastInboundAt == nil)
            #expect(try db.latestInboundMessage(in: conversation.id) == nil)
            exports.append(try exported(db))
        }
        #expect(exports[0] == exports[1])
    }

    @Test func alertsHaltWhereEverySendFailsUntilLifted() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        // Templates would fail, replies still go: an alert, no halt.
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.accountUpdate(
            event: "ACCOUNT_RESTRICTION", restrictions: [("RESTRICTED_BIZ_INITIATED_MESSAGING", 2_000_000_000)], time: 1000)))
        #expect(try db.accountAlerts(at: 1001).map(\.slot) == [.restriction])
        #expect(try db.accountAlerts(at: 2_000_000_001).isEmpty)  // expired by itself
        #expect(try await db.sendingHalt() == nil)

        // Disabled: nothing will send. Sending halts, and a restart does not lift it.
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.accountUpdate(event: "DISABLED_UPDATE", banState: "DISABLE",
                                                                                  time: 1100)))
        let halt = try #require(try await db.sendingHalt())
        #expect(halt.isAccountAlert)
        #expect(halt.reason.contains("nothing will send"))
        try await db.resumeSending()
        #expect(try await db.sendingHalt() != nil)
        #expect(try await db.claimNextOutbound(nowMilliseconds: .max) == nil)

        // Reinstated: the halt and the alert are gone; the old ban arriving late stays lifted.
        let reinstate = UpdateBodies.accountUpdate(event: "DISABLED_UPDATE", banState: "REINSTATE", time: 1200)
        _ = try await db.ingest(Fixtures.webhook(body: reinstate))
        #expect(try await db.sendingHalt() == nil)
        _ = try await db.ingest(unsigned(UpdateBodies.accountUpdate(event: "DISABLED_UPDATE", banState: "DISABLE", time: 1100)))
        #expect(try await db.sendingHalt() == nil)
        #expect(try db.accountAlerts(at: 1300).map(\.slot) == [.restriction])

        // Both restrictions at once halt too; lifting the restriction lifts the halt.
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.accountUpdate(event: "ACCOUNT_RESTRICTION", restrictions: [
            ("RESTRICTED_BIZ_INITIATED_MESSAGING", nil), ("RESTRICTED_CUSTOMER_INITIATED_MESSAGING", nil),
        ], time: 1400)))
        #expect(try await db.sendingHalt()?.isAccountAlert == true)
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.accountUpdate(event: "ACCOUNT_RESTRICTION", time: 1500)))
        #expect(try await db.sendingHalt() == nil)
        #expect(try db.accountAlerts(at: 1600).isEmpty)
    }

    @Test func aRejectedTemplateFailsTheRepliesQueuedWithIt() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook(body: original))
        let conversation = try #require(try db.conversations().items.first).id
        let promo = TemplateMessage(name: "spring_sale", languageCode: "en_US", bodyParameters: [])
        let other = TemplateMessage(name: "order_update", languageCode: "fr", bodyParameters: ["4471"])
        try await db.enqueueTemplate(in: conversation, template: promo, localID: "t-1", at: 1000)
        try await db.enqueueTemplate(in: conversation, template: other, localID: "t-2", at: 1001)
        try await db.enqueueOutbound(in: conversation, content: .text(body: "hello"), localID: "t-3", at: 1002)

        let rejected = UpdateBodies.templateStatus(name: "spring_sale", language: "en_US", event: "REJECTED",
                                                   reason: "INVALID_FORMAT", category: "MARKETING", time: 2000)
        _ = try await db.ingest(Fixtures.webhook(body: rejected, receivedAt: 2001))
        let failed = try #require(try await db.outboundMessage(localID: "t-1"))
        #expect(failed.status == .failed)
        #expect(failed.error?.title?.contains("WhatsApp rejected the template spring_sale (INVALID_FORMAT)") == true)
        #expect(try await db.outboxEntry(localID: "t-1") == nil)
        #expect(try await db.outboundMessage(localID: "t-2")?.status == .pending)
        #expect(try await db.outboundMessage(localID: "t-3")?.status == .pending)

        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.templateQuality(name: "order_update", language: "fr",
                                                                                    score: "RED", time: 2100)))
        // An older status arriving late changes nothing.
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.templateStatus(name: "spring_sale", language: "en_US",
                                                                                   event: "APPROVED", time: 1500)))
        let states = try db.templateStates()
        #expect(states == [
            TemplateState(name: "order_update", language: "fr", quality: "RED", qualityAt: 2100),
            TemplateState(name: "spring_sale", language: "en_US", templateID: states.last?.templateID,
                          status: "REJECTED", reason: "INVALID_FORMAT", statusAt: 2000, category: "MARKETING", categoryAt: 2000),
        ])
        #expect(states.last?.templateID != nil)
    }

    @Test func marketingPreferencesFollowTheNewestWord() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook(body: original))
        func optedOut() throws -> Bool? {
            (try records(db).first?["contact"] as? [String: Any])?["marketing_opt_out"] as? Bool
        }
        #expect(try optedOut() == false)
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.preference(waID: amelie, value: "stop", timestamp: 500)))
        #expect(try optedOut() == true)
        #expect(try db.conversations().items.first?.contact.marketingOptOutAt == 500)
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.preference(waID: amelie, value: "resume", timestamp: 600)))
        #expect(try optedOut() == false)
        // The stop again, late: the resume is newer.
        _ = try await db.ingest(unsigned(UpdateBodies.preference(waID: amelie, value: "stop", timestamp: 500)))
        #expect(try optedOut() == false)
        // A customer never seen before is remembered for when they write.
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.preference(waID: "819012345678", value: "stop", timestamp: 700)))
        _ = try await db.ingest(Fixtures.webhook(body: UpdateBodies.text(id: "wamid.k1", from: "819012345678", name: "Kenji",
                                                                         timestamp: 800, body: "hi")))
        #expect(try db.contacts(matching: "819012345678").first?.optedOutOfMarketing == true)
    }

    @Test func unreadableMessagesAreKeptAndTheRestApplied() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        #expect(try await db.ingest(Fixtures.webhook("unreadable")) == .stored(events: 5, deadLetters: 0))
        let rows = try records(db)
        #expect(rows.map { $0["id"] as? String } == ["wamid.noload.1", "wamid.badload.2", "wamid.notext.3", "wamid.fine.4"])
        #expect(rows.map { $0["type"] as? String } == ["interactive", "location", "text", "text"])
        #expect((rows[0]["error"] as? [String: Any])?["title"] as? String
            == "wabox could not read this message: the interactive message has no interactive object")
        #expect(rows[3]["error"] is NSNull)
        let message = try #require(try db.message("wamid.noload.1"))
        guard case .unreadable(_, _, let raw) = message.content else { Issue.record("\(message.content)"); return }
        #expect(raw.contains("wamid.noload.1"))
        #expect(try db.deadLetters().isEmpty)
    }
}
