import Dispatch
import Foundation
import InboxStore
import Logging
import ServiceLifecycle
import Synchronization

/// The applier of the process that holds the listener lease: right behind the journal,
/// it decodes the journaled bodies and applies their events to the inbox tables in large
/// batches, in journal order, moving the mark in the same transaction
/// (`InboxDatabase.applyJournal(limit:shouldYield:)`). At start it applies every body the
/// last run left past the mark. When caught up it prunes applied bodies older than the
/// retention, a few hundred per transaction.
///
/// It runs on a thread of its own (its transactions are blocking SQLite work, never on the
/// cooperative pool) and gives way to the listener: while acknowledgements wait for the
/// journal, a batch ends after `sliceUnderLoad` and the next starts `restUnderLoad` later,
/// so that a burst is acknowledged at full speed and applied just after.
public final class JournalApplierService: Service, Sendable {
    public struct Configuration: Sendable {
        /// Most bodies in one transaction.
        public var maxBatch = InboxDatabase.applierBatch
        /// While acknowledgements wait, a batch ends once it took this long: what a journal
        /// commit may wait for the applier.
        public var sliceUnderLoad: Duration = .milliseconds(2)
        /// After a batch ended for waiting acknowledgements, the pause before the next: under
        /// a burst the applier takes about a tenth of the time, the listener the rest, and
        /// the applier catches up once the burst ends. (With 4 ms it applied four fifths of a
        /// burst as it came, and the listener acknowledged a quarter fewer webhooks a second.)
        public var restUnderLoad: Duration = .milliseconds(20)
        /// Applied bodies older than this are pruned; nil keeps them forever.
        public var retention: Duration? = .seconds(30 * 86_400)
        /// Audit trail entries older than this are pruned (`audit_retention`); nil, the
        /// default, keeps the trail forever.
        public var auditRetention: Duration?
        /// How often pruning looks for old bodies and entries.
        public var pruneEvery: Duration = .seconds(60)
        /// Bodies deleted per pruning transaction.
        public var pruneChunk = 500
        /// On shutdown, how long the applier goes on applying what is left before it stops
        /// (the rest is applied at the next start).
        public var drainOnStop: Duration = .seconds(5)
        /// The clock for retention, in Unix seconds; nil is the listener's, which dates the
        /// bodies (`makeWebhookApplication`'s `now`), else the system's.
        public var now: (@Sendable () -> Int64)?

        public init() {}
    }

    private let database: InboxDatabase
    private let configuration: Configuration
    private let pressure: @Sendable () -> Bool
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    /// Signalled once by `stop()`: ends a pause at once.
    private let stopSignal = DispatchSemaphore(value: 0)
    /// The newest journal id when the applier started (-1 until it looked), and whether
    /// it has applied through it since: what `/readyz` waits for.
    private let startupTarget = Atomic<Int64>(-1)
    private let startupApplied = Atomic<Bool>(false)
    private let metrics = AppliedMetrics()

    /// - Parameter pressure: whether acknowledgements wait for the journal now (the
    ///   listener's `IngestPipeline.isBusy`).
    public init(database: InboxDatabase, configuration: Configuration = .init(),
                pressure: @escaping @Sendable () -> Bool = { false }, logger: Logger) {
        self.database = database
        self.configuration = configuration
        self.pressure = pressure
        self.logger = logger
    }

    public func run() async throws {
        let finished = DispatchGroup()
        finished.enter()
        let thread = Thread { [self] in
            // Named for `top -H` and the benchmark's CPU by thread (a new thread would
            // otherwise carry the name of the pool thread that started it).
            try? "wabox-applier".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            loop()
            finished.leave()
        }
        thread.start()
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    finished.notify(queue: .global()) { continuation.resume() }
                }
            } onCancel: {
                self.stop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    private func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopSignal.signal()
        database.wakeApplier()
    }

    /// Waits `duration` unless the service is asked to stop meanwhile.
    private func pause(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        if stopSignal.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success { stopSignal.signal() }
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Whether the bodies journaled before the applier started (by an earlier run, or by
    /// another process) are applied: until then the inbox is behind what was acknowledged.
    public var hasAppliedStartupBacklog: Bool { startupApplied.load(ordering: .acquiring) }

    /// The newest journal id when the applier started; nil until it looked.
    public var startupBacklogEnd: Int64? {
        let target = startupTarget.load(ordering: .acquiring)
        return target < 0 ? nil : target
    }

    /// Notes how far the applier got; `applied` empty means nothing waited.
    private func noteProgress(_ applied: [AppliedBody]) {
        guard !startupApplied.load(ordering: .relaxed) else { return }
        let target = startupTarget.load(ordering: .acquiring)
        if applied.isEmpty || (target >= 0 && applied[applied.count - 1].journalID >= target) {
            startupApplied.store(true, ordering: .releasing)
        }
    }

    // MARK: - The applier's thread

    private func loop() {
        if let progress = try? database.journalProgress() {
            startupTarget.store(progress.journaled, ordering: .releasing)
            if progress.lag == 0 { startupApplied.store(true, ordering: .releasing) }
        }
        var failures = 0
        var lastPrune: ContinuousClock.Instant?
        var pruneUnfinished = false
        while !isStopping {
            do {
                let (applied, yielded) = try applyOneBatch()
                failures = 0
                if yielded {
                    pause(configuration.restUnderLoad)
                } else if applied == 0 {
                    // Caught up: time for pruning, a few chunks at a time, new bodies first.
                    if configuration.retention != nil || configuration.auditRetention != nil, pruneUnfinished
                        || lastPrune.map({ ContinuousClock.now - $0 >= configuration.pruneEvery }) ?? true {
                        lastPrune = .now
                        pruneUnfinished = try configuration.retention.map { try prune(olderThan: $0) } ?? false
                        if let auditRetention = configuration.auditRetention {
                            pruneUnfinished = try pruneAudit(olderThan: auditRetention) || pruneUnfinished
                        }
                    }
                    // New bodies ring at once; other processes' are seen within the timeout.
                    database.waitForJournal(timeout: pruneUnfinished ? .milliseconds(50) : .seconds(1))
                }
            } catch {
                failures += 1
                // A full disk, an I/O error, a lock held elsewhere: nothing moved, the bodies
                // wait in the journal. Try again, less often the longer it lasts.
                let pause = Duration.milliseconds(min(5_000, 50 << min(failures, 7)))
                if failures == 1 || failures % 20 == 0 {
                    logger.error("applying the journal failed (attempt \(failures)), trying again in \(pause): \(error)")
                }
                self.pause(pause)
            }
        }
        drain()
    }

    /// One transaction; whether it ended early for waiting acknowledgements.
    private func applyOneBatch() throws -> (applied: Int, yielded: Bool) {
        let start = ContinuousClock.now
        var yielded = false
        let slice = configuration.sliceUnderLoad
        let applied = try database.applyJournal(limit: configuration.maxBatch) {
            if ContinuousClock.now - start >= slice, pressure() {
                yielded = true
                return true
            }
            return false
        }
        report(applied)
        noteProgress(applied)
        return (applied.count, yielded)
    }

    private func drain() {
        let deadline = ContinuousClock.now + configuration.drainOnStop
        do {
            while ContinuousClock.now < deadline {
                let applied = try database.applyJournal(limit: configuration.maxBatch)
                report(applied)
                if applied.isEmpty { return }
            }
            let left = (try? database.journalProgress().lag) ?? 0
            if left > 0 {
                logger.notice("stopping with \(left) journaled webhooks not yet applied; they are applied at the next start")
            }
        } catch {
            logger.error("applying the journal before stopping failed; the next start applies it: \(error)")
        }
    }

    private func report(_ applied: [AppliedBody]) { metrics.count(applied, logger: logger) }

    /// Now, in Unix seconds, by the retention's clock.
    private func clock() -> Int64 { configuration.now?() ?? Int64(Date().timeIntervalSince1970) }

    /// Prunes applied bodies past the retention, a chunk per transaction, for at most ten
    /// chunks and only while neither acknowledgements nor new bodies wait; returns whether
    /// old bodies may be left.
    private func prune(olderThan retention: Duration) throws -> Bool {
        let cutoff = clock() - retention.components.seconds
        var total = 0
        defer {
            if total > 0 { logger.info("pruned \(total) applied webhook bodies older than the journal retention") }
        }
        for _ in 0..<10 {
            let waiting = try database.journalProgress().lag
            if isStopping || pressure() || waiting > 0 { return true }
            let removed = try database.pruneJournal(receivedBefore: cutoff, limit: configuration.pruneChunk)
            total += removed
            if removed < configuration.pruneChunk { return false }
        }
        return true
    }

    /// Prunes the audit trail's entries past `audit_retention`, as `prune` does bodies.
    private func pruneAudit(olderThan retention: Duration) throws -> Bool {
        let cutoff = clock() - retention.components.seconds
        var total = 0
        defer {
            if total > 0 { logger.info("pruned \(total) audit trail entries older than the audit retention") }
        }
        for _ in 0..<10 {
            if isStopping || pressure() { return true }
            let removed = try database.pruneAudit(before: cutoff, limit: configuration.pruneChunk)
            total += removed
            if removed < configuration.pruneChunk { return false }
        }
        return true
    }
}
