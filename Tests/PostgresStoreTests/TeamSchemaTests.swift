import Foundation
import InboxCore
import InboxTesting
import Logging
import PostgresNIO
@testable import PostgresStore
import StoreContract
import Testing

/// Migration v6 ("team rows") keeps SQLite's rules for its tables: the audit trail is
/// append-only but for pruning, label and canned reply names are unique as SQLite's NOCASE
/// compares them, a label's conversations follow the conversation's activity, and what
/// agents do reaches the change feed.
@Suite(.postgresServer) struct TeamSchemaTests {
    /// Runs `sql` (no rows wanted).
    private func run(_ store: PostgresStore, _ sql: String) async throws {
        try await store.client.query(PostgresQuery(unsafeSQL: sql), logger: quiet)
    }

    private func int(_ store: PostgresStore, _ sql: String) async throws -> Int64? {
        for try await value in try await store.client.query(PostgresQuery(unsafeSQL: sql), logger: quiet).decode(Int64?.self) {
            return value
        }
        return nil
    }

    /// One customer and their conversation (id 1).
    private func conversation(_ store: PostgresStore) async throws {
        try await run(store, "INSERT INTO contact (id, wa_id, created_at) VALUES (1, '33612345678', 100)")
        try await run(store, """
            INSERT INTO conversation (id, phone_number_id, contact_id, last_activity_at) VALUES (1, '106540352242922', 1, 100)
            """)
    }

    @Test func theTeamRowsAreVersionSix() async throws {
        try await withFreshStore { store, _ in
            let versions = try await store.schemaVersions()
            #expect(Array(versions.prefix(6)) == [1, 2, 3, 4, 5, 6])
        }
    }

    @Test func theAuditTrailIsAppendOnlyButForPruning() async throws {
        try await withFreshStore { store, _ in
            try await run(store, """
                INSERT INTO audit (at, account, action, detail) VALUES (100, 'alice', 'claim', '{}'), (200, 'alice', 'note', '{}')
                """)
            await #expect(throws: PSQLError.self) { try await run(store, "UPDATE audit SET account = 'mallory'") }
            await #expect(throws: PSQLError.self) { try await run(store, "DELETE FROM audit") }
            // Pruning: older than its cutoff only, in its own transaction.
            try await store.client.withTransaction(logger: quiet) { connection in
                try await connection.query("SET LOCAL wabox.audit_cutoff = '150'", logger: quiet)
                try await connection.query("DELETE FROM audit WHERE at < 150", logger: quiet)
            }
            await #expect(throws: (any Error).self) {
                try await store.client.withTransaction(logger: quiet) { connection in
                    try await connection.query("SET LOCAL wabox.audit_cutoff = '150'", logger: quiet)
                    try await connection.query("DELETE FROM audit", logger: quiet)
                }
            }
            #expect(try await int(store, "SELECT count(*) FROM audit") == 1)
            #expect(try await int(store, "SELECT min(at) FROM audit") == 200)
        }
    }

    @Test func namesAreUniqueAsSQLiteNocaseComparesThem() async throws {
        try await withFreshStore { store, _ in
            try await run(store, "INSERT INTO label (name, created_at) VALUES ('VIP', 1), ('Été', 1)")
            await #expect(throws: PSQLError.self) { try await run(store, "INSERT INTO label (name, created_at) VALUES ('vip', 2)") }
            // NOCASE folds ASCII letters only: SQLite holds these two as different names.
            try await run(store, "INSERT INTO label (name, created_at) VALUES ('été', 2)")
            try await run(store, "INSERT INTO canned_reply (name, text, updated_at) VALUES ('hello', 'Hello!', 1)")
            await #expect(throws: PSQLError.self) {
                try await run(store, "INSERT INTO canned_reply (name, text, updated_at) VALUES ('HELLO', 'Hi', 2)")
            }
        }
    }

    @Test func aLabelsConversationsFollowTheirActivityAndAgentsWorkReachesTheFeed() async throws {
        try await withFreshStore { store, _ in
            try await conversation(store)
            try await run(store, "INSERT INTO label (id, name, created_at) VALUES (1, 'VIP', 100)")
            let before = try await store.feedPosition()
            try await run(store, """
                INSERT INTO conversation_label (label_id, conversation_id, last_activity_at, added_at) VALUES (1, 1, 100, 100)
                """)
            try await run(store, "INSERT INTO note (conversation_id, agent, text, created_at) VALUES (1, 'alice', 'call back', 100)")
            try await run(store, "INSERT INTO agent_typing (conversation_id, agent, until_ms) VALUES (1, 'alice', 100000)")
            try await run(store, "INSERT INTO agent_read (agent, conversation_id, inbound_seen) VALUES ('alice', 1, 3)")
            try await run(store, "INSERT INTO canned_reply (name, text, updated_at) VALUES ('hello', 'Hello!', 1)")
            let batch = try await store.feedChanges(after: before, limit: 100)
            for kind in [ChangeBatch.Kind.label, .note, .typing, .read] {
                #expect(batch.conversations[kind] == [ConversationID(rawValue: 1)], "\(kind)")
            }
            #expect(batch.workbench)

            try await run(store, "UPDATE conversation SET last_activity_at = 500 WHERE id = 1")
            #expect(try await int(store, "SELECT last_activity_at FROM conversation_label") == 500)
        }
    }
}
