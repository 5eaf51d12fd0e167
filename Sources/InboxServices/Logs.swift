import Foundation
import InboxCore
import InboxStore
import Logging

/// A secret as it may be shown: its last four characters, or stars when it is short.
public enum Redaction {
    public static func shown(_ secret: String?) -> String {
        guard let secret, !secret.isEmpty else { return "(not set)" }
        return secret.count <= 8 ? "****" : "…" + secret.suffix(4)
    }
}

public enum Logs {
    /// How log lines are written: readable text (the default) or one JSON object per line.
    public enum Format: String, Sendable, CaseIterable {
        case text, json

        /// Parses a `log_format` value, or says what to write instead.
        public static func parse(_ value: String?) throws -> Format {
            guard let value else { return .text }
            guard let format = Format(rawValue: value) else {
                throw FormatError(description: "log_format is \"\(value)\"; use \"text\" (readable lines) or \"json\" (one object per line, for log shippers)")
            }
            return format
        }
    }

    public struct FormatError: Error, CustomStringConvertible {
        public var description: String
    }

    static func handler(label: String, stream: some TextOutputStream & Sendable, format: Format, level: Logger.Level,
                        secrets: [String]) -> any LogHandler {
        var handler: any LogHandler = switch format {
        case .text: StreamLogHandler(label: label, stream: stream)
        case .json: JSONLogHandler(label: label, stream: stream)
        }
        handler.logLevel = level
        return GuardedLogHandler(handler, secrets: secrets)
    }

    /// Sends logs to a file while the screen owns the terminal:
    /// `$XDG_STATE_HOME/wabox/wabox.log`, or beside the database when that folder cannot
    /// be made.
    public static func bootstrapToFile(near databasePath: String, secrets: [String] = [], format: Format = .text) -> Logger {
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
            return handler(label: label, stream: FileLogStream(handle: handle), format: format, level: level, secrets: secrets)
        }
        return Logger(label: "wabox")
    }

    /// Sends logs to standard error at `WABOX_LOG_LEVEL` (default info).
    public static func bootstrapToStandardError(secrets: [String] = [], format: Format = .text) {
        let level = ProcessInfo.processInfo.environment["WABOX_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            handler(label: label, stream: FileLogStream(handle: .standardError), format: format, level: level, secrets: secrets)
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

/// One JSON object per line: `time` (RFC 3339, milliseconds, UTC), `level`, `label`,
/// `message`, then each metadata key as a field of its own, then `error` and `source`.
/// Metadata keys that would shadow those fields get a `meta.` prefix.
public struct JSONLogHandler<Stream: TextOutputStream & Sendable>: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let stream: Stream
    private static var reserved: Set<String> { ["time", "level", "label", "message", "error", "source"] }

    public init(label: String, stream: Stream) {
        self.label = label
        self.stream = stream
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("time", Self.timestamp(Date())), ("level", event.level.rawValue), ("label", label),
            ("message", event.message.description),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() {
            fields.append((Self.reserved.contains(key) ? "meta." + key : key, "\(merged[key]!)"))
        }
        if let error = event.error { fields.append(("error", "\(error)")) }
        fields.append(("source", event.source))
        var line = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { line += "," }
            JSONLine.appendQuoted(key, to: &line)
            line += ":"
            JSONLine.appendQuoted(value, to: &line)
        }
        line += "}\n"
        var stream = stream
        stream.write(line)
    }

    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(milliseconds % 1000))
    }
}

/// A log stream that appends to a file.
struct FileLogStream: TextOutputStream, @unchecked Sendable {
    let handle: FileHandle

    mutating func write(_ string: String) {
        handle.write(Data(string.utf8))
    }
}
