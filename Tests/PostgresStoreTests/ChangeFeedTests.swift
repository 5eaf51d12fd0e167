import Foundation
import InboxCore
import InboxTesting
import Logging
import PostgresNIO
@testable import PostgresStore
import StoreContract
import Synchronization
import Testing

/// What a listener heard, in order.
final class HeardEvents: Sendable {
    private let events = Mutex<[PostgresChangeListener.Event]>([])
    func add(_ event: PostgresChangeListener.Event) { events.withLock { $0.append(event) } }
    var all: [PostgresChangeListener.Event] { events.withLock { $0 } }
    var positions: [Int64] { all.compactMap { if case .changed(let position) = $0 { position } else { nil } } }
    var unreachable: Int { all.filter { if case .unreachable = $0 { true } else { false } }.count }
    var reachable: Int { all.filter { $0 == .reachable }.count }
}

/// Runs `body` with a store on a fresh database of the suite's server.
func withFreshStore(_ body: @Sendable (PostgresStore, PostgresLocation) async throws -> Void) async throws {
    let server = try PostgresSuite.server
    let location = server.location(database: try await server.createDatabase())
    try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 4) { store in
        try await body(store, location)
    }
}

/// A listener running for the length of `body`.
func withListener(_ location: PostgresLocation, configuration: PostgresChangeListener.Configuration = .init(),
                  _ body: @Sendable (HeardEvents) async throws -> Void) async throws {
    let heard = HeardEvents()
    let listener = PostgresChangeListener(location, configuration: configuration, logger: quiet)
    let running = Task { await listener.run { heard.add($0) } }
    defer { running.cancel() }
    try await body(heard)
    running.cancel()
    await running.value
}

@Suite(.postgresServer) struct PostgresChangeFeedTests {
    @Test func changesAreNumberedAtCommitAndReadByKind() async throws {
        try await withFreshStore { store, _ in
            #expect(try await store.feedPosition() == 0)
            try await store.client.withTransaction(logger: quiet) { connection in
                try await store.noteChange(conversation: 7, kind: .message, on: connection)
                try await store.noteChange(conversation: 7, kind: .status, on: connection)
                try await store.noteChange(conversation: 9, kind: .message, on: connection)
                try await store.noteChange(conversation: nil, kind: .workbench, on: connection)
            }
            #expect(try await store.feedPosition() == 4)
            let batch = try await store.feedChanges(after: 0, limit: 100)
            #expect(batch.sequence == 4)
            #expect(batch.conversations[.message] == [ConversationID(rawValue: 7), ConversationID(rawValue: 9)])
            #expect(batch.conversations[.status] == [ConversationID(rawValue: 7)])
            #expect(batch.workbench && !batch.overflow)
            #expect(try await store.feedChanges(after: 4, limit: 100).isEmpty)
            #expect(try await store.feedChanges(after: 1, limit: 2).overflow, "three rows past 1 do not fit in two")
        }
    }

    /// The promise that makes "read after my last position" safe: a transaction that
    /// noted its change first but commits last is numbered last.
    @Test func aTransactionThatCommitsLaterIsNumberedLater() async throws {
        try await withFreshStore { store, location in
            let configuration = try PostgresStore.connectionConfiguration(location)
            let early = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: quiet)
            let late = try await PostgresConnection.connect(configuration: configuration, id: 2, logger: quiet)
            defer {
                Task {
                    try? await early.close()
                    try? await late.close()
                }
            }
            try await early.query("BEGIN", logger: quiet)
            try await store.noteChange(conversation: 1, kind: .message, on: early)
            try await late.query("BEGIN", logger: quiet)
            try await store.noteChange(conversation: 2, kind: .message, on: late)
            try await late.query("COMMIT", logger: quiet)
            // A screen reads now: it sees the late transaction's change, and only that.
            let first = try await store.feedChanges(after: 0, limit: 100)
            #expect(first.sequence == 1 && first.conversations[.message] == [ConversationID(rawValue: 2)])
            try await early.query("COMMIT", logger: quiet)
            // …and reading after position 1 finds the early one, numbered after it.
            let second = try await store.feedChanges(after: first.sequence, limit: 100)
            #expect(second.sequence == 2 && second.conversations[.message] == [ConversationID(rawValue: 1)])
        }
    }

    @Test func aRolledBackTransactionLeavesNoChangeAndNoGap() async throws {
        try await withFreshStore { store, _ in
            struct Abandon: Error {}
            await #expect(throws: PostgresTransactionError.self) {
                try await store.client.withTransaction(logger: quiet) { connection in
                    try await store.noteChange(conversation: 3, kind: .claim, on: connection)
                    throw Abandon()
                }
            }
            try await store.client.withTransaction(logger: quiet) { connection in
                try await store.noteChange(conversation: 4, kind: .claim, on: connection)
            }
            let batch = try await store.feedChanges(after: 0, limit: 100)
            #expect(batch.sequence == 1 && !batch.overflow)
            #expect(batch.conversations[.claim] == [ConversationID(rawValue: 4)])
        }
    }

    @Test func theFeedIsPrunedAndAReaderFarBehindReloads() async throws {
        try await withFreshStore { store, _ in
            let total = ChangeBatch.kept + 2_000
            _ = try await store.client.withTransaction(logger: quiet) { connection in
                // As wabox_note_change does, in one statement (a SELECT of the function would
                // return a row per change, for the client to read before the commit).
                try await connection.query("""
                    INSERT INTO change_pending (conversation_id, kind) SELECT n, 'message' FROM generate_series(1, \(total)) AS n
                    """, logger: quiet)
            }
            #expect(try await store.feedPosition() == Int64(total))
            var kept = 0
            for try await count in try await store.client.query("SELECT count(*) FROM change").decode(Int.self) {
                kept = count
            }
            #expect(kept <= ChangeBatch.kept + 1_000, "old rows are pruned (\(kept) kept)")
            #expect(try await store.feedChanges(after: 0, limit: 100_000).overflow, "a reader past the pruned rows reloads")
            let recent = try await store.feedChanges(after: Int64(total - 10), limit: 100)
            #expect(!recent.overflow && recent.conversations[.message]?.count == 10)
        }
    }

    @Test func aListeningScreenHearsEachCommit() async throws {
        try await withFreshStore { store, location in
            // A poll far slower than the test: what arrives, arrives by notification.
            var configuration = PostgresChangeListener.Configuration()
            configuration.pollEvery = .seconds(600)
            try await withListener(location, configuration: configuration) { heard in
                // Reachable once LISTEN is acknowledged: nothing committed from here on goes unheard.
                #expect(try await waitUntil(timeout: 30) { heard.reachable == 1 })
                for round in 1...3 {
                    try await store.client.withTransaction(logger: quiet) { connection in
                        try await store.noteChange(conversation: Int64(round), kind: .message, on: connection)
                        try await store.noteChange(conversation: Int64(round), kind: .read, on: connection)
                    }
                    let position = Int64(round * 2)
                    #expect(try await waitUntil(timeout: 30) { heard.positions.last == position }, "\(heard.all)")
                }
                #expect(heard.positions == [2, 4, 6], "each position once, in order")
            }
        }
    }

    @Test func withoutNotificationsThePollCatchesUp() async throws {
        try await withFreshStore { store, location in
            var configuration = PostgresChangeListener.Configuration()
            configuration.listens = false
            configuration.pollEvery = .milliseconds(100)
            try await withListener(location, configuration: configuration) { heard in
                try await store.client.withTransaction(logger: quiet) { connection in
                    try await store.noteChange(conversation: 5, kind: .note, on: connection)
                }
                #expect(try await waitUntil(timeout: 30) { heard.positions.last == 1 }, "\(heard.all)")
            }
        }
    }

    @Test func aDroppedConnectionIsSaidAndComesBackWithWhatChangedMeanwhile() async throws {
        try await withFreshStore { store, location in
            var configuration = PostgresChangeListener.Configuration()
            configuration.pollEvery = .seconds(600)
            configuration.firstRetry = .milliseconds(300)
            try await withListener(location, configuration: configuration) { heard in
                #expect(try await waitUntil(timeout: 30) { heard.reachable == 1 })
                // The database ends the listener's connection (a restart, a failover, a proxy).
                try await store.client.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = \(PostgresChangeListener.applicationName)
                    """, logger: quiet)
                #expect(try await waitUntil(timeout: 30) { heard.unreachable >= 1 }, "\(heard.all)")
                // Changed while it was away: heard once it is back (its first poll), though
                // no notification reached it.
                try await store.client.withTransaction(logger: quiet) { connection in
                    try await store.noteChange(conversation: 6, kind: .message, on: connection)
                }
                #expect(try await waitUntil(timeout: 30) { heard.reachable >= 2 && heard.positions.last == 1 },
                        "\(heard.all)")
            }
        }
    }

    @Test func anUnreachableDatabaseIsSaidInWords() async throws {
        let server = try PostgresSuite.server
        var location = server.location(database: "postgres")
        location.port = try closedPort()
        var configuration = PostgresChangeListener.Configuration()
        configuration.firstRetry = .milliseconds(100)
        try await withListener(location, configuration: configuration) { heard in
            let retried = try await waitUntil(timeout: 30) { heard.unreachable >= 2 }
            #expect(retried, "it keeps trying: \(heard.all)")
            #expect(heard.reachable == 0 && heard.positions.isEmpty)
            let said = heard.all.compactMap { if case .unreachable(let reason) = $0 { reason } else { nil } }
            #expect(said.allSatisfy { !$0.isEmpty && !$0.contains(server.password) }, "\(said)")
        }
    }
}

/// The applier's bell on PostgreSQL: an append rings it in its own process, and another
/// listener's append rings it through `LISTEN wabox_journal`.
@Suite(.postgresServer) struct JournalBellTests {
    @Test func anAppendByAnotherListenerRingsTheBell() async throws {
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { applier in
            try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { other in
                let bell = try #require(applier.journalAppends)
                let following = Task { await applier.followJournal() }
                defer { following.cancel() }
                // Listening: the follower rings once when its LISTEN is acknowledged.
                #expect(try await waitUntil(timeout: 30) { bell.generation > 0 })
                let before = bell.generation
                try await other.appendJournal([JournalAppend(receivedAt: 1_764_400_000, body: Data("{}".utf8))])
                await bell.wait(after: before, timeout: .seconds(30))
                #expect(bell.generation > before, "another listener's append did not ring the bell")
                // This process's own append rings it without the database.
                let own = bell.generation
                try await applier.appendJournal([JournalAppend(receivedAt: 1_764_400_001, body: Data("{\"a\":1}".utf8))])
                #expect(bell.generation > own)
                // A body folded into one journaled already rings nothing of its own.
                let folded = (other.journalAppends?.generation ?? 0)
                try await other.appendJournal([JournalAppend(receivedAt: 1_764_400_002, body: Data("{}".utf8))])
                #expect(other.journalAppends?.generation == folded)
            }
        }
    }

    @Test func aWaitEndsAtTheRingItWaitsForOrAtItsTimeout() async throws {
        let bell = JournalBell()
        bell.ring()
        // Rung past generation 0 already: no wait at all (a wait of an hour would hang the test).
        await bell.wait(after: 0, timeout: .seconds(3_600))
        #expect(bell.generation == 1)
        let waiting = Task { await bell.wait(after: 1, timeout: .seconds(3_600)) }
        try await Task.sleep(for: .milliseconds(50))
        bell.ring()
        await waiting.value
        // Not rung: the timeout ends it.
        await bell.wait(after: bell.generation, timeout: .milliseconds(20))
        // Cancelled: it ends too.
        let cancelled = Task { await bell.wait(after: bell.generation, timeout: .seconds(3_600)) }
        cancelled.cancel()
        await cancelled.value
    }
}
