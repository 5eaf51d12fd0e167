import InboxCore
import InboxStore
@testable import InboxTUI
import Testing

private let now: Int64 = 1_000_000

private func ana(id: Int64 = 7, lastInbound: Int64? = now - 60, assignee: String? = nil) -> ConversationSummary {
    ConversationSummary(
        id: ConversationID(rawValue: id), business: BusinessNumber(phoneNumberID: "106540352242922"),
        contact: ContactRecord(id: ContactID(rawValue: id), waID: WaID("1555000\(id)"), name: "Ana \(id)"),
        lastActivityAt: now - 60, lastInboundAt: lastInbound, unreadCount: 0, lastMessage: nil, assignee: assignee)
}

private func message(_ rowID: Int64, wamid: String? = nil, direction: Direction = .inbound, text: String = "hello",
                     reactions: [StoredReaction] = [], status: DeliveryStatus? = nil) -> StoredMessage {
    StoredMessage(rowID: rowID, wamid: wamid.map(MessageID.init), localID: nil, conversationID: ConversationID(rawValue: 7),
                  direction: direction, content: .text(body: text), timestamp: now - 60, status: status, statusAt: nil,
                  replyTo: nil, forwarded: false, error: nil, reactions: reactions)
}

/// A wide screen with Ana's conversation open and its thread loaded; focus in compose.
private func threadState(_ conversation: ConversationSummary = ana(), messages: [StoredMessage] = [message(1, wamid: "wamid.A")])
    -> AppState {
    var s = AppState(width: 100, height: 30, now: now)
    _ = reduce(&s, .conversationsLoaded([conversation], hasMore: false))
    _ = reduce(&s, .threadLoaded(conversation.id, messages, hasOlder: false, quoted: [:]))
    _ = reduce(&s, .key(.enter))
    return s
}

@Suite struct WorkbenchReducerTests {
    // MARK: - Reactions

    @Test func plusOnAPickedMessageReactsAndTheSameEmojiAgainRemoves() {
        var s = threadState()
        #expect(reduce(&s, .key(.up)) == [])
        #expect(s.focus == .thread)
        #expect(reduce(&s, .key(.character("+"))) == [])
        #expect(s.workbench.reactionPicker?.target == MessageID("wamid.A"))
        _ = reduce(&s, .key(.right))
        #expect(s.workbench.reactionPicker?.selected == 1)
        #expect(reduce(&s, .key(.enter)) == [.workbench(.react(ConversationID(rawValue: 7), to: "wamid.A", emoji: "❤️"))])
        #expect(s.workbench.reactionPicker == nil)

        // With ❤️ there already, choosing it again sends the empty emoji.
        s.thread = [message(1, wamid: "wamid.A", reactions: [StoredReaction(emoji: "❤️", from: "106540352242922",
                                                                               isBusiness: true, status: .sent)])]
        _ = reduce(&s, .key(.character("+")))
        #expect(s.workbench.reactionPicker?.current == "❤️")
        #expect(s.workbench.reactionPicker?.selected == 1)
        #expect(reduce(&s, .key(.character("2"))) == [.workbench(.react(ConversationID(rawValue: 7), to: "wamid.A", emoji: ""))])
    }

    @Test func anyEmojiCanBeTypedButOnlyOne() {
        var s = threadState()
        _ = reduce(&s, .key(.up))
        _ = reduce(&s, .key(.character("+")))
        for scalar in "🎉".unicodeScalars { _ = reduce(&s, .key(.character(Character(scalar)))) }
        #expect(reduce(&s, .key(.enter)) == [.workbench(.react(ConversationID(rawValue: 7), to: "wamid.A", emoji: "🎉"))])
        _ = reduce(&s, .key(.character("+")))
        _ = reduce(&s, .key(.character("o")))
        _ = reduce(&s, .key(.character("k")))
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(s.flash == "\"ok\" is not one emoji: WhatsApp reacts with a single emoji")
        #expect(reduce(&s, .key(.escape)) == [])
        #expect(s.workbench.reactionPicker == nil)
        #expect(isSingleEmoji("❤️") && isSingleEmoji("👩‍💻") && !isSingleEmoji("1") && !isSingleEmoji("👍👍"))
    }

    @Test func aReactionNeedsAMessageWhatsAppHasAndAnOpenWindow() {
        var pending = threadState(messages: [message(1, direction: .outbound, status: .pending)])
        _ = reduce(&pending, .key(.up))
        #expect(reduce(&pending, .key(.character("+"))) == [])
        #expect(pending.workbench.reactionPicker == nil)
        #expect(pending.flash == "WhatsApp has not taken this message yet: react once it shows a tick")

        var closed = threadState(ana(lastInbound: now - 2 * 86_400))
        _ = reduce(&closed, .key(.up))
        _ = reduce(&closed, .key(.character("+")))
        #expect(closed.workbench.reactionPicker == nil)
        #expect(closed.flash?.hasPrefix("window closed") == true)
    }

    @Test func rOnAMessageWhoseReactionIsUncertainSendsTheReactionAgain() {
        let reaction = StoredReaction(emoji: "👍", from: "106540352242922", isBusiness: true, status: .uncertain, localID: "r-9")
        var s = threadState(messages: [message(1, wamid: "wamid.A", reactions: [reaction])])
        _ = reduce(&s, .key(.up))
        #expect(reduce(&s, .key(.character("R"))) == [.resend(localID: "r-9")])
    }

    // MARK: - Reply buttons

    @Test func ctrlBTurnsTheTextIntoButtonsTitledOneByOne() {
        var s = threadState()
        for character in "Deliver tomorrow?" { _ = reduce(&s, .key(.character(character))) }
        #expect(reduce(&s, .key(.control("b"))) == [])
        #expect(s.workbench.buttonDraft?.body == "Deliver tomorrow?")
        #expect(s.compose.isEmpty)
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(s.flash?.hasPrefix("type the first button's title") == true)
        for character in "A title that is far too long" { _ = reduce(&s, .key(.character(character))) }
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(s.flash == "button title \"A title that is far too long\" is 28 characters: WhatsApp takes at most 20")
        _ = reduce(&s, .key(.control("u")))
        for character in "Yes" { _ = reduce(&s, .key(.character(character))) }
        #expect(reduce(&s, .key(.enter)) == [])
        for character in "Yes" { _ = reduce(&s, .key(.character(character))) }
        _ = reduce(&s, .key(.enter))
        #expect(s.flash == "there is already a button \"Yes\": each title must differ")
        _ = reduce(&s, .key(.control("u")))
        for character in "No" { _ = reduce(&s, .key(.character(character))) }
        _ = reduce(&s, .key(.enter))
        #expect(s.workbench.buttonDraft?.titles == ["Yes", "No"])
        // Enter on an empty line sends with the buttons so far.
        #expect(reduce(&s, .key(.enter)) == [.workbench(.sendButtons(
            ConversationID(rawValue: 7), ReplyButtons(body: "Deliver tomorrow?", titles: ["Yes", "No"]), replyTo: nil))])
        #expect(s.workbench.buttonDraft == nil)
    }

    @Test func theThirdButtonSendsAndEscGoesBackToTheText() {
        var s = threadState()
        for character in "Pick a slot" { _ = reduce(&s, .key(.character(character))) }
        _ = reduce(&s, .key(.control("b")))
        _ = reduce(&s, .key(.character("A")))
        _ = reduce(&s, .key(.escape))
        #expect(s.workbench.buttonDraft == nil)
        #expect(s.compose.text == "Pick a slot")
        _ = reduce(&s, .key(.control("b")))
        var effects: [Effect] = []
        for title in ["9:00", "12:00", "15:00"] {
            for character in title { _ = reduce(&s, .key(.character(character))) }
            effects = reduce(&s, .key(.enter))
        }
        #expect(effects == [.workbench(.sendButtons(
            ConversationID(rawValue: 7), ReplyButtons(body: "Pick a slot", titles: ["9:00", "12:00", "15:00"]), replyTo: nil))])
        // Without text, Ctrl-B says what to do.
        _ = reduce(&s, .key(.control("b")))
        #expect(s.flash == "type the message first, then Ctrl-B adds reply buttons to it")
    }

    // MARK: - Contact panel and raw view

    @Test func iShowsTheContactPanelFromTheListAndTheThread() {
        var s = threadState()
        _ = reduce(&s, .key(.escape))
        #expect(s.focus == .list)
        #expect(reduce(&s, .key(.character("i"))) == [.workbench(.loadContact(ConversationID(rawValue: 7)))])
        #expect(s.workbench.contactPanel?.details == nil)
        let details = ContactDetails(conversation: ana())
        _ = reduce(&s, .workbench(.contactLoaded(details)))
        #expect(s.workbench.contactPanel?.details == details)
        #expect(reduce(&s, .key(.character("j"))) == [])  // any key closes it
        #expect(s.workbench.contactPanel == nil)
        #expect(s.selected == ConversationID(rawValue: 7))
        _ = reduce(&s, .key(.enter))
        _ = reduce(&s, .key(.up))
        #expect(reduce(&s, .key(.character("i"))) == [.workbench(.loadContact(ConversationID(rawValue: 7)))])
    }

    @Test func jShowsTheRawWebhookScrollableAndEscCloses() {
        var s = threadState()
        _ = reduce(&s, .key(.up))
        #expect(reduce(&s, .key(.character("J"))) == [.workbench(.loadRaw(messageRowID: 1, wamid: "wamid.A"))])
        let lines = (0..<100).map { "line \($0)" }
        _ = reduce(&s, .workbench(.rawLoaded(RawView(title: "webhook #1", lines: lines, focusLine: 40))))
        #expect(s.workbench.rawView?.top == 38)
        _ = reduce(&s, .key(.down))
        #expect(s.workbench.rawView?.top == 39)
        _ = reduce(&s, .key(.character("G")))
        #expect(s.workbench.rawView?.top == 99)
        _ = reduce(&s, .key(.pageDown))
        #expect(s.workbench.rawView?.top == 99)
        _ = reduce(&s, .key(.character("g")))
        #expect(s.workbench.rawView?.top == 0)
        _ = reduce(&s, .key(.escape))
        #expect(s.workbench.rawView == nil)
        #expect(s.focus == .thread)
    }

    // MARK: - Notifications

    private func arrival(_ conversation: Int64, assignee: String? = nil, receivedAt: Int64? = now + 5) -> Arrival {
        Arrival(messageRowID: 100 + conversation, conversation: ConversationID(rawValue: conversation),
                contact: ContactRecord(id: ContactID(rawValue: conversation), name: "Bea"), content: .text(body: "hi"),
                assignee: assignee, receivedAt: receivedAt)
    }

    private var shown: ConversationID? { ConversationID(rawValue: 7) }

    @Test func aNewMessageElsewhereRingsAtMostEveryTwoSeconds() {
        var s = threadState()
        s.workbench.arrivalsAfter = 50
        s.workbench.startedAt = now
        #expect(reduce(&s, .databaseChanged).first == .workbench(.checkArrivals(after: 50, shown: ConversationID(rawValue: 7))))
        // In the open conversation: nothing; the mark moves on.
        #expect(reduce(&s, .workbench(.arrivals([arrival(7)], through: 107, shown: shown, nowMilliseconds: 1_000))) == [])
        #expect(s.workbench.arrivalsAfter == 107)
        #expect(reduce(&s, .workbench(.arrivals([arrival(8)], through: 108, shown: shown, nowMilliseconds: 1_500))) == [.workbench(.alert(.bell))])
        #expect(reduce(&s, .workbench(.arrivals([arrival(9)], through: 109, shown: shown, nowMilliseconds: 3_499))) == [])
        #expect(reduce(&s, .workbench(.arrivals([arrival(9)], through: 110, shown: shown, nowMilliseconds: 3_500))) == [.workbench(.alert(.bell))])
        // A webhook journaled before the screen started is never announced.
        #expect(reduce(&s, .workbench(.arrivals([arrival(8, receivedAt: now - 1)], through: 111, shown: shown, nowMilliseconds: 9_000))) == [])
    }

    @Test func withClaimsOnlyMineAndUnassignedRing() {
        var s = threadState()
        s.agent = "alice"
        s.workbench.arrivalsAfter = 0
        #expect(reduce(&s, .workbench(.arrivals([arrival(8, assignee: "bob")], through: 1, shown: shown, nowMilliseconds: 10_000))) == [])
        #expect(reduce(&s, .workbench(.arrivals([arrival(8, assignee: "alice")], through: 2, shown: shown, nowMilliseconds: 20_000)))
                == [.workbench(.alert(.bell))])
        #expect(reduce(&s, .workbench(.arrivals([arrival(9)], through: 3, shown: shown, nowMilliseconds: 30_000))) == [.workbench(.alert(.bell))])
    }

    @Test func oscSendsADesktopNotificationAndOffNothing() {
        var s = threadState()
        s.workbench.notify = .osc
        s.workbench.arrivalsAfter = 0
        let effects = reduce(&s, .workbench(.arrivals([arrival(8)], through: 1, shown: shown, nowMilliseconds: 10_000)))
        #expect(effects == [.workbench(.alert(.desktop(title: "wabox: Bea", body: "hi")))])
        #expect(TerminalAlert.notification(title: "wabox: Bea", text: "hi").escapeSequence
                == "\u{1b}]777;notify;wabox: Bea;hi\u{07}\u{1b}]9;wabox: Bea: hi\u{07}")
        // Outside text cannot end the sequence or start another one.
        let hostile = TerminalAlert.notification(title: "a;b\u{07}", text: "x\u{1b}]0;pwned\u{07}")
        guard case .desktop(let title, let body) = hostile else { return }
        #expect(!title.contains(";") && !title.unicodeScalars.contains { $0.value < 0x20 })
        #expect(!body.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f })
        s.workbench.notify = .off
        #expect(!reduce(&s, .databaseChanged).contains { if case .workbench = $0 { true } else { false } })
    }

    // MARK: - Help

    @Test func theHelpScrollsWhenTallerThanTheScreen() {
        var s = AppState(width: 80, height: 24, now: now)
        _ = reduce(&s, .key(.character("?")))
        #expect(s.showHelp)
        _ = reduce(&s, .key(.down))
        #expect(s.workbench.helpTop == 1)
        _ = reduce(&s, .key(.pageDown))
        #expect(s.workbench.helpTop == Renderer.helpEntries.count - Renderer.helpRows(height: 24))
        _ = reduce(&s, .key(.character("x")))
        #expect(!s.showHelp)
        #expect(s.workbench.helpTop == 0)
    }
}
