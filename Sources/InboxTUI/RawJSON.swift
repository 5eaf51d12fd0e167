import Foundation
import InboxCore
import InboxStore

/// The raw view's text: a webhook body re-indented for reading, every byte of its strings
/// and numbers as Meta sent them (escapes such as `\u00e9` kept), each line sanitised.
enum RawJSON {
    /// `body` with two spaces per level of nesting, one member or element per line. A body
    /// that is not JSON comes out broken where it breaks, never dropped.
    static func prettyPrinted(_ body: Data) -> [String] {
        var lines: [String] = []
        var line: [UInt8] = []
        var depth = 0
        var inString = false
        var escaped = false
        let bytes = [UInt8](body)
        func newLine() {
            lines.append(TerminalText.sanitize(String(decoding: line, as: UTF8.self)))
            line = Array(repeating: UInt8(ascii: " "), count: max(0, depth) * 2)
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if inString {
                line.append(byte)
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                continue
            case UInt8(ascii: "\""):
                inString = true
                line.append(byte)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                line.append(byte)
                // `{}` and `[]` stay on one line.
                var next = index
                while next < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == byte + 2 {
                    line.append(bytes[next])
                    index = next + 1
                    continue
                }
                depth += 1
                newLine()
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                newLine()
                line.append(byte)
            case UInt8(ascii: ","):
                line.append(byte)
                newLine()
            case UInt8(ascii: ":"):
                line.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
            default:
                line.append(byte)
            }
        }
        if !line.allSatisfy({ $0 == UInt8(ascii: " ") }) || lines.isEmpty { newLine() }
        return lines
    }

    /// What the raw view shows for a lookup: the body with a title saying which webhook it
    /// is and when it arrived, or why there is none.
    static func view(of lookup: RawWebhookLookup, wamid: MessageID?, utcOffset: Int) -> RawView {
        switch lookup {
        case .found(let webhook):
            let lines = prettyPrinted(webhook.body)
            let time = Describe.day(webhook.receivedAt, offset: utcOffset) + " " + clockWithSeconds(webhook.receivedAt, offset: utcOffset)
            let title = "webhook #\(webhook.webhookID) · received \(time) · \(Describe.bytes(Int64(webhook.body.count)))"
            let focus = wamid.flatMap { wamid in lines.firstIndex { $0.contains("\"\(wamid.rawValue)\"") } }
            return RawView(title: title, lines: lines, focusLine: focus)
        case .sentFromWabox:
            return RawView(title: "raw webhook", problem: "this message was sent from wabox: no webhook brought it (its statuses are in wabox export)")
        case .pruned(let id):
            return RawView(title: "raw webhook", problem: "webhook #\(id) is no longer in the journal: bodies are pruned after journal_retention (30 days unless set)")
        case .notFound(let searched):
            return RawView(title: "raw webhook", problem: "this message was stored before wabox kept each message's webhook, and its id is not in the newest \(searched) webhooks")
        case .noMessage:
            return RawView(title: "raw webhook", problem: "the message is no longer in the database")
        }
    }

    private static func clockWithSeconds(_ timestamp: Int64, offset: Int) -> String {
        let seconds = ((Int(timestamp) + offset) % 60 + 60) % 60
        return Describe.clock(timestamp, offset: offset) + ":" + (seconds < 10 ? "0\(seconds)" : "\(seconds)")
    }
}
