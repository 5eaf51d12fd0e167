import CloudAPI
import CursesBackend
import Foundation
import Hummingbird
import InboxCore
import InboxStore
import InboxTUI
import Logging
import ServiceLifecycle
import Synchronization
import WebhookServer

/// The screen and what runs beside it: the embedded listener, the outbox sender and a
/// poller that keeps the status bar current. Shared by `wabox` and `wabox demo`.
struct ScreenSession {
    var database: InboxDatabase
    var theme: Theme
    var logger: Logger
    /// The embedded listener, when it should run.
    var listener: WebhookConfiguration?
    /// The Cloud API, when replies should leave; `offReason` says what to set otherwise.
    var client: (any CloudMessaging)?
    var offReason = "replies wait in the outbox: set WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID to send them"
    var wabaID: String?
    var markReadOnOpen = true
    var retryPolicy = OutboxSender.RetryPolicy()
    var isDemo = false
    /// Extra services (the demo's fake Cloud API and customers); they stop with the screen.
    var companions: [any Service] = []
    /// A problem to show from the start (the listener is off, and why).
    var initialProblem: String?
    /// Told the listener's port once it listens.
    var onListening: (@Sendable (Int) -> Void)?
    /// The agent at this screen.
    var agent: String

    /// How long the screen waits for a key before it looks for changes in the database,
    /// when nothing wakes it sooner: inotify on the database's folder wakes it as soon as
    /// any process commits (an idle screen then wakes once a second); without inotify it
    /// polls often enough that another process's commit shows within this. Keys are
    /// handled as they come, whatever this is.
    static let pollMilliseconds = 100
    static let wokenPollMilliseconds = 1000

    /// Runs until the user quits or a signal arrives; then stops the services gracefully.
    ///
    /// When another process (a `wabox serve`, or another agent's `wabox`) holds the
    /// listener lease of the database, this screen attaches to it: it neither listens nor
    /// sends, and shows what that process receives and sends through the shared database.
    func run() {
        let status = ListenerState()
        status.update {
            $0.isDemo = isDemo
            $0.problem = initialProblem
            $0.sending = client == nil ? .off(offReason) : .on
        }
        do {
            try database.registerAgent(agent, at: Int64(Date().timeIntervalSince1970))
        } catch {
            logger.warning("could not record agent \(agent): \(error)")
        }
        let holder = LeaseHolder()
        // The process that runs the listener and the sender when it is not this one.
        var elsewhere: ListenerLease?
        var services: [any Service] = []
        if listener == nil, client == nil {
            // Nothing to run here; still show a running daemon's state if there is one.
            if let lease = try? database.currentLease(), holder.isAlive(lease) { elsewhere = lease }
        } else {
            let address = listener.map { "\(Serve.urlHost($0.host)):\($0.port)" }
            let lease = holder.lease(role: .inbox, agent: agent, address: address, sending: client != nil)
            let database = self.database
            let outcome = runBlocking { try await database.acquireLease(lease, isAlive: holder.isAlive) }
            switch outcome {
            case .success(.acquired):
                services.append(LeaseKeeper(database: database, holder: holder, logger: logger))
            case .success(.heldBy(let other)):
                elsewhere = other
                logger.info("attached to \(other.holderDescription): not listening or sending here")
            case .failure(let error):
                status.update { $0.problem = "could not check for a running wabox serve: \(error)" }
                logger.error("listener lease: \(error)")
            }
        }
        if let elsewhere { status.update { $0.attach(to: elsewhere) } }
        let attached = elsewhere != nil
        services += companions
        if let listener, !attached {
            let onListening = self.onListening
            let database = self.database
            status.update {
                $0.address = "\(Serve.urlHost(listener.host)):\(listener.port)"
                $0.isInsecure = listener.insecureSkipSignature
            }
            services.append(makeWebhookApplication(
                configuration: listener, database: database, logger: logger,
                onServerRunning: { port in
                    let address = "\(Serve.urlHost(listener.host)):\(port)"
                    status.update {
                        $0.isUp = true
                        $0.address = address
                    }
                    try? await database.updateLeaseAddress(address, pid: holder.pid, host: holder.host)
                    onListening?(port)
                }))
        }
        if let client, !attached {
            services.append(OutboxSender(database: database, client: client, policy: retryPolicy,
                                         logger: Logger(label: "wabox.outbox")))
            if let wabaID {
                services.append(TemplateCacheRefresher(database: database, client: client, account: wabaID,
                                                       logger: Logger(label: "wabox.templates")))
            }
        }
        services.append(StatusPoller(database: database, status: status, holder: attached ? holder : nil))
        let background = BackgroundServices(services: services, logger: logger) { error in
            status.update {
                $0.isUp = false
                $0.problem = "listener not running: \(error) (is another program using the port?)"
            }
        }
        background.start()

        let terminal = CursesTerminal(useColors: theme.name != "mono")
        let wait = terminal.wakeOnChanges(toDatabaseAt: database.path) ? Self.wokenPollMilliseconds : Self.pollMilliseconds
        let inbox = InboxApp(
            database: database, backend: terminal, theme: theme,
            configuration: .init(asciiOnly: !terminal.isUTF8, pollMilliseconds: wait, agent: agent),
            listenerStatus: { status.current },
            // Attached or not, a token of this screen's own lists templates and sends read
            // receipts (direct calls); replies always go through the outbox.
            cloud: cloudServices(attachedToSender: elsewhere?.sending == true))
        while !inbox.state.quit {
            if terminal.pendingSignal() != 0 { break }
            inbox.step(waitMilliseconds: wait)
        }
        terminal.close()
        let database = self.database, agent = self.agent
        _ = runBlocking { try await database.stopTyping(by: agent) }
        background.stop(timeout: 5)
    }

    /// Templates and read receipts: straight from the Cloud API with a token of this
    /// screen's own; without one, through the database from and to the sender of the
    /// process this screen is attached to (`attachedToSender`).
    private func cloudServices(attachedToSender: Bool) -> InboxApp.CloudServices? {
        var markRead: (@Sendable (MessageID, PhoneNumberID) async throws -> Void)?
        var templates: (@Sendable () async throws -> [TemplateChoice])?
        if let client {
            let wabaID = self.wabaID
            templates = {
                guard let wabaID else {
                    throw Failure("set WABOX_WABA_ID (or waba_id in config.toml) to the WhatsApp Business Account id that owns the templates")
                }
                let approved: [MessageTemplate]
                do {
                    approved = try await client.approvedTemplates(of: wabaID)
                } catch {
                    throw error
                }
                return approved.filter { $0.status.uppercased() == "APPROVED" }.map(Self.choice(from:))
            }
            markRead = { wamid, business in
                do {
                    try await client.markRead(wamid, from: business, typing: false)
                } catch {
                    throw error
                }
            }
        } else if attachedToSender {
            let database = self.database
            markRead = { wamid, business in
                try await database.queueReadReceipt(for: wamid, from: business, at: Int64(Date().timeIntervalSince1970 * 1000))
            }
            templates = {
                guard let cached = try TemplateCacheRefresher.cached(in: database) else {
                    throw Failure("""
                        templates come from wabox serve, which has not fetched any: set WABOX_WABA_ID (waba_id) \
                        for it and restart it; it fetches them every 10 minutes
                        """)
                }
                return cached.templates.map(Self.choice(from:))
            }
        }
        if !markReadOnOpen { markRead = nil }
        guard templates != nil || markRead != nil else { return nil }
        return InboxApp.CloudServices(templates: templates, markRead: markRead)
    }

    static func choice(from template: MessageTemplate) -> TemplateChoice {
        TemplateChoice(name: template.name, language: template.language,
                       body: template.components?.first { $0.type.uppercased() == "BODY" }?.text,
                       parameterCount: template.bodyParameterCount)
    }
}

/// Runs services in a `ServiceGroup` on a background task, and stops them gracefully
/// from the main thread.
final class BackgroundServices: Sendable {
    private let group: ServiceGroup
    private let finished = DispatchSemaphore(value: 0)
    private let onFailure: @Sendable (any Error) -> Void
    private let logger: Logger

    init(services: [any Service], logger: Logger, onFailure: @escaping @Sendable (any Error) -> Void) {
        group = ServiceGroup(configuration: .init(services: services, logger: logger))
        self.logger = logger
        self.onFailure = onFailure
    }

    func start() {
        Task { [group, finished, onFailure, logger] in
            do {
                try await group.run()
            } catch {
                logger.error("background services stopped: \(error)")
                onFailure(error)
            }
            finished.signal()
        }
    }

    /// Asks every service to finish (commits in flight, the request being sent) and waits
    /// up to `timeout` seconds.
    func stop(timeout: Double) {
        let group = self.group
        Task { await group.triggerGracefulShutdown() }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            logger.warning("background services did not stop within \(timeout) s")
        }
    }
}

/// Keeps the status bar's figures current: last webhook, outbox size, sending halt, and
/// for an attached screen whether the process holding the listener still runs.
struct StatusPoller: Service {
    let database: InboxDatabase
    let status: ListenerState
    /// Set when attached: this process's identity, to judge the holder's liveness.
    let holder: LeaseHolder?

    func run() async throws {
        // Returns normally on shutdown: a service that throws would make the group cancel
        // the others instead of letting them finish their work.
        try? await cancelWhenGracefulShutdown {
            var seenVersion: Int?
            var lastFullPoll = ContinuousClock.now
            while !Task.isCancelled {
                // Nothing changed in the database: only the holder's liveness can have, and
                // that is worth a look every few seconds, not every second.
                let version = database.changeCount
                if version == seenVersion, ContinuousClock.now - lastFullPoll < .seconds(5) {
                    try await Task.sleep(for: .seconds(1))
                    continue
                }
                seenVersion = version
                lastFullPoll = .now
                let last = try? database.lastWebhookAt()
                let waiting = (try? await database.outboxWaitingCount()) ?? 0
                let halt = try? await database.sendingHalt()
                let lease = holder == nil ? nil : try? database.currentLease()
                status.update {
                    $0.lastWebhookAt = last
                    $0.waitingToSend = waiting
                    if let holder {
                        if let lease, holder.isAlive(lease) {
                            $0.attach(to: lease)
                        } else {
                            $0.isUp = false
                            $0.problem = """
                                the listener is gone (\($0.attachedTo ?? "wabox serve") stopped): webhooks are not \
                                received. Start wabox serve again, or restart wabox to listen here
                                """
                        }
                    }
                    if let halt {
                        $0.sending = .halted("\(halt.description): fix it, then restart wabox")
                    } else if case .halted = $0.sending {
                        $0.sending = .on
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}

extension ListenerStatus {
    /// Shows the live process that holds the listener lease.
    mutating func attach(to lease: ListenerLease) {
        attachedTo = lease.shortDescription
        address = lease.address
        isUp = true
        problem = nil
        sending = lease.sending ? .on : .off("""
            replies wait in the outbox: \(lease.holderDescription) has no access token; set WABOX_ACCESS_TOKEN \
            and WABOX_PHONE_NUMBER_ID for it
            """)
    }
}

/// Runs async work from the main thread and waits for it (only the main thread blocks).
func runBlocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            let value = try await work()
            result.withLock { $0 = .success(value) }
        } catch {
            result.withLock { $0 = .failure(error) }
        }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}

/// The listener's state, shared between the services and the screen.
final class ListenerState: Sendable {
    private let state = Mutex(ListenerStatus())

    var current: ListenerStatus { state.withLock { $0 } }

    func update(_ change: (inout ListenerStatus) -> Void) {
        state.withLock { change(&$0) }
    }
}
