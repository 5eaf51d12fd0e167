import Foundation
import InboxStore
import Logging
import ServiceLifecycle
import Synchronization

/// The applier of a store that several listeners share (PostgreSQL): every listener runs
/// one, and the one whose process holds the applier lease applies the journal; the others
/// ask for the lease again every `retryEvery`. The holder renews the lease every
/// `heartbeat`; when a renewal finds the lease taken, or no renewal succeeded for a whole
/// `lifetime` (the database unreachable), it stops applying and asks again like the
/// others. When the holder dies its lease lapses `lifetime` after its last renewal, and
/// another listener takes over within `retryEvery` of that. On stop the holder gives the
/// lease up at once.
///
/// Each batch is one transaction that moves the applied mark (`ApplyingStore`), so a
/// holder that loses the lease in the middle of one leaves the batch either applied or
/// waiting for the next holder.
public final class LeasedApplierService: Service, Sendable {
    public struct Configuration: Sendable {
        /// A holder that stops renewing loses the lease this long after its last renewal.
        public var lifetime: Duration = .seconds(5)
        /// How often the holder renews the lease.
        public var heartbeat: Duration = .seconds(1)
        /// How often a listener that does not hold the lease asks for it.
        public var retryEvery: Duration = .seconds(1)
        /// Most bodies in one transaction.
        public var maxBatch = 500
        /// When caught up, how often the holder looks for new bodies (other listeners'
        /// appends ring no bell here).
        public var idlePoll: Duration = .milliseconds(100)
        /// After a batch while acknowledgements wait for a journal commit, the pause before
        /// the next: the listener's commits go first on a busy machine.
        public var restUnderLoad: Duration = .milliseconds(10)

        public init() {}
    }

    private let store: any ApplyingStore
    private let claimant: LeaseClaimant
    private let configuration: Configuration
    private let pressure: @Sendable () -> Bool
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let holding = Atomic<Bool>(false)
    private let metrics = AppliedMetrics()

    /// - Parameter pressure: whether acknowledgements wait for the journal now (the
    ///   listener's `IngestPipeline.isBusy`).
    public init(store: any ApplyingStore, claimant: LeaseClaimant, configuration: Configuration = .init(),
                pressure: @escaping @Sendable () -> Bool = { false }, logger: Logger) {
        precondition(configuration.heartbeat < configuration.lifetime, "the lease must be renewed within its lifetime")
        self.store = store
        self.claimant = claimant
        self.configuration = configuration
        self.pressure = pressure
        self.logger = logger
    }

    /// Whether this process holds the applier lease now.
    public var isApplying: Bool { holding.load(ordering: .acquiring) }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await self.campaign()
            } onCancel: {
                self.stopping.store(true, ordering: .releasing)
            }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .releasing)
        }
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Sleeps `duration` in steps of at most a quarter second, so that a stop is seen soon.
    private func pause(_ duration: Duration) async {
        var left = duration
        while left > .zero, !isStopping {
            let step = min(left, .milliseconds(250))
            // Cancelled: the service is stopping, which the loops check next.
            try? await Task.sleep(for: step)
            left -= step
        }
    }

    // MARK: - The lease

    /// Asks for the lease until the service stops; applies while it holds it.
    private func campaign() async {
        var lastHolder: LeaseClaimant?
        var failures = 0
        while !isStopping {
            let attempt: LeaseAttempt
            do {
                attempt = try await store.acquireApplierLease(claimant, lifetime: configuration.lifetime)
                failures = 0
            } catch {
                failures += 1
                if failures == 1 || failures % 30 == 0 {
                    logger.error("cannot ask the database for the applier lease (attempt \(failures)), asking again in \(configuration.retryEvery): \(error)")
                }
                await pause(configuration.retryEvery)
                continue
            }
            switch attempt {
            case .heldBy(let holder):
                if holder != lastHolder {
                    logger.info("\(holder) holds the applier lease and applies the journal; this listener journals and acknowledges")
                    lastHolder = holder
                }
                await pause(configuration.retryEvery)
            case .acquired:
                logger.notice("this listener holds the applier lease: it applies the journal for every listener")
                lastHolder = nil
                holding.store(true, ordering: .releasing)
                await applyWhileHolding()
                holding.store(false, ordering: .releasing)
            }
        }
        do {
            try await withDeadline(configuration.lifetime, "the release of the applier lease") { [store, claimant] in
                try await store.releaseApplierLease(claimant)
            }
        } catch {
            logger.warning("could not give the applier lease up (another listener takes it once it lapses): \(error)")
        }
    }

    /// Set once the holder can no longer be sure it holds the lease.
    private final class LostFlag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .acquiring) }
        func set() { value.store(true, ordering: .releasing) }
    }

    /// Renews the lease and applies until the lease is lost or the service stops.
    private func applyWhileHolding() async {
        let lost = LostFlag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.keepLease(lost: lost) }
            group.addTask { await self.apply(until: lost) }
            await group.waitForAll()
        }
    }

    /// The heartbeat: returns when the service stops or the lease is no longer certain.
    private func keepLease(lost: LostFlag) async {
        var lastRenewal = ContinuousClock.now
        while !isStopping, !lost.isSet {
            await pause(configuration.heartbeat)
            if isStopping { return }
            do {
                let renewed = try await withDeadline(configuration.heartbeat, "a renewal of the applier lease") {
                    [store, claimant] in try await store.renewApplierLease(claimant)
                }
                if renewed {
                    lastRenewal = .now
                } else {
                    logger.warning("another listener took the applier lease: this one stops applying")
                    lost.set()
                }
            } catch {
                // Unsure whether the lease still holds: past its lifetime it surely does not.
                if ContinuousClock.now - lastRenewal + configuration.heartbeat >= configuration.lifetime {
                    logger.error("the applier lease could not be renewed for \(configuration.lifetime): this listener stops applying: \(error)")
                    lost.set()
                }
            }
        }
    }

    /// Applies batch after batch while the lease holds.
    private func apply(until lost: LostFlag) async {
        var failures = 0
        while !isStopping, !lost.isSet {
            do {
                let applied = try await store.applyJournalBatch(limit: configuration.maxBatch)
                failures = 0
                metrics.count(applied, logger: logger)
                if applied.isEmpty {
                    await pause(configuration.idlePoll)
                } else if pressure() {
                    await pause(configuration.restUnderLoad)
                }
            } catch {
                // The connection, a full disk: nothing moved, the bodies wait in the journal.
                failures += 1
                let wait = Duration.milliseconds(min(5_000, 50 << min(failures, 7)))
                if failures == 1 || failures % 20 == 0 {
                    logger.error("applying the journal failed (attempt \(failures)), trying again in \(wait): \(error)")
                }
                await pause(wait)
            }
        }
    }
}
