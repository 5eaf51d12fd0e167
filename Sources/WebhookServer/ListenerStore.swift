import Foundation
import InboxStore

/// The store a listener journals into, and what follows from it.
///
/// On SQLite one process per file (the holder of the listener lease) listens, journals and
/// applies: bodies are appended without a copy of their own (`appendToJournal`) and the
/// applier is `JournalApplierService`, blocking work on a thread of its own. A store that
/// several listeners share (PostgreSQL) is reached through the store contract alone: every
/// listener journals, and the one that holds the applier lease applies
/// (`LeasedApplierService`).
public enum ListenerStore: Sendable {
    case sqlite(InboxDatabase)
    case shared(any JournalStore)

    /// The store as the contract sees it.
    public var journal: any JournalStore {
        switch self {
        case .sqlite(let database): database
        case .shared(let store): store
        }
    }
}

/// A query to a store over the network that did not answer in time.
public struct StoreTimeout: Error, CustomStringConvertible {
    public var what: String
    public var limit: Duration
    public var description: String { "the database did not answer \(what) within \(limit)" }
}

/// Runs `operation`, cancelling it and throwing `StoreTimeout` once `limit` passed: a
/// store behind a network may stop answering, and a listener must still answer (500 or
/// 503) so that Meta retries elsewhere.
func withDeadline<Result: Sendable>(_ limit: Duration, _ what: String,
                                    _ operation: @escaping @Sendable () async throws -> Result) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw StoreTimeout(what: what, limit: limit)
        }
        return result
    }
}
