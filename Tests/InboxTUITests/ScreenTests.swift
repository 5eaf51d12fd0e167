import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// Builds a thread with every message type and tick state for one customer.
func everyKindWebhooks() -> [IncomingWebhook] {
    func message(_ id: String, _ time: Int, _ typeAndPayload: String, context: String = "") -> String {
        #"{"from":"33612345678","id":"\#(id)","timestamp":"\#(time)",\#(context)\#(typeAndPayload)}"#
    }
    let messages = [
        message("w.text", 1_764_400_000, #""type":"text","text":{"body":"Bonjour, où est ma commande ?"}"#),
        message("w.image", 1_764_400_010, #""type":"image","image":{"id":"1","mime_type":"image/jpeg","caption":"le colis"}"#),
        message("w.voice", 1_764_400_020, #""type":"audio","audio":{"id":"2","mime_type":"audio/ogg","voice":true}"#),
        message("w.doc", 1_764_400_030, #""type":"document","document":{"id":"3","filename":"facture.pdf"}"#),
        message("w.loc", 1_764_400_040, #""type":"location","location":{"latitude":48.8584,"longitude":2.2945,"name":"Tour Eiffel"}"#),
        message("w.order", 1_764_400_050, #""type":"order","order":{"catalog_id":"c","product_items":[{"product_retailer_id":"a","quantity":2,"item_price":1,"currency":"EUR"},{"product_retailer_id":"b","quantity":1,"item_price":1,"currency":"EUR"}]}"#),
        message("w.poll", 1_764_400_060, #""type":"unsupported","unsupported":{"type":"poll"},"errors":[{"code":131051}]"#),
        message("w.reply", 1_764_400_070, #""type":"text","text":{"body":"Merci !"}"#, context: #""context":{"from":"1555","id":"w.text"},"#),
        message("w.fwd", 1_764_400_080, #""type":"text","text":{"body":"regardez ça"}"#, context: #""context":{"forwarded":true},"#),
    ]
    let body = """
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
          "contacts":[{"profile":{"name":"Amélie Laurent"},"wa_id":"33612345678"}],
          "messages":[\(messages.joined(separator: ","))]}}]}]}
        """
    return [Fixtures.webhook(body: Data(body.utf8))]
}

private func status(_ id: String, _ status: String, _ time: Int, error: String = "") -> IncomingWebhook {
    Fixtures.webhook(body: Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "metadata":{"phone_number_id":"106540352242922"},
          "statuses":[{"id":"\(id)","status":"\(status)","timestamp":"\(time)","recipient_id":"33612345678"\(error)}]}}]}]}
        """.utf8))
}

/// Replies in every state: pending, sent, delivered, read, played, failed.
func addReplies(_ database: InboxDatabase) async throws {
    let conversation = try #require(try database.conversations().items.first)
    let replies: [(String, String?)] = [("pending reply", nil), ("sent reply", "sent"), ("delivered reply", "delivered"),
                                        ("read reply", "read"), ("played reply", "played"), ("failed reply", "failed")]
    for (index, (text, state)) in replies.enumerated() {
        let time = Int64(1_764_400_100 + index * 10)
        try await database.enqueueOutbound(in: conversation.id, content: .text(body: text), localID: "l\(index)", at: time)
        guard let state else { continue }
        try await database.markAccepted(localID: "l\(index)", wamid: MessageID("out.\(index)"), at: time)
        let error = state == "failed" ? #","errors":[{"code":131047,"title":"Re-engagement message"}]"# : ""
        _ = try await database.ingest(status("out.\(index)", state, Int(time) + 1, error: error))
    }
    _ = try await database.ingest(Fixtures.webhook(body: Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "metadata":{"phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Amélie Laurent"},"wa_id":"33612345678"}],
          "messages":[{"from":"33612345678","id":"w.react","timestamp":"1764400200","type":"reaction","reaction":{"message_id":"out.3","emoji":"❤️"}}]}}]}]}
        """.utf8)))
}

@Suite struct ScreenTests {
    @Test func listAndThreadAt80x24() async throws {
        let h = try await ScreenHarness(fixtures: ["text", "multi_entry"])
        // The newest conversation is at the top and open on the right.
        #expect(h.lines[1].hasPrefix("● Nightowl"))
        #expect(h.lines[1].contains("(1) 08:30"))
        #expect(h.lines[0].contains("Inbox · 5 unread"))
        #expect(h.lines[0].contains("Nightowl"))
        #expect(h.lines[0].contains("window 23h50m"))
        #expect(h.screen.contains("username here 👋"))
        #expect(h.lines[3].contains("Amélie Laurent"))
        #expect(h.lines[5].contains("李小龙"))
        #expect(h.lines[6].contains("你好，我的包裹在哪里？"))
        #expect(h.lines[23].contains("/ filter  s search  u unread  ? help  q quit"))
        // Every line is exactly 80 cells: wide glyphs did not push anything out of place.
        for line in h.lines { #expect(TerminalText.width(of: line) == 80, "\(line)") }
        // The border column sits at the same cell on every row.
        let border = h.lines.dropLast().map { line -> Int in
            var cells = 0
            for character in line {
                if character == "│" { return cells }
                cells += TerminalText.width(of: character)
            }
            return -1
        }
        #expect(Set(border).count == 1)
    }

    @Test func everyMessageTypeAndTickState() async throws {
        let h = try await ScreenHarness(width: 100, height: 40)
        _ = try await h.database.ingest(everyKindWebhooks())
        try await addReplies(h.database)
        h.app.step()
        let screen = h.screen
        for expected in ["Bonjour, où est ma commande ?", "[image] le colis", "[voice note]", "[document: facture.pdf]",
                         "[location] Tour Eiffel (48.8584, 2.2945)", "[order] 3 items", "[unsupported: poll]",
                         "┃ Bonjour, où est ma commande ?", "↪ forwarded", "regardez ça",
                         "pending reply", "◷", "sent reply", "✓", "delivered reply", "✓✓", "✓✓  ❤️", "✓✓▸", "✗",
                         "✗ not sent: more than 24 h since the customer", "Sat 29 Nov 2025"] {
            #expect(screen.contains(expected), "missing \(expected)\n\(screen)")
        }
        // Ticks carry the theme's colours: read differs from delivered.
        let buffer = try #require(h.backend.lastFrame?.buffer)
        func style(of text: String) -> Style? {
            for y in 0..<buffer.height {
                let line = buffer.lines[y]
                guard let range = line.range(of: text) else { continue }
                let x = TerminalText.width(of: line[line.startIndex..<range.lowerBound])
                var cells = 0, column = 0
                for c in 0..<buffer.width where cells <= x {
                    column = c
                    if !buffer[c, y].isContinuation { cells += 1 }
                }
                return buffer[column, y].style
            }
            return nil
        }
        #expect(style(of: "✗ not sent")?.foreground == Theme.builtIn[.failed].foreground)
    }

    @Test func narrowTerminalAt40x12() async throws {
        let h = try await ScreenHarness(width: 40, height: 12, fixtures: ["text", "multi_entry"])
        #expect(h.lines.count == 12)
        #expect(h.lines[0].hasPrefix(" Inbox · 5 unread"))
        #expect(h.lines[1].hasPrefix("● Nightowl"))
        #expect(h.lines[11].contains("? help"))
        for line in h.lines { #expect(TerminalText.width(of: line) == 40, "\(line)") }
        h.press(.down, .down, .enter)
        #expect(h.lines[0].contains("李小龙"))
        #expect(h.screen.contains("你好，我的包裹在哪里？"))
        #expect(h.backend.lastFrame?.cursor != nil)
        h.type("好的")
        #expect(h.lines[10].hasPrefix("› 好的"))
        h.press(.escape)
        #expect(h.lines[0].hasPrefix(" Inbox"))
    }

    @Test func hostileNamesAndTextsCannotDriveTheTerminal() async throws {
        let h = try await ScreenHarness()
        let body = #"""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
              "metadata":{"phone_number_id":"1"},
              "contacts":[{"profile":{"name":"Evil\u001b[2J\u001b]0;owned\u0007 \u202Egnp.exe"},"wa_id":"6660001"}],
              "messages":[{"from":"6660001","id":"w.evil","timestamp":"1764400000","type":"text",
                           "text":{"body":"clear\u001b[H\u001b[2J\u009b31m red\u0000 and مرحبا بكم text"}}]}}]}]}
            """#
        _ = try await h.database.ingest(Fixtures.webhook(body: Data(body.utf8)))
        h.app.step()
        let screen = h.screen
        #expect(!screen.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x9b || $0.value == 0x07 || $0.value == 0 })
        #expect(!screen.unicodeScalars.contains { $0.value == 0x202e })
        #expect(screen.contains("Evil␛[2J␛]0;owned␇"))
        #expect(screen.contains("clear␛[H␛[2J�31m red␀ and مرحبا بكم"))
        for line in h.lines { #expect(TerminalText.width(of: line) == 80, "\(line)") }
        // Storage keeps the original.
        #expect(try h.database.message("w.evil")?.content == .text(body: "clear\u{1b}[H\u{1b}[2J\u{9b}31m red\u{0} and مرحبا بكم text"))
    }

    @Test func liveWebhookShowsWithoutAKey() async throws {
        let h = try await ScreenHarness(fixtures: ["text"])
        #expect(h.lines[1].contains("Amélie Laurent"))
        _ = try await h.database.ingest(Fixtures.webhook("username_only"))
        h.app.step()
        #expect(h.lines[1].contains("Nightowl"))
        #expect(h.lines[3].contains("Amélie Laurent"))
    }

    @Test func filterIsCaseAndAccentInsensitive() async throws {
        let h = try await ScreenHarness(fixtures: ["text", "multi_entry", "interactive"])
        h.type("/")
        h.type("AMELIE")
        #expect(h.lines[0].hasPrefix("/AMELIE"))
        let names = h.lines.filter { $0.hasPrefix("●") || $0.hasPrefix("  ") && $0.contains("Amélie") }
        #expect(h.screen.contains("Amélie Laurent"))
        #expect(!h.screen.contains("Jonas Müller"))
        #expect(!names.isEmpty)
        h.press(.control("u"))
        h.type("muller")
        #expect(h.screen.contains("Jonas Müller"))
        h.press(.control("u"))
        h.type("+49 151")
        #expect(h.screen.contains("Jonas Müller"))
        h.press(.control("u"))
        h.type("night.o")
        #expect(h.screen.contains("Nightowl"))
        h.press(.escape)
        #expect(h.screen.contains("Jonas Müller") && h.screen.contains("Amélie Laurent"))
    }

    @Test func searchFindsMessagesAndJumps() async throws {
        let h = try await ScreenHarness(fixtures: ["text", "multi_entry", "interactive"])
        h.type("s")
        h.type("commande")
        #expect(h.screen.contains("search: commande"))
        #expect(h.screen.contains("Bonjour, ma commande n'est"))
        h.press(.enter)
        #expect(h.lines[0].contains("Amélie Laurent"))
        #expect(h.app.state.focus == .thread)
        #expect(h.app.state.pickedMessage != nil)
    }

    @Test func composeAReplyShowsThePendingTick() async throws {
        let h = try await ScreenHarness(fixtures: ["text"])
        h.press(.enter)
        h.type("Nous regardons 🔍")
        h.press(.enter)
        try await h.settle { h.screen.contains("Nous regardons 🔍") }
        #expect(h.screen.contains("08:40 ◷"))
        #expect(try h.database.waitingToSendCount() == 1)
        // Reply mode quotes the picked message.
        h.press(.up)
        h.press(.up)
        h.press(.character("r"))
        #expect(h.screen.contains("replying to: Bonjour, ma commande"))
        h.press(.escape)
        #expect(!h.screen.contains("replying to:"))
    }

    @Test func helpOverlay() async throws {
        let h = try await ScreenHarness(fixtures: ["text"])
        h.type("?")
        #expect(h.screen.contains("Keys — ↓ ↑ more, others close"))
        #expect(h.screen.contains("filter: name, ~u ~w ~W ~F ~a ~n ~l, ! not"))
        #expect(h.backend.lastFrame?.cursor == nil)
        h.press(.character("x"))
        #expect(!h.screen.contains("Keys — ↓ ↑ more, others close"))
    }

    /// The applier's lag shows once it is a second or more behind, not for the few bodies
    /// it always has in hand under load.
    @Test func theApplierLagShowsOnceItIsASecondBehind() {
        var state = AppState(width: 100, height: 24, now: 1_000_000)
        var status = ListenerStatus(address: "127.0.0.1:8080", isUp: true)
        status.applierLag = 40
        status.oldestUnappliedAt = 1_000_000
        _ = reduce(&state, .listenerChanged(status))
        var bar = render(state, theme: .builtIn).buffer.lines.last ?? ""
        #expect(!bar.contains("applying"), "\(bar)")
        status.applierLag = 12_345
        status.oldestUnappliedAt = 999_997
        _ = reduce(&state, .listenerChanged(status))
        bar = render(state, theme: .builtIn).buffer.lines.last ?? ""
        #expect(bar.contains("applying 12345 webhooks"), "\(bar)")
    }

    @Test func templatePickerAndSendingHaltAreDrawn() {
        var state = AppState(width: 80, height: 24, now: 1_000_000)
        let conversation = ConversationSummary(
            id: ConversationID(rawValue: 1), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: "Ana"),
            lastActivityAt: 900_000, lastInboundAt: 900_000, unreadCount: 0, lastMessage: nil)
        _ = reduce(&state, .conversationsLoaded([conversation], hasMore: false))
        _ = reduce(&state, .key(.enter))
        _ = reduce(&state, .listenerChanged(ListenerStatus(
            address: "127.0.0.1:8080", isUp: true, waitingToSend: 2,
            sending: .halted("sending halted: access token expired or invalid: fix it, then restart wabox"))))
        var text = render(state, theme: .builtIn).buffer.lines.joined(separator: "\n")
        #expect(text.contains("window closed: Ctrl-T picks a template"))
        #expect(text.contains("sending halted: access token expired"))

        _ = reduce(&state, .key(.control("t")))
        text = render(state, theme: .builtIn).buffer.lines.joined(separator: "\n")
        #expect(text.contains("loading approved templates"))
        _ = reduce(&state, .templatesLoaded([
            TemplateChoice(name: "order_update", language: "en_US", body: "Hello {{1}}, order {{2}} ships", parameterCount: 2),
            TemplateChoice(name: "\u{1B}]0;pwned\u{07}evil", language: "en", body: "\u{1B}[2J", parameterCount: 0),
        ]))
        let frame = render(state, theme: .builtIn)
        text = frame.buffer.lines.joined(separator: "\n")
        #expect(text.contains("order_update (en_US)"))
        #expect(text.contains("Hello {{1}}, order {{2}} ships"))
        #expect(!text.contains("\u{1B}"))
        #expect(frame.cursor == nil)
        _ = reduce(&state, .key(.enter))
        text = render(state, theme: .builtIn).buffer.lines.joined(separator: "\n")
        #expect(text.contains("{{1}} of 2"))
        #expect(text.contains("template order_update: Hello {{1}}, order"))
    }

    @Test func everyThemeLoadsAndRenders() async throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("themes").path
        let names = Theme.available(in: [directory])
        for required in ["default", "light", "solarized-dark", "high-contrast", "mono"] {
            #expect(names.contains(required))
        }
        for name in names {
            let theme = try Theme.load(named: name, searchPaths: [directory])
            let h = try await ScreenHarness(theme: theme, fixtures: ["text"])
            #expect(h.screen.contains("Amélie Laurent"), "theme \(name)")
            if name == "mono" {
                let buffer = try #require(h.backend.lastFrame?.buffer)
                #expect(buffer.cells.allSatisfy { $0.style.foreground == .terminalDefault && $0.style.background == .terminalDefault })
            }
        }
    }

    @Test func brokenThemeNamesFileLineAndKey() {
        #expect(throws: Theme.LoadError.self) { try Theme.parse("[selection]\nfg = \"purpleish\"\n", file: "bad.toml") }
        let badColour = #expect(throws: Theme.LoadError.self) {
            try Theme.parse("name = \"x\"\n\n[selection]\nbg = \"blue\"\nfg = \"purpleish\"\n", file: "bad.toml")
        }
        #expect(badColour?.description.contains("bad.toml") == true)
        #expect(badColour?.description.contains("line 5") == true)
        #expect(badColour?.description.contains("[selection] fg") == true)
        let unknown = #expect(throws: Theme.LoadError.self) { try Theme.parse("[sidebar]\nfg = \"red\"\n", file: "t.toml") }
        #expect(unknown?.description.contains("unknown element [sidebar]") == true)
        #expect(throws: Theme.LoadError.self) { try Theme.parse("[list\nfg=", file: "t.toml") }
    }

    @Test func asciiModeDrawsPlainTicksAndBorders() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        _ = try await temp.database.ingest(Fixtures.webhook("text"))
        let backend = InMemoryBackend(width: 80, height: 24)
        let app = InboxApp(database: temp.database, backend: backend, theme: .mono,
                           configuration: .init(utcOffset: 0, asciiOnly: true, pollMilliseconds: 0),
                           clock: { 1_764_405_600 })
        app.step()
        #expect(backend.lines[1].hasPrefix("* Amélie"))
        #expect(!backend.text.contains("│"))
        #expect(backend.text.contains("|"))
    }

    @Test func incomingMessageRedrawsFewCells() async throws {
        let h = try await ScreenHarness(fixtures: ["text", "multi_entry"])
        let before = h.backend.cellsWritten
        _ = try await h.database.ingest(Fixtures.webhook("interactive"))
        h.app.step()
        let written = h.backend.cellsWritten - before
        #expect(written > 0)
        #expect(written < 80 * 24 / 2)
    }
}
