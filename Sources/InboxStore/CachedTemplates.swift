import Foundation
import GRDB
import InboxCore

// The approved templates as the lease holder last fetched them, for screens without a
// Cloud API token of their own.

extension InboxDatabase {
    /// Keeps the approved templates (as JSON) for screens that cannot ask the Cloud API.
    public func cacheTemplates(_ json: String, at now: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO template_cache (id, fetched_at, templates) VALUES (1, ?, ?)",
                           arguments: [now, json])
        }
    }

    /// The templates last cached and when (Unix seconds), if ever.
    public func cachedTemplates() throws -> (fetchedAt: Int64, json: String)? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT fetched_at, templates FROM template_cache WHERE id = 1").map {
                ($0["fetched_at"], $0["templates"])
            }
        }
    }
}

extension InboxDatabase: TemplateCacheStore {}
