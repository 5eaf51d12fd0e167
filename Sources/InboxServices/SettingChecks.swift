import Foundation
import InboxCore
import InboxStore
import InboxTUI

/// The checks a setting's value must pass when the settings load, by the setting's name in
/// `config.toml` (the flags' and `WABOX_*` values included): the first problem, in words
/// that say what to write instead.
public enum SettingChecks {
    /// - Parameter postgresAllowed: the command runs on PostgreSQL (`wabox serve`); every
    ///   other refuses a `postgres://` value for `db`.
    public static func problem(in values: [String: String], postgresAllowed: Bool = false) -> String? {
        if let markRead = values["mark_read"], markRead != "on_open", markRead != "never" {
            return "mark_read is \"\(markRead)\"; use \"on_open\" (send read receipts when a conversation is opened) or \"never\""
        }
        if let notify = values["notify"], NotifyMode(rawValue: notify) == nil {
            return "notify is \"\(notify)\"; use \"bell\" (the terminal bell), \"osc\" (a desktop notification through the terminal) or \"off\""
        }
        if let shown = values["show_deleted"], shown != "true", shown != "false" {
            return "show_deleted is \"\(shown)\"; use true (deleted messages stay visible, struck through) or false"
        }
        if let bytes = values["media_max_bytes"], Int(bytes).map({ $0 > 0 }) != true {
            return "media_max_bytes is \"\(bytes)\"; give a number of bytes, like 104857600 for 100 MiB"
        }
        do { _ = try Logs.Format.parse(values["log_format"]) } catch { return String(describing: error) }
        if let timeout = values["transcribe_timeout"], Double(timeout).map({ $0 > 0 && $0 <= 86_400 }) != true {
            return "transcribe_timeout is \"\(timeout)\"; give seconds, like 120"
        }
        if case .failure(let problem) = JournalRetention.parse(values["journal_retention"]) { return problem.description }
        if case .failure(let problem) = AuditRetention.parse(values["audit_retention"]) { return problem.description }
        if let name = values["agent"], let problem = AgentName.validate(name) {
            return problem + ": fix --agent, WABOX_AGENT or agent in the config file (it is only shown beside your account)"
        }
        if let db = values["db"], let problem = StoreChoice.problem(with: db, postgresAllowed: postgresAllowed) {
            return problem
        }
        return nil
    }
}

/// Which store a `db` value names, while PostgreSQL is being built (issue 19): only
/// `wabox serve` runs on it so far (the webhook listener and the journal).
public enum StoreChoice {
    /// What is wrong with `value` for this command: a value that is no store, or a
    /// PostgreSQL URL for a command that only runs on SQLite (it would otherwise create a
    /// file named `postgres:`).
    public static func problem(with value: String, postgresAllowed: Bool = false) -> String? {
        do {
            if case .postgres(let location) = try StoreLocation.parse(value), !postgresAllowed {
                return """
                    db is \(location.redacted): this command runs on SQLite only so far (wabox serve, the inbox \
                    screen and the other commands run on PostgreSQL); this command stores in SQLite: \
                    pass a file path (--db, WABOX_DB or db in the config file)
                    """
            }
            return nil
        } catch {
            return "db: \(error.description)"
        }
    }
}
