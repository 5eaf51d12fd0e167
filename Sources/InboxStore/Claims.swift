import Foundation
import GRDB
import InboxCore

// Agents claim conversations, give them back, resolve and reopen them. Each is done as this
// database's account and recorded in the audit trail.

extension InboxDatabase {
    /// Claims a conversation for this database's account. Another agent's claim is kept
    /// unless `takeOver`.
    public func claim(_ conversation: ConversationID, takeOver: Bool = false, at now: Int64) async throws -> ClaimOutcome {
        let identity = self.identity
        return try await writer.write { db in
            let holder = try String.fetchOne(db, sql: "SELECT assigned_to FROM conversation WHERE id = ?",
                                             arguments: [conversation.rawValue])
            if holder == identity.account { return .alreadyYours }
            if let holder, !takeOver { return .heldBy(holder) }
            try db.execute(sql: "UPDATE conversation SET assigned_to = ?, assigned_at = ? WHERE id = ?",
                           arguments: [identity.account, now, conversation.rawValue])
            guard db.changesCount > 0 else { throw WorkbenchError("no conversation \(conversation.rawValue) to claim") }
            try Self.audit(.claim, by: identity, conversation: conversation, detail: AuditDetail(takenFrom: holder), at: now,
                           in: db)
            return .claimed
        }
    }

    /// Gives a conversation back to the team; only its holder can.
    public func release(_ conversation: ConversationID, at now: Int64) async throws -> Bool {
        let identity = self.identity
        return try await writer.write { db in
            try db.execute(sql: """
                UPDATE conversation SET assigned_to = NULL, assigned_at = NULL WHERE id = ? AND assigned_to = ?
                """, arguments: [conversation.rawValue, identity.account])
            guard db.changesCount > 0 else { return false }
            try Self.audit(.release, by: identity, conversation: conversation, detail: AuditDetail(), at: now, in: db)
            return true
        }
    }

    /// Marks a conversation resolved; the customer's next message reopens it.
    public func resolve(_ conversation: ConversationID, at now: Int64) async throws {
        let identity = self.identity
        try await writer.write { db in
            try db.execute(sql: "UPDATE conversation SET resolved_at = ? WHERE id = ?", arguments: [now, conversation.rawValue])
            guard db.changesCount > 0 else { return }
            try Self.audit(.resolve, by: identity, conversation: conversation, detail: AuditDetail(), at: now, in: db)
        }
    }

    /// Reopens a resolved conversation (an agent's `x` again; the customer's message
    /// reopens one by itself, unaudited).
    public func reopen(_ conversation: ConversationID, at now: Int64) async throws {
        let identity = self.identity
        try await writer.write { db in
            try db.execute(sql: "UPDATE conversation SET resolved_at = NULL WHERE id = ? AND resolved_at IS NOT NULL",
                           arguments: [conversation.rawValue])
            guard db.changesCount > 0 else { return }
            try Self.audit(.reopen, by: identity, conversation: conversation, detail: AuditDetail(), at: now, in: db)
        }
    }
}
