import ArgumentParser
import Foundation
import InboxStore

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database while wabox keeps running.",
        discussion: """
            The copy holds every webhook acknowledged before the command started, is checked \
            with integrity_check, and is renamed into place only when whole. To restore: stop \
            `wabox serve`, move the copy to the database's path (--db), start it again.
            """,
        version: BuildInfo.versionLine
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The new file to write (never overwritten).", valueName: "path"))
    var to: String

    func run() throws {
        let path = try global.settings().databasePath
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
