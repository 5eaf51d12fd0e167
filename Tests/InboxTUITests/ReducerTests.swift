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
        #expect(effects == [.loadConversations(filter: "é", unreadOnly: false, limit: 50)])
        _ = reduce(&s, .key(.escape))
        #expect(s.focus == .list)
        #expect(s.filter.isEmpty)
        let unread = reduce(&s, .key(.character("u")))
        #expect(unread == [.loadConversations(filter: "", unreadOnly: true, limit: 50)])
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
        #expect(reduce(&s, .databaseChanged) == [.loadConversations(filter: "", unreadOnly: false, limit: 50)])
    }
}
