import ArgumentParser
import Foundation
import InboxServices
import InboxStore

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database while wabox keeps running.",
        discussion: """
            The copy holds every webhook acknowledged before the command started, is checked \
            with integrity_check, and is renamed into place only when whole. To restore: stop \
            `wabox serve`, move the copy to the database's path (--db), start it again. \
            On PostgreSQL (--db postgres://…) the copy is pg_dump's (custom format, one snapshot, \
            checked with pg_restore --list): restore it with pg_restore.
            """,
        version: BuildInfo.versionLine
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The new file to write (never overwritten).", valueName: "path"))
    var to: String

    func run() throws {
        let settings = try global.settings(postgresAllowed: true)
        if let location = settings.postgresLocation {
            do {
                let report = try PostgresBackup.run(location, to: to)
                print("""
                    backed up \(location.redacted) (\(report.messages) messages when it started, \
                    \(ByteCountFormatter.string(fromByteCount: report.bytes, countStyle: .file))) to \(report.path) \
                    in \(String(format: "%.1f", report.seconds)) s with pg_dump
                    to restore: createdb a new database, then pg_restore --no-owner --dbname=postgres://…/NEWDB \(report.path)
                    """)
            } catch {
                throw Failure(error.description)
            }
            return
        }
        let path = settings.databasePath
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure("no database at \(path): pass --db with the file to back up")
        }
        do {
            let report = try InboxDatabase(path: path, configuration: .init(readonly: true)).backup(to: to)
            print("backed up \(report.messages) messages (\(ByteCountFormatter.string(fromByteCount: report.bytes, countStyle: .file))) to \(report.path) in \(String(format: "%.1f", report.seconds)) s")
        } catch {
            throw Failure(String(describing: error))
        }
    }
}
