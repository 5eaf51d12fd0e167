import ArgumentParser
import Foundation
import InboxCore
import InboxStore
import Logging

let waboxVersion = "0.1.0"

@main
struct Wabox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wabox",
        abstract: "A terminal inbox for the WhatsApp Business Cloud API.",
        discussion: """
            wabox receives Meta's webhooks, keeps every conversation in SQLite and shows them in the \
            terminal. Settings come from flags, then WABOX_* environment variables, then \
            $XDG_CONFIG_HOME/wabox/config.toml.
            """,
        version: waboxVersion,
        subcommands: [Inbox.self, Demo.self, Serve.self, Send.self, Export.self, Simulate.self, Doctor.self],
        defaultSubcommand: Inbox.self
    )
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The SQLite database (default $XDG_DATA_HOME/wabox/inbox.sqlite).", valueName: "path"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("The config file (default $XDG_CONFIG_HOME/wabox/config.toml).", valueName: "path"))
    var config: String?

    func settings(flags: [Settings.Key: String] = [:]) throws -> Settings {
        var flags = flags
        if let db { flags[.db] = db }
        do {
            return try Settings.load(flags: flags, configPath: config)
        } catch let error as Settings.Error {
            throw Failure(error.description)
        }
    }
}

enum Logs {
    /// Sends logs to a file while the screen owns the terminal:
    /// `$XDG_STATE_HOME/wabox/wabox.log`, or beside the database when that folder cannot
    /// be made.
    static func bootstrapToFile(near databasePath: String, secrets: [String] = []) -> Logger {
        let environment = ProcessInfo.processInfo.environment
        let stateBase = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/state")
        var directory = "\(stateBase)/wabox"
        if (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                      attributes: [.posixPermissions: 0o700])) == nil {
            directory = (databasePath as NSString).deletingLastPathComponent
        }
        let path = (directory as NSString).appendingPathComponent("wabox.log")
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
        let level = environment["WABOX_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            guard let handle else { return SwiftLogNoOpLogHandler() }
            var handler = StreamLogHandler(label: label, stream: FileLogStream(handle: handle))
            handler.logLevel = level
            return GuardedLogHandler(handler, secrets: secrets)
        }
        return Logger(label: "wabox")
    }

    /// Sends logs to standard error at `WABOX_LOG_LEVEL` (default info).
    static func bootstrapToStandardError(secrets: [String] = []) {
        let level = ProcessInfo.processInfo.environment["WABOX_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return GuardedLogHandler(handler, secrets: secrets)
        }
    }
}

/// A failure to report in one clear message, without the usage text that
/// `ValidationError` adds. Exits with status 1.
struct Failure: Error, CustomStringConvertible {
    var description: String
    /// Messages quote errors from the Cloud API and file contents: sanitised for the terminal.
    init(_ description: String) { self.description = TerminalText.sanitizeKeepingLines(description) }
}

/// Wraps the real log handler: what a log line quotes from outside (a peer's bytes, an
/// API's error) cannot drive the terminal that shows the log, and a secret that found its
/// way into a message or its metadata is cut to its last four characters.
struct GuardedLogHandler: LogHandler {
    private var base: any LogHandler
    private let secrets: [String]

    init(_ base: any LogHandler, secrets: [String]) {
        self.base = base
        // A value under 8 characters would redact ordinary words in every line.
        self.secrets = secrets.filter { $0.count >= 8 }
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = "\(clean(event.message.description))"
        event.metadata = event.metadata?.mapValues { .string(clean("\($0)")) }
        if let error = event.error { event.error = CleanedError(description: clean("\(error)")) }
        base.log(event: event)
    }

    private struct CleanedError: Error, CustomStringConvertible {
        var description: String
    }

    func clean(_ text: String) -> String {
        let redacted = secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: Settings.redacted($1)) }
        return TerminalText.sanitizeKeepingLines(redacted)
    }
}

/// A log stream that appends to a file.
struct FileLogStream: TextOutputStream, @unchecked Sendable {
    let handle: FileHandle

    mutating func write(_ string: String) {
        handle.write(Data(string.utf8))
    }
}
