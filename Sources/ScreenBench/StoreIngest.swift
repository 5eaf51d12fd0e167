import Foundation
import InboxCore
import InboxStore

/// `--store-ingest N [--batch B] [--store-ingest-db PATH]`: the store's side of ingest
/// without HTTP, step by step: signature check, decoding, appending to the journal in group
/// commits of B bodies (default 16: what 16 connections give the listener), then the
/// applier on its own, in batches as it makes them (up to `InboxDatabase.applierBatch`;
/// `WABOX_BENCH_APPLY_BATCH` sets another size),
/// on a fresh database file at PATH (default /tmp/store-ingest.sqlite, replaced).
func measureStoreIngest(count: Int, batchSize: Int, path: String,
                        applyBatch: Int = Int(ProcessInfo.processInfo.environment["WABOX_BENCH_APPLY_BATCH"] ?? "") ?? InboxDatabase.applierBatch) throws {
    let customers = 1000
    var generator = SystemRandomNumberGenerator()
    let greetings = ["Hi! Where is my parcel? Order 4471", "Bonjour, ma commande n'est pas arriv\\u00e9e",
                     "Can I return the blue shoes?"]
    var bodies: [Data] = []
    bodies.reserveCapacity(count)
    for index in 0..<count {
        let waID = "1555\(String(format: "%07d", index % customers))"
        let userID = "US.\(13491208655302741918 as UInt64 &+ UInt64(index % customers))"
        let random = (0..<30).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let wamid = "wamid.HBgL" + Data(random).base64EncodedString()
        let text = "\(greetings[index % greetings.count]) (\(index))"
        let body = #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Customer \#(index % customers)"},"wa_id":"\#(waID)","user_id":"\#(userID)"}],"messages":[{"from":"\#(waID)","from_user_id":"\#(userID)","id":"\#(wamid)","timestamp":"\#(1764400000 + index)","type":"text","text":{"body":"\#(text)"}}]}}]}]}"#
        bodies.append(Data(body.utf8))
    }
    let signer = WebhookSignature(appSecret: "bench-secret")
    var start = ContinuousClock.now
    let signatures = bodies.map { signer.header(for: $0) }
    var valid = 0
    for (body, signature) in zip(bodies, signatures) where signer.isValid(header: signature, body: body) { valid += 1 }
    let verify = milliseconds(since: start) * 1000 / Double(count) / 2
    start = ContinuousClock.now
    let decoder = WebhookDecoder()
    var decoded = 0
    for body in bodies where (try? decoder.decode(body, receivedAt: 1764400000)) != nil { decoded += 1 }
    let decode = milliseconds(since: start) * 1000 / Double(count)
    for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
        try FileManager.default.removeItem(atPath: path + suffix)
    }
    // The search indexer is timed on its own below: in production it takes the writer
    // between the applier's batches, four times a second.
    let database = try InboxDatabase(path: path, configuration: .init(indexesSearch: false))
    print("\(count) webhooks (\(valid) valid, \(decoded) decoded), mean body \(bodies.map(\.count).reduce(0, +) / count) bytes")
    print("sign+verify \(format(verify)) µs each, decode \(format(decode)) µs each (the applier decodes; the listener does not)")

    start = ContinuousClock.now
    var offset = 0
    while offset < bodies.count {
        let batch = bodies[offset..<min(offset + batchSize, bodies.count)].map { JournalEntry(receivedAt: 1764400000, body: $0) }
        _ = try database.appendToJournalSync(batch)
        offset += batch.count
    }
    let journal = milliseconds(since: start)
    print("journal append (the acknowledgement's store work): \(format(journal * 1000 / Double(count))) µs per webhook, \(Int(Double(count) / journal * 1000)) webhooks/s, commits of \(batchSize)")

    var batches = 0
    var slice = 0
    var applied = 0
    let cpuBefore = processCPUMicroseconds()
    let total = ContinuousClock.now
    start = ContinuousClock.now
    while true {
        let done = try database.applyJournal(limit: applyBatch)
        if done.isEmpty { break }
        batches += 1
        applied += done.count
        if applied / 50_000 != slice {
            slice = applied / 50_000
            print("  applied up to \(applied): \(format(milliseconds(since: start) * 1000 / 50_000)) µs per webhook")
            start = ContinuousClock.now
        }
    }
    let elapsed = milliseconds(since: total)
    let cpu = Double(processCPUMicroseconds() - cpuBefore) / Double(applied)
    let rate = Int(Double(applied) / elapsed * 1000)
    print("applier: \(format(elapsed * 1000 / Double(applied))) µs per webhook, \(rate) webhooks/s, \(batches) transactions of up to \(applyBatch)  [target >= 15000/s: \(rate >= 15_000 ? "met" : "NOT met")]")
    // On a machine others share, the wall clock counts the time the applier waited for a core.
    print("  CPU of the process meanwhile (applier and WAL checkpoints): \(format(cpu)) µs per webhook, \(Int(1e6 / cpu)) webhooks/s per core")
    start = ContinuousClock.now
    let indexed = try database.indexMessagesForSearch()
    let index = milliseconds(since: start)
    print("search index (after the applier, in chunks of 512): \(format(index * 1000 / Double(max(1, indexed)))) µs per message; applier and index together \(Int(Double(applied) / (elapsed + index) * 1000)) webhooks/s")
    let counts = try database.counts()
    print("stored: \(counts.messages) messages from \(counts.contacts) contacts, \(counts.webhooks) journaled, lag \(try database.journalProgress().lag)")
}

/// User and system CPU time of this process so far, every thread.
func processCPUMicroseconds() -> Int64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let user = Int64(usage.ru_utime.tv_sec) * 1_000_000 + Int64(usage.ru_utime.tv_usec)
    let system = Int64(usage.ru_stime.tv_sec) * 1_000_000 + Int64(usage.ru_stime.tv_usec)
    return user + system
}
