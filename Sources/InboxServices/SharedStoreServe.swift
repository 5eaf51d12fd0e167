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
/// Only the webhook path runs on PostgreSQL so far: the outbox sender, media downloads,
/// the template cache, transcripts and pruning need the SQLite store, and are not started.
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
        /// What would run beside the listener on SQLite and does not here, for the log line.
        public var notStarted: [String] = []

        public init(location: PostgresLocation, listener: WebhookConfiguration) {
            self.location = location
            self.listener = listener
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
                on PostgreSQL wabox serve runs the webhook listener and the journal's applier only; not started: \
                \(configuration.notStarted.joined(separator: ", ")) (they need a SQLite --db for now)
                """)
        }
        let onListening = configuration.onListening
        services.append(makeWebhookApplication(
            configuration: listener, sharedStore: store, logger: logger,
            applier: (configuration.claimant, configuration.applier),
            onServerRunning: { port in onListening?(port) }))
        return services
    }
}
