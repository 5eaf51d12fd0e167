import InboxCore
import InboxStore
@testable import InboxTUI
import Testing

/// What the runner (`InboxApp`) decides outside the reducer: when a commit reloads the
/// screen, and which effects of one turn are left out as stale.
@Suite struct RunnerTests {
    private let start = ContinuousClock.now

    @Test func aLoneChangeReloadsAtOnce() {
        var throttle = ReloadThrottle(interval: .milliseconds(100), now: start)
        func reloads(_ changes: Int, atMilliseconds offset: Int) -> Bool {
            throttle.shouldReload(changes: changes, now: start + .milliseconds(offset))
        }
        #expect(reloads(1, atMilliseconds: 0))
        #expect(!throttle.changeWaiting)
        // Nothing new: nothing to reload, and the loop may wait as long as it likes.
        #expect(!reloads(1, atMilliseconds: 500))
        #expect(throttle.keyWait(40, now: start + .milliseconds(500)) == 40)
    }

    @Test func aStreamOfChangesReloadsAtMostOncePerInterval() {
        var throttle = ReloadThrottle(interval: .milliseconds(100), now: start)
        func reloads(_ changes: Int, atMilliseconds offset: Int) -> Bool {
            throttle.shouldReload(changes: changes, now: start + .milliseconds(offset))
        }
        #expect(reloads(1, atMilliseconds: 0))
        // Commits 30 ms apart: the second waits until 100 ms after the first reload.
        #expect(!reloads(2, atMilliseconds: 30))
        #expect(throttle.changeWaiting)
        #expect(throttle.keyWait(40, now: start + .milliseconds(30)) == 40)
        #expect(throttle.keyWait(40, now: start + .milliseconds(80)) == 20)
        #expect(!reloads(3, atMilliseconds: 60))
        #expect(reloads(3, atMilliseconds: 100))
        #expect(throttle.lastChangeCount == 3)
        #expect(!throttle.changeWaiting)
        // Overdue: the loop does not wait for a key at all.
        #expect(!reloads(4, atMilliseconds: 150))
        #expect(throttle.keyWait(40, now: start + .milliseconds(250)) == 0)
    }

    @Test func laterLoadsReplaceEarlierOnesOfTheSameKind() {
        let list50 = Effect.loadConversations(filter: "", unreadOnly: false, scope: .all, limit: 50)
        let list100 = Effect.loadConversations(filter: "a", unreadOnly: false, scope: .all, limit: 100)
        let thread7 = Effect.loadThread(ConversationID(rawValue: 7), limit: 100)
        let thread8 = Effect.loadThread(ConversationID(rawValue: 8), limit: 100)
        let markRead = Effect.markRead(ConversationID(rawValue: 7))
        #expect(Effect.coalesced([list50, markRead, list100]) == [markRead, list100])
        // A smaller later list does not cover a larger earlier one.
        #expect(Effect.coalesced([list100, list50]) == [list100, list50])
        // Threads replace each other only for the same conversation.
        #expect(Effect.coalesced([thread7, thread8, thread7]) == [thread8, thread7])
        #expect(Effect.coalesced([.search("a"), .search("ab")]) == [.search("ab")])
        // Writes are never left out.
        let send = Effect.send(ConversationID(rawValue: 7), text: "hi", replyTo: nil)
        #expect(Effect.coalesced([send, send]) == [send, send])
    }
}

/// Keys typed faster than the screen draws arrive in one burst.
@Suite struct KeyBurstTests {
    @Test func keysAfterTheFilterLineActOnTheListItSelects() async throws {
        let h = try await ScreenHarness(fixtures: ["text", "multi_entry"])
        #expect(h.app.state.open?.contact.name != "李小龙")
        h.backend.pendingKeys += [.character("/")] + "李小".map { Key.character($0) } + [.enter, .enter]
        h.app.step()
        #expect(h.app.state.focus == .compose)
        #expect(h.app.state.open?.contact.name == "李小龙")
    }
}
