import Foundation
import InboxCore
import InboxTesting
import Logging
import PostgresNIO
@testable import PostgresStore
import StoreContract
import Testing

// What only PostgreSQL's search has to show: the words are written behind the applier (a
// row written since is found by the scan, before and after), and writing them is no change
// the screens' feed reports.

private func pendingCount(_ store: PostgresStore) async throws -> Int {
    for try await count in try await store.client.query("""
        SELECT (SELECT count(*) FROM message WHERE search_words IS NULL) + (SELECT count(*) FROM contact WHERE search_key IS NULL)
        """).decode(Int.self) { return count }
    return 0
}

@Suite(.postgresServer) struct PostgresSearchTests {
    @Test func rowsAreFoundBeforeAndAfterTheIndexerAndIndexingIsNoChange() async throws {
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { store in
            try await store.appendJournal([JournalAppend(receivedAt: 1_764_400_000, body: UpdateBodies.text(
                id: "wamid.pg.search.1", from: "33612345678", name: "Amélie Laurent", timestamp: 1_764_400_000,
                body: "Ma commande est arrivée"))])
            _ = try await store.applyJournalBatch(limit: 10)
            // The applier's pass indexed what it applied.
            #expect(try await pendingCount(store) == 0)
            // A reply an agent writes waits for the next pass, and is found meanwhile.
            let conversation = try await store.conversationForSending(to: "4915112345678", on: PhoneNumberID("106540352242922"),
                                                                      at: 1_764_400_100)
            try await store.enqueueOutbound(in: conversation, content: .text(body: "Ihre Bestellung ist unterwegs"),
                                            localID: "reply-1", at: 1_764_400_100, agent: "amelie")
            #expect(try await pendingCount(store) == 2, "the new message and the new contact")
            #expect(try await store.searchHits("bestellung", limit: 10, includeDeleted: false).map(\.localID) == ["reply-1"])
            #expect(try await store.conversations(withContactMatching: "49151", limit: 10).map(\.contactWaID) == ["4915112345678"])
            let before = try await store.feedPosition()
            #expect(try await store.indexSearchText() == 2)
            #expect(try await store.feedPosition() == before, "writing search words noted a change for the screens")
            #expect(try await store.searchHits("bestellung", limit: 10, includeDeleted: false).map(\.localID) == ["reply-1"])
            #expect(try await store.searchHits("commande arrivee", limit: 10, includeDeleted: false).map(\.wamid)
                    == ["wamid.pg.search.1"])
            #expect(try await store.conversations(withContactMatching: "amel", limit: 10).map(\.contactWaID) == ["33612345678"])
            // An edit of the text is a change, and its words go back to the indexer.
            try await store.client.query("UPDATE message SET text = 'Ihre Bestellung kommt morgen' WHERE local_id = 'reply-1'")
            #expect(try await store.feedPosition() > before)
            #expect(try await pendingCount(store) == 1)
            #expect(try await store.searchHits("morgen", limit: 10, includeDeleted: false).map(\.localID) == ["reply-1"])
            #expect(try await store.indexSearchText() == 1)
            #expect(try await store.searchHits("morgen", limit: 10, includeDeleted: false).map(\.localID) == ["reply-1"])
            #expect(try await store.searchHits("unterwegs", limit: 10, includeDeleted: false).isEmpty)
        }
    }

    @Test func aHugeWordIsIndexedByItsFirst2000Bytes() async throws {
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { store in
            try await store.appendJournal([JournalAppend(receivedAt: 1_764_400_000, body: UpdateBodies.text(
                id: "wamid.pg.huge.1", from: "33612345678", timestamp: 1_764_400_000,
                body: String(repeating: "ü", count: 5_000) + " done"))])
            _ = try await store.applyJournalBatch(limit: 10)
            #expect(try await pendingCount(store) == 0)
            #expect(try await store.searchHits("uuuu", limit: 5, includeDeleted: false).map(\.wamid) == ["wamid.pg.huge.1"])
            // Kept whole up to the 2,000 bytes a lexeme may hold (a tsvector keeps a lexeme's
            // length in 11 bits: a longer one would be stored cut at length mod 2048).
            let lengths = try await store.client.query("""
                SELECT length(w.lexeme) FROM message m, unnest(m.search_words) AS w WHERE m.wamid = 'wamid.pg.huge.1'
                ORDER BY 1
                """).collect().map { try $0.decode(Int.self) }
            #expect(lengths == [4, 2_000], "\(lengths)")
        }
    }
}
