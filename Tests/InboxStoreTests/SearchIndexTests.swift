import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// Full-text indexing runs after the commits (migration v6): search must find committed
/// messages the indexer has not reached, and the indexer must resume after a crash.
@Suite struct SearchIndexTests {
    /// The same file opened without an indexer: what it commits stays unindexed, as when the
    /// process dies between a group commit and the indexer's transaction.
    private func withoutIndexer(_ temp: TemporaryDatabase) throws -> InboxDatabase {
        try InboxDatabase(path: temp.path, configuration: .init(indexesSearch: false))
    }

    private func ids(_ hits: [MessageHit]) -> [String] {
        hits.compactMap { $0.message.wamid?.rawValue }
    }

    @Test func searchFindsCommittedMessagesBeforeTheyAreIndexed() async throws {
        // No indexer in the test's own opening either: it would index the file at open,
        // at whatever moment a loaded machine gives it.
        let temp = try TemporaryDatabase(configuration: .init(indexesSearch: false))
        defer { temp.remove() }
        let db = try withoutIndexer(temp)
        _ = try await db.ingest([
            textWebhook(id: "wamid.1", from: "33612345678", timestamp: 1_764_500_001, body: "Bonjour, ma commande n'est pas arrivée"),
            textWebhook(id: "wamid.2", from: "33612345679", timestamp: 1_764_500_002, body: "Où est ma COMMANDE 4471 ?"),
            textWebhook(id: "wamid.3", from: "33612345678", timestamp: 1_764_500_003, body: "Hello there"),
        ])
        #expect(try db.messagesAwaitingSearchIndex() == 3)

        let queries = ["commande", "Comm", "arrivee", "ma commande", "4471", "mande", "hello commande", "où"]
        let expected = [["wamid.2", "wamid.1"], ["wamid.2", "wamid.1"], ["wamid.1"], ["wamid.2", "wamid.1"], ["wamid.2"],
                        [], [], ["wamid.2"]]
        for (query, ids) in zip(queries, expected) {
            #expect(self.ids(try db.searchMessages(query)) == ids, "before indexing: \(query)")
        }
        #expect(try db.searchMessages("arrivee").first?.snippet.contains("arrivée") == true)

        // Indexed, the same queries give the same messages, from the index this time.
        #expect(try db.indexMessagesForSearch() == 3)
        #expect(try db.messagesAwaitingSearchIndex() == 0)
        for (query, ids) in zip(queries, expected) {
            #expect(self.ids(try db.searchMessages(query)) == ids, "after indexing: \(query)")
        }

        // Indexed and waiting messages together, newest first, within the limit.
        _ = try await db.ingest(textWebhook(id: "wamid.4", from: "33612345670", timestamp: 1_764_500_004,
                                            body: "commande reçue, merci"))
        #expect(ids(try db.searchMessages("commande")) == ["wamid.4", "wamid.2", "wamid.1"])
        #expect(ids(try db.searchMessages("commande", limit: 2)) == ["wamid.4", "wamid.2"])
    }

    @Test func indexingResumesFromTheMarkWhenTheDatabaseOpens() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let crashed = try withoutIndexer(temp)
        let count = 1_300  // several of the indexer's transactions
        for start in stride(from: 0, to: count, by: 250) {
            _ = try await crashed.ingest((start..<min(count, start + 250)).map { index in
                textWebhook(id: "wamid.m\(index)", from: String(33_600_000_000 + index % 40),
                            timestamp: 1_764_500_000 + Int64(index), body: "parcel \(index) delayed")
            })
        }
        #expect(try crashed.messagesAwaitingSearchIndex() == count)
        #expect(try crashed.searchMessages("delayed", limit: 5_000).count == count)

        // Restarted: the new process indexes what the old one left, in the background.
        let restarted = try InboxDatabase(path: temp.path)
        #expect(try await waitUntil { try restarted.messagesAwaitingSearchIndex() == 0 })
        #expect(try restarted.searchMessages("delayed", limit: 5_000).count == count)
        #expect(ids(try restarted.searchMessages("parcel 1299")) == ["wamid.m1299"])
        #expect(try restarted.integrityCheck() == "ok")

        // Then each commit is followed by indexing, replies from the screen included.
        _ = try await restarted.ingest(textWebhook(id: "wamid.late", from: "33600000001", timestamp: 1_764_600_000,
                                                   body: "still delayed"))
        let conversation = try #require(try restarted.conversations(limit: 1).items.first)
        _ = try await restarted.enqueueOutbound(in: conversation.id, content: .text(body: "sorry, it is delayed"),
                                                localID: "local-1", at: 1_764_600_001)
        #expect(try await waitUntil { try restarted.messagesAwaitingSearchIndex() == 0 })
        #expect(try restarted.searchMessages("delayed", limit: 5_000).count == count + 2)
    }
}
