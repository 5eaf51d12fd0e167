import Foundation
@testable import InboxCore
import InboxTesting
import Testing

private let business = BusinessNumber(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881")
private let account = "102290129340398"

/// The shapes of CLOUD_API.md's last section: edits, deletions, calls, account alerts,
/// template updates, marketing preferences and messages whose payload cannot be read.
@Suite struct UpdateDecodingTests {
    @Test func editsAndDeletionsNameTheirOriginal() throws {
        let amelie = ContactIdentity(waID: "33612345678", userID: "FR.8837465512093847561", name: "Amélie Laurent")
        let events = try Fixtures.events("edits_revokes")
        #expect(Array(events.prefix(3)) == [
            .edit(MessageEdit(id: "wamid.edit.1", business: business, sender: amelie, timestamp: 1_764_403_300,
                              original: "wamid.orig.1",
                              // Hostile text is decoded as sent; the screen sanitises it.
                              content: .text(body: "Ma commande n° 4471 \u{1b}[31mest arrivée\u{202e}, merci"))),
            .edit(MessageEdit(id: "wamid.edit.2", business: business, sender: amelie, timestamp: 1_764_403_310,
                              original: "wamid.photo.1",
                              content: .media(MediaAttachment(kind: .image, mediaID: "9981", mimeType: "image/jpeg",
                                                              sha256: "aGFzaA==", caption: "le carton abîmé")))),
            .revoke(MessageRevoke(id: "wamid.revoke.1", business: business, sender: amelie, timestamp: 1_764_403_320,
                                  original: "wamid.orig.2")),
        ])
        // An edit that names no original, a deletion without its object: kept as messages
        // wabox could not read, with the message as it came.
        let unreadable = events.dropFirst(3).compactMap { event -> (MessageID, String, String, String)? in
            guard case .message(let message) = event, case .unreadable(let type, let reason, let raw) = message.content else {
                return nil
            }
            return (message.id, type, reason, raw)
        }
        #expect(unreadable.map(\.0) == ["wamid.edit.bad", "wamid.revoke.bad"])
        #expect(unreadable.map(\.1) == ["edit", "revoke"])
        #expect(unreadable[0].2 == "the edit names no original_message_id")
        #expect(unreadable[1].2 == "the revoke message has no revoke object")
        #expect(unreadable[0].3.contains(#""body":"which one?""#))
        #expect(unreadable[1].3.contains(#""id":"wamid.revoke.bad""#))
        #expect(events.count == 5)
    }

    @Test func callsFromConnectTerminateAndCallStatuses() throws {
        let lucas = ContactIdentity(waID: "5511987654321", name: "Lucas Oliveira")
        let events = try Fixtures.events("calls")
        let answered = CallID("wacid.HBgLNTUxMTk4NzY1NDMyMRUCABEYIDQ1")
        #expect(events.filter { if case .call = $0 { true } else { false } } == [
            .call(CallEvent(id: answered, business: business, customer: lucas, direction: .customer, kind: .connect,
                            timestamp: 1_764_404_000)),
            .call(CallEvent(id: answered, business: business, customer: lucas, direction: .customer, kind: .terminate,
                            status: "COMPLETED", timestamp: 1_764_404_130, startTime: 1_764_404_005,
                            endTime: 1_764_404_125, duration: 120)),
            .call(CallEvent(id: "wacid.missed.2", business: business, customer: lucas, direction: .customer,
                            kind: .terminate, status: "FAILED", timestamp: 1_764_404_200)),
            // Call progress as a status: a call the business placed.
            .call(CallEvent(id: "wacid.out.3", business: business, customer: ContactIdentity(waID: "5511987654321"),
                            direction: .business, kind: .status, status: "RINGING", timestamp: 1_764_404_300)),
        ])
        // A call without an id is a malformed part; the others are unaffected.
        let malformed = events.compactMap { if case .malformed(let part) = $0 { part } else { nil } }
        #expect(malformed.map(\.path) == ["entry[0].changes[0].value.calls[3]"])
        #expect(malformed.first?.reason.contains("id") == true)
    }

    @Test func callStateIsTheSameInAnyOrder() throws {
        let events = try Fixtures.events("calls").compactMap { if case .call(let call) = $0 { call } else { nil } }
        let answered = events.filter { $0.id == "wacid.HBgLNTUxMTk4NzY1NDMyMRUCABEYIDQ1" }
        var inOrder = CallState(first: answered[0])
        inOrder.absorb(answered[1])
        var reversed = CallState(first: answered[1])
        reversed.absorb(answered[0])
        reversed.absorb(answered[0])
        #expect(inOrder == reversed)
        #expect(inOrder.summary == CallSummary(id: answered[0].id, direction: .customer, outcome: .answered, duration: 120,
                                               endedAt: 1_764_404_125))
        #expect(CallState(first: answered[0]).summary.outcome == .ringing)
        #expect(CallState(first: events[2]).summary == CallSummary(id: "wacid.missed.2", direction: .customer, outcome: .missed,
                                                                   endedAt: 1_764_404_200))
        #expect(CallState(first: events[3]).summary.outcome == .ringing)
    }

    @Test func accountUpdatesAndWhatTheyMean() throws {
        let events = try Fixtures.events("account_updates", receivedAt: 1_764_409_999)
        let updates = events.compactMap { if case .accountUpdate(let update) = $0 { update } else { nil } }
        #expect(updates == [
            AccountUpdate(account: account, event: "ACCOUNT_RESTRICTION", phoneNumber: "15550783881",
                          restrictions: [.init(type: "RESTRICTED_BIZ_INITIATED_MESSAGING", expiration: 1_764_664_200)],
                          timestamp: 1_764_405_000),
            AccountUpdate(account: account, event: "DISABLED_UPDATE", banState: "DISABLE", banDate: "2026-11-29",
                          timestamp: 1_764_405_100),
            AccountUpdate(account: account, event: "ACCOUNT_VIOLATION", violationType: "SCAM\u{1b}]0;owned\u{07}",
                          timestamp: 1_764_405_200),
        ])
        let malformed = events.compactMap { if case .malformed(let part) = $0 { part } else { nil } }
        #expect(malformed.map(\.path) == ["entry[3].changes[0].value"])

        // A restriction on business-initiated messages: templates fail, replies still go.
        guard case .raise(let restriction) = updates[0].effect else { Issue.record("no alert"); return }
        #expect(!restriction.stopsAllSending)
        #expect(restriction.expiresAt == 1_764_664_200)
        #expect(restriction.words.contains("templates"))
        #expect(restriction.words.contains("until 2025-12-02"))
        guard case .raise(let disabled) = updates[1].effect else { Issue.record("no alert"); return }
        #expect(disabled.stopsAllSending)
        #expect(disabled.words.contains("nothing will send"))
        // Both restrictions at once stop everything.
        let both = AccountUpdate(account: account, event: "ACCOUNT_RESTRICTION", restrictions: [
            .init(type: "RESTRICTED_BIZ_INITIATED_MESSAGING"), .init(type: "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"),
        ], timestamp: 1)
        guard case .raise(let total) = both.effect else { Issue.record("no alert"); return }
        #expect(total.stopsAllSending)
        #expect(total.expiresAt == nil)
        // Lifting updates.
        #expect(AccountUpdate(account: account, event: "ACCOUNT_RESTRICTION", timestamp: 2).effect == .lift([.restriction]))
        #expect(AccountUpdate(account: account, event: "DISABLED_UPDATE", banState: "REINSTATE", timestamp: 2).effect
            == .lift([.disabled, .violation]))
        #expect(AccountUpdate(account: account, event: "VERIFIED_ACCOUNT", timestamp: 2).effect == .unchanged)
    }

    @Test func templateStatusQualityCategoryAndComponents() throws {
        let events = try Fixtures.events("template_updates")
        let updates = events.compactMap { if case .templateUpdate(let update) = $0 { update } else { nil } }
        #expect(updates == [
            TemplateUpdate(account: account, templateID: "594425479261596", name: "spring_sale", language: "en_US",
                           category: "MARKETING", change: .status("REJECTED", reason: "INVALID_FORMAT"), timestamp: 1_764_406_000),
            TemplateUpdate(account: account, templateID: "1234", name: "order_update", language: "fr",
                           change: .status("APPROVED", reason: nil), timestamp: 1_764_406_000),
            TemplateUpdate(account: account, templateID: "1234", name: "order_update", language: "fr",
                           change: .quality(previous: "GREEN", new: "YELLOW"), timestamp: 1_764_406_000),
            TemplateUpdate(account: account, templateID: "77", name: "welcome", language: "en",
                           change: .category(previous: "UTILITY", new: "MARKETING"), timestamp: 1_764_406_000),
            TemplateUpdate(account: account, templateID: "77", name: "welcome", language: "en", change: .components,
                           timestamp: 1_764_406_000),
        ])
        let malformed = events.compactMap { if case .malformed(let part) = $0 { part } else { nil } }
        #expect(malformed.map(\.path) == ["entry[0].changes[5].value"])
        #expect(malformed.first?.reason.contains("message_template_name") == true)
    }

    @Test func marketingPreferences() throws {
        let events = try Fixtures.events("preferences")
        let jonas = ContactIdentity(waID: "4915112345678", name: "Jonas Müller")
        let preferences = events.compactMap { if case .preference(let preference) = $0 { preference } else { nil } }
        #expect(preferences == [
            PreferenceUpdate(business: business, customer: jonas, category: "marketing_messages", value: "stop",
                             detail: "User requested to stop marketing messages", timestamp: 1_764_407_000),
            PreferenceUpdate(business: business, customer: jonas, category: "marketing_messages", value: "resume",
                             timestamp: 1_764_407_100),
        ])
        #expect(preferences.map(\.marketingOptOut) == [true, false])
        // One naming no customer is a malformed part, never given to the only contact.
        let malformed = events.compactMap { if case .malformed(let part) = $0 { part } else { nil } }
        #expect(malformed.map(\.path) == ["entry[0].changes[0].value.user_preferences[2]"])
    }

    @Test func messagesWithoutTheirPayloadAreKeptAsUnreadable() throws {
        let events = try Fixtures.events("unreadable")
        let messages = events.compactMap { if case .message(let message) = $0 { message } else { nil } }
        #expect(messages.map(\.id.rawValue) == ["wamid.noload.1", "wamid.badload.2", "wamid.notext.3", "wamid.fine.4"])
        guard case .unreadable(let type, let reason, let raw) = messages[0].content else {
            Issue.record("expected an unreadable message, got \(messages[0].content)")
            return
        }
        #expect(type == "interactive")
        #expect(reason == "the interactive message has no interactive object")
        #expect(raw.contains(#""id":"wamid.noload.1""#))
        #expect(messages[0].context == MessageContext(repliedTo: "wamid.out.menu", repliedToFrom: "15550783881"))
        if case .unreadable(let type, let reason, let raw) = messages[1].content {
            #expect(type == "location")
            #expect(reason.hasPrefix("its location object could not be read"))
            #expect(raw.contains("north"))
        } else {
            Issue.record("expected an unreadable location, got \(messages[1].content)")
        }
        #expect(messages[2].content == .unreadable(type: "text", reason: "the text message has no text object",
                                                   rawJSON: messages[2].content.unreadableRaw ?? ""))
        #expect(messages[3].content == .text(body: "ok?"))
        // The rest of the webhook is applied as usual: the status is there, nothing is malformed.
        #expect(events.contains { if case .status(let update) = $0 { update.messageID == "wamid.out.menu" } else { false } })
        #expect(!events.contains { if case .malformed = $0 { true } else { false } })
        // Whichever reader reads it.
        #expect(try WebhookDecoder().decodeWithFoundation(Fixtures.data("unreadable"), receivedAt: 1_764_500_000) == events)
    }

    @Test func hostileAndMissingFieldsNeverSinkAnUpdate() throws {
        func envelope(_ field: String, _ value: String) -> Data {
            Data(#"{"object":"whatsapp_business_account","entry":[{"id":"9","changes":[{"field":"\#(field)","value":\#(value)}]}]}"#.utf8)
        }
        let decoder = WebhookDecoder()
        // Wrong JSON types in fields read leniently: the update still decodes.
        let restriction = try decoder.decode(envelope("account_update", #"""
            {"event":"ACCOUNT_RESTRICTION","phone_number":[1],"restriction_info":[{"restriction_type":7},
             {"restriction_type":"RESTRICTED_CUSTOMER_INITIATED_MESSAGING","expiration":"soon"}]}
            """#), receivedAt: 5)
        #expect(restriction == [.accountUpdate(AccountUpdate(
            account: "9", event: "ACCOUNT_RESTRICTION",
            restrictions: [.init(type: "RESTRICTED_CUSTOMER_INITIATED_MESSAGING")], timestamp: 5))])
        // A value that is not an object: one malformed part.
        for field in ["account_update", "message_template_status_update", "user_preferences", "calls"] {
            let events = try decoder.decode(envelope(field, #""nope""#), receivedAt: 5)
            #expect(events.count == 1, "\(field): \(events)")
            #expect(events.allSatisfy { if case .malformed = $0 { true } else { false } }, "\(field): \(events)")
        }
        // Calls with a negative duration or numbers as strings.
        let calls = try decoder.decode(envelope("calls", #"""
            {"metadata":{"phone_number_id":"1"},"calls":[{"id":"wacid.x","from":"155","event":"terminate",
             "direction":"USER_INITIATED","duration":"-5","timestamp":"10"}]}
            """#), receivedAt: 5)
        guard case .call(let call)? = calls.first else { Issue.record("\(calls)"); return }
        #expect(call.duration == -5)
        #expect(CallState(first: call).summary.outcome == .missed)
    }

    @Test func otherFieldsAreNowDecoded() throws {
        let events = try Fixtures.events("other_fields")
        #expect(events.count == 3)
        #expect(events[0] == .templateUpdate(TemplateUpdate(
            account: account, templateID: "1234", name: "order_update", language: "en_US",
            change: .status("APPROVED", reason: nil), timestamp: 1_764_500_000)))
        #expect(events[1] == .accountUpdate(AccountUpdate(account: account, event: "VERIFIED_ACCOUNT",
                                                          phoneNumber: "15550783881", timestamp: 1_764_500_000)))
        #expect(events[2] == .preference(PreferenceUpdate(business: nil, customer: ContactIdentity(waID: "33612345678"),
                                                          category: "marketing_messages", value: "stop",
                                                          timestamp: 1_764_500_000)))
        // Fields wabox does not handle are still tolerated.
        let unknown = Data(#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"security","value":{"x":1}}]}]}"#.utf8)
        #expect(try WebhookDecoder().decode(unknown, receivedAt: 0) == [.ignored(reason: #"field "security""#)])
    }
}

extension MessageContent {
    var unreadableRaw: String? {
        if case .unreadable(_, _, let raw) = self { raw } else { nil }
    }
}
