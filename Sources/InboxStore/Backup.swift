import Foundation
import GRDB

/// What `backup(to:)` wrote.
public struct BackupReport: Sendable {
    public var path: String
    public var bytes: Int64
    public var messages: Int
    public var seconds: Double
}

extension InboxDatabase {
    public struct BackupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes a consistent copy of the whole database to `path` with SQLite's online backup
    /// API while other processes keep writing: the copy is one snapshot, taken in a read
    /// transaction that begins when this is called, so it holds every commit (every
    /// acknowledged webhook) made before. The copy is written beside `path` first, checked
    /// with `integrity_check`, synced, and only then renamed into place; an existing file is
    /// never overwritten.
    public func backup(to path: String, clock: () -> Date = Date.init) throws -> BackupReport {
        let started = clock()
        let fileManager = FileManager.default
        let target = URL(fileURLWithPath: path).standardizedFileURL
        guard target.path != URL(fileURLWithPath: self.path).standardizedFileURL.path else {
            throw BackupError(description: "\(path) is the database itself: give --to a new file")
        }
        guard !fileManager.fileExists(atPath: target.path) else {
            throw BackupError(description: "\(path) already exists: give --to a new file name, or remove the old copy first")
        }
        let folder = target.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BackupError(description: "no folder \(folder.path) to write \(target.lastPathComponent) into: create it first")
        }
        let partial = folder.appendingPathComponent(".\(target.lastPathComponent).partial-\(getpid())")
        func removePartial() {
            for suffix in ["", "-wal", "-shm", "-journal"] { try? fileManager.removeItem(atPath: partial.path + suffix) }
        }
        removePartial()
        // The copy is as private as the original (a shared inbox's file is group-writable).
        let mode = ((try? fileManager.attributesOfItem(atPath: self.path))?[.posixPermissions] as? NSNumber)?.intValue ?? 0o600
        guard fileManager.createFile(atPath: partial.path, contents: nil, attributes: [.posixPermissions: mode & 0o660]) else {
            throw BackupError(description: "cannot write in \(folder.path): check its permissions, or give --to a path in a writable folder")
        }
        var report = BackupReport(path: target.path, bytes: 0, messages: 0, seconds: 0)
        do {
            let copy = try DatabaseQueue(path: partial.path)
            // One step, inside one read transaction of the pool: a snapshot, however busy the writer.
            try writer.backup(to: copy)
            try copy.inDatabase { db in
                let check = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
                guard check == "ok" else { throw BackupError(description: "the copy failed integrity_check (\(check)): nothing was kept; try again, and run `wabox doctor` on the original") }
                report.messages = try Int.fetchOne(db, sql: "SELECT count(*) FROM message") ?? 0
                // Fold the copy's WAL into its main file, so the one file is the whole copy.
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
            try copy.close()
            let handle = try FileHandle(forUpdating: partial)
            try handle.synchronize()
            try handle.close()
            for suffix in ["-wal", "-shm"] { try? fileManager.removeItem(atPath: partial.path + suffix) }
            guard rename(partial.path, target.path) == 0 else {
                throw BackupError(description: "cannot rename the copy to \(target.path): \(String(cString: strerror(errno)))")
            }
            // The rename is durable once the folder is synced.
            let folderDescriptor = open(folder.path, O_RDONLY)
            if folderDescriptor >= 0 { fsync(folderDescriptor); close(folderDescriptor) }
        } catch let error as BackupError {
            removePartial()
            throw error
        } catch {
            removePartial()
            throw BackupError(description: "the backup to \(path) failed: \(error). Nothing was kept; check free space in \(folder.path) and try again")
        }
        report.bytes = ((try? fileManager.attributesOfItem(atPath: target.path))?[.size] as? NSNumber)?.int64Value ?? 0
        report.seconds = clock().timeIntervalSince(started)
        return report
    }
}
