import Foundation
import InboxCore
import InboxStore
import InboxTesting
import PostgresStore
import StoreContract
import Testing

// The search's promises (StoreContract.SearchStore), written once and run against every
// backend: the same inbox gives the same messages, in the same order, and the same
// conversations for the list filter, on SQLite's FTS5 and trigram index and on
// PostgreSQL's tsvector and pg_trgm.

private let customers: [(waID: String, name: String)] = [
    ("33612345678", "Amélie Laurent"), ("4915112345678", "Jürgen Groß"), ("79161234567", "Дмитрий Иванов"),
    ("819012345678", "佐藤 花子"), ("5511987654321", "joão_silva"),
]

/// Texts the customers write, one per message, oldest first (customer index, text).
private let texts: [(Int, String)] = [
    (0, "Bonjour, ma commande n'est pas arrivée"),
    (1, "Wo ist meine Bestellung? Nummer 4471"),
    (2, "Привет! Где мой заказ?"),
    (3, "注文はまだ届いていません"),
    (0, "Où est mon colis ? COMMANDE 4471"),
    (4, "Oi, meu pedido 4471-B chegou quebrado"),
    (1, "Danke, alles gut"),
    (0, "avant\u{0}après la livraison"),
]

private func wamid(_ index: Int) -> String { "wamid.search.\(index)" }

/// The inbox every test searches: the texts above as webhooks, applied.
private func fill(_ store: ApplyingInbox) async throws {
    try await store.journalAndApply(texts.enumerated().map { index, message in
        let customer = customers[message.0]
        return UpdateBodies.text(id: wamid(index), from: customer.waID, name: customer.name,
                                 timestamp: 1_764_400_000 + Int64(index) * 60, body: message.1)
    })
}

private func search(_ store: ApplyingInbox) -> any SearchStore { store as! any SearchStore }

@Suite(.postgresServer) struct SearchConformanceTests {
    /// Each query, and the messages it finds, newest first.
    static let queries: [(String, [Int])] = [
        ("commande", [4, 0]),
        ("COMM", [4, 0]),
        ("arrivee", [0]),
        ("colis ou", [4]),
        ("4471", [5, 4, 1]),
        ("4471 commande", [4]),
        ("bestell", [1]),
        ("gross", []),               // a name is not a message's text
        ("заказ", [2]),
        ("ГДЕ", [2]),
        ("apres", [7]),
        ("livraison avant", [7]),
        ("quebr", [5]),
        ("b", [5, 1, 0]),             // "4471-B", "Bestellung", "Bonjour": word starts only
        ("xyz", []),
        ("  ", []),
        ("?!", []),
    ]

    @Test(arguments: Backend.allCases)
    func theSameQueriesFindTheSameMessagesNewestFirst(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            try await fill(store)
            for (query, expected) in Self.queries {
                let hits = try await search(store).searchHits(query, limit: 50, includeDeleted: false)
                #expect(hits.map(\.wamid) == expected.map(wamid), "“\(query)” on \(backend)")
                for hit in hits {
                    #expect(hit.phoneNumberID == Bodies.phoneNumberID)
                    #expect(!hit.snippet.isEmpty, "“\(query)”")
                }
            }
            // The limit keeps the newest.
            let two = try await search(store).searchHits("4471", limit: 2, includeDeleted: false)
            #expect(two.map(\.wamid) == [wamid(5), wamid(4)])
            // A NUL in the text stays in the snippet, as written.
            let nul = try await search(store).searchHits("apres", limit: 5, includeDeleted: false)
            #expect(nul.first?.snippet.contains("avant\u{0}après") == true, "\(nul.map(\.snippet))")
        }
    }

    @Test(arguments: Backend.allCases)
    func anEditIsFoundByItsNewWordsAndADeletionHidesTheMessage(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            try await fill(store)
            let amelie = customers[0].waID
            try await store.journalAndApply([
                UpdateBodies.edit(id: "wamid.search.edit", of: wamid(0), from: amelie, timestamp: 1_764_401_000,
                                  body: "Bonjour, mon paquet est perdu"),
                UpdateBodies.revoke(id: "wamid.search.revoke", of: wamid(6), from: customers[1].waID, timestamp: 1_764_401_010),
            ])
            #expect(try await search(store).searchHits("paquet", limit: 50, includeDeleted: false).map(\.wamid) == [wamid(0)])
            #expect(try await search(store).searchHits("arrivee", limit: 50, includeDeleted: false).isEmpty)
            #expect(try await search(store).searchHits("danke", limit: 50, includeDeleted: false).isEmpty)
            #expect(try await search(store).searchHits("danke", limit: 50, includeDeleted: true).map(\.wamid) == [wamid(6)])
        }
    }

    @Test(arguments: Backend.allCases)
    func theListFilterFindsContactsByNameNumberAndUsername(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            try await fill(store)
            let cases: [(String, [Int])] = [
                ("amelie", [0]),
                ("LAURENT", [0]),
                ("jurgen", [1]),
                ("дмитрий", [2]),
                ("佐藤", [3]),
                ("joão_s", [4]),
                ("+49 151", [1]),           // digits typed with spaces and a plus
                ("4567", [0, 1, 3, 2]),     // in four numbers; newest activity first
                ("", [0, 1, 4, 3, 2]),
                ("nobody", []),
            ]
            for (typed, expected) in cases {
                let keys = try await search(store).conversations(withContactMatching: typed, limit: 50)
                #expect(keys.map(\.contactWaID) == expected.map { customers[$0].waID }, "“\(typed)” on \(backend)")
            }
            #expect(try await search(store).conversations(withContactMatching: "", limit: 2).count == 2)
        }
    }

    @Test(arguments: Backend.allCases)
    func aWordLongerThanAnIndexKeepsIsStillFoundAndTheOthersToo(_ backend: Backend) async throws {
        try await withInbox(backend) { store in
            let long = "Z" + String(repeating: "é", count: 3_000) + "q"
            try await store.journalAndApply([
                UpdateBodies.text(id: "wamid.long.1", from: customers[0].waID, timestamp: 1_764_400_000, body: "début \(long) fin"),
                UpdateBodies.text(id: "wamid.long.2", from: customers[1].waID, timestamp: 1_764_400_010, body: "after the long one"),
            ])
            #expect(try await search(store).searchHits("fin", limit: 5, includeDeleted: false).map(\.wamid) == ["wamid.long.1"])
            #expect(try await search(store).searchHits("zeee", limit: 5, includeDeleted: false).map(\.wamid) == ["wamid.long.1"])
            #expect(try await search(store).searchHits("after long", limit: 5, includeDeleted: false).map(\.wamid)
                    == ["wamid.long.2"])
        }
    }
}
