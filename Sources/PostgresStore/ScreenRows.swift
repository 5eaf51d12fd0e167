import InboxCore
import PostgresNIO
import StoreContract

// The screen's rows on PostgreSQL: SQLite's columns (InboxStore's Queries.swift), with the
// nested parts built as the same JSON by PostgreSQL's json functions, read into the
// records by StoreContract's MessageColumns and ConversationColumns.

enum ScreenRows {
    /// A message row `m` as the screen shows it.
    static let messageColumns = """
        m.id, m.wamid, m.local_id, m.conversation_id, m.direction, m.content, m.timestamp, m.status, m.status_at,
        m.reply_to, m.forwarded, m.error_code, m.error_title, m.error_message, m.error_details,
        (SELECT json_agg(json_build_object(
                'emoji', coalesce(r.emoji, ''),
                'from', CASE WHEN r.from_contact_id = 0 THEN (SELECT phone_number_id FROM conversation WHERE id = m.conversation_id)
                             ELSE (SELECT coalesce(wa_id, user_id) FROM contact WHERE id = r.from_contact_id) END,
                'business', r.from_contact_id = 0,
                'status', s.status, 'local_id', r.local_id,
                'error', CASE WHEN s.error_code IS NOT NULL OR s.error_title IS NOT NULL
                              THEN json_build_object('code', s.error_code, 'title', s.error_title,
                                                     'message', s.error_message, 'details', s.error_details) END))::text
         FROM reaction r LEFT JOIN message s ON s.local_id = r.local_id
         WHERE r.message_wamid = m.wamid AND (r.emoji IS NOT NULL OR s.status IN ('failed', 'uncertain'))) AS reactions,
        (SELECT last_error FROM outbox WHERE message_id = m.id) AS outbox_note, m.held_for_review,
        (SELECT json_build_object('state', md.state, 'reason', md.reason, 'path', md.path, 'size', md.file_size,
                                  'mime', md.mime_type, 'id', nullif(md.media_id, ''), 'dur', md.duration_ms,
                                  'ts', t.state, 'tt', t.text, 'tr', t.reason)::text
         FROM media md LEFT JOIN transcript t ON t.message_id = md.message_id WHERE md.message_id = m.id) AS media,
        m.echo, m.buttons, m.agent, m.edited_at, m.deleted_at,
        CASE WHEN m.edited_at IS NULL THEN NULL ELSE
            (SELECT json_agg(json_build_object('content', v.content::json, 'timestamp', v.timestamp)
                             ORDER BY v.timestamp, v.edit_wamid IS NOT NULL, v.id)::text
             FROM message_edit v WHERE v.original_wamid = m.wamid) END AS versions
        """

    static let contactColumns = "c.id AS contact_id, c.wa_id, c.user_id, c.parent_user_id, c.username, c.name, c.marketing_opt_out_at"

    static func message(from row: PostgresRow) throws -> StoredMessage {
        let cells = row.makeRandomAccess()
        func value<T: PostgresDecodable>(_ name: String, _: T.Type = T.self) throws -> T { try cells[name].decode(T.self) }
        return try MessageColumns(
            rowID: value("id"), wamid: value("wamid"), localID: value("local_id"), conversationID: value("conversation_id"),
            direction: value("direction"), content: value("content"), timestamp: value("timestamp"), status: value("status"),
            statusAt: value("status_at"), replyTo: value("reply_to"), forwarded: value("forwarded"),
            errorCode: (value("error_code", Int64?.self)).map { Int($0) }, errorTitle: value("error_title"),
            errorMessage: value("error_message"), errorDetails: value("error_details"), reactions: value("reactions"),
            outboxNote: value("outbox_note"), heldForReview: value("held_for_review"), media: value("media"),
            echo: value("echo"), buttons: value("buttons"), agent: value("agent"), editedAt: value("edited_at"),
            deletedAt: value("deleted_at"), versions: value("versions")).message()
    }

    static func contact(from cells: PostgresRandomAccessRow) throws -> ContactRecord {
        ContactRecord(
            id: ContactID(rawValue: try cells["contact_id"].decode(Int64.self)),
            waID: try cells["wa_id"].decode(String?.self).map(WaID.init),
            userID: try cells["user_id"].decode(String?.self).map(UserID.init),
            parentUserID: try cells["parent_user_id"].decode(String?.self).map(UserID.init),
            username: try cells["username"].decode(String?.self),
            name: try cells["name"].decode(String?.self),
            marketingOptOutAt: try cells["marketing_opt_out_at"].decode(Int64?.self))
    }

    /// Conversation rows as `viewer` sees them. `clauses` (WHERE, ORDER BY, LIMIT) number
    /// their parameters from $5: `binds` follow the viewer's four.
    static func summaries(_ clauses: String, _ values: [ScreenValue], viewer: Viewer, in tx: Transaction) async throws
        -> [ConversationSummary] {
        var all = PostgresBindings()
        all.append(viewer.agent)
        all.append(viewer.nowMilliseconds)
        all.append(viewer.agent)
        all.append(viewer.agent)
        ScreenValue.bind(values, to: &all)
        let sql = """
            SELECT cv.id, cv.phone_number_id, cv.display_phone_number, cv.last_activity_at, cv.last_inbound_at,
                   cv.last_message_id, cv.window_closed_at, cv.assigned_to, cv.resolved_at,
                   CASE WHEN $1::text IS NULL THEN cv.unread_count
                        ELSE cv.inbound_count - coalesce(ar.inbound_seen, 0) END AS viewer_unread,
                   (SELECT json_agg(json_build_object('agent', t.agent, 'until', t.until_ms))::text FROM agent_typing t
                    WHERE t.conversation_id = cv.id AND t.until_ms > $2 AND t.agent IS DISTINCT FROM $3::text) AS typing,
                   (SELECT json_agg(l.name ORDER BY wabox_nocase(l.name) COLLATE "C")::text FROM conversation_label cl
                    JOIN label l ON l.id = cl.label_id WHERE cl.conversation_id = cv.id) AS labels,
                   \(contactColumns)
            FROM conversation cv JOIN contact c ON c.id = cv.contact_id
            LEFT JOIN agent_read ar ON ar.agent = $4::text AND ar.conversation_id = cv.id
            """ + " " + clauses
        let rows = try await tx.rows(PostgresQuery(unsafeSQL: sql, binds: all)) { row in
            let cells = row.makeRandomAccess()
            let columns = ConversationColumns(
                id: try cells["id"].decode(Int64.self), phoneNumberID: try cells["phone_number_id"].decode(String.self),
                displayPhoneNumber: try cells["display_phone_number"].decode(String?.self),
                lastActivityAt: try cells["last_activity_at"].decode(Int64.self),
                lastInboundAt: try cells["last_inbound_at"].decode(Int64?.self),
                windowClosedAt: try cells["window_closed_at"].decode(Int64?.self),
                assignedTo: try cells["assigned_to"].decode(String?.self),
                resolvedAt: try cells["resolved_at"].decode(Int64?.self),
                viewerUnread: Int(try cells["viewer_unread"].decode(Int64.self)),
                typing: try cells["typing"].decode(String?.self), labels: try cells["labels"].decode(String?.self),
                contact: try contact(from: cells))
            return (columns, try cells["last_message_id"].decode(Int64?.self))
        }
        // The last messages in one more statement, not one per row.
        let lastIDs = rows.compactMap(\.1)
        var last: [Int64: StoredMessage] = [:]
        if !lastIDs.isEmpty {
            for message in try await tx.rows("""
                SELECT \(unescaped: messageColumns) FROM message m WHERE m.id = ANY(\(lastIDs))
                """, read: message(from:)) {
                last[message.rowID] = message
            }
        }
        return try rows.map { columns, lastID in try columns.summary(lastMessage: lastID.flatMap { last[$0] }) }
    }
}

/// A value bound to a `?` of the screen's SQL.
enum ScreenValue: Sendable {
    case text(String?)
    case number(Int64)
    case numbers([Int64])
    case texts([String])

    static func bind(_ values: [ScreenValue], to binds: inout PostgresBindings) {
        for value in values {
            switch value {
            case .text(let text): binds.append(text)
            case .number(let number): binds.append(number)
            case .numbers(let numbers): binds.append(numbers)
            case .texts(let texts): binds.append(texts)
            }
        }
    }
}

/// The list's query for one filter on PostgreSQL: SQLite's conditions (InboxStore's
/// ListFilter.swift), newest activity first. A step looks at one window of the list
/// (the activity index, `(last_activity_at, id)`) and tests the terms on each row in it,
/// so that a rare match costs a bounded amount of work per step, as on SQLite.
struct ScreenListQuery: Sendable {
    private(set) var conditions: [String] = []
    /// The conditions' values, for their `?` in order.
    private(set) var values: [ScreenValue] = []
    let viewer: Viewer
    let now: Int64
    /// No match is this old or older (`~w`): the walk ends there.
    private var activityFloor: Int64?
    /// The folded contact text the filter asks for, if any.
    private var needle: String?

    /// Whether a row the SQL selected matches the contact text (decided here for a
    /// contact whose key is not written yet; the same test for the others).
    func matches(_ row: ConversationSummary) -> Bool {
        guard let needle else { return true }
        let contact = row.contact
        return SearchText.contactKey(name: contact.name, username: contact.username, waID: contact.waID?.rawValue,
                                     userID: contact.userID?.rawValue).contains(needle)
    }

    init(filter: ConversationFilter, unreadOnly: Bool, scope: ConversationScope, viewer: Viewer, now: Int64) {
        self.viewer = viewer
        self.now = now
        let needle = SearchText.contactNeedle(filter.text)
        if !needle.isEmpty {
            // A contact the indexer has not reached (new, or renamed since) has no key yet:
            // it is a candidate, and `matches` decides on the key it will get.
            conditions.append(#"(c.search_key LIKE ? ESCAPE '\' OR c.search_key IS NULL)"#)
            values.append(.text("%" + SearchText.escapeLike(needle) + "%"))
            self.needle = needle
        }
        for term in filter.terms { add(term.condition, negated: term.negated) }
        if unreadOnly { add(.unread, negated: false) }
        switch scope {
        case .all: break
        case .mine:
            conditions.append("cv.assigned_to = ? AND cv.resolved_at IS NULL")
            values.append(.text(viewer.agent))
        case .unassigned:
            conditions.append("cv.assigned_to IS NULL AND cv.resolved_at IS NULL")
        }
    }

    mutating func add(_ condition: String, _ ids: [Int64]) {
        conditions.append(condition)
        values.append(.numbers(ids))
    }

    private mutating func add(_ condition: ConversationFilter.Condition, negated: Bool) {
        let sql: String
        var arguments: [ScreenValue] = []
        switch condition {
        case .unread:
            sql = viewer.agent == nil ? "cv.unread_count > 0" : "cv.inbound_count > coalesce(ar.inbound_seen, 0)"
        case .windowOpen, .windowClosed:
            let open = "(coalesce(cv.last_inbound_at, 0) > ? AND coalesce(cv.window_closed_at, 0) < cv.last_inbound_at)"
            sql = condition == .windowOpen ? open : "NOT " + open
            arguments = [.number(now - ServiceWindow.seconds)]
        case .failedReply:
            sql = "cv.failing_replies > 0"
        case .claimedBy(let name):
            // As SQLite's: `=` (no agent: nothing is theirs), and negated `IS DISTINCT FROM`,
            // so that nobody's counts as not theirs.
            conditions.append(negated ? "cv.assigned_to IS DISTINCT FROM ?" : "cv.assigned_to = ?")
            values.append(.text(name == "me" ? viewer.agent : name))
            return
        case .unclaimed:
            sql = "cv.assigned_to IS NULL"
        case .label(let name):
            sql = """
                EXISTS (SELECT 1 FROM conversation_label cl JOIN label l ON l.id = cl.label_id
                        WHERE cl.conversation_id = cv.id AND wabox_nocase(l.name) = wabox_nocase(?))
                """
            arguments = [.text(name)]
        }
        conditions.append(negated ? "NOT (\(sql))" : sql)
        values += arguments
        // Only open windows are at most a day old: the walk may stop at yesterday.
        if condition == .windowOpen, !negated {
            conditions.append("cv.last_activity_at > ?")
            values.append(.number(now - ServiceWindow.seconds))
            activityFloor = now - ServiceWindow.seconds
        }
    }

    /// The conditions as a WHERE clause, their parameters numbered from $5.
    var whereClause: String { Self.numbered(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")) }


    /// `?` numbered `$5`, `$6` …: the viewer's four come first.
    static func numbered(_ sql: String, from first: Int = 5) -> String {
        var next = first
        var result = ""
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?", !quoted {
                result += "$\(next)"
                next += 1
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Up to `limit` matches after `cursor` among the next `window` conversations (all of
    /// them when nil or when nothing is tested), and where the window ended when it did
    /// before the list.
    func step(after cursor: ConversationCursor?, limit: Int, window: Int?, in tx: Transaction) async throws
        -> ConversationListStep {
        var query = self
        if let cursor {
            query.conditions.append("(cv.last_activity_at, cv.id) < (?, ?)")
            query.values += [.number(cursor.lastActivityAt), .number(cursor.id)]
        }
        var end: ConversationCursor?
        if let window, !conditions.isEmpty {
            end = try await tx.row("""
                SELECT last_activity_at, id FROM conversation
                WHERE (\(cursor == nil)::boolean OR (last_activity_at, id) < (\(cursor?.lastActivityAt ?? 0), \(cursor?.id ?? 0)))
                ORDER BY last_activity_at DESC, id DESC LIMIT 1 OFFSET \(max(0, window - 1))
                """) {
                let (activity, id) = try $0.decode((Int64, Int64).self)
                return ConversationCursor(lastActivityAt: activity, id: id)
            }
            if let floor = activityFloor, let last = end, last.lastActivityAt <= floor { end = nil }
            if let end {
                query.conditions.append("(cv.last_activity_at, cv.id) >= (?, ?)")
                query.values += [.number(end.lastActivityAt), .number(end.id)]
            }
        }
        let fetched = try await ScreenRows.summaries(
            query.whereClause + " ORDER BY cv.last_activity_at DESC, cv.id DESC LIMIT \(limit + 1)", query.values,
            viewer: viewer, in: tx)
        var items = fetched.filter(matches)
        if items.count > limit {
            items.removeLast(items.count - limit)
            return ConversationListStep(items: items, next: items.last?.cursor, scannedTo: nil)
        }
        if fetched.count > limit, let last = fetched.last {
            // Rows left out by the contact test: what is left starts after the last one read.
            return ConversationListStep(items: items, next: nil, scannedTo: last.cursor)
        }
        return ConversationListStep(items: items, next: nil, scannedTo: end)
    }
}
