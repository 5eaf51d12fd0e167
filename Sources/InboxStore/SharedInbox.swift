import Foundation
import GRDB
import InboxCore

// Several agents work one inbox: each reads at their own pace, claims conversations,
// resolves them, and sees who is typing where. One process at a time holds the listener
// lease: it runs the webhook listener and the outbox sender; the others attach.

extension Schema {
    static func registerSharedInbox(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5: shared inbox: agents, claims, read marks, typing, listener lease") { db in
            try db.execute(sql: """
                -- Customer messages ever received: an agent's unread count is this minus what
                -- they have seen. unread_count stays the team's count (reset by any reader).
                ALTER TABLE conversation ADD COLUMN inbound_count INTEGER NOT NULL DEFAULT 0;
                UPDATE conversation SET inbound_count = (
                    SELECT count(*) FROM message
                    WHERE conversation_id = conversation.id AND direction = 'in' AND type != 'system');
                ALTER TABLE conversation ADD COLUMN assigned_to TEXT;
                ALTER TABLE conversation ADD COLUMN assigned_at INTEGER;
                -- Set by an agent; cleared by the customer's next message.
                ALTER TABLE conversation ADD COLUMN resolved_at INTEGER;

                CREATE TABLE agent (
                    name TEXT PRIMARY KEY,
                    first_seen_at INTEGER NOT NULL,
                    last_seen_at INTEGER NOT NULL
                ) WITHOUT ROWID;

                CREATE TABLE agent_read (
                    agent TEXT NOT NULL,
                    conversation_id INTEGER NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
                    inbound_seen INTEGER NOT NULL,
                    PRIMARY KEY (agent, conversation_id)
                ) WITHOUT ROWID;

                CREATE TABLE agent_typing (
                    conversation_id INTEGER NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
                    agent TEXT NOT NULL,
                    until_ms INTEGER NOT NULL,
                    PRIMARY KEY (conversation_id, agent)
                ) WITHOUT ROWID;

                -- Read receipts asked for by screens that have no Cloud API token of their
                -- own (agents attached to wabox serve); the sender sends them.
                CREATE TABLE read_receipt (
                    wamid TEXT PRIMARY KEY,
                    phone_number_id TEXT NOT NULL,
                    requested_at INTEGER NOT NULL, -- Unix milliseconds
                    attempts INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;

                -- The approved templates as the sender last fetched them (Cloud API JSON), for
                -- screens without a token of their own.
                CREATE TABLE template_cache (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    fetched_at INTEGER NOT NULL,
                    templates TEXT NOT NULL
                );

                CREATE TABLE listener_lease (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    pid INTEGER NOT NULL,
                    host TEXT NOT NULL,
                    role TEXT NOT NULL,
                    agent TEXT,
                    address TEXT,
                    sending INTEGER NOT NULL,
                    started_at INTEGER NOT NULL,   -- Unix milliseconds
                    heartbeat_at INTEGER NOT NULL  -- Unix milliseconds
                );
                """)
        }
    }
}

extension InboxDatabase {
    // MARK: - Agents and read marks

    /// Records that this database's account uses the inbox, with its display name as it
    /// is now. An account seen for the first time starts from the team's read state: what
    /// nobody has read is unread for them too.
    public func registerAgent(at now: Int64) throws {
        let identity = self.identity
        try writer.write { db in
            let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM agent WHERE name = ?", arguments: [identity.account]) ?? false
            if known {
                try db.execute(sql: "UPDATE agent SET last_seen_at = ?, display_name = ? WHERE name = ?",
                               arguments: [now, identity.displayName, identity.account])
                return
            }
            try db.execute(sql: "INSERT INTO agent (name, first_seen_at, last_seen_at, display_name) VALUES (?, ?, ?, ?)",
                           arguments: [identity.account, now, now, identity.displayName])
            try db.execute(sql: """
                INSERT OR IGNORE INTO agent_read (agent, conversation_id, inbound_seen)
                SELECT ?, id, max(0, inbound_count - unread_count) FROM conversation WHERE inbound_count > 0
                """, arguments: [identity.account])
        }
    }

    /// Marks everything in a conversation as read by this database's account (and by the
    /// team); `asTeam` leaves the account's own read mark alone (a screen without an agent).
    public func markRead(_ conversation: ConversationID, asTeam: Bool = false) async throws {
        let agent = asTeam ? nil : identity.account
        try await writer.write { db in
            try db.execute(sql: "UPDATE conversation SET unread_count = 0 WHERE id = ?", arguments: [conversation.rawValue])
            guard let agent else { return }
            try db.execute(sql: """
                INSERT INTO agent_read (agent, conversation_id, inbound_seen)
                SELECT ?, id, inbound_count FROM conversation WHERE id = ?
                ON CONFLICT (agent, conversation_id) DO UPDATE SET inbound_seen = excluded.inbound_seen
                """, arguments: [agent, conversation.rawValue])
        }
    }

    // MARK: - Read receipts

    /// Asks the sender (the process holding the listener lease) to mark a customer's
    /// message read on WhatsApp.
    public func queueReadReceipt(for message: MessageID, from business: PhoneNumberID, at now: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO read_receipt (wamid, phone_number_id, requested_at) VALUES (?, ?, ?)
                ON CONFLICT (wamid) DO NOTHING
                """, arguments: [message.rawValue, business.rawValue, now])
        }
    }

    /// Queued read receipts, oldest first. Those asked for before `staleBefore` (Unix
    /// milliseconds) or tried `maxAttempts` times are dropped: a receipt is a courtesy,
    /// late is as good as never.
    public func dueReadReceipts(staleBefore: Int64, maxAttempts: Int, limit: Int = 20) async throws
        -> [(message: MessageID, business: PhoneNumberID)] {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM read_receipt WHERE requested_at < ? OR attempts >= ?",
                           arguments: [staleBefore, maxAttempts])
            return try Row.fetchAll(db, sql: "SELECT wamid, phone_number_id FROM read_receipt ORDER BY requested_at LIMIT ?",
                                    arguments: [limit]).map {
                (MessageID($0["wamid"] as String), PhoneNumberID($0["phone_number_id"] as String))
            }
        }
    }

    /// A queued receipt was sent (`done`), or failed and counts one attempt more.
    public func finishReadReceipt(_ message: MessageID, done: Bool) async throws {
        try await writer.write { db in
            if done {
                try db.execute(sql: "DELETE FROM read_receipt WHERE wamid = ?", arguments: [message.rawValue])
            } else {
                try db.execute(sql: "UPDATE read_receipt SET attempts = attempts + 1 WHERE wamid = ?",
                               arguments: [message.rawValue])
            }
        }
    }
}
