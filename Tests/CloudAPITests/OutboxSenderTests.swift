import CloudAPI
import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// The outbox sender against the fake Cloud API, with a hand-moved clock.
@Suite struct OutboxSenderTests {
    func sender(_ database: InboxDatabase, _ url: String, clock: ManualClock,
                policy: OutboxSender.RetryPolicy = .init()) -> OutboxSender {
        OutboxSender(database: database, client: client(url), policy: policy, clock: clock.senderClock, logger: quiet)
    }

    @Test func aReplyIsCommittedBeforeSendingAndGetsItsWamid() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        let database = temp.database
        try await database.enqueueOutbound(in: conversation, content: .text(body: "Votre colis arrive demain"),
                                           replyTo: "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=",
                                           localID: "l-1", at: clock.now / 1000)
        #expect(try await database.outboxWaitingCount() == 1)
        #expect(try await database.outboundMessage(localID: "l-1")?.status == .pending)

        let fake = FakeCloudAPI(accessToken: accessToken)
        let outcomes = try await fake.withRunning { url in try await sender(database, url, clock: clock).sendDue() }
        guard case .accepted(_, let wamid) = try #require(outcomes.first) else { Issue.record("\(outcomes)"); return }
        let stored = try #require(try await database.outboundMessage(localID: "l-1"))
        #expect(stored.wamid == wamid)
        #expect(stored.status == .accepted)
        #expect(try await database.outboxWaitingCount() == 0)
        let body = try #require(fake.messageRequests.first?.json)
        #expect(body == (try json("""
            {"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"text",
             "text":{"body":"Votre colis arrive demain","preview_url":false},
             "context":{"message_id":"wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA="},
             "biz_opaque_callback_data":"l-1"}
            """)))
    }

    @Test func throughputLimitIsRetriedWithCappedExponentialBackoff() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        let database = temp.database
        try await database.enqueueOutbound(in: conversation, content: .text(body: "un"), localID: "l-1", at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.failNext(2, with: .throughput)
        let start = clock.now
        try await fake.withRunning { url in
            let sender = sender(database, url, clock: clock)
            #expect(try await sender.sendDue().first == .retryScheduled(
                localID: "l-1", at: start + 1000, reason: CloudAPIError(code: 130429).meaning.explanation
                    + " (Cloud API error 130429: (#130429) Rate limit hit — Cloud API message throughput has been reached.)"))
            // Not due yet: nothing goes out.
            #expect(try await sender.sendDue().isEmpty)
            clock.advance(999)
            #expect(try await sender.sendDue().isEmpty)
            clock.advance(1)
            guard case .retryScheduled(_, let second, _) = try #require(try await sender.sendDue().first) else {
                Issue.record("expected a second retry"); return
            }
            #expect(second == start + 1000 + 2000)
            #expect(try await database.outboxEntry(localID: "l-1")?.attempts == 2)
            clock.advance(2000)
            guard case .accepted = try #require(try await sender.sendDue().first) else { Issue.record("not accepted"); return }
        }
        #expect(fake.messageRequests.count == 3)
        #expect(try await database.outboundMessage(localID: "l-1")?.status == .accepted)

        let policy = OutboxSender.RetryPolicy(baseDelay: 1, maxDelay: 60, maxAttempts: 10)
        #expect((1...8).map { policy.delay(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 60, 60])
    }

    @Test func jitterIsApplied() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        try await temp.database.enqueueOutbound(in: conversation, content: .text(body: "un"), localID: "l-1", at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.failNext(with: .pairRateLimit)
        var halved = clock.senderClock
        halved.jitter = { $0 * 0.5 }
        let jittered = halved
        let outcomes = try await fake.withRunning { url in
            try await OutboxSender(database: temp.database, client: client(url), clock: jittered, logger: quiet).sendDue()
        }
        guard case .retryScheduled(_, let at, _) = try #require(outcomes.first) else { Issue.record("\(outcomes)"); return }
        #expect(at == clock.now + 500)
    }

    @Test func unknownErrorIsRetriedAFewTimesThenFails() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        try await temp.database.enqueueOutbound(in: conversation, content: .text(body: "un"), localID: "l-1", at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.failNext(5, with: .unknown)
        try await fake.withRunning { url in
            let sender = sender(temp.database, url, clock: clock)
            for _ in 0..<10 {
                _ = try await sender.sendDue()
                clock.advance(10_000)
            }
        }
        #expect(fake.messageRequests.count == 3)
        let message = try #require(try await temp.database.outboundMessage(localID: "l-1"))
        #expect(message.status == .failed)
        #expect(message.error?.code == 131000)
        #expect(message.error?.title?.hasPrefix("gave up after 3 attempts") == true)
    }

    @Test func serverErrorIsRetried() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        try await temp.database.enqueueOutbound(in: conversation, content: .text(body: "un"), localID: "l-1", at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.failNext(with: .serverError(status: 502))
        let outcomes = try await fake.withRunning { url in
            let sender = sender(temp.database, url, clock: clock)
            var outcomes = try await sender.sendDue()
            clock.advance(1000)
            outcomes += try await sender.sendDue()
            return outcomes
        }
        #expect(outcomes.count == 2)
        guard case .accepted = try #require(outcomes.last) else { Issue.record("\(outcomes)"); return }
    }

    @Test(arguments: [(FakeCloudAPI.Failure.undeliverable, 131026), (.invalidParameter, 100), (.unsupportedType, 131051)])
    func permanentErrorsFailWithoutRetry(failure: FakeCloudAPI.Failure, code: Int) async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        try await temp.database.enqueueOutbound(in: conversation, content: .text(body: "un"), localID: "l-1", at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.failNext(with: failure)
        let outcomes = try await fake.withRunning { url in
            let sender = sender(temp.database, url, clock: clock)
            var outcomes = try await sender.sendDue()
            clock.advance(3_600_000)
            outcomes += try await sender.sendDue()
            return outcomes
        }
        #expect(outcomes.count == 1)
        guard case .failed(_, let reason, code) = try #require(outcomes.first) else { Issue.record("\(outcomes)"); return }
        #expect(reason.hasPrefix(CloudErrorMeaning(code: code).explanation))
        #expect(fake.messageRequests.count == 1)
        let message = try #require(try await temp.database.outboundMessage(localID: "l-1"))
        #expect(message.status == .failed)
        #expect(message.error?.code == code)
        #expect(message.error?.title == CloudErrorMeaning(code: code).explanation)
        #expect(try await temp.database.outboxWaitingCount() == 0)
    }

    @Test(arguments: [FakeCloudAPI.Failure.badToken, .accountRestricted, .accountLocked])
    func tokenAndAccountErrorsHaltSendingUntilResumed(failure: FakeCloudAPI.Failure) async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        let database = temp.database
        try await database.enqueueOutbound(in: conversation, content: .text(body: "un"), localID: "l-1", at: clock.now / 1000)
        try await database.enqueueOutbound(in: conversation, content: .text(body: "deux"), localID: "l-2", at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.failNext(with: failure)
        try await fake.withRunning { url in
            let sender = sender(database, url, clock: clock)
            guard case .halted(_, let reason) = try #require(try await sender.sendDue().first) else {
                Issue.record("not halted"); return
            }
            let halt = try #require(try await database.sendingHalt())
            #expect(halt.reason == reason)
            #expect(halt.description == "sending halted: \(reason)")
            #expect(try await database.outboxWaitingCount() == 2)
            #expect(try await database.outboundMessage(localID: "l-1")?.status == .pending)
            clock.advance(3_600_000)
            #expect(try await sender.sendDue().isEmpty)
            #expect(fake.messageRequests.count == 1)

            try await database.resumeSending()
            #expect(try await database.sendingHalt() == nil)
            let outcomes = try await sender.sendDue()
            #expect(outcomes.count == 2)
        }
        // The two went out in order, after the halt.
        #expect(fake.messageRequests.compactMap { $0.json }.count == 3)
        #expect(try await database.outboundMessage(localID: "l-1")?.status == .accepted)
        #expect(try await database.outboundMessage(localID: "l-2")?.status == .accepted)
    }

    @Test func closedWindowFailsTheReplyAndOffersATemplate() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let database = temp.database
        let lastInbound: Int64 = 1_764_403_200
        #expect(try await database.serviceWindow(of: conversation, now: lastInbound + 3600)
                == .open(closesAt: lastInbound + 86_400))
        #expect(try await database.serviceWindow(of: conversation, now: lastInbound + 86_400)
                == .closed(.expired(at: lastInbound + 86_400)))

        let clock = ManualClock((lastInbound + 3600) * 1000)
        try await database.enqueueOutbound(in: conversation, content: .text(body: "Encore là ?"), localID: "l-1",
                                           at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.closeWindow(for: customer)
        try await fake.withRunning { url in
            let sender = sender(database, url, clock: clock)
            guard case .windowClosed(_, let reason) = try #require(try await sender.sendDue().first) else {
                Issue.record("window not closed"); return
            }
            #expect(reason.contains("only an approved template can be sent"))
            let window = try await database.serviceWindow(of: conversation, now: clock.now / 1000)
            #expect(window == .closed(.refusedByAPI(at: lastInbound + 3600)))
            if case .closed(let closure) = window { #expect(closure.description.contains("send a template")) }
            let failed = try #require(try await database.outboundMessage(localID: "l-1"))
            #expect(failed.status == .failed)
            #expect(failed.error?.code == 131047)

            // A template still goes out.
            try await database.enqueueTemplate(
                in: conversation, template: TemplateMessage(name: "order_update", languageCode: "fr",
                                                            bodyParameters: ["Amélie", "A-1042"]),
                localID: "l-2", at: clock.now / 1000)
            guard case .accepted = try #require(try await sender.sendDue().first) else { Issue.record("template refused"); return }
        }
        let template = try #require(try await database.outboundMessage(localID: "l-2"))
        #expect(template.content == .text(body: "[order_update] Amélie · A-1042"))
        #expect(fake.messageRequests.last?.json?.jsonText.contains(#""template":{"components""#) == true)

        // The customer writes again: the window reopens.
        _ = try await database.ingest(Fixtures.webhook(body: Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
             "metadata":{"phone_number_id":"106540352242922"},"contacts":[{"wa_id":"33612345678"}],
             "messages":[{"from":"33612345678","id":"wamid.again.1","timestamp":"\(lastInbound + 7200)","type":"text","text":{"body":"Oui"}}]}}]}]}
            """.utf8)))
        #expect(try await database.serviceWindow(of: conversation, now: lastInbound + 7300).isOpen)
    }

    @Test func restartNeverLosesPendingRowsNorResendsOnesInFlight() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        for index in 1...3 {
            try await temp.database.enqueueOutbound(in: conversation, content: .text(body: "message \(index)"),
                                                    localID: "l-\(index)", at: clock.now / 1000)
        }
        // The process claimed l-1 and died before the answer was recorded.
        let claimed = try #require(try await temp.database.claimNextOutbound(nowMilliseconds: clock.now))
        #expect(claimed.localID == "l-1")
        // The in-flight row holds back the rest of its conversation.
        #expect(try await temp.database.claimNextOutbound(nowMilliseconds: clock.now) == nil)

        // Restart: the same file opened afresh.
        let reopened = try InboxDatabase(path: temp.path)
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { url in
            let sender = sender(reopened, url, clock: clock)
            try await sender.prepareForStart()
            #expect(try await reopened.outboundMessage(localID: "l-1")?.status == .uncertain)
            let outcomes = try await sender.sendDue()
            #expect(outcomes.count == 2)
            #expect(try await sender.sendDue().isEmpty)
            #expect(fake.messageRequests.compactMap { $0.json?.jsonText }.map { $0.contains("\"l-1\"") } == [false, false])
            #expect(try await reopened.outboundMessage(localID: "l-1")?.status == .uncertain)
            #expect(try await reopened.outboxWaitingCount() == 0)

            // The operator says resend.
            try await reopened.resendUncertain(localID: "l-1", atMilliseconds: clock.now)
            #expect(try await reopened.outboundMessage(localID: "l-1")?.status == .pending)
            guard case .accepted = try #require(try await sender.sendDue().first) else { Issue.record("not resent"); return }
            await #expect(throws: OutboxError.self) { try await reopened.resendUncertain(localID: "l-2", atMilliseconds: clock.now) }
        }
        #expect(fake.messageRequests.count == 3)
        for index in 1...3 {
            #expect(try await reopened.outboundMessage(localID: "l-\(index)")?.status == .accepted)
        }
    }

    @Test func statusesPostedBeforeTheSendAnswerAreApplied() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        let database = temp.database
        try await database.enqueueOutbound(in: conversation, content: .text(body: "Merci !"), localID: "l-race",
                                           at: clock.now / 1000)
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await withListener(database) { webhookURL in
            fake.postStatuses(.init(url: webhookURL, appSecret: Fixtures.appSecret, order: .reversed,
                                    delay: .zero, beforeResponse: true))
            try await fake.withRunning { url in
                let outcomes = try await sender(database, url, clock: clock).sendDue()
                guard case .accepted(_, let wamid) = try #require(outcomes.first) else { Issue.record("\(outcomes)"); return }
                #expect(fake.postedWebhooks == 3)
                #expect(fake.webhookErrors.isEmpty)
                // All three statuses were committed before the answer; the message is read.
                let message = try #require(try await database.outboundMessage(localID: "l-race"))
                #expect(message.wamid == wamid)
                #expect(message.status == .read)
            }
        }
    }

    @Test func statusWebhooksAdvanceTheTicksAfterTheAnswer() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let database = temp.database
        try await database.enqueueOutbound(in: conversation, content: .text(body: "Merci !"), localID: "l-1", at: 1_764_403_300)
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await withListener(database) { webhookURL in
            fake.postStatuses(.init(url: webhookURL, appSecret: Fixtures.appSecret, order: .shuffled, delay: .milliseconds(5)))
            try await fake.withRunning { url in
                _ = try await sender(database, url, clock: ManualClock()).sendDue()
                let read = try await waitUntil(timeout: 30) { fake.postedWebhooks == 3 }
                #expect(read, "\(fake.webhookErrors)")
                #expect(try await database.outboundMessage(localID: "l-1")?.status == .read)
            }
        }
    }

    @Test func unreachableAPIIsRetriedNotMadeUncertain() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        try await temp.database.enqueueOutbound(in: conversation, content: .text(body: "un"), localID: "l-1", at: clock.now / 1000)
        let api = GraphCloudClient(configuration: .init(graphURL: "http://127.0.0.1:1", graphVersion: "v26.0",
                                                        accessToken: accessToken, timeout: .milliseconds(300)),
                                   logger: quiet)
        let outcomes = try await OutboxSender(database: temp.database, client: api, clock: clock.senderClock, logger: quiet).sendDue()
        guard case .retryScheduled = try #require(outcomes.first) else { Issue.record("\(outcomes)"); return }
        #expect(try await temp.database.outboundMessage(localID: "l-1")?.status == .pending)
    }

    @Test func readReceiptsQueuedByAttachedScreensAreSentOnceAndStaleOnesDropped() async throws {
        let (temp, _) = try await inboxWithConversation()
        defer { temp.remove() }
        let clock = ManualClock()
        let database = temp.database
        let business = PhoneNumberID("106540352242922")
        try await database.queueReadReceipt(for: "wamid.old", from: business, at: clock.now - 2 * 3_600_000)
        try await database.queueReadReceipt(for: "wamid.IN.1", from: business, at: clock.now)
        try await database.queueReadReceipt(for: "wamid.IN.1", from: business, at: clock.now)  // asked twice
        try await database.queueReadReceipt(for: "wamid.IN.2", from: business, at: clock.now)

        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { url in
            let sender = sender(database, url, clock: clock)
            try await sender.sendReadReceipts()
            try await sender.sendReadReceipts()  // nothing left to send
            // A receipt the Cloud API refuses is tried three times, then given up.
            try await database.queueReadReceipt(for: "wamid.IN.3", from: business, at: clock.now)
            fake.setAccessToken("a-token-that-was-rotated")
            for _ in 0..<4 { try await sender.sendReadReceipts() }
        }
        let receipts = fake.messageRequests.compactMap {
            (try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any])?["message_id"] as? String
        }
        // The receipt asked for two hours ago was dropped; the one asked twice went once.
        #expect(receipts == ["wamid.IN.1", "wamid.IN.2", "wamid.IN.3", "wamid.IN.3", "wamid.IN.3"])
        #expect(try await database.dueReadReceipts(staleBefore: 0, maxAttempts: 3).isEmpty)
    }

    @Test func approvedTemplatesAreCachedForScreensWithoutAToken() async throws {
        let (temp, _) = try await inboxWithConversation()
        defer { temp.remove() }
        #expect(try TemplateCacheRefresher.cached(in: temp.database) == nil)
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.addTemplates([
            .init(id: "1", name: "order_update", language: "fr", body: "Bonjour {{1}}, votre commande {{2}} est partie."),
            .init(id: "2", name: "old_promo", language: "en", status: "REJECTED", body: "Hi"),
        ])
        try await fake.withRunning { url in
            let refresher = TemplateCacheRefresher(database: temp.database, client: client(url), account: "102290129340398",
                                                   logger: quiet)
            await refresher.refresh()
            // A failed fetch keeps what the cache had.
            fake.setAccessToken("rotated")
            await refresher.refresh()
        }
        let cached = try #require(try TemplateCacheRefresher.cached(in: temp.database))
        #expect(cached.templates.map(\.template.name) == ["order_update"])
        #expect(cached.templates.first?.template.bodyParameterCount == 2)
    }
}
