import Foundation
import InboxCore
import InboxTesting
import Testing

/// Bodies an attacker (or a broken client) can send, decoded as the listener decodes a
/// signed body: each must end as events or a `Failure` (a dead letter), never a crash.
@Suite struct HostileDecodingTests {
    let decoder = WebhookDecoder()

    private func envelope(_ messages: String) -> Data {
        Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"1"},"contacts":[{"profile":{"name":"N"},"wa_id":"1555"}],
            "messages":[\(messages)]}}]}]}
            """.utf8)
    }

    @Test func sixtyThousandLevelsDeepIsRefusedWithoutRecursing() {
        let deep = Data((String(repeating: "[", count: 60_000) + String(repeating: "]", count: 60_000)).utf8)
        #expect(throws: WebhookDecoder.Failure.self) { try decoder.decode(deep, receivedAt: 0) }
        // Deep inside a message, where the fast reader gives up and JSONDecoder would recurse.
        let nested = String(repeating: #"{"a":"#, count: 60_000) + "1" + String(repeating: "}", count: 60_000)
        let body = envelope(#"{"from":"1555","id":"w.deep","timestamp":"1","type":"mystery","mystery":\#(nested)}"#)
        do {
            _ = try decoder.decode(body, receivedAt: 0)
            Issue.record("a 60,000-deep body decoded")
        } catch {
            #expect(error.description.contains("deeper than \(WebhookDecoder.maximumDepth) levels"))
        }
    }

    @Test func depthUpToTheLimitStillDecodes() throws {
        // An unknown message type keeps its raw JSON: nesting well under the limit is kept.
        let nested = String(repeating: #"{"a":"#, count: 40) + "1" + String(repeating: "}", count: 40)
        let events = try decoder.decode(envelope(#"{"from":"1555","id":"w.n","timestamp":"1","type":"mystery","mystery":\#(nested)}"#),
                                        receivedAt: 0)
        guard case .message(let message)? = events.first, case .unknown(let type, let raw) = message.content else {
            Issue.record("expected an unknown message, got \(events)")
            return
        }
        #expect(type == "mystery")
        #expect(raw.contains(#"{"a":{"a":"#))
        // Brackets inside strings do not count.
        let brackets = String(repeating: "[", count: 5_000)
        let text = try decoder.decode(envelope(#"{"from":"1555","id":"w.b","timestamp":"1","type":"text","text":{"body":"\#(brackets)"}}"#),
                                      receivedAt: 0)
        #expect(text.count == 1)
    }

    @Test func invalidUTF8IsRefusedNeverPassedOn() throws {
        for bytes: [UInt8] in [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]] {
            var body = Data(#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"from":"1555","id":"w.u","timestamp":"1","type":"text","text":{"body":"a"#.utf8)
            body.append(contentsOf: bytes)
            body.append(contentsOf: Data(#"b"}}]}}]}]}"#.utf8))
            #expect(throws: WebhookDecoder.Failure.self, "bytes \(bytes)") { try decoder.decode(body, receivedAt: 0) }
        }
        // A lone surrogate escape is no character either: the text is never passed on, and
        // the message is kept as one wabox could not read.
        let surrogate = try decoder.decode(
            envelope(#"{"from":"1555","id":"w.s","timestamp":"1","type":"text","text":{"body":"a\ud800b"}}"#), receivedAt: 0)
        let kept = surrogate.compactMap { if case .message(let message) = $0 { message.content } else { nil } }
        #expect(kept.count == 1, "\(surrogate)")
        if case .unreadable(let type, _, let raw)? = kept.first {
            #expect(type == "text")
            #expect(!raw.contains("\u{fffd}"))
        } else {
            Issue.record("expected an unreadable message: \(surrogate)")
        }
    }

    @Test func emptyTruncatedAndWrongTypesNeverCrash() throws {
        let bodies = [
            "", " ", "null", "[]", "42", "\"text\"", "{", "{\"object\":", #"{"object":"whatsapp_business_account","entry":[{"#,
            #"{"object":1,"entry":{}}"#, #"{"object":"whatsapp_business_account","entry":"x"}"#,
            #"{"object":"whatsapp_business_account","entry":[1,"a",null,[],{"changes":7}]}"#,
            #"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":["messages"],"value":[]}]}]}"#,
            #"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":{},"statuses":"s","contacts":3}}]}]}"#,
        ]
        for body in bodies {
            _ = try? decoder.decode(Data(body.utf8), receivedAt: 0)
        }
        // Every field of a message with the wrong JSON type: a malformed part (no usable id)
        // or a message wabox could not read (a bad payload); the rest kept.
        let wrong = envelope("""
            {"from":1,"id":{},"timestamp":[],"type":true,"text":"t"},
            {"from":"1555","id":"w.ok","timestamp":"1","type":"text","text":{"body":"fine"}},
            {"from":"1555","id":"w.t","timestamp":{"x":1},"type":"image","image":"not an object"},
            {"from":"1555","id":"w.l","timestamp":"1","type":"location","location":{"latitude":"north","longitude":null}}
            """)
        let events = try decoder.decode(wrong, receivedAt: 0)
        #expect(events.count == 4)
        #expect(events.contains { if case .message(let m) = $0 { m.id == "w.ok" } else { false } })
        #expect(events.filter { if case .malformed = $0 { true } else { false } }.count == 1)
        let unreadable = events.compactMap { event -> String? in
            guard case .message(let message) = event, case .unreadable = message.content else { return nil }
            return message.id.rawValue
        }
        #expect(unreadable == ["w.t", "w.l"])
    }
}

@Suite struct SignatureRotationTests {
    let body = Data(#"{"object":"whatsapp_business_account","entry":[]}"#.utf8)

    @Test func bothSecretsAreAcceptedDuringARotation() {
        let rotating = WebhookSignature(appSecret: "new-secret-abcdefgh", previousAppSecret: "old-secret-abcdefgh")
        let byOld = WebhookSignature(appSecret: "old-secret-abcdefgh").header(for: body)
        let byNew = WebhookSignature(appSecret: "new-secret-abcdefgh").header(for: body)
        #expect(rotating.isValid(header: byOld, body: body))
        #expect(rotating.isValid(header: byNew, body: body))
        #expect(rotating.header(for: body) == byNew)
        #expect(!rotating.isValid(header: WebhookSignature(appSecret: "other-secret").header(for: body), body: body))
        #expect(!rotating.isValid(header: nil, body: body))
        // Once the old secret is removed, its signatures fail.
        #expect(!WebhookSignature(appSecret: "new-secret-abcdefgh").isValid(header: byOld, body: body))
        // An empty previous secret is no secret.
        #expect(!WebhookSignature(appSecret: "new-secret-abcdefgh", previousAppSecret: "")
            .isValid(header: WebhookSignature(appSecret: "").header(for: body), body: body))
    }

    @Test func truncatedAndMalformedHeadersFail() {
        let signature = WebhookSignature(appSecret: Fixtures.appSecret)
        let good = signature.header(for: body)
        for header in [String(good.dropLast()), String(good.dropLast(2)), "sha256=", "sha256", "", "sha1=" + good.dropFirst(7),
                       good.uppercased().replacingOccurrences(of: "SHA256=", with: "sha256=") + "0", good + "00",
                       "sha256=" + String(repeating: "zz", count: 32), String(repeating: "a", count: 10_000)] {
            #expect(!signature.isValid(header: header, body: body), "\(header.prefix(80))")
        }
    }
}

@Suite struct SafeFileNameTests {
    @Test func namesFromSendersAreNeverPaths() {
        let cases: [(String?, String)] = [
            ("facture.pdf", "facture.pdf"),
            ("../../etc/passwd", "etc_passwd"),
            ("/etc/shadow", "etc_shadow"),
            ("..", "attachment"),
            (".", "attachment"),
            ("", "attachment"),
            (nil, "attachment"),
            (".bashrc", "bashrc"),
            ("C:\\Windows\\system32\\evil.dll", "C_Windows_system32_evil.dll"),
            ("a\u{0}b\u{1b}]52;c;cHduZWQ=\u{07}.txt", "a_b_]52;c;cHduZWQ=_.txt"),
            ("invoice\u{202e}fdp.exe", "invoice_fdp.exe"),
            ("report\u{9b}1m.pdf", "report_1m.pdf"),
            ("CON", "attachment_CON"),
            ("nul.txt", "attachment_nul.txt"),
            ("trailing dots...", "trailing dots"),
            ("名前 ✓.pdf", "名前 ✓.pdf"),
        ]
        for (input, expected) in cases {
            #expect(SafeFileName.make(from: input) == expected, "\(String(describing: input))")
        }
    }

    @Test func everyResultIsOneHarmlessComponent() {
        let hostile = ["../" + String(repeating: "a/", count: 300), String(repeating: "é", count: 400) + ".pdf",
                       "\u{2028}x\u{2029}", "\u{feff}name", "~/x", "-rf", ". . .", "a|b>c<d*e?f\"g:h"]
        for name in hostile {
            let safe = SafeFileName.make(from: name)
            #expect(!safe.isEmpty)
            #expect(!safe.contains("/") && !safe.contains("\\"))
            #expect(safe != "." && safe != ".." && !safe.hasPrefix("."))
            #expect(safe.utf8.count <= SafeFileName.maximumBytes)
            #expect(!safe.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) })
        }
        #expect(SafeFileName.make(from: String(repeating: "é", count: 400) + ".pdf").hasSuffix(".pdf"))
    }
}

@Suite struct HostileTextTests {
    /// No scalar that a terminal acts on survives sanitising.
    static func isInert(_ text: String) -> Bool {
        !text.unicodeScalars.contains { scalar in
            let value = scalar.value
            return value < 0x20 || (0x7f...0x9f).contains(value) || (0x202a...0x202e).contains(value)
                || (0x2066...0x2069).contains(value)
        }
    }

    static let attacks = [
        "\u{1b}]52;c;ZWNobyBwd25lZA==\u{07}",             // OSC 52: write the clipboard
        "\u{1b}]8;;https://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\",  // OSC 8 hyperlink
        "\u{1b}[2J\u{1b}[H\u{1b}[31mred\u{1b}[0m",        // CSI: clear, move, colour
        "\u{9b}2J\u{9d}0;title\u{9c}\u{90}q\u{9c}",       // C1 CSI, OSC, ST, DCS
        "\u{1b}P+q544e\u{1b}\\",                          // DCS request
        "\u{202e}gnp.exe\u{202c}\u{2067}x\u{2069}\u{202a}\u{202b}\u{202d}\u{2066}\u{2068}",
        "bell\u{07}backspace\u{08}\u{08}\u{08}cr\roverwrite\u{7f}",
        "\u{1b}", "\u{1b}[", "\u{1b}]", "\u{c2}\u{9b}",
    ]

    @Test func everyAttackComesOutInert() {
        for attack in Self.attacks {
            let clean = TerminalText.sanitize(attack)
            #expect(Self.isInert(clean), "\(Array(attack.unicodeScalars.map(\.value)))")
            let lines = TerminalText.sanitizeKeepingLines(attack + "\n" + attack + "\r\n" + attack)
                .split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 3)
            #expect(lines.allSatisfy { Self.isInert(String($0)) })
        }
        #expect(TerminalText.sanitizeKeepingLines("one\r\ntwo\u{1b}[1m\nthree") == "one\ntwo␛[1m\nthree")
    }
}
