import Foundation
import GRDB
import StoreContract

// The SQLite store's side of the conformance suite's read-back (StoreContract's
// InboxSnapshotStore): the applier's rows as plain values, to compare with PostgreSQL's.

extension InboxDatabase: InboxSnapshotStore {
    public func inboxSnapshot() async throws -> InboxSnapshot {
        try await writer.read { db in
            let conversations = try Row.fetchAll(db, sql: """
                SELECT cv.phone_number_id, cv.display_phone_number, c.wa_id, c.user_id, c.name, cv.last_activity_at,
                       cv.last_inbound_at, m.wamid AS last_wamid, cv.unread_count, cv.inbound_count, cv.failing_replies
                FROM conversation cv JOIN contact c ON c.id = cv.contact_id
                LEFT JOIN message m ON m.id = cv.last_message_id
                """).map { row in
                ConversationSnapshot(phoneNumberID: row["phone_number_id"], displayPhoneNumber: row["display_phone_number"],
                                     contactWaID: row["wa_id"], contactUserID: row["user_id"], contactName: row["name"],
                                     lastActivityAt: row["last_activity_at"], lastInboundAt: row["last_inbound_at"],
                                     lastMessageWamid: row["last_wamid"], unreadCount: row["unread_count"],
                                     inboundCount: row["inbound_count"], failingReplies: row["failing_replies"])
            }
            let messages = try Row.fetchAll(db, sql: """
                SELECT m.wamid, cv.phone_number_id, c.wa_id, m.direction, m.type, m.content, m.status, m.status_at,
                       m.timestamp, m.error_code, m.error_title, m.edited_at, m.deleted_at
                FROM message m JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
                """).map { row in
                MessageSnapshot(wamid: row["wamid"], phoneNumberID: row["phone_number_id"], contactWaID: row["wa_id"],
                                direction: row["direction"], kind: row["type"],
                                text: try StoredMessageText.of(contentJSON: row["content"]), status: row["status"],
                                statusAt: row["status_at"], timestamp: row["timestamp"], errorCode: row["error_code"],
                                errorTitle: row["error_title"], editedAt: row["edited_at"], deletedAt: row["deleted_at"])
            }
            let reactions = try Row.fetchAll(db, sql: """
                SELECT r.message_wamid, c.wa_id, r.emoji, r.timestamp FROM reaction r
                LEFT JOIN contact c ON c.id = r.from_contact_id
                """).map { row in
                ReactionSnapshot(messageWamid: row["message_wamid"], reactorWaID: row["wa_id"], emoji: row["emoji"],
                                 timestamp: row["timestamp"])
            }
            let deadLetters = try Row.fetchAll(db, sql: "SELECT path, reason FROM dead_letter").map { row in
                DeadLetterSnapshot(path: row["path"], reason: row["reason"])
            }
            let accountErrors = try Row.fetchAll(db, sql: "SELECT phone_number_id, code, title FROM account_error").map { row in
                AccountErrorSnapshot(phoneNumberID: row["phone_number_id"], code: row["code"], title: row["title"])
            }
            let statusEvents = try Int.fetchOne(db, sql: "SELECT count(*) FROM status_event") ?? 0
            return InboxSnapshot(conversations: conversations, messages: messages, reactions: reactions,
                                 deadLetters: deadLetters, accountErrors: accountErrors, statusEvents: statusEvents)
        }
    }
}
