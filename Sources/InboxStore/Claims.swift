import Foundation
import GRDB
import InboxCore

// Agents claim conversations, give them back, resolve and reopen them.

/// What became of a claim.
public enum ClaimOutcome: Sendable, Equatable {
    case claimed
    /// The viewer already had it.
    case alreadyYours
    /// Another agent has it; nothing changed (claim again with `takeOver`).
    case heldBy(String)
}

extension InboxDatabase {
    /// Claims a conversation for `agent`. Another agent's claim is kept unless `takeOver`.
    public func claim(_ conversation: ConversationID, for agent: String, takeOver: Bool = false,
                      at now: Int64) async throws -> ClaimOutcome {
        try await writer.write { db in
            let holder = try String.fetchOne(db, sql: "SELECT assigned_to FROM conversation WHERE id = ?",
                                             arguments: [conversation.rawValue])
            if holder == agent { return .alreadyYours }
            if let holder, !takeOver { return .heldBy(holder) }
            try db.execute(sql: "UPDATE conversation SET assigned_to = ?, assigned_at = ? WHERE id = ?",
                           arguments: [agent, now, conversation.rawValue])
            return .claimed
        }
    }

    /// Gives a conversation back to the team; only its holder can.
    public func release(_ conversation: ConversationID, by agent: String) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: """
                UPDATE conversation SET assigned_to = NULL, assigned_at = NULL WHERE id = ? AND assigned_to = ?
                """, arguments: [conversation.rawValue, agent])
            return db.changesCount > 0
        }
    }

    /// Marks a conversation resolved; the customer's next message reopens it.
    public func resolve(_ conversation: ConversationID, at now: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE conversation SET resolved_at = ? WHERE id = ?", arguments: [now, conversation.rawValue])
        }
    }

    public func reopen(_ conversation: ConversationID) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE conversation SET resolved_at = NULL WHERE id = ?", arguments: [conversation.rawValue])
        }
    }
}
