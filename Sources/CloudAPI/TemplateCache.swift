import Foundation
import InboxStore
import Logging
import ServiceLifecycle

/// Fetches the account's approved templates into the database now and then, so that
/// screens without a token of their own (agents attached to `wabox serve`) can offer them.
public struct TemplateCacheRefresher: Service {
    let database: InboxDatabase
    let client: any CloudMessaging
    let account: String
    let interval: Duration
    let logger: Logger

    public init(database: InboxDatabase, client: any CloudMessaging, account: String,
                interval: Duration = .seconds(600), logger: Logger) {
        self.database = database
        self.client = client
        self.account = account
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await refresh()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One fetch; a failure is logged and the cache keeps what it had.
    public func refresh() async {
        do {
            let approved = try await client.approvedTemplates(of: account).filter { $0.status.uppercased() == "APPROVED" }
            let json = String(decoding: try JSONEncoder().encode(approved), as: UTF8.self)
            try await database.cacheTemplates(json, at: Int64(Date().timeIntervalSince1970))
        } catch {
            logger.warning("could not fetch the approved templates of \(account): \(error)")
        }
    }

    /// The cached templates, decoded.
    public static func cached(in database: InboxDatabase) throws -> (fetchedAt: Int64, templates: [MessageTemplate])? {
        guard let cached = try database.cachedTemplates() else { return nil }
        return (cached.fetchedAt, try JSONDecoder().decode([MessageTemplate].self, from: Data(cached.json.utf8)))
    }
}
