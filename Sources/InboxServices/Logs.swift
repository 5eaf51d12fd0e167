import Foundation
import InboxCore
import Logging

/// A secret as it may be shown: its last four characters, or stars when it is short.
public enum Redaction {
    public static func shown(_ secret: String?) -> String {
        guard let secret, !secret.isEmpty else { return "(not set)" }
        return secret.count <= 8 ? "****" : "…" + secret.suffix(4)
    }
}

public enum Logs {
    /// Sends logs to a file while the screen owns the terminal:
    /// `$XDG_STATE_HOME/wabox/wabox.log`, or beside the database when that folder cannot
    /// be made.
    public static func bootstrapToFile(near databasePath: String, secrets: [String] = []) -> Logger {
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
    public static func bootstrapToStandardError(secrets: [String] = []) {
        let level = ProcessInfo.processInfo.environment["WABOX_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return GuardedLogHandler(handler, secrets: secrets)
        }
    }
}

/// Wraps the real log handler: what a log line quotes from outside (a peer's bytes, an
/// API's error) cannot drive the terminal that shows the log, and a secret that found its
/// way into a message or its metadata is cut to its last four characters.
public struct GuardedLogHandler: LogHandler {
    private var base: any LogHandler
    private let secrets: [String]

    public init(_ base: any LogHandler, secrets: [String]) {
        self.base = base
        // A value under 8 characters would redact ordinary words in every line.
        self.secrets = secrets.filter { $0.count >= 8 }
    }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
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
        let redacted = secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: Redaction.shown($1)) }
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
