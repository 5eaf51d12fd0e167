import CloudAPI
import Foundation
import InboxCore
import InboxStore
import Logging
import PostgresStore
import ServiceLifecycle
import WebhookServer

/// `wabox serve` on PostgreSQL (issue 19): any number of them share one database. Each
/// listens, journals and acknowledges on its own (a body Meta delivers to two is journaled
/// once, by its digest); the one that holds the applier lease applies the journal, and
/// another takes over within seconds when it dies.
///
/// With a Cloud API client every listener also sends: the outbox is one for all of them,
/// and a claim skips what another sender holds, so each reply goes out once.
///
/// With `WABOX_WABA_ID` too, one of them at a time refreshes the template cache; and
/// one at a time downloads the customers' media, keeping the bytes in the database for the
/// screens of every host (and a copy in its own media folder).
///
/// The applier's holder also prunes the journal and the audit trail past their retention;
/// with `transcribe_command`, one listener at a time transcribes the voice notes.
public enum SharedStoreServe {
    public struct Configuration: Sendable {
        public var location: PostgresLocation
        public var listener: WebhookConfiguration
        /// Who asks for the applier lease: this process.
        public var claimant = LeaseClaimant(pid: getpid(), host: LeaseHolder.hostName(), role: "serve")
        public var applier = LeasedApplierService.Configuration()
        /// How long the first connection may take before the start fails.
        public var connectTimeout: Duration = .seconds(10)
        /// The pool's largest number of connections.
        public var maximumConnections = 10
        /// The Prometheus metrics: `GET /metrics` on the listener, or on `metricsAddress` alone.
        public var telemetry: Telemetry?
        public var metricsAddress: (host: String, port: Int)?
        /// Told the listener's port once it listens (also for port 0).
        public var onListening: (@Sendable (Int) -> Void)?
        /// Sends the outbox when set (`WABOX_ACCESS_TOKEN` and `WABOX_PHONE_NUMBER_ID`).
        public var client: (any CloudMessaging)?
        public var retryPolicy = OutboxSender.RetryPolicy()
        /// With `client`: the account whose approved templates one listener caches for
        /// every screen (`WABOX_WABA_ID`), and how often.
        public var wabaID: String?
        public var templateRefresh: Duration = .seconds(600)
        /// With `client`: the media downloads (into `media.directory`, this host's copy).
        public var media: MediaDownloader.Configuration?
        /// This host's media folder (`media_dir`): files made on another host are copied
        /// into it from the database when this one needs them.
        public var mediaDirectory: String
        /// Voice-note transcripts (`transcribe_command`), one listener at a time.
        public var transcription: Transcriber.Configuration?
        /// The leases of the media downloader and the transcriber.
        public var jobLease = LeaseCampaign.Configuration()
        /// What would run beside the listener on SQLite and does not here, for the log line.
        public var notStarted: [String] = []

        public init(location: PostgresLocation, listener: WebhookConfiguration, mediaDirectory: String) {
            self.location = location
            self.listener = listener
            self.mediaDirectory = mediaDirectory
        }
    }

    /// A start that cannot go on, in words that say what to do.
    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Checks the database (one connection, `connectTimeout`), migrates its schema, then
    /// runs the listener and the applier until SIGTERM or SIGINT, and stops them gracefully;
    /// the pool closes last.
    public static func run(_ configuration: Configuration, logger: Logger) async throws {
        let location = configuration.location
        let storeLogger = Logger(label: "wabox.postgres")
        do {
            try await PostgresStore.probe(location, timeout: configuration.connectTimeout, logger: storeLogger)
        } catch {
            throw StartFailure(description: error.description)
        }
        let store = PostgresStore(location, logger: storeLogger, maximumConnections: configuration.maximumConnections)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.client.run() }
            defer { group.cancelAll() }
            try await migrate(store, timeout: configuration.connectTimeout)
            let services = makeServices(configuration, store: store, logger: logger)
            let serviceGroup = ServiceGroup(configuration: .init(services: services,
                                                                 gracefulShutdownSignals: [.sigterm, .sigint],
                                                                 logger: logger))
            try await serviceGroup.run()
        }
    }

    private static func migrate(_ store: PostgresStore, timeout: Duration) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await store.migrate()
                return true
            }
            group.addTask {
                try await Task.sleep(for: timeout * 3)
                return false
            }
            defer { group.cancelAll() }
            if try await group.next() != true {
                throw StartFailure(description: """
                    migrating the schema of \(store.location.redacted) took more than \(timeout * 3): another \
                    process may hold a lock on it; start again once it is done
                    """)
            }
        }
    }

    /// The listener (its applier inside), the metrics listener if asked for, and the log
    /// lines that say what does not run.
    private static func makeServices(_ configuration: Configuration, store: PostgresStore,
                                     logger: Logger) -> [any Service] {
        var services: [any Service] = []
        var listener = configuration.listener
        if let telemetry = configuration.telemetry {
            let endpoint = telemetry.endpoint(sharedStore: store)
            if let metrics = configuration.metricsAddress {
                services.append(makeMetricsApplication(
                    host: metrics.host, port: metrics.port, endpoint: endpoint, logger: logger,
                    onServerRunning: { port in logger.info("metrics on http://\(urlHost(metrics.host)):\(port)/metrics") }))
            } else {
                listener.metrics = endpoint
            }
        }
        let journal: any JournalStore = store
        if !(journal is any ApplyingStore) {
            logger.warning("""
                the PostgreSQL store of this version cannot apply the journal yet: webhooks are journaled and \
                acknowledged, and wait in the journal until a wabox serve that applies on PostgreSQL runs
                """)
        }
        if !configuration.notStarted.isEmpty {
            logger.notice("""
                on PostgreSQL wabox serve runs the webhook listener, the journal's applier, the outbox sender and the media downloads; not started: \
                \(configuration.notStarted.joined(separator: ", ")) (they need a SQLite --db for now)
                """)
        }
        if let client = configuration.client {
            let outbox = PostgresOutbox(store: store, claimant: configuration.claimant,
                                        mediaDirectory: configuration.mediaDirectory)
            services.append(SharedOutboxSender(outbox: outbox, sender: OutboxSender(
                database: outbox, client: client, policy: configuration.retryPolicy, logger: Logger(label: "wabox.outbox"))))
            if let media = configuration.media {
                let logger = Logger(label: "wabox.media")
                let downloader = MediaDownloader(database: store, client: client, configuration: media, logger: logger)
                services.append(LeasedJob(
                    PostgresStore.mediaDownloaderLease, store: store, claimant: configuration.claimant,
                    lease: configuration.jobLease,
                    words: LeaseCampaign.Words(lease: "the media downloader's lease", job: "downloads the customers' files"),
                    logger: logger, job: { try await downloader.downloadUntilCancelled() }))
            }
            if let wabaID = configuration.wabaID {
                let templateLogger = Logger(label: "wabox.templates")
                services.append(SharedTemplateRefresher(
                    store: store, claimant: configuration.claimant, period: configuration.templateRefresh,
                    refresher: TemplateCacheRefresher(database: store, client: client, account: wabaID,
                                                      interval: configuration.templateRefresh, logger: templateLogger),
                    logger: templateLogger))
            }
        }
        if let transcription = configuration.transcription {
            // Needs no token: the files are the downloads', copied from the database when
            // they were made on another host.
            let logger = Logger(label: "wabox.transcribe")
            let transcriber = Transcriber(
                database: PostgresTranscripts(store: store, mediaDirectory: configuration.mediaDirectory),
                configuration: transcription, logger: logger)
            services.append(LeasedJob(
                PostgresStore.transcriberLease, store: store, claimant: configuration.claimant, lease: configuration.jobLease,
                words: LeaseCampaign.Words(lease: "the transcriber's lease", job: "transcribes the voice notes"),
                logger: logger, job: { try await transcriber.transcribeUntilCancelled() }))
        }
        // The applier (whichever listener holds its lease) wakes at each append, here or elsewhere.
        services.append(JournalFollower(store: store))
        let onListening = configuration.onListening
        services.append(makeWebhookApplication(
            configuration: listener, sharedStore: store, logger: logger,
            applier: (configuration.claimant, configuration.applier),
            onServerRunning: { port in onListening?(port) }))
        return services
    }
}

/// The outbox sender of one listener on PostgreSQL, with its presence lease kept while it
/// runs: the other listeners leave the rows it holds in flight alone while it lives, and
/// make them uncertain once it is gone.
struct SharedOutboxSender: Service {
    let outbox: PostgresOutbox
    let sender: OutboxSender

    func run() async throws {
        // Graceful shutdown ends the sender after the request in flight; the presence goes
        // with it.
        try await outbox.whilePresent { [sender] in try await sender.run() }
    }
}

/// Hears the other listeners' journal appends (`LISTEN wabox_journal`) and rings the
/// store's bell, so that the applier need not poll.
struct JournalFollower: Service {
    let store: PostgresStore

    func run() async throws {
        try? await cancelWhenGracefulShutdown { await store.followJournal() }
    }
}

/// A job one listener at a time does for all of them on PostgreSQL (the media downloads,
/// the transcripts): every listener that can do it campaigns for its lease, and the one
/// that holds it works; when it dies another takes over within seconds, and the queue (in
/// the database) goes on where it stopped.
struct LeasedJob: Service {
    let campaign: LeaseCampaign
    let job: @Sendable () async throws -> Void
    private let stop = StopFlag()

    init(_ name: String, store: PostgresStore, claimant: LeaseClaimant, lease: LeaseCampaign.Configuration,
         words: LeaseCampaign.Words, logger: Logger, job: @escaping @Sendable () async throws -> Void) {
        campaign = LeaseCampaign(
            lease: LeaseCampaign.Lease(
                acquire: { lifetime in try await store.acquireLease(name, for: claimant, lifetime: lifetime) },
                renew: { try await store.renewLease(name, for: claimant) },
                release: { try await store.releaseLease(name, for: claimant) }),
            words: words, configuration: lease, logger: logger)
        self.job = job
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                // Losing the lease cancels the work in flight: an item cut short is not
                // recorded, and the next holder starts it again.
                await campaign.run(stop: stop) { [job] _ in try? await job() }
            } onCancel: {
                stop.set()
            }
        } onGracefulShutdown: {
            stop.set()
        }
    }
}

/// The template cache's refresh on PostgreSQL: each listener asks for the turn now and
/// then, and the one that gets it fetches the templates for all of them; the turn lasts one
/// period, so the account is asked once a period however many listeners run, and when the
/// one that had it dies another takes the next.
struct SharedTemplateRefresher: Service {
    let store: PostgresStore
    let claimant: LeaseClaimant
    let period: Duration
    let refresher: TemplateCacheRefresher
    let logger: Logger
    /// How often a listener asks for the turn.
    var askEvery: Duration = .seconds(30)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if try await store.takeTurn(of: PostgresStore.templateRefreshTurn, claimant, period: period) {
                        await refresher.refresh()
                    }
                } catch {
                    logger.warning("could not ask PostgreSQL for the template refresh's turn: \(error)")
                }
                try await Task.sleep(for: min(askEvery, period))
            }
        }
    }
}
