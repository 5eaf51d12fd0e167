import Foundation

// Replay (`wabox replay`): stored bodies applied again with the decoder of this release, so
// that what an older one could not read turns into messages. Events are idempotent by their
// keys, so a body replayed again, or one that was fully read already, changes nothing.

/// Which stored bodies `replay(_:)` applies again.
public enum ReplaySelection: Sendable, Equatable {
    /// What wabox gave up on: bodies that left a dead letter not replayed since, and those
    /// of messages kept as unreadable or of a type wabox did not know.
    case deadLetters
    /// Every body received at or after this time (Unix seconds).
    case receivedSince(Int64)
    /// These bodies, by journal id.
    case ids([Int64])
}

/// What a replay changed.
public struct ReplayReport: Sendable, Equatable {
    public struct Failure: Sendable, Equatable {
        public var id: Int64
        public var reason: String

        public init(id: Int64, reason: String) {
            self.id = id
            self.reason = reason
        }
    }

    /// Bodies applied again.
    public var bodies = 0
    /// Dead letters whose part now reads and whose body stored new messages.
    public var deadLettersToMessages = 0
    /// Dead letters whose part now reads as something else (a status, an update, …).
    public var deadLettersResolved = 0
    /// Dead letters whose part this decoder cannot read either.
    public var deadLettersOpen = 0
    /// Messages kept as unreadable (or of an unknown type) that now have their content.
    public var messagesRead = 0
    /// Messages a body holds that were missing, not from a dead letter.
    public var messagesAdded = 0
    /// Bodies applied again that changed nothing.
    public var unchanged = 0
    /// Bodies whose events SQLite refused again: their dead letters stay.
    public var failures: [Failure] = []
    /// Selected bodies past the applier's mark: the applier takes them, in order.
    public var notApplied: [Int64] = []
    /// Ids asked for that the journal does not hold (pruned, or never journaled).
    public var missing: [Int64] = []
    /// Dead letters with no body to replay (kept from before the journal held bodies).
    public var deadLettersWithoutBody = 0
    /// Unreadable messages stored before messages kept their body's id: `--since` reaches them.
    public var messagesWithoutBody = 0

    public init() {}

    /// "3 bodies replayed: 2 dead letters became messages, 1 unchanged".
    public var summary: String {
        guard bodies > 0 else { return "nothing to replay" }
        func counted(_ count: Int, _ one: String, _ many: String) -> String? {
            count == 0 ? nil : "\(count) \(count == 1 ? one : many)"
        }
        let parts = [
            counted(deadLettersToMessages, "dead letter became a message", "dead letters became messages"),
            counted(deadLettersResolved, "dead letter now reads", "dead letters now read"),
            counted(messagesRead, "unreadable message now read", "unreadable messages now read"),
            counted(messagesAdded, "missing message stored", "missing messages stored"),
            counted(deadLettersOpen, "dead letter still unreadable", "dead letters still unreadable"),
            counted(failures.count, "failed", "failed"),
            counted(unchanged, "unchanged", "unchanged"),
        ].compactMap { $0 }
        return "\(bodies) \(bodies == 1 ? "body" : "bodies") replayed: \(parts.joined(separator: ", "))"
    }

    /// How many rows of the inbox changed.
    public var changes: Int {
        deadLettersToMessages + deadLettersResolved + messagesRead + messagesAdded
    }
}

extension ReplayReport {
    /// Counts what applying one body again changed, given its dead letters, the parts the
    /// decoder still cannot read, and the messages it added or read anew; returns the dead
    /// letters that now read, for the store to mark `replayed_at`. A dead letter of the whole
    /// body (nil path) resolves once the body reads and applies.
    public mutating func countReplayed(letters: [(id: Int64, path: String?)], stillUnreadable: Set<String>,
                                       added: Int, read: Int) -> [Int64] {
        var toMessages = 0
        var resolved = 0
        var open = 0
        var replayed: [Int64] = []
        for letter in letters {
            if let path = letter.path, stillUnreadable.contains(path) {
                open += 1
                continue
            }
            replayed.append(letter.id)
            let messagePart = letter.path.map { $0.contains(".messages[") || $0.contains(".message_echoes[") } ?? true
            if messagePart, toMessages < added { toMessages += 1 } else { resolved += 1 }
        }
        deadLettersToMessages += toMessages
        deadLettersResolved += resolved
        deadLettersOpen += open
        messagesAdded += added - toMessages
        messagesRead += read
        if toMessages + resolved + added + read + open == 0 { unchanged += 1 }
        return replayed
    }
}
