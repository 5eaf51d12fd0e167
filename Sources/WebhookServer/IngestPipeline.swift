import Foundation
import InboxCore
import InboxStore
import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization

/// A request body as NIO read it, journaled without a copy of its own.
struct RequestBody: JournalBody {
    let buffer: ByteBuffer

    func withUnsafeBodyBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try buffer.withUnsafeReadableBytes(body)
    }
}

/// A body is in the journal: what a 200 stands for.
public struct Journaled: Sendable, Equatable {
    /// The body's id in the journal; nil when a shared store folded it into a copy another
    /// listener (or an earlier delivery) journaled already, or cannot say which id is whose.
    public var journalID: Int64?

    public init(journalID: Int64?) {
        self.journalID = journalID
    }
}

/// Group commit into the journal: verified bodies wait here, one writer appends everything
/// that arrived while the previous commit ran in a single transaction, then each request
/// is answered. Nothing is decoded: the applier (`JournalApplierService`) does that after.
///
/// The queue is bounded: when it is full `enqueue` throws `Overloaded` at once, and the
/// listener answers 503 with `Retry-After` so that Meta retries later rather than the
/// process growing. Signature checks happen before a body is queued, on the caller's
/// thread, never on the writer.
public final class IngestPipeline: Service, Sendable {
    public struct Overloaded: Error, CustomStringConvertible {
        public var description: String { "the ingest queue is full" }
    }

    public struct Closed: Error, CustomStringConvertible {
        public var description: String { "the ingest pipeline is shutting down" }
    }

    /// What a queued webhook's sender waits with.
    public enum Waiter: Sendable {
        /// A suspended task, resumed from the writer.
        case task(CheckedContinuation<Journaled, any Error>)
        /// A callback run on `eventLoop`: the answers of one commit reach each event loop
        /// in a single hop, however many connections it serves.
        case eventLoop(any EventLoop, @Sendable (Result<Journaled, any Error>) -> Void)
    }

    private struct Pending {
        var entry: JournalEntry<RequestBody>
        var waiter: Waiter
    }

    private struct State {
        var queue: [Pending] = []
        var writerWaiting: CheckedContinuation<Void, Never>?
        var closed = false
        /// A batch is out of the queue and not yet committed.
        var committing = false
    }

    private let store: ListenerStore
    private let capacity: Int
    private let maxBatch: Int
    private let commitTimeout: Duration
    private let logger: Logger
    private let state = Mutex(State())
    private let batchSize = Recorder(label: MetricNames.journalCommitBatch, aggregate: true)
    private let commitTime = Metrics.Timer(label: MetricNames.journalCommit)

    /// A pipeline into a SQLite database's journal.
    public convenience init(database: InboxDatabase, capacity: Int = 8192, maxBatch: Int = 1024, logger: Logger) {
        self.init(store: .sqlite(database), capacity: capacity, maxBatch: maxBatch, logger: logger)
    }

    /// - Parameters:
    ///   - capacity: webhooks that may wait for a commit before `enqueue` refuses more.
    ///   - maxBatch: the most webhooks committed in one transaction.
    ///   - commitTimeout: on a shared store (over a network), the longest a commit may take
    ///     before its webhooks are answered 500 (Meta retries; a commit that landed after
    ///     all is folded with the retry by the body's digest).
    public init(store: ListenerStore, capacity: Int = 8192, maxBatch: Int = 1024,
                commitTimeout: Duration = .seconds(10), logger: Logger) {
        precondition(capacity > 0 && maxBatch > 0, "the ingest queue needs room for at least one webhook")
        self.store = store
        self.commitTimeout = commitTimeout
        self.capacity = capacity
        self.maxBatch = maxBatch
        self.logger = logger
    }

    /// Number of webhooks waiting for a commit.
    public var depth: Int { state.withLock { $0.queue.count } }

    /// Whether bodies wait for a journal commit or one is under way: the applier then ends
    /// its batch soon, so that the acknowledgements do not wait behind it.
    public var isBusy: Bool { state.withLock { $0.committing || !$0.queue.isEmpty } }

    /// Queues a body received at `receivedAt` (Unix seconds); `waiter` hears of the commit.
    /// Throws `Overloaded` when the queue is full and `Closed` once the pipeline stopped
    /// taking webhooks; the waiter is then never called.
    public func enqueue(_ body: ByteBuffer, receivedAt: Int64, waiter: Waiter) throws {
        // A body that is a slice of a much larger read buffer would keep all of it alive
        // until the commit: take a copy of just the body then.
        var body = body
        if body.storageCapacity > max(4 * body.readableBytes, 16_384) { body = ByteBuffer(bytes: body.readableBytesView) }
        let entry = JournalEntry(receivedAt: receivedAt, body: RequestBody(buffer: body))
        enum Admission { case accepted(CheckedContinuation<Void, Never>?), full, closed }
        let admission = state.withLock { state -> Admission in
            if state.closed { return .closed }
            if state.queue.count >= capacity { return .full }
            state.queue.append(Pending(entry: entry, waiter: waiter))
            defer { state.writerWaiting = nil }
            return .accepted(state.writerWaiting)
        }
        switch admission {
        case .accepted(let writer): writer?.resume()
        case .full: throw Overloaded()
        case .closed: throw Closed()
        }
    }

    /// Queues a body and returns once it is in the journal.
    public func submit(_ body: ByteBuffer, receivedAt: Int64) async throws -> Journaled {
        try await withCheckedThrowingContinuation { continuation in
            do {
                try enqueue(body, receivedAt: receivedAt, waiter: .task(continuation))
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// The writer loop. On graceful shutdown, or when its task is cancelled, it stops
    /// taking new webhooks, commits those already queued, answers them and returns.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                while let batch = await nextBatch() {
                    // A commit runs in a task of its own so that cancelling `run` cannot
                    // interrupt it half-way: what the queue holds is committed and answered.
                    await Task { await self.commit(batch) }.value
                }
            } onCancel: {
                self.close()
            }
        } onGracefulShutdown: {
            self.close()
        }
    }

    /// Stops admitting webhooks; the writer drains what is queued, then `run` returns.
    public func close() {
        let writer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            defer { state.writerWaiting = nil }
            return state.writerWaiting
        }
        writer?.resume()
    }

    private func nextBatch() async -> [Pending]? {
        while true {
            enum Next { case batch([Pending]), finished, wait }
            let next = state.withLock { state -> Next in
                if state.queue.isEmpty { return state.closed ? .finished : .wait }
                state.committing = true
                if state.queue.count <= maxBatch {
                    var batch: [Pending] = []
                    batch.reserveCapacity(maxBatch)
                    swap(&batch, &state.queue)
                    return .batch(batch)
                }
                let batch = Array(state.queue.prefix(maxBatch))
                state.queue.removeFirst(maxBatch)
                return .batch(batch)
            }
            switch next {
            case .batch(let batch): return batch
            case .finished: return nil
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if !state.queue.isEmpty || state.closed { return true }
                        state.writerWaiting = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    private func commit(_ batch: [Pending]) async {
        let results: [Result<Journaled, any Error>]
        batchSize.record(batch.count)
        let start = ContinuousClock.now
        do {
            results = try await append(batch)
            commitTime.record(duration: ContinuousClock.now - start)
        } catch {
            logger.error("journal commit of \(batch.count) webhooks failed, answering 500 so that Meta retries: \(error)")
            results = Array(repeating: .failure(error), count: batch.count)
        }
        state.withLock { $0.committing = false }
        answer(batch, with: results)
    }

    private func append(_ batch: [Pending]) async throws -> [Result<Journaled, any Error>] {
        switch store {
        case .sqlite(let database):
            return try await database.appendToJournal(batch.map(\.entry)).map { .success(Journaled(journalID: $0)) }
        case .shared(let journal):
            let bodies = batch.map {
                JournalAppend(receivedAt: $0.entry.receivedAt, body: Data($0.entry.body.buffer.readableBytesView))
            }
            let ids = try await withDeadline(commitTimeout, "a journal commit") { try await journal.appendJournal(bodies) }
            // Every body new: the ids are in the batch's order. Some folded into copies
            // journaled before: which id is whose is not known, and needs not be.
            if ids.count == batch.count { return ids.map { .success(Journaled(journalID: $0)) } }
            return Array(repeating: .success(Journaled(journalID: nil)), count: batch.count)
        }
    }

    /// Resumes tasks directly and hops once to each event loop with all of its answers.
    private func answer(_ batch: [Pending], with results: [Result<Journaled, any Error>]) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, calls: [(@Sendable (Result<Journaled, any Error>) -> Void, Result<Journaled, any Error>)])] = [:]
        for (pending, result) in zip(batch, results) {
            switch pending.waiter {
            case .task(let continuation):
                continuation.resume(with: result)
            case .eventLoop(let loop, let callback):
                byLoop[ObjectIdentifier(loop), default: (loop, [])].calls.append((callback, result))
            }
        }
        for (_, group) in byLoop {
            let calls = group.calls
            group.loop.execute {
                for (callback, result) in calls { callback(result) }
            }
        }
    }
}
