import CloudAPI
import Foundation
import InboxCore
import InboxStore
import Logging
import PostgresStore

extension Diagnosis {
    /// Meta's alerts on the account that the database holds (`account_update` webhooks):
    /// ✗ while every send fails, ! for the others. A missing database is not created.
    public static func checkAccount(databasePath: String, now: Int64 = Int64(Date().timeIntervalSince1970),
                                    _ report: inout DoctorReport) {
        guard FileManager.default.fileExists(atPath: databasePath),
              let database = try? InboxDatabase(path: databasePath),
              let alerts = try? database.accountAlerts(at: now) else { return }
        guard !alerts.isEmpty else {
            report.pass("account", "no alert from Meta in force (restrictions, bans and violations arrive as account_update webhooks)")
            return
        }
        for alert in alerts {
            let line = "\(alert.words) (\(alert.event), account \(alert.account), since \(AccountAlert.utc(alert.at)))"
            if alert.stopsAllSending {
                report.fail("account", line + "; wabox holds replies in the outbox until Meta lifts it")
            } else {
                report.warn("account", line)
            }
        }
    }
}

/// `wabox templates`: the cached templates with the updates received since, one line each.
public enum TemplateListing {
    public enum Format: String, Sendable, CaseIterable {
        /// Aligned columns for people.
        case text
        /// One JSON object per template.
        case jsonl
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The lines to print for the database at `path`.
    public static func lines(databasePath path: String, format: Format,
                             now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "no database at \(path): run `wabox serve` first, or pass --db with the right file")
        }
        let database: InboxDatabase
        do {
            database = try InboxDatabase(path: path)
        } catch {
            throw Failure(description: String(describing: error))
        }
        let cached = try TemplateCacheRefresher.cached(in: database)
        let entries = try cached?.templates ?? TemplateEntry.merge([], fetchedAt: .min, updates: database.templateStates())
        return lines(entries, fetchedAt: cached?.fetchedAt, format: format, now: now)
    }

    /// As `lines(databasePath:)`, from a shared PostgreSQL inbox (read only): the cache
    /// one listener keeps, with the updates since.
    public static func lines(location: PostgresLocation, format: Format,
                             now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> [String] {
        let logger = Logger(label: "wabox.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        let read = runBlocking { () -> ((fetchedAt: Int64, json: String)?, [TemplateState]) in
            try await PostgresStore.probe(location, timeout: .seconds(10), logger: logger)
            return try await PostgresStore.reading(location, logger: logger) { store in
                (try await store.cachedTemplates(), try await store.templateStates())
            }
        }
        let (cached, updates): ((fetchedAt: Int64, json: String)?, [TemplateState])
        switch read {
        case .success(let found): (cached, updates) = found
        case .failure(let error): throw Failure(description: String(describing: error))
        }
        var entries = TemplateEntry.merge([], fetchedAt: .min, updates: updates)
        if let cached {
            let listed = try JSONDecoder().decode([MessageTemplate].self, from: Data(cached.json.utf8))
            entries = TemplateEntry.merge(listed, fetchedAt: cached.fetchedAt, updates: updates)
        }
        return lines(entries, fetchedAt: cached?.fetchedAt, format: format, now: now)
    }

    private static func lines(_ entries: [TemplateEntry], fetchedAt: Int64?, format: Format, now: Int64) -> [String] {
        let cached = fetchedAt.map { (fetchedAt: $0, templates: entries) }
        switch format {
        case .jsonl:
            return entries.map { json($0, refreshedAt: $0.fromUpdatesOnly ? nil : cached?.fetchedAt) }
        case .text:
            return text(entries, fetchedAt: cached?.fetchedAt, now: now)
        }
    }

    /// One line of `--format jsonl`: every key present, absent values as null.
    struct Line: Encodable {
        var entry: TemplateEntry
        var refreshedAt: Int64?

        enum CodingKeys: String, CodingKey {
            case name, language, id, status, category, quality, reason, offered
            case refreshedAt = "refreshed_at", updatedAt = "updated_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            let template = entry.template
            try container.encode(template.name, forKey: .name)
            try container.encode(template.language, forKey: .language)
            // `encode` of an optional writes null where `encodeIfPresent` would leave the key out.
            try container.encode(template.id, forKey: .id)
            try container.encode(template.status, forKey: .status)
            try container.encode(template.category, forKey: .category)
            try container.encode(template.quality, forKey: .quality)
            try container.encode(entry.reason, forKey: .reason)
            try container.encode(entry.isOffered, forKey: .offered)
            try container.encode(refreshedAt, forKey: .refreshedAt)
            try container.encode(entry.updatedAt, forKey: .updatedAt)
        }
    }

    static func json(_ entry: TemplateEntry, refreshedAt: Int64?) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Line(entry: entry, refreshedAt: refreshedAt))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func text(_ entries: [TemplateEntry], fetchedAt: Int64?, now: Int64) -> [String] {
        var lines: [String] = []
        if let fetchedAt {
            lines.append("refreshed \(AccountAlert.utc(fetchedAt)) (\(max(0, now - fetchedAt) / 60) min ago) by the process that holds the listener; updates from webhooks applied since")
        } else {
            lines.append("never refreshed: `wabox serve` with WABOX_ACCESS_TOKEN and WABOX_WABA_ID fetches the approved templates every 10 minutes")
        }
        guard !entries.isEmpty else {
            lines.append("no templates known")
            return lines
        }
        let rows = [["NAME", "LANGUAGE", "STATUS", "CATEGORY", "QUALITY", "NOTE"]] + entries.map { entry in
            let template = entry.template
            var note: [String] = []
            if let reason = entry.reason { note.append(reason) }
            if entry.fromUpdatesOnly { note.append("known from a webhook only") }
            if let updated = entry.updatedAt { note.append("updated \(AccountAlert.utc(updated))") }
            return [template.name, template.language, template.status, template.category ?? "-", template.quality ?? "-",
                    note.joined(separator: "; ")].map { TerminalText.sanitize($0) }
        }
        let widths = (0..<5).map { column in rows.map { TerminalText.width(of: $0[column]) }.max() ?? 0 }
        for row in rows {
            var line = ""
            for column in 0..<5 {
                line += row[column] + String(repeating: " ", count: widths[column] - TerminalText.width(of: row[column]) + 2)
            }
            lines.append((line + row[5]).trimmingCharacters(in: .whitespaces))
        }
        return lines
    }
}
