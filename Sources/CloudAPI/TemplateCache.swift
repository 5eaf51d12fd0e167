import Foundation
import InboxCore
import InboxStore
import Logging
import ServiceLifecycle

/// Fetches the account's approved templates into the database now and then, so that
/// screens without a token of their own (agents attached to `wabox serve`) can offer them.
public struct TemplateCacheRefresher: Service {
    let database: any TemplateCacheStore
    let client: any CloudMessaging
    let account: String
    let interval: Duration
    let logger: Logger

    public init(database: any TemplateCacheStore, client: any CloudMessaging, account: String,
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

    /// The cached templates, decoded, with the template updates received since the fetch
    /// applied: a template rejected, paused or disabled since shows so at once.
    public static func cached(in database: InboxDatabase) throws -> (fetchedAt: Int64, templates: [TemplateEntry])? {
        guard let cached = try database.cachedTemplates() else { return nil }
        let templates = try JSONDecoder().decode([MessageTemplate].self, from: Data(cached.json.utf8))
        return (cached.fetchedAt, TemplateEntry.merge(templates, fetchedAt: cached.fetchedAt,
                                                      updates: try database.templateStates()))
    }
}

/// A template as wabox knows it: the Cloud API's listing with the newer template updates
/// (webhooks) applied, or known from updates alone.
public struct TemplateEntry: Sendable, Hashable {
    public var template: MessageTemplate
    /// Meta's reason for the status, from the update that set it.
    public var reason: String?
    /// When a webhook last changed it (Unix seconds), if one did.
    public var updatedAt: Int64?
    /// Known from updates only: not in the listing, so its text and parameters are unknown.
    public var fromUpdatesOnly = false

    /// Whether the picker offers it: it is in the listing and may be sent.
    public var isOffered: Bool { !fromUpdatesOnly && TemplateStatus.isSendable(template.status) }

    /// `templates` (listed at `fetchedAt`) with each field an update set later replaced;
    /// quality also fills in where the listing gave none. Updates about templates not
    /// listed add entries of their own.
    public static func merge(_ templates: [MessageTemplate], fetchedAt: Int64, updates: [TemplateState]) -> [TemplateEntry] {
        var entries = templates.map { template in
            var entry = TemplateEntry(template: template)
            // The update for every language first, then this language's: the latter wins a tie.
            let applicable = updates.filter { $0.concerns(name: template.name, language: template.language) }
                .sorted { ($0.language == nil ? 0 : 1) < ($1.language == nil ? 0 : 1) }
            for update in applicable {
                entry.absorb(update, listedAt: fetchedAt)
            }
            return entry
        }
        for update in updates where update.language != nil && update.status != nil {
            guard !templates.contains(where: { update.concerns(name: $0.name, language: $0.language) }) else { continue }
            var entry = TemplateEntry(
                template: MessageTemplate(id: update.templateID, name: update.name, language: update.language!,
                                          status: update.status!, category: update.category, components: nil,
                                          quality: update.quality),
                reason: update.reason, updatedAt: update.newest, fromUpdatesOnly: true)
            entry.absorb(update, listedAt: .min)
            entries.append(entry)
        }
        return entries.sorted { ($0.template.name, $0.template.language) < ($1.template.name, $1.template.language) }
    }

    private mutating func absorb(_ update: TemplateState, listedAt: Int64) {
        if let status = update.status, let at = update.statusAt, at >= listedAt {
            template.status = status
            reason = update.reason
        }
        if let category = update.category, let at = update.categoryAt, at >= listedAt || template.category == nil {
            template.category = category
        }
        if let quality = update.quality, let at = update.qualityAt, at >= listedAt || template.quality == nil {
            template.quality = quality
        }
        if let newest = update.newest, newest >= listedAt { updatedAt = max(updatedAt ?? .min, newest) }
    }
}

extension TemplateState {
    /// The time of its newest field.
    var newest: Int64? { [statusAt, categoryAt, qualityAt].compactMap { $0 }.max() }
}
