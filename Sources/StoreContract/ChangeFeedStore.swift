import Foundation
import InboxCore

// The change feed's contract: what every commit changed that a screen shows, by
// conversation and kind, numbered in commit order. SQLite fills it with triggers in the
// writer's own transaction (InboxStore's ChangeFeed.swift); PostgreSQL numbers each
// transaction's changes as it commits and notifies the screens that listen
// (PostgresStore's ChangeFeed.swift).

/// What changed in the database between two points of its change feed.
public struct ChangeBatch: Sendable, Equatable {
    /// What changed.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A message arrived, was sent, edited, deleted or moved.
        case message
        /// A status tick, or a reply's fate in the outbox.
        case status
        /// A reaction on a message.
        case reaction
        /// A file's download or a voice note's transcript.
        case media
        /// The conversation itself: new, its activity, its window, its failing replies.
        case conversation
        /// Claimed, given back, resolved, reopened.
        case claim
        /// Unread counts: a read mark, a new customer message counted.
        case read
        case label
        case note
        /// Another agent's typing note.
        case typing
        /// The customer's name, number, username or marketing preference.
        case contact
        /// Canned replies, label names, agents' display names.
        case workbench
    }

    /// The feed's position after this batch: ask for the next one after it.
    public var sequence: Int64
    /// The conversations changed, by kind.
    public var conversations: [Kind: Set<ConversationID>]
    /// Whether something that concerns no one conversation changed (`workbench`).
    public var workbench: Bool
    /// Too much changed, or the feed was pruned past the position asked for: reload
    /// everything.
    public var overflow: Bool

    public init(sequence: Int64, conversations: [Kind: Set<ConversationID>] = [:], workbench: Bool = false,
                overflow: Bool = false) {
        self.sequence = sequence
        self.conversations = conversations
        self.workbench = workbench
        self.overflow = overflow
    }

    /// Whether nothing changed.
    public var isEmpty: Bool { !overflow && !workbench && conversations.values.allSatisfy(\.isEmpty) }

    /// Every conversation changed in any of `kinds`.
    public func conversations(_ kinds: Set<Kind>) -> Set<ConversationID> {
        kinds.reduce(into: Set()) { $0.formUnion(conversations[$1] ?? []) }
    }

    /// Every conversation changed.
    public var allConversations: Set<ConversationID> { conversations(Set(Kind.allCases)) }
}

/// A store whose commits leave a change feed.
///
/// - Positions grow in commit order without gaps: a reader that has seen position N never
///   later finds a change numbered N or below, so reading after its last position misses
///   nothing.
/// - Old rows are pruned (the newest `ChangeBatch.kept` are kept); a reader that fell
///   further behind gets an overflowing batch and reloads everything.
public protocol ChangeFeedStore: Sendable {
    /// The newest position of the feed (0 when nothing changed yet).
    func feedPosition() async throws -> Int64

    /// What changed after position `sequence`: up to `limit` feed rows grouped by kind, or
    /// an overflowing batch when more follow or some were pruned already.
    func feedChanges(after sequence: Int64, limit: Int) async throws -> ChangeBatch
}

extension ChangeBatch {
    /// How many feed rows a store keeps.
    public static let kept = 20_000

    /// Folds the feed's rows after `sequence` up to `newest` (`oldest` the first kept) into
    /// a batch, the way every store reads its feed.
    public static func reading(after sequence: Int64, oldest: Int64, newest: Int64, limit: Int,
                               rows: () throws -> [(conversation: Int64?, kind: String)]) rethrows -> ChangeBatch {
        guard newest > sequence else { return ChangeBatch(sequence: max(sequence, newest)) }
        // Rows are numbered without gaps: a first row past sequence + 1 means some were pruned.
        if oldest > sequence + 1 || newest - sequence > Int64(limit) {
            return ChangeBatch(sequence: newest, overflow: true)
        }
        var batch = ChangeBatch(sequence: newest)
        for row in try rows() {
            guard let kind = Kind(rawValue: row.kind) else { continue }
            if kind == .workbench || row.conversation == nil {
                batch.workbench = true
            } else if let conversation = row.conversation {
                batch.conversations[kind, default: []].insert(ConversationID(rawValue: conversation))
            }
        }
        return batch
    }
}
