import Foundation
import InboxStore
import Logging
import ServiceLifecycle

/// This process as a holder of the listener lease.
public struct LeaseHolder: Sendable {
    /// How often the holder renews the lease. Each renewal is a commit that wakes every
    /// attached screen, so rarely: SQLite in WAL mode only works between processes of one
    /// machine, where a dead holder is seen at once by its process id. The heartbeat only
    /// catches a holder that hangs, or a process id taken over by another program.
    public static let heartbeatSeconds: Int64 = 30
    /// A lease not renewed for this long belongs to a process that is gone or stuck.
    public static let staleSeconds: Int64 = 120

    public let pid = getpid()
    public let host = LeaseHolder.hostName()
    /// The name a holder's process has (`/proc/PID/comm`): a live process id under
    /// another name was reused by another program and does not hold the lease.
    public let processName: String

    public init(processName: String = "wabox") {
        self.processName = processName
    }

    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The lease this process would hold.
    public func lease(role: ListenerLease.Role, agent: String?, address: String?, sending: Bool) -> ListenerLease {
        let now = Self.nowMilliseconds()
        return ListenerLease(pid: pid, host: host, role: role, agent: agent, address: address, sending: sending,
                             startedAt: now, heartbeatAt: now)
    }

    /// Whether the holder of `lease` still runs: its heartbeat is recent and, on this
    /// machine, its process exists.
    public func isAlive(_ lease: ListenerLease) -> Bool {
        let now = Self.nowMilliseconds()
        guard now - lease.heartbeatAt < Self.staleSeconds * 1000 else { return false }
        if lease.host == host {
            guard kill(lease.pid, 0) == 0 || errno == EPERM else { return false }
            // A process id reused by another program is not the holder.
            if let name = try? String(contentsOfFile: "/proc/\(lease.pid)/comm", encoding: .utf8) {
                return name.trimmingCharacters(in: .whitespacesAndNewlines) == processName
            }
        }
        return true
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Renews the listener lease while the listener and the sender run, and gives it up when
/// they have stopped. List it first in a service group: groups stop services in reverse
/// order, so it is released last.
struct LeaseKeeper: Service {
    let database: InboxDatabase
    let holder: LeaseHolder
    let logger: Logger
    /// Told when another process has taken the lease (this one was stuck for too long).
    var onLost: @Sendable () -> Void = {}

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var warned = false
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(LeaseHolder.heartbeatSeconds))
                do {
                    let held = try await database.renewLease(pid: holder.pid, host: holder.host,
                                                             at: LeaseHolder.nowMilliseconds())
                    if !held, !warned {
                        warned = true
                        logger.error("another wabox took over the listener lease of \(database.path) while this one was unresponsive")
                        onLost()
                    }
                } catch {
                    logger.warning("could not renew the listener lease: \(error)")
                }
            }
        }
        do {
            try await database.releaseLease(pid: holder.pid, host: holder.host)
        } catch {
            logger.warning("could not release the listener lease (it expires in \(LeaseHolder.staleSeconds) s): \(error)")
        }
    }
}
