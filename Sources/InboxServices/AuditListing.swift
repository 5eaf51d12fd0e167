import Foundation
import InboxCore
import InboxStore
import Logging
import PostgresStore

/// What `wabox audit` prints: the audit trail, oldest first, as lines for a person or as
/// JSON objects for a script.
public enum AuditListing {
    public enum Format: String, Sendable, CaseIterable {
        case text, jsonl
    }

    public static let discussion = """
        Every message sent (text, template, file, reaction, buttons), note, claim and release, \
        resolve and reopen, label change and canned-reply change is recorded with the account \
        that did it (the login of the process, never --agent or WABOX_AGENT, which are only shown \
        beside it), the display name it had, the time and the conversation. The program never \
        changes or deletes an entry; the process holding the listener prunes entries older than \
        audit_retention (default: never). The trail is only as trustworthy as the permissions of \
        the database file: `wabox doctor` says who can write it.
        """

    /// `--since`: a number with d, h, m or s (`30m`, `12h`, `7d`), or a bare number of days;
    /// `0` is the whole trail (nil).
    public static func parseSince(_ text: String) -> Result<Duration?, CommandOutput.Failure> {
        JournalRetention.parse(text, setting: "--since", forever: "list the whole trail")
            .mapError { CommandOutput.Failure(description: $0.description) }
    }

    /// Prints the entries that match, oldest first.
    public static func print(databasePath path: String, since: String?, account: String?, contact: String?, format: Format,
                             now: Int64 = Int64(Date().timeIntervalSince1970)) throws(CommandOutput.Failure) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandOutput.Failure(description: "no database at \(path): pass --db with the inbox's file")
        }
        let database: InboxDatabase
        do { database = try InboxDatabase(path: path) } catch {
            throw CommandOutput.Failure(description: String(describing: error))
        }
        try print(database, since: since, account: account, contact: contact, format: format, now: now)
    }

    /// As `print(databasePath:)`, from a shared PostgreSQL inbox (read only).
    public static func print(location: PostgresLocation, since: String?, account: String?, contact: String?, format: Format,
                             now: Int64 = Int64(Date().timeIntervalSince1970)) throws(CommandOutput.Failure) {
        let query = try query(since: since, account: account, contact: contact, now: now)
        let logger = Logger(label: "wabox.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        let result = runBlocking { () -> [String] in
            try await PostgresStore.probe(location, timeout: .seconds(10), logger: logger)
            return try await PostgresStore.reading(location, logger: logger) { store in
                var lines: [String] = []
                _ = try await store.auditTrail(query) { lines.append(format == .jsonl ? $0.jsonLine : line($0)) }
                return lines
            }
        }
        switch result {
        case .success(let lines): write(lines, query: query, format: format)
        case .failure(let error): throw CommandOutput.Failure(description: String(describing: error))
        }
    }

    private static func query(since: String?, account: String?, contact: String?, now: Int64) throws(CommandOutput.Failure)
        -> AuditQuery {
        var query = AuditQuery(account: account, contact: contact)
        if let since, let duration = try parseSince(since).get() { query.since = now - duration.components.seconds }
        return query
    }

    private static func write(_ lines: [String], query: AuditQuery, format: Format) {
        var output = BufferedOutput()
        for line in lines { output.write(Data((line + "\n").utf8)) }
        if lines.isEmpty, format == .text {
            output.write(Data("nothing in the audit trail\(query == AuditQuery() ? " yet" : " matches")\n".utf8))
        }
        output.flush()
    }

    private static func print(_ database: InboxDatabase, since: String?, account: String?, contact: String?, format: Format,
                              now: Int64) throws(CommandOutput.Failure) {
        let query = try query(since: since, account: account, contact: contact, now: now)
        var output = BufferedOutput()
        let count: Int
        do {
            count = try database.auditTrail(query) { entry in
                output.write(Data(((format == .jsonl ? entry.jsonLine : line(entry)) + "\n").utf8))
            }
        } catch {
            throw CommandOutput.Failure(description: String(describing: error))
        }
        if count == 0, format == .text {
            output.write(Data("nothing in the audit trail\(query == AuditQuery() ? " yet" : " matches")\n".utf8))
        }
        output.flush()
    }

    /// One entry as a line: when (UTC), who, what, with whom, and the words.
    public static func line(_ entry: AuditEntry) -> String {
        let when = Date(timeIntervalSince1970: TimeInterval(entry.at)).formatted(.iso8601)
        var parts = [when, entry.agentLabel, describe(entry)]
        if let contact = contact(of: entry) { parts.append(contact) }
        return parts.map { TerminalText.sanitize($0) }.joined(separator: "  ")
    }

    /// The customer: their name now and the identifier recorded.
    static func contact(of entry: AuditEntry) -> String? {
        let identifier = entry.contactWaID.map { "+" + $0 } ?? entry.contactUserID
        guard entry.conversationID != nil || identifier != nil else { return nil }
        let name = entry.contactName ?? "conversation \(entry.conversationID?.rawValue ?? 0)"
        return identifier.map { "\(name) \($0)" } ?? name
    }

    /// What was done, in a few words.
    static func describe(_ entry: AuditEntry) -> String {
        let detail = entry.detail
        func quoted(_ text: String?) -> String? { text.map { "\"" + $0.replacingOccurrences(of: "\n", with: "\\n") + "\"" } }
        var words = [entry.action.rawValue]
        switch entry.action {
        case .send, .resend:
            words.append(detail.type ?? "message")
            if let template = detail.template { words.append(template) }
            if detail.type == "reaction" {
                words.append(detail.emoji.map { $0.isEmpty ? "(taken back)" : $0 } ?? "")
                if let target = detail.reactedTo { words.append("on " + target) }
            }
            if let filename = detail.filename { words.append(filename) }
            if let text = quoted(detail.text ?? detail.caption) { words.append(text) }
            if let buttons = detail.buttons { words.append("[" + buttons.joined(separator: " | ") + "]") }
            if entry.action == .resend, let localID = detail.localID { words.append(localID) }
        case .note:
            if let text = quoted(detail.text) { words.append(text) }
        case .claim:
            if let from = detail.takenFrom { words.append("(taken over from \(from))") }
        case .labelAdd, .labelRemove:
            if let label = detail.label { words.append(label) }
        case .replyAdd, .replyEdit, .replyRemove:
            if let name = detail.reply { words.append("/" + name) }
            if let text = quoted(detail.text) { words.append(text) }
        case .release, .resolve, .reopen:
            break
        }
        return words.joined(separator: " ")
    }
}
