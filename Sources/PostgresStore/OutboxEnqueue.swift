import Foundation
import InboxCore
import PostgresNIO
import StoreContract

// Writing outbound messages on PostgreSQL, as SQLite does (InboxStore's Outbox.swift,
// "Enqueueing" and "Addressing"): the message row, its outbox row and the send's audit row
// in one transaction, before any request, so that a crash loses nothing; any listener's
// sender then sends it.

extension PostgresStore {
    /// Writes an outbound message as `agent`'s (the database role, for `wabox send`),
    /// `pending`, with its outbox row, and records the send in the audit trail.
    /// `localID` travels as `biz_opaque_callback_data`. Returns the message's row id.
    @discardableResult
    public func enqueueOutbound(in conversation: ConversationID, content: MessageContent, replyTo: MessageID? = nil,
                                localID: String, at timestamp: Int64, agent: String?,
                                displayName: String? = nil) async throws -> Int64 {
        try await insertOutbound(in: conversation, type: content.typeName, content: content, replyTo: replyTo,
                                 payload: nil, localID: localID, at: timestamp, agent: agent, displayName: displayName,
                                 audited: AuditDetail())
    }

    /// As `enqueueOutbound`, for a text with reply buttons (checked by the caller).
    @discardableResult
    public func enqueueButtons(in conversation: ConversationID, _ buttons: ReplyButtons, replyTo: MessageID? = nil,
                               localID: String, at timestamp: Int64, agent: String?,
                               displayName: String? = nil) async throws -> Int64 {
        try await insertOutbound(in: conversation, type: "interactive", content: .text(body: buttons.body), replyTo: replyTo,
                                 payload: nil, localID: localID, at: timestamp, agent: agent, displayName: displayName,
                                 audited: AuditDetail(), buttons: buttons.titles)
    }

    /// As `enqueueOutbound`, for an approved template; `displayText` is what the thread shows.
    @discardableResult
    public func enqueueTemplate(in conversation: ConversationID, template: TemplateMessage, displayText: String? = nil,
                                localID: String, at timestamp: Int64, agent: String?,
                                displayName: String? = nil) async throws -> Int64 {
        try await insertOutbound(in: conversation, type: "template", content: .text(body: displayText ?? template.summary),
                                 replyTo: nil, payload: try StoredJSON.encode(template), localID: localID, at: timestamp,
                                 agent: agent, displayName: displayName, audited: AuditDetail(template: template.name))
    }

    /// As `enqueueOutbound`, for a file checked and copied into this host's media folder
    /// (`OutgoingFile.prepare`): its bytes go into the database with it, so that the sender
    /// of any host uploads them.
    @discardableResult
    public func enqueueFile(in conversation: ConversationID, file: OutboundFile, kind: MediaAttachment.Kind, sha256: String,
                            caption: String?, replyTo: MessageID? = nil, localID: String, at timestamp: Int64,
                            agent: String?, displayName: String? = nil) async throws -> Int64 {
        guard let bytes = FileManager.default.contents(atPath: file.path) else {
            throw PostgresStoreError("cannot read \(file.path), the copy of the file to send: check the media folder (media_dir)")
        }
        let content = MessageContent.media(MediaAttachment(kind: kind, mimeType: file.mimeType, sha256: sha256,
                                                           caption: caption, filename: file.filename))
        return try await insertOutbound(in: conversation, type: content.typeName, content: content, replyTo: replyTo,
                                        payload: nil, localID: localID, at: timestamp, agent: agent,
                                        displayName: displayName, audited: AuditDetail()) { tx, rowID in
            try await tx.run("UPDATE outbox SET file_path = \(file.path) WHERE message_id = \(rowID)")
            // Ready from the start, as on SQLite: the export shows it with its path.
            try await tx.run("""
                INSERT INTO media (message_id, media_id, kind, mime_type, sha256, filename, state, file_size, content_hash,
                                   path, sent_at)
                VALUES (\(rowID), '', \(kind.rawValue), \(file.mimeType), \(sha256), \(file.filename), 'ready', \(file.size),
                        \(sha256), \(file.path), \(timestamp))
                """)
            try await tx.run("""
                INSERT INTO media_file (content_hash, bytes, stored_at)
                VALUES (\(sha256), \(ByteBuffer(data: bytes)), \(timestamp * 1000))
                ON CONFLICT (content_hash) DO NOTHING
                """)
        }
    }

    private func insertOutbound(in conversation: ConversationID, type: String, content: MessageContent, replyTo: MessageID?,
                                payload: String?, localID: String, at timestamp: Int64, agent: String?,
                                displayName: String?, audited: AuditDetail, buttons: [String]? = nil,
                                with extra: (Transaction, Int64) async throws -> Void = { _, _ in }) async throws -> Int64 {
        try await transaction { tx in
            guard let rowID = try await tx.int64("""
                INSERT INTO message (local_id, conversation_id, direction, type, text, caption, content, timestamp,
                                     status, reply_to, agent, buttons)
                VALUES (\(localID), \(conversation.rawValue), 'out', \(type), \(PostgresText.safe(content.text))::text,
                        \(PostgresText.safe(content.caption))::text, \(try StoredJSON.encode(content)), \(timestamp),
                        'pending', \(replyTo?.rawValue)::text, \(agent)::text, \(try buttons.map { try StoredJSON.encode($0) })::text)
                RETURNING id
                """) else { throw PostgresStoreError("PostgreSQL stored a message but returned no id: report this") }
            try await tx.run("""
                INSERT INTO outbox (message_id, state, attempts, next_attempt_at, payload)
                VALUES (\(rowID), 'queued', 0, \(timestamp * 1000), \(payload)::text)
                """)
            try await extra(tx, rowID)
            try await tx.run("""
                UPDATE conversation SET
                    last_message_id = CASE WHEN \(timestamp) >= last_activity_at THEN \(rowID) ELSE last_message_id END,
                    last_activity_at = greatest(last_activity_at, \(timestamp))
                WHERE id = \(conversation.rawValue)
                """)
            // The send in the audit trail, in the same transaction, as SQLite records it.
            var detail = audited
            detail.type = type
            detail.localID = localID
            detail.text = content.text
            detail.caption = content.caption
            if case .media(let media) = content { detail.filename = media.filename }
            detail.buttons = buttons
            try await tx.audit(.send, by: AgentIdentity(account: agent ?? "unknown", displayName: displayName),
                               conversation: conversation, detail: detail, at: timestamp)
            return rowID
        }
    }

    /// The conversation to send to `identifier` (a wa_id with or without `+`, a user id or a
    /// username) on `phoneNumberID`, with SQLite's rules: a new number or user id creates
    /// the contact and the conversation, a username must be known, and with no
    /// `phoneNumberID` the contact's only conversation is used.
    public func conversationForSending(to identifier: String, on phoneNumberID: PhoneNumberID?,
                                       at timestamp: Int64) async throws -> ConversationID {
        let address = CustomerAddress(identifier)
        let key = address.key, isNumber = address.isPhoneNumber, isUserID = address.isUserID
        return try await transaction { tx in
            let contacts = try await tx.rows("""
                SELECT id FROM contact WHERE wa_id = \(key) OR user_id = \(key) OR username = \(key) ORDER BY id
                """) { try $0.decode(Int64.self) }
            guard contacts.count <= 1 else {
                throw OutboxError.ambiguous(identifier, matches: contacts.count)
            }
            let contactID: Int64
            if let found = contacts.first {
                contactID = found
            } else if isNumber || isUserID {
                // Another sender may create the same contact at the same moment: the unique
                // key decides, and both use the one row.
                try await tx.run("""
                    INSERT INTO contact (wa_id, user_id, profile_at, created_at)
                    VALUES (\(isNumber ? key : nil)::text, \(isUserID ? key : nil)::text, 0, \(timestamp))
                    ON CONFLICT DO NOTHING
                    """)
                guard let id = try await tx.int64("SELECT id FROM contact WHERE wa_id = \(key) OR user_id = \(key)") else {
                    throw PostgresStoreError("PostgreSQL stored a contact but cannot find it: report this")
                }
                contactID = id
            } else {
                throw OutboxError.unknownCustomer(identifier)
            }
            if let phoneNumberID {
                guard let id = try await tx.int64("""
                    INSERT INTO conversation (phone_number_id, contact_id) VALUES (\(phoneNumberID.rawValue), \(contactID))
                    ON CONFLICT (phone_number_id, contact_id) DO UPDATE SET phone_number_id = excluded.phone_number_id
                    RETURNING id
                    """) else { throw PostgresStoreError("PostgreSQL stored a conversation but returned no id: report this") }
                return ConversationID(rawValue: id)
            }
            let conversations = try await tx.rows("SELECT id FROM conversation WHERE contact_id = \(contactID)") {
                try $0.decode(Int64.self)
            }
            guard conversations.count == 1 else {
                throw OutboxError.businessNumberNeeded(identifier, conversations: conversations.count)
            }
            return ConversationID(rawValue: conversations[0])
        }
    }
}
