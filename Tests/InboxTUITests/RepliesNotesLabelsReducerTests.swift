import InboxCore
import InboxStore
import InboxTUI
import Testing

/// Canned replies, notes, labels and the filter language: keys in, state and effects out.
@Suite struct RepliesNotesLabelsReducerTests {
    private let ana = ConversationSummary(
        id: ConversationID(rawValue: 7), business: BusinessNumber(phoneNumberID: "1", displayPhoneNumber: "15550783881"),
        contact: ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: "Ana"),
        lastActivityAt: 999_000, lastInboundAt: 999_000, unreadCount: 0, lastMessage: nil, labels: ["vip"])

    /// Ana's conversation open, the compose line focused, two team replies and a personal one.
    private func composing(agent: String? = "alice") -> AppState {
        var s = AppState(width: 80, height: 24, now: 1_000_000)
        s.agent = agent
        _ = reduce(&s, .conversationsLoaded([ana], hasMore: false))
        _ = reduce(&s, .key(.enter))
        _ = reduce(&s, .workbenchLoaded(replies: [CannedReply(name: "hello", text: "Hello {{name}}, {{agent}} here ({{number}})."),
                                                  CannedReply(name: "help", text: "How can I help?"),
                                                  CannedReply(name: "refund", text: "Team refund text")],
                                        labels: ["billing", "bug", "vip"]))
        s.workbench.personalReplies = [CannedReply(name: "refund", text: "My refund text")]
        return s
    }

    private func type(_ text: String, _ s: inout AppState) -> [Effect] {
        text.flatMap { reduce(&s, .key(.character($0))) }
    }

    @Test func slashNameTabExpandsAndStaysEditable() {
        var s = composing()
        #expect(s.focus == .compose)
        _ = type("/hello", &s)
        #expect(reduce(&s, .key(.tab)) == [])
        #expect(s.compose.text == "Hello Ana, alice here (+15550783881).")
        #expect(s.compose.cursor == s.compose.characters.count)
        _ = reduce(&s, .key(.backspace))
        _ = type(" Thanks!", &s)
        #expect(reduce(&s, .key(.enter)).first == .send(ana.id, text: "Hello Ana, alice here (+15550783881) Thanks!", replyTo: nil))
    }

    @Test func aPrefixOfOneNameExpandsAndAPersonalReplyWins() {
        var s = composing()
        _ = type("/ref", &s)
        _ = reduce(&s, .key(.tab))
        #expect(s.compose.text == "My refund text")
        // The words after /NAME stay.
        var t = composing()
        _ = type("/help please", &t)
        for _ in 0..<7 { _ = reduce(&t, .key(.left)) }
        _ = reduce(&t, .key(.tab))
        #expect(t.compose.text == "How can I help? please")
    }

    @Test func noNameInTheCustomerProfileSaysThere() {
        var s = composing(agent: nil)
        s.open?.contact = ContactRecord(id: ContactID(rawValue: 1), waID: "15550001", name: nil)
        _ = type("/hello", &s)
        _ = reduce(&s, .key(.tab))
        #expect(s.compose.text == "Hello there, the team here (+15550783881).")
    }

    @Test func slashTabOpensAPickerThatNarrows() {
        var s = composing()
        _ = type("/", &s)
        _ = reduce(&s, .key(.tab))
        #expect(s.workbench.replyPicker == ReplyPicker())
        _ = type("he", &s)
        #expect(s.workbench.replyPicker?.query.text == "he")
        _ = reduce(&s, .key(.down))
        #expect(s.workbench.replyPicker?.selected == 1)
        _ = type("l", &s)  // "hel": hello, help — the selection goes back to the first
        #expect(s.workbench.replyPicker?.selected == 0)
        _ = reduce(&s, .key(.down))
        _ = reduce(&s, .key(.enter))
        #expect(s.workbench.replyPicker == nil)
        #expect(s.compose.text == "How can I help?")
        // Several names start alike: the picker opens with what was typed.
        var t = composing()
        _ = type("/he", &t)
        _ = reduce(&t, .key(.tab))
        #expect(t.workbench.replyPicker?.query.text == "he")
        _ = reduce(&t, .key(.escape))
        #expect(t.workbench.replyPicker == nil)
        #expect(t.compose.text == "/he")
    }

    @Test func anUnknownNameSaysSo() {
        var s = composing()
        _ = type("/nope", &s)
        _ = reduce(&s, .key(.tab))
        #expect(s.flash == "no canned reply is called /nope: / and Tab lists them")
        #expect(s.compose.text == "/nope")
        // Tab elsewhere in an ordinary reply changes nothing.
        var t = composing()
        _ = type("hello", &t)
        #expect(reduce(&t, .key(.tab)) == [])
        #expect(t.compose.text == "hello")
    }

    @Test func nWritesANoteThatIsNeverSent() {
        var s = composing()
        _ = reduce(&s, .key(.escape))  // back to the list
        #expect(s.focus == .list)
        #expect(reduce(&s, .key(.character("n"))) == [])
        #expect(s.workbench.prompt?.kind == .note)
        #expect(s.workbench.prompt?.conversation == ana.id)
        #expect(type("Called her", &s) == [])
        #expect(reduce(&s, .key(.enter)) == [.addNote(ana.id, text: "Called her")])
        #expect(s.workbench.prompt == nil)
        // Empty: nothing saved; Esc cancels.
        _ = reduce(&s, .key(.character("n")))
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(s.flash?.hasPrefix("the note is empty") == true)
        _ = reduce(&s, .key(.escape))
        #expect(s.workbench.prompt == nil)
        // In the compose line n is a letter.
        var t = composing()
        _ = reduce(&t, .key(.character("n")))
        #expect(t.workbench.prompt == nil)
        #expect(t.compose.text == "n")
    }

    @Test func capitalLTogglesALabelWithTabCompletion() {
        var s = composing()
        _ = reduce(&s, .key(.up))  // into the thread
        #expect(s.focus == .thread)
        _ = reduce(&s, .key(.character("L")))
        #expect(s.workbench.prompt?.kind == .label)
        _ = type("b", &s)
        _ = reduce(&s, .key(.tab))
        #expect(s.workbench.prompt?.line.text == "b")  // billing and bug share only b
        #expect(s.flash == "billing bug")
        _ = type("i", &s)
        _ = reduce(&s, .key(.tab))
        #expect(s.workbench.prompt?.line.text == "billing")
        #expect(reduce(&s, .key(.enter)) == [.toggleLabel(ana.id, label: "billing")])
        // A new name makes a label; an existing one keeps its spelling.
        _ = reduce(&s, .key(.character("L")))
        _ = type("VIP", &s)
        #expect(reduce(&s, .key(.enter)) == [.toggleLabel(ana.id, label: "vip")])
        _ = reduce(&s, .key(.character("L")))
        _ = type("two words", &s)
        #expect(reduce(&s, .key(.enter)) == [])
        #expect(s.flash?.hasPrefix("label \"two words\" must be") == true)
    }

    @Test func aBrokenFilterSaysWhatIsWrongAndRunsNoQuery() {
        var s = composing()
        _ = reduce(&s, .key(.escape))
        _ = reduce(&s, .key(.character("/")))
        #expect(reduce(&s, .key(.character("~"))) == [])
        #expect(s.filterProblem?.hasPrefix("~ needs a letter") == true)
        #expect(reduce(&s, .key(.character("u"))) == [.loadConversations(filter: "~u", unreadOnly: false, scope: .all, limit: 50)])
        #expect(s.filterProblem == nil)
        #expect(type(" ~a", &s) == [.loadConversations(filter: "~u ", unreadOnly: false, scope: .all, limit: 50)])
        #expect(s.filterProblem == "~a needs an agent's name after it, like ~a me or ~a alice")
        #expect(type(" m", &s) == [.loadConversations(filter: "~u ~a m", unreadOnly: false, scope: .all, limit: 50)])
        #expect(type("e", &s) == [.loadConversations(filter: "~u ~a me", unreadOnly: false, scope: .all, limit: 50)])
        // Without an agent, "me" is nobody.
        var t = composing(agent: nil)
        _ = reduce(&t, .key(.escape))
        _ = reduce(&t, .key(.character("/")))
        _ = type("~a m", &t)
        #expect(reduce(&t, .key(.character("e"))) == [])
        #expect(t.filterProblem?.hasPrefix("~a me: this screen shows the team's view") == true)
    }

    @Test func notesAndRepliesArriveAsActions() {
        var s = composing()
        let note = ConversationNote(id: 1, conversationID: ana.id, agent: "bob", text: "hi", createdAt: 999_500)
        _ = reduce(&s, .notesLoaded(ana.id, [note]))
        #expect(s.workbench.notes == [note])
        _ = reduce(&s, .notesLoaded(ConversationID(rawValue: 99), []))  // another conversation's
        #expect(s.workbench.notes == [note])
        #expect(s.workbench.replies.map(\.text) == ["Hello {{name}}, {{agent}} here ({{number}}).", "How can I help?",
                                                     "My refund text"])
    }
}
