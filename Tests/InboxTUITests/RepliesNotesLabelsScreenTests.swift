import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Testing

/// Canned replies, notes, labels and the filter line on the in-memory terminal.
@Suite struct RepliesNotesLabelsScreenTests {
    private let now = ScreenHarness.fixedNow

    /// The style of the first cell of `text` on screen.
    private func style(of text: String, in h: ScreenHarness) -> Style? {
        let buffer = h.buffer
        for y in 0..<buffer.height {
            let line = buffer.lines[y]
            guard let range = line.range(of: text) else { continue }
            return buffer[TerminalText.width(of: line[..<range.lowerBound]), y].style
        }
        return nil
    }

    @Test func aNoteShowsInTheThreadInItsOwnStyleAndIsNeverSent() async throws {
        let h = try await ScreenHarness(fixtures: ["text"], agent: "alice")
        h.press(.character("n"))
        #expect(h.lines[23].hasPrefix(" note on Amélie Laurent › "))
        #expect(h.lines[23].contains("Enter saves · never sent · Esc cancels"))
        h.type("Called her: the parcel is lost")
        #expect(h.lines[23].contains("Called her: the parcel is lost"))
        h.press(.enter)
        try await h.settle { h.screen.contains("Called her: the parcel is lost") && h.screen.contains("✎ note · alice") }
        #expect(h.screen.contains("✎ note · alice · 08:40 · not sent"))
        #expect(style(of: "✎ note", in: h)?.foreground == Theme.builtIn[.note].foreground)
        #expect(style(of: "Called her", in: h)?.attributes.contains(.italic) == true)
        // Under the customer's message, which is older.
        let rows = h.lines
        let message = try #require(rows.firstIndex { $0.contains("Bonjour, ma commande") })
        let note = try #require(rows.firstIndex { $0.contains("✎ note") })
        #expect(note > message)
        #expect(try await h.database.outboxWaitingCount() == 0)
        try await h.settle { h.screen.contains("note saved: every agent sees it, the customer never does") }
    }

    @Test func labelsShowOnTheRowAndInTheHeader() async throws {
        let h = try await ScreenHarness(fixtures: ["text", "multi_entry"], agent: "alice")
        h.press(.character("L"))
        h.type("vip")
        h.press(.enter)
        try await h.settle { h.screen.contains("#vip") }
        let selected = try #require(h.app.state.open)
        let name = String(selected.contact.displayName.prefix(8))
        let row = try #require(h.lines.dropFirst().firstIndex { $0.prefix(30).contains(name) })
        #expect(h.lines[row + 1].contains("#vip"), "\(h.screen)")
        #expect(h.lines[0].contains("#vip · window"))
        // Tab completes the label there is; Enter takes it off again.
        h.press(.character("L"))
        h.type("v")
        h.press(.tab)
        #expect(h.lines[23].contains("vip"))
        h.press(.enter)
        try await h.settle { !h.screen.contains("#vip") }
        try await h.settle { h.screen.contains("label vip taken off") }
    }

    @Test func theFilterLineShowsItsTermsAndABrokenOneSaysWhy() async throws {
        let h = try await ScreenHarness(fixtures: ["text", "multi_entry"], agent: "alice")
        let names = try h.database.conversations().items.map(\.contact.displayName)
        try await h.database.markRead(try #require(try h.database.conversations().items.first?.id))
        // The list pane only: the thread on the right still shows what was open.
        func list() -> String { h.lines.map { String($0.prefix(30)) }.joined(separator: "\n") }
        h.press(.character("/"))
        h.type("~u")
        try await h.settle { !list().contains(names[0]) }
        #expect(h.lines[0].hasPrefix("/~u [unread]"))
        #expect(list().contains(names[1]))
        h.type(" ~z")
        #expect(h.lines[2].contains("~z is not a filter term;"), "\(h.screen)")
        #expect(style(of: "~z is not", in: h)?.foreground == Theme.builtIn[.failed].foreground)
        #expect(!list().contains(names[1]))  // no stale list under a broken filter
        h.press(.backspace, .backspace, .backspace)
        try await h.settle { list().contains(names[1]) }
        #expect(h.lines[0].hasPrefix("/~u [unread]"))
        h.press(.escape)
        try await h.settle { list().contains(names[0]) }
    }

    @Test func aCannedReplyFromTheTeamExpandsAndGoesOutFilledIn() async throws {
        let h = try await ScreenHarness(fixtures: ["text"], agent: "alice",
                                        personalReplies: [CannedReply(name: "mine", text: "Personal words")])
        // Added while the screen runs: the change signal brings it in.
        try await h.temp.open(as: "bob").saveCannedReply(CannedReply(name: "hello", text: "Bonjour {{name}}, ici {{agent}}."), at: now)
        try await h.settle { h.app.state.workbench.teamReplies.count == 1 }
        h.press(.enter)
        h.type("/hel")
        h.press(.tab)
        #expect(h.lines[22].contains("› Bonjour Amélie Laurent, ici alice."), "\(h.screen)")
        h.type(" À bientôt")
        h.press(.enter)
        try await h.settle { h.screen.contains("À bientôt") }
        let open = try #require(h.app.state.open?.id)
        let sent = try #require(try h.database.messages(in: open).items.last)
        #expect(sent.content == .text(body: "Bonjour Amélie Laurent, ici alice. À bientôt"))
    }

    @Test func slashTabListsTheRepliesAndNarrows() async throws {
        let h = try await ScreenHarness(fixtures: ["text"], agent: "alice",
                                        personalReplies: [CannedReply(name: "refund", text: "Your refund is on its way")])
        try await h.temp.open(as: "bob").saveCannedReply(CannedReply(name: "hello", text: "Hello!"), at: now)
        try await h.settle { h.app.state.workbench.teamReplies.count == 1 }
        h.press(.enter)
        h.type("/")
        h.press(.tab)
        #expect(h.screen.contains("Canned replies — type to narrow"))
        #expect(h.screen.contains("/hello"))
        #expect(h.screen.contains("/refund (yours)"))
        h.type("way")
        #expect(!h.screen.contains("/hello"))
        #expect(h.screen.contains("Your refund is on its way"))
        h.press(.enter)
        #expect(!h.screen.contains("Canned replies"))
        #expect(h.lines[22].contains("› Your refund is on its way"))
    }

    /// A filter that must walk the list looks at a window of conversations per loop turn:
    /// the key is answered at once, the list fills in on the next turns, and says so.
    @Test func aWalkingFilterFillsTheListOverTheNextTurns() async throws {
        let h = try await ScreenHarness(agent: "alice", listWindow: 1)
        for (index, name) in ["Zoltan Kiss", "Ana Lima", "Ben Okafor"].enumerated() {
            _ = try await h.database.ingest(Fixtures.webhook(body: Data("""
                {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
                  "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
                  "contacts":[{"profile":{"name":"\(name)"},"wa_id":"1555000000\(index)"}],
                  "messages":[{"from":"1555000000\(index)","id":"w.\(index)","timestamp":"\(now - 600 + Int64(index))",
                               "type":"text","text":{"body":"hello"}}]}}]}]}
                """.utf8)))
        }
        try await h.settle { h.screen.contains("Zoltan Kiss") && !h.app.isWalkingTheList }
        h.press(.character("/"))
        h.press(.character("z"))
        #expect(h.app.isWalkingTheList)
        #expect(h.screen.contains("Looking through older"), "\(h.screen)")
        try await h.settle { !h.app.isWalkingTheList }
        let list = h.lines.map { String($0.prefix(30)) }
        #expect(list.contains { $0.contains("Zoltan Kiss") })
        #expect(!list.contains { $0.contains("Ana Lima") || $0.contains("Looking through") })
    }
}
