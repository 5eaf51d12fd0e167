import Foundation
import GRDB
import InboxCore

// The agent's workbench: canned replies the team shares, private notes on a conversation,
// and labels to sort the queue. Each change is a commit, so every attached screen sees it
// at once through the change signal.

extension InboxDatabase {
    // MARK: - Canned replies

    /// The team's canned replies, by name.
    public func cannedReplies() throws -> [CannedReply] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT name, CAST(text AS BLOB) AS text FROM canned_reply ORDER BY name").map {
                CannedReply(name: $0["name"], text: Self.wholeText($0, "text") ?? "")
            }
        }
    }

    /// Adds a team-wide canned reply, or replaces the text of the one with that name, as
    /// this database's account. Returns whether one was replaced.
    @discardableResult
    public func saveCannedReply(_ reply: CannedReply, at now: Int64) async throws -> Bool {
        if let problem = CannedReply.validate(name: reply.name) { throw WorkbenchError(problem) }
        guard !reply.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw WorkbenchError("the text of reply \(reply.name) is empty: give the words to send")
        }
        let identity = self.identity
        return try await writer.write { db in
            let existed = try Bool.fetchOne(db, sql: "SELECT 1 FROM canned_reply WHERE name = ?", arguments: [reply.name]) ?? false
            try db.execute(sql: """
                INSERT INTO canned_reply (name, text, created_by, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET text = excluded.text, created_by = excluded.created_by,
                                                 updated_at = excluded.updated_at
                """, arguments: [reply.name, reply.text, identity.account, now])
            try Self.audit(existed ? .replyEdit : .replyAdd, by: identity, conversation: nil,
                           detail: AuditDetail(text: reply.text, reply: reply.name), at: now, in: db)
            return existed
        }
    }

    /// Removes a team-wide canned reply; false when there is none by that name.
    public func removeCannedReply(named name: String, at now: Int64) async throws -> Bool {
        let identity = self.identity
        return try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT name, CAST(text AS BLOB) AS text FROM canned_reply WHERE name = ?",
                                             arguments: [name]) else { return false }
            try db.execute(sql: "DELETE FROM canned_reply WHERE name = ?", arguments: [name])
            try Self.audit(.replyRemove, by: identity, conversation: nil,
                           detail: AuditDetail(text: Self.wholeText(row, "text"), reply: row["name"]), at: now, in: db)
            return true
        }
    }

    // MARK: - Notes

    /// Writes a private note on a conversation as this database's account. It is stored,
    /// shown to every agent, and never goes to the outbox.
    @discardableResult
    public func addNote(to conversation: ConversationID, text: String, at now: Int64) async throws -> ConversationNote {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw WorkbenchError("the note is empty: type the words, then Enter") }
        let identity = self.identity
        return try await writer.write { db in
            try db.execute(sql: "INSERT INTO note (conversation_id, agent, text, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [conversation.rawValue, identity.account, text, now])
            let id = db.lastInsertedRowID
            try Self.audit(.note, by: identity, conversation: conversation, detail: AuditDetail(text: text, noteID: id),
                           at: now, in: db)
            return ConversationNote(id: id, conversationID: conversation, agent: identity.account, text: text,
                                    createdAt: now)
        }
    }

    /// A conversation's notes, oldest first.
    public func notes(in conversation: ConversationID) throws -> [ConversationNote] {
        try writer.read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, agent, CAST(text AS BLOB) AS text, created_at FROM note
                WHERE conversation_id = ? ORDER BY created_at, id
                """), arguments: [conversation.rawValue]).map {
                ConversationNote(id: $0["id"], conversationID: conversation, agent: $0["agent"],
                                 text: Self.wholeText($0, "text") ?? "", createdAt: $0["created_at"])
            }
        }
    }

    // MARK: - Labels

    /// Every label ever made, by name (for completion).
    public func labels() throws -> [String] {
        try writer.read { db in try String.fetchAll(db, sql: "SELECT name FROM label ORDER BY name") }
    }

    /// Puts `label` on the conversation, or takes it off when it is there, as this
    /// database's account. A new name makes the label. Returns whether it is on now.
    @discardableResult
    public func toggleLabel(_ label: String, on conversation: ConversationID, at now: Int64) async throws -> Bool {
        if let problem = LabelName.validate(label) { throw WorkbenchError(problem) }
        let identity = self.identity
        return try await writer.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO label (name, created_by, created_at) VALUES (?, ?, ?)",
                           arguments: [label, identity.account, now])
            guard let labelRow = try Row.fetchOne(db, sql: "SELECT id, name FROM label WHERE name = ?", arguments: [label]) else {
                throw WorkbenchError("label \(label) could not be made")
            }
            let labelID: Int64 = labelRow["id"], name: String = labelRow["name"]
            try db.execute(sql: "DELETE FROM conversation_label WHERE label_id = ? AND conversation_id = ?",
                           arguments: [labelID, conversation.rawValue])
            if db.changesCount > 0 {
                try Self.audit(.labelRemove, by: identity, conversation: conversation, detail: AuditDetail(label: name),
                               at: now, in: db)
                return false
            }
            try db.execute(sql: """
                INSERT INTO conversation_label (label_id, conversation_id, last_activity_at, added_by, added_at)
                SELECT ?, id, last_activity_at, ?, ? FROM conversation WHERE id = ?
                """, arguments: [labelID, identity.account, now, conversation.rawValue])
            guard db.changesCount > 0 else { throw WorkbenchError("no conversation \(conversation.rawValue) to label") }
            try Self.audit(.labelAdd, by: identity, conversation: conversation, detail: AuditDetail(label: name), at: now,
                           in: db)
            return true
        }
    }

    /// The SQL of a conversation's labels as a JSON array, by name; `cv` is the conversation.
    static let labelsColumn = """
        (SELECT json_group_array(name) FROM (SELECT l.name FROM conversation_label cl JOIN label l ON l.id = cl.label_id
                                            WHERE cl.conversation_id = cv.id ORDER BY l.name)) AS labels
        """
}
