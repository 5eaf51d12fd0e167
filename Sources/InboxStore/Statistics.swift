import GRDB

/// How much the database holds, for health checks, `doctor` and tests.
public struct StoreCounts: Sendable, Equatable {
    public var webhooks: Int
    public var deadLetters: Int
    public var contacts: Int
    public var conversations: Int
    public var messages: Int
    public var reactions: Int
    public var statusEvents: Int
}

extension InboxDatabase {
    public func counts() throws -> StoreCounts {
        try writer.read { db in
            func count(_ table: String) throws -> Int {
                try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
            }
            return StoreCounts(
                webhooks: try count("webhook") + count("journal"), deadLetters: try count("dead_letter"), contacts: try count("contact"),
                conversations: try count("conversation"), messages: try count("message"),
                reactions: try count("reaction WHERE emoji IS NOT NULL"), statusEvents: try count("status_event"))
        }
    }

    /// The dead letters, newest last: where in which body, and why.
    public func deadLetters() throws -> [(path: String?, reason: String)] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT path, reason FROM dead_letter ORDER BY id").map { ($0["path"], $0["reason"]) }
        }
    }

    /// The raw journal, oldest first (bodies exactly as received), with the bodies
    /// journaled before v11.
    public func journalBodies() throws -> [Data] {
        try writer.read { db in
            // Journal ids go on from the table webhook's: one order for both.
            try Row.fetchAll(db, sql: "SELECT id, body FROM webhook UNION ALL SELECT id, body FROM journal ORDER BY id")
                .map { $0["body"] }
        }
    }
}

import Foundation

extension InboxDatabase {
    /// When the newest webhook was received (Unix seconds), if any.
    public func lastWebhookAt() throws -> Int64? {
        try writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT received_at FROM journal ORDER BY id DESC LIMIT 1")
                ?? Int64.fetchOne(db, sql: "SELECT received_at FROM webhook ORDER BY id DESC LIMIT 1")
        }
    }

    /// Outbound messages written but not yet accepted by the Cloud API.
    public func waitingToSendCount() throws -> Int {
        try writer.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM message WHERE status = 'pending' AND direction = 'out'") ?? 0
        }
    }
}
