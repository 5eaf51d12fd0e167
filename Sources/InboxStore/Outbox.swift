import Foundation
import GRDB
import InboxCore

extension InboxDatabase {
    /// The length of the customer service window.
    public static let serviceWindowSeconds = ServiceWindow.seconds

    // MARK: - Enqueueing

    /// Writes an outbound message as a `pending` outbox row, before any HTTP call, so that a
    /// crash loses nothing. `localID` travels as `biz_opaque_callback_data`.
    @discardableResult
    public func enqueueOutbound(in conversation: ConversationID, content: MessageContent, replyTo: MessageID? = nil,
                                localID: String, at timestamp: Int64) async throws -> StoredMessage {
        defer { searchIndexer?.messagesLanded() }
        return try await writer.write { db in
            try Self.insertOutbound(in: conversation, type: content.typeName, content: content, replyTo: replyTo,
                                    payload: nil, localID: localID, at: timestamp, by: self.identity, in: db)
        }
    }

    /// As `enqueueOutbound`, for a file already copied into the media store at `file.path`
    /// (so that the outbox survives the original being moved). The upload happens when it
    /// is sent; the media id it returns is kept and reused on every retry.
    @discardableResult
    public func enqueueFile(in conversation: ConversationID, file: OutboundFile, kind: MediaAttachment.Kind,
                            sha256: String, caption: String?, replyTo: MessageID? = nil, localID: String,
                            at timestamp: Int64) async throws -> StoredMessage {
        let content = MessageContent.media(MediaAttachment(kind: kind, mimeType: file.mimeType, sha256: sha256,
                                                           caption: caption, filename: file.filename))
        defer { searchIndexer?.messagesLanded() }
        return try await writer.write { db in
            let stored = try Self.insertOutbound(in: conversation, type: content.typeName, content: content,
                                                 replyTo: replyTo, payload: nil, localID: localID, at: timestamp,
                                                 by: self.identity, in: db)
            try db.execute(sql: "UPDATE outbox SET file_path = ? WHERE message_id = ?", arguments: [file.path, stored.rowID])
            // The file is in the media store from the start: the export shows it ready, with
            // its path, and the upload's media id once there is one.
            try db.execute(sql: """
                INSERT INTO media (message_id, media_id, kind, mime_type, sha256, filename, state, file_size, content_hash,
                                   path, sent_at)
                VALUES (?, '', ?, ?, ?, ?, 'ready', ?, ?, ?, ?)
                """, arguments: [stored.rowID, kind.rawValue, file.mimeType, sha256, file.filename, file.size, sha256,
                                 file.path, timestamp])
            return try Self.message(rowID: stored.rowID, in: db)!
        }
    }

    /// Keeps the media id an upload returned, for the send and any retry of it.
    public func recordUpload(localID: String, mediaID: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE outbox SET upload_id = ? WHERE message_id = (SELECT id FROM message WHERE local_id = ?)",
                           arguments: [mediaID, localID])
            try db.execute(sql: "UPDATE media SET media_id = ? WHERE message_id = (SELECT id FROM message WHERE local_id = ?)",
                           arguments: [mediaID, localID])
        }
    }

    /// As `enqueueOutbound`, for an approved template; the inbox shows its name and parameters.
    @discardableResult
    public func enqueueTemplate(in conversation: ConversationID, template: TemplateMessage, displayText: String? = nil,
                                localID: String, at timestamp: Int64) async throws -> StoredMessage {
        defer { searchIndexer?.messagesLanded() }
        return try await writer.write { db in
            try Self.insertOutbound(in: conversation, type: "template", content: .text(body: displayText ?? template.summary),
                                    replyTo: nil, payload: try StoredJSON.encode(template), localID: localID,
                                    at: timestamp, by: self.identity, in: db, audited: AuditDetail(template: template.name))
        }
    }

    /// Writes an outbound message as `identity`'s, with its outbox row, and records the send
    /// in the audit trail (`audited` adds to what the content says).
    static func insertOutbound(in conversation: ConversationID, type: String, content: MessageContent,
                               replyTo: MessageID?, payload: String?, localID: String, at timestamp: Int64,
                               by identity: AgentIdentity, in db: Database, audited: AuditDetail = AuditDetail(),
                               buttons: [String]? = nil) throws -> StoredMessage {
        try db.execute(sql: """
            INSERT INTO message (local_id, conversation_id, direction, type, text, caption, content, timestamp,
                                 status, reply_to, agent, buttons)
            VALUES (?, ?, 'out', ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
            """, arguments: [localID, conversation.rawValue, type, content.text, content.caption,
                             try StoredJSON.encode(content), timestamp, replyTo?.rawValue, identity.account,
                             try buttons.map { try StoredJSON.encode($0) }])
        let rowID = db.lastInsertedRowID
        try db.execute(sql: """
            INSERT INTO outbox (message_id, state, attempts, next_attempt_at, payload) VALUES (?, 'queued', 0, ?, ?)
            """, arguments: [rowID, timestamp * 1000, payload])
        try db.execute(sql: """
            UPDATE conversation SET
                last_message_id = CASE WHEN :ts >= last_activity_at THEN :mid ELSE last_message_id END,
                last_activity_at = max(last_activity_at, :ts)
            WHERE id = :cid
            """, arguments: ["ts": timestamp, "mid": rowID, "cid": conversation.rawValue])
        var detail = audited
        detail.type = type
        detail.localID = localID
        detail.text = content.text
        detail.caption = content.caption
        if case .media(let media) = content { detail.filename = media.filename }
        detail.buttons = buttons
        try InboxDatabase.audit(.send, by: identity, conversation: conversation, detail: detail, at: timestamp, in: db)
        return try message(rowID: rowID, in: db)!
    }

    // MARK: - Claiming

    /// Claims the oldest due row (at most one per conversation, in order) and marks it in
    /// flight, committed before the caller sends anything. nil when nothing is due or
    /// sending is halted.
    public func claimNextOutbound(nowMilliseconds now: Int64) async throws -> OutboxItem? {
        try await writer.write { db in
            if try Self.halt(in: db) != nil { return nil }
            // A conversation's messages go out in order: a row waiting for a retry holds
            // back the later ones of the same conversation.
            guard let rowID = try Int64.fetchOne(db, sql: """
                SELECT o.message_id FROM outbox o JOIN message m ON m.id = o.message_id
                WHERE o.state = 'queued' AND o.next_attempt_at <= :now
                  AND NOT EXISTS (SELECT 1 FROM outbox o2 JOIN message m2 ON m2.id = o2.message_id
                                  WHERE o2.state != 'uncertain' AND m2.conversation_id = m.conversation_id
                                    AND o2.message_id < o.message_id)
                ORDER BY o.next_attempt_at, o.message_id LIMIT 1
                """, arguments: ["now": now]) else { return nil }
            return try Self.claim(rowID: rowID, now: now, in: db)
        }
    }

    /// Claims one row by its local id, whether due or not (`wabox send` sends at once).
    /// nil when another sender holds it, it is uncertain, or it is no longer in the outbox.
    public func claimOutbound(localID: String, nowMilliseconds now: Int64) async throws -> OutboxItem? {
        try await writer.write { db in
            guard let rowID = try Int64.fetchOne(db, sql: """
                SELECT o.message_id FROM outbox o JOIN message m ON m.id = o.message_id
                WHERE m.local_id = ? AND o.state = 'queued'
                """, arguments: [localID]) else { return nil }
            return try Self.claim(rowID: rowID, now: now, in: db)
        }
    }

    private static func claim(rowID: Int64, now: Int64, in db: Database) throws -> OutboxItem? {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT m.id, m.local_id, m.conversation_id, m.content, m.reply_to, m.wamid, m.type, m.buttons, o.attempts, o.payload,
                   o.file_path, o.upload_id, cv.phone_number_id, c.wa_id, c.user_id
            FROM outbox o JOIN message m ON m.id = o.message_id
            JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
            WHERE o.message_id = ?
            """, arguments: [rowID]) else { return nil }
        if row["wamid"] as String? != nil {
            // A status webhook already linked it: it went out. Nothing to send.
            try db.execute(sql: "DELETE FROM outbox WHERE message_id = ?", arguments: [rowID])
            return nil
        }
        try db.execute(sql: """
            UPDATE outbox SET state = 'in_flight', attempts = attempts + 1, claimed_at = ? WHERE message_id = ?
            """, arguments: [now, rowID])
        let kind: OutboundKind
        var file: OutboundFile?
        if let payload = row["payload"] as String? {
            kind = .template(try StoredJSON.decode(TemplateMessage.self, from: payload))
        } else {
            switch try StoredJSON.decode(MessageContent.self, from: row["content"]) {
            case .text(let body) where row["type"] as String == "reaction":
                kind = .reaction(to: MessageID(row["reply_to"] as String), emoji: body)
            case .text(let body) where row["buttons"] as String? != nil:
                kind = .buttons(ReplyButtons(body: body, titles: try StoredJSON.decode([String].self, from: row["buttons"])))
            case .text(let body): kind = .text(body: body)
            case .media(let media) where row["file_path"] as String? != nil:
                kind = .media(OutboundMedia(kind: media.kind, mediaID: row["upload_id"], caption: media.caption,
                                            filename: media.filename))
                file = OutboundFile(path: row["file_path"], mimeType: media.mimeType ?? "application/octet-stream",
                                    filename: media.filename)
            case let other: throw OutboxError("the outbox holds a \(other.typeName) message, which wabox cannot send yet")
            }
        }
        let recipient: Recipient? = (row["wa_id"] as String?).map { .waID(WaID($0)) }
            ?? (row["user_id"] as String?).map { .userID(UserID($0)) }
        return OutboxItem(
            messageRowID: rowID, localID: row["local_id"], conversationID: ConversationID(rawValue: row["conversation_id"]),
            phoneNumberID: PhoneNumberID(row["phone_number_id"] as String), recipient: recipient, kind: kind,
            // A reaction names its message in `reaction`, not as a reply.
            replyTo: row["type"] as String == "reaction" ? nil : (row["reply_to"] as String?).map(MessageID.init),
            attempts: (row["attempts"] as Int) + 1, file: file)
    }

    // MARK: - Outcomes

    /// Records that the Cloud API accepted an outbox row under `wamid` (`accepted`, not
    /// `sent`: only status webhooks say it went out), and applies the statuses that arrived
    /// for that id before the answer did. The row leaves the outbox.
    ///
    /// - Parameter heldForQualityReview: the answer's `message_status` was
    ///   `held_for_quality_assessment` (a template WhatsApp reviews before sending it).
    public func markAccepted(localID: String, wamid: MessageID, heldForQualityReview: Bool = false,
                             at timestamp: Int64) async throws {
        try await writer.write { db in
            guard let rowID = try Int64.fetchOne(db, sql: "SELECT id FROM message WHERE local_id = ?",
                                                 arguments: [localID]) else { return }
            try db.execute(sql: "UPDATE message SET wamid = coalesce(wamid, ?), held_for_review = ? WHERE id = ?",
                           arguments: [wamid.rawValue, heldForQualityReview, rowID])
            try OutboundStatus.advance(messageRowID: rowID,
                                       current: String.fetchOne(db, sql: "SELECT status FROM message WHERE id = ?",
                                                                arguments: [rowID]) ?? "pending",
                                       to: .accepted, at: timestamp, error: nil, in: db)
            try OutboundStatus.applyWaiting(messageRowID: rowID, wamid: wamid, in: db)
            try db.execute(sql: "DELETE FROM outbox WHERE message_id = ?", arguments: [rowID])
        }
    }

    /// Puts a claimed row back in the queue to be tried again at `nextAttemptMilliseconds`.
    public func scheduleRetry(localID: String, atMilliseconds nextAttempt: Int64, lastError: String) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                UPDATE outbox SET state = 'queued', next_attempt_at = ?, claimed_at = NULL, last_error = ?
                WHERE message_id = (SELECT id FROM message WHERE local_id = ?)
                """, arguments: [nextAttempt, lastError, localID])
        }
    }

    /// Puts a claimed row back untouched (sending halted before it could go): the attempt
    /// does not count.
    public func releaseOutbound(localID: String, lastError: String) async throws {
        try await writer.write { db in
            try db.execute(sql: """
                UPDATE outbox SET state = 'queued', claimed_at = NULL, attempts = max(attempts - 1, 0), last_error = ?
                WHERE message_id = (SELECT id FROM message WHERE local_id = ?)
                """, arguments: [lastError, localID])
        }
    }

    /// The Cloud API refused the message for good: it shows `failed` with `error`, and
    /// leaves the outbox. `closesWindow` (131047) marks the conversation's window closed.
    public func markFailed(localID: String, error: APIErrorDetail, closesWindow: Bool = false,
                           at timestamp: Int64) async throws {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, status, conversation_id FROM message WHERE local_id = ?",
                                             arguments: [localID]) else { return }
            try OutboundStatus.advance(messageRowID: row["id"], current: row["status"], to: .failed, at: timestamp,
                                       error: error, in: db)
            try db.execute(sql: "DELETE FROM outbox WHERE message_id = ?", arguments: [row["id"] as Int64])
            if closesWindow {
                try db.execute(sql: "UPDATE conversation SET window_closed_at = max(coalesce(window_closed_at, 0), ?) WHERE id = ?",
                               arguments: [timestamp, row["conversation_id"] as Int64])
            }
        }
    }

    /// The request may have reached the Cloud API but no answer came: the message shows
    /// `uncertain` and is not sent again without the operator's word.
    public func markUncertain(localID: String, reason: String) async throws {
        _ = try await writer.write { db in
            try Self.makeUncertain(where: "message_id = (SELECT id FROM message WHERE local_id = ?)",
                                   arguments: [localID], reason: reason, in: db)
        }
    }

    /// At startup: rows found in flight were being sent when the process died. Each becomes
    /// `uncertain` (unless a status webhook showed it went out). Returns how many.
    @discardableResult
    public func recoverInFlightOutbound() async throws -> Int {
        try await writer.write { db in
            try Self.makeUncertain(where: "state = 'in_flight'", arguments: [],
                                   reason: "wabox stopped while sending; the message may or may not have gone out", in: db)
        }
    }

    private static func makeUncertain(where filter: String, arguments: StatementArguments, reason: String,
                                      in db: Database) throws -> Int {
        let rows = try Row.fetchAll(db, sql: """
            SELECT o.message_id, m.wamid, m.status FROM outbox o JOIN message m ON m.id = o.message_id
            WHERE \(filter)
            """, arguments: arguments)
        for row in rows {
            let rowID: Int64 = row["message_id"]
            if row["wamid"] as String? != nil {
                try db.execute(sql: "DELETE FROM outbox WHERE message_id = ?", arguments: [rowID])
                continue
            }
            try db.execute(sql: "UPDATE outbox SET state = 'uncertain', claimed_at = NULL, last_error = ? WHERE message_id = ?",
                           arguments: [reason, rowID])
            try db.execute(sql: "UPDATE message SET status = 'uncertain' WHERE id = ? AND status = 'pending'",
                           arguments: [rowID])
        }
        return rows.count
    }

    /// Sends an `uncertain` message again, on the operator's word: it goes back to
    /// `pending` and the sender picks it up. It may reach the customer twice.
    public func resendUncertain(localID: String, atMilliseconds now: Int64) async throws {
        let identity = self.identity
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT m.id, m.status, m.wamid, m.conversation_id, m.type, o.state
                FROM message m LEFT JOIN outbox o ON o.message_id = m.id
                WHERE m.local_id = ?
                """, arguments: [localID]) else {
                throw OutboxError("no outbound message with local id \(localID)")
            }
            guard row["status"] as String == DeliveryStatus.uncertain.rawValue, row["wamid"] as String? == nil,
                  row["state"] as String? == "uncertain" else {
                throw OutboxError("message \(localID) is not uncertain (it is \(row["status"] as String)): nothing to resend")
            }
            try db.execute(sql: "UPDATE outbox SET state = 'queued', next_attempt_at = ?, last_error = NULL WHERE message_id = ?",
                           arguments: [now, row["id"] as Int64])
            try db.execute(sql: "UPDATE message SET status = 'pending' WHERE id = ?", arguments: [row["id"] as Int64])
            try Self.audit(.resend, by: identity, conversation: ConversationID(rawValue: row["conversation_id"]),
                           detail: AuditDetail(type: row["type"], localID: localID), at: now / 1000, in: db)
        }
    }

    // MARK: - Halting

    /// Stops all sending until `resumeSending()`: the token is invalid or the account
    /// restricted. The first reason is kept.
    public func haltSending(code: Int?, reason: String, at timestamp: Int64) async throws {
        try await writer.write { db in
            // An account alert's halt that has expired gives way.
            try db.execute(sql: "DELETE FROM sending_halt WHERE until <= CAST(strftime('%s', 'now') AS INTEGER)")
            try db.execute(sql: "INSERT OR IGNORE INTO sending_halt (id, code, reason, since) VALUES (1, ?, ?, ?)",
                           arguments: [code, reason, timestamp])
        }
    }

    /// Lets the sender go again (new token, account fixed). A halt raised by an account
    /// alert stays: only Meta's next update lifts it.
    public func resumeSending() async throws {
        try await writer.write { db in try db.execute(sql: "DELETE FROM sending_halt WHERE source IS NULL") }
    }

    /// Why sending is halted, or nil when it is not. For the status bar.
    public func sendingHalt() async throws -> SendingHalt? {
        try await writer.read { db in try Self.halt(in: db) }
    }

    static func halt(in db: Database) throws -> SendingHalt? {
        // An alert's halt ends by itself when its restriction expires.
        try Row.fetchOne(db, sql: """
            SELECT code, reason, since, source FROM sending_halt
            WHERE id = 1 AND (until IS NULL OR until > CAST(strftime('%s', 'now') AS INTEGER))
            """).map {
            SendingHalt(code: $0["code"], reason: $0["reason"], since: $0["since"],
                        isAccountAlert: ($0["source"] as String?) != nil)
        }
    }

    // MARK: - Queries for the screen

    /// Messages waiting to be sent or being sent (not the uncertain ones).
    public func outboxWaitingCount() async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE state IN ('queued', 'in_flight')") ?? 0
        }
    }

    /// When the sender should look again: the earliest `next_attempt_at` of a queued row
    /// (Unix milliseconds), nil when none is queued.
    public func nextOutboundAttempt() async throws -> Int64? {
        try await writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT min(next_attempt_at) FROM outbox WHERE state = 'queued'")
        }
    }

    /// An outbound message by its local id.
    public func outboundMessage(localID: String) async throws -> StoredMessage? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.messageColumns) FROM message m WHERE m.local_id = ?",
                             arguments: [localID]).map { try Self.message(from: $0) }
        }
    }

    /// The outbox state of a message (`queued`, `in_flight`, `uncertain`) with its attempts,
    /// next attempt (Unix ms) and last error; nil once it has left the outbox.
    public func outboxEntry(localID: String) async throws -> OutboxEntry? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: """
                SELECT o.state, o.attempts, o.next_attempt_at, o.last_error FROM outbox o JOIN message m ON m.id = o.message_id
                WHERE m.local_id = ?
                """, arguments: [localID]).map {
                OutboxEntry(state: $0["state"], attempts: $0["attempts"], nextAttemptAt: $0["next_attempt_at"],
                            lastError: $0["last_error"])
            }
        }
    }

    /// Whether free-form text may be sent in `conversation` at `now` (Unix seconds).
    public func serviceWindow(of conversation: ConversationID, now: Int64) async throws -> ServiceWindow {
        guard let summary = try await writer.read({ db in
            try Self.summaries("WHERE cv.id = ?", arguments: [conversation.rawValue], in: db).first
        }) else {
            throw OutboxError("no conversation \(conversation)")
        }
        return summary.serviceWindow(now: now)
    }

    // MARK: - Addressing

    /// The conversation to send to `identifier` (a wa_id with or without `+`, a user id or a
    /// username) on `phoneNumberID`. A new number (digits) or user id (`CC.digits`) creates
    /// the contact and the conversation; a username must already be known.
    ///
    /// With `phoneNumberID` nil, the contact's only conversation is used.
    public func conversationForSending(to identifier: String, on phoneNumberID: PhoneNumberID?,
                                       at timestamp: Int64) async throws -> ConversationID {
        let address = CustomerAddress(identifier)
        let key = address.key, isNumber = address.isPhoneNumber, isUserID = address.isUserID
        return try await writer.write { db in
            let contacts = try Int64.fetchAll(db, sql: """
                SELECT id FROM contact WHERE wa_id = :key OR user_id = :key OR username = :key ORDER BY id
                """, arguments: ["key": key])
            guard contacts.count <= 1 else {
                throw OutboxError.ambiguous(identifier, matches: contacts.count)
            }
            let contactID: Int64
            if let found = contacts.first {
                contactID = found
            } else if isNumber || isUserID {
                try db.execute(sql: "INSERT INTO contact (wa_id, user_id, profile_at, created_at) VALUES (?, ?, 0, ?)",
                               arguments: [isNumber ? key : nil, isUserID ? key : nil, timestamp])
                contactID = db.lastInsertedRowID
            } else {
                throw OutboxError.unknownCustomer(identifier)
            }
            if let phoneNumberID {
                return ConversationID(rawValue: try Int64.fetchOne(db, sql: """
                    INSERT INTO conversation (phone_number_id, contact_id) VALUES (?, ?)
                    ON CONFLICT (phone_number_id, contact_id) DO UPDATE SET phone_number_id = excluded.phone_number_id
                    RETURNING id
                    """, arguments: [phoneNumberID.rawValue, contactID])!)
            }
            let conversations = try Int64.fetchAll(db, sql: "SELECT id FROM conversation WHERE contact_id = ?",
                                                   arguments: [contactID])
            guard conversations.count == 1 else {
                throw OutboxError.businessNumberNeeded(identifier, conversations: conversations.count)
            }
            return ConversationID(rawValue: conversations[0])
        }
    }
}

extension InboxDatabase: OutboxStore {
    public func outboundSettlement(localID: String) async throws -> OutboundSettlement? {
        try await outboundMessage(localID: localID).map {
            OutboundSettlement(wamid: $0.wamid, status: $0.status, error: $0.error)
        }
    }
}
