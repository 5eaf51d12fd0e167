import GRDB
import InboxCore

/// Finds or creates the contact for an identity, merging two contacts when a webhook shows
/// they are the same customer (a phone number and a user id seen apart before).
struct ContactResolver {
    let db: Database

    func resolve(_ identity: ContactIdentity, at timestamp: Int64) throws -> ContactID {
        let byWaID = try identity.waID.flatMap { try contactID(column: "wa_id", value: $0.rawValue) }
        let byUserID = try identity.userID.flatMap { try contactID(column: "user_id", value: $0.rawValue) }
        let id: Int64
        switch (byWaID, byUserID) {
        case let (wa?, user?) where wa != user:
            id = min(wa, user)
            try merge(max(wa, user), into: id)
        case let (wa?, _):
            id = wa
        case let (nil, user?):
            id = user
        case (nil, nil):
            try db.cachedStatement(sql: """
                INSERT INTO contact (wa_id, user_id, parent_user_id, username, name, profile_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [identity.waID?.rawValue, identity.userID?.rawValue,
                                         identity.parentUserID?.rawValue, identity.username, identity.name,
                                         timestamp, timestamp])
            return ContactID(rawValue: db.lastInsertedRowID)
        }
        // Identifiers fill in when missing and change only when this event is the newest
        // word on the profile; names and usernames likewise.
        try db.cachedStatement(sql: """
            UPDATE contact SET
                wa_id = CASE WHEN :wa IS NOT NULL AND (wa_id IS NULL OR :at >= profile_at) THEN :wa ELSE wa_id END,
                user_id = CASE WHEN :user IS NOT NULL AND (user_id IS NULL OR :at >= profile_at) THEN :user ELSE user_id END,
                parent_user_id = coalesce(:parent, parent_user_id),
                username = CASE WHEN :username IS NOT NULL AND (username IS NULL OR :at >= profile_at) THEN :username ELSE username END,
                name = CASE WHEN :name IS NOT NULL AND (name IS NULL OR :at >= profile_at) THEN :name ELSE name END,
                profile_at = max(profile_at, :at)
            WHERE id = :id
            """).execute(arguments: [
                "wa": identity.waID?.rawValue, "user": identity.userID?.rawValue,
                "parent": identity.parentUserID?.rawValue, "username": identity.username,
                "name": identity.name, "at": timestamp, "id": id,
            ])
        return ContactID(rawValue: id)
    }

    /// `user_changed_number`: the contact keeps its history and takes the new number. A
    /// contact already known by the new number is merged in.
    func changeNumber(of contact: ContactID, to newWaID: WaID, at timestamp: Int64) throws {
        try db.execute(sql: "UPDATE contact SET wa_id = NULL WHERE id = ?", arguments: [contact.rawValue])
        if let other = try contactID(column: "wa_id", value: newWaID.rawValue), other != contact.rawValue {
            try merge(other, into: contact.rawValue)
        } else {
            try db.execute(sql: "UPDATE contact SET wa_id = ? WHERE id = ?", arguments: [newWaID.rawValue, contact.rawValue])
        }
    }

    /// `user_changed_user_id`: as `changeNumber`, for the business-scoped user id.
    func changeUserID(of contact: ContactID, to newUserID: UserID, at timestamp: Int64) throws {
        try db.execute(sql: "UPDATE contact SET user_id = NULL WHERE id = ?", arguments: [contact.rawValue])
        if let other = try contactID(column: "user_id", value: newUserID.rawValue), other != contact.rawValue {
            try merge(other, into: contact.rawValue)
        } else {
            try db.execute(sql: "UPDATE contact SET user_id = ? WHERE id = ?", arguments: [newUserID.rawValue, contact.rawValue])
        }
    }

    private func contactID(column: String, value: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM contact WHERE \(column) = ?"), arguments: [value])
    }

    /// Moves everything of contact `source` to `target` and deletes `source`.
    private func merge(_ source: Int64, into target: Int64) throws {
        guard let old = try Row.fetchOne(db, sql: "SELECT * FROM contact WHERE id = ?", arguments: [source]) else { return }
        let conversations = try Row.fetchAll(db, sql: "SELECT id, phone_number_id FROM conversation WHERE contact_id = ?",
                                             arguments: [source])
        for conversation in conversations {
            let sourceConversation: Int64 = conversation["id"]
            if let targetConversation = try Int64.fetchOne(db, sql: """
                SELECT id FROM conversation WHERE contact_id = ? AND phone_number_id = ?
                """, arguments: [target, conversation["phone_number_id"]]) {
                try db.execute(sql: "UPDATE message SET conversation_id = ? WHERE conversation_id = ?",
                               arguments: [targetConversation, sourceConversation])
                try db.execute(sql: """
                    UPDATE conversation SET
                        unread_count = unread_count + (SELECT unread_count FROM conversation WHERE id = :source),
                        inbound_count = inbound_count + (SELECT inbound_count FROM conversation WHERE id = :source),
                        assigned_to = coalesce(assigned_to, (SELECT assigned_to FROM conversation WHERE id = :source)),
                        assigned_at = coalesce(assigned_at, (SELECT assigned_at FROM conversation WHERE id = :source))
                    WHERE id = :target;
                    -- Each agent has seen what they saw of both.
                    INSERT INTO agent_read (agent, conversation_id, inbound_seen)
                    SELECT agent, :target, inbound_seen FROM agent_read WHERE conversation_id = :source
                    ON CONFLICT (agent, conversation_id) DO UPDATE SET inbound_seen = inbound_seen + excluded.inbound_seen;
                    """, arguments: ["source": sourceConversation, "target": targetConversation])
                try db.execute(sql: "DELETE FROM conversation WHERE id = ?", arguments: [sourceConversation])
                try Self.recomputeSummary(of: targetConversation, in: db)
            } else {
                try db.execute(sql: "UPDATE conversation SET contact_id = ? WHERE id = ?",
                               arguments: [target, sourceConversation])
            }
        }
        try db.execute(sql: "UPDATE OR IGNORE reaction SET from_contact_id = ? WHERE from_contact_id = ?",
                       arguments: [target, source])
        try db.execute(sql: "DELETE FROM reaction WHERE from_contact_id = ?", arguments: [source])
        try db.execute(sql: "DELETE FROM contact WHERE id = ?", arguments: [source])
        try db.execute(sql: """
            UPDATE contact SET
                wa_id = coalesce(wa_id, :wa), user_id = coalesce(user_id, :user),
                parent_user_id = coalesce(parent_user_id, :parent),
                username = CASE WHEN username IS NULL OR :at > profile_at THEN coalesce(:username, username) ELSE username END,
                name = CASE WHEN name IS NULL OR :at > profile_at THEN coalesce(:name, name) ELSE name END,
                profile_at = max(profile_at, :at),
                created_at = min(created_at, :created)
            WHERE id = :id
            """, arguments: [
                "wa": old["wa_id"] as String?, "user": old["user_id"] as String?,
                "parent": old["parent_user_id"] as String?, "username": old["username"] as String?,
                "name": old["name"] as String?, "at": old["profile_at"] as Int64,
                "created": old["created_at"] as Int64, "id": target,
            ])
    }

    /// Recomputes a conversation's last activity, last message and service-window start
    /// from its messages.
    static func recomputeSummary(of conversation: Int64, in db: Database) throws {
        try db.execute(sql: """
            UPDATE conversation SET
                last_activity_at = coalesce((SELECT max(timestamp) FROM message WHERE conversation_id = :id), 0),
                last_message_id = (SELECT id FROM message WHERE conversation_id = :id ORDER BY timestamp DESC, id DESC LIMIT 1),
                last_inbound_at = (SELECT max(timestamp) FROM message
                                   WHERE conversation_id = :id AND direction = 'in' AND type != 'system')
            WHERE id = :id
            """, arguments: ["id": conversation])
    }
}
