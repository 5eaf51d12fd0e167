import Foundation
import GRDB
import InboxCore

// Agents tell each other who is typing a reply where.

extension InboxDatabase {
    /// Notes that this database's account is typing in a conversation until `until` (Unix
    /// milliseconds).
    public func noteTyping(in conversation: ConversationID, until: Int64) async throws {
        let agent = identity.account
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO agent_typing (conversation_id, agent, until_ms) VALUES (?, ?, ?)
                ON CONFLICT (conversation_id, agent) DO UPDATE SET until_ms = excluded.until_ms
                """, arguments: [conversation.rawValue, agent, until])
        }
    }

    /// Clears this account's typing notes: in one conversation, or everywhere.
    public func stopTyping(in conversation: ConversationID? = nil) async throws {
        let agent = identity.account
        try await writer.write { db in
            if let conversation {
                try db.execute(sql: "DELETE FROM agent_typing WHERE agent = ? AND conversation_id = ?",
                               arguments: [agent, conversation.rawValue])
            } else {
                try db.execute(sql: "DELETE FROM agent_typing WHERE agent = ?", arguments: [agent])
            }
        }
    }
}
