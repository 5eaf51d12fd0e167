import Foundation
import InboxServices
import Logging
import Synchronization
import Testing

/// `--log-format json`: one object per line that a log shipper parses, with the metadata as
/// fields, and neither secrets nor terminal control bytes in it.
@Suite struct LogFormatTests {
    final class Captured: TextOutputStream, Sendable {
        private let text = Mutex("")
        func write(_ string: String) { text.withLock { $0 += string } }
        var lines: [String] { text.withLock { $0 }.split(separator: "\n").map(String.init) }
    }

    private func object(_ line: String) throws -> [String: String] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "not a JSON object of strings: \(line)")
    }

    @Test func eachLineIsAnObjectWithTheMetadataAsFields() throws {
        let captured = Captured()
        let secret = "EAAG-access-token-1234567890"
        var logger = Logger(label: "wabox.test") { label in
            var handler = JSONLogHandler(label: label, stream: captured)
            handler.logLevel = .debug
            return GuardedLogHandler(handler, secrets: [secret])
        }
        logger[metadataKey: "listener"] = "127.0.0.1:8080"
        logger.info("sent with \(secret)", metadata: ["wamid": "wamid.ABC", "message": "shadowed", "n": "3"])
        logger.warning("quote \" backslash \\ tab \t newline\nesc \u{1B}[31m bell \u{07} line sep \u{2028}")
        logger.debug("below info: written at debug")

        let lines = captured.lines
        try #require(lines.count == 3, "\(lines)")
        let first = try object(lines[0])
        #expect(first["level"] == "info")
        #expect(first["label"] == "wabox.test")
        #expect(first["wamid"] == "wamid.ABC")
        #expect(first["listener"] == "127.0.0.1:8080")
        #expect(first["meta.message"] == "shadowed", "a metadata key named like a field keeps its value under meta.")
        #expect(first["message"]?.contains("sent with") == true)
        #expect(!lines[0].contains(secret), "the secret reached the log: \(lines[0])")
        #expect(first["time"]?.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(first)")
        #expect(lines[0].hasPrefix(#"{"time":"#), "time comes first for people reading the file: \(lines[0])")

        let second = try object(lines[1])
        let message = try #require(second["message"])
        #expect(message.contains("quote \" backslash \\ tab"))
        #expect(!lines[1].unicodeScalars.contains { $0.value < 0x20 }, "a raw control byte in the line: \(lines[1])")
        #expect(!message.unicodeScalars.contains("\u{1B}") && !message.unicodeScalars.contains("\u{07}"),
                "terminal control bytes survived: \(message.debugDescription)")
        #expect(try object(lines[2])["level"] == "debug")
    }

    @Test func theFormatIsTextOrJSONAndAnythingElseIsRefusedInWords() throws {
        #expect(try Logs.Format.parse(nil) == .text)
        #expect(try Logs.Format.parse("json") == .json)
        #expect(throws: Logs.FormatError.self) { try Logs.Format.parse("xml") }
        do {
            _ = try Logs.Format.parse("JSON ")
            Issue.record("a wrong spelling was accepted")
        } catch {
            #expect("\(error)".contains("\"text\"") && "\(error)".contains("\"json\""), "\(error)")
        }
    }
}
