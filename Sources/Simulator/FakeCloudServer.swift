import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The fake Cloud API on a loopback port of its own, started and stopped from a thread
/// that may block (the demo's main thread).
public final class FakeCloudServer: Sendable {
    /// `http://127.0.0.1:PORT`, for `WABOX_GRAPH_URL`.
    public let url: String
    private let group: ServiceGroup

    private init(url: String, group: ServiceGroup) {
        self.url = url
        self.group = group
    }

    /// Starts `fake` on a free port and waits up to 10 s for it to listen.
    public static func start(_ fake: FakeCloudAPI, logger: Logger) throws -> FakeCloudServer {
        let port = Mutex<Int?>(nil)
        let started = DispatchSemaphore(value: 0)
        let app = fake.makeApplication(onServerRunning: { bound in
            port.withLock { $0 = bound }
            started.signal()
        })
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let failure = Mutex<String?>(nil)
        Task {
            do {
                try await group.run()
            } catch {
                failure.withLock { $0 = String(describing: error) }
                started.signal()
            }
        }
        guard started.wait(timeout: .now() + 10) == .success, let bound = port.withLock({ $0 }) else {
            throw FakeCloudAPI.FakeError(description: "the demo's fake Cloud API did not start: \(failure.withLock { $0 } ?? "no port after 10 s")")
        }
        return FakeCloudServer(url: "http://127.0.0.1:\(bound)", group: group)
    }

    /// Stops it, waiting up to 3 s.
    public func stop() {
        let group = self.group
        let stopped = DispatchSemaphore(value: 0)
        Task {
            await group.triggerGracefulShutdown()
            stopped.signal()
        }
        _ = stopped.wait(timeout: .now() + 3)
    }
}
