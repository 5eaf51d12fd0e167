import CloudAPI
import Foundation
import InboxCore
import InboxStore

/// Collects output and writes it to standard output in large chunks.
public struct BufferedOutput {
    private var buffer = Data()

    public init() {}

    public mutating func write(_ data: Data) {
        buffer.append(data)
        if buffer.count >= 1 << 16 { flush() }
    }

    public mutating func flush() {
        FileHandle.standardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// What `wabox export` and `wabox templates` print, for the executable to call.
public enum CommandOutput {
    /// A command's failure, in words for the operator.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Prints every stored message (only `contact`'s when given) as JSON lines, oldest first.
    public static func export(databasePath path: String, contact: String?, showDeleted: Bool) throws(Failure) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "no database at \(path): run `wabox serve` first, or pass --db with the right file")
        }
        var output = BufferedOutput()
        do {
            let database = try InboxDatabase(path: path)
            // Read your writes: every webhook acknowledged before now is exported.
            _ = try CurrentInbox.catchUp(database)
            try database.export(contact: contact, showDeleted: showDeleted) { record in
                output.write(Data((record.jsonLine + "\n").utf8))
            }
        } catch {
            throw Failure(description: String(describing: error))
        }
        output.flush()
    }

    /// Prints the template cache with the updates received since (`wabox templates`).
    public static func templates(databasePath path: String, format: TemplateListing.Format) throws(Failure) {
        try templates { try TemplateListing.lines(databasePath: path, format: format) }
    }

    /// As `templates(databasePath:)`, from a shared PostgreSQL inbox.
    public static func templates(location: PostgresLocation, format: TemplateListing.Format) throws(Failure) {
        try templates { try TemplateListing.lines(location: location, format: format) }
    }

    private static func templates(_ lines: () throws -> [String]) throws(Failure) {
        do {
            var output = BufferedOutput()
            for line in try lines() {
                output.write(Data((line + "\n").utf8))
            }
            output.flush()
        } catch {
            throw Failure(description: String(describing: error))
        }
    }
}

extension OutboxSender.Outcome {
    /// What `wabox send` prints for the outcome: the wamid on success, else the failure in
    /// words, with what becomes of the message.
    public var scriptAnswer: Result<String, CommandOutput.Failure> {
        switch self {
        case .accepted(_, let wamid): .success(wamid.rawValue)
        case .failed(_, let reason, _): .failure(.init(description: "not sent: \(reason)"))
        case .windowClosed(_, let reason):
            .failure(.init(description: "not sent: \(reason). Only an approved template can reach this customer until they write again."))
        case .halted(_, let reason): .failure(.init(description: "not sent: sending halted: \(reason)"))
        case .uncertain(_, let reason):
            .failure(.init(description: "\(reason). It is marked uncertain in the inbox and will not be sent again on its own."))
        case .retryScheduled(_, _, let reason):
            .failure(.init(description: """
                not sent yet: \(reason). It stays in the outbox; a running `wabox serve` with an access token sends it later.
                """))
        }
    }
}
