import ArgumentParser
import CloudAPI
import CursesBackend
import Foundation
import InboxServices
import InboxStore
import InboxTUI
import Logging
import InboxCore
import WebhookServer

/// `wabox`: the terminal inbox, with the webhook listener embedded.
struct Inbox: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inbox",
        abstract: "The terminal inbox with the embedded webhook listener (the default command).",
        discussion: """
            Shows conversations live as webhooks arrive. The listener starts when WABOX_APP_SECRET and \
            WABOX_VERIFY_TOKEN are set; without them the screen still shows what the database holds. \
            When a `wabox serve` (or another agent's wabox) already runs the listener for the same \
            database, this screen attaches to it instead, and changes from every agent show within \
            a fraction of a second. \
            Logs go to $XDG_STATE_HOME/wabox/wabox.log while the screen owns the terminal.
            """,
        version: BuildInfo.versionLine
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Address for the embedded listener (default 127.0.0.1:8080, or WABOX_LISTEN).", valueName: "host:port"))
    var listen: String?

    @Option(help: ArgumentHelp("Colour theme: a file name in themes/ without .toml (or WABOX_THEME).", valueName: "name"))
    var theme: String?

    @Option(help: ArgumentHelp("A display name shown beside your account, which is always your login (default: WABOX_AGENT).", valueName: "name"))
    var agent: String?

    @Flag(help: "Do not start the embedded listener.")
    var noListener = false

    @OptionGroup var security: ListenerSecurityOptions

    func run() throws {
        var flags: [Settings.Key: String] = [:]
        if let listen { flags[.listen] = listen }
        if let theme { flags[.theme] = theme }
        if let agent { flags[.agent] = agent }
        let settings = try global.settings(flags: flags, postgresAllowed: true)
        let selectedTheme = try ScreenSession.theme(named: settings[.theme])
        if let location = settings.postgresLocation {
            try runOnPostgres(location, settings: settings, theme: selectedTheme)
            return
        }
        let database = try settings.openDatabase()
        let logger = Logs.bootstrapToFile(near: settings.databasePath, secrets: settings.secrets, format: settings.logFormat)

        var session = ScreenSession(database: database, theme: selectedTheme, logger: logger)
        if !noListener, let secret = settings.appSecret, let token = settings.verifyToken {
            let address = try Serve.parse(settings.listen)
            var listener = WebhookConfiguration(host: address.host, port: address.port, verifyToken: token,
                                                appSecret: secret)
            try security.apply(to: &listener, settings: settings)
            session.services.listener = listener
        } else if !noListener {
            session.services.initialProblem = "listener off: set WABOX_APP_SECRET and WABOX_VERIFY_TOKEN to receive webhooks"
        }
        if let accessToken = settings.accessToken, settings[.phoneNumberID] != nil {
            session.services.client = GraphCloudClient(
                configuration: .init(graphURL: settings.graphURL, graphVersion: settings.graphVersion, accessToken: accessToken),
                logger: Logger(label: "wabox.cloud-api"))
        }
        session.services.wabaID = settings[.wabaID]
        session.services.media = settings.mediaDownloads
        session.services.transcription = settings.transcription
        session.services.applier.retention = settings.journalRetention
        session.services.applier.auditRetention = settings.auditRetention
        session.preferences = try ScreenPreferences(settings)
        session.run { CursesTerminal(useColors: selectedTheme.name != "mono") }
    }

    /// The screen on a shared PostgreSQL inbox: no listener of its own (the `wabox serve`
    /// receive and send); the agent is the database role, as for `wabox send`.
    private func runOnPostgres(_ location: PostgresLocation, settings: Settings, theme: Theme) throws {
        let logger = Logs.bootstrapToFile(near: ConfigLocations.defaultDatabasePath(environment: ProcessInfo.processInfo.environment),
                                          secrets: settings.secrets, format: settings.logFormat)
        var screen = SharedStoreScreen(location: location,
                                       identity: AgentIdentity(account: location.user, displayName: settings.displayName),
                                       theme: theme, logger: logger)
        screen.preferences = try ScreenPreferences(settings)
        screen.mediaDirectory = settings.mediaDirectory
        do {
            try screen.run { CursesTerminal(useColors: theme.name != "mono") }
        } catch {
            throw Failure(String(describing: error))
        }
    }
}

extension CursesTerminal: SessionTerminal {}

extension ScreenPreferences {
    /// The screen's settings (flags, environment, config file) and the agent's own files
    /// (`keys.toml`, `replies.toml`), each refused in words when broken.
    init(_ settings: Settings) throws {
        self.init()
        markReadOnOpen = settings.markReadOnOpen
        downloadDirectory = settings.downloadDirectory
        openCommand = settings.openCommand
        notify = settings.notify
        keys = try ScreenSession.keyMap()
        showDeleted = settings.showDeleted
        personalReplies = try ScreenSession.personalReplies()
    }
}
