import AsyncHTTPClient
import Crypto
import Foundation
import InboxCore
import InboxTesting
import Logging
import NIOCore
import PostgresNIO
import PostgresStore
import Synchronization
import Testing

/// What the load's workers share: how many 200s so far, and when to stop.
private final class LoadState: Sendable {
    let acknowledged = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
}

private let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// `wabox serve --db postgres://…` (issue 19), the real binary on a PostgreSQL of the
/// suite's own: several listeners on one database, each journaling and acknowledging; a
/// body delivered to two journaled once; a listener killed under load losing nothing it
/// acknowledged; start-up failures in words, the password in none of them.
@Suite(.postgresServer, .serialized, .timeLimit(.minutes(10)))
struct PostgresServeEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-pgserve")
    }

    /// A text webhook of its own for `index`, from one of a few customers.
    private func body(_ label: String, _ index: Int) -> Data {
        UpdateBodies.text(id: "wamid.\(label).\(index)", from: "3361100\(index % 5)", timestamp: 1_764_400_000 + Int64(index),
                          body: "\(label) \(index)")
    }

    /// Every body in the journal, as a set of their SHA-256 digests (hex).
    private func journaledDigests(_ location: PostgresLocation) async throws -> Set<String> {
        try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { store in
            var digests = Set<String>()
            for try await digest in try await store.client.query("SELECT encode(sha256(body), 'hex') FROM journal",
                                                                 logger: quiet).decode(String.self) {
                digests.insert(digest)
            }
            return digests
        }
    }

    private func digest(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    private func post(_ http: HTTPClient, _ body: Data, port: Int) async throws -> Int {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Hub-Signature-256", value: WebhookSignature(appSecret: Fixtures.appSecret).header(for: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        return Int(try await http.execute(request, deadline: .now() + .seconds(60)).status.code)
    }

    private func withHTTP<Result>(_ body: (HTTPClient) async throws -> Result) async throws -> Result {
        let http = HTTPClient(eventLoopGroupProvider: .singleton,
                              configuration: .init(timeout: .init(connect: .seconds(30), read: .seconds(60))))
        do {
            let result = try await body(http)
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    @Test func twoListenersJournalOnOneDatabaseAndABodyDeliveredToBothOnce() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let url = server.url(database: database)
        try await withProcesses { scope in
            let (first, firstPort) = try await startServe(in: scope, database: url)
            let (second, secondPort) = try await startServe(in: scope, database: url)
            try await withHTTP { http in
                // Meta delivers one body to both listeners (behind a load balancer, a retry
                // lands on the other): both acknowledge, the journal keeps it once.
                let shared = body("both", 0)
                #expect(try await post(http, shared, port: firstPort) == 200)
                #expect(try await post(http, shared, port: secondPort) == 200)
                var sent = [shared]
                for index in 1...20 {
                    let own = body("own", index)
                    #expect(try await post(http, own, port: index.isMultiple(of: 2) ? firstPort : secondPort) == 200)
                    sent.append(own)
                }
                let journaled = try await journaledDigests(server.location(database: database))
                #expect(journaled == Set(sent.map(digest)), "the journal holds each body acknowledged, once")
                let count = try await PostgresStore.withStore(server.location(database: database), logger: quiet) {
                    try await $0.journalCount()
                }
                #expect(count == sent.count)
            }
            let health = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:\(firstPort)/healthz"])
            #expect(health.stdout.contains(#""database":"ok""#), "\(health.stdout)")
            let ready = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:\(secondPort)/readyz"])
            #expect(ready.stdout == "ready\n", "\(ready.stdout)")
            #expect(await first.stop() == 0)
            #expect(await second.stop() == 0)
            for log in [first.log, second.log] {
                #expect(!log.contains(server.password), "the database password was logged:\n\(log)")
                #expect(log.contains("postgres://\(server.user):***@127.0.0.1:\(server.port)/\(database)"), "\(log)")
                // Everything serve runs on SQLite runs here too (no transcripts are asked for).
                #expect(!log.contains("not started:"), "\(log)")
                #expect(!log.contains(Fixtures.appSecret))
            }
        }
    }

    /// Load on two listeners; one is killed with SIGKILL in the middle of it. Every body
    /// either acknowledged with 200 is in the journal, and the survivor answered every
    /// request with 200.
    @Test func aListenerKilledUnderLoadLosesNothingItAcknowledged() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let location = server.location(database: database)
        try await withProcesses { scope in
            let (victim, victimPort) = try await startServe(in: scope, database: server.url(database: database))
            let (survivor, survivorPort) = try await startServe(in: scope, database: server.url(database: database))
            struct Outcome: Sendable { var digest: String; var toSurvivor: Bool; var status: Int? }
            let load = LoadState()
            let outcomes = try await withHTTP { http in
                try await withThrowingTaskGroup(of: [Outcome].self) { group in
                    for worker in 0..<6 {
                        let toSurvivor = worker.isMultiple(of: 2)
                        group.addTask {
                            var mine: [Outcome] = []
                            var index = 0
                            while !load.stop.load(ordering: .acquiring) {
                                let data = body("load\(worker)", index)
                                index += 1
                                let status = try? await post(http, data, port: toSurvivor ? survivorPort : victimPort)
                                mine.append(Outcome(digest: digest(data), toSurvivor: toSurvivor, status: status))
                                if status == 200 { load.acknowledged.add(1, ordering: .relaxed) }
                                // The victim is gone: its workers stop once they have seen it refuse.
                                if !toSurvivor, status != 200, !victim.isRunning { break }
                            }
                            return mine
                        }
                    }
                    group.addTask {
                        _ = try await waitUntil(timeout: 120) { load.acknowledged.load(ordering: .relaxed) >= 300 }
                        victim.send(SIGKILL)
                        let atKill = load.acknowledged.load(ordering: .relaxed)
                        // The survivor goes on alone for as many again.
                        _ = try await waitUntil(timeout: 120) { load.acknowledged.load(ordering: .relaxed) >= atKill + 300 }
                        load.stop.store(true, ordering: .releasing)
                        return []
                    }
                    var all: [Outcome] = []
                    for try await part in group { all += part }
                    return all
                }
            }
            #expect(!victim.isRunning, "the victim was not killed")
            let toSurvivor = outcomes.filter(\.toSurvivor)
            #expect(toSurvivor.count >= 300)
            let refusedBySurvivor = toSurvivor.filter { $0.status != 200 }
            #expect(refusedBySurvivor.isEmpty, "the survivor answered \(refusedBySurvivor.count) requests with no 200")
            let acked = Set(outcomes.filter { $0.status == 200 }.map(\.digest))
            #expect(acked.count >= 600)
            let journaled = try await journaledDigests(location)
            let lost = acked.subtracting(journaled)
            #expect(lost.isEmpty, "\(lost.count) of \(acked.count) acknowledged webhooks are not in the journal")
            // Whichever of the two held the applier lease, the survivor applies every body:
            // it takes the lease over once the victim's has lapsed. Each body is one message.
            let (messages, journaledCount) = try await PostgresStore.withStore(location, logger: quiet,
                                                                             maximumConnections: 2) { store in
                let deadline = ContinuousClock.now + .seconds(120)
                while ContinuousClock.now < deadline, try await store.journalProgressNow().lag > 0 {
                    try await Task.sleep(for: .milliseconds(100))
                }
                return (try await store.inboxSnapshot().messages.count, try await store.journalCount())
            }
            #expect(messages == journaledCount, "\(messages) messages applied of \(journaledCount) bodies journaled")
            #expect(await survivor.stop() == 0)
        }
    }

    /// A start that cannot reach the database ends at once, exit status 1, with one line that
    /// says what to do; none holds the password.
    @Test func connectionProblemsAreOneClearMessage() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try PostgresSuite.server
        let database = try await server.createDatabase()
        let closed = try closedPort()
        let cases: [(url: String, says: String, secret: String)] = [
            ("postgres://\(server.user):wrong-password-6173@127.0.0.1:\(server.port)/\(database)?sslmode=disable",
             "refused user \(server.user) or its password", "wrong-password-6173"),
            ("postgres://\(server.user):\(server.password)@127.0.0.1:\(server.port)/no_such_database?sslmode=disable",
             "has no database named no_such_database", server.password),
            ("postgres://\(server.user):\(server.password)@127.0.0.1:\(closed)/\(database)?sslmode=disable",
             "nothing accepts connections at 127.0.0.1:\(closed)", server.password),
            ("postgres://\(server.user):\(server.password)@127.0.0.1:\(server.port)/\(database)?sslmode=require",
             "does not offer TLS, which sslmode=require asks for", server.password),
        ]
        for (url, says, secret) in cases {
            for (arguments, extra) in [(["serve", "--db", url, "--listen", "127.0.0.1:0"], [:]),
                                       (["serve", "--listen", "127.0.0.1:0"], ["WABOX_DB": url])] {
                let result = try await blockingWork {
                    try runCommand(try waboxBinary(), arguments, environment: environment.merging(extra) { $1 })
                }
                #expect(result.status == 1, "\(says): \(result.stderr)")
                #expect(result.stderr.contains(says), "expected “\(says)” in:\n\(result.stderr)")
                #expect(!result.stderr.contains(secret) && !result.stdout.contains(secret), "the password was printed:\n\(result.stderr)")
                #expect(!result.stderr.contains("wabox serve listening on"), "\(result.stderr)")
            }
        }
    }
}
