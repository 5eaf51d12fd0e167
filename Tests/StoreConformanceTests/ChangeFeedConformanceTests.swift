import Foundation
import InboxCore
import InboxStore
import InboxTesting
import PostgresStore
import StoreContract
import Testing

// The change feed the applier leaves, on both stores: a screen on either reloads the same
// rows for the same webhooks.

@Suite(.postgresServer) struct ChangeFeedConformanceTests {
    @Test(arguments: Backend.allCases)
    func appliedWebhooksLeaveTheSameChangesOnBothStores(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let feed = try #require(store as? any ChangeFeedStore)
            #expect(try await feed.feedPosition() == 0)
            try await store.journalAndApply([Bodies.text("wamid.a1", from: "33611111111", timestamp: 1_764_400_000)])
            let first = try await feed.feedChanges(after: 0, limit: 2_000)
            #expect(!first.overflow && !first.workbench)
            let opened = try #require(first.conversations[.conversation]?.first, "a new conversation is a change: \(first)")
            #expect(first.conversations[.message] == [opened])
            // A status tick on it: a status change, of that conversation only.
            try await store.journalAndApply([Bodies.status("wamid.a1", "read", timestamp: 1_764_400_010)])
            let afterEcho = try await feed.feedPosition()
            try await store.journalAndApply([Bodies.echo("wamid.out1", to: "33611111111", timestamp: 1_764_400_020)])
            try await store.journalAndApply([Bodies.status("wamid.out1", "delivered", timestamp: 1_764_400_030)])
            let ticks = try await feed.feedChanges(after: afterEcho, limit: 2_000)
            #expect(ticks.conversations[.status] == [opened], "\(ticks)")
            #expect(ticks.allConversations == [opened])
            // A reaction, then a second customer.
            let beforeReaction = ticks.sequence
            try await store.journalAndApply([Bodies.reaction("wamid.r1", from: "33611111111", to: "wamid.out1", emoji: "👍",
                                                             timestamp: 1_764_400_040)])
            let reacted = try await feed.feedChanges(after: beforeReaction, limit: 2_000)
            #expect(reacted.conversations[.reaction] == [opened], "\(reacted)")
            try await store.journalAndApply([Bodies.text("wamid.b1", from: "33622222222", timestamp: 1_764_400_050)])
            let second = try await feed.feedChanges(after: reacted.sequence, limit: 2_000)
            let other = try #require(second.conversations[.conversation]?.first)
            #expect(other != opened && second.allConversations == [other], "\(second)")
            // A redelivered body changes nothing, so the feed stays where it was.
            let before = try await feed.feedPosition()
            try await store.journalAndApply([Bodies.text("wamid.b1", from: "33622222222", timestamp: 1_764_400_050)])
            #expect(try await feed.feedChanges(after: before, limit: 2_000).isEmpty)
        }
    }
}
