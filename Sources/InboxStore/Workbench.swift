import Foundation
import GRDB
import InboxCore

// The agent's workbench in the store: reactions and reply buttons sent through the outbox,
// messages sent from the WhatsApp Business app (echoes), new customer messages for
// notifications, the contact panel and the raw webhook behind a message.

extension InboxDatabase {
    /// Messages shown in a thread and exported: all but the outbox messages that carry an
    /// agent's reactions (those show under the message they react to).
    static let shownAsMessage = "m.type != 'reaction'"

    /// The reactions of message `m`, as `StoredReaction`s in JSON: the customers', the
    /// business's (from wabox, with the status of the outbox message that carries it, or
    /// from the phone app), and a removal of the business's that failed or may not have gone out.
    static let businessReactionColumns = """
        (SELECT json_group_array(json_object(
                'emoji', coalesce(r.emoji, ''),
                'from', CASE WHEN r.from_contact_id = 0 THEN (SELECT phone_number_id FROM conversation WHERE id = m.conversation_id)
                             ELSE (SELECT coalesce(wa_id, user_id) FROM contact WHERE id = r.from_contact_id) END,
                'business', json(CASE WHEN r.from_contact_id = 0 THEN 'true' ELSE 'false' END),
                'status', s.status, 'local_id', r.local_id,
                'error', json(CASE WHEN s.error_code IS NOT NULL OR s.error_title IS NOT NULL
                                   THEN json_object('code', s.error_code, 'title', s.error_title,
                                                    'message', s.error_message, 'details', s.error_details) END)))
         FROM reaction r LEFT JOIN message s ON s.local_id = r.local_id
         WHERE r.message_wamid = m.wamid AND (r.emoji IS NOT NULL OR s.status IN ('failed', 'uncertain'))) AS reactions
        """

    // MARK: - Sending reactions and buttons

    /// Reacts to `target` as the business (`emoji` empty: removes the business's reaction),
    /// through the outbox with the guarantees of a text: a `pending` row written before any
    /// HTTP call, retried, `uncertain` when a crash leaves it in flight. The reaction shows
    /// under its message at once, with the outbox message's ticks.
    @discardableResult
    public func enqueueReaction(in conversation: ConversationID, to target: MessageID, emoji: String, localID: String,
                                at timestamp: Int64) async throws -> StoredMessage {
        let identity = self.identity
        return try await writer.write { db in
            // Not through insertOutbound: a reaction is not the conversation's last message.
            try db.execute(sql: """
                INSERT INTO message (local_id, conversation_id, direction, type, content, timestamp, status, reply_to, agent)
                VALUES (?, ?, 'out', 'reaction', ?, ?, 'pending', ?, ?)
                """, arguments: [localID, conversation.rawValue, try StoredJSON.encode(MessageContent.text(body: emoji)),
                                 timestamp, target.rawValue, identity.account])
            let rowID = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO outbox (message_id, state, attempts, next_attempt_at) VALUES (?, 'queued', 0, ?)",
                           arguments: [rowID, timestamp * 1000])
            try db.execute(sql: """
                INSERT INTO reaction (message_wamid, from_contact_id, emoji, timestamp, reaction_wamid, local_id)
                VALUES (?, 0, nullif(?, ''), ?, NULL, ?)
                ON CONFLICT (message_wamid, from_contact_id) DO UPDATE
                    SET emoji = excluded.emoji, timestamp = excluded.timestamp, reaction_wamid = NULL,
                        local_id = excluded.local_id
                    WHERE excluded.timestamp >= reaction.timestamp
                """, arguments: [target.rawValue, emoji, timestamp, localID])
            try Self.audit(.send, by: identity, conversation: conversation,
                           detail: AuditDetail(type: "reaction", localID: localID, emoji: emoji, reactedTo: target.rawValue),
                           at: timestamp, in: db)
            return try Self.message(rowID: rowID, in: db)!
        }
    }

    /// As `enqueueOutbound`, for a text with reply buttons; refused, with the limit in
    /// words, when WhatsApp would refuse it.
    @discardableResult
    public func enqueueButtons(in conversation: ConversationID, _ buttons: ReplyButtons, replyTo: MessageID? = nil,
                               localID: String, at timestamp: Int64) async throws -> StoredMessage {
        if let problem = buttons.problem { throw OutboxError(problem) }
        defer { searchIndexer?.messagesLanded() }
        let identity = self.identity
        return try await writer.write { db in
            try Self.insertOutbound(in: conversation, type: "interactive", content: .text(body: buttons.body),
                                    replyTo: replyTo, payload: nil, localID: localID, at: timestamp, by: identity, in: db,
                                    buttons: buttons.titles)
        }
    }

    // MARK: - New customer messages

    /// The newest message row id: what a screen that starts now has already seen.
    public func latestMessageRowID() throws -> Int64 {
        try writer.read { db in try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM message") ?? 0 }
    }

    /// Customer messages stored after row `rowID`, newest first, at most `limit`, and the
    /// newest row id of all (the mark to ask from next time). Platform notices are left out.
    public func arrivals(after rowID: Int64, limit: Int = 50) throws -> (arrivals: [Arrival], through: Int64) {
        try writer.read { db in
            let arrivals = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT m.id, m.conversation_id, m.content, cv.assigned_to, cv.resolved_at,
                       coalesce(j.received_at, w.received_at) AS received_at,
                       c.id AS contact_id, c.wa_id, c.user_id, c.parent_user_id, c.username, c.name
                FROM message m JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
                LEFT JOIN journal j ON j.id = m.webhook_id LEFT JOIN webhook w ON w.id = m.webhook_id
                WHERE m.id > ? AND m.direction = 'in' AND m.type != 'system'
                ORDER BY m.id DESC LIMIT ?
                """), arguments: [rowID, limit]).map { row in
                Arrival(messageRowID: row["id"], conversation: ConversationID(rawValue: row["conversation_id"]),
                        contact: Self.contact(from: row),
                        content: try StoredJSON.decode(MessageContent.self, from: row["content"]),
                        assignee: row["assigned_to"], isResolved: row["resolved_at"] as Int64? != nil,
                        receivedAt: row["received_at"])
            }
            let through = try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM message") ?? rowID
            return (arrivals, max(rowID, through))
        }
    }

    // MARK: - The contact panel

    /// Everything the contact panel shows about a conversation's customer.
    public func contactDetails(of conversation: ConversationID, viewer: Viewer = .team) throws -> ContactDetails? {
        try writer.read { db in
            guard let summary = try Self.summaries("WHERE cv.id = ?", arguments: [conversation.rawValue], viewer: viewer,
                                                   in: db).first else { return nil }
            let previous = try Row.fetchAll(db, sql: """
                SELECT wa_id, changed_at FROM contact_previous_number WHERE contact_id = ? ORDER BY changed_at DESC
                """, arguments: [summary.contact.id.rawValue]).map {
                ContactDetails.PreviousNumber(waID: WaID($0["wa_id"] as String), changedAt: $0["changed_at"])
            }
            func edge(_ order: String) throws -> StoredMessage? {
                try Row.fetchOne(db, sql: """
                    SELECT \(Self.messageColumns) FROM message m WHERE m.conversation_id = ? AND \(Self.shownAsMessage)
                    ORDER BY m.timestamp \(order), m.id \(order) LIMIT 1
                    """, arguments: [conversation.rawValue]).map { try Self.message(from: $0) }
            }
            let counts = try Row.fetchAll(db, sql: """
                SELECT m.direction, count(*) AS n FROM message m WHERE m.conversation_id = ? AND \(Self.shownAsMessage)
                GROUP BY m.direction
                """, arguments: [conversation.rawValue])
            func count(_ direction: String) -> Int { counts.first { $0["direction"] as String == direction }?["n"] ?? 0 }
            let otherNumbers = try String.fetchAll(db, sql: """
                SELECT coalesce(display_phone_number, phone_number_id) FROM conversation
                WHERE contact_id = ? AND id != ? ORDER BY id
                """, arguments: [summary.contact.id.rawValue, conversation.rawValue])
            let assignedAt = try Int64.fetchOne(db, sql: "SELECT assigned_at FROM conversation WHERE id = ?",
                                                arguments: [conversation.rawValue])
            let extras = try Self.workbenchExtras(of: conversation, in: db)
            return ContactDetails(
                conversation: summary, previousNumbers: previous, firstMessage: try edge("ASC"), lastMessage: try edge("DESC"),
                receivedCount: count("in"), sentCount: count("out"), otherBusinessNumbers: otherNumbers,
                claimedAt: assignedAt, labels: extras.labels, notesCount: extras.notes)
        }
    }

    /// The conversation's labels and how many private notes it has.
    ///
    /// - Important: HOOK for issue 18's labels (`L`) and notes (`n`), built on the other
    ///   workbench branch: read them from its tables here. Until then both are nil and the
    ///   panel says they are not kept yet.
    static func workbenchExtras(of conversation: ConversationID, in db: Database) throws -> (labels: [String]?, notes: Int?) {
        (nil, nil)
    }

    // MARK: - The raw view

    /// The webhook body a message came in with, as the journal keeps it.
    public func rawWebhook(forMessage rowID: Int64) throws -> RawWebhookLookup {
        try writer.read { db in
            guard let message = try Row.fetchOne(db, sql: """
                SELECT wamid, direction, echo, webhook_id FROM message WHERE id = ?
                """, arguments: [rowID]) else { return .noMessage }
            if let webhookID = message["webhook_id"] as Int64? {
                // Journal and webhook ids never overlap: the journal's go on from the webhook table's.
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT id, received_at, body FROM journal WHERE id = ?1
                    UNION ALL SELECT id, received_at, body FROM webhook WHERE id = ?1
                    """, arguments: [webhookID]) else { return .pruned(webhookID: webhookID) }
                return .found(RawWebhook(webhookID: row["id"], receivedAt: row["received_at"], body: row["body"]))
            }
            if message["direction"] as String == "out", !(message["echo"] as Bool) { return .sentFromWabox }
            // Stored before messages kept their webhook's id: look for the id in the newest bodies.
            guard let wamid = message["wamid"] as String? else { return .notFound(searched: 0) }
            let row = try Row.fetchOne(db, sql: """
                SELECT id, received_at, body FROM (
                    SELECT id, received_at, body FROM journal UNION ALL SELECT id, received_at, body FROM webhook)
                WHERE id > (SELECT max(coalesce((SELECT max(id) FROM journal), 0), coalesce((SELECT max(id) FROM webhook), 0))) - ?1
                  AND instr(body, ?2) > 0
                ORDER BY id DESC LIMIT 1
                """, arguments: [Self.rawSearchDepth, Data("\"\(wamid)\"".utf8)])
            return row.map { .found(RawWebhook(webhookID: $0["id"], receivedAt: $0["received_at"], body: $0["body"])) }
                ?? .notFound(searched: Self.rawSearchDepth)
        }
    }

    /// How many of the newest journal rows the raw view searches for a message stored
    /// without its webhook's id.
    static let rawSearchDepth = 100_000
}

// MARK: - Applying echoes

extension EventApplier {
    /// A message the business sent from the WhatsApp Business app: an outbound message of
    /// the customer's conversation, `sent`, that leaves the service window as it is.
    /// Idempotent by wamid, like every event.
    func apply(_ echo: MessageEcho) throws {
        let db = statements.db
        switch echo {
        case .message(let message):
            if try statements(.messageExists).int64(message.id.rawValue) != nil { return }
            let contactID = try ContactResolver(statements: statements).resolve(message.sender, at: message.timestamp)
            let conversationID = try conversation(for: message.business, contact: contactID)
            try db.cachedStatement(sql: """
                INSERT INTO message (wamid, conversation_id, direction, type, text, caption, content, timestamp, status,
                                     status_at, reply_to, forwarded, group_id, webhook_id, echo)
                VALUES (?, ?, 'out', ?, ?, ?, ?, ?, 'sent', ?, ?, ?, ?, ?, 1)
                """).execute(arguments: [
                    message.id.rawValue, conversationID.rawValue, message.content.typeName, message.content.text,
                    message.content.caption, try StoredJSON.encode(message.content), message.timestamp, message.timestamp,
                    message.context?.repliedTo?.rawValue, message.context?.forwarded ?? false, message.groupID, sourceID])
            let rowID = db.lastInsertedRowID
            try noteNewMessage(rowID, in: conversationID, timestamp: message.timestamp, inbound: false, unread: false)
            // Its statuses may have come first.
            try OutboundStatus.applyWaiting(messageRowID: rowID, wamid: message.id, in: db)
        case .reaction(let reaction):
            try db.cachedStatement(sql: """
                INSERT INTO reaction (message_wamid, from_contact_id, emoji, timestamp, reaction_wamid, local_id)
                VALUES (?, 0, ?, ?, ?, NULL)
                ON CONFLICT (message_wamid, from_contact_id) DO UPDATE
                    SET emoji = excluded.emoji, timestamp = excluded.timestamp, reaction_wamid = excluded.reaction_wamid,
                        local_id = NULL
                    WHERE excluded.timestamp >= reaction.timestamp
                """).execute(arguments: [reaction.target.rawValue, reaction.emoji, reaction.timestamp, reaction.id.rawValue])
        }
    }
}
