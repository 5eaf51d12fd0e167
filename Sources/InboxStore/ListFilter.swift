import Foundation
import GRDB
import InboxCore

/// The conversation list's query for one filter: SQL conditions on `cv` (conversation) and
/// `c` (contact) that all must hold, newest activity first.
struct ListQuery {
    var conditions: [String] = []
    var arguments: StatementArguments = []
    let viewer: Viewer
    let now: Int64
    /// Whether an index hands over the matches newest first (a claim, a failed reply, the
    /// team's unread, a label, a name with few matches): one query finds the page however
    /// rare they are. Otherwise the list is walked newest first and tested row by row.
    var indexed = false
    /// The label whose conversations are walked (newest first) instead of all of them.
    var drivingLabel: String?
    /// No match is this old or older (`~w`): the walk ends there.
    var activityFloor: Int64?

    init(filter: ConversationFilter, viewer: Viewer, now: Int64, in db: Database) throws {
        self.viewer = viewer
        self.now = now
        var needle = searchFold(filter.text.trimmingCharacters(in: .whitespaces))
        // "+33 6 12" finds 33612…: digits typed with spaces or a plus sign.
        if !needle.isEmpty, needle.allSatisfy({ $0.isNumber || $0 == " " || $0 == "+" || $0 == "-" }) {
            needle = needle.filter(\.isNumber)
        }
        if !needle.isEmpty {
            let (condition, argument, few) = try Self.contactCondition(needle, in: db)
            conditions.append(condition)
            arguments += [argument]
            indexed = indexed || few
        }
        for term in filter.terms { add(term.condition, negated: term.negated) }
        // A label drives only when no claim or failure index does (those are rarer).
        if !indexed, case .label(let name)? = filter.terms.first(where: { !$0.negated && $0.isLabel })?.condition {
            drivingLabel = name
            indexed = true
        }
    }

    mutating func add(_ condition: ConversationFilter.Condition, negated: Bool = false) {
        if !negated {
            switch condition {
            case .claimedBy, .unclaimed, .failedReply: indexed = true
            case .unread where viewer.agent == nil: indexed = true
            default: break
            }
        }
        if case .claimedBy(let name) = condition {
            // `=` for the index on assigned_to; `IS NOT` so that nobody's counts as not theirs.
            conditions.append(negated ? "cv.assigned_to IS NOT ?" : "cv.assigned_to = ?")
            arguments += [name == "me" ? viewer.agent : name]
            return
        }
        let (sql, values) = Self.sql(for: condition, viewer: viewer, now: now)
        conditions.append(negated ? "NOT (\(sql))" : sql)
        arguments += StatementArguments(values)
        // Only open windows are at most a day old, and last_activity_at is never older than
        // last_inbound_at: bounding it lets the walk stop at yesterday.
        if condition == .windowOpen, !negated {
            conditions.append("cv.last_activity_at > ?")
            arguments += [now - InboxDatabase.serviceWindowSeconds]
            activityFloor = now - InboxDatabase.serviceWindowSeconds
        }
    }

    static func sql(for condition: ConversationFilter.Condition, viewer: Viewer, now: Int64)
        -> (String, [(any DatabaseValueConvertible)?]) {
        switch condition {
        case .unread:
            // The team's count has a partial index; an agent's is the difference with what
            // they have seen.
            return viewer.agent == nil ? ("cv.unread_count > 0", []) : ("cv.inbound_count > coalesce(ar.inbound_seen, 0)", [])
        case .windowOpen, .windowClosed:
            let open = """
                (coalesce(cv.last_inbound_at, 0) > ? AND coalesce(cv.window_closed_at, 0) < cv.last_inbound_at)
                """
            return (condition == .windowOpen ? open : "NOT " + open, [now - InboxDatabase.serviceWindowSeconds])
        case .failedReply:
            return ("cv.failing_replies > 0", [])
        case .claimedBy(let name):
            return ("cv.assigned_to IS ?", [name == "me" ? viewer.agent : name])
        case .unclaimed:
            return ("cv.assigned_to IS NULL", [])
        case .label(let name):
            return ("""
                EXISTS (SELECT 1 FROM conversation_label cl WHERE cl.conversation_id = cv.id
                        AND cl.label_id = (SELECT id FROM label WHERE name = ?))
                """, [name])
        }
    }

    /// Up to `limit + 1` matching conversations, newest activity first, after `cursor`;
    /// when the list is walked, only among the `window` conversations after it. Returns them
    /// and, when the window ended before the list did, where it ended.
    func step(after cursor: ConversationCursor?, limit: Int, window: Int?, in db: Database) throws
        -> (items: [ConversationSummary], scannedTo: ConversationCursor?) {
        var conditions = conditions
        var arguments = arguments
        var end: ConversationCursor?
        if let window, !indexed {
            // Where the window ends: the activity index alone, a few thousand entries.
            var sql = "SELECT last_activity_at, id FROM conversation"
            var bounds: StatementArguments = []
            if let cursor {
                sql += " WHERE (last_activity_at, id) < (?, ?)"
                bounds = [cursor.lastActivityAt, cursor.id]
            }
            sql += " ORDER BY last_activity_at DESC, id DESC LIMIT 1 OFFSET \(max(0, window - 1))"
            end = try Row.fetchOne(db.cachedStatement(sql: sql), arguments: bounds).map {
                ConversationCursor(lastActivityAt: $0[0], id: $0[1])
            }
            // Past the floor, what is left of it fits in this window.
            if let floor = activityFloor, let last = end, last.lastActivityAt <= floor { end = nil }
            if let end {
                conditions.append("(cv.last_activity_at, cv.id) >= (?, ?)")
                arguments += [end.lastActivityAt, end.id]
            }
        }
        if let cursor {
            conditions.append(drivingLabel == nil ? "(cv.last_activity_at, cv.id) < (?, ?)"
                                                  : "(cl.last_activity_at, cl.conversation_id) < (?, ?)")
            arguments += [cursor.lastActivityAt, cursor.id]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        guard let label = drivingLabel else {
            arguments += [limit + 1]
            let items = try InboxDatabase.summaries(whereClause + " ORDER BY cv.last_activity_at DESC, cv.id DESC LIMIT ?",
                                                    arguments: arguments, viewer: viewer, in: db)
            return (items, items.count > limit ? nil : end)
        }
        var labelArguments: StatementArguments = [viewer.agent]
        labelArguments += arguments
        labelArguments += [label, limit + 1]
        // The label's conversations newest first (its own copy of last_activity_at), the
        // other terms tested on each; then the rows of those found.
        let ids = try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT cl.conversation_id FROM conversation_label cl
            CROSS JOIN conversation cv ON cv.id = cl.conversation_id
            JOIN contact c ON c.id = cv.contact_id
            LEFT JOIN agent_read ar ON ar.agent = ? AND ar.conversation_id = cv.id
            \(whereClause.isEmpty ? "WHERE" : whereClause + " AND")
                cl.label_id = (SELECT id FROM label WHERE name = ?)
            ORDER BY cl.last_activity_at DESC, cl.conversation_id DESC LIMIT ?
            """), arguments: labelArguments)
        guard !ids.isEmpty else { return ([], nil) }
        let items = try InboxDatabase.summaries(
            "WHERE cv.id IN (\(ids.map(String.init).joined(separator: ","))) ORDER BY cv.last_activity_at DESC, cv.id DESC",
            arguments: [], viewer: viewer, in: db)
        return (items, nil)
    }

    /// How to find contacts whose search key contains `needle`. Few matches: take them
    /// from the trigram index and sort them. Many matches (or a needle under three
    /// characters): walk conversations newest first and test each key, which finds a
    /// screenful long before the end.
    static func contactCondition(_ needle: String, in db: Database) throws -> (String, String, few: Bool) {
        let fewMatches = 1000
        if needle.count >= 3, !needle.contains(where: { $0 == "%" || $0 == "_" || $0 == "\\" }) {
            let pattern = "%" + needle + "%"
            let matches = try Int.fetchOne(db.cachedStatement(sql: """
                SELECT count(*) FROM (SELECT rowid FROM contact_trigram WHERE search_key LIKE ? LIMIT \(fewMatches))
                """), arguments: [pattern]) ?? 0
            if matches < fewMatches {
                return ("c.id IN (SELECT rowid FROM contact_trigram WHERE search_key LIKE ?)", pattern, true)
            }
        }
        return ("c.search_key LIKE ? ESCAPE '\\'", "%" + InboxDatabase.escapeLike(needle) + "%", false)
    }
}

extension ConversationFilter.Term {
    var isLabel: Bool {
        if case .label = condition { true } else { false }
    }
}

/// Part of the conversation list, found within a bounded amount of work: the screen shows
/// it and asks for the rest on its next turns, so that a key press never waits for a walk
/// through a million conversations.
public struct ConversationListStep: Sendable {
    /// Matches found so far in this step, newest first (at most `limit`).
    public var items: [ConversationSummary]
    /// Set when the page is full and more conversations match.
    public var next: ConversationCursor?
    /// Set when the walk stopped here before the end of the list: continue from it.
    public var scannedTo: ConversationCursor?
}

extension InboxDatabase {
    /// How many conversations one step of a walk looks at.
    public static let listWindow = 4_000

    /// One step of `conversations(filter:)`: matches after `cursor` among the next
    /// `window` conversations when the list must be walked, or all of them when an index
    /// finds them. Continue from `scannedTo` with what is left of `limit`.
    public func conversationStep(filter: ConversationFilter, unreadOnly: Bool = false, scope: ConversationScope = .all,
                                 after cursor: ConversationCursor? = nil, limit: Int = 50, viewer: Viewer = .team,
                                 now: Int64? = nil, window: Int? = InboxDatabase.listWindow) throws -> ConversationListStep {
        let now = now ?? (viewer.nowMilliseconds > 0 ? viewer.nowMilliseconds / 1000 : Int64(Date().timeIntervalSince1970))
        return try writer.read { db in
            var query = try ListQuery(filter: filter, viewer: viewer, now: now, in: db)
            if unreadOnly { query.add(.unread) }
            switch scope {
            case .all: break
            case .mine:
                query.conditions.append("cv.assigned_to = ? AND cv.resolved_at IS NULL")
                query.arguments += [viewer.agent]
                query.indexed = true
            case .unassigned:
                query.conditions.append("cv.assigned_to IS NULL AND cv.resolved_at IS NULL")
                query.indexed = true
            }
            // Nothing to test: the list itself, newest first.
            if query.conditions.isEmpty { query.indexed = true }
            var (items, scannedTo) = try query.step(after: cursor, limit: limit, window: window, in: db)
            let full = items.count > limit
            if full { items.removeLast() }
            return ConversationListStep(items: items, next: full ? items.last?.cursor : nil, scannedTo: full ? nil : scannedTo)
        }
    }
}
