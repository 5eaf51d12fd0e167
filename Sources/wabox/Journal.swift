import ArgumentParser
import InboxServices
import InboxCore
import InboxStore

/// `wabox journal [show]` and `wabox replay`: the logic is `WebhookLog`'s.
struct Journal: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the webhook bodies received: time, size, outcome and the events each held, newest last.",
        discussion: "wabox journal [--since 30d] [--contact ID] [--outcome stored|duplicate|dead-letter|error|unapplied] "
            + "[--format text|jsonl] · wabox journal show ID [--raw FILE [--force]]. Applied bodies stay for journal_retention.",
        version: BuildInfo.versionLine, subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the bodies (the default).", version: BuildInfo.versionLine)
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Only bodies received this recently: 30d, 12h, 90m.", valueName: "duration")) var since: String?
        @Option(help: ArgumentHelp("Only bodies about this contact: wa_id, user id (US.…) or username.", valueName: "id"))
        var contact: String?
        @Option(help: "Only bodies with this outcome (repeat for several).") var outcome: [JournalOutcome] = []
        @Option(help: "Output format: text (columns) or jsonl (one JSON object per body).") var format: WebhookLog.Format = .text

        func run() throws {
            try onStore(global) {
                try WebhookLog.list(databasePath: $0, since: since, contact: contact, outcomes: outcome, format: format)
            } postgres: {
                try WebhookLog.list(location: $0, since: since, contact: contact, outcomes: outcome, format: format)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one body, pretty-printed and sanitised.", version: BuildInfo.versionLine)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The body's id, as `wabox journal` lists it.") var id: Int64
        @Option(help: ArgumentHelp("Write its exact bytes to this new file instead (-: standard output, not a terminal).",
                                   valueName: "file")) var raw: String?
        @Flag(help: "With --raw: overwrite the file if it exists.") var force = false

        func run() throws {
            try onStore(global) {
                try WebhookLog.show(databasePath: $0, id: id, rawPath: raw, force: force)
            } postgres: {
                try WebhookLog.show(location: $0, id: id, rawPath: raw, force: force)
            }
        }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply stored webhook bodies again with this release's decoder, and print what changed.",
        discussion: "A dead letter whose part this release reads becomes a message; a message kept as unreadable gets its "
            + "content. Replaying twice changes nothing. Safe while wabox serve runs.", version: BuildInfo.versionLine)
    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("dead-letters"), help: "The bodies of dead letters and of unreadable messages.") var deadLetters = false
    @Option(help: ArgumentHelp("Every body received this recently: 30d, 12h, 90m.", valueName: "duration")) var since: String?
    @Option(parsing: .upToNextOption, help: ArgumentHelp("These bodies, by id.", valueName: "id")) var id: [Int64] = []

    func run() throws {
        try onStore(global) {
            try WebhookLog.replay(databasePath: $0, deadLetters: deadLetters, since: since, ids: id)
        } postgres: {
            try WebhookLog.replay(location: $0, deadLetters: deadLetters, since: since, ids: id)
        }
    }
}

/// Runs `sqlite` on the database path the settings name, or `postgres` on the PostgreSQL
/// inbox they name; the failure is the command's.
func onStore(_ global: GlobalOptions, _ sqlite: (String) throws -> Void,
             postgres: (PostgresLocation) throws -> Void) throws {
    let settings = try global.settings(postgresAllowed: true)
    do {
        if let location = settings.postgresLocation { try postgres(location) } else { try sqlite(settings.databasePath) }
    } catch let error as WebhookLog.Failure {
        throw Failure(error.description)
    }
}

extension JournalOutcome: ExpressibleByArgument {}
extension WebhookLog.Format: ExpressibleByArgument {}
