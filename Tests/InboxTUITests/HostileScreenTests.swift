import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// Text written by strangers, rendered to the in-memory screen: whatever a customer, the
/// Cloud API or the listener's state says, no byte that drives a terminal reaches a cell.
@Suite struct HostileScreenTests {
    /// JSON string escapes for the attacks: OSC 52 (clipboard), OSC 8 (hyperlink), CSI,
    /// C1 controls, DCS, bidi overrides and isolates, BEL, BS, CR, DEL.
    static let attacks = [
        #"\u001b]52;c;ZWNobyBwd25lZA==\u0007"#,
        #"\u001b]8;;https://evil.example/\u001b\\click\u001b]8;;\u001b\\"#,
        #"\u001b[2J\u001b[H\u001b[31mred\u001b[0m"#,
        #"\u009b2J\u009d0;title\u009c\u0090q\u009c"#,
        #"\u202egnp.exe\u202c\u2067x\u2069"#,
        #"bell\u0007back\b\b\rcr\u007f"#,
    ]

    static func hostile(_ index: Int) -> String { "n\(index)" + attacks[index % attacks.count] }

    static func webhook() -> IncomingWebhook {
        var contacts: [String] = []
        var messages: [String] = []
        for index in 0..<6 {
            let waID = "3361000000\(index)"
            contacts.append(#"{"profile":{"name":"\#(hostile(index))","username":"u\#(hostile(index + 1))"},"wa_id":"\#(waID)"}"#)
            messages.append(#"{"from":"\#(waID)","id":"w.h\#(index)","timestamp":"\#(1_764_405_000 + index)","type":"text","text":{"body":"\#(hostile(index + 2))\n\#(hostile(index + 3))"}}"#)
        }
        messages.append(#"{"from":"33610000000","id":"w.doc","timestamp":"1764405100","type":"document","document":{"id":"9","filename":"\#(hostile(4))../../x.pdf","caption":"\#(hostile(5))"}}"#)
        messages.append(#"{"from":"33610000000","id":"w.loc","timestamp":"1764405101","type":"location","location":{"latitude":1,"longitude":2,"name":"\#(hostile(0))","address":"\#(hostile(1))"}}"#)
        messages.append(#"{"from":"33610000000","id":"w.btn","timestamp":"1764405102","type":"button","button":{"payload":"p","text":"\#(hostile(2))"}}"#)
        messages.append(#"{"from":"33610000000","id":"w.rx","timestamp":"1764405103","type":"reaction","reaction":{"message_id":"w.h0","emoji":"\#(hostile(3))"}}"#)
        let body = """
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"106540352242922"},
              "contacts":[\(contacts.joined(separator: ","))],
              "messages":[\(messages.joined(separator: ","))]}}]}]}
            """
        return Fixtures.webhook(body: Data(body.utf8))
    }

    static func failedStatus() -> IncomingWebhook {
        Fixtures.webhook(body: Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"106540352242922"},
              "statuses":[{"id":"out.h","status":"failed","timestamp":"1764405200","recipient_id":"33610000000",
                "errors":[{"code":131026,"title":"\(hostile(0))","message":"\(hostile(1))","error_data":{"details":"\(hostile(2))"}}]}]}}]}]}
            """.utf8))
    }

    /// Every cell of the frame is inert, and the attacks left visible placeholders.
    static func expectInert(_ harness: ScreenHarness, _ place: String) {
        let cells = harness.backend.lastFrame?.buffer.cells ?? []
        #expect(!cells.isEmpty)
        for cell in cells {
            #expect(HostileScreenTests.isInert(cell.text), "\(place): cell \(Array(cell.text.unicodeScalars.map(\.value)))")
        }
    }

    static func isInert(_ text: String) -> Bool {
        !text.unicodeScalars.contains { scalar in
            let value = scalar.value
            return value < 0x20 || (0x7f...0x9f).contains(value) || (0x202a...0x202e).contains(value)
                || (0x2066...0x2069).contains(value)
        }
    }

    @Test(arguments: [(80, 24), (40, 12), (120, 40)])
    func namesTextsErrorsAndStatusBarRenderInert(width: Int, height: Int) async throws {
        let status = ListenerStatus(address: "127.0.0.1:8080", isUp: true, lastWebhookAt: 1_764_405_000,
                                    waitingToSend: 1,
                                    problem: "listener not running: \u{1b}]52;c;cHduZWQ=\u{07} \u{9b}31m \u{202e}evil",
                                    sending: .halted("\u{1b}[2J token \u{1b}]8;;http://x\u{1b}\\ expired"))
        let harness = try await ScreenHarness(width: width, height: height, listener: status)
        _ = try await harness.database.ingest(Self.webhook())
        let conversation = try #require(try harness.database.conversations().items.first { $0.contact.waID?.rawValue == "33610000000" })
        try await harness.database.enqueueOutbound(in: conversation.id, content: .text(body: "reply"), localID: "l.h", at: 1_764_405_150)
        try await harness.database.markAccepted(localID: "l.h", wamid: "out.h", at: 1_764_405_151)
        _ = try await harness.database.ingest(Self.failedStatus())
        try await harness.settle { harness.screen.contains("n0") }
        Self.expectInert(harness, "list")
        #expect(harness.screen.contains("␛"))

        // Every conversation opened, the thread drawn with its failure reason.
        for _ in 0..<6 {
            harness.press(.enter)
            try await harness.settle()
            Self.expectInert(harness, "thread")
            harness.press(.escape, .escape, .down)
        }
        // Filter and search echo what is typed, and what matches.
        harness.type("/n")
        Self.expectInert(harness, "filter")
        harness.press(.escape, .escape)
        harness.type("sred")
        harness.press(.enter)
        try await harness.settle()
        Self.expectInert(harness, "search")
        harness.press(.escape)
        harness.type("?")
        Self.expectInert(harness, "help")
    }

    @Test func insecureListenerIsAlwaysOnTheStatusBar() async throws {
        var status = ListenerStatus(address: "127.0.0.1:8080", isUp: true, problem: "some other problem")
        status.isInsecure = true
        let harness = try await ScreenHarness(width: 80, height: 24, listener: status)
        let bar = try #require(harness.lines.last)
        #expect(bar.hasPrefix(" INSECURE: signatures not checked "))
        #expect(bar.contains("127.0.0.1:8080"))
        let narrow = try await ScreenHarness(width: 40, height: 12, listener: status)
        #expect(try #require(narrow.lines.last).hasPrefix(" INSECURE"))
        let secure = try await ScreenHarness(width: 80, height: 24,
                                             listener: ListenerStatus(address: "127.0.0.1:8080", isUp: true))
        #expect(!secure.screen.contains("INSECURE"))
    }
}
