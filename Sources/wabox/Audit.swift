import ArgumentParser
import InboxServices

/// `wabox audit`: who did what, and when (the listing is `AuditListing`'s).
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the audit trail: who sent, noted, claimed, resolved and labelled what, and when.",
        discussion: AuditListing.discussion, version: BuildInfo.versionLine)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only the last DURATION: 30m, 12h, 7d (a bare number is days).", valueName: "duration"))
    var since: String?

    @Option(help: ArgumentHelp("Only this account's actions (a login name, not a display name).", valueName: "account"))
    var agent: String?

    @Option(help: ArgumentHelp("Only this contact's: a wa_id, user id (US.…) or username.", valueName: "id"))
    var contact: String?

    @Option(help: "Output format: text (a line per action) or jsonl (a JSON object per action).")
    var format: AuditListing.Format = .text

    func run() throws {
        let settings = try global.settings(postgresAllowed: true)
        do {
            if let location = settings.postgresLocation {
                try AuditListing.print(location: location, since: since, account: agent, contact: contact, format: format)
            } else {
                try AuditListing.print(databasePath: settings.databasePath, since: since, account: agent, contact: contact,
                                       format: format)
            }
        } catch { throw Failure(error.description) }
    }
}

extension AuditListing.Format: ExpressibleByArgument {}
