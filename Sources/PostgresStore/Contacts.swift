import InboxCore
import PostgresNIO

// Contacts and conversations on PostgreSQL, as SQLite's ContactResolver keeps them
// (InboxStore/ContactResolver.swift): one contact per customer, found by phone number or
// user id, two merged when a webhook shows they are the same customer, a late message from
// a number the contact had before still theirs, and a profile that only the newest word
// changes.

/// A contact's row as `resolve` compares it with what a webhook says.
struct StoredContact {
    var id: Int64
    var waID: String?
    var userID: String?
    var parentUserID: String?
    var username: String?
    var name: String?
    var profileAt: Int64

    static let columns = "c.id, c.wa_id, c.user_id, c.parent_user_id, c.username, c.name, c.profile_at"

    init(_ row: PostgresRow) throws {
        (id, waID, userID, parentUserID, username, name, profileAt) =
            try row.decode((Int64, String?, String?, String?, String?, String?, Int64).self)
    }
}

struct ContactWriter {
    let tx: Transaction

    /// The contact `identity` names, made when new. `timestampIsInboundMessage`: the event
    /// is a customer's message, whose time its conversation keeps as `last_inbound_at`, so
    /// `profile_at` moves only when the profile changes.
    func resolve(_ identity: ContactIdentity, at timestamp: Int64, timestampIsInboundMessage: Bool = false) async throws -> Int64 {
        var identity = ContactIdentity(waID: identity.waID.map { WaID(PostgresText.safe($0.rawValue)) },
                                       userID: identity.userID.map { UserID(PostgresText.safe($0.rawValue)) },
                                       parentUserID: identity.parentUserID.map { UserID(PostgresText.safe($0.rawValue)) },
                                       username: PostgresText.safe(identity.username), name: PostgresText.safe(identity.name))
        let byWaID = try await identity.waID.asyncMap { try await contact(where: "c.wa_id", is: $0.rawValue) } ?? nil
        let byUserID = try await identity.userID.asyncMap { try await contact(where: "c.user_id", is: $0.rawValue) } ?? nil
        let current: StoredContact
        switch (byWaID, byUserID) {
        case let (wa?, user?) where wa.id != user.id:
            let id = min(wa.id, user.id)
            try await merge(max(wa.id, user.id), into: id)
            guard let merged = try await contact(id: id) else { return id }
            current = merged
        case let (wa?, _):
            current = wa
        case let (nil, user?):
            current = user
        case (nil, nil):
            if let previous = try await previousOwner(of: identity) {
                identity.waID = nil
                current = previous
                break
            }
            let id = try await tx.int64("""
                INSERT INTO contact (wa_id, user_id, parent_user_id, username, name, profile_at, created_at)
                VALUES (\(identity.waID?.rawValue)::text, \(identity.userID?.rawValue)::text,
                        \(identity.parentUserID?.rawValue)::text, \(identity.username)::text, \(identity.name)::text,
                        \(timestamp), \(timestamp))
                RETURNING id
                """)
            guard let id else { throw PostgresStoreError("PostgreSQL stored a contact but returned no id: report this") }
            return id
        }
        try await update(current, with: identity, at: timestamp, bumpProfileTime: !timestampIsInboundMessage)
        return current.id
    }

    private func contact(where column: String, is value: String) async throws -> StoredContact? {
        try await tx.row(PostgresQuery(unsafeSQL: "SELECT \(StoredContact.columns) FROM contact c WHERE \(column) = $1",
                                       binds: binds(value)), read: StoredContact.init)
    }

    private func contact(id: Int64) async throws -> StoredContact? {
        try await tx.row("SELECT \(unescaped: StoredContact.columns) FROM contact c WHERE c.id = \(id)", read: StoredContact.init)
    }

    private func binds(_ value: String) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(value)
        return binds
    }

    /// Identifiers fill in when missing and change only when this event is the newest word
    /// on the profile (the later of `profile_at` and the newest inbound message).
    private func update(_ row: StoredContact, with identity: ContactIdentity, at timestamp: Int64,
                        bumpProfileTime: Bool) async throws {
        func differ(_ new: String?, _ old: String?) -> Bool {
            guard let new else { return false }
            guard let old else { return true }
            return !new.utf8.elementsEqual(old.utf8)
        }
        var knownNewest: Bool?
        func isNewest() async throws -> Bool {
            if let knownNewest { return knownNewest }
            var newest = timestamp >= row.profileAt
            if newest, let lastInbound = try await tx.int64("""
                SELECT max(last_inbound_at) FROM conversation WHERE contact_id = \(row.id)
                """) {
                newest = timestamp >= lastInbound
            }
            knownNewest = newest
            return newest
        }
        func changed(_ new: String?, _ old: String?) async throws -> String? {
            guard differ(new, old) else { return nil }
            if old == nil { return new }
            return try await isNewest() ? new : nil
        }
        let parent = differ(identity.parentUserID?.rawValue, row.parentUserID) ? identity.parentUserID?.rawValue : nil
        let username = try await changed(identity.username, row.username)
        let name = try await changed(identity.name, row.name)
        let newWaID = try await changed(identity.waID?.rawValue, row.waID)
        let newUserID = try await changed(identity.userID?.rawValue, row.userID)
        if newWaID != nil || newUserID != nil || username != nil || name != nil || parent != nil {
            try await tx.run("""
                UPDATE contact SET
                    wa_id = coalesce(\(newWaID)::text, wa_id), user_id = coalesce(\(newUserID)::text, user_id),
                    parent_user_id = coalesce(\(parent)::text, parent_user_id),
                    username = coalesce(\(username)::text, username), name = coalesce(\(name)::text, name),
                    profile_at = greatest(profile_at, \(timestamp))
                WHERE id = \(row.id)
                """)
        } else if bumpProfileTime, timestamp > row.profileAt {
            try await tx.run("UPDATE contact SET profile_at = \(timestamp) WHERE id = \(row.id)")
        }
    }

    /// The contact that had `identity`'s number before a `user_changed_number`, unless the
    /// identity shows another person (then the number is forgotten as that contact's).
    private func previousOwner(of identity: ContactIdentity) async throws -> StoredContact? {
        guard let waID = identity.waID?.rawValue,
              let owner = try await tx.row("""
                SELECT \(unescaped: StoredContact.columns) FROM contact_previous_number p JOIN contact c ON c.id = p.contact_id
                WHERE p.wa_id = \(waID)
                """, read: StoredContact.init) else { return nil }
        func differ(_ new: String?, _ old: String?) -> Bool {
            guard let new, let old else { return false }
            return !new.utf8.elementsEqual(old.utf8)
        }
        if differ(identity.userID?.rawValue, owner.userID) || differ(identity.name, owner.name)
            || differ(identity.username, owner.username) {
            try await tx.run("DELETE FROM contact_previous_number WHERE wa_id = \(waID)")
            return nil
        }
        return owner
    }

    /// `user_changed_number`: the contact keeps its history and takes the new number; the
    /// old one is kept as a previous number. A contact already known by the new number is
    /// merged in.
    func changeNumber(of contact: Int64, to newWaID: WaID, at timestamp: Int64) async throws {
        let newWaID = PostgresText.safe(newWaID.rawValue)
        if let oldWaID = try await tx.row("SELECT wa_id FROM contact WHERE id = \(contact)", read: { try $0.decode(String?.self) }) ?? nil,
           oldWaID != newWaID {
            try await tx.run("""
                INSERT INTO contact_previous_number (wa_id, contact_id, changed_at) VALUES (\(oldWaID), \(contact), \(timestamp))
                ON CONFLICT (wa_id) DO UPDATE SET contact_id = excluded.contact_id, changed_at = excluded.changed_at
                """)
        }
        try await tx.run("DELETE FROM contact_previous_number WHERE wa_id = \(newWaID)")
        try await tx.run("UPDATE contact SET wa_id = NULL WHERE id = \(contact)")
        if let other = try await self.contact(where: "c.wa_id", is: newWaID)?.id, other != contact {
            try await merge(other, into: contact)
        } else {
            try await tx.run("UPDATE contact SET wa_id = \(newWaID) WHERE id = \(contact)")
        }
    }

    /// `user_changed_user_id`: as `changeNumber`, for the business-scoped user id.
    func changeUserID(of contact: Int64, to newUserID: UserID, at timestamp: Int64) async throws {
        let newUserID = PostgresText.safe(newUserID.rawValue)
        try await tx.run("UPDATE contact SET user_id = NULL WHERE id = \(contact)")
        if let other = try await self.contact(where: "c.user_id", is: newUserID)?.id, other != contact {
            try await merge(other, into: contact)
        } else {
            try await tx.run("UPDATE contact SET user_id = \(newUserID) WHERE id = \(contact)")
        }
    }

    /// Moves everything of contact `source` to `target` and deletes `source`.
    private func merge(_ source: Int64, into target: Int64) async throws {
        guard let old = try await tx.row("""
            SELECT wa_id, user_id, parent_user_id, username, name, created_at FROM contact WHERE id = \(source)
            """, read: { try $0.decode((String?, String?, String?, String?, String?, Int64).self) }) else { return }
        let sourceProfileAt = try await profileTime(of: source), targetProfileAt = try await profileTime(of: target)
        let conversations = try await tx.rows("SELECT id, phone_number_id FROM conversation WHERE contact_id = \(source)") {
            try $0.decode((Int64, String).self)
        }
        for (sourceConversation, phoneNumberID) in conversations {
            if let targetConversation = try await tx.int64("""
                SELECT id FROM conversation WHERE contact_id = \(target) AND phone_number_id = \(phoneNumberID)
                """) {
                try await tx.run("UPDATE message SET conversation_id = \(targetConversation) WHERE conversation_id = \(sourceConversation)")
                try await tx.run("""
                    UPDATE conversation t SET
                        unread_count = t.unread_count + s.unread_count, inbound_count = t.inbound_count + s.inbound_count,
                        assigned_to = coalesce(t.assigned_to, s.assigned_to), assigned_at = coalesce(t.assigned_at, s.assigned_at)
                    FROM conversation s WHERE t.id = \(targetConversation) AND s.id = \(sourceConversation)
                    """)
                try await tx.run("DELETE FROM conversation WHERE id = \(sourceConversation)")
                try await Self.recomputeSummary(of: targetConversation, in: tx)
            } else {
                try await tx.run("UPDATE conversation SET contact_id = \(target) WHERE id = \(sourceConversation)")
            }
        }
        // A reaction of both to one message: the target's stays.
        try await tx.run("""
            UPDATE reaction r SET from_contact_id = \(target)
            WHERE r.from_contact_id = \(source)
              AND NOT EXISTS (SELECT 1 FROM reaction t WHERE t.message_wamid = r.message_wamid AND t.from_contact_id = \(target))
            """)
        try await tx.run("DELETE FROM reaction WHERE from_contact_id = \(source)")
        try await tx.run("UPDATE contact_previous_number SET contact_id = \(target) WHERE contact_id = \(source)")
        // The newer marketing preference of the two stands (a stop must not be lost).
        try await tx.run("""
            UPDATE contact t SET marketing_opt_out_at = s.marketing_opt_out_at, marketing_pref_at = s.marketing_pref_at
            FROM contact s
            WHERE t.id = \(target) AND s.id = \(source) AND s.marketing_pref_at > coalesce(t.marketing_pref_at, -1)
            """)
        try await tx.run("DELETE FROM contact WHERE id = \(source)")
        let newer = sourceProfileAt > targetProfileAt
        try await tx.run("""
            UPDATE contact SET
                wa_id = coalesce(wa_id, \(old.0)::text), user_id = coalesce(user_id, \(old.1)::text),
                parent_user_id = coalesce(parent_user_id, \(old.2)::text),
                username = CASE WHEN username IS NULL OR \(newer) THEN coalesce(\(old.3)::text, username) ELSE username END,
                name = CASE WHEN name IS NULL OR \(newer) THEN coalesce(\(old.4)::text, name) ELSE name END,
                profile_at = \(max(sourceProfileAt, targetProfileAt)),
                created_at = least(created_at, \(old.5))
            WHERE id = \(target)
            """)
    }

    /// The time of the newest event that spoke for a contact's profile.
    private func profileTime(of contact: Int64) async throws -> Int64 {
        try await tx.int64("""
            SELECT greatest(profile_at, coalesce((SELECT max(last_inbound_at) FROM conversation WHERE contact_id = \(contact)), 0))
            FROM contact WHERE id = \(contact)
            """) ?? 0
    }

    /// Recomputes a conversation's last activity, last message and service-window start.
    static func recomputeSummary(of conversation: Int64, in tx: Transaction) async throws {
        try await tx.run("""
            UPDATE conversation SET
                last_activity_at = coalesce((SELECT max(timestamp) FROM message
                                             WHERE conversation_id = \(conversation) AND type != 'reaction'), 0),
                last_message_id = (SELECT id FROM message WHERE conversation_id = \(conversation) AND type != 'reaction'
                                   ORDER BY timestamp DESC, id DESC LIMIT 1),
                last_inbound_at = (SELECT max(timestamp) FROM message
                                   WHERE conversation_id = \(conversation) AND direction = 'in' AND type != 'system')
            WHERE id = \(conversation)
            """)
    }

    /// The conversation of a contact with one of our numbers, made on its first message.
    func conversation(for business: BusinessNumber, contact: Int64) async throws -> Int64 {
        let phoneNumberID = PostgresText.safe(business.phoneNumberID.rawValue)
        let display = PostgresText.safe(business.displayPhoneNumber)
        if let (id, storedDisplay) = try await tx.row("""
            SELECT id, display_phone_number FROM conversation WHERE phone_number_id = \(phoneNumberID) AND contact_id = \(contact)
            """, read: { try $0.decode((Int64, String?).self) }) {
            if let display, display != storedDisplay {
                try await tx.run("UPDATE conversation SET display_phone_number = \(display) WHERE id = \(id)")
            }
            return id
        }
        guard let id = try await tx.int64("""
            INSERT INTO conversation (phone_number_id, display_phone_number, contact_id)
            VALUES (\(phoneNumberID), \(display)::text, \(contact)) RETURNING id
            """) else { throw PostgresStoreError("PostgreSQL stored a conversation but returned no id: report this") }
        return id
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
