import Foundation
import GRDB
import InboxCore
@testable import InboxStore
import InboxTesting
import Testing

/// `accepted` rows: held templates, and databases from before the state existed.
@Suite struct AcceptedTests {
    @Test func aHeldTemplateIsKeptAsHeldUntilItMovesOn() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try db.conversations().items.first)
        try await db.enqueueTemplate(in: conversation.id, template: TemplateMessage(name: "order_update", languageCode: "en"),
                                     localID: "l-1", at: 1_764_404_000)
        try await db.markAccepted(localID: "l-1", wamid: "wamid.held", heldForQualityReview: true, at: 1_764_404_001)
        let held = try #require(try db.message("wamid.held"))
        #expect(held.status == .accepted)
        #expect(held.heldForQualityReview)
        _ = try await db.ingest(statusWebhook(id: "wamid.held", status: "sent", timestamp: 1_764_404_100))
        #expect(try db.message("wamid.held")?.status == .sent)
    }

    @Test func theMigrationMovesRowsWithoutStatusHistoryFromSentToAccepted() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let db = temp.database
        _ = try await db.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try db.conversations().items.first)
        for index in 1...3 {
            try await db.enqueueOutbound(in: conversation.id, content: .text(body: "reply \(index)"), localID: "l-\(index)",
                                         at: 1_764_404_000 + Int64(index))
        }
        try await db.markAccepted(localID: "l-1", wamid: "wamid.quiet", at: 1_764_404_010)
        try await db.markAccepted(localID: "l-2", wamid: "wamid.heard", at: 1_764_404_011)
        _ = try await db.ingest(statusWebhook(id: "wamid.heard", status: "sent", timestamp: 1_764_404_012))
        // As a database written before `accepted` existed: accepted rows said `sent`, and
        // the migration has not run.
        try await db.writer.write { db in
            try db.execute(sql: "UPDATE message SET status = 'sent' WHERE wamid = 'wamid.quiet'")
            try db.execute(sql: "ALTER TABLE message DROP COLUMN held_for_review")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = ?", arguments: [Schema.acceptedMigration])
        }
        let reopened = try InboxDatabase(path: temp.path)
        #expect(try reopened.message("wamid.quiet")?.status == .accepted)
        #expect(try reopened.message("wamid.heard")?.status == .sent)
        #expect(try await reopened.outboundMessage(localID: "l-3")?.status == .pending)
    }
}
