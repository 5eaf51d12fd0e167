import ArgumentParser
@_exported import BuildInfo  // BuildInfo.versionLine in every command, BuildInfo.version
import Foundation
import InboxCore
import InboxStore
import Logging

@main
struct Wabox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wabox",
        abstract: "A terminal inbox for the WhatsApp Business Cloud API.",
        discussion: """
            wabox receives Meta's webhooks, keeps every conversation in SQLite and shows them in the \
            terminal. Settings come from flags, then WABOX_* environment variables, then \
            $XDG_CONFIG_HOME/wabox/config.toml.
            """,
        version: BuildInfo.versionLine,
        subcommands: [Inbox.self, Demo.self, Serve.self, Send.self, Export.self, Audit.self, Templates.self, Replies.self,
                      Backup.self, Journal.self, Replay.self, Migrate.self, Simulate.self, Doctor.self],
        defaultSubcommand: Inbox.self
    )
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The SQLite database (default $XDG_DATA_HOME/wabox/inbox.sqlite); wabox serve also takes postgres://USER:PASSWORD@HOST:PORT/DBNAME.", valueName: "path"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("The config file (default $XDG_CONFIG_HOME/wabox/config.toml).", valueName: "path"))
    var config: String?

    /// - Parameter postgresAllowed: the command runs on PostgreSQL (`wabox serve`).
    func settings(flags: [Settings.Key: String] = [:], postgresAllowed: Bool = false) throws -> Settings {
        var flags = flags
        if let db { flags[.db] = db }
        do {
            return try Settings.load(flags: flags, configPath: config, postgresAllowed: postgresAllowed)
        } catch let error as Settings.Error {
            throw Failure(error.description)
        }
    }
}

/// A failure to report in one clear message, without the usage text that
/// `ValidationError` adds. Exits with status 1.
struct Failure: Error, CustomStringConvertible {
    var description: String
    /// Messages quote errors from the Cloud API and file contents: sanitised for the terminal.
    init(_ description: String) { self.description = TerminalText.sanitizeKeepingLines(description) }
}
