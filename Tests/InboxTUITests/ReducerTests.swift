import InboxCore
import InboxStore
import InboxTUI
import Testing

private func state(width: Int = 80, height: Int = 24) -> AppState {
    AppState(width: width, height: height, now: 1_000_000)
}

@Suite struct ReducerTests {
    @Test func composeLineEditsByGraphemeCluster() {
        var line = ComposeLine()
        for character in "ab👩‍💻c" { line.insert(character) }
        #expect(line.characters.count == 4)
        line.moveLeft()
        line.backspace()  // removes the whole ZWJ emoji
        #expect(line.text == "abc")
        // A ZWJ sequence typed scalar by scalar joins into one cluster.
        var typed = ComposeLine()
        for scalar in "👩‍💻".unicodeScalars { typed.insert(Character(scalar)) }
        #expect(typed.characters == ["👩‍💻"])
        var words = ComposeLine("hello big world")
        words.deleteWordBackward()
        #expect(words.text == "hello big ")
        words.moveHome()
        words.moveRight()
        words.deleteToStart()
        #expect(words.text == "ello big ")
    }

    @Test func typingAFilterReloadsTheList() {
        var s = state()
        #expect(reduce(&s, .key(.character("/"))) == [])
        #expect(s.focus == .filter)
        let effects = reduce(&s, .key(.character("é")))
        #expect(effects == [.loadConversations(filter: "é", unreadOnly: false, scope: .all, limit: 50)])
        _ = reduce(&s, .key(.escape))
        #expect(s.focus == .list)
        #expect(s.filter.isEmpty)
        let unread = reduce(&s, .key(.character("u")))
        #expect(unread == [.loadConversations(filter: "", unreadOnly: true, scope: .all, limit: 50)])
    }

    @Test func enterInComposeSendsAndClears() {
        var s = state()
        let conversation = ConversationSummary(
            id: ConversationID(rawValue: 7), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: "Ana"),
            lastActivityAt: 999_000, lastInboundAt: 999_000, unreadCount: 2, lastMessage: nil)
        _ = reduce(&s, .conversationsLoaded([conversation], hasMore: false))
        #expect(s.open?.id == conversation.id)
        let opened = reduce(&s, .key(.enter))
        #expect(opened == [.markRead(conversation.id)])
        #expect(s.focus == .compose)
        for character in "Olá" { _ = reduce(&s, .key(.character(character))) }
        #expect(reduce(&s, .key(.enter)) == [.send(conversation.id, text: "Olá", replyTo: nil)])
        #expect(s.compose.isEmpty)
        #expect(reduce(&s, .key(.enter)) == [])  // nothing to send
    }

    @Test func narrowTerminalOpensTheThreadAsItsOwnScreen() {
        var s = state(width: 40, height: 12)
        let conversation = ConversationSummary(
            id: ConversationID(rawValue: 3), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: 1), waID: "1555"), lastActivityAt: 1, lastInboundAt: nil,
            unreadCount: 0, lastMessage: nil)
        #expect(reduce(&s, .conversationsLoaded([conversation], hasMore: false)) == [])
        #expect(s.open == nil)
        let effects = reduce(&s, .key(.enter))
        #expect(effects.contains(.loadThread(conversation.id, limit: 100)))
        #expect(s.showingThread)
        _ = reduce(&s, .key(.escape))
        #expect(!s.showingThread)
        #expect(s.focus == .list)
    }

    @Test func quitKeysAndHelp() {
        var s = state()
        _ = reduce(&s, .key(.character("?")))
        #expect(s.showHelp)
        _ = reduce(&s, .key(.character("q")))
        #expect(!s.showHelp)  // the first key only closes the help
        #expect(!s.quit)
        _ = reduce(&s, .key(.character("q")))
        #expect(s.quit)
        var typing = state()
        typing.focus = .compose
        _ = reduce(&typing, .key(.character("q")))
        #expect(!typing.quit)  // q is a letter while typing
        _ = reduce(&typing, .key(.control("c")))
        #expect(typing.quit)
    }

    @Test func databaseChangeReloadsWhatIsShown() {
        var s = state()
        #expect(reduce(&s, .databaseChanged) == [.loadConversations(filter: "", unreadOnly: false, scope: .all, limit: 50),
                                                 .loadWorkbench])
    }

    private func openConversation(_ s: inout AppState, lastInboundAt: Int64?) -> ConversationSummary {
        let conversation = ConversationSummary(
            id: ConversationID(rawValue: 9), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: "Ana"),
            lastActivityAt: 999_000, lastInboundAt: lastInboundAt, unreadCount: 0, lastMessage: nil)
        _ = reduce(&s, .conversationsLoaded([conversation], hasMore: false))
        _ = reduce(&s, .key(.enter))
        return conversation
    }

    @Test func closedWindowOffersTemplatesInsteadOfSendingText() {
        var s = state()
        let conversation = openConversation(&s, lastInboundAt: 1_000_000 - 25 * 3600)
        for character in "hello" { _ = reduce(&s, .key(.character(character))) }
        #expect(reduce(&s, .key(.enter)) == [.loadTemplates])
        #expect(s.templatePicker == TemplatePicker())
        #expect(s.compose.text == "hello")  // kept, not sent

        let template = TemplateChoice(name: "order_update", language: "en_US", body: "Hi {{1}}, order {{2}}", parameterCount: 2)
        _ = reduce(&s, .templatesLoaded([TemplateChoice(name: "welcome", language: "en", body: "Welcome!", parameterCount: 0), template]))
        _ = reduce(&s, .key(.down))
        _ = reduce(&s, .key(.down))  // stays on the last
        #expect(s.templatePicker?.selected == 1)
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(s.templatePicker == nil)
        #expect(s.templateDraft?.template == template)
        #expect(s.compose.isEmpty)

        #expect(reduce(&s, .key(.enter)) == [])  // an empty value is refused
        #expect(s.flash?.contains("{{1}}") == true)
        for character in "Ana" { _ = reduce(&s, .key(.character(character))) }
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(s.templateDraft?.values == ["Ana"])
        #expect(template.preview(with: ["Ana"]) == "Hi Ana, order {{2}}")
        for character in "A-1" { _ = reduce(&s, .key(.character(character))) }
        #expect(reduce(&s, .key(.enter)) == [.sendTemplate(conversation.id, template, values: ["Ana", "A-1"])])
        #expect(s.templateDraft == nil)
    }

    @Test func templatePickerShowsWhyItIsEmptyAndEscapeCloses() {
        var s = state()
        let conversation = openConversation(&s, lastInboundAt: nil)
        #expect(reduce(&s, .key(.control("t"))) == [.loadTemplates])
        _ = reduce(&s, .templatesFailed("set WABOX_WABA_ID"))
        #expect(s.templatePicker?.error == "set WABOX_WABA_ID")
        #expect(reduce(&s, .key(.enter)) == [])
        _ = reduce(&s, .key(.escape))
        #expect(s.templatePicker == nil)
        // A template without parameters is sent as soon as it is picked.
        _ = reduce(&s, .key(.control("t")))
        let welcome = TemplateChoice(name: "welcome", language: "en", body: "Welcome!", parameterCount: 0)
        _ = reduce(&s, .templatesLoaded([welcome]))
        #expect(reduce(&s, .key(.enter)) == [.sendTemplate(conversation.id, welcome, values: [])])
        // A late answer after the picker closed changes nothing.
        _ = reduce(&s, .templatesLoaded([welcome]))
        #expect(s.templatePicker == nil)
    }

    @Test func uncertainMessageIsResentWithOneKey() {
        var s = state()
        let conversation = openConversation(&s, lastInboundAt: 999_000)
        func message(_ row: Int64, _ status: DeliveryStatus) -> StoredMessage {
            StoredMessage(rowID: row, wamid: nil, localID: "local-\(row)", conversationID: conversation.id,
                          direction: .outbound, content: .text(body: "hi"), timestamp: 999_500, status: status,
                          statusAt: nil, replyTo: nil, forwarded: false, error: nil, reactions: [], outboxNote: nil)
        }
        _ = reduce(&s, .threadLoaded(conversation.id, [message(1, .uncertain), message(2, .sent)], hasOlder: false, quoted: [:]))
        _ = reduce(&s, .key(.up))  // picks the newest
        #expect(reduce(&s, .key(.character("R"))) == [])
        #expect(s.flash?.contains("outcome unknown") == true)
        _ = reduce(&s, .key(.up))
        #expect(reduce(&s, .key(.character("R"))) == [.resend(localID: "local-1")])
    }

    /// Ana's conversation, whose window is open at `state()`'s time.
    private func ana(assignee: String? = nil) -> ConversationSummary {
        ConversationSummary(
            id: ConversationID(rawValue: 7), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: "Ana"),
            lastActivityAt: 999_000, lastInboundAt: 999_000, unreadCount: 0, lastMessage: nil, assignee: assignee)
    }

    @Test func typingNotesAreThrottledAndEndWhenTheLineEmpties() {
        var s = state()
        s.agent = "alice"
        let conversation = ana()
        _ = reduce(&s, .conversationsLoaded([conversation], hasMore: false))
        _ = reduce(&s, .key(.enter))
        #expect(reduce(&s, .key(.character("O"))) == [.typing(conversation.id)])
        #expect(reduce(&s, .key(.character("i"))) == [])
        _ = reduce(&s, .tick(now: s.now + typingRenewSeconds))
        #expect(reduce(&s, .key(.character("!"))) == [.typing(conversation.id)])
        #expect(reduce(&s, .key(.enter)) == [.send(conversation.id, text: "Oi!", replyTo: nil), .stopTyping(conversation.id)])
        _ = reduce(&s, .key(.character("x")))
        #expect(reduce(&s, .key(.backspace)) == [.stopTyping(conversation.id)])
        // Without an agent name nobody is told anything.
        s.agent = nil
        #expect(reduce(&s, .key(.character("y"))) == [])
    }

    @Test func claimingSomeoneElsesConversationTakesTwoPresses() {
        var s = state()
        s.agent = "bob"
        var conversation = ana(assignee: "alice")
        _ = reduce(&s, .conversationsLoaded([conversation], hasMore: false))
        #expect(reduce(&s, .key(.character("a"))) == [])
        #expect(s.flash == "alice has this conversation: press a again to take it over")
        #expect(reduce(&s, .key(.character("j"))) == [])
        #expect(reduce(&s, .key(.character("a"))) == [])  // the warning again: j came between
        #expect(reduce(&s, .key(.character("a"))) == [.claim(conversation.id, takeOver: true)])
        conversation.assignee = "bob"
        _ = reduce(&s, .conversationsLoaded([conversation], hasMore: false))
        #expect(reduce(&s, .key(.character("a"))) == [.release(conversation.id)])
        #expect(reduce(&s, .key(.character("x"))) == [.resolve(conversation.id)])
        #expect(reduce(&s, .key(.character("v"))) == [.loadConversations(filter: "", unreadOnly: false, scope: .mine, limit: 50)])
    }
}
