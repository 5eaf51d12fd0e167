import InboxCore
import InboxStore
import InboxTUI
import Testing

/// New customers are never out of sight (issue 15): the list stays on the newest while the
/// agent leaves the selection alone, and says how many changed above the viewport once
/// they have moved it.
@Suite struct NewestInSightTests {
    /// Conversation `id` last active at `activity`.
    private func conversation(_ id: Int64, _ activity: Int64) -> ConversationSummary {
        ConversationSummary(
            id: ConversationID(rawValue: id), business: BusinessNumber(phoneNumberID: "1"),
            contact: ContactRecord(id: ContactID(rawValue: id), waID: WaID("1555000\(id)"), name: "Customer \(id)"),
            lastActivityAt: activity, lastInboundAt: activity, unreadCount: 0, lastMessage: nil)
    }

    /// Conversations `ids`, the first the newest.
    private func list(_ ids: ClosedRange<Int64>, newest: Int64) -> [ConversationSummary] {
        ids.map { conversation($0, newest - ($0 - ids.lowerBound)) }
    }

    private func screen(_ state: AppState) -> [String] {
        render(state, theme: .builtIn).buffer.lines
    }

    @Test func anUntouchedSelectionFollowsTheNewest() {
        var s = AppState(width: 100, height: 24, now: 2_000)
        _ = reduce(&s, .conversationsLoaded(list(1...3, newest: 1_000), hasMore: false))
        #expect(s.selected == ConversationID(rawValue: 1))
        // Customer 10 writes: the list shows them on top, selected, and the thread follows.
        let effects = reduce(&s, .conversationsLoaded([conversation(10, 1_001)] + list(1...3, newest: 1_000), hasMore: false))
        #expect(s.selected == ConversationID(rawValue: 10))
        #expect(s.listTop == 0)
        #expect(effects.contains(.loadThread(ConversationID(rawValue: 10), limit: 100)))
        // A busy minute: twenty new customers, and the list still starts at the newest.
        _ = reduce(&s, .conversationsLoaded(list(20...39, newest: 1_100) + [conversation(10, 1_001)]
                                            + list(1...3, newest: 1_000), hasMore: false))
        #expect(s.selected == ConversationID(rawValue: 20))
        #expect(s.listTop == 0)
        #expect(screen(s)[1].contains("Customer 20"))
    }

    @Test func aSelectionOnTheTopRowFollowsTheNewestToo() {
        var s = AppState(width: 100, height: 24, now: 2_000)
        _ = reduce(&s, .conversationsLoaded(list(1...5, newest: 1_000), hasMore: false))
        _ = reduce(&s, .key(.character("j")))
        _ = reduce(&s, .key(.character("k")))
        #expect(s.selected == ConversationID(rawValue: 1))
        _ = reduce(&s, .conversationsLoaded([conversation(10, 1_001)] + list(1...5, newest: 1_000), hasMore: false))
        #expect(s.selected == ConversationID(rawValue: 10))
    }

    @Test func aMovedSelectionStaysAndTheListSaysWhatChangedAbove() {
        var s = AppState(width: 100, height: 24, now: 2_000)
        _ = reduce(&s, .conversationsLoaded(list(1...20, newest: 1_000), hasMore: false))
        for _ in 0..<15 { _ = reduce(&s, .key(.character("j"))) }
        #expect(s.selected == ConversationID(rawValue: 16))
        #expect(s.listTop == 5)
        #expect(!screen(s)[0].contains("new"))
        // Three new customers, and customer 2 (above the viewport) writes again.
        var fresh = [conversation(30, 1_010), conversation(31, 1_009), conversation(2, 1_008), conversation(32, 1_007)]
        fresh += list(1...20, newest: 1_000).filter { $0.id.rawValue != 2 }
        _ = reduce(&s, .conversationsLoaded(fresh, hasMore: false))
        #expect(s.selected == ConversationID(rawValue: 16))
        #expect(s.listTop == 8)
        #expect(screen(s)[0].contains("↑ 4 new"), "\(screen(s)[0])")
        // g jumps to them; the list is pinned to the newest again.
        _ = reduce(&s, .key(.character("g")))
        #expect(s.selected == ConversationID(rawValue: 30))
        #expect(s.listTop == 0)
        #expect(!screen(s)[0].contains("new"))
        _ = reduce(&s, .conversationsLoaded([conversation(40, 1_020)] + fresh, hasMore: false))
        #expect(s.selected == ConversationID(rawValue: 40))
    }

    @Test func theAgentAtWorkKeepsTheirConversation() {
        var s = AppState(width: 100, height: 24, now: 2_000)
        _ = reduce(&s, .conversationsLoaded(list(1...3, newest: 1_000), hasMore: false))
        _ = reduce(&s, .key(.enter))  // reading and answering customer 1
        #expect(s.focus == .compose)
        _ = reduce(&s, .conversationsLoaded([conversation(10, 1_001)] + list(1...3, newest: 1_000), hasMore: false))
        #expect(s.selected == ConversationID(rawValue: 1))
        #expect(s.open?.id == ConversationID(rawValue: 1))
    }

    @Test func theCountFitsANarrowScreenInASCII() {
        var s = AppState(width: 40, height: 12, now: 2_000, asciiOnly: true)
        _ = reduce(&s, .conversationsLoaded(list(1...20, newest: 1_000), hasMore: false))
        for _ in 0..<10 { _ = reduce(&s, .key(.character("j"))) }
        _ = reduce(&s, .conversationsLoaded([conversation(30, 1_010), conversation(31, 1_009)]
                                            + list(1...20, newest: 1_000), hasMore: false))
        #expect(screen(s)[0].contains("^ 2 new"), "\(screen(s)[0])")
    }
}
