import Foundation
import GRDB
import InboxCore

/// The conversation list's query for one filter: SQL conditions on `cv` (conversation) and
/// `c` (contact) that all must hold, newest activity first.
///
/// Candidates come newest first from a driver: the activity index itself (every
/// conversation), or an index that holds only those one term asks for (a claim, a failed
/// reply, the team's unread, a label). A step looks at one window of the driver's
/// candidates and tests the other terms on each, so its work is bounded however rare the
/// matches are; a name with few matches (the trigram index) needs no window at all.
struct ListQuery {
    /// What hands over the candidates newest first.
    enum Driver: Equatable {
        /// Every conversation, through `conversation_activity`.
        case activity
        /// The conversations `sql` (on `cv`) selects, through an index it matches.
        case index(sql: String, rank: Int)
        /// A label's conversations, through `conversation_label_activity`.
        case label(String)
        /// The few contacts the trigram index found: no window needed.
        case fewMatches

        /// Lower is rarer: the driver chosen among the terms.
        var rank: Int {
            switch self {
            case .fewMatches: 0
            case .index(_, let rank): rank
            case .label: 3
            case .activity: 9
            }
        }
    }

    var conditions: [String] = []
    var arguments: StatementArguments = []
    let viewer: Viewer
    let now: Int64
    var driver = Driver.activity
    var driverArguments: StatementArguments = []
    /// No match is this old or older (`~w`): the walk ends there.
    var activityFloor: Int64?

    init(filter: ConversationFilter, viewer: Viewer, now: Int64, in db: Database) throws {
        self.viewer = viewer
        self.now = now
        // "+33 6 12" finds 33612…: digits typed with spaces or a plus sign.
        let needle = SearchText.contactNeedle(filter.text)
        if !needle.isEmpty {
            let (condition, argument, few) = try Self.contactCondition(needle, digitsOnly: needle.allSatisfy(\.isNumber), in: db)
            conditions.append(condition)
            arguments += [argument]
            if few { drive(.fewMatches, []) }
        }
        for term in filter.terms { add(term.condition, negated: term.negated) }
    }

    /// Makes `candidate` the driver when it is rarer than the one there is.
    mutating func drive(_ candidate: Driver, _ values: StatementArguments) {
        guard candidate.rank < driver.rank else { return }
        driver = candidate
        driverArguments = values
    }

    mutating func add(_ condition: ConversationFilter.Condition, negated: Bool = false) {
        if !negated {
            switch condition {
            case .claimedBy(let name): drive(.index(sql: "cv.assigned_to = ?", rank: 1), [name == "me" ? viewer.agent : name])
            case .failedReply: drive(.index(sql: "cv.failing_replies > 0", rank: 2), [])
            case .label(let name): drive(.label(name), [name])
            case .unread where viewer.agent == nil: drive(.index(sql: "cv.unread_count > 0", rank: 4), [])
            case .unclaimed: drive(.index(sql: "cv.assigned_to IS NULL", rank: 5), [])
            default: break
            }
        }
        if case .claimedBy(let name) = condition {
            // `=` for the index on assigned_to; `IS NOT` so that nobody's counts as not theirs.
            conditions.append(negated ? "+cv.assigned_to IS NOT ?" : "+cv.assigned_to = ?")
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
            return viewer.agent == nil ? ("+cv.unread_count > 0", []) : ("cv.inbound_count > coalesce(ar.inbound_seen, 0)", [])
        case .windowOpen, .windowClosed:
            let open = """
                (coalesce(cv.last_inbound_at, 0) > ? AND coalesce(cv.window_closed_at, 0) < cv.last_inbound_at)
                """
            return (condition == .windowOpen ? open : "NOT " + open, [now - InboxDatabase.serviceWindowSeconds])
        case .failedReply:
            return ("+cv.failing_replies > 0", [])
        case .claimedBy(let name):
            return ("+cv.assigned_to IS ?", [name == "me" ? viewer.agent : name])
        case .unclaimed:
            return ("+cv.assigned_to IS NULL", [])
        case .label(let name):
            return ("""
                EXISTS (SELECT 1 FROM conversation_label cl WHERE cl.conversation_id = cv.id
                        AND cl.label_id = (SELECT id FROM label WHERE name = ?))
                """, [name])
        }
    }

    /// Up to `limit + 1` matching conversations, newest activity first, after `cursor`,
    /// among the next `window` candidates of the driver (all of them when nil). Returns them
    /// and, when the window ended before the candidates did, where it ended.
    func step(after cursor: ConversationCursor?, limit: Int, window: Int?, in db: Database) throws
        -> (items: [ConversationSummary], scannedTo: ConversationCursor?) {
        var conditions = conditions
        var arguments = arguments
        // Terms keep their columns from the planner (`+cv.…`): only the driver's index
        // may order the walk, or SQLite could walk another one and test millions of rows.
        if case .index(let condition, _) = driver {
            conditions.append(condition)
            arguments += driverArguments
        }
        var labelID: Int64?
        if case .label(let name) = driver {
            // No such label: nothing carries it.
            guard let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM label WHERE name = ?"),
                                              arguments: [name]) else { return ([], nil) }
            labelID = id
        }
        let (activity, id) = labelID == nil ? ("cv.last_activity_at", "cv.id") : ("cl.last_activity_at", "cl.conversation_id")
        if let cursor {
            conditions.append("(\(activity), \(id)) < (?, ?)")
            arguments += [cursor.lastActivityAt, cursor.id]
        }
        var end: ConversationCursor?
        if let window, driver != .fewMatches {
            end = try windowEnd(after: cursor, window: window, labelID: labelID, in: db)
            // Past the floor, what is left of it fits in this window.
            if let floor = activityFloor, let last = end, last.lastActivityAt <= floor { end = nil }
            if let end {
                conditions.append("(\(activity), \(id)) >= (?, ?)")
                arguments += [end.lastActivityAt, end.id]
            }
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        guard let labelID else {
            arguments += [limit + 1]
            let items = try InboxDatabase.summaries(whereClause + " ORDER BY cv.last_activity_at DESC, cv.id DESC LIMIT ?",
                                                    arguments: arguments, viewer: viewer, in: db)
            return (items, items.count > limit ? nil : end)
        }
        // The label's conversations newest first (its own copy of last_activity_at), the
        // other terms tested on each; then the rows of those found.
        var labelArguments: StatementArguments = [viewer.agent, labelID]
        labelArguments += arguments
        labelArguments += [limit + 1]
        let ids = try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT cl.conversation_id FROM conversation_label cl
            CROSS JOIN conversation cv ON cv.id = cl.conversation_id
            JOIN contact c ON c.id = cv.contact_id
            LEFT JOIN agent_read ar ON ar.agent = ? AND ar.conversation_id = cv.id
            WHERE cl.label_id = ? \(conditions.isEmpty ? "" : "AND " + conditions.joined(separator: " AND "))
            ORDER BY cl.last_activity_at DESC, cl.conversation_id DESC LIMIT ?
            """), arguments: labelArguments)
        let items = ids.isEmpty ? [] : try InboxDatabase.summaries(
            "WHERE cv.id IN (\(ids.map(String.init).joined(separator: ","))) ORDER BY cv.last_activity_at DESC, cv.id DESC",
            arguments: [], viewer: viewer, in: db)
        return (items, items.count > limit ? nil : end)
    }

    /// The last of the driver's next `window` candidates after `cursor`, from its index
    /// alone; nil when fewer are left.
    private func windowEnd(after cursor: ConversationCursor?, window: Int, labelID: Int64?, in db: Database) throws
        -> ConversationCursor? {
        var bounds = driverArguments
        var sql: String
        var filters: [String] = []
        let order: String
        if let labelID {
            sql = "SELECT last_activity_at, conversation_id FROM conversation_label"
            filters.append("label_id = ?")
            bounds = [labelID]
            order = "last_activity_at DESC, conversation_id DESC"
            if let cursor { filters.append("(last_activity_at, conversation_id) < (?, ?)") }
        } else {
            sql = "SELECT cv.last_activity_at, cv.id FROM conversation cv"
            if case .index(let condition, _) = driver { filters.append(condition) }
            order = "cv.last_activity_at DESC, cv.id DESC"
            if let cursor { filters.append("(cv.last_activity_at, cv.id) < (?, ?)") }
        }
        if let cursor { bounds += [cursor.lastActivityAt, cursor.id] }
        if !filters.isEmpty { sql += " WHERE " + filters.joined(separator: " AND ") }
        sql += " ORDER BY \(order) LIMIT 1 OFFSET \(max(0, window - 1))"
        return try Row.fetchOne(db.cachedStatement(sql: sql), arguments: bounds).map {
            ConversationCursor(lastActivityAt: $0[0], id: $0[1])
        }
    }

    /// How to find contacts whose search key contains `needle`. Few matches: take them
    /// from the trigram index and sort them. Many matches (or a needle under three
    /// characters): walk conversations newest first and test each key, which finds a
    /// screenful long before the end.
    ///
    /// - Important: Not for digits: their trigrams ("000", "336") are in nearly every
    ///   number, and the trigram index merges lists of a million entries to count them
    ///   (50 ms at a million contacts). A number is walked, a window per loop turn.
    static func contactCondition(_ needle: String, digitsOnly: Bool = false, in db: Database) throws
        -> (String, String, few: Bool) {
        let fewMatches = 1000
        if needle.count >= 3, !digitsOnly, !needle.contains(where: { $0 == "%" || $0 == "_" || $0 == "\\" }) {
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

extension InboxDatabase {
    /// How many conversations one step of a walk looks at.
    public static let listWindow = 2_000

    /// One step of `conversations(filter:)`: matches after `cursor` among the next
    /// `window` conversations when the list must be walked, or all of them when an index
    /// finds them. Continue from `scannedTo` with what is left of `limit`.
    public func conversationStep(filter: ConversationFilter, unreadOnly: Bool = false, scope: ConversationScope = .all,
                                 after cursor: ConversationCursor? = nil, limit: Int = 50, viewer: Viewer = .team,
                                 now: Int64? = nil, window: Int? = InboxDatabase.listWindow) throws -> ConversationListStep {
        let now = now ?? (viewer.nowMilliseconds > 0 ? viewer.nowMilliseconds / 1000 : Int64(Date().timeIntervalSince1970))
        return try writer.read { db in
            let query = try ListQuery(filter: filter, unreadOnly: unreadOnly, scope: scope, viewer: viewer, now: now, in: db)
            // Nothing to test: the list itself, newest first, in one query.
            let bounded = query.conditions.isEmpty ? nil : window
            var (items, scannedTo) = try query.step(after: cursor, limit: limit, window: bounded, in: db)
            let full = items.count > limit
            if full { items.removeLast() }
            return ConversationListStep(items: items, next: full ? items.last?.cursor : nil, scannedTo: full ? nil : scannedTo)
        }
    }
}

extension ListQuery {
    /// The list's query with `unreadOnly` and `scope` added to the filter's terms.
    init(filter: ConversationFilter, unreadOnly: Bool, scope: ConversationScope, viewer: Viewer, now: Int64,
         in db: Database) throws {
        self = try ListQuery(filter: filter, viewer: viewer, now: now, in: db)
        if unreadOnly { add(.unread) }
        switch scope {
        case .all: break
        case .mine:
            conditions.append("+cv.assigned_to = ? AND cv.resolved_at IS NULL")
            arguments += [viewer.agent]
            drive(.index(sql: "cv.assigned_to = ?", rank: 1), [viewer.agent])
        case .unassigned:
            conditions.append("+cv.assigned_to IS NULL AND cv.resolved_at IS NULL")
            drive(.index(sql: "cv.assigned_to IS NULL", rank: 5), [])
        }
    }
}

extension InboxDatabase {
    /// Which of `ids` the list under `filter` shows, as it shows them (the rows
    /// `conversationStep` returns), newest activity first: what a screen patches into the
    /// list it has after the change feed named these conversations. The others no longer
    /// match, or are gone.
    public func conversations(among ids: Set<ConversationID>, filter: ConversationFilter, unreadOnly: Bool = false,
                              scope: ConversationScope = .all, viewer: Viewer = .team, now: Int64? = nil) throws
        -> [ConversationSummary] {
        guard !ids.isEmpty else { return [] }
        let now = now ?? (viewer.nowMilliseconds > 0 ? viewer.nowMilliseconds / 1000 : Int64(Date().timeIntervalSince1970))
        return try writer.read { db in
            var query = try ListQuery(filter: filter, unreadOnly: unreadOnly, scope: scope, viewer: viewer, now: now, in: db)
            // Row ids written in (integers only): the candidates come from the primary key.
            query.conditions.append("cv.id IN (\(ids.map { String($0.rawValue) }.sorted().joined(separator: ",")))")
            // Every driver's term is among the conditions too: the ids drive instead.
            query.driver = .fewMatches
            return try query.step(after: nil, limit: ids.count, window: nil, in: db).items
        }
    }
}
