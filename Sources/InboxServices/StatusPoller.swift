import Dispatch
import Foundation
import InboxStore
import InboxTUI
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the status bar's figures current: last webhook, outbox size, sending halt, and
/// for an attached screen whether the process holding the listener still runs.
public struct StatusPoller: Service {
    let database: InboxDatabase
    let status: ListenerState
    /// Set when attached: this process's identity, to judge the holder's liveness.
    let holder: LeaseHolder?
    /// The agent at this screen, recorded as seen every half-minute (the screens gauge of
    /// `wabox serve`'s metrics counts them).
    var agent: String?

    public func run() async throws {
        // Returns normally on shutdown: a service that throws would make the group cancel
        // the others instead of letting them finish their work.
        try? await cancelWhenGracefulShutdown {
            var seenVersion: Int?
            var lastFullPoll = ContinuousClock.now
            var lastSeen: ContinuousClock.Instant?
            while !Task.isCancelled {
                if let agent, lastSeen.map({ ContinuousClock.now - $0 >= .seconds(Self.screenHeartbeatSeconds) }) ?? true {
                    lastSeen = .now
                    try? await database.agentSeen(agent, at: Int64(Date().timeIntervalSince1970))
                }
                // Nothing changed in the database: only the holder's liveness can have, and
                // that is worth a look every few seconds, not every second.
                let version = database.changeCount
                if version == seenVersion, ContinuousClock.now - lastFullPoll < .seconds(5) {
                    try await Task.sleep(for: .seconds(1))
                    continue
                }
                seenVersion = version
                lastFullPoll = .now
                let last = try? database.lastWebhookAt()
                let journal = try? database.journalProgress()
                let waiting = (try? await database.outboxWaitingCount()) ?? 0
                let halt = try? await database.sendingHalt()
                // A halt an alert raised says its alert's words; the alert is not repeated.
                let alerts = ((try? database.accountAlerts(at: Int64(Date().timeIntervalSince1970))) ?? [])
                    .filter { halt?.isAccountAlert != true || $0.words != halt?.reason }.map(\.words)
                let lease = holder == nil ? nil : try? database.currentLease()
                status.update {
                    $0.lastWebhookAt = last
                    $0.applierLag = journal?.lag ?? 0
                    $0.oldestUnappliedAt = journal?.oldestWaitingReceivedAt
                    $0.waitingToSend = waiting
                    if let holder {
                        if let lease, holder.isAlive(lease) {
                            $0.attach(to: lease)
                        } else {
                            $0.isUp = false
                            $0.problem = """
                                the listener is gone (\($0.attachedTo ?? "wabox serve") stopped): webhooks are not \
                                received. Start wabox serve again, or restart wabox to listen here
                                """
                        }
                    }
                    $0.alerts = alerts
                    if let halt {
                        $0.sending = .halted(halt.isAccountAlert ? halt.description : "\(halt.description): fix it, then restart wabox")
                    } else if case .halted = $0.sending {
                        $0.sending = .on
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}

extension StatusPoller {
    /// How often a screen records that it is open.
    public static let screenHeartbeatSeconds: Int64 = 30
}

extension ListenerStatus {
    /// Shows the live process that holds the listener lease.
    mutating func attach(to lease: ListenerLease) {
        attachedTo = lease.shortDescription
        address = lease.address
        isUp = true
        problem = nil
        sending = lease.sending ? .on : .off("""
            replies wait in the outbox: \(lease.holderDescription) has no access token; set WABOX_ACCESS_TOKEN \
            and WABOX_PHONE_NUMBER_ID for it
            """)
    }
}

