import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Logging
import Testing
import WebhookServer

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// The applier of a shared store: one of several listeners applies, the one that holds the
/// applier lease; when it stops another takes over, and a holder that stopped renewing
/// loses the lease once its lifetime passed, never before. Run on SQLite, whose store also
/// keeps the applier lease of the store contract.
@Suite(.timeLimit(.minutes(2))) struct LeasedApplierTests {
    private var configuration: LeasedApplierService.Configuration {
        var configuration = LeasedApplierService.Configuration()
        configuration.lifetime = .seconds(2)
        configuration.heartbeat = .milliseconds(200)
        configuration.retryEvery = .milliseconds(100)
        configuration.idlePoll = .milliseconds(20)
        return configuration
    }

    private func journal(_ database: InboxDatabase, _ label: String, count: Int) async throws {
        let bodies = (0..<count).map {
            JournalAppend(receivedAt: 1_764_400_000, body: UpdateBodies.text(
                id: "wamid.\(label).\($0)", from: "3361100000\($0 % 3)", timestamp: 1_764_400_000 + Int64($0), body: "n\($0)"))
        }
        try await database.appendJournal(bodies)
    }

    private func appliedEverything(_ database: InboxDatabase) throws -> Bool {
        try database.journalProgress().lag == 0
    }

    @Test func oneOfTwoAppliesAndTheOtherTakesOverWhenItStops() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let services = [901, 902].map {
            LeasedApplierService(store: temp.database, claimant: LeaseClaimant(pid: Int32($0), host: "listener-\($0)"),
                                 configuration: configuration, logger: quiet)
        }
        let first = Task { try await services[0].run() }
        let second = Task { try await services[1].run() }
        defer {
            first.cancel()
            second.cancel()
        }
        #expect(try await waitUntil(timeout: 30) { services[0].isApplying || services[1].isApplying })
        let holder = services[0].isApplying ? 0 : 1
        #expect(!services[1 - holder].isApplying, "both listeners apply")

        try await journal(temp.database, "first", count: 10)
        #expect(try await waitUntil(timeout: 30) { try appliedEverything(temp.database) })
        #expect(try temp.database.counts().messages == 10)
        #expect(services[holder].isApplying && !services[1 - holder].isApplying)

        // The holder stops (gives the lease up): the other applies what comes next.
        (holder == 0 ? first : second).cancel()
        _ = try? await (holder == 0 ? first : second).value
        #expect(!services[holder].isApplying)
        #expect(try await waitUntil(timeout: 30) { services[1 - holder].isApplying })
        try await journal(temp.database, "second", count: 10)
        #expect(try await waitUntil(timeout: 30) { try appliedEverything(temp.database) })
        #expect(try temp.database.counts().messages == 20)
    }

    @Test func theHolderPrunesAppliedBodiesPastTheRetentionOnceCaughtUp() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        var pruning = configuration
        pruning.retention = .seconds(86_400)
        pruning.pruneChunk = 3
        // Two days after the bodies arrived.
        pruning.now = { 1_764_400_000 + 2 * 86_400 }
        let service = LeasedApplierService(store: temp.database, claimant: LeaseClaimant(pid: 903, host: "listener"),
                                           configuration: pruning, logger: quiet)
        let running = Task { try await service.run() }
        defer { running.cancel() }
        try await journal(temp.database, "old", count: 10)
        // Applied, then pruned in chunks of three: the messages stay, the bodies go.
        #expect(try await waitUntil(timeout: 30) {
            var left = 0
            _ = try temp.database.journalLog(JournalLogFilter()) { _ in left += 1 }
            return left == 0
        })
        #expect(try appliedEverything(temp.database))
        #expect(try temp.database.counts().messages == 10)
    }

    @Test func aHolderThatStopsRenewingLosesTheLeaseOnceItsLifetimePassed() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        // A listener that took the lease, then died: it never renews.
        let dead = LeaseClaimant(pid: 77, host: "gone")
        let taken = ContinuousClock.now
        #expect(try await temp.database.acquireApplierLease(dead, lifetime: configuration.lifetime) == .acquired)
        try await journal(temp.database, "waiting", count: 5)

        let survivor = LeasedApplierService(store: temp.database, claimant: LeaseClaimant(pid: 78, host: "alive"),
                                            configuration: configuration, logger: quiet)
        let running = Task { try await survivor.run() }
        defer { running.cancel() }
        #expect(try await waitUntil(timeout: 30) { survivor.isApplying })
        #expect(ContinuousClock.now - taken >= configuration.lifetime, "the lease was taken from a holder whose lifetime had not passed")
        #expect(try await waitUntil(timeout: 30) { try appliedEverything(temp.database) })
        #expect(try temp.database.counts().messages == 5)
    }
}
