import Foundation
import InboxCore

// How both stores keep values as JSON text (a message's `content`, a referral, a call's
// state): one encoding, so that either store reads what the other wrote and `wabox
// migrate` copies the text as it is.

/// The JSON text the stores keep.
public enum StoredJSON {
    /// A message's content as stored. Text, nearly every message, is written directly: the
    /// same JSON `JSONEncoder` writes for it, at a twentieth of the cost.
    public static func encode(_ content: MessageContent) throws -> String {
        guard case .text(let body) = content else { return try encodeWithFoundation(content) }
        var json: [UInt8] = []
        json.reserveCapacity(body.utf8.count + 32)
        json.append(contentsOf: #"{"text":{"body":""#.utf8)
        appendEscaped(body, to: &json)
        json.append(contentsOf: #""}}"#.utf8)
        return String(decoding: json, as: UTF8.self)
    }

    /// `text` as the inside of a JSON string: quotes, backslashes and control characters
    /// escaped as `JSONEncoder` escapes them, everything else (slashes too) as it is. Every
    /// byte escaped is ASCII, so the UTF-8 of the rest passes through untouched.
    public static func appendEscaped(_ text: String, to json: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                json.append(UInt8(ascii: "\\"))
                json.append(byte)
            case UInt8(ascii: "\n"): json.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): json.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): json.append(contentsOf: #"\t"#.utf8)
            case 0x08: json.append(contentsOf: #"\b"#.utf8)
            case 0x0C: json.append(contentsOf: #"\f"#.utf8)
            case ..<0x20: json.append(contentsOf: #"\u00"#.utf8 + [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
            default: json.append(byte)
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    public static func encodeWithFoundation<T: Encodable>(_ value: T) throws -> String {
        try encode(value)
    }

    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// With its keys sorted: the same value always gives the same text, so that an upsert
    /// can tell the same value written again (`JSONEncoder`'s key order on Linux varies).
    public static func encodeSorted<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

extension CallState {
    /// A call's state once `event` is folded into the one a store keeps (`stored`, its JSON;
    /// nil for a call not seen yet); nil when the event adds nothing (a replay). Both stores
    /// decide this way.
    public static func folding(_ event: CallEvent, intoStored stored: String?) throws -> CallState? {
        guard let stored else { return CallState(first: event) }
        var state = try StoredJSON.decode(CallState.self, from: stored)
        let before = state
        state.absorb(event)
        return state == before ? nil : state
    }
}
