import Foundation
import InboxStore
import Logging
import Synchronization

/// A job one process at a time does for every listener of a shared store (the journal's
/// applier, the media downloader), under a lease row with a heartbeat.
///
/// Every listener campaigns: it asks for the lease every `retryEvery` and, while it holds
/// it, does the job and renews the lease every `heartbeat`. When a renewal finds the lease
/// taken, or no renewal succeeded for a whole `lifetime` (the database unreachable), the
/// job is told to stop (`LeaseWatch.isLost`, and its task is cancelled) and the listener
/// asks again like the others. When the holder dies its lease lapses `lifetime` after its
/// last renewal, and another listener takes over within `retryEvery` of that. On stop the
/// holder gives the lease up at once.
public struct LeaseCampaign: Sendable {
    public struct Configuration: Sendable {
        /// A holder that stops renewing loses the lease this long after its last renewal.
        public var lifetime: Duration = .seconds(5)
        /// How often the holder renews the lease.
        public var heartbeat: Duration = .seconds(1)
        /// How often a listener that does not hold the lease asks for it.
        public var retryEvery: Duration = .seconds(1)

        public init() {}
    }

    /// The store's three lease statements, for one lease and one claimant.
    public struct Lease: Sendable {
        public var acquire: @Sendable (_ lifetime: Duration) async throws -> LeaseAttempt
        public var renew: @Sendable () async throws -> Bool
        public var release: @Sendable () async throws -> Void

        public init(acquire: @escaping @Sendable (_ lifetime: Duration) async throws -> LeaseAttempt,
                    renew: @escaping @Sendable () async throws -> Bool,
                    release: @escaping @Sendable () async throws -> Void) {
            self.acquire = acquire
            self.renew = renew
            self.release = release
        }
    }

    /// How the log names the lease and the job: "the applier lease", "applies the journal".
    public struct Words: Sendable {
        public var lease: String
        public var job: String

        public init(lease: String, job: String) {
            self.lease = lease
            self.job = job
        }
    }

    let lease: Lease
    let words: Words
    let configuration: Configuration
    let logger: Logger

    public init(lease: Lease, words: Words, configuration: Configuration = .init(), logger: Logger) {
        precondition(configuration.heartbeat < configuration.lifetime, "the lease must be renewed within its lifetime")
        self.lease = lease
        self.words = words
        self.configuration = configuration
        self.logger = logger
    }

    /// Asks for the lease until `stop` says so; runs `job` each time it holds it, until the
    /// lease is lost or `stop`. Gives the lease up before it returns.
    ///
    /// - Parameters:
    ///   - holding: told true when this process takes the lease, false when it has let go.
    ///   - cancelsJob: whether the job's task is cancelled when the lease is lost; a job
    ///     whose steps must run to their end (the applier's batch) checks `LeaseWatch.isLost`
    ///     between them instead.
    public func run(stop: StopFlag, holding: @escaping @Sendable (Bool) -> Void = { _ in }, cancelsJob: Bool = true,
                    job: @escaping @Sendable (LeaseWatch) async -> Void) async {
        var lastHolder: LeaseClaimant?
        var failures = 0
        while !stop.isSet {
            let attempt: LeaseAttempt
            do {
                attempt = try await lease.acquire(configuration.lifetime)
                failures = 0
            } catch {
                failures += 1
                if failures == 1 || failures % 30 == 0 {
                    logger.error("cannot ask the database for \(words.lease) (attempt \(failures)), asking again in \(configuration.retryEvery): \(error)")
                }
                await stop.pause(configuration.retryEvery)
                continue
            }
            switch attempt {
            case .heldBy(let holder):
                if holder != lastHolder {
                    logger.info("\(holder) holds \(words.lease) and \(words.job); this listener leaves it to it")
                    lastHolder = holder
                }
                await stop.pause(configuration.retryEvery)
            case .acquired:
                logger.notice("this listener holds \(words.lease): it \(words.job) for every listener")
                lastHolder = nil
                holding(true)
                await whileHolding(stop: stop, cancelsJob: cancelsJob, job: job)
                holding(false)
            }
        }
        do {
            try await withDeadline(configuration.lifetime, "the release of \(words.lease)") { [lease] in
                try await lease.release()
            }
        } catch {
            logger.warning("could not give \(words.lease) up (another listener takes it once it lapses): \(error)")
        }
    }

    /// Renews the lease beside `job` until the lease is lost or `stop`; then waits for the job.
    private func whileHolding(stop: StopFlag, cancelsJob: Bool,
                              job: @escaping @Sendable (LeaseWatch) async -> Void) async {
        let watch = LeaseWatch(stop: stop)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await job(watch) }
            await keep(watch)
            // Lost or stopping: a job that waits on something else is woken by the cancel.
            if cancelsJob { group.cancelAll() }
            await group.waitForAll()
        }
    }

    /// The heartbeat: returns when the campaign stops or the lease is no longer certain.
    private func keep(_ watch: LeaseWatch) async {
        var lastRenewal = ContinuousClock.now
        while !watch.isLost {
            await watch.stop.pause(configuration.heartbeat)
            if watch.stop.isSet { return }
            do {
                let renewed = try await withDeadline(configuration.heartbeat, "a renewal of \(words.lease)") { [lease] in
                    try await lease.renew()
                }
                if renewed {
                    lastRenewal = .now
                } else {
                    logger.warning("another listener took \(words.lease): this one stops")
                    watch.lose()
                }
            } catch {
                // Unsure whether the lease still holds: past its lifetime it surely does not.
                if ContinuousClock.now - lastRenewal + configuration.heartbeat >= configuration.lifetime {
                    logger.error("\(words.lease) could not be renewed for \(configuration.lifetime): this listener stops: \(error)")
                    watch.lose()
                }
            }
        }
    }
}

/// Set once, when a service is asked to stop.
public final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)

    public init() {}

    public var isSet: Bool { value.load(ordering: .acquiring) }
    public func set() { value.store(true, ordering: .releasing) }

    /// Sleeps `duration` in steps of at most a quarter second, so that a stop is seen soon.
    public func pause(_ duration: Duration) async {
        await pauseInSteps(duration) { self.isSet }
    }
}

/// What a job under a lease checks between two steps: whether to go on.
public final class LeaseWatch: Sendable {
    let stop: StopFlag
    private let lost = Atomic<Bool>(false)

    init(stop: StopFlag) {
        self.stop = stop
    }

    /// The lease is no longer certain, or the service stops: finish the step and return.
    public var isLost: Bool { lost.load(ordering: .acquiring) || stop.isSet }

    func lose() { lost.store(true, ordering: .releasing) }

    /// Waits for `bell` to ring past `generation`, at most `timeout`, and a quarter second at
    /// a time so that a lost lease or a stop is seen soon.
    public func wait(for bell: JournalBell, after generation: Int, timeout: Duration) async {
        var left = timeout
        while left > .zero, !isLost, bell.generation <= generation {
            let step = min(left, .milliseconds(250))
            await bell.wait(after: generation, timeout: step)
            left -= step
        }
    }

    /// Sleeps `duration`, shorter when the lease is lost or the service stops.
    public func pause(_ duration: Duration) async {
        await pauseInSteps(duration) { self.isLost }
    }
}

/// Sleeps `duration` a quarter second at a time, until `done` says so.
private func pauseInSteps(_ duration: Duration, until done: () -> Bool) async {
    var left = duration
    while left > .zero, !done() {
        let step = min(left, .milliseconds(250))
        // Cancelled: the service is stopping, which the loops check next.
        try? await Task.sleep(for: step)
        left -= step
    }
}
