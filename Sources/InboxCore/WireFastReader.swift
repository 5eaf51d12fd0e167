import Foundation

/// A fast path for reading webhook bodies: builds the same `WireEnvelope` that
/// `JSONDecoder` builds, for the shapes the Cloud API sends most (text messages, statuses,
/// contacts), in a single pass over the bytes without `Codable`.
///
/// It is deliberately narrow: on anything it does not fully understand (another message
/// type, invalid UTF-8, a field of an unexpected JSON type, a duplicate key, invalid JSON)
/// it gives up and returns nil, and the caller decodes with `JSONDecoder`, whose
/// result is the reference. Tests check that both agree wherever this one answers.
///
/// Why: `JSONDecoder` was most of the listener's per-request CPU time on the event loop
/// (`scripts/bench-ingest`, docs/performance.md).
enum WireFastReader {
    static func envelope(from body: Data) -> WireEnvelope? {
        body.withUnsafeBytes { raw -> WireEnvelope? in
            guard let base = raw.baseAddress, raw.count > 0 else { return nil }
            var reader = Reader(base: base.assumingMemoryBound(to: UInt8.self), count: raw.count)
            do {
                let envelope = try reader.envelope()
                try reader.finish()
                return envelope
            } catch {
                return nil
            }
        }
    }
}

/// The fast reader met something it leaves to `JSONDecoder`.
struct GiveUp: Error {}

/// The bytes of an object key, compared with string literals without making a `String`.
struct WireKey {
    let start: UnsafePointer<UInt8>
    let count: Int

    static func ~= (literal: StaticString, key: WireKey) -> Bool {
        literal.utf8CodeUnitCount == key.count && memcmp(literal.utf8Start, key.start, key.count) == 0
    }
}

/// Remembers which members of an object were read, to give up on a repeated one (where
/// `JSONDecoder`'s choice between the two is not worth copying).
struct SeenKeys {
    private var bits: UInt32 = 0

    mutating func first(_ slot: UInt32) throws(GiveUp) {
        let bit: UInt32 = 1 << slot
        guard bits & bit == 0 else { throw GiveUp() }
        bits |= bit
    }
}

struct Reader {
    private let base: UnsafePointer<UInt8>
    private let count: Int
    private var index = 0
    private var depth = 0

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    // MARK: - The webhook shapes

    mutating func envelope() throws(GiveUp) -> WireEnvelope {
        var object: String?
        var entry: [Lossy<WireEntry>]?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "object": try seen.first(0); object = try reader.optionalString()
            case "entry": try seen.first(1); entry = try reader.optionalArray { reader throws(GiveUp) in .value(try reader.entry()) }
            default: try reader.skipValue()
            }
        }
        return WireEnvelope(object: object, entry: entry)
    }

    private mutating func entry() throws(GiveUp) -> WireEntry {
        var id: String?
        var changes: [Lossy<WireChange>]?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "id": try seen.first(0); id = try reader.optionalString()
            case "changes": try seen.first(1); changes = try reader.optionalArray { reader throws(GiveUp) in .value(try reader.change()) }
            default: try reader.skipValue()
            }
        }
        return WireEntry(id: id, changes: changes)
    }

    private mutating func change() throws(GiveUp) -> WireChange {
        var field: String?
        var value: WireValue?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "field": try seen.first(0); field = try reader.optionalString()
            // Meta writes "value" before "field": read it now, keep it only for "messages".
            case "value": try seen.first(1); value = try reader.optionalObject { reader throws(GiveUp) in try reader.value() }
            default: try reader.skipValue()
            }
        }
        // Calls, preferences, account and template updates are rare: JSONDecoder reads them.
        // Any other field is ignored, and needs no value.
        if let field, field != "messages", WireChange.valueFields.contains(field) || WireChange.updateFields.contains(field) {
            throw GiveUp()
        }
        return WireChange(field: field, value: field == "messages" ? value : nil)
    }

    private mutating func value() throws(GiveUp) -> WireValue {
        var metadata: WireMetadata?
        var contacts: [Lossy<WireContact>]?
        var messages: [Lossy<WireMessage>]?
        var statuses: [Lossy<WireStatus>]?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "metadata": try seen.first(0); metadata = try reader.optionalObject { reader throws(GiveUp) in try reader.metadata() }
            case "contacts": try seen.first(1); contacts = try reader.optionalArray { reader throws(GiveUp) in .value(try reader.contact()) }
            case "messages": try seen.first(2); messages = try reader.optionalArray { reader throws(GiveUp) in .value(try reader.message()) }
            case "statuses": try seen.first(3); statuses = try reader.optionalArray { reader throws(GiveUp) in .value(try reader.status()) }
            case "errors": throw GiveUp()
            default: try reader.skipValue()
            }
        }
        return WireValue(metadata: metadata, contacts: contacts, messages: messages, statuses: statuses, errors: nil)
    }

    private mutating func metadata() throws(GiveUp) -> WireMetadata {
        var display: String?
        var phoneNumberID: String?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "display_phone_number": try seen.first(0); display = try reader.optionalString()
            case "phone_number_id": try seen.first(1); phoneNumberID = try reader.optionalString()
            default: try reader.skipValue()
            }
        }
        return WireMetadata(display_phone_number: display, phone_number_id: phoneNumberID)
    }

    private mutating func contact() throws(GiveUp) -> WireContact {
        var profile: WireContact.Profile?
        var waID: String?
        var userID: String?
        var parentUserID: String?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "profile":
                try seen.first(0)
                profile = try reader.optionalObject { reader throws(GiveUp) in
                    var name: String?
                    var username: String?
                    var seen = SeenKeys()
                    try reader.members { reader, key throws(GiveUp) in
                        switch key {
                        case "name": try seen.first(0); name = try reader.optionalString()
                        case "username": try seen.first(1); username = try reader.optionalString()
                        default: try reader.skipValue()
                        }
                    }
                    return WireContact.Profile(name: name, username: username)
                }
            case "wa_id": try seen.first(1); waID = try reader.optionalString()
            case "user_id": try seen.first(2); userID = try reader.optionalString()
            case "parent_user_id": try seen.first(3); parentUserID = try reader.optionalString()
            default: try reader.skipValue()
            }
        }
        return WireContact(profile: profile, wa_id: waID, user_id: userID, parent_user_id: parentUserID)
    }

    private mutating func message() throws(GiveUp) -> WireMessage {
        var from: String?
        var fromUserID: String?
        var id: String?
        var timestamp: FlexibleInt?
        var type: String?
        var context: WireMessage.Context?
        var groupID: String?
        var text: WireMessage.Text?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "from": try seen.first(0); from = try reader.optionalString()
            case "from_user_id": try seen.first(1); fromUserID = try reader.optionalString()
            case "id": try seen.first(2); id = try reader.optionalString()
            case "timestamp": try seen.first(3); timestamp = try reader.optionalTimestamp()
            case "type": try seen.first(4); type = try reader.optionalString()
            case "context": try seen.first(5); context = try reader.optionalObject { reader throws(GiveUp) in try reader.context() }
            case "group_id": try seen.first(6); groupID = try reader.optionalString()
            case "text":
                try seen.first(7)
                text = try reader.optionalObject { reader throws(GiveUp) in
                    var body: String?
                    var seen = SeenKeys()
                    try reader.members { reader, key throws(GiveUp) in
                        switch key {
                        case "body": try seen.first(0); body = try reader.optionalString()
                        default: try reader.skipValue()
                        }
                    }
                    return WireMessage.Text(body: body)
                }
            // Other payloads, referrals and errors are left to JSONDecoder.
            case "referral", "errors", "image", "video", "audio", "document", "sticker", "location", "contacts",
                 "interactive", "button", "reaction", "order", "system", "unsupported":
                throw GiveUp()
            default: try reader.skipValue()
            }
        }
        // A message without an id fails to decode on its own: JSONDecoder words the reason.
        // A text without its text object is unreadable: JSONDecoder keeps its raw form.
        guard let id, let type, type == "text" && text != nil || type == "request_welcome" else { throw GiveUp() }
        return WireMessage(from: from, from_user_id: fromUserID, id: id, timestamp: timestamp, type: type,
                           context: context, group_id: groupID, text: type == "text" ? text : nil)
    }

    private mutating func context() throws(GiveUp) -> WireMessage.Context {
        var from: String?
        var id: String?
        var forwarded: FlexibleBool?
        var frequentlyForwarded: FlexibleBool?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "from": try seen.first(0); from = try reader.optionalString()
            case "id": try seen.first(1); id = try reader.optionalString()
            case "forwarded": try seen.first(2); forwarded = try reader.optionalBool().map(FlexibleBool.init)
            case "frequently_forwarded": try seen.first(3); frequentlyForwarded = try reader.optionalBool().map(FlexibleBool.init)
            case "referred_product": throw GiveUp()
            default: try reader.skipValue()
            }
        }
        return WireMessage.Context(from: from, id: id, forwarded: forwarded, frequently_forwarded: frequentlyForwarded,
                                   referred_product: nil)
    }

    private mutating func status() throws(GiveUp) -> WireStatus {
        var id: String?
        var status: String?
        var timestamp: FlexibleInt?
        var recipientID: String?
        var recipientUserID: String?
        var callbackData: String?
        var type: String?
        var seen = SeenKeys()
        try members { reader, key throws(GiveUp) in
            switch key {
            case "id": try seen.first(0); id = try reader.optionalString()
            case "status": try seen.first(1); status = try reader.optionalString()
            case "timestamp": try seen.first(2); timestamp = try reader.optionalTimestamp()
            case "recipient_id": try seen.first(3); recipientID = try reader.optionalString()
            case "recipient_user_id": try seen.first(4); recipientUserID = try reader.optionalString()
            case "biz_opaque_callback_data": try seen.first(5); callbackData = try reader.optionalString()
            case "type": try seen.first(6); type = try reader.optionalString()
            case "errors": throw GiveUp()
            default: try reader.skipValue()
            }
        }
        guard let id, let status else { throw GiveUp() }
        return WireStatus(id: id, status: status, timestamp: timestamp, recipient_id: recipientID,
                          recipient_user_id: recipientUserID, biz_opaque_callback_data: callbackData, errors: nil,
                          type: type)
    }

    // MARK: - JSON values

    /// The body must end after the top-level value, but for whitespace.
    mutating func finish() throws(GiveUp) {
        skipSpace()
        guard index == count else { throw GiveUp() }
    }

    @inline(__always)
    private mutating func skipSpace() {
        while index < count {
            switch base[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    @inline(__always)
    private mutating func peek() throws(GiveUp) -> UInt8 {
        skipSpace()
        guard index < count else { throw GiveUp() }
        return base[index]
    }

    @inline(__always)
    private mutating func consume(_ byte: UInt8) throws(GiveUp) {
        guard try peek() == byte else { throw GiveUp() }
        index += 1
    }

    /// `null`: consumed when next, and then true.
    private mutating func null() throws(GiveUp) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    private mutating func literal(_ word: StaticString) throws(GiveUp) {
        guard count - index >= word.utf8CodeUnitCount,
              memcmp(base + index, word.utf8Start, word.utf8CodeUnitCount) == 0 else { throw GiveUp() }
        index += word.utf8CodeUnitCount
    }

    private mutating func enter() throws(GiveUp) {
        depth += 1
        guard depth <= 64 else { throw GiveUp() }
    }

    /// Calls `member` for each key of an object, the reader placed at the member's value.
    mutating func members(_ member: (inout Reader, WireKey) throws(GiveUp) -> Void) throws(GiveUp) {
        try consume(UInt8(ascii: "{"))
        try enter()
        defer { depth -= 1 }
        if try peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            let key = try key()
            try consume(UInt8(ascii: ":"))
            try member(&self, key)
            let next = try peek()
            index += 1
            if next == UInt8(ascii: ",") { continue }
            if next == UInt8(ascii: "}") { return }
            throw GiveUp()
        }
    }

    private mutating func optionalObject<T>(_ read: (inout Reader) throws(GiveUp) -> T) throws(GiveUp) -> T? {
        if try null() { return nil }
        return try read(&self)
    }

    private mutating func optionalArray<T>(_ element: (inout Reader) throws(GiveUp) -> T) throws(GiveUp) -> [T]? {
        if try null() { return nil }
        try consume(UInt8(ascii: "["))
        try enter()
        defer { depth -= 1 }
        var elements: [T] = []
        if try peek() == UInt8(ascii: "]") {
            index += 1
            return elements
        }
        while true {
            elements.append(try element(&self))
            let next = try peek()
            index += 1
            if next == UInt8(ascii: ",") { continue }
            if next == UInt8(ascii: "]") { return elements }
            throw GiveUp()
        }
    }

    /// A key of ASCII letters without escapes (any other key is left to JSONDecoder).
    private mutating func key() throws(GiveUp) -> WireKey {
        try consume(UInt8(ascii: "\""))
        let start = index
        while index < count {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return WireKey(start: base + start, count: index - 1 - start)
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { throw GiveUp() }
            index += 1
        }
        throw GiveUp()
    }

    private mutating func optionalString() throws(GiveUp) -> String? {
        if try null() { return nil }
        return try string()
    }

    /// A string; one with invalid UTF-8 is left to JSONDecoder.
    private mutating func string() throws(GiveUp) -> String {
        try consume(UInt8(ascii: "\""))
        let start = index
        var escaped = false
        var ascii = true
        while index < count {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                let text = UnsafeBufferPointer(start: base + start, count: index - start)
                index += 1
                if escaped { return try Self.unescape(text) }
                if ascii { return String(decoding: text, as: UTF8.self) }
                guard let valid = String(validating: text, as: UTF8.self) else { throw GiveUp() }
                return valid
            }
            guard byte >= 0x20 else { throw GiveUp() }
            if byte >= 0x80 { ascii = false }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 2
            } else {
                index += 1
            }
        }
        throw GiveUp()
    }

    private static func unescape(_ text: UnsafeBufferPointer<UInt8>) throws(GiveUp) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var index = 0
        func hex4(_ at: Int) throws(GiveUp) -> UInt32 {
            guard at + 4 <= text.count else { throw GiveUp() }
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = text[at + offset]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw GiveUp()
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while index < text.count {
            let byte = text[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            guard index + 1 < text.count else { throw GiveUp() }
            let escape = text[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(index)
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard index + 6 <= text.count, text[index] == UInt8(ascii: "\\"), text[index + 1] == UInt8(ascii: "u") else {
                        throw GiveUp()
                    }
                    let low = try hex4(index + 2)
                    guard (0xDC00...0xDFFF).contains(low) else { throw GiveUp() }
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw GiveUp()
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw GiveUp() }
                out.append(contentsOf: UTF8.encode(unicode)!)
            default:
                throw GiveUp()
            }
        }
        guard let valid = String(validating: out, as: UTF8.self) else { throw GiveUp() }
        return valid
    }

    /// A Unix timestamp written as a string of digits (as Meta does); other forms are left
    /// to JSONDecoder.
    private mutating func optionalTimestamp() throws(GiveUp) -> FlexibleInt? {
        if try null() { return nil }
        let text = try string()
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = Int64(text) else { throw GiveUp() }
        return FlexibleInt(value)
    }

    private mutating func optionalBool() throws(GiveUp) -> Bool? {
        switch try peek() {
        case UInt8(ascii: "n"): try literal("null"); return nil
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        default: throw GiveUp()
        }
    }

    /// Skips any JSON value, checking its syntax.
    mutating func skipValue() throws(GiveUp) {
        switch try peek() {
        case UInt8(ascii: "\""):
            _ = try skipString()
        case UInt8(ascii: "{"):
            try members { reader, _ throws(GiveUp) in try reader.skipValue() }
        case UInt8(ascii: "["):
            _ = try optionalArray { reader throws(GiveUp) in try reader.skipValue() }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    private mutating func skipString() throws(GiveUp) {
        try consume(UInt8(ascii: "\""))
        let start = index
        var ascii = true
        while index < count {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                if !ascii, String(validating: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self) == nil {
                    throw GiveUp()
                }
                index += 1
                return
            }
            guard byte >= 0x20 else { throw GiveUp() }
            if byte >= 0x80 { ascii = false }
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < count else { throw GiveUp() }
                switch base[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    guard index + 6 <= count else { throw GiveUp() }
                    for offset in 2..<6 where !base[index + offset].isHexDigit { throw GiveUp() }
                    index += 6
                default:
                    throw GiveUp()
                }
            } else {
                index += 1
            }
        }
        throw GiveUp()
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func skipNumber() throws(GiveUp) {
        func digits(_ reader: inout Reader) -> Int {
            let start = reader.index
            while reader.index < reader.count, reader.base[reader.index].isDigit { reader.index += 1 }
            return reader.index - start
        }
        if index < count, base[index] == UInt8(ascii: "-") { index += 1 }
        guard index < count else { throw GiveUp() }
        if base[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits(&self) == 0 {
            throw GiveUp()
        }
        if index < count, base[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw GiveUp() }
        }
        if index < count, base[index] == UInt8(ascii: "e") || base[index] == UInt8(ascii: "E") {
            index += 1
            if index < count, base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw GiveUp() }
        }
    }
}

private extension UInt8 {
    var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    var isHexDigit: Bool {
        isDigit || (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "f")) || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "F"))
    }
}

// MARK: - Building the wire structs directly

extension WireChange {
    init(field: String?, value: WireValue?) {
        self.field = field
        self.value = value
        self.update = nil
    }
}

extension FlexibleInt {
    init(_ value: Int64) { self.value = value }
}

extension FlexibleBool {
    init(_ value: Bool) { self.value = value }
}

extension WireMessage {
    /// A message as the fast reader reads it: text (or no payload), no referral, no errors.
    init(from: String?, from_user_id: String?, id: String, timestamp: FlexibleInt?, type: String,
         context: Context?, group_id: String?, text: Text?) {
        self.from = from
        self.from_user_id = from_user_id
        self.id = id
        self.timestamp = timestamp
        self.context = context
        self.referral = nil
        self.group_id = group_id
        self.errors = nil
        content = WireContent(type: type, text: text)
    }
}
