// Measures the screen at scale: 10,000 conversations and 200,000 messages in a real
// SQLite file, the real reducer, store queries and renderer, an in-memory terminal.
// Prints the time to the first frame and the time to redraw after a filter key press,
// for free text and for the filter language's `~` terms, case by case.
//
//     scripts/bench-screen [--conversations N] [--messages-per-conversation M] [--db PATH]
//
// `--db PATH` keeps the generated inbox in PATH and reuses it on the next run (a million
// conversations take a while to make); without it the inbox is made afresh and deleted.
//
// Two more modes serve scripts/bench-screen-under-load: `--populate PATH` fills a database
// file and exits; `--attach PATH --seconds S` runs the screen on a database that another
// process (a `wabox serve` under load) writes to, and times each key press (UnderLoad.swift).
// `--store-ingest N` measures the store's side of webhook ingest without HTTP (StoreIngest.swift).
// `--preview RUNS` times a 12-megapixel photo's inline preview and the redraws after it (PreviewBench.swift).
import Foundation
import InboxCore
import InboxStore
import InboxTUI
import Synchronization

struct Options {
    var conversations = 10_000
    var messagesPerConversation = 20
    var width = 200
    var height = 50
    /// Fill this database file and exit.
    var populatePath: String?
    /// Keep the benchmark's inbox here and reuse it when it is already filled.
    var databasePath: String?
    /// Run the screen attached to this database file, which another process writes to.
    var attachPath: String?
    var seconds = 15
    var storeIngest = 0
    var storeIngestPath = "/tmp/store-ingest.sqlite"
    var batch = 16
    /// Mean time between two key presses in `--attach` mode (a person typing steadily).
    var keyIntervalMilliseconds = 150
    /// Time the inline preview of a 12-megapixel photo this many times, and exit.
    var previewRuns = 0

    init(_ arguments: [String]) throws {
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            guard let text = rest.popFirst() else { throw BenchError("\(flag) needs a value") }
            switch flag {
            case "--populate": populatePath = text; continue
            case "--db": databasePath = text; continue
            case "--attach": attachPath = text; continue
            case "--store-ingest-db": storeIngestPath = text; continue
            default: break
            }
            guard let value = Int(text), value > 0 else { throw BenchError("\(flag) needs a positive number") }
            switch flag {
            case "--conversations": conversations = value
            case "--messages-per-conversation": messagesPerConversation = value
            case "--width": width = value
            case "--height": height = value
            case "--seconds": seconds = value
            case "--store-ingest": storeIngest = value
            case "--batch": batch = value
            case "--key-interval-ms": keyIntervalMilliseconds = value
            case "--preview": previewRuns = value
            default:
                throw BenchError("""
                    unknown option \(flag); use --conversations N, --messages-per-conversation M, --width W, --height H, \
                    --db PATH, --populate PATH, --attach PATH, --seconds S, --key-interval-ms MS, \
                    --store-ingest N, --batch B, --store-ingest-db PATH, --preview RUNS
                    """)
            }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func milliseconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

/// How long each of `runs` renders of `state` with the built-in theme took, in milliseconds.
func renderTimes(of state: AppState, runs: Int) -> [Double] {
    (0..<runs).map { _ in
        let start = ContinuousClock.now
        _ = render(state, theme: .builtIn)
        return milliseconds(since: start)
    }
}

/// CPU time of this process so far, in milliseconds: on a machine that other work shares,
/// wall time also counts the waits for a core.
func cpuMilliseconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func format(_ value: Double) -> String { String(format: "%.1f", value) }

let firstNames = ["Amélie", "José", "Zoë", "Björn", "Łukasz", "Ana", "Kenji", "Fatima", "Olusegun", "Priya", "Mateo",
                  "Chloé", "Nguyễn", "Søren", "Ayşe", "Dmitri", "Lucía", "Hiroshi", "Noor", "François"]
let lastNames = ["Laurent", "García", "Müller", "Ångström", "Kowalski", "Lima", "Sato", "Haddad", "Adeyemi", "Sharma",
                 "Rossi", "Dubois", "Văn An", "Nørgaard", "Yılmaz", "Ivanov", "Fernández", "Tanaka", "Rahman", "Martin"]
let texts = ["Bonjour, ma commande n'est pas arrivée", "¿Dónde está mi paquete?", "Danke für die schnelle Antwort",
             "包裹什么时候到？", "Can I change the delivery address?", "مرحبا، هل يمكنني تغيير العنوان؟",
             "Obrigado! 👍", "The tracking link does not work", "Je voudrais un remboursement", "OK, thanks a lot"]

/// One webhook per conversation, carrying all its messages, decoded and ingested in batches.
func populate(_ database: InboxDatabase, options: Options) throws {
    let now = Int64(Date().timeIntervalSince1970)
    var batch: [IncomingWebhook] = []
    for index in 0..<options.conversations {
        let name = "\(firstNames[index % firstNames.count]) \(lastNames[(index / firstNames.count) % lastNames.count]) \(index)"
        let waID = String(33_600_000_000 + index)
        var messages: [String] = []
        for number in 0..<options.messagesPerConversation {
            let timestamp = now - Int64((options.conversations - index) * 60) - Int64((options.messagesPerConversation - number) * 7)
            let text = texts[(index + number) % texts.count]
            messages.append(#"{"from":"\#(waID)","id":"wamid.bench.\#(index).\#(number)","timestamp":"\#(timestamp)","type":"text","text":{"body":"\#(text)"}}"#)
        }
        let body = #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"\#(name)"},"wa_id":"\#(waID)"}],"messages":[\#(messages.joined(separator: ","))]}}]}]}"#
        batch.append(IncomingWebhook(receivedAt: now, body: Data(body.utf8)))
        if batch.count == 250 {
            _ = try database.ingestSync(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    if !batch.isEmpty { _ = try database.ingestSync(batch) }
}

func run() throws {
    let options = try Options(CommandLine.arguments)
    if let path = options.populatePath {
        let generation = ContinuousClock.now
        try populate(try InboxDatabase(path: path), options: options)
        print("populated \(path): \(options.conversations) conversations, "
              + "\(options.conversations * options.messagesPerConversation) messages in \(format(milliseconds(since: generation) / 1000)) s")
        return
    }
    if options.storeIngest > 0 {
        try measureStoreIngest(count: options.storeIngest, batchSize: options.batch, path: options.storeIngestPath)
        return
    }
    if options.previewRuns > 0 {
        try measurePreview(runs: options.previewRuns, options: options)
        return
    }
    if let path = options.attachPath {
        try measureAttached(path: path, options: options)
        return
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-screen-bench-\(UUID().uuidString.prefix(8))")
    let keep = options.databasePath != nil || ProcessInfo.processInfo.environment["WABOX_BENCH_KEEP"] != nil
    if options.databasePath == nil { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
    defer {
        if !keep { try? FileManager.default.removeItem(at: directory) }
    }
    let path = options.databasePath ?? directory.appendingPathComponent("inbox.sqlite").path

    let generation = ContinuousClock.now
    let existing = try InboxDatabase(path: path)
    let held = try existing.conversations(limit: 1).items.first?.contact.name
    if held == nil {
        try populate(existing, options: options)
    } else if held?.hasSuffix(" \(options.conversations - 1)") != true {
        throw BenchError("\(path) holds another inbox (newest: \(held ?? "")): remove it or give --conversations to match")
    }
    try seedWorkbench(existing, conversations: options.conversations)
    // The search index caught up now, so that no indexer works while keys are timed.
    try existing.indexMessagesForSearch()
    let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    print("wabox screen benchmark: \(options.conversations) conversations, \(options.conversations * options.messagesPerConversation) messages "
          + "(database \(size / 1_048_576) MB, \(held == nil ? "generated" : "reused from \(path)") in \(format(milliseconds(since: generation) / 1000)) s), terminal \(options.width)x\(options.height)")

    // First frame: open the database as `wabox` does, load what the screen shows, draw.
    var firstFrames: [Double] = []
    var app: InboxApp?
    var backend = InMemoryBackend(width: options.width, height: options.height)
    for _ in 0..<5 {
        let start = ContinuousClock.now
        let database = try InboxDatabase(path: path)
        backend = InMemoryBackend(width: options.width, height: options.height)
        let candidate = InboxApp(database: database, backend: backend, theme: .builtIn)
        candidate.step()
        firstFrames.append(milliseconds(since: start))
        guard let frame = backend.lastFrame, frame.buffer.lines.joined().contains("\(options.conversations - 1)") else {
            throw BenchError("the first frame does not show the newest conversation")
        }
        app = candidate
    }
    guard let app else { return }
    print("first frame (open database, load list and thread, render): median \(format(percentile(firstFrames, 0.5))) ms, "
          + "max \(format(firstFrames.max() ?? 0)) ms over \(firstFrames.count) runs  [target < 300 ms]")

    // Filter: every key press reloads the list through the store and redraws.
    let textQueries = ["amelie", "garcia 12", "zoe", "bjorn", "336000099", "sato 7", "noor rahman", "francois"]
    let termQueries = ["~u", "~w", "~W", "~F", "~n", "~a alice", "~a nobody", "~l vip", "~l rare", "~l none", "!~u",
                       "!~l vip", "~u ~w", "~a alice ~l vip", "~F ~n", "~l vip garcia", "~W amelie", "!~n ~u"]
    let textTimes = typeEach(textQueries, app: app, backend: backend)
    let termTimes = typeEach(termQueries, app: app, backend: backend)
    // Where the time goes: the store's query alone, and drawing alone.
    let database = try InboxDatabase(path: path)
    var queryTimes: [Double] = []
    for query in textQueries + termQueries {
        for end in query.indices {
            guard let filter = try? ConversationFilter.parse(String(query[...end])) else { continue }
            let start = ContinuousClock.now
            _ = try database.conversations(filter: filter, limit: 50)
            queryTimes.append(milliseconds(since: start))
        }
    }
    let renderTimes = renderTimes(of: app.state, runs: 20)
    let keyTimes = textTimes.flatMap { $0.times } + termTimes.flatMap { $0.times }
    print("filter key press (query, reduce, render): median \(format(percentile(keyTimes, 0.5))) ms, "
          + "p99 \(format(percentile(keyTimes, 0.99))) ms, max \(format(keyTimes.max() ?? 0)) ms over \(keyTimes.count) keys  [target < 16 ms]")
    let cpuKeys = textTimes.flatMap { $0.cpu } + termTimes.flatMap { $0.cpu }
    print("  CPU time per key press (wall time above also counts waiting for a core): median "
          + "\(format(percentile(cpuKeys, 0.5))) ms, p99 \(format(percentile(cpuKeys, 0.99))) ms, max \(format(cpuKeys.max() ?? 0)) ms")
    let termKeys = termTimes.flatMap { $0.times }
    print("  of which ~ terms: median \(format(percentile(termKeys, 0.5))) ms, p99 \(format(percentile(termKeys, 0.99))) ms, "
          + "max \(format(termKeys.max() ?? 0)) ms over \(termKeys.count) keys")
    print("  list query to a full page, unbounded, median \(format(percentile(queryTimes, 0.5))) ms (max \(format(queryTimes.max() ?? 0))), "
          + "render median \(format(percentile(renderTimes, 0.5))) ms")
    for (query, times, complete, turns, cpu) in textTimes + termTimes {
        print("  /\(query)".padding(toLength: 24, withPad: " ", startingAt: 0)
              + "key median \(format(percentile(times, 0.5))) ms, max \(format(times.max() ?? 0)) ms "
              + "(CPU max \(format(cpu.max() ?? 0)) ms); "
              + "whole list after the last key \(format(complete)) ms in \(turns) turn\(turns == 1 ? "" : "s")")
    }
}

/// Types each query into the filter a key at a time, timing each key press (the list
/// query, the reducer and the frame); Esc clears the filter between queries.
/// Also times, after the last key, the loop turns until the list is complete (a filter that
/// must walk the list fills it in a step per turn).
func typeEach(_ queries: [String], app: InboxApp, backend: InMemoryBackend)
    -> [(query: String, times: [Double], complete: Double, turns: Int, cpu: [Double])] {
    queries.map { query in
        backend.pendingKeys = [.character("/")]
        app.step()
        while app.isWalkingTheList { app.step() }
        var times: [Double] = []
        var cpu: [Double] = []
        var complete = 0.0
        var turns = 0
        for character in query {
            backend.pendingKeys = [.character(character)]
            let start = ContinuousClock.now
            let cpuStart = cpuMilliseconds()
            app.step()
            cpu.append(cpuMilliseconds() - cpuStart)
            times.append(milliseconds(since: start))
            complete = milliseconds(since: start)
            turns = 1
        }
        let start = ContinuousClock.now
        while app.isWalkingTheList {
            app.step()
            turns += 1
        }
        complete += milliseconds(since: start)
        backend.pendingKeys = [.escape]
        app.step()
        while app.isWalkingTheList { app.step() }
        return (query, times, complete, turns, cpu)
    }
}

/// What agents add to an inbox, spread over it: the label `vip` on every 100th
/// conversation, `rare` on 20 of the oldest, claims by alice on every 50th, a failed reply
/// on every 500th, and the newest 20,000 read but every tenth. Done once per database (a `bench-seeded` label
/// marks it).
func seedWorkbench(_ database: InboxDatabase, conversations: Int) throws {
    guard try !database.labels().contains("bench-seeded") else { return }
    let now = Int64(Date().timeIntervalSince1970)
    // The synthetic team's claims are alice's, as the filter queries expect, whoever runs the benchmark.
    let alice = try InboxDatabase(path: database.path, configuration: .init(account: "alice"))
    try blocking {
        var cursor: ConversationCursor?
        var index = 0
        repeat {
            let page = try database.conversations(after: cursor, limit: 5_000)
            cursor = page.next
            for conversation in page.items {
                try await seed(conversation, index: index, of: conversations, database, alice: alice, now: now)
                index += 1
            }
        } while cursor != nil
        if let newest = try database.conversations(limit: 1).items.first {
            try await database.toggleLabel("bench-seeded", on: newest.id, at: now)
        }
    }
}

/// One conversation's share of `seedWorkbench`; `index` counts from the newest.
func seed(_ conversation: ConversationSummary, index: Int, of conversations: Int, _ database: InboxDatabase,
          alice: InboxDatabase, now: Int64) async throws {
    let id = conversation.id
    if index % 100 == 7 { try await database.toggleLabel("vip", on: id, at: now) }
    if index >= conversations - 20 { try await database.toggleLabel("rare", on: id, at: now) }
    if index % 50 == 3 { _ = try await alice.claim(id, at: now) }
    if index % 500 == 11 {
        let localID = "bench-failed-\(index)"
        _ = try await database.enqueueOutbound(in: id, content: .text(body: "Sorry for the wait"), localID: localID,
                                               at: conversation.lastActivityAt)
        try await database.markFailed(localID: localID, error: APIErrorDetail(code: 131026, title: "Message undeliverable"),
                                      at: conversation.lastActivityAt)
    }
    if index < 20_000, index % 10 != 0 { try await database.markRead(id, asTeam: true) }
}

/// Runs async store work from the benchmark's main thread and waits for it.
func blocking(_ work: @escaping @Sendable () async throws -> Void) throws {
    let semaphore = DispatchSemaphore(value: 0)
    let failure = Mutex<(any Error)?>(nil)
    Task {
        do { try await work() } catch { failure.withLock { $0 = error } }
        semaphore.signal()
    }
    semaphore.wait()
    if let error = failure.withLock({ $0 }) { throw error }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("wabox-screen-bench: \(error)\n".utf8))
    exit(1)
}
