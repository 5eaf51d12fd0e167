import Foundation
import GRDB
import InboxCore

extension InboxDatabase {
    /// The account alerts in force at `now` (Unix seconds): raised, not lifted, not expired.
    public func accountAlerts(at now: Int64) throws -> [AccountAlert] {
        try writer.read { db in
            try String.fetchAll(db, sql: """
                SELECT alert FROM account_alert
                WHERE lifted_at IS NULL AND alert IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)
                ORDER BY at, account, slot
                """, arguments: [now]).map { try StoredJSON.decode(AccountAlert.self, from: $0) }
        }
    }

    /// Every template update kept, by name then language.
    public func templateStates() throws -> [TemplateState] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM template_state ORDER BY name, language").map { row in
                let language: String = row["language"]
                return TemplateState(
                    name: row["name"], language: language.isEmpty ? nil : language, templateID: row["template_id"],
                    status: row["status"], reason: row["reason"], statusAt: row["status_at"], category: row["category"],
                    categoryAt: row["category_at"], quality: row["quality"], qualityAt: row["quality_at"])
            }
        }
    }
}
