import Dispatch
import Foundation
import InboxStore
import InboxTUI
import Logging
import ServiceLifecycle
import Synchronization

/// Runs services in a `ServiceGroup` on a background task, and stops them gracefully
/// from the main thread.
public final class BackgroundServices: Sendable {
    private let group: ServiceGroup
    private let finished = DispatchSemaphore(value: 0)
    private let onFailure: @Sendable (any Error) -> Void
    private let logger: Logger

    public init(services: [any Service], logger: Logger, onFailure: @escaping @Sendable (any Error) -> Void) {
        group = ServiceGroup(configuration: .init(services: services, logger: logger))
        self.logger = logger
        self.onFailure = onFailure
    }

    public func start() {
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
    public func stop(timeout: Double) {
        let group = self.group
        Task { await group.triggerGracefulShutdown() }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            logger.warning("background services did not stop within \(timeout) s")
        }
    }
}

/// Runs async work from the main thread and waits for it (only the main thread blocks).
public func runBlocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
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
public final class ListenerState: Sendable {
    private let state = Mutex(ListenerStatus())

    public init() {}

    public var current: ListenerStatus { state.withLock { $0 } }

    public func update(_ change: (inout ListenerStatus) -> Void) {
        state.withLock { change(&$0) }
    }
}
