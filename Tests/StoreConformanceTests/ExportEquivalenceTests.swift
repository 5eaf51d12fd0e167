import Foundation
import InboxCore
import InboxStore
import InboxTesting
import PostgresStore
import StoreContract
import Testing

// `wabox export` reads the same lines from SQLite and from PostgreSQL for the same inbox:
// every kind of message, edits and deletions, reactions, calls, replies and their ticks.

/// The export of `store`, one JSON line per record.
func exportLines(_ store: any ExportStore, contact: String? = nil, showDeleted: Bool = false) async throws -> [String] {
    var lines: [String] = []
    _ = try await store.exportRecords(contact: contact, showDeleted: showDeleted) { lines.append($0.jsonLine) }
    return lines
}

/// Where two exports part, for a failure message.
func firstDifference(_ sqlite: [String], _ postgres: [String]) -> String {
    guard sqlite != postgres else { return "none" }
    let index = zip(sqlite, postgres).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(sqlite.count, postgres.count)
    return "\(sqlite.count) lines on SQLite, \(postgres.count) on PostgreSQL; line \(index):\n"
        + "SQLite     \(index < sqlite.count ? sqlite[index] : "none")\nPostgreSQL \(index < postgres.count ? postgres[index] : "none")"
}

@Suite(.postgresServer) struct ExportEquivalenceTests {
    private static let amelie = "33612345678", jonas = "4915112345678"

    /// Webhooks of every kind the export shows.
    private static let bodies: [Data] = [
        UpdateBodies.text(id: "wamid.x.1", from: amelie, timestamp: 1_764_400_000, body: "Bonjour, où est ma commande ?"),
        UpdateBodies.image(id: "wamid.x.2", from: amelie, timestamp: 1_764_400_010, caption: "le colis abîmé"),
        UpdateBodies.text(id: "wamid.x.3", from: jonas, name: "Jonas Weber", timestamp: 1_764_400_020,
                          body: "a NUL\u{0}inside, \"quotes\" and a\nnewline"),
        UpdateBodies.edit(id: "wamid.x.4", of: "wamid.x.1", from: amelie, timestamp: 1_764_400_030,
                          body: "Bonjour, où est ma commande 4471 ?"),
        UpdateBodies.captionEdit(id: "wamid.x.5", of: "wamid.x.2", from: amelie, timestamp: 1_764_400_040,
                                 caption: "le colis abîmé, photo 2"),
        UpdateBodies.text(id: "wamid.x.6", from: jonas, name: "Jonas Weber", timestamp: 1_764_400_050, body: "vergessen Sie das"),
        UpdateBodies.revoke(id: "wamid.x.7", of: "wamid.x.6", from: jonas, name: "Jonas Weber", timestamp: 1_764_400_060),
        UpdateBodies.call(id: "wacid.x.8", from: jonas, name: "Jonas Weber", event: "connect", timestamp: 1_764_400_070),
        UpdateBodies.call(id: "wacid.x.8", from: jonas, name: "Jonas Weber", event: "terminate", timestamp: 1_764_400_130,
                          status: "COMPLETED", duration: 60),
        Bodies.reaction("wamid.x.9", from: amelie, to: "wamid.x.2", emoji: "😢", timestamp: 1_764_400_140),
        Bodies.echo("wamid.x.10", to: amelie, timestamp: 1_764_400_150, text: "Nous regardons, Amélie"),
        UpdateBodies.interactiveWithoutPayload(id: "wamid.x.11", from: jonas, name: "Jonas Weber", timestamp: 1_764_400_160),
        UpdateBodies.preference(waID: amelie, value: "stop", timestamp: 1_764_400_170),
    ]

    @Test func everyKindOfRowExportsTheSameFromBothStores() async throws {
        try await withBothStores { sqlite, postgres in
            let outbox = PostgresOutbox(store: postgres, claimant: LeaseClaimant(pid: 1, host: "test"))
            try await outbox.renewPresence()
            try await sqlite.journalAndApply(Self.bodies)
            try await postgres.journalAndApply(Self.bodies)
            // A reply from wabox, accepted, with its ticks; one refused; one waiting.
            let agent = sqlite.identity.account
            let phone = PhoneNumberID(Bodies.phoneNumberID)
            for (localID, text) in [("reply-1", "Votre colis part demain"), ("reply-2", "Refusé"), ("reply-3", "En attente")] {
                let onSQLite = try await sqlite.conversationForSending(to: Self.amelie, on: phone, at: 1_764_400_200)
                try await sqlite.enqueueOutbound(in: onSQLite, content: .text(body: text), localID: localID, at: 1_764_400_200)
                let onPostgres = try await postgres.conversationForSending(to: Self.amelie, on: phone, at: 1_764_400_200)
                try await postgres.enqueueOutbound(in: onPostgres, content: .text(body: text), localID: localID,
                                                   at: 1_764_400_200, agent: agent)
            }
            for store in [sqlite, outbox] as [any OutboxStore] {
                _ = try #require(try await store.claimOutbound(localID: "reply-1", nowMilliseconds: 1_764_400_201_000))
                try await store.markAccepted(localID: "reply-1", wamid: MessageID("wamid.out.1"), heldForQualityReview: false,
                                             at: 1_764_400_201)
                _ = try #require(try await store.claimOutbound(localID: "reply-2", nowMilliseconds: 1_764_400_201_000))
                try await store.markFailed(localID: "reply-2", error: APIErrorDetail(code: 131026, title: "Message undeliverable"),
                                           closesWindow: false, at: 1_764_400_202)
            }
            let statuses = [Bodies.status("wamid.out.1", "delivered", timestamp: 1_764_400_210),
                            Bodies.status("wamid.out.1", "sent", timestamp: 1_764_400_205)]
            try await sqlite.journalAndApply(statuses)
            try await postgres.journalAndApply(statuses)

            let expected = try await exportLines(sqlite), found = try await exportLines(postgres)
            #expect(found == expected, "\(firstDifference(expected, found))")
            // The inbox reached every kind of record it was meant to.
            let joined = expected.joined(separator: "\n")
            for piece in [#""edits":[{"#, #""deleted_at":1764400060"#, #""call":{"id":"wacid.x.8""#, #""emoji":"😢""#,
                          #""status":"delivered""#, #""code":131026"#, #""id":"local:reply-3""#, #""type":"image""#,
                          #""marketing_opt_out":true"#, #"a NUL\u0000inside"#] {
                #expect(joined.contains(piece), "no \(piece) in the export:\n\(joined)")
            }
            for showDeleted in [true, false] {
                for contact in [nil, "+" + Self.jonas] as [String?] {
                    let sqliteLines = try await exportLines(sqlite, contact: contact, showDeleted: showDeleted)
                    let postgresLines = try await exportLines(postgres, contact: contact, showDeleted: showDeleted)
                    let difference = firstDifference(sqliteLines, postgresLines)
                    #expect(postgresLines == sqliteLines, "contact \(contact ?? "all"), show_deleted \(showDeleted): \(difference)")
                }
            }
            await #expect(throws: UnknownContact.self) { _ = try await exportLines(postgres, contact: "@nobody") }
        }
    }
}
