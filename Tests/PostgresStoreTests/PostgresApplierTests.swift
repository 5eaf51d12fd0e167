import Foundation
import InboxTesting
import Logging
import PostgresNIO
@testable import PostgresStore
import StoreContract
import Testing

// What only the PostgreSQL applier has to show: journal ids with gaps, and a failure that
// is no body's fault (the server's, here a full disk) leaving the mark where it was.

private func message(_ id: String, text: String = "hello") -> Data {
    Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
          "contacts":[{"profile":{"name":"Amélie"},"wa_id":"33612345678"}],
          "messages":[{"from":"33612345678","id":"\(id)","timestamp":"1764400000","type":"text","text":{"body":"\(text)"}}]}}]}]}
        """.utf8)
}

private func messageCount(_ store: PostgresStore) async throws -> Int {
    for try await count in try await store.client.query("SELECT count(*) FROM message").decode(Int.self) { return count }
    return 0
}

@Suite(.postgresServer) struct PostgresApplierTests {
    @Test func progressCountsPastGapsInTheJournalIDs() async throws {
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { store in
            let first = try await store.appendJournal([JournalAppend(receivedAt: 10, body: message("wamid.gap.1"))])
            // An append that rolled back leaves its id unused.
            try await store.client.query("SELECT nextval(pg_get_serial_sequence('journal', 'id'))")
            try await store.client.query("SELECT nextval(pg_get_serial_sequence('journal', 'id'))")
            let second = try await store.appendJournal([JournalAppend(receivedAt: 20, body: message("wamid.gap.2"))])
            #expect(second[0] == first[0] + 3)
            let waiting = try await store.journalProgressNow()
            #expect(waiting == JournalProgress(journaled: second[0], applied: 0, oldestWaitingReceivedAt: 10))
            let applied = try await store.applyJournalBatch(limit: 10)
            #expect(applied.map(\.journalID) == first + second)
            #expect(try await store.journalProgressNow() == JournalProgress(journaled: second[0], applied: second[0],
                                                                            oldestWaitingReceivedAt: nil))
            #expect(try await messageCount(store) == 2)
        }
    }

    @Test func aFailureThatIsNoBodysFaultIsThrownAndTheMarkStays() async throws {
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { store in
            try await store.client.query("""
                CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'no space left on device' USING ERRCODE = 'disk_full'; END $$
                """)
            try await store.client.query("""
                CREATE TRIGGER test_disk_full BEFORE INSERT ON message FOR EACH ROW EXECUTE FUNCTION test_disk_full()
                """)
            let ids = try await store.appendJournal([JournalAppend(receivedAt: 1, body: message("wamid.full.1")),
                                                     JournalAppend(receivedAt: 1, body: message("wamid.full.2"))])
            let thrown = await #expect(throws: PSQLError.self) { try await store.applyJournalBatch(limit: 10) }
            #expect(thrown?.serverInfo?[.sqlState] == "53100")
            #expect(try await store.journalAppliedThrough() == 0)
            #expect(try await store.unappliedJournal(limit: 10).map(\.id) == ids)
            // Nothing of the batch stayed: the contact written before the refused insert is gone too.
            for try await count in try await store.client.query("SELECT count(*) FROM contact").decode(Int.self) {
                #expect(count == 0)
            }
            // Once the disk has room, the same bodies apply.
            try await store.client.query("DROP TRIGGER test_disk_full ON message")
            #expect(try await store.applyJournalBatch(limit: 10).map(\.outcome) == [.stored(events: 1, deadLetters: 0),
                                                                                    .stored(events: 1, deadLetters: 0)])
            #expect(try await messageCount(store) == 2)
        }
    }
}
