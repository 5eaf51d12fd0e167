import CloudAPI
import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// Template updates applied to the cached templates at once, and account alerts that halt
/// the sender for longer than a restart.
@Suite struct TemplateUpdateTests {
    private func template(_ name: String, _ language: String, category: String = "UTILITY",
                          quality: String? = nil) -> MessageTemplate {
        MessageTemplate(id: name, name: name, language: language, status: "APPROVED", category: category,
                        components: [.init(type: "BODY", text: "Hi {{1}}")], quality: quality)
    }

    @Test func updatesNewerThanTheListingWinOlderOnesDoNot() {
        let listing = [template("order_update", "fr", quality: "GREEN"), template("spring_sale", "en_US"),
                       template("welcome", "en"), template("welcome", "pt_BR")]
        let updates = [
            TemplateState(name: "spring_sale", language: "en_US", status: "REJECTED", reason: "INVALID_FORMAT", statusAt: 2000),
            // Older than the listing: the listing is newer news.
            TemplateState(name: "order_update", language: "fr", status: "PAUSED", statusAt: 500, quality: "RED", qualityAt: 500),
            // No language: every language of the name.
            TemplateState(name: "welcome", language: nil, status: "DISABLED", statusAt: 2000),
            TemplateState(name: "brand_new", language: "de", status: "APPROVED", statusAt: 2100, category: "MARKETING",
                          categoryAt: 2100),
        ]
        let entries = TemplateEntry.merge(listing, fetchedAt: 1000, updates: updates)
        #expect(entries.map(\.template.name) == ["brand_new", "order_update", "spring_sale", "welcome", "welcome"])
        #expect(entries.map(\.template.status) == ["APPROVED", "APPROVED", "REJECTED", "DISABLED", "DISABLED"])
        #expect(entries.filter(\.isOffered).map(\.template.name) == ["order_update"])
        #expect(entries[1].template.quality == "GREEN")
        #expect(entries[2].reason == "INVALID_FORMAT")
        #expect(entries[2].updatedAt == 2000)
        #expect(entries[0].fromUpdatesOnly)
        #expect(entries[0].template.category == "MARKETING")
        // Quality fills in where the listing gave none, however old.
        let unrated = TemplateEntry.merge([template("order_update", "fr")], fetchedAt: 1000, updates: [updates[1]])
        #expect(unrated.first?.template.quality == "RED")
        #expect(unrated.first?.template.status == "APPROVED")
    }

    @Test func aRejectedTemplateLeavesTheCacheAtOnce() async throws {
        let (temp, _) = try await inboxWithConversation()
        defer { temp.remove() }
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.addTemplates([
            .init(id: "1", name: "order_update", language: "fr", body: "Bonjour {{1}}"),
            .init(id: "2", name: "spring_sale", language: "en_US", category: "MARKETING", body: "20% off"),
        ])
        try await fake.withRunning { url in
            await TemplateCacheRefresher(database: temp.database, client: client(url), account: UpdateBodies.account,
                                         logger: quiet).refresh()
        }
        let fetched = try #require(try TemplateCacheRefresher.cached(in: temp.database))
        #expect(fetched.templates.filter(\.isOffered).map(\.template.name) == ["order_update", "spring_sale"])
        let now = Int64(Date().timeIntervalSince1970) + 1
        _ = try await temp.database.ingest(Fixtures.webhook(body: UpdateBodies.templateStatus(
            name: "spring_sale", language: "en_US", event: "REJECTED", reason: "INVALID_FORMAT", time: now)))
        _ = try await temp.database.ingest(Fixtures.webhook(body: UpdateBodies.templateQuality(
            name: "order_update", language: "fr", score: "YELLOW", time: now)))
        let cached = try #require(try TemplateCacheRefresher.cached(in: temp.database))
        #expect(cached.templates.filter(\.isOffered).map(\.template.name) == ["order_update"])
        #expect(cached.templates.map(\.template.quality) == ["YELLOW", nil])
        #expect(cached.templates.last?.template.status == "REJECTED")
    }

    @Test func anAlertHaltOutlastsARestartAndLiftsWithMeta() async throws {
        let (temp, conversation) = try await inboxWithConversation()
        defer { temp.remove() }
        let database = temp.database
        let clock = ManualClock()
        try await database.enqueueOutbound(in: conversation, content: .text(body: "hello"), localID: "l-1", at: clock.now / 1000)
        _ = try await database.ingest(Fixtures.webhook(body: UpdateBodies.accountUpdate(
            event: "DISABLED_UPDATE", banState: "DISABLE", time: 1000)))
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { url in
            let sender = OutboxSender(database: database, client: client(url), clock: clock.senderClock, logger: quiet)
            try await sender.prepareForStart()
            #expect(try await sender.sendDue().isEmpty)
            #expect(fake.messageRequests.isEmpty)
            #expect(try await database.sendingHalt()?.isAccountAlert == true)
            // Meta reinstates the account: the next pass sends.
            _ = try await database.ingest(Fixtures.webhook(body: UpdateBodies.accountUpdate(
                event: "DISABLED_UPDATE", banState: "REINSTATE", time: 1100)))
            let outcomes = try await sender.sendDue()
            #expect(outcomes.count == 1)
            #expect(fake.messageRequests.count == 1)
        }
    }
}
