import CloudAPI

/// docs/configuration.md, generated from this catalogue of every setting. A test holds the
/// catalogue to the program: its config keys against the ones the built `wabox` accepts,
/// its flags against each command's `--help`, the environment names by their rule
/// (`WABOX_` and the key in capitals), and the file against what this generates.
public enum SettingsReference {
    public struct Setting: Sendable {
        /// The key in `config.toml`; the environment name is `WABOX_` and this in capitals.
        public var key: String
        /// The command-line flag and the commands that take it, if any.
        public var flag: (name: String, commands: [String])?
        public var defaultValue: String
        public var meaning: String
        public var environmentName: String { "WABOX_" + key.uppercased() }
    }

    /// A flag of the listener that has no environment name or config key.
    public struct ListenerFlag: Sendable {
        public var flag: String
        public var commands: [String]
        public var defaultValue: String
        public var meaning: String
    }

    private static let listening = ["inbox", "serve"]

    /// Every setting `config.toml`, the environment and (some) flags set, in the order a
    /// deployment meets them.
    public static let settings: [Setting] = [
        Setting(key: "app_secret", flag: nil, defaultValue: "— (required to listen)",
                meaning: "the Meta app's secret (App settings → Basic): every webhook's signature is checked with it"),
        Setting(key: "app_secret_previous", flag: nil, defaultValue: "—",
                meaning: "the old secret, accepted too while you rotate it ([SECURITY.md](../SECURITY.md#rotating-secrets-without-losing-webhooks))"),
        Setting(key: "verify_token", flag: nil, defaultValue: "— (required to listen)",
                meaning: "any hard-to-guess string; you enter the same in Meta's webhook configuration"),
        Setting(key: "access_token", flag: nil, defaultValue: "— (without it replies wait in the outbox)",
                meaning: "a system user token with `whatsapp_business_messaging`: sends, read receipts, templates, media downloads"),
        Setting(key: "phone_number_id", flag: nil, defaultValue: "—", meaning: "the business number replies come from"),
        Setting(key: "waba_id", flag: nil, defaultValue: "—",
                meaning: "the WhatsApp Business Account whose approved templates the picker lists (fetched every 10 minutes)"),
        Setting(key: "graph_url", flag: nil, defaultValue: "`https://graph.facebook.com`", meaning: "where the Graph API is"),
        Setting(key: "graph_version", flag: nil, defaultValue: "`v26.0`", meaning: "the Graph API version of every call"),
        Setting(key: "listen", flag: ("--listen", listening + ["doctor"]), defaultValue: "`127.0.0.1:8080`",
                meaning: "the webhook listener's address (`wabox demo --listen` too; its default is a free loopback port)"),
        Setting(key: "db", flag: ("--db", ["every command"]), defaultValue: "`$XDG_DATA_HOME/wabox/inbox.sqlite`",
                meaning: "the SQLite database; on a shared server `/var/lib/wabox/inbox.sqlite`. `wabox serve` also takes `postgres://USER:PASSWORD@HOST:PORT/DBNAME` (its webhook listener and journal only, for now)"),
        Setting(key: "theme", flag: ("--theme", ["inbox", "demo"]), defaultValue: "`default` (`mono` with `NO_COLOR`)",
                meaning: "the colour theme: `themes/NAME.toml` or `$XDG_CONFIG_HOME/wabox/themes/NAME.toml` ([themes](guide.md#themes))"),
        Setting(key: "mark_read", flag: nil, defaultValue: "`on_open`",
                meaning: "`on_open` sends the customer a read receipt when a conversation is opened; `never` does not"),
        Setting(key: "agent", flag: ("--agent", ["inbox"]), defaultValue: "none",
                meaning: "a display name shown beside your account (your login, which is who you are to the other agents and in the audit trail), never instead of it"),
        Setting(key: "media_dir", flag: nil, defaultValue: "`media/` beside the database",
                meaning: "customers' files, each named by its SHA-256"),
        Setting(key: "media_max_bytes", flag: nil,
                defaultValue: "`\(MediaDownloader.Configuration(directory: "").maxBytes)` (100 MiB)",
                meaning: "larger files are refused before downloading"),
        Setting(key: "download_dir", flag: nil, defaultValue: "`~/Downloads` (created when missing)",
                meaning: "where `S` keeps copies of customers' files"),
        Setting(key: "open_command", flag: nil, defaultValue: "—",
                meaning: "a program on `PATH` or a path (like `xdg-open`) that `o` opens a customer's file with; the file's path is its one argument, no shell"),
        Setting(key: "log_format", flag: ("--log-format", ["serve"]), defaultValue: "`text`",
                meaning: "`json` writes one object per line (`time`, `level`, `label`, `message`, each metadata key, `source`) for log shippers"),
        Setting(key: "transcribe_command", flag: nil, defaultValue: "—",
                meaning: "a program on `PATH` or a path that prints a voice note's transcript, given the audio file's path as its one argument"),
        Setting(key: "transcribe_timeout", flag: nil, defaultValue: "`120` (seconds)",
                meaning: "a transcriber running longer is killed with its process group"),
        Setting(key: "notify", flag: nil, defaultValue: "`bell`",
                meaning: "how a customer writing in another conversation is announced: `bell`, `osc` (a desktop notification through the terminal) or `off`"),
        Setting(key: "show_deleted", flag: nil, defaultValue: "`false`",
                meaning: "`true` keeps messages customers deleted visible (struck through), searchable and in the export"),
        Setting(key: "journal_retention", flag: nil, defaultValue: "`\(JournalRetention.default.components.seconds / 86_400)` days",
                meaning: "applied webhook bodies older than this are pruned from the journal (`30d`, `12h`, `90m`; `0` keeps every body); dead letters' bodies stay"),
        Setting(key: "audit_retention", flag: nil, defaultValue: "forever (`0` too)",
                meaning: "audit trail entries older than this (`365d`, `12h`, a bare number of days) are deleted by the process holding the listener"),
        Setting(key: "metrics_listen", flag: ("--metrics-listen", ["serve"]), defaultValue: "— (`GET /metrics` on the webhook port)",
                meaning: "`HOST:PORT` serves the metrics there alone, and the webhook port answers 404 for them"),
    ]

    /// The listener's flags that only the command line sets.
    public static let listenerFlags: [ListenerFlag] = [
        ListenerFlag(flag: "--durability", commands: ["serve"], defaultValue: "`normal`",
                     meaning: "`normal`: a journal commit survives a crash of the process; `full`: power loss too, at a cost per commit"),
        ListenerFlag(flag: "--body-limit", commands: ["serve"], defaultValue: "`4194304` (4 MiB)",
                     meaning: "the largest webhook body accepted, in bytes (413 above)"),
        ListenerFlag(flag: "--tls-cert", commands: listening, defaultValue: "—",
                     meaning: "serve HTTPS with this PEM certificate chain (with `--tls-key`; TLS 1.2 or newer) where no reverse proxy terminates TLS"),
        ListenerFlag(flag: "--tls-key", commands: listening, defaultValue: "—", meaning: "the PEM private key of `--tls-cert`"),
        ListenerFlag(flag: "--request-timeout", commands: listening, defaultValue: "`15` (seconds)",
                     meaning: "a client that has not sent a whole request by then is cut off"),
        ListenerFlag(flag: "--idle-timeout", commands: listening, defaultValue: "`60` (seconds)",
                     meaning: "a connection that sends nothing for this long is closed"),
        ListenerFlag(flag: "--insecure-skip-signature", commands: listening, defaultValue: "off",
                     meaning: "accept unsigned webhooks, for local experiments only (a warning in the log on every start and on the status bar)"),
        ListenerFlag(flag: "--no-listener", commands: ["inbox"], defaultValue: "off", meaning: "do not start the embedded listener"),
        ListenerFlag(flag: "--config", commands: ["every command"], defaultValue: "`$XDG_CONFIG_HOME/wabox/config.toml`",
                     meaning: "the config file (it must exist when given)"),
    ]

    /// Environment variables that are not settings of `config.toml`.
    public static let environmentOnly: [(name: String, meaning: String)] = [
        ("WABOX_LOG_LEVEL", "`trace`, `debug`, `info` (the default), `notice`, `warning`, `error` or `critical`"),
        ("NO_COLOR", "set: the `mono` theme"),
        ("XDG_CONFIG_HOME", "where `wabox/config.toml`, `keys.toml`, `replies.toml` and `themes/` are (default `~/.config`)"),
        ("XDG_DATA_HOME", "where the default database is (default `~/.local/share`)"),
        ("XDG_STATE_HOME", "where the screen's log `wabox/wabox.log` goes while it owns the terminal (default `~/.local/state`)"),
        ("LANG", "unset (as over many SSH sessions): wabox uses `C.UTF-8`; no UTF-8 locale at all: ASCII ticks and borders"),
    ]

    /// The command that rewrites docs/configuration.md (and docs/keys.md).
    public static let regenerate = "WABOX_UPDATE_DOCS=1 swift test --filter ReferenceDocsTests"

    /// The whole of docs/configuration.md.
    public static var markdown: String {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
        func commands(_ names: [String]) -> String {
            names.map { $0 == "every command" ? $0 : "`\($0)`" }.joined(separator: ", ")
        }
        var lines = [
            "# Configuration",
            "",
            "<!-- Generated from Sources/InboxServices/SettingsReference.swift by `\(regenerate)`; do not edit. -->",
            "",
            "Every setting, highest precedence first: the command-line flag, the environment, `config.toml`",
            "(`$XDG_CONFIG_HOME/wabox/config.toml`, or `--config PATH`), the default. An unknown key in",
            "`config.toml` is refused with the list of known ones; a file that holds a secret and that group",
            "or others can read is refused with the `chmod 600` to run. `wabox doctor` checks them all.",
            "[Back to the README](../README.md).",
            "",
            "```toml",
            "# ~/.config/wabox/config.toml (chmod 600: it holds secrets)",
            "app_secret = \"…\"",
            "verify_token = \"…\"",
            "access_token = \"…\"",
            "phone_number_id = \"1065…\"",
            "notify = \"osc\"",
            "```",
            "",
            "## Settings",
            "",
            "| config key | environment | flag | default | what it does |",
            "|---|---|---|---|---|",
        ]
        for setting in settings {
            let flag = setting.flag.map { "`\($0.name)` (\(commands($0.commands)))" } ?? "—"
            lines.append("| `\(setting.key)` | `\(setting.environmentName)` | \(flag) | \(cell(setting.defaultValue)) | \(cell(setting.meaning)) |")
        }
        lines += ["", "## Listener flags", "", "Flags only, on the commands named.", "",
                  "| flag | commands | default | what it does |", "|---|---|---|---|"]
        for flag in listenerFlags {
            lines.append("| `\(flag.flag)` | \(commands(flag.commands)) | \(cell(flag.defaultValue)) | \(cell(flag.meaning)) |")
        }
        lines += ["", "## Environment only", "", "| variable | what it does |", "|---|---|"]
        for (name, meaning) in environmentOnly {
            lines.append("| `\(name)` | \(cell(meaning)) |")
        }
        lines += ["", "Secrets are never logged or printed; `wabox doctor` shows only their last four characters.", ""]
        return lines.joined(separator: "\n")
    }
}
