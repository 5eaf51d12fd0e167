// Measures the screen at scale: 10,000 conversations and 200,000 messages in a real
// SQLite file, the real reducer, store queries and renderer, an in-memory terminal.
// Prints the time to the first frame and the time to redraw after a filter key press.
//
//     scripts/bench-screen [--conversations N] [--messages-per-conversation M]
//
// Two more modes serve scripts/bench-screen-under-load: `--populate PATH` fills a database
// file and exits; `--attach PATH --seconds S` runs the screen on a database that another
// process (a `wabox serve` under load) writes to, and times each key press (UnderLoad.swift).
// `--store-ingest N` measures the store's side of webhook ingest without HTTP (StoreIngest.swift).
import Foundation
import InboxCore
import InboxStore
import InboxTUI

struct Options {
    var conversations = 10_000
    var messagesPerConversation = 20
    var width = 200
    var height = 50
    /// Fill this database file and exit.
    var populatePath: String?
    /// Run the screen attached to this database file, which another process writes to.
    var attachPath: String?
    var seconds = 15
    var storeIngest = 0
    var storeIngestPath = "/tmp/store-ingest.sqlite"
    var batch = 16
    /// Mean time between two key presses in `--attach` mode (a person typing steadily).
    var keyIntervalMilliseconds = 150

    init(_ arguments: [String]) throws {
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            guard let text = rest.popFirst() else { throw BenchError("\(flag) needs a value") }
            switch flag {
            case "--populate": populatePath = text; continue
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
            default:
                throw BenchError("""
                    unknown option \(flag); use --conversations N, --messages-per-conversation M, --width W, --height H, \
                    --populate PATH, --attach PATH, --seconds S, --key-interval-ms MS, \
                    --store-ingest N, --batch B, --store-ingest-db PATH
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
    if let path = options.attachPath {
        try measureAttached(path: path, options: options)
        return
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-screen-bench-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer {
        if ProcessInfo.processInfo.environment["WABOX_BENCH_KEEP"] == nil { try? FileManager.default.removeItem(at: directory) }
    }
    let path = directory.appendingPathComponent("inbox.sqlite").path

    let generation = ContinuousClock.now
    try populate(try InboxDatabase(path: path), options: options)
    let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    print("wabox screen benchmark: \(options.conversations) conversations, \(options.conversations * options.messagesPerConversation) messages "
          + "(database \(size / 1_048_576) MB, generated in \(format(milliseconds(since: generation) / 1000)) s), terminal \(options.width)x\(options.height)")

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
    backend.pendingKeys = [.character("/")]
    app.step()
    var keyTimes: [Double] = []
    for query in ["amelie", "garcia 12", "zoe", "bjorn", "336000099", "sato 7", "noor rahman", "francois"] {
        for character in query {
            backend.pendingKeys = [.character(character)]
            let start = ContinuousClock.now
            app.step()
            keyTimes.append(milliseconds(since: start))
        }
        backend.pendingKeys = [.escape, .character("/")]
        app.step()
    }
    // Where the time goes: the store's query alone, and drawing alone.
    let database = try InboxDatabase(path: path)
    var queryTimes: [Double] = []
    for query in ["amelie", "garcia 12", "zoe", "bjorn", "336000099", "sato 7", "noor rahman", "francois"] {
        for end in query.indices {
            let start = ContinuousClock.now
            _ = try database.conversations(matching: String(query[...end]), limit: 50)
            queryTimes.append(milliseconds(since: start))
        }
    }
    var renderTimes: [Double] = []
    for _ in 0..<20 {
        let start = ContinuousClock.now
        _ = render(app.state, theme: .builtIn)
        renderTimes.append(milliseconds(since: start))
    }
    print("filter key press (query, reduce, render): median \(format(percentile(keyTimes, 0.5))) ms, "
          + "p99 \(format(percentile(keyTimes, 0.99))) ms, max \(format(keyTimes.max() ?? 0)) ms over \(keyTimes.count) keys  [target < 16 ms]")
    print("  of which: list query median \(format(percentile(queryTimes, 0.5))) ms (max \(format(queryTimes.max() ?? 0))), "
          + "render median \(format(percentile(renderTimes, 0.5))) ms")
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("wabox-screen-bench: \(error)\n".utf8))
    exit(1)
}
