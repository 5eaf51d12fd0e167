// How soon a webhook acknowledged by one `wabox serve` reaches a screen on another host
// (issue 19): the time from the listener's 200 to the commit's change reaching a change
// listener in this process, which stands where an agent's screen would (its own
// connection, LISTEN on `wabox_change`, the feed read after each notification, as
// PostgresChangeListener serves a screen).
//
//     wabox-feed-bench --db postgres://… --webhook http://127.0.0.1:PORT/webhook[,http://…]
//                      --app-secret SECRET [--count 400] [--rate 20]
//
// Each webhook is a new customer's first message, so its conversation is new and the
// change that carries it names it; the bench posts them at `rate` per second, round robin
// over the listeners given, and prints the latency's p50, p95, p99 and max in milliseconds.
// What it leaves out: drawing the screen (a few milliseconds, scripts/bench-screen).
import AsyncHTTPClient
import Foundation
import InboxCore
import Logging
import NIOCore
import PostgresNIO
import PostgresStore
import StoreContract
import Synchronization

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct Options {
    var database = ""
    var webhooks: [String] = []
    var appSecret = ""
    var count = 400
    var rate = 20

    init(_ arguments: [String]) throws {
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw BenchError("\(flag) needs a value") }
            switch flag {
            case "--db": database = value
            case "--webhook": webhooks = value.split(separator: ",").map(String.init)
            case "--app-secret": appSecret = value
            case "--count": count = Int(value) ?? 0
            case "--rate": rate = Int(value) ?? 0
            default: throw BenchError("unknown option \(flag)")
            }
        }
        guard !database.isEmpty, !webhooks.isEmpty, !appSecret.isEmpty, count > 0, rate > 0 else {
            throw BenchError("usage: wabox-feed-bench --db URL --webhook URL[,URL] --app-secret SECRET [--count N] [--rate R]")
        }
    }
}

/// When each customer's webhook was acknowledged and when its change was seen.
final class Timings: Sendable {
    struct Entry { var acked: ContinuousClock.Instant?; var seen: ContinuousClock.Instant? }
    let entries = Mutex<[String: Entry]>([:])

    func acked(_ waID: String, at instant: ContinuousClock.Instant) {
        entries.withLock { $0[waID, default: Entry()].acked = instant }
    }

    func seen(_ waID: String, at instant: ContinuousClock.Instant) {
        entries.withLock { entries in
            if entries[waID]?.seen == nil { entries[waID, default: Entry()].seen = instant }
        }
    }

    /// Latencies in milliseconds of the customers both acknowledged and seen, and how many
    /// acknowledged were never seen.
    func latencies() -> (milliseconds: [Double], unseen: Int) {
        entries.withLock { entries in
            var result: [Double] = []
            var unseen = 0
            for entry in entries.values {
                guard let acked = entry.acked else { continue }
                guard let seen = entry.seen else { unseen += 1; continue }
                // Seen before the 200 came back (the applier was quicker than the answer): 0.
                let duration = max(.zero, seen - acked)
                result.append(Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15)
            }
            return (result.sorted(), unseen)
        }
    }
}

func customer(_ index: Int) -> String { "4477" + String(format: "%08d", 10_000_000 + index) }

func body(_ index: Int) -> Data {
    let waID = customer(index)
    let now = Int(Date().timeIntervalSince1970)
    return Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Bench \(index)"},"wa_id":"\(waID)"}],
        "messages":[{"from":"\(waID)","id":"wamid.feedbench.\(index).\(now)","timestamp":"\(now)","type":"text",
        "text":{"body":"hello \(index)"}}]}}]}]}
        """.utf8)
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

let options: Options
do { options = try Options(CommandLine.arguments) } catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}
let logger = Logger(label: "feed-bench", factory: { _ in SwiftLogNoOpLogHandler() })
guard case .postgres(let location) = try StoreLocation.parse(options.database) else {
    FileHandle.standardError.write(Data("--db must be a postgres:// URL\n".utf8))
    exit(2)
}
let timings = Timings()
let signature = WebhookSignature(appSecret: options.appSecret)
let store = PostgresStore(location, logger: logger, maximumConnections: 4)

try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { await store.client.run() }
    // The screen's side: hears each commit, reads what changed, names the new customers.
    let start = try await store.feedPosition()
    let listener = PostgresChangeListener(location, logger: logger)
    let listening = Mutex(false)
    group.addTask {
        let read = Mutex<Int64>(start)
        await listener.run(after: start) { event in
            switch event {
            case .reachable: listening.withLock { $0 = true }
            case .unreachable: break
            case .changed:
                do {
                    let after = read.withLock { $0 }
                    let batch = try await store.feedChanges(after: after, limit: 10_000)
                    let now = ContinuousClock.now
                    read.withLock { $0 = batch.sequence }
                    let ids = batch.conversations(Set(ChangeBatch.Kind.allCases)).map(\.rawValue)
                    guard !ids.isEmpty else { return }
                    let rows = try await store.client.query("""
                        SELECT c.wa_id FROM conversation cv JOIN contact c ON c.id = cv.contact_id
                        WHERE cv.id = ANY(\(ids)::bigint[]) AND c.wa_id IS NOT NULL
                        """, logger: logger)
                    for try await waID in rows.decode(String.self) { timings.seen(waID, at: now) }
                } catch {
                    FileHandle.standardError.write(Data("reading the feed failed: \(error)\n".utf8))
                }
            }
        }
    }
    while !listening.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }

    // The listeners' side: a steady rate, round robin.
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    let interval = Duration.seconds(1) / options.rate
    let began = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { posts in
        for index in 0..<options.count {
            try await Task.sleep(until: began + interval * index, clock: .continuous)
            posts.addTask {
                let data = body(index)
                var request = HTTPClientRequest(url: options.webhooks[index % options.webhooks.count])
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "X-Hub-Signature-256", value: signature.header(for: data))
                request.body = .bytes(ByteBuffer(bytes: data))
                let response = try await http.execute(request, timeout: .seconds(30))
                let acked = ContinuousClock.now
                if response.status == .ok { timings.acked(customer(index), at: acked) }
                _ = try await response.body.collect(upTo: 1 << 16)
            }
        }
        try await posts.waitForAll()
    }
    try await http.shutdown()
    // Wait for the last changes (up to 10 s), then report.
    let deadline = ContinuousClock.now + .seconds(10)
    while timings.latencies().unseen > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
    let (sorted, unseen) = timings.latencies()
    let line = String(format: "feed latency, 200 to a change listener in another process: %d webhooks at %d/s over %d listener(s): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms; %d never seen",
                      sorted.count, options.rate, options.webhooks.count, percentile(sorted, 0.5), percentile(sorted, 0.95),
                      percentile(sorted, 0.99), sorted.last ?? .nan, unseen)
    print(line)
    group.cancelAll()
}
