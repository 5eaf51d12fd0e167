import CloudAPI
import Foundation
import InboxStore
import InboxTUI
import Logging
import ServiceLifecycle
import WebhookServer

/// Builds what runs beside a screen or alone in `wabox serve`: the listener lease, the
/// embedded webhook listener, the outbox sender, the media downloader, the transcriber,
/// the template cache and, for a screen, the status poller. `serve`, the inbox, `demo` and the tests all assemble through here.
///
/// One process per database holds the listener lease and runs the listener and the
/// sender; a screen that finds another live holder attaches to it instead (it shows
/// what that process receives and sends through the shared database), while a second
/// `wabox serve` refuses to start.
public struct ServiceAssembly: Sendable {
    public struct Configuration: Sendable {
        /// `.serve` refuses to start beside a live holder; `.inbox` attaches to it.
        public var role: ListenerLease.Role
        /// The agent at the screen; nil for `serve`.
        public var agent: String?
        /// The embedded listener, when it should run.
        public var listener: WebhookConfiguration?
        /// The Cloud API, when replies should leave.
        public var client: (any CloudMessaging)?
        /// Why replies do not leave when `client` is nil, for the status bar.
        public var sendingOffReason = "replies wait in the outbox: set WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID to send them"
        /// The WhatsApp Business Account whose approved templates are cached for agents.
        public var wabaID: String?
        public var retryPolicy = OutboxSender.RetryPolicy()
        /// Downloads of the customers' media, run with the sender (they need its token).
        public var media: MediaDownloader.Configuration?
        /// Transcripts of the customers' voice notes (`transcribe_command`), made by the
        /// process that holds the listener lease.
        public var transcription: Transcriber.Configuration?
        /// Services that run and stop with these (the demo's fake customers).
        public var companions: [any Service] = []
        /// Told the listener's port once it listens (also for port 0).
        public var onListening: (@Sendable (Int) -> Void)?
        /// Shown on the status bar.
        public var isDemo = false
        /// A problem to show from the start (the listener is off, and why).
        public var initialProblem: String?
        /// The holder of this process (tests name their own process).
        public var holder = LeaseHolder()
        /// The journal's applier, run by the lease holder (with its listener when it has one).
        public var applier = JournalApplierService.Configuration()
        /// The Prometheus metrics (`Telemetry.bootstrap()`): `GET /metrics` on the listener.
        public var telemetry: Telemetry?
        /// Serve the metrics on this address alone instead (`--metrics-listen`).
        public var metricsAddress: (host: String, port: Int)?

        public init(role: ListenerLease.Role) {
            self.role = role
        }
    }

    /// A `wabox serve` is already running for the database.
    public struct ListenerHeld: Error, CustomStringConvertible {
        public let holder: ListenerLease
        public var description: String {
            "\(holder.holderDescription) already runs the listener\(holder.address.map { " on \($0)" } ?? "") and the outbox sender"
        }
    }

    /// The services to run, in the order a `ServiceGroup` should start them (it stops
    /// them in reverse: the sender finishes its request first, the listener drains its
    /// commits, and the lease is released last).
    public let services: [any Service]
    /// What the status bar shows; kept current by the services.
    public let status: ListenerState
    /// The live process that runs the listener and the sender, when it is not this one.
    public let attachedTo: ListenerLease?

    /// Takes the listener lease (or finds its holder) and builds the services.
    ///
    /// - Throws: `ListenerHeld` for `.serve` beside a live holder; the store's error when
    ///   `.serve` cannot read the lease. A screen shows such problems instead.
    public static func assemble(_ configuration: Configuration, database: InboxDatabase,
                                logger: Logger) async throws -> ServiceAssembly {
        let status = ListenerState()
        let holder = configuration.holder
        status.update {
            $0.isDemo = configuration.isDemo
            $0.problem = configuration.initialProblem
            $0.sending = configuration.client == nil ? .off(configuration.sendingOffReason) : .on
        }
        var services: [any Service] = []
        var elsewhere: ListenerLease?
        var holdsLease = false
        if configuration.listener == nil, configuration.client == nil {
            // Nothing to run here; still show a running daemon's state if there is one.
            if let lease = try? database.currentLease(), holder.isAlive(lease) { elsewhere = lease }
        } else {
            let address = configuration.listener.map { "\(urlHost($0.host)):\($0.port)" }
            let lease = holder.lease(role: configuration.role, agent: configuration.agent, address: address,
                                     sending: configuration.client != nil)
            do {
                switch try await database.acquireLease(lease, isAlive: holder.isAlive) {
                case .acquired:
                    holdsLease = true
                    services.append(LeaseKeeper(database: database, holder: holder, logger: logger))
                    if configuration.listener == nil {
                        // No listener here, yet the journal may hold bodies a crash left.
                        services.append(JournalApplierService(database: database, configuration: configuration.applier,
                                                              logger: Logger(label: "wabox.applier")))
                    }
                case .heldBy(let other):
                    if configuration.role == .serve { throw ListenerHeld(holder: other) }
                    elsewhere = other
                    logger.info("attached to \(other.holderDescription): not listening or sending here")
                }
            } catch let error where configuration.role != .serve {
                status.update { $0.problem = "could not check for a running wabox serve: \(error)" }
                logger.error("listener lease: \(error)")
            }
        }
        if let elsewhere { status.update { $0.attach(to: elsewhere) } }
        let attached = elsewhere != nil
        services += configuration.companions
        if let configured = configuration.listener, !attached {
            let onListening = configuration.onListening
            var withMetrics = configured
            if let telemetry = configuration.telemetry {
                let endpoint = telemetry.endpoint(database: database)
                if let metrics = configuration.metricsAddress {
                    services.append(makeMetricsApplication(
                        host: metrics.host, port: metrics.port, endpoint: endpoint, logger: logger,
                        onServerRunning: { port in logger.info("metrics on http://\(urlHost(metrics.host)):\(port)/metrics") }))
                } else {
                    withMetrics.metrics = endpoint
                }
            }
            let listener = withMetrics
            status.update {
                $0.address = "\(urlHost(listener.host)):\(listener.port)"
                $0.isInsecure = listener.insecureSkipSignature
            }
            services.append(makeWebhookApplication(
                configuration: listener, database: database, logger: logger, applier: configuration.applier,
                onServerRunning: { port in
                    let address = "\(urlHost(listener.host)):\(port)"
                    status.update {
                        $0.isUp = true
                        $0.address = address
                    }
                    try? await database.updateLeaseAddress(address, pid: holder.pid, host: holder.host)
                    onListening?(port)
                }))
        }
        if let client = configuration.client, !attached {
            services.append(OutboxSender(database: database, client: client, policy: configuration.retryPolicy,
                                         logger: Logger(label: "wabox.outbox")))
            if let media = configuration.media {
                services.append(MediaDownloader(database: database, client: client, configuration: media,
                                                logger: Logger(label: "wabox.media")))
            }
            if let wabaID = configuration.wabaID {
                // Agents' screens without a token offer the templates cached here.
                services.append(TemplateCacheRefresher(database: database, client: client, account: wabaID,
                                                       logger: Logger(label: "wabox.templates")))
            }
        }
        if let transcription = configuration.transcription, holdsLease {
            // Takes up the voice notes the downloads keep; needs no token of its own.
            services.append(Transcriber(database: database, configuration: transcription,
                                        logger: Logger(label: "wabox.transcribe")))
        }
        if configuration.role == .inbox {
            // The screen's agent is the account the database acts as (the OS user).
            services.append(StatusPoller(database: database, status: status, holder: attached ? holder : nil,
                                         agent: database.identity.account))
        }
        return ServiceAssembly(services: services, status: status, attachedTo: elsewhere)
    }

    /// Runs the services until SIGTERM or SIGINT arrives (or they end), then stops them
    /// gracefully, finishing the commits and the request in flight: `wabox serve`'s
    /// foreground.
    public func runUntilTerminated(logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }

    /// Starts the services on a background task, for a screen that keeps the main
    /// thread; a failure (the port is taken) shows on the status bar.
    public func startInBackground(logger: Logger) -> BackgroundServices {
        let status = self.status
        let background = BackgroundServices(services: services, logger: logger) { error in
            status.update {
                $0.isUp = false
                $0.problem = "listener not running: \(error) (is another program using the port?)"
            }
        }
        background.start()
        return background
    }
}

extension ServiceAssembly.Configuration {
    /// Sends the outbox (and downloads media, caches templates) through the Cloud API when
    /// `accessToken` is set, logging which; `wabox serve`'s sender.
    public mutating func enableSending(accessToken: String?, graphURL: String, graphVersion: String, wabaID: String?,
                                       media: MediaDownloader.Configuration, logger: Logger) {
        guard let accessToken else {
            logger.notice("outbox sender off: set WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID to send replies")
            return
        }
        client = GraphCloudClient(configuration: .init(graphURL: graphURL, graphVersion: graphVersion, accessToken: accessToken),
                                  logger: Logger(label: "wabox.cloud-api"))
        self.wabaID = wabaID
        self.media = media
        logger.info("outbox sender on, sending through \(graphURL)/\(graphVersion)")
        if wabaID == nil {
            logger.notice("set WABOX_WABA_ID so that agents' screens can offer the approved templates")
        }
    }
}

/// A host as it stands in a URL: IPv6 addresses in brackets.
public func urlHost(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
