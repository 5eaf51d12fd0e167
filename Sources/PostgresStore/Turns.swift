import Foundation
import InboxCore
import PostgresNIO
import StoreContract

// Jobs that one listener does for all of them now and then (the template cache's refresh):
// a lease row per job that lasts one period, taken by whoever asks first once the last one
// has lapsed. Taking it is one statement, so two listeners asking at once cannot both win;
// a holder that dies is replaced at the end of its period, when the job is due anyway.

extension PostgresStore {
    /// The lease of the template cache's refresh.
    public static let templateRefreshTurn = "template refresher"

    /// Whether `claimant` takes the turn of `job` for the next `period`: true when nobody
    /// has it, or the last turn (anyone's, this claimant's too) has lapsed.
    public func takeTurn(of job: String, _ claimant: LeaseClaimant, period: Duration) async throws -> Bool {
        let milliseconds = period.wholeMilliseconds
        let won = try await client.query("""
            INSERT INTO lease AS held (name, pid, host, role, lifetime_ms, acquired_at, renewed_at)
            VALUES (\(job), \(claimant.pid), \(claimant.host), \(claimant.role), \(milliseconds), now(), now())
            ON CONFLICT (name) DO UPDATE SET
                pid = excluded.pid, host = excluded.host, role = excluded.role, lifetime_ms = excluded.lifetime_ms,
                acquired_at = now(), renewed_at = now()
            WHERE held.renewed_at + held.lifetime_ms * interval '1 millisecond' <= now()
            RETURNING 1
            """, logger: logger)
        for try await _ in won { return true }
        return false
    }
}

extension PostgresStore: TemplateCacheStore {
    public func cacheTemplates(_ json: String, at now: Int64) async throws {
        try await client.query("""
            INSERT INTO template_cache (id, fetched_at, templates) VALUES (1, \(now), \(PostgresText.safe(json)))
            ON CONFLICT (id) DO UPDATE SET fetched_at = excluded.fetched_at, templates = excluded.templates
            """, logger: logger)
    }

    /// The templates last cached and when (Unix seconds), if ever.
    public func cachedTemplates() async throws -> (fetchedAt: Int64, json: String)? {
        for try await row in try await client.query("SELECT fetched_at, templates FROM template_cache WHERE id = 1",
                                                    logger: logger).decode((Int64, String).self) {
            return row
        }
        return nil
    }
}

extension PostgresStore {
    /// The template updates Meta sent (status, category, quality), as SQLite's
    /// `templateStates()`: merged over the cached listing by the caller.
    public func templateStates() async throws -> [TemplateState] {
        try await readOnly { tx in
            try await tx.rows("""
                SELECT name, language, template_id, status, reason, status_at, category, category_at, quality, quality_at
                FROM template_state ORDER BY name COLLATE "C", language COLLATE "C"
                """) { row in
                let cells = row.makeRandomAccess()
                let language = try cells["language"].decode(String.self)
                return TemplateState(
                    name: try cells["name"].decode(String.self), language: language.isEmpty ? nil : language,
                    templateID: try cells["template_id"].decode(String?.self), status: try cells["status"].decode(String?.self),
                    reason: try cells["reason"].decode(String?.self), statusAt: try cells["status_at"].decode(Int64?.self),
                    category: try cells["category"].decode(String?.self),
                    categoryAt: try cells["category_at"].decode(Int64?.self),
                    quality: try cells["quality"].decode(String?.self), qualityAt: try cells["quality_at"].decode(Int64?.self))
            }
        }
    }
}
