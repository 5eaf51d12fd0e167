import Foundation
import GRDB
import InboxCore

// Several agents work one inbox: each reads at their own pace, claims conversations,
// resolves them, and sees who is typing where. One process at a time holds the listener
// lease: it runs the webhook listener and the outbox sender; the others attach.

/// Who is looking at the list: unread counts and "mine" are per agent. The team view
/// (no agent) counts what nobody has read yet.
public struct Viewer: Sendable, Hashable {
    public var agent: String?
    /// Typing notes older than this are left out.
    public var nowMilliseconds: Int64

    public init(agent: String?, nowMilliseconds: Int64) {
        self.agent = agent
        self.nowMilliseconds = nowMilliseconds
    }

    public static let team = Viewer(agent: nil, nowMilliseconds: 0)
}

/// Which conversations the list shows.
public enum ConversationScope: String, Sendable, Hashable, CaseIterable {
    /// Everything, resolved ones included.
    case all
    /// Open conversations claimed by the viewer.
    case mine
    /// Open conversations nobody has claimed.
    case unassigned
}

/// An agent typing a reply, until when (Unix milliseconds).
public struct TypingNote: Sendable, Hashable, Codable {
    public var agent: String
    public var until: Int64

    public init(agent: String, until: Int64) {
        self.agent = agent
        self.until = until
    }
}

/// What became of a claim.
public enum ClaimOutcome: Sendable, Equatable {
    case claimed
    /// The viewer already had it.
    case alreadyYours
    /// Another agent has it; nothing changed (claim again with `takeOver`).
    case heldBy(String)
}

/// The process that runs the listener and the sender for a database.
public struct ListenerLease: Sendable, Equatable {
    public enum Role: String, Sendable {
        /// `wabox serve`.
        case serve
        /// A `wabox` screen with the listener embedded.
        case inbox
    }

    public var pid: Int32
    public var host: String
    public var role: Role
    public var agent: String?
    /// Where the listener answers, when it runs one.
    public var address: String?
    /// Whether it sends the outbox.
    public var sending: Bool
    public var startedAt: Int64
    public var heartbeatAt: Int64

    public init(pid: Int32, host: String, role: Role, agent: String? = nil, address: String?, sending: Bool,
                startedAt: Int64, heartbeatAt: Int64) {
        self.pid = pid
        self.host = host
        self.role = role
        self.agent = agent
        self.address = address
        self.sending = sending
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }

    /// "wabox serve" or "alice's wabox", for the status bar.
    public var shortDescription: String {
        role == .serve ? "wabox serve" : (agent.map { "\($0)'s wabox" } ?? "another wabox")
    }

    /// "wabox serve (pid 42 on box)" for messages.
    public var holderDescription: String {
        let who = role == .serve ? "wabox serve" : "wabox" + (agent.map { " of \($0)" } ?? "")
        return "\(who) (pid \(pid) on \(host))"
    }
}

/// What became of an attempt to take the lease.
public enum LeaseOutcome: Sendable, Equatable {
    case acquired
    case heldBy(ListenerLease)
}

/// Agent names go into the database and onto every screen: short and plain.
public enum AgentName {
    public static func validate(_ name: String) -> String? {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-@"))
        guard !name.isEmpty, name.count <= 32, name.unicodeScalars.allSatisfy(allowed.contains) else {
            return "agent name \"\(name)\" must be 1 to 32 letters, digits, '.', '_', '-' or '@'"
        }
        return nil
    }
}

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

    /// Records that `agent` uses the inbox. An agent seen for the first time starts from
    /// the team's read state: what nobody has read is unread for them too.
    public func registerAgent(_ agent: String, at now: Int64) throws {
        try writer.write { db in
            let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM agent WHERE name = ?", arguments: [agent]) ?? false
            if known {
                try db.execute(sql: "UPDATE agent SET last_seen_at = ? WHERE name = ?", arguments: [now, agent])
                return
            }
            try db.execute(sql: "INSERT INTO agent (name, first_seen_at, last_seen_at) VALUES (?, ?, ?)",
                           arguments: [agent, now, now])
            try db.execute(sql: """
                INSERT OR IGNORE INTO agent_read (agent, conversation_id, inbound_seen)
                SELECT ?, id, max(0, inbound_count - unread_count) FROM conversation WHERE inbound_count > 0
                """, arguments: [agent])
        }
    }

    /// Marks everything in a conversation as read by `agent` (and by the team).
    public func markRead(_ conversation: ConversationID, by agent: String?) async throws {
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

    // MARK: - Claims and resolution

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

    // MARK: - Typing

    /// Notes that `agent` is typing in a conversation until `until` (Unix milliseconds).
    public func noteTyping(in conversation: ConversationID, by agent: String, until: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO agent_typing (conversation_id, agent, until_ms) VALUES (?, ?, ?)
                ON CONFLICT (conversation_id, agent) DO UPDATE SET until_ms = excluded.until_ms
                """, arguments: [conversation.rawValue, agent, until])
        }
    }

    /// Clears `agent`'s typing notes: in one conversation, or everywhere.
    public func stopTyping(by agent: String, in conversation: ConversationID? = nil) async throws {
        try await writer.write { db in
            if let conversation {
                try db.execute(sql: "DELETE FROM agent_typing WHERE agent = ? AND conversation_id = ?",
                               arguments: [agent, conversation.rawValue])
            } else {
                try db.execute(sql: "DELETE FROM agent_typing WHERE agent = ?", arguments: [agent])
            }
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

    // MARK: - Templates

    /// Keeps the approved templates (as JSON) for screens that cannot ask the Cloud API.
    public func cacheTemplates(_ json: String, at now: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO template_cache (id, fetched_at, templates) VALUES (1, ?, ?)",
                           arguments: [now, json])
        }
    }

    /// The templates last cached and when (Unix seconds), if ever.
    public func cachedTemplates() throws -> (fetchedAt: Int64, json: String)? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT fetched_at, templates FROM template_cache WHERE id = 1").map {
                ($0["fetched_at"], $0["templates"])
            }
        }
    }

    // MARK: - Listener lease

    /// Takes the listener lease for `candidate` unless a holder that `isAlive` has it.
    /// Atomic across processes: two starting at once cannot both acquire it.
    public func acquireLease(_ candidate: ListenerLease,
                             isAlive: @Sendable (ListenerLease) -> Bool) async throws -> LeaseOutcome {
        try await writer.writeWithoutTransaction { db in
            var outcome = LeaseOutcome.acquired
            try db.inTransaction(.immediate) {
                if let holder = try Self.lease(in: db), holder.pid != candidate.pid || holder.host != candidate.host,
                   isAlive(holder) {
                    outcome = .heldBy(holder)
                    return .rollback
                }
                try db.execute(sql: """
                    INSERT OR REPLACE INTO listener_lease
                        (id, pid, host, role, agent, address, sending, started_at, heartbeat_at)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [candidate.pid, candidate.host, candidate.role.rawValue, candidate.agent,
                                     candidate.address, candidate.sending, candidate.startedAt, candidate.heartbeatAt])
                return .commit
            }
            return outcome
        }
    }

    /// Heartbeat of the holder; false when the lease is no longer this process's.
    public func renewLease(pid: Int32, host: String, at now: Int64) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE listener_lease SET heartbeat_at = ? WHERE pid = ? AND host = ?",
                           arguments: [now, pid, host])
            return db.changesCount > 0
        }
    }

    /// Records where the holder's listener answers once it is up.
    public func updateLeaseAddress(_ address: String, pid: Int32, host: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE listener_lease SET address = ? WHERE pid = ? AND host = ?",
                           arguments: [address, pid, host])
        }
    }

    public func releaseLease(pid: Int32, host: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM listener_lease WHERE pid = ? AND host = ?", arguments: [pid, host])
        }
    }

    /// The current holder, alive or not.
    public func currentLease() throws -> ListenerLease? {
        try writer.read { db in try Self.lease(in: db) }
    }

    private static func lease(in db: Database) throws -> ListenerLease? {
        try Row.fetchOne(db, sql: "SELECT * FROM listener_lease WHERE id = 1").map { row in
            ListenerLease(pid: row["pid"], host: row["host"], role: ListenerLease.Role(rawValue: row["role"]) ?? .serve,
                          agent: row["agent"], address: row["address"], sending: row["sending"],
                          startedAt: row["started_at"], heartbeatAt: row["heartbeat_at"])
        }
    }
}
