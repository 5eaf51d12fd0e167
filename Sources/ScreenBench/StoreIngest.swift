import Foundation
import InboxCore
import InboxStore

/// `--store-ingest N [--batch B] [--store-ingest-db PATH]`: the cost of each step of ingest
/// without HTTP: signature check, decoding, and the group commit in batches of B (default
/// 256) on a fresh database file at PATH (default /tmp/store-ingest.sqlite, replaced).
func measureStoreIngest(count: Int, batchSize: Int, path: String) throws {
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
    let webhooks = zip(bodies, signatures).map { body, signature in
        IncomingWebhook(receivedAt: 1764400000, signature: signature, body: body,
                        events: Result { () throws(WebhookDecoder.Failure) in try decoder.decode(body, receivedAt: 1764400000) })
    }
    let decode = milliseconds(since: start) * 1000 / Double(count)
    for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
        try FileManager.default.removeItem(atPath: path + suffix)
    }
    let database = try InboxDatabase(path: path)
    print("\(count) webhooks (\(valid) valid), mean body \(bodies.map(\.count).reduce(0, +) / count) bytes")
    print("sign+verify \(format(verify)) µs each, decode \(format(decode)) µs each")
    var offset = 0
    var slice = 0
    let total = ContinuousClock.now
    start = ContinuousClock.now
    while offset < webhooks.count {
        let batch = Array(webhooks[offset..<min(offset + batchSize, webhooks.count)])
        _ = try database.ingestSync(batch)
        offset += batch.count
        if offset / 50_000 != slice {
            slice = offset / 50_000
            print("  up to \(offset): \(format(milliseconds(since: start) * 1000 / 50_000)) µs per webhook")
            start = ContinuousClock.now
        }
    }
    let elapsed = milliseconds(since: total)
    print("ingest: \(format(elapsed * 1000 / Double(count))) µs per webhook, \(Int(Double(count) / elapsed * 1000)) webhooks/s, batches of \(batchSize)")
}
