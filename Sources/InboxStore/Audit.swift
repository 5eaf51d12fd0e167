import Foundation
import GRDB
import InboxCore

// Who did what: the identity every action is recorded under, and the audit trail, an
// append-only table that names the account, the time, the conversation and what was done
// for every message sent, note, claim and release, resolve and reopen, label change and
// canned-reply change.

extension InboxDatabase {
    /// The identity rule of this store. SQLite serves one host, where the operating system
    /// has authenticated each process's account (SSH logged the agent in): the account is
    /// the process's real user id, looked up in the user database (`getuid`, `getpwuid`).
    /// The environment (`USER`, `LOGNAME`) is not asked: anyone can set it.
    ///
    /// A store on a database server follows the same rule with what that server
    /// authenticated: the role the connection logged in as (`current_user`), one role per
    /// agent, the display name beside it as here.
    public static func sessionAccount() -> String {
        let uid = getuid()
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name, name.pointee != 0 else {
            // A user id without an entry (a container's): still one account per id.
            return "uid-\(uid)"
        }
        return String(cString: name)
    }
}

// MARK: - The trail

extension InboxDatabase {
    /// Appends one entry to the trail, in the caller's transaction, under this database's
    /// identity. The customer's identifiers are read from the conversation as it is now.
    static func audit(_ action: AuditAction, by identity: AgentIdentity, conversation: ConversationID?,
                      detail: AuditDetail, at now: Int64, in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO audit (at, account, display_name, action, conversation_id, contact_wa_id, contact_user_id, detail)
            VALUES (?1, ?2, ?3, ?4, ?5,
                    (SELECT c.wa_id FROM conversation cv JOIN contact c ON c.id = cv.contact_id WHERE cv.id = ?5),
                    (SELECT c.user_id FROM conversation cv JOIN contact c ON c.id = cv.contact_id WHERE cv.id = ?5), ?6)
            """).execute(arguments: [now, identity.account, identity.displayName, action.rawValue, conversation?.rawValue,
                                     detail.json])
    }

    /// Streams the trail, oldest first, to `emit`. Returns how many entries were emitted.
    @discardableResult
    public func auditTrail(_ query: AuditQuery = .init(), emit: (AuditEntry) throws -> Void) throws -> Int {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let since = query.since {
            conditions.append("a.at >= ?")
            arguments += [since]
        }
        if let account = query.account {
            conditions.append("a.account = ?")
            arguments += [account]
        }
        if let identifier = query.contact {
            let contacts = try contacts(matching: identifier)
            guard !contacts.isEmpty else { throw UnknownContact(identifier: identifier) }
            // Its conversations now, and what the rows recorded when they were written (a
            // contact merged since, or a number changed since, is still found).
            let waIDs = contacts.compactMap(\.waID?.rawValue), userIDs = contacts.compactMap(\.userID?.rawValue)
            let ids = contacts.map(\.id.rawValue)
            func list(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ",") }
            conditions.append("""
                (a.conversation_id IN (SELECT id FROM conversation WHERE contact_id IN (\(list(ids.count))))
                 OR a.contact_wa_id IN (\(list(waIDs.count))) OR a.contact_user_id IN (\(list(userIDs.count))))
                """)
            arguments += StatementArguments(ids) + StatementArguments(waIDs) + StatementArguments(userIDs)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try writer.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT a.id, a.at, a.account, a.display_name, a.action, a.conversation_id, a.contact_wa_id,
                       a.contact_user_id, a.detail, c.name
                FROM audit a LEFT JOIN conversation cv ON cv.id = a.conversation_id LEFT JOIN contact c ON c.id = cv.contact_id
                \(filter)
                ORDER BY a.id
                """, arguments: arguments)
            var count = 0
            while let row = try rows.next() {
                let detail = (row["detail"] as String?).flatMap {
                    try? AuditDetail.decoder.decode(AuditDetail.self, from: Data($0.utf8))
                } ?? AuditDetail()
                try emit(AuditEntry(
                    id: row["id"], at: row["at"], account: row["account"], displayName: row["display_name"],
                    action: AuditAction(rawValue: row["action"]) ?? .note,
                    conversationID: (row["conversation_id"] as Int64?).map(ConversationID.init(rawValue:)),
                    contactWaID: row["contact_wa_id"], contactUserID: row["contact_user_id"], contactName: row["name"],
                    detail: detail))
                count += 1
            }
            return count
        }
    }

    /// Removes the trail's entries older than `cutoff` (Unix seconds), at most `limit`:
    /// the one deletion the trail's triggers allow. Returns how many went.
    @discardableResult
    public func pruneAudit(before cutoff: Int64, limit: Int = 500) throws -> Int {
        try writer.write { db in
            try db.execute(sql: "INSERT INTO audit_pruning (cutoff) VALUES (?)", arguments: [cutoff])
            try db.execute(sql: "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY id LIMIT ?)",
                           arguments: [cutoff, limit])
            let removed = db.changesCount
            try db.execute(sql: "DELETE FROM audit_pruning")
            return removed
        }
    }

    /// Every agent's display name, by account (those without one are left out).
    public func displayNames() throws -> [String: String] {
        try writer.read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT name, display_name FROM agent WHERE display_name IS NOT NULL")
                .map { ($0["name"] as String, $0["display_name"] as String) }, uniquingKeysWith: { first, _ in first })
        }
    }
}
