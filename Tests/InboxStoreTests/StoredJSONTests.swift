import Foundation
import InboxCore
@testable import InboxStore
import Testing

/// Text content is written without `JSONEncoder` on the ingest path: it must read back as
/// the same text, and be the very JSON the encoder writes.
@Suite struct StoredJSONTests {
    static let texts = [
        "", "hello", #"quote " and backslash \ and slash /"#, "line\nbreak\r\ttab",
        "\u{0}\u{1}\u{8}\u{b}\u{c}\u{1b}[31mred\u{1f}\u{7f}", "\u{202e}bidi\u{2028}\u{2029}",
        "Danke 👍🏽 お届け日 مرحبا e\u{301}", String(repeating: "\\\"", count: 500),
    ]

    @Test(arguments: texts) func textIsWrittenAsTheEncoderWritesIt(_ text: String) throws {
        let content = MessageContent.text(body: text)
        let fast = try StoredJSON.encode(content)
        #expect(fast == (try StoredJSON.encodeWithFoundation(content)))
        #expect(try StoredJSON.decode(MessageContent.self, from: fast) == content)
    }
}
