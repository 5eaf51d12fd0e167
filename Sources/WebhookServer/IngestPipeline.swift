import InboxCore
import InboxStore
import Logging
import ServiceLifecycle
import Synchronization

/// Group commit: verified webhooks wait here, one writer commits everything that arrived
/// while the previous commit ran in a single transaction, then each request is answered.
///
/// The queue is bounded: when it is full `submit` throws `Overloaded` at once, and the
/// listener answers 503 so that Meta retries later rather than the process growing.
public final class IngestPipeline: Service, Sendable {
    public struct Overloaded: Error {}
    public struct Closed: Error {}

    private struct Pending {
        var webhook: IncomingWebhook
        var continuation: CheckedContinuation<IngestOutcome, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var writerWaiting: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let database: InboxDatabase
    private let capacity: Int
    private let maxBatch: Int
    private let logger: Logger
    private let state = Mutex(State())

    public init(database: InboxDatabase, capacity: Int = 8192, maxBatch: Int = 1024, logger: Logger) {
        self.database = database
        self.capacity = capacity
        self.maxBatch = maxBatch
        self.logger = logger
    }

    /// Number of webhooks waiting for a commit.
    public var depth: Int { state.withLock { $0.queue.count } }

    /// Queues a webhook and returns once it is committed.
    public func submit(_ webhook: IncomingWebhook) async throws -> IngestOutcome {
        try await withCheckedThrowingContinuation { continuation in
            enum Admission { case accepted(CheckedContinuation<Void, Never>?), full, closed }
            let admission = state.withLock { state -> Admission in
                if state.closed { return .closed }
                if state.queue.count >= capacity { return .full }
                state.queue.append(Pending(webhook: webhook, continuation: continuation))
                defer { state.writerWaiting = nil }
                return .accepted(state.writerWaiting)
            }
            switch admission {
            case .accepted(let writer): writer?.resume()
            case .full: continuation.resume(throwing: Overloaded())
            case .closed: continuation.resume(throwing: Closed())
            }
        }
    }

    /// The writer loop. On graceful shutdown it stops taking new webhooks, commits those
    /// already queued and returns.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while let batch = await nextBatch() {
                await commit(batch)
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
                if !state.queue.isEmpty {
                    let count = min(state.queue.count, maxBatch)
                    let batch = Array(state.queue.prefix(count))
                    state.queue.removeFirst(count)
                    return .batch(batch)
                }
                return state.closed ? .finished : .wait
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
        do {
            let outcomes = try await database.ingest(batch.map(\.webhook))
            for (pending, outcome) in zip(batch, outcomes) {
                pending.continuation.resume(returning: outcome)
            }
        } catch {
            logger.error("commit of \(batch.count) webhooks failed, answering 500 so that Meta retries: \(error)")
            for pending in batch {
                pending.continuation.resume(throwing: error)
            }
        }
    }
}
