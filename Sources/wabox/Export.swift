import ArgumentParser
import Foundation
import InboxServices

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print stored messages, oldest first, one JSON object per line.",
        discussion: "Messages the customer deleted keep only deleted_at, unless show_deleted is true (WABOX_SHOW_DELETED).",
        version: BuildInfo.versionLine
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case jsonl }

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only this contact: a wa_id, user id (US.…) or username.", valueName: "id"))
    var contact: String?

    @Option(help: "Output format.")
    var format: Format = .jsonl

    func run() async throws {
        let settings = try global.settings(postgresAllowed: true)
        do {
            if let location = settings.postgresLocation {
                try await CommandOutput.export(location: location, contact: contact, showDeleted: settings.showDeleted)
            } else {
                try CommandOutput.export(databasePath: settings.databasePath, contact: contact, showDeleted: settings.showDeleted)
            }
        } catch {
            throw Failure(error.description)
        }
    }
}

/// `wabox templates`: the approved templates as the cache holds them.
struct Templates: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the cached message templates with status, category, quality and when they were refreshed.",
        discussion: """
            The cache is what the process holding the listener (wabox serve, with WABOX_WABA_ID) fetched \
            last, with the template status, quality and category updates Meta sent since applied: a \
            template rejected, paused or disabled shows so at once and leaves the picker.
            """,
        version: BuildInfo.versionLine
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Output format: text (columns) or jsonl (one JSON object per template).")
    var format: TemplateListing.Format = .text

    func run() throws {
        do {
            let settings = try global.settings(postgresAllowed: true)
            if let location = settings.postgresLocation {
                try CommandOutput.templates(location: location, format: format)
            } else {
                try CommandOutput.templates(databasePath: settings.databasePath, format: format)
            }
        } catch let error as CommandOutput.Failure {
            throw Failure(error.description)
        }
    }
}

extension TemplateListing.Format: ExpressibleByArgument {}
