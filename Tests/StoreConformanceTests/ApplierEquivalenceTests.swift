import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Logging
import PostgresStore
import StoreContract
import Testing

// One random stream of webhook bodies (messages, echoes, statuses in any order, reactions,
// identities that later turn out to be one customer, account errors, broken bodies,
// redeliveries and replays) applied to SQLite and to PostgreSQL in batches of random sizes:
// both inboxes must read back the same, after every round.

private let quiet = Logger(label: "wabox.tests.equivalence") { _ in SwiftLogNoOpLogHandler() }

/// A small deterministic generator (SplitMix64): a failing seed replays the same stream.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Makes the bodies of the stream.
struct StreamMaker {
    var random: SeededGenerator
    var sent: [Data] = []

    /// Customers as webhooks may name them: some by number only, some by user id only,
    /// and some by both, which joins two contacts seen apart.
    static let identities: [(waID: String?, userID: String?)] = [
        ("33600000001", nil), ("33600000002", nil), (nil, "FR.user.3"), ("33600000003", "FR.user.3"),
        ("33600000004", nil), (nil, "FR.user.4"), ("33600000004", "FR.user.4"), ("33600000005", nil),
    ]
    static let names = ["Amélie", "Amélie Laurent", "Bob \"the\" builder", "زينب", nil]
    static let statuses = ["sent", "delivered", "read", "failed", "played", "deleted"]

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func pick<T>(_ values: [T]) -> T { values[int(0...values.count - 1)] }

    mutating func contact(_ identity: (waID: String?, userID: String?)) -> Bodies.JSON {
        var contact: Bodies.JSON = [:]
        if let waID = identity.waID { contact["wa_id"] = waID }
        if let userID = identity.userID { contact["user_id"] = userID }
        if let name = pick(Self.names) { contact["profile"] = ["name": name] }
        return contact
    }

    mutating func inbound() -> Bodies.JSON {
        let identity = pick(Self.identities)
        var message: Bodies.JSON = ["id": "wamid.in.\(int(0...39))", "timestamp": String(1_000 + int(0...500)),
                                    "type": "text", "text": ["body": "text \(int(0...9)) 🙂"]]
        if let waID = identity.waID { message["from"] = waID }
        if let userID = identity.userID { message["from_user_id"] = userID }
        if int(0...5) == 0 {
            message["type"] = "reaction"
            message["text"] = nil
            message["reaction"] = ["message_id": "wamid.in.\(int(0...39))", "emoji": pick(["👍", "❤️", ""])]
        }
        return Bodies.change(phone: pick([Bodies.phoneNumberID, Bodies.otherPhoneNumberID]),
                             ["contacts": [contact(identity)], "messages": [message]])
    }

    mutating func status() -> Bodies.JSON {
        Bodies.change(["statuses": [Bodies.statusObject("wamid.out.\(int(0...9))", pick(Self.statuses),
                                                        timestamp: Int64(1_000 + int(0...50)),
                                                        errorCode: int(0...3) == 0 ? 131026 : nil)]])
    }

    mutating func echo() -> Bodies.JSON {
        Bodies.change(field: "smb_message_echoes", ["message_echoes": [[
            "from": Bodies.displayNumber, "to": pick(["33600000001", "33600000002", "33600000005"]),
            "id": "wamid.out.\(int(0...9))", "timestamp": String(1_000 + int(0...50)), "type": "text",
            "text": ["body": "from the phone"],
        ]]])
    }

    /// The next body: new, or a copy of one sent before.
    mutating func next() -> JournalAppend {
        if !sent.isEmpty, int(0...6) == 0 {
            return JournalAppend(receivedAt: 2_000, body: pick(sent), isReplay: int(0...1) == 0)
        }
        let body: Data
        switch int(0...19) {
        case 0: body = Data(#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":"#.utf8 + Data("\(int(0...3))".utf8))
        case 1: body = Bodies.accountErrors(code: pick([131042, 368]), title: pick(["Payment issue", "Restricted"]))
        default:
            var changes: [Bodies.JSON] = []
            for _ in 0...int(0...2) {
                switch int(0...9) {
                case 0...4: changes.append(inbound())
                case 5...7: changes.append(status())
                default: changes.append(echo())
                }
            }
            body = Bodies.envelope([changes])
        }
        sent.append(body)
        return JournalAppend(receivedAt: 2_000, body: body)
    }
}

/// Runs `body` with a fresh SQLite inbox and a fresh PostgreSQL one, side by side.
func withBothStores(_ body: @Sendable (InboxDatabase, PostgresStore) async throws -> Void) async throws {
    let temporary = try TemporaryDatabase()
    defer { temporary.remove() }
    let server = try PostgresSuite.server
    let location = server.location(database: try await server.createDatabase())
    try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 3) { postgres in
        try await body(temporary.database, postgres)
    }
}

@Suite(.postgresServer) struct ApplierEquivalenceTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func aRandomStreamLeavesTheSameInboxOnBothStores(seed: UInt64) async throws {
        try await withBothStores { sqlite, postgres in
            var maker = StreamMaker(random: SeededGenerator(state: seed))
            for round in 0..<12 {
                let bodies = (0..<maker.int(1...25)).map { _ in maker.next() }
                for store in [sqlite, postgres] as [any ApplyingStore] {
                    try await store.appendJournal(bodies)
                }
                let batch = maker.int(1...16)
                _ = try await sqlite.applyAll(batch: batch)
                _ = try await postgres.applyAll(batch: batch)
                let expected = try await sqlite.inboxSnapshot(), found = try await postgres.inboxSnapshot()
                #expect(found == expected, "seed \(seed), round \(round): \(Self.difference(expected, found))")
                if found != expected { return }
            }
            // And the export, line for line.
            let sqliteLines = try await exportLines(sqlite), postgresLines = try await exportLines(postgres)
            #expect(postgresLines == sqliteLines, "seed \(seed): \(firstDifference(sqliteLines, postgresLines))")
            let final = try await sqlite.inboxSnapshot()
            // The stream reached every kind of row.
            #expect(!final.messages.isEmpty && !final.reactions.isEmpty && !final.deadLetters.isEmpty
                    && !final.accountErrors.isEmpty && final.messages.contains { $0.direction == "out" })
        }
    }

    /// The first rows that differ, for the failure message.
    static func difference(_ sqlite: InboxSnapshot, _ postgres: InboxSnapshot) -> String {
        func first<T: Equatable>(_ name: String, _ a: [T], _ b: [T]) -> String? {
            guard a != b else { return nil }
            let index = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
            return "\(name) (\(a.count) on SQLite, \(b.count) on PostgreSQL) differ at \(index): "
                + "SQLite \(index < a.count ? "\(a[index])" : "none"), PostgreSQL \(index < b.count ? "\(b[index])" : "none")"
        }
        return [first("conversations", sqlite.conversations, postgres.conversations),
                first("messages", sqlite.messages, postgres.messages),
                first("reactions", sqlite.reactions, postgres.reactions),
                first("dead letters", sqlite.deadLetters, postgres.deadLetters),
                first("account errors", sqlite.accountErrors, postgres.accountErrors),
                sqlite.statusEvents == postgres.statusEvents ? nil : "status events \(sqlite.statusEvents) vs \(postgres.statusEvents)"]
            .compactMap { $0 }.joined(separator: "; ")
    }
}
