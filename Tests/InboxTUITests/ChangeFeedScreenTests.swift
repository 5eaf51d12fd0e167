import Foundation
import InboxCore
import InboxStore
import InboxTesting
import InboxTUI
import Simulator
import Testing

private func summary(_ id: Int64, at activity: Int64, name: String = "Customer") -> ConversationSummary {
    ConversationSummary(id: ConversationID(rawValue: id), business: BusinessNumber(phoneNumberID: "1"),
                        contact: ContactRecord(id: ContactID(rawValue: id), waID: WaID("1555000\(id)"), name: "\(name) \(id)"),
                        lastActivityAt: activity, lastInboundAt: activity, unreadCount: 0, lastMessage: nil)
}

private func batch(_ kind: ChangeBatch.Kind, _ ids: Int64...) -> ChangeBatch {
    ChangeBatch(sequence: 7, conversations: [kind: Set(ids.map { ConversationID(rawValue: $0) })])
}

private func isListLoad(_ effect: Effect) -> Bool {
    switch effect {
    case .loadConversations, .patchConversations: true
    default: false
    }
}

/// The screen after a commit reads what the change feed names, and only that.
@Suite struct ChangeFeedReducerTests {
    func listed(_ rows: ConversationSummary...) -> AppState {
        var state = AppState(width: 120, height: 24, now: 1_000_000)
        _ = reduce(&state, .conversationsLoaded(rows, hasMore: false))
        return state
    }

    @Test func aTickForAConversationNotShownLoadsNothing() {
        var state = listed(summary(1, at: 300), summary(2, at: 100))
        for kind in [ChangeBatch.Kind.status, .typing, .note, .reaction, .media] {
            let effects = reduce(&state, .changesArrived(batch(kind, 9)))
            #expect(!effects.contains(where: isListLoad), "\(kind) elsewhere: \(effects)")
            #expect(!effects.contains { if case .loadThread = $0 { true } else { false } }, "\(kind) elsewhere: \(effects)")
        }
    }

    @Test func aTickOnAListedRowReadsThatRowOnly() {
        var state = listed(summary(1, at: 300), summary(2, at: 100))
        let effects = reduce(&state, .changesArrived(batch(.status, 2, 9)))
        #expect(effects.contains(.patchConversations(ConversationPatch(changed: [ConversationID(rawValue: 2)], filter: "",
                                                                        unreadOnly: false, scope: .all, limit: 50))))
        #expect(!effects.contains(.loadWorkbench))
        #expect(!effects.contains { if case .loadConversations = $0 { true } else { false } })
    }

    @Test func aNewCustomerEntersTheListWhereItSorts() {
        var state = listed(summary(1, at: 300), summary(2, at: 100))
        state.selectionMoved = true
        _ = reduce(&state, .key(.down))
        let effects = reduce(&state, .changesArrived(batch(.conversation, 3)))
        let patch = ConversationPatch(changed: [ConversationID(rawValue: 3)], filter: "", unreadOnly: false, scope: .all,
                                      limit: 50)
        #expect(effects.contains(.patchConversations(patch)))
        _ = reduce(&state, .conversationsPatched(patch, rows: [summary(3, at: 200)]))
        #expect(state.conversations.map(\.id.rawValue) == [1, 3, 2])
        // A newer message moves a listed row to the top; one that stops matching leaves.
        let moved = ConversationPatch(changed: [ConversationID(rawValue: 2), ConversationID(rawValue: 1)], filter: "",
                                      unreadOnly: false, scope: .all, limit: 50)
        _ = reduce(&state, .conversationsPatched(moved, rows: [summary(2, at: 400)]))
        #expect(state.conversations.map(\.id.rawValue) == [2, 3])
    }

    @Test func theOpenThreadReloadsOnlyWhenItsConversationChanged() {
        var state = listed(summary(1, at: 300), summary(2, at: 100))
        #expect(state.open?.id.rawValue == 1, "a wide screen shows the selected conversation")
        var effects = reduce(&state, .changesArrived(batch(.message, 2)))
        #expect(!effects.contains { if case .loadThread = $0 { true } else { false } })
        effects = reduce(&state, .changesArrived(batch(.status, 1)))
        #expect(effects.contains(.loadThread(ConversationID(rawValue: 1), limit: 100)))
    }

    @Test func anOverflowOrATimeFilterReloadsEverything() {
        var state = listed(summary(1, at: 300))
        var effects = reduce(&state, .changesArrived(ChangeBatch(sequence: 9, overflow: true)))
        #expect(effects.contains(.loadConversations(filter: "", unreadOnly: false, scope: .all, limit: 50)))
        state.filter = ComposeLine("~w")
        effects = reduce(&state, .changesArrived(batch(.status, 5)))
        #expect(effects.contains(.loadConversations(filter: "~w", unreadOnly: false, scope: .all, limit: 50)))
    }

    @Test func aShortListWithMoreToComeIsReloadedWhole() {
        var state = AppState(width: 120, height: 24, now: 1_000_000)
        let rows = (1...50).map { summary(Int64($0), at: Int64(1000 - $0)) }
        _ = reduce(&state, .conversationsLoaded(rows, hasMore: true))
        let patch = ConversationPatch(changed: [ConversationID(rawValue: 4)], filter: "", unreadOnly: false, scope: .all,
                                      limit: 50)
        // Row 4 no longer matches: the 51st row, never loaded, must fill the list.
        let effects = reduce(&state, .conversationsPatched(patch, rows: []))
        #expect(effects == [.loadConversations(filter: "", unreadOnly: false, scope: .all, limit: 50)])
    }
}

/// A patched list is the list a full reload gives: random changes by two agents on a real
/// SQLite file, each followed by the screen's reducer reading the feed, against the full
/// query.
@Suite struct ChangeFeedPropertyTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let filters = ["", "~u", "~l vip", "!~l vip ~n", "~a me", "~a bob", "~F", "customer 1", "!~u"]

    @Test(arguments: filters)
    func aPatchedListEqualsAFullReload(filter: String) async throws {
        let temp = try TemporaryDatabase(configuration: .init(account: "tester"))
        defer { temp.remove() }
        let screen = temp.database
        try screen.registerAgent(at: 0)
        let bob = try temp.open(as: "bob")
        try bob.registerAgent(at: 0)
        let builder = WebhookBuilder()
        let base: Int64 = 1_764_500_000
        let viewer = Viewer(agent: "tester", nowMilliseconds: base * 1000)
        // The same changes on every run for a filter (a failure is reproducible).
        var random = SplitMix(state: filter.unicodeScalars.reduce(17) { $0 &* 31 &+ UInt64($1.value) })
        func customer(_ n: Int, name: String? = nil) -> SimulatedCustomer {
            SimulatedCustomer(name: name ?? "Customer \(n)", waID: "4477001\(String(format: "%05d", n))")
        }
        var clock = base - 10_000
        var outbound: [(local: String, customer: Int)] = []
        func write(_ n: Int, name: String? = nil) async throws {
            clock += Int64.random(in: 1...20, using: &random)
            // Now and then a message that arrives late: older than the newest.
            let at = Int.random(in: 0..<8, using: &random) == 0 ? clock - 5_000 : clock
            _ = try await bob.ingest([Fixtures.webhook(body: builder.message(from: customer(n, name: name), .text("m\(clock)"),
                                                                             timestamp: at), receivedAt: clock)])
        }
        for n in 0..<70 { try await write(n) }

        var state = AppState(width: 120, height: 24, now: base)
        state.agent = "tester"
        state.filter = ComposeLine(filter)
        func fullReload() throws -> Page<ConversationSummary, ConversationCursor> {
            try screen.conversations(matching: filter, limit: state.conversationLimit, viewer: viewer, now: base)
        }
        func perform(_ effects: [Effect]) throws -> (patched: Int, reloaded: Int) {
            var counts = (patched: 0, reloaded: 0)
            for effect in effects {
                switch effect {
                case .patchConversations(let patch):
                    let rows = try screen.conversations(among: patch.changed, filter: try ConversationFilter.parse(patch.filter),
                                                        unreadOnly: patch.unreadOnly, scope: patch.scope, viewer: viewer, now: base)
                    let next = reduce(&state, .conversationsPatched(patch, rows: rows))
                    counts.patched += 1
                    let inner = try perform(next)
                    counts.reloaded += inner.reloaded
                case .loadConversations(let filter, let unreadOnly, let scope, let limit):
                    let page = try screen.conversations(matching: filter, unreadOnly: unreadOnly, scope: scope, limit: limit,
                                                        viewer: viewer, now: base)
                    _ = reduce(&state, .conversationsLoaded(page.items, hasMore: page.next != nil))
                    counts.reloaded += 1
                default: break
                }
            }
            return counts
        }
        var seen = try screen.latestChangeSequence()
        let first = try fullReload()
        _ = reduce(&state, .conversationsLoaded(first.items, hasMore: first.next != nil))
        var patched = 0
        var reloaded = 0

        for round in 0..<40 {
            let all = try screen.conversations(limit: 1000, viewer: viewer).items
            let ids = all.map(\.id)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let id = ids.randomElement(using: &random)!
                switch Int.random(in: 0..<11, using: &random) {
                case 0, 1: try await write(Int.random(in: 0..<90, using: &random))
                case 2: _ = try await bob.claim(id, takeOver: true, at: clock)
                case 3: _ = try await screen.claim(id, takeOver: true, at: clock)
                case 4: _ = try await bob.release(id, at: clock)
                case 5: try await (Bool.random(using: &random) ? screen : bob).markRead(id)
                case 6: _ = try await bob.toggleLabel("vip", on: id, at: clock)
                case 7: try await bob.noteTyping(in: id, until: (base + 60) * 1000)
                case 8:
                    let local = "local-\(round)-\(Int.random(in: 0..<1_000_000, using: &random))"
                    _ = try await bob.enqueueOutbound(in: id, content: .text(body: "reply"), localID: local, at: clock)
                    // The customer's number says which one it is (4477001 and five digits).
                    let waID = all.first { $0.id == id }?.contact.waID?.rawValue ?? "0"
                    outbound.append((local, Int(waID.suffix(5)) ?? 0))
                    if Bool.random(using: &random) {
                        try await bob.markAccepted(localID: local, wamid: MessageID("wamid.OUT\(local)"), at: clock)
                    }
                case 9:
                    guard let reply = outbound.randomElement(using: &random) else { break }
                    switch Int.random(in: 0..<4, using: &random) {
                    case 0:
                        try await bob.markFailed(localID: reply.local, error: APIErrorDetail(code: 131026, title: "undeliverable"),
                                                 at: clock)
                    case 1:
                        try await bob.markAccepted(localID: reply.local, wamid: MessageID("wamid.OUT\(reply.local)"), at: clock)
                    default:
                        // A tick alone: only the message's status changes.
                        let tick: DeliveryStatus = Bool.random(using: &random) ? .delivered : .read
                        clock += 1
                        _ = try await bob.ingest([Fixtures.webhook(body: builder.status(tick, of: "wamid.OUT\(reply.local)",
                                                                                        to: customer(reply.customer), timestamp: clock),
                                                                   receivedAt: clock)])
                    }
                default:
                    // A customer's new name arrives with their next message.
                    let n = Int.random(in: 0..<70, using: &random)
                    try await write(n, name: "Renamed \(n) \(round)")
                }
            }
            let batch = try screen.changes(after: seen)
            seen = batch.sequence
            let counts = try perform(reduce(&state, .changesArrived(batch)))
            patched += counts.patched
            reloaded += counts.reloaded
            let full = try fullReload()
            // Rows compared whole (ticks, claims, labels, typing…); the message names the ids.
            let same = state.conversations == full.items
            #expect(same, """
                round \(round), filter "\(filter)": the patched list differs from a full reload: \
                patched \(state.conversations.map(\.id.rawValue)), full \(full.items.map(\.id.rawValue))
                """)
            if !same { return }
            // A list that may have more (the walk's own rule) may say so; one that has more must.
            #expect(full.next == nil || state.hasMoreConversations, "round \(round): more match than the list says")
        }
        #expect(patched > reloaded, "most changes are patched in (\(patched) patches, \(reloaded) full reloads)")
    }
}
