import CloudAPI
import Foundation
import InboxCore
import InboxServices
import InboxStore
import InboxTUI

/// wabox's settings, resolved from (highest first) command-line flags, the environment,
/// `config.toml` and defaults.
struct Settings: Sendable {
    enum Key: String, CaseIterable, Sendable {
        case verifyToken = "verify_token"
        case appSecret = "app_secret"
        /// The app secret being rotated out, accepted beside `app_secret` until removed.
        case appSecretPrevious = "app_secret_previous"
        case accessToken = "access_token"
        case phoneNumberID = "phone_number_id"
        case wabaID = "waba_id"
        case graphURL = "graph_url"
        case graphVersion = "graph_version"
        case listen
        case db
        case theme
        case markRead = "mark_read"
        case agent
        case mediaDir = "media_dir"
        case mediaMaxBytes = "media_max_bytes"
        /// Where `S` in a thread keeps copies of customers' files.
        case downloadDir = "download_dir"
        /// The program `o` in a thread opens a customer's file with (its path the one argument).
        case openCommand = "open_command"
        /// `text` or `json` (one object per line).
        case logFormat = "log_format"
        /// The program that prints a voice note's transcript (its path the one argument), and its time limit.
        case transcribeCommand = "transcribe_command"
        case transcribeTimeout = "transcribe_timeout"
        /// How a customer writing in another conversation is announced: bell, osc or off.
        case notify
        /// Whether messages customers deleted still show (struck through) and export.
        case showDeleted = "show_deleted"
        case journalRetention = "journal_retention"
        case auditRetention = "audit_retention"
        case metricsListen = "metrics_listen"

        var environmentName: String { "WABOX_" + rawValue.uppercased() }
        var isSecret: Bool { self == .verifyToken || self == .appSecret || self == .appSecretPrevious || self == .accessToken }
    }

    struct Error: Swift.Error, CustomStringConvertible {
        var description: String
    }

    private var values: [Key: String]
    /// The config file that was read, if any.
    private(set) var configFile: String?

    subscript(key: Key) -> String? { values[key] }

    var verifyToken: String? { values[.verifyToken] }
    var appSecret: String? { values[.appSecret] }
    var previousAppSecret: String? { values[.appSecretPrevious] }
    /// Every secret that is set, for the log handler to redact: a PostgreSQL password too.
    var secrets: [String] { Key.allCases.filter(\.isSecret).compactMap { values[$0] } + [postgresLocation?.password].compactMap { $0 } }
    var accessToken: String? { values[.accessToken] }
    var graphURL: String { values[.graphURL] ?? "https://graph.facebook.com" }
    var graphVersion: String { values[.graphVersion] ?? "v26.0" }
    var listen: String { values[.listen] ?? "127.0.0.1:8080" }
    /// Whether opening a conversation sends a read receipt to the customer.
    var markReadOnOpen: Bool { values[.markRead] != "never" }
    /// The name shown beside this session's account (`agent`); never the account itself.
    var displayName: String? { values[.agent] }
    var databasePath: String { values[.db] ?? ConfigLocations.defaultDatabasePath(environment: ProcessInfo.processInfo.environment) }
    /// The PostgreSQL database `db` names, if it names one (only commands that load their
    /// settings with `postgresAllowed` get this far with one).
    var postgresLocation: PostgresLocation? { values[.db].flatMap { try? StoreLocation.parse($0).postgres } }
    /// Where downloaded media go: `media_dir`, else `media/` beside the database. On
    /// PostgreSQL, which keeps the bytes itself, it is this host's copy of them: `media/`
    /// beside where a SQLite inbox would be.
    var mediaDirectory: String {
        // Absolute, so that a file queued by `wabox send` is found by a `wabox serve` started elsewhere.
        let besides = postgresLocation == nil
            ? databasePath : ConfigLocations.defaultDatabasePath(environment: ProcessInfo.processInfo.environment)
        return values[.mediaDir].map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            ?? MediaDownloader.Configuration.defaultDirectory(besideDatabaseAt: besides)
    }
    /// Where `S` saves copies of customers' files: `download_dir`, else `~/Downloads`.
    var downloadDirectory: String {
        let path = values[.downloadDir].map { ($0 as NSString).expandingTildeInPath }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent("Downloads")
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }
    /// How log lines are written (checked when the settings were loaded).
    var logFormat: Logs.Format { (try? Logs.Format.parse(values[.logFormat])) ?? .text }
    /// The program `o` opens a customer's file with, if one is set.
    var openCommand: String? { values[.openCommand] }
    /// Voice-note transcripts by `transcribe_command`, within `transcribe_timeout` seconds.
    var transcription: Transcriber.Configuration? {
        values[.transcribeCommand].map { command in
            Transcriber.Configuration(command: command, timeout: .seconds(values[.transcribeTimeout].flatMap(Double.init) ?? 120))
        }
    }
    var notify: NotifyMode { values[.notify].flatMap(NotifyMode.init(rawValue:)) ?? .bell }
    var showDeleted: Bool { values[.showDeleted] == "true" }
    /// How long applied webhook bodies stay in the journal; nil: forever.
    var journalRetention: Duration? { JournalRetention.value(of: values[.journalRetention]) }
    var auditRetention: Duration? { AuditRetention.value(of: values[.auditRetention]) }
    /// The media download settings of the process that holds the listener lease.
    var mediaDownloads: MediaDownloader.Configuration {
        var configuration = MediaDownloader.Configuration(directory: mediaDirectory)
        if let bytes = values[.mediaMaxBytes].flatMap(Int.init) { configuration.maxBytes = bytes }
        return configuration
    }

    /// - Parameters:
    ///   - flags: values given on the command line.
    ///   - configPath: `--config`; when nil the XDG location is read if it exists.
    ///   - postgresAllowed: the command runs on PostgreSQL (`wabox serve`).
    static func load(flags: [Key: String], configPath: String?, postgresAllowed: Bool = false,
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Settings {
        var values: [Key: String] = [:]
        let path = configPath ?? ConfigLocations.defaultConfigPath(environment: environment)
        var configFile: String?
        if FileManager.default.fileExists(atPath: path) {
            values = try readConfigFile(path)
            configFile = path
        } else if configPath != nil {
            throw Error(description: "config file \(path) does not exist: create it or drop --config")
        }
        for key in Key.allCases {
            if let value = environment[key.environmentName], !value.isEmpty { values[key] = value }
            if let value = flags[key], !value.isEmpty { values[key] = value }
        }
        if let problem = SettingChecks.problem(in: Dictionary(uniqueKeysWithValues: values.map { ($0.rawValue, $1) }),
                                               postgresAllowed: postgresAllowed) {
            throw Error(description: problem)
        }
        return Settings(values: values, configFile: configFile)
    }

    /// Opens (creating when needed) the database, as the account of this process with the
    /// display name beside it; a failure is one clear message.
    func openDatabase(_ configuration: InboxDatabase.Configuration = .init()) throws -> InboxDatabase {
        var configuration = configuration
        configuration.displayName = displayName
        do { return try InboxDatabase(path: databasePath, configuration: configuration) } catch { throw Failure(String(describing: error)) }
    }

    /// Reads `config.toml`; refuses a file that holds secrets and that others can read.
    static func readConfigFile(_ path: String) throws -> [Key: String] {
        let file: [String: String]
        do { file = try ConfigLocations.readSettingsFile(path).values } catch { throw Error(description: error.description) }
        var values: [Key: String] = [:]
        for (name, value) in file {
            guard let key = Key(rawValue: name) else {
                let known = Key.allCases.map(\.rawValue).joined(separator: ", ")
                throw Error(description: "config file \(path): unknown setting \"\(name)\"; known settings are \(known)")
            }
            values[key] = value
        }
        if values.keys.contains(where: \.isSecret) {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue ?? 0
            if mode & 0o077 != 0 {
                throw Error(description: "config file \(path) holds secrets but group or others can read it (mode \(String(mode & 0o777, radix: 8))): run `chmod 600 \(path)` and start again")
            }
        }
        return values
    }

    /// The last four characters of a secret, for messages that must show which one is set.
    static func redacted(_ secret: String?) -> String { Redaction.shown(secret) }
}
