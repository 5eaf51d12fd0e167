import Foundation
import Synchronization

/// Wakes the applier when bodies may have been journaled: rung by the append (and, on a
/// store several listeners share, by a notification from another listener's), waited on
/// with a time limit. Generations keep a ring between the applier's last look and its wait
/// from being lost: a wait after generation N returns at once once the bell rang past N.
public final class JournalBell: Sendable {
    private struct State {
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// How many times it rang.
    public var generation: Int { state.withLock { $0.generation } }

    public func ring() {
        let woken = state.withLock { state in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns once the bell rang past `generation`, `timeout` passed, or the task is cancelled.
    public func wait(after generation: Int, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.rung(after: generation) }
            await group.next()
            group.cancelAll()
        }
    }

    private func rung(after generation: Int) async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.generation > generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
