import Foundation
import GRDB
import InboxCore

/// A template update as the store keeps it: the newest status, category and quality
/// webhooks said, each with its time.
public struct TemplateState: Sendable, Hashable {
    public var name: String
    /// nil: the update named no language, so it holds for every language of `name`.
    public var language: String?
    public var templateID: String?
    public var status: String?
    public var reason: String?
    public var statusAt: Int64?
    public var category: String?
    public var categoryAt: Int64?
    public var quality: String?
    public var qualityAt: Int64?

    public init(name: String, language: String?, templateID: String? = nil, status: String? = nil, reason: String? = nil,
                statusAt: Int64? = nil, category: String? = nil, categoryAt: Int64? = nil, quality: String? = nil,
                qualityAt: Int64? = nil) {
        self.name = name
        self.language = language
        self.templateID = templateID
        self.status = status
        self.reason = reason
        self.statusAt = statusAt
        self.category = category
        self.categoryAt = categoryAt
        self.quality = quality
        self.qualityAt = qualityAt
    }

    /// Whether it concerns the template `name` in `language`.
    public func concerns(name: String, language: String) -> Bool {
        self.name == name && (self.language == nil || self.language == language)
    }
}

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
