import Foundation
import GRDB
import InboxCore

extension InboxDatabase {
    /// Writes an outbound message as a `pending` outbox row, before any HTTP call, so that a
    /// crash loses nothing. `localID` travels as `biz_opaque_callback_data`.
    @discardableResult
    public func enqueueOutbound(in conversation: ConversationID, content: MessageContent, replyTo: MessageID? = nil,
                                localID: String, at timestamp: Int64) async throws -> StoredMessage {
        try await writer.write { db in
            try db.execute(sql: """
                INSERT INTO message (local_id, conversation_id, direction, type, text, caption, content, timestamp,
                                     status, reply_to)
                VALUES (?, ?, 'out', ?, ?, ?, ?, ?, 'pending', ?)
                """, arguments: [localID, conversation.rawValue, content.typeName, content.text, content.caption,
                                 try StoredJSON.encode(content), timestamp, replyTo?.rawValue])
            let rowID = db.lastInsertedRowID
            try db.execute(sql: """
                UPDATE conversation SET
                    last_message_id = CASE WHEN :ts >= last_activity_at THEN :mid ELSE last_message_id END,
                    last_activity_at = max(last_activity_at, :ts)
                WHERE id = :cid
                """, arguments: ["ts": timestamp, "mid": rowID, "cid": conversation.rawValue])
            return try Self.message(rowID: rowID, in: db)!
        }
    }

    /// Records that the Cloud API accepted an outbox row under `wamid`, and applies the
    /// statuses that arrived for that id before the answer did.
    public func markAccepted(localID: String, wamid: MessageID, at timestamp: Int64) async throws {
        try await writer.write { db in
            guard let rowID = try Int64.fetchOne(db, sql: "SELECT id FROM message WHERE local_id = ?",
                                                 arguments: [localID]) else { return }
            try db.execute(sql: "UPDATE message SET wamid = coalesce(wamid, ?) WHERE id = ?",
                           arguments: [wamid.rawValue, rowID])
            try OutboundStatus.advance(messageRowID: rowID,
                                       current: String.fetchOne(db, sql: "SELECT status FROM message WHERE id = ?",
                                                                arguments: [rowID]) ?? "pending",
                                       to: .sent, at: timestamp, error: nil, in: db)
            try OutboundStatus.applyWaiting(messageRowID: rowID, wamid: wamid, in: db)
        }
    }
}
