import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Tells when anything committed to the database file, whichever process or connection
/// wrote it: `PRAGMA data_version` on a connection that never writes changes exactly when
/// another connection has committed.
final class ChangeWatcher: Sendable {
    private let connection: DatabaseQueue

    init(path: String) throws {
        var configuration = GRDB.Configuration()
        configuration.label = "wabox.change-watcher"
        configuration.readonly = true
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// The current version; -1 if the file cannot be read right now (the next poll retries).
    var version: Int {
        (try? connection.inDatabase { db in try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) }) ?? -1
    }
}

/// Wakes a waiting screen when any process commits to the database: a file descriptor
/// that becomes readable when a file in the database's folder (the database, its WAL) is
/// written, by inotify; where inotify is unavailable, no descriptor, and the screen polls
/// `InboxDatabase.changeCount` every `waitMilliseconds` instead.
///
/// Which file changed does not matter: the screen asks SQLite (`changeCount`) whether
/// anything was committed. Made by `InboxDatabase.openChangeWake()`; owned by one screen.
public final class ChangeWake {
    /// How long a screen may wait for a key between two looks at `changeCount`: long with
    /// a descriptor to wake it (an idle screen then wakes once a second for its clock),
    /// short without, so that another process's commit shows within it.
    public static let wokenWaitMilliseconds = 1000
    public static let pollingWaitMilliseconds = 100

    /// Readable once something was written; nil when polling.
    public private(set) var descriptor: Int32?

    public var waitMilliseconds: Int { descriptor == nil ? Self.pollingWaitMilliseconds : Self.wokenWaitMilliseconds }

    /// Watches the folder of the database at `path`; `polling` forces the fallback.
    init(databaseAt path: String, polling: Bool) {
        guard !polling else { return }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { return }
        // The folder, not the files: SQLite deletes and recreates the WAL.
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO)
        guard inotify_add_watch(descriptor, folder, mask) >= 0 else {
            Glibc.close(descriptor)
            return
        }
        self.descriptor = descriptor
    }

    deinit { close() }

    /// Reads every pending event, so that the descriptor waits for the next write.
    public func drain() {
        guard let descriptor else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while buffer.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
    }

    public func close() {
        if let descriptor { Glibc.close(descriptor) }
        descriptor = nil
    }
}

extension InboxDatabase {
    /// A wake-up for a screen that waits for keys: see `ChangeWake`. `polling` skips
    /// inotify (for tests of the fallback, and file systems where it does not work).
    public func openChangeWake(polling: Bool = false) -> ChangeWake {
        ChangeWake(databaseAt: path, polling: polling)
    }
}
