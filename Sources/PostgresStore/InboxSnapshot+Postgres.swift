import Foundation
import PostgresNIO
import StoreContract

// The PostgreSQL store's side of the conformance suite's read-back (StoreContract's
// InboxSnapshotStore), in one REPEATABLE READ transaction so that the lists agree.

extension PostgresStore: InboxSnapshotStore {
    public func inboxSnapshot() async throws -> InboxSnapshot {
        try await readOnly { tx in try await Self.snapshot(in: tx) }
    }

    private static func snapshot(in tx: Transaction) async throws -> InboxSnapshot {
        let conversations = try await tx.rows("""
            SELECT cv.phone_number_id, cv.display_phone_number, c.wa_id, c.user_id, c.name, cv.last_activity_at,
                   cv.last_inbound_at, m.wamid, cv.unread_count, cv.inbound_count, cv.failing_replies
            FROM conversation cv JOIN contact c ON c.id = cv.contact_id
            LEFT JOIN message m ON m.id = cv.last_message_id
            """) { row in
            let (phone, display, waID, userID, name, activity, inbound, last, unread, inboundCount, failing) =
                try row.decode((String, String?, String?, String?, String?, Int64, Int64?, String?, Int64, Int64, Int64).self)
            return ConversationSnapshot(phoneNumberID: phone, displayPhoneNumber: display, contactWaID: waID,
                                        contactUserID: userID, contactName: name, lastActivityAt: activity,
                                        lastInboundAt: inbound, lastMessageWamid: last, unreadCount: unread,
                                        inboundCount: inboundCount, failingReplies: failing)
        }
        let messages = try await tx.rows("""
            SELECT m.wamid, cv.phone_number_id, c.wa_id, m.direction, m.type, m.content, m.status, m.status_at,
                   m.timestamp, m.error_code, m.error_title, m.edited_at, m.deleted_at
            FROM message m JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
            """) { row in
            let (wamid, phone, waID, direction, kind, content, status, statusAt, timestamp, code, title, edited, deleted) =
                try row.decode((String?, String, String?, String, String, String, String, Int64?, Int64, Int64?, String?,
                                Int64?, Int64?).self)
            return MessageSnapshot(wamid: wamid, phoneNumberID: phone, contactWaID: waID, direction: direction, kind: kind,
                                   text: try StoredMessageText.of(contentJSON: content), status: status, statusAt: statusAt,
                                   timestamp: timestamp, errorCode: code, errorTitle: title, editedAt: edited,
                                   deletedAt: deleted)
        }
        let reactions = try await tx.rows("""
            SELECT r.message_wamid, c.wa_id, r.emoji, r.timestamp FROM reaction r LEFT JOIN contact c ON c.id = r.from_contact_id
            """) { row in
            let (wamid, waID, emoji, timestamp) = try row.decode((String, String?, String?, Int64).self)
            return ReactionSnapshot(messageWamid: wamid, reactorWaID: waID, emoji: emoji, timestamp: timestamp)
        }
        let deadLetters = try await tx.rows("SELECT path, reason FROM dead_letter") { row in
            let (path, reason) = try row.decode((String?, String).self)
            return DeadLetterSnapshot(path: path, reason: reason)
        }
        let accountErrors = try await tx.rows("SELECT phone_number_id, code, title FROM account_error") { row in
            let (phone, code, title) = try row.decode((String?, Int64?, String?).self)
            return AccountErrorSnapshot(phoneNumberID: phone, code: code, title: title)
        }
        let statusEvents = try await tx.int64("SELECT count(*) FROM status_event") ?? 0
        return InboxSnapshot(conversations: conversations, messages: messages, reactions: reactions,
                             deadLetters: deadLetters, accountErrors: accountErrors, statusEvents: Int(statusEvents))
    }
}
