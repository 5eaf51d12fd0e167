import Foundation
import InboxCore
import PostgresNIO
import StoreContract

// `wabox audit` on PostgreSQL: the trail read as SQLite's is (InboxStore's Audit.swift).

extension PostgresStore: AuditTrailStore {
    public func auditTrail(_ query: AuditQuery, emit: (AuditEntry) throws -> Void) async throws -> Int {
        typealias Row = (Int64, Int64, String, String?, String, Int64?, String?, String?, String, String?)
        let rows: [Row] = try await readOnly { tx in
            var conditions: [String] = []
            var values: [ScreenValue] = []
            if let since = query.since {
                conditions.append("a.at >= ?")
                values.append(.number(since))
            }
            if let account = query.account {
                conditions.append("a.account = ?")
                values.append(.text(account))
            }
            if let identifier = query.contact {
                let key = CustomerAddress(identifier).key
                let contacts = try await tx.rows("""
                    SELECT id, wa_id, user_id FROM contact WHERE wa_id = \(key) OR user_id = \(key) OR username = \(key)
                    """) { try $0.decode((Int64, String?, String?).self) }
                guard !contacts.isEmpty else { throw UnknownContact(identifier: identifier) }
                // Its conversations now, and what the rows recorded when they were written
                // (a contact merged or a number changed since is still found).
                conditions.append("""
                    (a.conversation_id IN (SELECT id FROM conversation WHERE contact_id = ANY(?))
                     OR a.contact_wa_id = ANY(?::text[]) OR a.contact_user_id = ANY(?::text[]))
                    """)
                values.append(.numbers(contacts.map(\.0)))
                values.append(.texts(contacts.compactMap(\.1)))
                values.append(.texts(contacts.compactMap(\.2)))
            }
            var binds = PostgresBindings()
            ScreenValue.bind(values, to: &binds)
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try await tx.rows(PostgresQuery(unsafeSQL: ScreenListQuery.numbered("""
                SELECT a.id, a.at, a.account, a.display_name, a.action, a.conversation_id, a.contact_wa_id,
                       a.contact_user_id, a.detail, c.name
                FROM audit a LEFT JOIN conversation cv ON cv.id = a.conversation_id LEFT JOIN contact c ON c.id = cv.contact_id
                \(filter)
                ORDER BY a.id
                """, from: 1), binds: binds)) { try $0.decode(Row.self) }
        }
        for (id, at, account, displayName, action, conversation, waID, userID, detail, name) in rows {
            try emit(AuditEntry(
                id: id, at: at, account: account, displayName: displayName,
                action: AuditAction(rawValue: action) ?? .note,
                conversationID: conversation.map(ConversationID.init(rawValue:)),
                contactWaID: waID, contactUserID: userID, contactName: name,
                detail: (try? AuditDetail.decoder.decode(AuditDetail.self, from: Data(detail.utf8))) ?? AuditDetail()))
        }
        return rows.count
    }
}
