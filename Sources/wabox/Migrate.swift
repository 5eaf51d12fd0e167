import ArgumentParser
import Foundation
import InboxCore
import InboxServices
import Logging

/// `wabox migrate --from PATH --to postgres://…`: the logic is `InboxMigration`'s.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a SQLite inbox into an empty PostgreSQL database, its whole history, and check the counts.",
        discussion: """
            Copies the journal, contacts, conversations, messages, statuses, reactions, edits, the outbox, agents, \
            claims, read marks, notes, labels, canned replies, the audit trail and the media queue in one transaction, \
            then counts every table on both sides; on any difference nothing is kept. Stop wabox serve (and every \
            screen with its own listener) first. The database must hold no inbox yet.
            """,
        version: BuildInfo.versionLine
    )

    @Option(help: ArgumentHelp("The SQLite inbox to copy (wabox serve's --db).", valueName: "path"))
    var from: String

    @Option(help: ArgumentHelp("""
        The PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DBNAME (default WABOX_DB, or db in config.toml, \
        which keep the password out of the process list).
        """, valueName: "url"))
    var to: String?

    func run() async throws {
        let source: String
        switch try parse(from, what: "--from") {
        case .sqlite(let path): source = path
        case .postgres: throw Failure("--from names a PostgreSQL database: give the SQLite file to copy (wabox serve's --db)")
        }
        let target = try targetLocation()
        Logs.bootstrapToStandardError(secrets: [target.password].compactMap { $0 })
        var logger = Logger(label: "wabox.migrate")
        logger.logLevel = .warning
        print("copying \(source) into \(target.redacted)")
        let started = ContinuousClock.now
        let report: InboxMigration.Report
        do {
            report = try await InboxMigration.run(from: source, to: target, logger: logger)
        } catch let failure as InboxMigration.Failure {
            if let counts = failure.report { printCounts(counts) }
            throw Failure(failure.description)
        }
        printCounts(report)
        print("files: \(report.filesCopied) copied into the database for the screens of every host"
              + (report.filesMissing.isEmpty ? "" : "; \(report.filesMissing.count) not found on this host, shown as kept on the old host only"))
        for path in report.filesMissing.prefix(5) { print("  missing: " + TerminalText.sanitize(path)) }
        let seconds = (ContinuousClock.now - started) / .milliseconds(100) / 10
        print("""
            migrated in \(String(format: "%.1f", seconds)) s. Start wabox serve with --db \(target.redacted) \
            (WABOX_DB or db in config.toml), and keep \(source) as a backup.
            """)
    }

    private func printCounts(_ report: InboxMigration.Report) {
        print("rows: SQLite → PostgreSQL")
        for line in report.lines { print("  " + line) }
    }

    private func targetLocation() throws -> PostgresLocation {
        if let to {
            guard let location = try parse(to, what: "--to").postgres else {
                throw Failure("--to names a file: give the PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DBNAME")
            }
            return location
        }
        let settings: Settings
        do {
            settings = try Settings.load(flags: [:], configPath: nil, postgresAllowed: true)
        } catch let error as Settings.Error {
            throw Failure(error.description)
        }
        guard let location = settings.postgresLocation else {
            throw Failure("""
                wabox migrate needs the PostgreSQL database to copy into: --to postgres://USER:PASSWORD@HOST:PORT/DBNAME, \
                or WABOX_DB (db in config.toml) set to that URL
                """)
        }
        return location
    }

    private func parse(_ value: String, what: String) throws -> StoreLocation {
        do { return try StoreLocation.parse(value) } catch { throw Failure("\(what): \(error.description)") }
    }
}
