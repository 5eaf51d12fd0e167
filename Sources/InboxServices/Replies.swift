import Foundation
import InboxCore
import InboxStore

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
    public static func run(_ words: [String], database: InboxDatabase,
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
            do {
                replies = try database.cannedReplies()
            } catch {
                throw Failure(description: "could not read the replies: \(error)")
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
