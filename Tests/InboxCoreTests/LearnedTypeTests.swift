import Foundation
import InboxCore
import InboxTesting
import Testing

/// The decoder's stand-in for other releases (only tests set it), and what `wabox journal`
/// says a body held.
@Suite struct LearnedTypeTests {
    private func content(_ events: [InboxEvent]) -> [MessageContent] {
        events.compactMap { if case .message(let message) = $0 { message.content } else { nil } }
    }

    @Test func withoutReadersATypeWaboxDoesNotKnowIsKeptWhole() throws {
        let events = try WebhookDecoder().decode(pollBody("wamid.p"), receivedAt: 0)
        guard case .unknown(let type, let raw)? = content(events).first else {
            Issue.record("a poll is not kept as unknown: \(events)")
            return
        }
        #expect(type == "poll")
        #expect(raw.contains(#""question":"Which day suits you?""#))
    }

    @Test func aReaderGivesTheContentOrMakesADeadLetter() throws {
        let learned = try WebhookDecoder(configuration: Releases.learned).decode(pollBody("wamid.p", alsoText: "wamid.t"), receivedAt: 0)
        #expect(content(learned) == [.text(body: "and a text"), .text(body: "Poll: Which day suits you?")])
        // Readers are asked only about what the built-in reading cannot read.
        let unreadable = content(try WebhookDecoder(configuration: Releases.learned).decode(Fixtures.data("unreadable"), receivedAt: 0))
        #expect(unreadable[1] == .location(Location(latitude: 35.68, longitude: 139.76, name: "Tokyo")))
        #expect(unreadable[3] == .text(body: "ok?"))

        let refused = try WebhookDecoder(configuration: Releases.refusingPolls).decode(pollBody("wamid.p", alsoText: "wamid.t"),
                                                                                      receivedAt: 0)
        #expect(refused.count == 2)
        #expect(refused.last == .malformed(MalformedPart(path: "entry[0].changes[0].value.messages[1]",
                                                         reason: "poll messages are not supported", rawJSON: nil)))
    }

    @Test func theTallyCountsEachKindInWords() throws {
        #expect(EventTally(try Fixtures.events("unreadable")).description == "4 messages, 1 status")
        #expect(EventTally(try Fixtures.events("malformed_batch")).description == "4 messages, 1 status, 3 unreadable parts")
        #expect(EventTally(try Fixtures.events("value_errors")).description == "1 account error")
        #expect(EventTally([]).description == "no events")
    }
}
