import ArgumentParser
import CloudAPI
import Foundation
import InboxCore
import InboxServices
import InboxStore
import Logging
import WebhookServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the headless webhook listener and outbox sender.",
        discussion: """
            Needs WABOX_APP_SECRET (the Meta app's secret, which signs every webhook) and \
            WABOX_VERIFY_TOKEN (any string you also enter in Meta's webhook settings). Answers \
            GET/POST /webhook, GET /healthz, /readyz and /metrics (Prometheus). Stops gracefully on SIGTERM or SIGINT, finishing \
            the commits in flight. With WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID set it also \
            sends the outbox through the Cloud API (WABOX_GRAPH_URL, WABOX_GRAPH_VERSION).
            """,
        version: BuildInfo.versionLine
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Address to listen on (default 127.0.0.1:8080, or WABOX_LISTEN).", valueName: "host:port"))
    var listen: String?

    @Option(help: "normal: a commit survives a crash of the process; full: it survives power loss too, at a cost per commit.")
    var durability: InboxDatabase.Configuration.Durability = .normal

    @Option(help: ArgumentHelp("Largest webhook body accepted, in bytes.", valueName: "bytes"))
    var bodyLimit: Int = 4 * 1024 * 1024

    @Option(help: ArgumentHelp("Log lines as text (default) or json, one object per line (or WABOX_LOG_FORMAT).", valueName: "text|json"))
    var logFormat: String?

    @Option(help: ArgumentHelp("Serve GET /metrics here alone, not on the webhook port (or WABOX_METRICS_LISTEN).", valueName: "host:port"))
    var metricsListen: String?

    @OptionGroup var security: ListenerSecurityOptions

    func run() async throws {
        var flags: [Settings.Key: String] = [:]
        if let listen { flags[.listen] = listen }
        if let logFormat { flags[.logFormat] = logFormat }
        if let metricsListen { flags[.metricsListen] = metricsListen }
        let settings = try global.settings(flags: flags, postgresAllowed: true)
        guard let appSecret = settings.appSecret else {
            throw Failure("""
                wabox serve needs the app secret that signs Meta's webhooks: set WABOX_APP_SECRET, or app_secret in \
                \(settings.configFile ?? "config.toml") (Meta app dashboard → App settings → Basic → App secret).
                """)
        }
        guard let verifyToken = settings.verifyToken else {
            throw Failure("""
                wabox serve needs a verify token: set WABOX_VERIFY_TOKEN, or verify_token in \
                \(settings.configFile ?? "config.toml"), to any hard-to-guess string, and enter the same string \
                in Meta's webhook settings.
                """)
        }
        let address = try Self.parse(settings.listen)
        Logs.bootstrapToStandardError(secrets: settings.secrets, format: settings.logFormat)
        let logger = Logger(label: "wabox.serve")
        if let location = settings.postgresLocation {
            var listener = WebhookConfiguration(host: address.host, port: address.port, verifyToken: verifyToken,
                                                appSecret: appSecret, bodyLimit: bodyLimit)
            try security.apply(to: &listener, settings: settings)
            try await servePostgres(location, listener: listener, settings: settings, logger: logger)
            return
        }
        let database = try settings.openDatabase(.init(durability: durability))
        let path = settings.databasePath
        logger.info("durability \(durability.rawValue): PRAGMA synchronous = \((try? database.synchronousMode()) ?? "unknown")")
        var listener = WebhookConfiguration(host: address.host, port: address.port, verifyToken: verifyToken,
                                            appSecret: appSecret, bodyLimit: bodyLimit)
        try security.apply(to: &listener, settings: settings)
        var services = ServiceAssembly.Configuration(role: .serve)
        services.listener = listener
        services.transcription = settings.transcription
        services.applier.retention = settings.journalRetention
        services.applier.auditRetention = settings.auditRetention
        let scheme = listener.tls == nil ? "http" : "https"
        services.onListening = { port in
            logger.info("wabox serve listening on \(scheme)://\(urlHost(address.host)):\(port)/webhook (database \(path))")
        }
        services.enableSending(accessToken: settings[.phoneNumberID] == nil ? nil : settings.accessToken,
                               graphURL: settings.graphURL, graphVersion: settings.graphVersion,
                               wabaID: settings[.wabaID], media: settings.mediaDownloads, logger: logger)
        services.telemetry = Telemetry.bootstrap()
        services.metricsAddress = try settings[.metricsListen].map(Self.parse)
        let assembly: ServiceAssembly
        do {
            assembly = try await ServiceAssembly.assemble(services, database: database, logger: logger)
        } catch let held as ServiceAssembly.ListenerHeld {
            throw Failure("""
                \(held) for \(path). Stop it first (agents' screens attach to a running \
                wabox serve by themselves), or give this one another --db.
                """)
        }
        try await assembly.runUntilTerminated(logger: logger)
    }

    /// The webhook path on PostgreSQL: this listener journals, and applies while it holds
    /// the applier lease; what needs SQLite is not started, and the log says which.
    private func servePostgres(_ location: PostgresLocation, listener: WebhookConfiguration, settings: Settings,
                               logger: Logger) async throws {
        var configuration = SharedStoreServe.Configuration(location: location, listener: listener,
                                                           mediaDirectory: settings.mediaDirectory)
        var notStarted: [String] = []
        if settings[.phoneNumberID] != nil, let accessToken = settings.accessToken {
            configuration.client = GraphCloudClient(
                configuration: .init(graphURL: settings.graphURL, graphVersion: settings.graphVersion, accessToken: accessToken),
                logger: Logger(label: "wabox.cloud-api"))
            logger.info("outbox sender on, sending through \(settings.graphURL)/\(settings.graphVersion)")
            configuration.media = settings.mediaDownloads
            configuration.wabaID = settings[.wabaID]
        } else {
            logger.notice("outbox sender off: set WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID to send replies")
        }
        configuration.transcription = settings.transcription
        configuration.applier.retention = settings.journalRetention
        configuration.applier.auditRetention = settings.auditRetention
        if durability != .normal { notStarted.append("--durability (PostgreSQL's synchronous_commit decides)") }
        configuration.notStarted = notStarted
        configuration.telemetry = Telemetry.bootstrap()
        configuration.metricsAddress = try settings[.metricsListen].map(Self.parse)
        let scheme = listener.tls == nil ? "http" : "https"
        configuration.onListening = { port in
            logger.info("wabox serve listening on \(scheme)://\(urlHost(listener.host)):\(port)/webhook (database \(location.redacted))")
        }
        do {
            try await SharedStoreServe.run(configuration, logger: logger)
        } catch let failure as SharedStoreServe.StartFailure {
            throw Failure(failure.description)
        }
    }

    static func parse(_ listen: String) throws -> (host: String, port: Int) {
        do { return try ConfigLocations.parseListen(listen) } catch { throw Failure(error.description) }
    }

}

extension InboxDatabase.Configuration.Durability: ExpressibleByArgument {}

/// The listener's hardening options, shared by `wabox serve` and the inbox.
struct ListenerSecurityOptions: ParsableArguments {
    @Flag(help: ArgumentHelp("Accept webhooks without checking their signature. For local experiments only: anyone who can reach the listener can then write into the inbox."))
    var insecureSkipSignature = false

    @Option(help: ArgumentHelp("Serve HTTPS with this PEM certificate chain (needs --tls-key; TLS 1.2 or newer).", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("Seconds a client may take to send one request (headers and body) before it is cut off.", valueName: "seconds"))
    var requestTimeout: Double = 15

    @Option(help: ArgumentHelp("Seconds a connection may stay open without a request.", valueName: "seconds"))
    var idleTimeout: Double = 60

    func validate() throws {
        guard requestTimeout > 0, idleTimeout > 0 else {
            throw ValidationError("--request-timeout and --idle-timeout must be more than 0 seconds")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither for plain HTTP behind a proxy")
        }
    }

    /// Sets the options on `configuration`, loading the TLS files now so that a bad one
    /// stops the start with its name rather than failing the first connection.
    func apply(to configuration: inout WebhookConfiguration, settings: Settings) throws {
        configuration.previousAppSecret = settings.previousAppSecret
        configuration.insecureSkipSignature = insecureSkipSignature
        configuration.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        configuration.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        if let tlsCert, let tlsKey {
            let tls = ListenerTLS(certificatePath: tlsCert, privateKeyPath: tlsKey)
            do {
                _ = try tls.load()
            } catch {
                throw Failure(error.description)
            }
            configuration.tls = tls
        }
    }
}
