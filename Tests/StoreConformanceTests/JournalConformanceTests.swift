import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Logging
import PostgresStore
import StoreContract
import Testing

// The journal and lease promises (StoreContract.JournalStore), written once and run against
// every backend: a real SQLite file and a real PostgreSQL (a server of the suite's own).

enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

private let quiet = Logger(label: "wabox.tests.conformance") { _ in SwiftLogNoOpLogHandler() }

/// Runs `body` with `count` stores on one fresh inbox of `backend`, each with connections of
/// its own, as `count` processes sharing it.
func withStores(_ backend: Backend, count: Int = 1,
                _ body: @Sendable ([any JournalStore]) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        var stores: [any JournalStore] = [temporary.database]
        for index in 1..<max(count, 1) { stores.append(try temporary.open(as: "agent\(index)")) }
        try await body(stores)
    case .postgres:
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        @Sendable func nest(_ opened: [any JournalStore]) async throws {
            guard opened.count < count else { return try await body(opened) }
            try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 3) { store in
                try await nest(opened + [store])
            }
        }
        try await nest([])
    }
}

func body(_ text: String) -> Data { Data(#"{"object":"whatsapp_business_account","entry":[{"id":"\#(text)"}]}"#.utf8) }

@Suite(.postgresServer) struct JournalConformanceTests {
    @Test(arguments: Backend.allCases)
    func appendedBodiesComeBackInOrderAsReceived(_ backend: Backend) async throws {
        try await withStores(backend) { stores in
            let store = stores[0]
            let sent = (0..<5).map { JournalAppend(receivedAt: 1_700_000_000 + Int64($0), body: body("order-\($0)")) }
            let ids = try await store.appendJournal(sent)
            #expect(ids.count == 5)
            #expect(ids == ids.sorted() && Set(ids).count == 5, "ids do not grow: \(ids)")
            let waiting = try await store.unappliedJournal(limit: 100)
            #expect(waiting.map(\.id) == ids)
            #expect(waiting.map(\.body) == sent.map(\.body))
            #expect(waiting.map(\.receivedAt) == sent.map(\.receivedAt))
            #expect(try await store.unappliedJournal(limit: 2).map(\.id) == Array(ids.prefix(2)))
            #expect(try await store.unappliedJournal(after: ids[1], limit: 100).map(\.id) == Array(ids.dropFirst(2)))
            // A later batch comes after.
            let later = try await store.appendJournal([JournalAppend(receivedAt: 1_700_000_010, body: body("later"))])
            #expect(later.count == 1 && later[0] > ids[4])
        }
    }

    @Test(arguments: Backend.allCases)
    func theAppliedMarkHidesAppliedBodiesAndNeverMovesBack(_ backend: Backend) async throws {
        try await withStores(backend) { stores in
            let store = stores[0]
            #expect(try await store.journalAppliedThrough() == 0)
            let ids = try await store.appendJournal((0..<4).map { JournalAppend(receivedAt: 1, body: body("mark-\($0)")) })
            try await store.markJournalApplied(through: ids[1])
            #expect(try await store.journalAppliedThrough() == ids[1])
            #expect(try await store.unappliedJournal(limit: 100).map(\.id) == Array(ids.dropFirst(2)))
            try await store.markJournalApplied(through: ids[0])
            #expect(try await store.journalAppliedThrough() == ids[1], "the mark moved back")
            try await store.markJournalApplied(through: ids[3])
            #expect(try await store.unappliedJournal(limit: 100).isEmpty)
        }
    }

    @Test(arguments: Backend.allCases)
    func aBodyDeliveredToTwoListenersIsJournaledOnceWhereListenersShare(_ backend: Backend) async throws {
        try await withStores(backend, count: 2) { stores in
            let delivered = JournalAppend(receivedAt: 1_700_000_000, body: body("wamid.twice"))
            // Meta delivers the same body to two listeners at once, each appending on its own.
            async let first = stores[0].appendJournal([delivered])
            async let second = stores[1].appendJournal([delivered, JournalAppend(receivedAt: 1, body: body("other"))])
            let (a, b) = try await (first, second)
            let rows = try await stores[0].unappliedJournal(limit: 100)
            let copies = rows.filter { $0.body == delivered.body }
            if stores[0].foldsRedeliveredBodies {
                #expect(copies.count == 1, "journaled \(copies.count) times")
                #expect(a.count + b.count == 2)
            } else {
                // SQLite: journaled again, applied as a no-op by the applier.
                #expect(copies.count == 2)
            }
            #expect(rows.contains { $0.body == body("other") })
            // A replay is journaled again on purpose, whatever the store.
            let replayed = try await stores[1].appendJournal([JournalAppend(receivedAt: 2, body: delivered.body, isReplay: true)])
            #expect(replayed.count == 1)
            #expect(try await stores[0].unappliedJournal(limit: 100).filter { $0.body == delivered.body }.count == copies.count + 1)
        }
    }

    /// Two listeners append while an applier reads behind them and moves the mark: the
    /// applier sees every body, none passed by the mark before it committed.
    @Test(arguments: Backend.allCases)
    func anApplierBehindTwoListenersMissesNothing(_ backend: Backend) async throws {
        try await withStores(backend, count: 3) { stores in
            let batches = 60, perBatch = 5
            let appending = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for listener in 0..<2 {
                        group.addTask {
                            for batch in 0..<batches {
                                try await stores[listener].appendJournal((0..<perBatch).map {
                                    JournalAppend(receivedAt: 1, body: body("l\(listener)-b\(batch)-\($0)"))
                                })
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            var seen: [Data] = []
            var lastID: Int64 = 0
            let deadline = Date().addingTimeInterval(120)
            while seen.count < 2 * batches * perBatch, Date() < deadline {
                let waiting = try await stores[2].unappliedJournal(limit: 7)
                guard let last = waiting.last else {
                    try await Task.sleep(for: .milliseconds(2))
                    continue
                }
                #expect(waiting.first!.id > lastID && waiting.map(\.id) == waiting.map(\.id).sorted())
                seen += waiting.map(\.body)
                lastID = last.id
                try await stores[2].markJournalApplied(through: last.id)
            }
            try await appending.value
            // Whatever committed after the last look.
            seen += try await stores[2].unappliedJournal(limit: 10_000).map(\.body)
            let expected = Set((0..<2).flatMap { l in (0..<batches).flatMap { b in (0..<perBatch).map { body("l\(l)-b\(b)-\($0)") } } })
            #expect(seen.count == expected.count)
            #expect(Set(seen) == expected, "the applier missed \(expected.subtracting(seen).count) bodies")
        }
    }

    @Test(arguments: Backend.allCases)
    func oneHolderAtATimeAndAStalledOneIsReplaced(_ backend: Backend) async throws {
        try await withStores(backend, count: 2) { stores in
            let a = LeaseClaimant(pid: 1001, host: "host-a"), b = LeaseClaimant(pid: 2002, host: "host-b")
            // Long enough that a busy machine never stalls a step past it (the checks just
            // after acquiring would see an expired lease), short enough to wait out below.
            let lifetime = Duration.seconds(10)
            #expect(try await stores[0].acquireApplierLease(a, lifetime: lifetime) == .acquired)
            #expect(try await stores[1].acquireApplierLease(b, lifetime: lifetime) == .heldBy(a))
            #expect(try await stores[0].acquireApplierLease(a, lifetime: lifetime) == .acquired, "the holder lost its own lease")
            // From before the last renewal: B may take over no sooner than a lifetime after it.
            let started = ContinuousClock.now
            #expect(try await stores[0].renewApplierLease(a))
            #expect(try await !stores[1].renewApplierLease(b))
            // A stops renewing (it hangs, or died): B takes over once the lifetime has passed.
            var attempt = try await stores[1].acquireApplierLease(b, lifetime: lifetime)
            let deadline = Date().addingTimeInterval(30)
            while attempt != .acquired, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
                attempt = try await stores[1].acquireApplierLease(b, lifetime: lifetime)
            }
            #expect(attempt == .acquired, "B never took over the stalled lease: \(attempt)")
            #expect(ContinuousClock.now - started >= lifetime - .milliseconds(100), "B took a lease A had just renewed")
            #expect(try await !stores[0].renewApplierLease(a), "A still renews a lease B holds")
            // Renewed just before, so that however slow the machine, B's lease is fresh here.
            #expect(try await stores[1].renewApplierLease(b))
            #expect(try await stores[0].acquireApplierLease(a, lifetime: lifetime) == .heldBy(b))
            // Released, it is free at once.
            try await stores[1].releaseApplierLease(b)
            #expect(try await stores[0].acquireApplierLease(a, lifetime: lifetime) == .acquired)
        }
    }

    @Test(arguments: Backend.allCases)
    func claimantsRacingForAFreeLeaseLeaveOneHolder(_ backend: Backend) async throws {
        try await withStores(backend, count: 2) { stores in
            let outcomes = try await withThrowingTaskGroup(of: LeaseAttempt.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        try await stores[index % 2].acquireApplierLease(LeaseClaimant(pid: Int32(100 + index), host: "racer"),
                                                                       lifetime: .seconds(60))
                    }
                }
                return try await group.reduce(into: [LeaseAttempt]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .acquired }.count == 1, "\(outcomes)")
        }
    }
}
