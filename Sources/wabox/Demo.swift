import ArgumentParser
import CloudAPI
import CursesBackend
import Foundation
import InboxCore
import InboxServices
import InboxStore
import Logging
import Simulator
import WebhookServer

/// `wabox demo`: the real screen, listener, store and sender, wired to the fake Cloud API
/// and to simulated customers. Nothing leaves the machine; no credentials are needed.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Try wabox with simulated customers and a fake Cloud API: no account, nothing leaves the machine.",
        discussion: """
            Customers write in at a human pace; replies get their ticks from the fake Cloud API. \
            The data lives in a temporary database, removed on quit, unless --db is given.
            """,
        version: BuildInfo.versionLine
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Address for the embedded listener (default: any free loopback port).", valueName: "host:port"))
    var listen = "127.0.0.1:0"

    @Option(help: ArgumentHelp("Colour theme: a file name in themes/ without .toml (or WABOX_THEME).", valueName: "name"))
    var theme: String?

    @Option(help: ArgumentHelp("Seconds between two customer messages, on average.", valueName: "seconds"))
    var pace: Double = 5

    func validate() throws {
        guard pace > 0, pace <= 600 else { throw ValidationError("--pace must be more than 0 and at most 600 seconds, for example --pace 2") }
    }

    func run() throws {
        var flags: [Settings.Key: String] = [:]
        if let theme { flags[.theme] = theme }
        // The demo keeps an inbox of its own: a shared database configured for the team
        // (WABOX_DB) is left alone, and a PostgreSQL --db refused.
        if let db = global.db, (try? StoreLocation.parse(db))?.postgres != nil {
            throw Failure("wabox demo fills an inbox of its own with made-up customers: give --db a file path, or no --db for a temporary one; it never writes to a PostgreSQL inbox")
        }
        let settings = try global.settings(flags: flags, postgresAllowed: true)
        let selectedTheme = try ScreenSession.theme(named: settings[.theme])
        let address = try Serve.parse(listen)

        // A temporary database unless --db was given.
        var temporaryDirectory: URL?
        let databasePath: String
        if let path = global.db {
            databasePath = path
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-demo-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            temporaryDirectory = directory
            databasePath = directory.appendingPathComponent("inbox.sqlite").path
        }
        defer { temporaryDirectory.map { try? FileManager.default.removeItem(at: $0) } }
        let database: InboxDatabase
        do {
            database = try InboxDatabase(path: databasePath, configuration: .init(displayName: settings.displayName))
        } catch {
            throw Failure(String(describing: error))
        }
        let logger = Logs.bootstrapToFile(near: databasePath)

        // Fresh secrets for this run: the listener and the simulated senders share them.
        let appSecret = "demo-" + UUID().uuidString
        let accessToken = "demo-token-" + UUID().uuidString
        let fake = FakeCloudAPI(accessToken: accessToken, logger: Logger(label: "wabox.demo.fake-cloud-api"))
        fake.addTemplates(DemoScript.templates)
        let fakeServer: FakeCloudServer
        do {
            fakeServer = try FakeCloudServer.start(fake, logger: logger)
        } catch {
            throw Failure("\(error)")
        }
        defer { fakeServer.stop() }

        let script = DemoScript(fake: fake, appSecret: appSecret, pace: pace, logger: logger)
        var session = ScreenSession(database: database, theme: selectedTheme, logger: logger)
        session.services.listener = WebhookConfiguration(host: address.host, port: address.port,
                                                         verifyToken: "demo-verify-" + UUID().uuidString, appSecret: appSecret)
        session.services.client = GraphCloudClient(
            configuration: .init(graphURL: fakeServer.url, graphVersion: "v23.0", accessToken: accessToken, timeout: .seconds(10)),
            logger: Logger(label: "wabox.demo.cloud-api"))
        session.services.wabaID = DemoScript.wabaID
        session.services.retryPolicy = .init(baseDelay: 1, maxDelay: 10, maxAttempts: 5)
        session.services.media = .init(directory: MediaDownloader.Configuration.defaultDirectory(besideDatabaseAt: databasePath))
        session.services.transcription = settings.transcription
        session.services.isDemo = true
        session.services.onListening = { port in script.listening(on: port) }
        session.services.companions = [script]
        session.preferences = try ScreenPreferences(settings)
        session.preferences.markReadOnOpen = true
        session.preferences.hints = DemoScript.hints
        session.run { CursesTerminal(useColors: selectedTheme.name != "mono") }
    }
}
