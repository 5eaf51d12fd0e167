import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InboxCore
@testable import InboxStore
import InboxTesting
import Logging
import NIOCore
import Testing
import WebhookServer

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
private let signatureField = HTTPField.Name("X-Hub-Signature-256")!

private func textBody(_ id: String, text: String = "hello") -> Data {
    Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
          "contacts":[{"profile":{"name":"Customer"},"wa_id":"33611111111"}],
          "messages":[{"from":"33611111111","id":"\(id)","timestamp":"1764400000","type":"text","text":{"body":"\(text)"}}]}}]}]}
        """.utf8)
}

private func signed(_ body: Data) -> HTTPFields {
    [signatureField: WebhookSignature(appSecret: Fixtures.appSecret).header(for: body), .contentType: "application/json"]
}

private func makeApp(_ database: InboxDatabase,
                     applier: JournalApplierService.Configuration? = .init()) -> some ApplicationProtocol {
    makeWebhookApplication(
        configuration: WebhookConfiguration(host: "127.0.0.1", port: 0, verifyToken: Fixtures.verifyToken,
                                            appSecret: Fixtures.appSecret),
        database: database, logger: quiet, now: { 1_764_500_000 }, applier: applier)
}

/// The listener with its journal and applier: what `/healthz` says of the lag, what a
/// start after a crash does, pruning, and a full disk.
@Suite(.timeLimit(.minutes(1))) struct JournalListenerTests {
    @Test func healthzReportsBodiesJournaledButNotApplied() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        try await makeApp(temp.database, applier: nil).test(.live) { client in
            for index in 0..<3 {
                let body = textBody("wamid.lag.\(index)")
                try await client.execute(uri: "/webhook", method: .post, headers: signed(body), body: ByteBuffer(bytes: body)) {
                    #expect($0.status == .ok)
                }
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(String(buffer: response.body).contains(#""applier_lag":3"#), "\(String(buffer: response.body))")
            }
            #expect(try temp.database.applyWholeJournal() == 3)
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(String(buffer: response.body).contains(#""applier_lag":0"#), "\(String(buffer: response.body))")
            }
        }
    }

    /// Bodies a crash left past the mark are applied when the listener starts, without a
    /// new webhook to wake the applier.
    @Test func theListenerAppliesWhatTheLastRunLeftAtStart() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        // Journaled by the last run (another process): nothing rings this one's applier.
        _ = try InboxDatabase(path: temp.path).appendToJournalSync((0..<40).map {
            JournalEntry(receivedAt: 1_764_500_000, body: textBody("wamid.left.\($0)"))
        })
        try await makeApp(temp.database).test(.live) { _ in
            let applied = try await waitUntil { try temp.database.journalProgress().lag == 0 }
            #expect(applied, "not applied at start: \(String(describing: try? temp.database.journalProgress()))")
            #expect(try temp.database.counts().messages == 40)
        }
    }

    /// Once caught up, the applier prunes applied bodies older than the retention (by its
    /// clock) and keeps the newer ones; the inbox keeps every message.
    @Test func theApplierPrunesBodiesPastTheRetention() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let now: Int64 = 1_800_000_000
        _ = try temp.database.appendToJournalSync((0..<25).map {
            JournalEntry(receivedAt: now - 3 * 86_400, body: textBody("wamid.old.\($0)"))
        })
        _ = try temp.database.appendToJournalSync((0..<5).map {
            JournalEntry(receivedAt: now - 3_600, body: textBody("wamid.recent.\($0)"))
        })
        var applier = JournalApplierService.Configuration()
        applier.retention = .seconds(86_400)
        applier.pruneChunk = 10
        applier.now = { now }
        try await makeApp(temp.database, applier: applier).test(.live) { _ in
            let pruned = try await waitUntil { try temp.database.counts().webhooks == 5 }
            #expect(pruned, "journal after pruning: \(String(describing: try? temp.database.counts()))")
            #expect(try temp.database.counts().messages == 30)
            #expect(try temp.database.journalProgress().lag == 0)
        }
    }

    /// `audit_retention`: the lease holder's applier prunes older trail entries in chunks,
    /// even with the journal kept forever, and only those.
    @Test func theApplierPrunesTheAuditTrailPastItsRetention() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let now: Int64 = 1_800_000_000
        _ = try await temp.database.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try temp.database.conversations().items.first?.id)
        for index in 0..<30 {
            try await temp.database.addNote(to: conversation, text: "note \(index)", at: index < 25 ? now - 3 * 86_400 : now - 60)
        }
        var applier = JournalApplierService.Configuration()
        applier.retention = nil
        applier.auditRetention = .seconds(86_400)
        applier.pruneChunk = 10
        applier.now = { now }
        let entries: @Sendable () throws -> [AuditEntry] = {
            var entries: [AuditEntry] = []
            try temp.database.auditTrail { entries.append($0) }
            return entries
        }
        try await makeApp(temp.database, applier: applier).test(.live) { _ in
            let pruned = try await waitUntil { try entries().count == 5 }
            #expect(pruned, "trail after pruning: \(String(describing: try? entries().count)) entries")
            #expect(try entries().allSatisfy { $0.at == now - 60 })
            #expect(try temp.database.notes(in: conversation).count == 30)
        }
    }

    /// A full disk: the journal commit fails and the webhook is answered 500 (Meta
    /// retries); once there is room again the same webhook is acknowledged and applied.
    @Test func aFullDiskIsAnswered500AndRecovers() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let body = textBody("wamid.full.1", text: String(repeating: "x", count: 200_000))
        try await makeApp(temp.database).test(.live) { client in
            let pages = try await temp.database.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
            try await temp.database.writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA max_page_count = \(pages)")
            }
            try await client.execute(uri: "/webhook", method: .post, headers: signed(body), body: ByteBuffer(bytes: body)) {
                #expect($0.status == .internalServerError)
                #expect(String(buffer: $0.body).contains("retried"))
            }
            #expect(try temp.database.counts().webhooks == 0)
            try await temp.database.writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA max_page_count = 1073741823")
            }
            try await client.execute(uri: "/webhook", method: .post, headers: signed(body), body: ByteBuffer(bytes: body)) {
                #expect($0.status == .ok)
            }
            let applied = try await waitUntil { try temp.database.message("wamid.full.1") != nil }
            #expect(applied, "not applied after the disk had room again: \(String(describing: try? temp.database.journalProgress()))")
        }
    }
}
