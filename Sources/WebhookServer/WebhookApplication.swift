import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import InboxCore
import InboxStore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Everything the listener needs to know.
public struct WebhookConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The token Meta echoes in the verification GET.
    public var verifyToken: String
    /// The app secret that keys `X-Hub-Signature-256`.
    public var appSecret: String
    /// Bodies above this are refused with 413. Meta's cap is 3 MB.
    public var bodyLimit: Int
    /// Webhooks waiting for a commit before the listener answers 503.
    public var queueCapacity: Int
    /// The app secret being rotated out: bodies signed with it are still accepted.
    public var previousAppSecret: String?
    /// Accept webhooks whatever their signature: for local experiments only.
    public var insecureSkipSignature = false
    /// How many requests with a missing or bad signature an address may send (429 beyond).
    var unauthenticatedLimit = TokenBuckets.Configuration()
    /// Longest time from a request's first byte to its last (slow clients are cut off).
    public var requestTimeout: Duration = .seconds(15)
    /// Longest time a connection may stay open without a request.
    public var idleTimeout: Duration = .seconds(60)
    /// Largest request head (request line and headers) accepted; beyond, 400 and close.
    public var headerLimit = 16 * 1024
    /// Most header fields in a request.
    public var headerCountLimit = 100
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    public var tls: ListenerTLS?
    /// Answer `GET /metrics` on this listener with what this renders (nil: 404, as when
    /// the metrics have a port of their own, `makeMetricsApplication`).
    public var metrics: MetricsEndpoint?

    public init(host: String = "127.0.0.1", port: Int = 8080, verifyToken: String, appSecret: String,
                bodyLimit: Int = 4 * 1024 * 1024, queueCapacity: Int = 8192) {
        self.host = host
        self.port = port
        self.verifyToken = verifyToken
        self.appSecret = appSecret
        self.bodyLimit = bodyLimit
        self.queueCapacity = queueCapacity
    }

    /// Limits failed-signature requests per client address: `burst` at once, then
    /// `perSecond`; `addresses` bounds the memory the table takes.
    public mutating func limitUnauthenticated(burst: Double, perSecond: Double, addresses: Int = 10_000) {
        unauthenticatedLimit = .init(burst: burst, perSecond: perSecond, capacity: addresses)
    }
}

/// TLS termination for deployments without a reverse proxy: PEM files, TLS 1.2 or newer.
public struct ListenerTLS: Sendable {
    public var certificatePath: String
    public var privateKeyPath: String

    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the files and checks that they make a usable server context; errors name the
    /// file and what to do.
    public func load() throws(Failure) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw Failure(description: "cannot read the TLS certificate \(certificatePath): \(error); give --tls-cert a PEM file (the certificate, then any intermediates)")
        }
        guard !chain.isEmpty else {
            throw Failure(description: "the TLS certificate file \(certificatePath) holds no PEM certificate; give --tls-cert a PEM file")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw Failure(description: "cannot read the TLS private key \(privateKeyPath): \(error); give --tls-key an unencrypted PEM private key")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(description: "the TLS certificate \(certificatePath) and key \(privateKeyPath) do not work together: \(error); check that the key belongs to the certificate")
        }
        return configuration
    }
}

/// Builds the listener: used by `wabox serve`, the embedded listener and the tests alike.
///
/// - Parameters:
///   - now: the clock, in Unix seconds (tests pass a fixed one): the listener's, and the
///     applier's for retention unless its configuration has its own.
///   - applier: the journal's applier, which runs with the listener and gives way to its
///     commits; nil leaves the journal to an applier elsewhere (tests that apply it themselves).
///   - onServerRunning: called with the bound port once the socket listens.
public func makeWebhookApplication(
    configuration: WebhookConfiguration,
    database: InboxDatabase,
    logger: Logger,
    now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
    applier: JournalApplierService.Configuration? = .init(),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let pipeline = IngestPipeline(store: .sqlite(database), capacity: configuration.queueCapacity, logger: logger)
    let applierService = applier.map {
        var configuration = $0
        // Retention reads the clock that dated the bodies: with a test's fixed clock, bodies
        // of "today" were pruned as a year old once the applier's first minute had passed.
        configuration.now = configuration.now ?? now
        return JournalApplierService(database: database, configuration: configuration, pressure: { pipeline.isBusy },
                                     logger: logger)
    }
    let routes = WebhookRoutes(configuration: configuration, pipeline: pipeline, store: .sqlite(database),
                               applier: applierService, logger: logger)
    return makeListener(configuration: configuration, pipeline: pipeline, applier: applierService, routes: routes,
                        logger: logger, now: now, onServerRunning: onServerRunning)
}

/// Builds a listener on a store that several listeners share (PostgreSQL): it journals and
/// acknowledges on its own, and its applier applies the journal while this process holds
/// the applier lease (`LeasedApplierService`).
///
/// - Parameters:
///   - applier: the applier's settings, with the claimant this process asks for the lease
///     as; nil, or a store that cannot apply (`ApplyingStore`), leaves the journal to an
///     applier elsewhere: the bodies wait in it.
///   - onApplier: told the applier service that runs, if any (`/healthz` says whether it
///     holds the lease).
public func makeWebhookApplication(
    configuration: WebhookConfiguration,
    sharedStore store: any JournalStore,
    logger: Logger,
    now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
    applier: (claimant: LeaseClaimant, configuration: LeasedApplierService.Configuration)?,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let pipeline = IngestPipeline(store: .shared(store), capacity: configuration.queueCapacity, logger: logger)
    var applierService: LeasedApplierService?
    if let applier, let applying = store as? any ApplyingStore {
        applierService = LeasedApplierService(store: applying, claimant: applier.claimant,
                                              configuration: applier.configuration,
                                              pressure: { pipeline.isBusy }, logger: logger)
    }
    var routes = WebhookRoutes(configuration: configuration, pipeline: pipeline, store: .shared(store),
                               applier: nil, logger: logger)
    routes.sharedApplier = applierService
    return makeListener(configuration: configuration, pipeline: pipeline, applier: applierService, routes: routes,
                        logger: logger, now: now, onServerRunning: onServerRunning)
}

/// The HTTP side, whatever the store: the channel handler that serves `POST /webhook`,
/// the router, and the services (the applier, when there is one, then the pipeline).
private func makeListener(
    configuration: WebhookConfiguration, pipeline: IngestPipeline, applier: (any Service)?, routes: WebhookRoutes,
    logger: Logger, now: @escaping @Sendable () -> Int64, onServerRunning: @escaping @Sendable (Int) async -> Void
) -> some ApplicationProtocol {
    // The applier is listed before the pipeline: services stop in reverse order, so the
    // applier goes on until the last journal commit is answered, then applies what it can
    // of the rest.
    var services: [any Service] = []
    if let applier { services.append(applier) }
    services.append(pipeline)
    let intake = WebhookIntake(configuration: configuration, logger: logger, now: now)
    let router = Router()
    routes.register(on: router)
    if configuration.insecureSkipSignature {
        logger.critical("""
            INSECURE: --insecure-skip-signature is on: webhooks are accepted WITHOUT checking X-Hub-Signature-256, \
            so anyone who can reach the listener can write into the inbox. Use it only for local experiments.
            """)
    }
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: [WebhookChannelHandler(intake: intake, committer: pipeline)],
        httpDecoderConfiguration: .init(maxHeaderFieldSize: configuration.headerLimit,
                                        maxHeaderListSize: configuration.headerLimit,
                                        maxHeaderFieldCount: configuration.headerCountLimit))
    let timeouts = ConnectionGuard.Timeouts(requestTimeout: TimeAmount(configuration.requestTimeout),
                                            idleTimeout: TimeAmount(configuration.idleTimeout))
    let tls = configuration.tls
    let server = HTTPServerBuilder { responder -> any ServerChildChannel in
        let plain = HTTP1Channel(responder: responder, configuration: http1)
        guard let tls else { return GuardedChannel(base: plain, timeouts: timeouts) }
        return GuardedChannel(base: try TLSChannel(plain, tlsConfiguration: try tls.load()), timeouts: timeouts)
    }
    return Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                             serverName: nil, reuseAddress: true),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

/// The routes the router serves. `POST /webhook` is not one of them: `WebhookChannelHandler`
/// serves it on the event loop before a request reaches the router, in production and in
/// the tests alike (`app.test(.live)`, `EmbeddedListenerTests`), so there is one path to test.
struct WebhookRoutes: Sendable {
    let configuration: WebhookConfiguration
    let pipeline: IngestPipeline
    let store: ListenerStore
    /// The applier running with this listener, whose start-up backlog `/readyz` waits for.
    var applier: JournalApplierService?
    let logger: Logger
    /// On a shared store, this listener's applier (which applies while it holds the lease).
    var sharedApplier: LeasedApplierService?
    /// On a shared store, the longest `/healthz` and `/readyz` wait for the database.
    var sharedStoreDeadline: Duration = .seconds(2)

    func register(on router: Router<BasicRequestContext>) {
        router.get("/webhook") { request, _ in verify(request) }
        router.get("/healthz") { _, _ in await health() }
        router.get("/readyz") { _, _ in await ready() }
        if let metrics = configuration.metrics {
            router.get("/metrics") { _, _ in await metrics.response() }
        }
    }

    // MARK: - Verification

    /// Meta's subscription handshake: echo `hub.challenge` when the token matches.
    func verify(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        guard query["hub.mode"].map(String.init) == "subscribe", let challenge = query["hub.challenge"] else {
            return .text(.badRequest, "expected hub.mode=subscribe, hub.verify_token and hub.challenge (Meta's verification request)\n")
        }
        let token = query["hub.verify_token"].map(String.init) ?? ""
        guard constantTimeEqual(token, configuration.verifyToken) else {
            logger.warning("verification GET with a wrong verify token")
            return .text(.forbidden, "verify token does not match WABOX_VERIFY_TOKEN\n")
        }
        logger.info("webhook verified by a subscription request")
        return .text(.ok, String(challenge))
    }

    // MARK: - Health

    /// `queue`: bodies waiting for a journal commit; `applier_lag`: bodies journaled (so
    /// acknowledged) but not yet applied to the inbox. On a shared store `applier` says
    /// whether this listener applies (`this listener`), another does (`another listener`),
    /// or none can yet (`none`: the store has no applier, the journal waits).
    func health() async -> Response {
        let queue = pipeline.depth
        do {
            let figures: String
            switch store {
            case .sqlite(let database):
                _ = try database.unreadTotal()
                let lag = try database.journalProgress().lag
                figures = #""applier_lag":\#(lag)"#
            case .shared(let journal):
                let role = sharedApplier.map { $0.isApplying ? "this listener" : "another listener" } ?? "none"
                if let applying = journal as? any ApplyingStore {
                    let lag = try await withDeadline(sharedStoreDeadline, "the health check") {
                        try await applying.journalProgressNow().lag
                    }
                    figures = #""applier_lag":\#(lag),"applier":"\#(role)""#
                } else {
                    _ = try await withDeadline(sharedStoreDeadline, "the health check") {
                        try await journal.journalAppliedThrough()
                    }
                    figures = #""applier":"\#(role)""#
                }
            }
            return .text(.ok, #"{"status":"ok","database":"ok","queue":\#(queue),\#(figures)}"# + "\n",
                         contentType: "application/json")
        } catch {
            return .text(.serviceUnavailable, #"{"status":"error","database":"unreadable","queue":\#(queue)}"# + "\n",
                         contentType: "application/json")
        }
    }

    // MARK: - Readiness

    /// 503 while the applier works through the bodies journaled before it started, or
    /// while the database cannot be read; 200 otherwise. A load balancer sends webhooks
    /// to a ready listener. The body is one line saying why.
    ///
    /// On a shared store a listener is ready once the database answers: whichever
    /// listener applies, each journals and acknowledges, and the load balancer should
    /// spread webhooks over all of them.
    func ready() async -> Response {
        let progress: JournalProgress
        do {
            switch store {
            case .sqlite(let database):
                progress = try database.journalProgress()
            case .shared(let journal):
                _ = try await withDeadline(sharedStoreDeadline, "the readiness check") {
                    try await journal.journalAppliedThrough()
                }
                return .text(.ok, "ready\n")
            }
        } catch {
            let reason = "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
            return .text(.serviceUnavailable, "not ready: the database cannot be read: \(reason)\n")
        }
        // Before the applier's first look, nothing waiting means nothing to wait for.
        if let applier, !applier.hasAppliedStartupBacklog, applier.startupBacklogEnd != nil || progress.lag > 0 {
            let left = applier.startupBacklogEnd.map { max(0, $0 - progress.applied) } ?? progress.lag
            return .text(.serviceUnavailable, "not ready: applying the start-up backlog, \(left) journaled webhooks left\n")
        }
        return .text(.ok, "ready\n")
    }
}

// MARK: - Metrics

/// What `GET /metrics` answers: the program's metrics in the Prometheus text format,
/// rendered by the module that bootstrapped the metrics backend.
public struct MetricsEndpoint: Sendable {
    public var render: @Sendable () async -> String

    public init(render: @escaping @Sendable () async -> String) {
        self.render = render
    }

    func response() async -> Response {
        .text(.ok, await render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
}

/// A listener of its own for `GET /metrics` (`--metrics-listen`), so that the metrics
/// need not be reachable where Meta posts webhooks. Everything else is 404.
public func makeMetricsApplication(
    host: String, port: Int, endpoint: MetricsEndpoint, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router()
    router.get("/metrics") { _, _ in await endpoint.response() }
    return Application(
        router: router,
        configuration: .init(address: .hostname(host, port: port), serverName: nil, reuseAddress: true),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: logger
    )
}

/// Compares two secrets without leaking where they differ through timing.
func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    // Hash both to equal-length digests first so that the length is not leaked either.
    let left = Array(SHA256.hash(data: Array(lhs.utf8)))
    let right = Array(SHA256.hash(data: Array(rhs.utf8)))
    var difference: UInt8 = 0
    for index in 0..<left.count { difference |= left[index] ^ right[index] }
    return difference == 0
}

extension Response {
    static func text(_ status: HTTPResponse.Status, _ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(status: status, headers: [.contentType: contentType, .contentLength: String(buffer.readableBytes)],
                        body: .init(byteBuffer: buffer))
    }
}
