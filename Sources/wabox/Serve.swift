import ArgumentParser
import CloudAPI
import Foundation
import Hummingbird
import InboxStore
import Logging
import ServiceLifecycle
import WebhookServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the headless webhook listener and outbox sender.",
        discussion: """
            Needs WABOX_APP_SECRET (the Meta app's secret, which signs every webhook) and \
            WABOX_VERIFY_TOKEN (any string you also enter in Meta's webhook settings). Answers \
            GET/POST /webhook and GET /healthz. Stops gracefully on SIGTERM or SIGINT, finishing \
            the commits in flight. With WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID set it also \
            sends the outbox through the Cloud API (WABOX_GRAPH_URL, WABOX_GRAPH_VERSION).
            """,
        version: waboxVersion
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Address to listen on (default 127.0.0.1:8080, or WABOX_LISTEN).", valueName: "host:port"))
    var listen: String?

    @Option(help: "normal: a commit survives a crash of the process; full: it survives power loss too, at a cost per commit.")
    var durability: InboxDatabase.Configuration.Durability = .normal

    @Option(help: ArgumentHelp("Largest webhook body accepted, in bytes.", valueName: "bytes"))
    var bodyLimit: Int = 4 * 1024 * 1024

    @OptionGroup var security: ListenerSecurityOptions

    func run() async throws {
        var flags: [Settings.Key: String] = [:]
        if let listen { flags[.listen] = listen }
        let settings = try global.settings(flags: flags)
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
        Logs.bootstrapToStandardError(secrets: settings.secrets)
        let logger = Logger(label: "wabox.serve")
        let database: InboxDatabase
        do {
            database = try InboxDatabase(path: settings.databasePath, configuration: .init(durability: durability))
        } catch {
            throw Failure(String(describing: error))
        }
        let path = settings.databasePath
        logger.info("durability \(durability.rawValue): PRAGMA synchronous = \((try? database.synchronousMode()) ?? "unknown")")
        let sending = settings.accessToken != nil && settings[.phoneNumberID] != nil
        let holder = LeaseHolder()
        let lease = holder.lease(role: .serve, agent: nil, address: "\(Self.urlHost(address.host)):\(address.port)",
                                 sending: sending)
        if case .heldBy(let other) = try await database.acquireLease(lease, isAlive: holder.isAlive) {
            throw Failure("""
                \(other.holderDescription) already runs the listener\(other.address.map { " on \($0)" } ?? "") \
                and the outbox sender for \(path). Stop it first (agents' screens attach to a running \
                wabox serve by themselves), or give this one another --db.
                """)
        }
        var configuration = WebhookConfiguration(host: address.host, port: address.port, verifyToken: verifyToken,
                                                 appSecret: appSecret, bodyLimit: bodyLimit)
        try security.apply(to: &configuration, settings: settings)
        let scheme = configuration.tls == nil ? "http" : "https"
        let app = makeWebhookApplication(
            configuration: configuration,
            database: database,
            logger: logger,
            onServerRunning: { port in
                logger.info("wabox serve listening on \(scheme)://\(Self.urlHost(address.host)):\(port)/webhook (database \(path))")
                try? await database.updateLeaseAddress("\(Self.urlHost(address.host)):\(port)", pid: holder.pid,
                                                       host: holder.host)
            }
        )
        // The lease keeper is first so that it stops last, once nothing runs any more.
        var services: [any Service] = [LeaseKeeper(database: database, holder: holder, logger: logger), app]
        if let accessToken = settings.accessToken, sending {
            let client = GraphCloudClient(
                configuration: .init(graphURL: settings.graphURL, graphVersion: settings.graphVersion, accessToken: accessToken),
                logger: Logger(label: "wabox.cloud-api"))
            services.append(OutboxSender(database: database, client: client, logger: Logger(label: "wabox.outbox")))
            logger.info("outbox sender on, sending through \(settings.graphURL)/\(settings.graphVersion)")
            if let account = settings[.wabaID] {
                // Agents' screens have no token: they offer the templates fetched here.
                services.append(TemplateCacheRefresher(database: database, client: client, account: account,
                                                       logger: Logger(label: "wabox.templates")))
            } else {
                logger.notice("set WABOX_WABA_ID so that agents' screens can offer the approved templates")
            }
        } else {
            logger.notice("outbox sender off: set WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID to send replies")
        }
        // The sender is listed last so that it stops first on SIGTERM, finishing the request
        // in flight; then the listener drains its commits.
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }

    static func parse(_ listen: String) throws -> (host: String, port: Int) {
        do {
            return try Settings.parseListen(listen)
        } catch let error as Settings.Error {
            throw Failure(error.description)
        }
    }

    static func urlHost(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
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
