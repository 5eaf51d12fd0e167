import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Logging
import PostgresNIO
import PostgresStore
import StoreContract
import Testing

// Replay's promises on every backend: what an older release set aside as a dead letter
// becomes a message once a release reads it; a message kept as of an unknown type gets its
// content when a later release learns the type; replaying again changes nothing; a body
// the applier has not reached is left to it. The reports are the same on both stores.

private let quiet = Logger(label: "wabox.tests.replay") { _ in SwiftLogNoOpLogHandler() }

/// One inbox of `backend` seen through releases with different decoders: `apply` journals
/// and applies bodies as `release` would, `replay` replays as it would.
private struct Releases: Sendable {
    var apply: @Sendable (_ release: WebhookDecoder.Configuration, _ bodies: [Data]) async throws -> Void
    var journalOnly: @Sendable (_ bodies: [Data]) async throws -> Void
    var replay: @Sendable (_ release: WebhookDecoder.Configuration, _ selection: ReplaySelection) async throws -> ReplayReport
    var snapshot: @Sendable () async throws -> InboxSnapshot
}

private func withReleases(_ backend: Backend, _ body: @Sendable (Releases) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let path = temporary.path
        @Sendable func open(_ release: WebhookDecoder.Configuration) throws -> InboxDatabase {
            try InboxDatabase(path: path, configuration: .init(account: TemporaryDatabase.defaultAccount, decoder: release))
        }
        try await body(Releases(
            apply: { release, bodies in try await open(release).journalAndApply(bodies) },
            journalOnly: { bodies in
                try await open(.init()).appendJournal(bodies.map { JournalAppend(receivedAt: 1_764_500_000, body: $0) })
            },
            replay: { release, selection in try open(release).replay(selection, now: 1_764_600_000) },
            snapshot: { try await open(.init()).inboxSnapshot() }))
    case .postgres:
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { current in
            @Sendable func with<T: Sendable>(_ release: WebhookDecoder.Configuration,
                                              _ work: @Sendable (PostgresStore) async throws -> T) async throws -> T {
                let store = PostgresStore(location, logger: quiet, maximumConnections: 2, decoder: release)
                return try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await store.client.run() }
                    defer { group.cancelAll() }
                    return try await work(store)
                }
            }
            try await body(Releases(
                apply: { release, bodies in try await with(release) { _ = try await $0.journalAndApply(bodies) } },
                journalOnly: { bodies in
                    try await current.appendJournal(bodies.map { JournalAppend(receivedAt: 1_764_500_000, body: $0) })
                },
                replay: { release, selection in try await with(release) { try await $0.replay(selection, now: 1_764_600_000) } },
                snapshot: { try await current.inboxSnapshot() }))
        }
    }
}

@Suite(.postgresServer) struct ReplayConformanceTests {
    static func poll(_ id: String, question: String, timestamp: Int64) -> Data {
        Bodies.single(["contacts": [Bodies.contact("33612345678", name: "Amélie Laurent")],
                       "messages": [["from": "33612345678", "id": id, "timestamp": String(timestamp), "type": "poll",
                                     "poll": ["question": question]]]])
    }

    @Test(arguments: Backend.allCases)
    func whatAnOlderReleaseSetAsideBecomesAMessageOnce(_ backend: Backend) async throws {
        try await withReleases(backend) { releases in
            try await releases.apply(InboxTesting.Releases.refusingPolls, [
                Self.poll("wamid.poll.1", question: "Which day?", timestamp: 1_764_400_000),
                Bodies.text("wamid.text.1", from: "33612345678", timestamp: 1_764_400_010, text: "hello"),
            ])
            var snapshot = try await releases.snapshot()
            #expect(snapshot.deadLetters.count == 1 && snapshot.messages.map(\.wamid) == ["wamid.text.1"])
            // Not applied yet: left to the applier.
            try await releases.journalOnly([Self.poll("wamid.poll.2", question: "Which time?", timestamp: 1_764_400_020)])

            // This release reads a poll as a message of a type it does not know.
            let first = try await releases.replay(.init(), .deadLetters)
            #expect(first.bodies == 1 && first.deadLettersToMessages == 1 && first.failures.isEmpty, "\(first)")
            snapshot = try await releases.snapshot()
            #expect(snapshot.messages.compactMap(\.wamid).sorted() == ["wamid.poll.1", "wamid.text.1"])
            #expect(snapshot.deadLetters.count == 1, "the dead letter's row stays, marked replayed")
            // Its message is still of a type this release does not know, so --dead-letters
            // still selects its body; replaying it changes nothing.
            let second = try await releases.replay(.init(), .deadLetters)
            #expect(second.bodies == 1 && second.changes == 0 && second.unchanged == 1, "\(second)")

            // A later release learns polls: the message gets its content, in its row.
            let learned = try await releases.replay(InboxTesting.Releases.learned, .receivedSince(0))
            #expect(learned.bodies == 2 && learned.messagesRead == 1 && learned.unchanged == 1, "\(learned)")
            #expect(learned.notApplied.count == 1, "\(learned)")
            snapshot = try await releases.snapshot()
            #expect(snapshot.messages.first { $0.wamid == "wamid.poll.1" }?.text == "Poll: Which day?")
            // Again: nothing changes.
            let again = try await releases.replay(InboxTesting.Releases.learned, .receivedSince(0))
            #expect(again.changes == 0 && again.unchanged == 2, "\(again)")
            // An id the journal does not hold.
            let missing = try await releases.replay(.init(), .ids([987_654]))
            #expect(missing.missing == [987_654] && missing.bodies == 0)
        }
    }
}
