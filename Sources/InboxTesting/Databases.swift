import Foundation
import GRDB
import Synchronization

/// Holds a database file's write lock from a connection of its own, as a long checkpoint or
/// a second writer would, so that a listener's writer waits and its queue fills up.
public final class DatabaseWriteLock: Sendable {
    private let queue: DatabaseQueue
    private let held = Mutex(true)

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        configuration.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
    }

    /// Lets the writer go on; later calls do nothing.
    public func release() throws {
        guard held.withLock({ held in defer { held = false }; return held }) else { return }
        try queue.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
    }
}

/// Makes SQLite refuse, in the database file at `path`, every inbound message whose text is
/// `text`: the webhook carrying it fails while being applied, as a constraint or a full
/// disk would make it fail. For tests of what becomes of the rest of its batch.
public func makeMessagesFail(withText text: String, inDatabaseAt path: String) throws {
    // Waits for the write lock: a database just opened may still be indexing or checkpointing.
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    let literal = "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    try queue.write { db in
        try db.execute(sql: """
            CREATE TRIGGER test_failing_message BEFORE INSERT ON message WHEN NEW.text = \(literal)
            BEGIN SELECT RAISE(ABORT, 'this message fails on purpose'); END
            """)
    }
}

/// A backup of the database at `path` as an operator makes one (`VACUUM INTO`, like
/// `sqlite3 .backup`): a new file with every row, the listener lease's included.
public func backUpDatabase(at path: String, to copy: String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [copy]) }
}
