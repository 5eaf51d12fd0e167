import GRDB
import InboxCore

/// Finds or creates the contact for an identity, merging two contacts when a webhook shows
/// they are the same customer (a phone number and a user id seen apart before).
struct ContactResolver {
    let statements: IngestStatements
    private var db: Database { statements.db }

    /// - Parameter timestampIsInboundMessage: the event is a customer's message, whose
    ///   timestamp its conversation keeps as `last_inbound_at`: then that column already
    ///   tells how new the profile is, and `profile_at` is written only when the profile
    ///   changes. (Writing it for every message cost about 30% of an ingest commit.)
    func resolve(_ identity: ContactIdentity, at timestamp: Int64,
                 timestampIsInboundMessage: Bool = false) throws -> ContactID {
        let byWaID = try identity.waID.flatMap { try contact(.contactByWaID, $0.rawValue) }
        let byUserID = try identity.userID.flatMap { try contact(.contactByUserID, $0.rawValue) }
        var identity = identity
        let current: StoredContact
        switch (byWaID, byUserID) {
        case let (wa?, user?) where wa.id != user.id:
            let id = min(wa.id, user.id)
            try merge(max(wa.id, user.id), into: id)
            guard let merged = try contact(.contactByID, id) else { return ContactID(rawValue: id) }
            current = merged
        case let (wa?, _):
            current = wa
        case let (nil, user?):
            current = user
        case (nil, nil):
            if let previous = try previousOwner(of: identity) {
                // A late message from the number the contact had before: theirs, and the
                // number they have now stays.
                identity.waID = nil
                current = previous
                break
            }
            try statements(.insertContact).execute(identity.waID?.rawValue, identity.userID?.rawValue,
                                                   identity.parentUserID?.rawValue, identity.username, identity.name,
                                                   timestamp, timestamp)
            return ContactID(rawValue: db.lastInsertedRowID)
        }
        try update(current, with: identity, at: timestamp, bumpProfileTime: !timestampIsInboundMessage)
        return ContactID(rawValue: current.id)
    }

    /// A contact's row as `resolve` compares it with what a webhook says.
    private struct StoredContact {
        var id: Int64
        var waID: String?
        var userID: String?
        var parentUserID: String?
        var username: String?
        var name: String?
        var profileAt: Int64
    }

    /// Identifiers fill in when missing and change only when this event is the newest word
    /// on the profile; names and usernames likewise. The newest word is the later of
    /// `profile_at` and the contact's newest inbound message. Nearly every webhook repeats
    /// what the row already says, and then nothing is written (`profile_at` moves only for
    /// events that are not inbound messages). An update of the searched columns fires the
    /// search-key triggers, which costs a statement journal and a savepoint of each
    /// full-text index: it is kept for real changes.
    private func update(_ row: StoredContact, with identity: ContactIdentity, at timestamp: Int64,
                        bumpProfileTime: Bool) throws {
        // Compared byte for byte, as SQL compares: Swift's `==` would take a name that only
        // changed its Unicode normalisation for the same one.
        func differ(_ new: String?, _ old: String?) -> Bool {
            guard let new else { return false }
            guard let old else { return true }
            return !new.utf8.elementsEqual(old.utf8)
        }
        // Asked only when a value differs from one already set, which is rare.
        var knownNewest: Bool?
        func isNewest() throws -> Bool {
            if let knownNewest { return knownNewest }
            var newest = timestamp >= row.profileAt
            if newest, let lastInbound = try statements(.contactLastInbound).int64(row.id) {
                newest = timestamp >= lastInbound
            }
            knownNewest = newest
            return newest
        }
        func changed(_ new: String?, _ old: String?) throws -> String? {
            guard differ(new, old) else { return nil }
            return try old == nil || isNewest() ? new : nil
        }
        let parent = differ(identity.parentUserID?.rawValue, row.parentUserID) ? identity.parentUserID?.rawValue : nil
        let username = try changed(identity.username, row.username)
        let name = try changed(identity.name, row.name)
        let newWaID = try changed(identity.waID?.rawValue, row.waID)
        let newUserID = try changed(identity.userID?.rawValue, row.userID)
        if newWaID != nil || newUserID != nil || username != nil || name != nil || parent != nil {
            try statements(.updateContact).execute(newWaID, newUserID, parent, username, name, timestamp, row.id)
        } else if bumpProfileTime, timestamp > row.profileAt {
            try statements(.contactProfileAt).execute(timestamp, row.id)
        }
    }

    /// The contact that had `identity`'s number before a `user_changed_number`, when the
    /// identity does not show another person: a user id or a profile name of its own that
    /// differs from the contact's. Such a person has the number now: it is forgotten as the
    /// contact's previous one, and they become a contact of their own.
    private func previousOwner(of identity: ContactIdentity) throws -> StoredContact? {
        guard let waID = identity.waID?.rawValue,
              let owner = try contact(.contactByPreviousNumber, waID) else { return nil }
        func differ(_ new: String?, _ old: String?) -> Bool {
            guard let new, let old else { return false }
            return !new.utf8.elementsEqual(old.utf8)
        }
        if differ(identity.userID?.rawValue, owner.userID) || differ(identity.name, owner.name)
            || differ(identity.username, owner.username) {
            try db.execute(sql: "DELETE FROM contact_previous_number WHERE wa_id = ?", arguments: [waID])
            return nil
        }
        return owner
    }

    /// `user_changed_number`: the contact keeps its history and takes the new number; the
    /// old one is kept as a previous number of theirs. A contact already known by the new
    /// number is merged in.
    func changeNumber(of contact: ContactID, to newWaID: WaID, at timestamp: Int64) throws {
        if let oldWaID = try String.fetchOne(db, sql: "SELECT wa_id FROM contact WHERE id = ?", arguments: [contact.rawValue]),
           oldWaID != newWaID.rawValue {
            try db.execute(sql: """
                INSERT INTO contact_previous_number (wa_id, contact_id, changed_at) VALUES (?, ?, ?)
                ON CONFLICT (wa_id) DO UPDATE SET contact_id = excluded.contact_id, changed_at = excluded.changed_at
                """, arguments: [oldWaID, contact.rawValue, timestamp])
        }
        try db.execute(sql: "DELETE FROM contact_previous_number WHERE wa_id = ?", arguments: [newWaID.rawValue])
        try db.execute(sql: "UPDATE contact SET wa_id = NULL WHERE id = ?", arguments: [contact.rawValue])
        if let other = try self.contact(.contactByWaID, newWaID.rawValue)?.id, other != contact.rawValue {
            try merge(other, into: contact.rawValue)
        } else {
            try db.execute(sql: "UPDATE contact SET wa_id = ? WHERE id = ?", arguments: [newWaID.rawValue, contact.rawValue])
        }
    }

    /// `user_changed_user_id`: as `changeNumber`, for the business-scoped user id.
    func changeUserID(of contact: ContactID, to newUserID: UserID, at timestamp: Int64) throws {
        try db.execute(sql: "UPDATE contact SET user_id = NULL WHERE id = ?", arguments: [contact.rawValue])
        if let other = try self.contact(.contactByUserID, newUserID.rawValue)?.id, other != contact.rawValue {
            try merge(other, into: contact.rawValue)
        } else {
            try db.execute(sql: "UPDATE contact SET user_id = ? WHERE id = ?", arguments: [newUserID.rawValue, contact.rawValue])
        }
    }

    private func contact(_ query: IngestStatements.Query, _ value: some RawBindable) throws -> StoredContact? {
        try statements(query).row(value) { row in
            StoredContact(id: row.int64(0), waID: row.string(1), userID: row.string(2), parentUserID: row.string(3),
                          username: row.string(4), name: row.string(5), profileAt: row.int64(6))
        }
    }

    /// Moves everything of contact `source` to `target` and deletes `source`.
    private func merge(_ source: Int64, into target: Int64) throws {
        guard let old = try Row.fetchOne(db, sql: "SELECT * FROM contact WHERE id = ?", arguments: [source]) else { return }
        // How new each side's profile is, before their conversations move.
        let sourceProfileAt = try profileTime(of: source), targetProfileAt = try profileTime(of: target)
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
        try db.execute(sql: "UPDATE contact_previous_number SET contact_id = ? WHERE contact_id = ?",
                       arguments: [target, source])
        try db.execute(sql: "DELETE FROM reaction WHERE from_contact_id = ?", arguments: [source])
        // The newer marketing preference of the two stands (a stop must not be lost).
        try db.execute(sql: """
            UPDATE contact SET (marketing_opt_out_at, marketing_pref_at) =
                (SELECT marketing_opt_out_at, marketing_pref_at FROM contact WHERE id = :source)
            WHERE id = :target
              AND (SELECT marketing_pref_at FROM contact WHERE id = :source) > coalesce(marketing_pref_at, -1)
            """, arguments: ["source": source, "target": target])
        try db.execute(sql: "DELETE FROM contact WHERE id = ?", arguments: [source])
        try db.execute(sql: """
            UPDATE contact SET
                wa_id = coalesce(wa_id, :wa), user_id = coalesce(user_id, :user),
                parent_user_id = coalesce(parent_user_id, :parent),
                username = CASE WHEN username IS NULL OR :at > :targetAt THEN coalesce(:username, username) ELSE username END,
                name = CASE WHEN name IS NULL OR :at > :targetAt THEN coalesce(:name, name) ELSE name END,
                profile_at = max(:targetAt, :at),
                created_at = min(created_at, :created)
            WHERE id = :id
            """, arguments: [
                "wa": old["wa_id"] as String?, "user": old["user_id"] as String?,
                "parent": old["parent_user_id"] as String?, "username": old["username"] as String?,
                "name": old["name"] as String?, "at": sourceProfileAt, "targetAt": targetProfileAt,
                "created": old["created_at"] as Int64, "id": target,
            ])
    }

    /// The time of the newest event that spoke for a contact's profile: `profile_at`, or the
    /// newest inbound message, which does not write `profile_at` (see `resolve`).
    private func profileTime(of contact: Int64) throws -> Int64 {
        try Int64.fetchOne(db, sql: """
            SELECT max(profile_at, coalesce((SELECT max(last_inbound_at) FROM conversation WHERE contact_id = :id), 0))
            FROM contact WHERE id = :id
            """, arguments: ["id": contact]) ?? 0
    }

    /// Recomputes a conversation's last activity, last message and service-window start
    /// from its messages.
    static func recomputeSummary(of conversation: Int64, in db: Database) throws {
        try db.execute(sql: """
            UPDATE conversation SET
                last_activity_at = coalesce((SELECT max(timestamp) FROM message
                                             WHERE conversation_id = :id AND type != 'reaction'), 0),
                last_message_id = (SELECT id FROM message WHERE conversation_id = :id AND type != 'reaction'
                                   ORDER BY timestamp DESC, id DESC LIMIT 1),
                last_inbound_at = (SELECT max(timestamp) FROM message
                                   WHERE conversation_id = :id AND direction = 'in' AND type != 'system')
            WHERE id = :id
            """, arguments: ["id": conversation])
    }
}
