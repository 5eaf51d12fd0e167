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
        /// When caught up, how often the holder looks for new bodies, on a store that rings
        /// no bell for appends.
        public var idlePoll: Duration = .milliseconds(100)
        /// The same on a store that rings one (PostgreSQL's: this listener's appends, and the
        /// others' by notification): only the backstop of a lost notification.
        public var idlePollWithBell: Duration = .seconds(1)
        /// After a batch while acknowledgements wait for a journal commit, the pause before
        /// the next: the listener's commits go first on a busy machine.
        public var restUnderLoad: Duration = .milliseconds(10)
        /// Applied bodies older than this are pruned by the holder (`journal_retention`);
        /// nil keeps them forever.
        public var retention: Duration? = .seconds(30 * 86_400)
        /// Audit trail entries older than this are pruned (`audit_retention`); nil keeps
        /// the trail forever.
        public var auditRetention: Duration?
        /// How often the holder, once caught up, looks for what to prune.
        public var pruneEvery: Duration = .seconds(60)
        /// Rows deleted per pruning transaction.
        public var pruneChunk = 500
        /// The clock for retention, in Unix seconds; nil is the system's.
        public var now: (@Sendable () -> Int64)?

        public init() {}
    }

    private let store: any ApplyingStore
    private let configuration: Configuration
    private let campaign: LeaseCampaign
    private let pressure: @Sendable () -> Bool
    private let logger: Logger
    private let stop = StopFlag()
    private let holding = Atomic<Bool>(false)
    private let metrics = AppliedMetrics()

    /// - Parameter pressure: whether acknowledgements wait for the journal now (the
    ///   listener's `IngestPipeline.isBusy`).
    public init(store: any ApplyingStore, claimant: LeaseClaimant, configuration: Configuration = .init(),
                pressure: @escaping @Sendable () -> Bool = { false }, logger: Logger) {
        self.store = store
        self.configuration = configuration
        var lease = LeaseCampaign.Configuration()
        lease.lifetime = configuration.lifetime
        lease.heartbeat = configuration.heartbeat
        lease.retryEvery = configuration.retryEvery
        campaign = LeaseCampaign(
            lease: LeaseCampaign.Lease(
                acquire: { lifetime in try await store.acquireApplierLease(claimant, lifetime: lifetime) },
                renew: { try await store.renewApplierLease(claimant) },
                release: { try await store.releaseApplierLease(claimant) }),
            words: LeaseCampaign.Words(lease: "the applier lease", job: "applies the journal"),
            configuration: lease, logger: logger)
        self.pressure = pressure
        self.logger = logger
    }

    /// Whether this process holds the applier lease now.
    public var isApplying: Bool { holding.load(ordering: .acquiring) }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                // A batch runs to its commit: the loop looks at the lease between batches.
                await campaign.run(stop: stop, holding: { self.holding.store($0, ordering: .releasing) }, cancelsJob: false) { watch in
                    await self.apply(until: watch)
                }
            } onCancel: {
                self.stop.set()
            }
        } onGracefulShutdown: {
            self.stop.set()
        }
    }

    /// Applies batch after batch while the lease holds.
    private func apply(until watch: LeaseWatch) async {
        var failures = 0
        var lastPrune: ContinuousClock.Instant?
        var pruneUnfinished = false
        while !watch.isLost {
            do {
                // Read before the batch: a body journaled after its look rings past it.
                let generation = store.journalAppends?.generation
                let applied = try await store.applyJournalBatch(limit: configuration.maxBatch)
                failures = 0
                metrics.count(applied, logger: logger)
                if applied.isEmpty {
                    // Caught up: time for pruning, a few chunks at a time, new bodies first.
                    if let pruner = store as? any PruningStore,
                       configuration.retention != nil || configuration.auditRetention != nil,
                       pruneUnfinished || lastPrune.map({ ContinuousClock.now - $0 >= configuration.pruneEvery }) ?? true {
                        lastPrune = .now
                        pruneUnfinished = try await prune(pruner, until: watch)
                        // Stopped at its chunk limit: go on at once. Stopped for waiting
                        // acknowledgements: wait like an idle applier, the next body rings.
                        if pruneUnfinished, !pressure() { continue }
                    }
                    if let bell = store.journalAppends, let generation {
                        await watch.wait(for: bell, after: generation, timeout: configuration.idlePollWithBell)
                    } else {
                        await watch.pause(configuration.idlePoll)
                    }
                } else if pressure() {
                    await watch.pause(configuration.restUnderLoad)
                }
            } catch {
                // The connection, a full disk: nothing moved, the bodies wait in the journal.
                failures += 1
                let wait = Duration.milliseconds(min(5_000, 50 << min(failures, 7)))
                if failures == 1 || failures % 20 == 0 {
                    logger.error("applying the journal failed (attempt \(failures)), trying again in \(wait): \(error)")
                }
                await watch.pause(wait)
            }
        }
    }

    /// Prunes applied bodies and audit entries past their retention, a chunk per
    /// transaction, at most ten chunks of each and only while acknowledgements do not wait
    /// (the next batch comes first); returns whether some may be left.
    private func prune(_ pruner: any PruningStore, until watch: LeaseWatch) async throws -> Bool {
        let now = configuration.now?() ?? Int64(Date().timeIntervalSince1970)
        var unfinished = false
        let kinds: [(Duration?, String, @Sendable (Int64, Int) async throws -> Int)] = [
            (configuration.retention, "applied webhook bodies older than the journal retention",
             { try await pruner.pruneJournal(receivedBefore: $0, limit: $1) }),
            (configuration.auditRetention, "audit trail entries older than the audit retention",
             { try await pruner.pruneAudit(before: $0, limit: $1) }),
        ]
        for (retention, what, prune) in kinds {
            guard let retention else { continue }
            let cutoff = now - retention.components.seconds
            var total = 0, chunks = 0
            while true {
                if watch.isLost || pressure() || chunks == 10 {
                    unfinished = true
                    break
                }
                let removed = try await prune(cutoff, configuration.pruneChunk)
                total += removed
                chunks += 1
                if removed < configuration.pruneChunk { break }
            }
            if total > 0 { logger.info("pruned \(total) \(what)") }
        }
        return unfinished
    }
}
