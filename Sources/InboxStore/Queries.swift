import Foundation
import GRDB
import InboxCore

extension InboxDatabase {
    // MARK: - Conversations

    /// Conversations by last activity, newest first, `limit` at a time.
    public func conversations(after cursor: ConversationCursor? = nil, limit: Int = 50, viewer: Viewer = .team) throws
        -> Page<ConversationSummary, ConversationCursor> {
        try conversations(matching: "", after: cursor, limit: limit, viewer: viewer)
    }

    /// Conversations whose contact matches `filter` (name, username, number or user id;
    /// case and accents ignored) and its `~` terms (see `ConversationFilter`), by last
    /// activity, keyset-paginated like `conversations`. A filter that cannot be read throws
    /// `ConversationFilter.ParseError`.
    public func conversations(matching filter: String, unreadOnly: Bool = false, scope: ConversationScope = .all,
                              after cursor: ConversationCursor? = nil, limit: Int = 50,
                              viewer: Viewer = .team, now: Int64? = nil) throws -> Page<ConversationSummary, ConversationCursor> {
        try conversations(filter: try ConversationFilter.parse(filter), unreadOnly: unreadOnly, scope: scope, after: cursor,
                          limit: limit, viewer: viewer, now: now)
    }

    /// As `conversations(matching:)`, for a filter already read: the steps of
    /// `conversationStep` until the page is full or the list ends.
    public func conversations(filter: ConversationFilter, unreadOnly: Bool = false, scope: ConversationScope = .all,
                              after cursor: ConversationCursor? = nil, limit: Int = 50,
                              viewer: Viewer = .team, now: Int64? = nil) throws -> Page<ConversationSummary, ConversationCursor> {
        var items: [ConversationSummary] = []
        var from = cursor
        while true {
            let step = try conversationStep(filter: filter, unreadOnly: unreadOnly, scope: scope, after: from,
                                            limit: limit - items.count, viewer: viewer, now: now, window: nil)
            items += step.items
            guard let scanned = step.scannedTo else { return Page(items: items, next: step.next) }
            from = scanned
        }
    }

    public func conversation(_ id: ConversationID, viewer: Viewer = .team) throws -> ConversationSummary? {
        try writer.read { db in
            try Self.summaries("WHERE cv.id = ?", arguments: [id.rawValue], viewer: viewer, in: db).first
        }
    }

    /// Conversation rows as `viewer` sees them; `clauses` (WHERE, ORDER BY, LIMIT) may
    /// use `viewer_unread`.
    static func summaries(_ clauses: String, arguments: StatementArguments, viewer: Viewer = .team,
                          in db: Database) throws -> [ConversationSummary] {
        // Cached: the screen runs the same few statements on every key press.
        let viewerArguments: StatementArguments = [viewer.agent, viewer.nowMilliseconds, viewer.agent, viewer.agent]
        return try Row.fetchAll(db.cachedStatement(sql: """
            SELECT cv.id, cv.phone_number_id, cv.display_phone_number, cv.last_activity_at, cv.last_inbound_at,
                   cv.last_message_id, cv.window_closed_at, cv.assigned_to, cv.resolved_at,
                   CASE WHEN ? IS NULL THEN cv.unread_count
                        ELSE cv.inbound_count - coalesce(ar.inbound_seen, 0) END AS viewer_unread,
                   (SELECT json_group_array(json_object('agent', t.agent, 'until', t.until_ms)) FROM agent_typing t
                    WHERE t.conversation_id = cv.id AND t.until_ms > ? AND t.agent IS NOT ?) AS typing,
                   c.id AS contact_id, c.wa_id, c.user_id, c.parent_user_id, c.username, c.name, c.marketing_opt_out_at, \(labelsColumn)
            FROM conversation cv JOIN contact c ON c.id = cv.contact_id
            LEFT JOIN agent_read ar ON ar.agent = ? AND ar.conversation_id = cv.id
            """ + " " + clauses), arguments: viewerArguments + arguments).map { row in
            try ConversationColumns(
                id: row["id"], phoneNumberID: row["phone_number_id"], displayPhoneNumber: row["display_phone_number"],
                lastActivityAt: row["last_activity_at"], lastInboundAt: row["last_inbound_at"],
                windowClosedAt: row["window_closed_at"], assignedTo: row["assigned_to"], resolvedAt: row["resolved_at"],
                viewerUnread: row["viewer_unread"], typing: row["typing"], labels: row["labels"], contact: contact(from: row))
                .summary(lastMessage: try (row["last_message_id"] as Int64?).flatMap { try message(rowID: $0, in: db) })
        }
    }

    /// Total unread messages over all conversations.
    public func unreadTotal() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT coalesce(sum(unread_count), 0) FROM conversation") ?? 0 }
    }

    // MARK: - Messages

    /// The newest `limit` messages of a conversation older than `cursor` (or the newest of
    /// all), returned oldest first; `next` continues towards older ones.
    public func messages(in conversation: ConversationID, before cursor: MessageCursor? = nil, limit: Int = 100) throws
        -> Page<StoredMessage, MessageCursor> {
        try writer.read { db in
            var sql = "SELECT \(Self.messageColumns) FROM message m WHERE m.conversation_id = ? AND \(Self.shownAsMessage)"
            var arguments: StatementArguments = [conversation.rawValue]
            if let cursor {
                sql += " AND (m.timestamp, m.id) < (?, ?)"
                arguments += [cursor.timestamp, cursor.id]
            }
            sql += " ORDER BY m.timestamp DESC, m.id DESC LIMIT ?"
            arguments += [limit + 1]
            var items = try Row.fetchAll(db, sql: sql, arguments: arguments).map { try Self.message(from: $0) }
            let hasMore = items.count > limit
            if hasMore { items.removeLast() }
            return Page(items: items.reversed(), next: hasMore ? items.last?.cursor : nil)
        }
    }

    /// Messages of a conversation newer than `cursor`, oldest first; `next` continues
    /// towards newer ones.
    public func messages(in conversation: ConversationID, after cursor: MessageCursor, limit: Int = 100) throws
        -> Page<StoredMessage, MessageCursor> {
        try writer.read { db in
            var items = try Row.fetchAll(db, sql: """
                SELECT \(Self.messageColumns) FROM message m
                WHERE m.conversation_id = ? AND (m.timestamp, m.id) > (?, ?) AND \(Self.shownAsMessage)
                ORDER BY m.timestamp, m.id LIMIT ?
                """, arguments: [conversation.rawValue, cursor.timestamp, cursor.id, limit + 1]).map { try Self.message(from: $0) }
            let hasMore = items.count > limit
            if hasMore { items.removeLast() }
            return Page(items: items, next: hasMore ? items.last?.cursor : nil)
        }
    }

    /// A message by its WhatsApp id.
    public func message(_ wamid: MessageID) throws -> StoredMessage? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.messageColumns) FROM message m WHERE m.wamid = ?",
                             arguments: [wamid.rawValue]).map { try Self.message(from: $0) }
        }
    }

    /// The messages that `messages` reply to, by id: those in `messages` themselves, the
    /// others looked up in one read. Replies to a message never stored are left out.
    public func quotedMessages(for messages: [StoredMessage]) throws -> [MessageID: StoredMessage] {
        var quoted: [MessageID: StoredMessage] = [:]
        let present = Dictionary(messages.compactMap { message in message.wamid.map { ($0, message) } },
                                 uniquingKeysWith: { first, _ in first })
        var missing: [MessageID] = []
        for replyTo in messages.compactMap(\.replyTo) where quoted[replyTo] == nil {
            if let found = present[replyTo] { quoted[replyTo] = found } else { missing.append(replyTo) }
        }
        guard !missing.isEmpty else { return quoted }
        try writer.read { db in
            for wamid in missing where quoted[wamid] == nil {
                if let found = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.messageColumns) FROM message m WHERE m.wamid = ?"),
                                                arguments: [wamid.rawValue]).map({ try Self.message(from: $0) }) {
                    quoted[wamid] = found
                }
            }
        }
        return quoted
    }

    /// The customer's newest message in a conversation: what "mark as read" acknowledges.
    public func latestInboundMessage(in conversation: ConversationID) throws -> StoredMessage? {
        try writer.read { db in
            try Row.fetchOne(db, sql: """
                SELECT \(Self.messageColumns) FROM message m
                WHERE m.conversation_id = ? AND m.direction = 'in' AND m.wamid IS NOT NULL AND m.type != 'call'
                ORDER BY m.timestamp DESC, m.id DESC LIMIT 1
                """, arguments: [conversation.rawValue]).map { try Self.message(from: $0) }
        }
    }

    // MARK: - Contacts

    /// Contacts known by `identifier`: a wa_id (with or without `+`), user id or username.
    public func contacts(matching identifier: String) throws -> [ContactRecord] {
        let key = CustomerAddress(identifier).key
        return try writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id AS contact_id, wa_id, user_id, parent_user_id, username, name, marketing_opt_out_at FROM contact
                WHERE wa_id = :key OR user_id = :key OR username = :key ORDER BY id
                """, arguments: ["key": key]).map(Self.contact(from:))
        }
    }

    // MARK: - Row mapping

    /// A text column selected as `CAST(… AS BLOB)`, decoded by its byte length.
    ///
    /// - Important: Text read as a `String` ends at the first U+0000 (SQLite hands it over
    ///   as a C string), so a customer's text holding one would come back cut. Select text
    ///   columns that reach the agent as blobs and read them with this.
    static func wholeText(_ row: Row, _ column: String) -> String? {
        (row[column] as Data?).map { String(decoding: $0, as: UTF8.self) }
    }

    static let messageColumns = """
        m.id, m.wamid, m.local_id, m.conversation_id, m.direction, m.content, m.timestamp, m.status, m.status_at,
        m.reply_to, m.forwarded, m.error_code, m.error_title, m.error_message, m.error_details,
        \(businessReactionColumns),
        (SELECT last_error FROM outbox WHERE message_id = m.id) AS outbox_note, m.held_for_review,
        (SELECT json_object('state', md.state, 'reason', md.reason, 'path', md.path, 'size', md.file_size,
                            'mime', md.mime_type, 'id', nullif(md.media_id, ''), 'dur', md.duration_ms,
                            'ts', t.state, 'tt', t.text, 'tr', t.reason)
         FROM media md LEFT JOIN transcript t ON t.message_id = md.message_id WHERE md.message_id = m.id) AS media,
        m.echo, m.buttons, m.agent,
        m.edited_at, m.deleted_at,
        CASE WHEN m.edited_at IS NULL THEN NULL ELSE
            (SELECT json_group_array(json_object('content', json(v.content), 'timestamp', v.timestamp))
             FROM (SELECT content, timestamp FROM message_edit WHERE original_wamid = m.wamid
                   ORDER BY timestamp, edit_wamid IS NOT NULL, id) v) END AS versions
        """

    static func message(rowID: Int64, in db: Database) throws -> StoredMessage? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(messageColumns) FROM message m WHERE m.id = ?"), arguments: [rowID])
            .map { try message(from: $0) }
    }

    static func message(from row: Row) throws -> StoredMessage {
        try MessageColumns(
            rowID: row["id"], wamid: row["wamid"], localID: row["local_id"], conversationID: row["conversation_id"],
            direction: row["direction"], content: row["content"], timestamp: row["timestamp"], status: row["status"],
            statusAt: row["status_at"], replyTo: row["reply_to"], forwarded: row["forwarded"], errorCode: row["error_code"],
            errorTitle: row["error_title"], errorMessage: row["error_message"], errorDetails: row["error_details"],
            reactions: row["reactions"], outboxNote: row["outbox_note"], heldForReview: row["held_for_review"],
            media: row["media"], echo: row["echo"] ?? false, buttons: row["buttons"], agent: row["agent"],
            editedAt: row["edited_at"], deletedAt: row["deleted_at"], versions: row["versions"]).message()
    }

    static func contact(from row: Row) -> ContactRecord {
        ContactRecord(
            id: ContactID(rawValue: row["contact_id"]),
            waID: (row["wa_id"] as String?).map(WaID.init),
            userID: (row["user_id"] as String?).map(UserID.init),
            parentUserID: (row["parent_user_id"] as String?).map(UserID.init),
            username: row["username"],
            name: row["name"],
            marketingOptOutAt: row.hasColumn("marketing_opt_out_at") ? row["marketing_opt_out_at"] : nil)
    }
}
