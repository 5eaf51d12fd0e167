import Foundation

/// A webhook body as people read it (the screen's raw view, `wabox journal show`):
/// re-indented, every byte of its strings and numbers as Meta sent them (escapes such as
/// `\u00e9` kept), each line sanitised for the terminal.
public enum PrettyJSON {
    /// `body` with two spaces per level of nesting, one member or element per line. A body
    /// that is not JSON comes out broken where it breaks, never dropped.
    public static func lines(_ body: Data) -> [String] {
        var lines: [String] = []
        var line: [UInt8] = []
        var depth = 0
        var strings = JSONStringTracker()
        let bytes = [UInt8](body)
        func newLine() {
            lines.append(TerminalText.sanitize(String(decoding: line, as: UTF8.self)))
            line = Array(repeating: UInt8(ascii: " "), count: max(0, depth) * 2)
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if strings.isInString(byte) {
                line.append(byte)
                continue
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                continue
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
}

/// Which bytes of a JSON text are inside strings (their quotes included), for one-pass
/// scanners that must not read a bracket or a comma in a customer's text as structure.
struct JSONStringTracker {
    private var inString = false
    private var escaped = false

    /// Whether `byte`, the next one of the text, belongs to a string: the opening quote,
    /// its contents (escapes too) and the closing quote do.
    @inline(__always)
    mutating func isInString(_ byte: UInt8) -> Bool {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            return true
        }
        inString = byte == UInt8(ascii: "\"")
        return inString
    }
}
