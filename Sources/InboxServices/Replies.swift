import Foundation
import InboxCore
import InboxStore
import Logging
import PostgresStore

/// `wabox replies add NAME TEXT`, `wabox replies list`, `wabox replies remove NAME`: the
/// team's canned replies in the database. Every attached screen sees a change at once.
public enum RepliesCommand {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static let usage = """
        use `wabox replies add NAME TEXT` (TEXT may hold {{name}}, {{agent}} and {{number}}), \
        `wabox replies list` or `wabox replies remove NAME`
        """

    /// Runs one of the forms on `database`, as its account, and returns what to print.
    /// Blocks the calling thread (the program's main thread) while the database writes.
    public static func run(_ words: [String], database: any CannedReplyStore,
                           now: Int64 = Int64(Date().timeIntervalSince1970)) throws(Failure) -> String {
        switch words.first {
        case "add":
            guard words.count >= 3 else { throw Failure(description: "replies add needs a name and a text: \(usage)") }
            let reply = CannedReply(name: words[1], text: words[2...].joined(separator: " "))
            let replaced = try wait { try await database.saveCannedReply(reply, at: now) }
            return "\(replaced ? "replaced" : "added") /\(reply.name): every screen offers it with /\(reply.name) and Tab"
        case "list":
            guard words.count == 1 else { throw Failure(description: "replies list takes nothing more: \(usage)") }
            let replies: [CannedReply]
            switch runBlocking({ try await database.cannedReplies() }) {
            case .success(let found): replies = found
            case .failure(let error): throw Failure(description: "could not read the replies: \(error)")
            }
            guard !replies.isEmpty else { return "no team replies yet: \(usage)" }
            return replies.map { "/\($0.name)\t" + TerminalText.sanitize($0.text.replacingOccurrences(of: "\n", with: "\\n")) }
                .joined(separator: "\n")
        case "remove":
            guard words.count == 2 else { throw Failure(description: "replies remove needs one name: \(usage)") }
            guard try wait({ try await database.removeCannedReply(named: words[1], at: now) }) else {
                throw Failure(description: "no team reply is called \(words[1]): `wabox replies list` shows them")
            }
            return "removed /\(words[1])"
        default:
            throw Failure(description: words.isEmpty ? usage : "unknown replies command \(words[0]): \(usage)")
        }
    }

    private static func wait<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws(Failure) -> T {
        switch runBlocking(work) {
        case .success(let value): return value
        case .failure(let error as WorkbenchError): throw Failure(description: error.description)
        case .failure(let error): throw Failure(description: "could not change the replies: \(error)")
        }
    }
}

extension RepliesCommand {
    /// As `run`, on a shared PostgreSQL inbox, as the database role (as `wabox send`).
    public static func run(_ words: [String], on location: PostgresLocation,
                           now: Int64 = Int64(Date().timeIntervalSince1970)) throws(Failure) -> String {
        let logger = Logger(label: "wabox.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        let opened = runBlocking {
            try await PostgresStore.probe(location, timeout: .seconds(10), logger: logger)
            let store = PostgresStore(location, logger: logger, maximumConnections: 2)
            return store
        }
        let store: PostgresStore
        switch opened {
        case .success(let found): store = found
        case .failure(let error): throw Failure(description: String(describing: error))
        }
        let pool = Task { await store.client.run() }
        defer { pool.cancel() }
        if case .failure(let error) = runBlocking({ try await store.migrate() }) {
            throw Failure(description: "could not bring the schema of \(location.redacted) up to date: \(error)")
        }
        return try run(words, database: PostgresScreenStore(store: store, identity: AgentIdentity(account: location.user)),
                       now: now)
    }
}
