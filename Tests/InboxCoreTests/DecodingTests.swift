import Foundation
import InboxCore
import InboxTesting
import Testing

private let business = BusinessNumber(phoneNumberID: "106540352242922", displayPhoneNumber: "15550783881")

private func messages(_ events: [InboxEvent]) -> [InboundMessage] {
    events.compactMap { if case .message(let message) = $0 { message } else { nil } }
}

@Suite struct DecodingTests {
    @Test func textMessageWithFullContact() throws {
        let events = try Fixtures.events("text")
        #expect(events == [.message(InboundMessage(
            id: "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=",
            business: business,
            sender: ContactIdentity(waID: "33612345678", userID: "FR.8837465512093847561",
                                    username: "amelie.l", name: "Amélie Laurent"),
            timestamp: 1_764_403_200,
            content: .text(body: "Bonjour, ma commande n'est pas arrivée")))])
    }

    @Test func everyMediaType() throws {
        let contents = messages(try Fixtures.events("media")).map(\.content)
        #expect(contents == [
            .media(MediaAttachment(kind: .image, mediaID: "1203948576", mimeType: "image/jpeg", sha256: "h4sh1mage",
                                   caption: "壊れた箱の写真です")),
            .media(MediaAttachment(kind: .video, mediaID: "1203948577", mimeType: "video/mp4", sha256: "h4shv1deo")),
            .media(MediaAttachment(kind: .voice, mediaID: "1203948578", mimeType: "audio/ogg; codecs=opus", sha256: "h4shv01ce")),
            .media(MediaAttachment(kind: .audio, mediaID: "1203948579", mimeType: "audio/mpeg", sha256: "h4sha4d10")),
            .media(MediaAttachment(kind: .document, mediaID: "1203948580", mimeType: "application/pdf", sha256: "h4shd0c",
                                   caption: "請求書", filename: "invoice-2291.pdf")),
            .media(MediaAttachment(kind: .sticker, mediaID: "1203948581", mimeType: "image/webp", sha256: "h4shst1ck",
                                   animated: true)),
        ])
        #expect(contents.map(\.typeName) == ["image", "video", "audio", "audio", "document", "sticker"])
    }

    @Test func locationAndSharedContacts() throws {
        let contents = messages(try Fixtures.events("location_contacts")).map(\.content)
        #expect(contents == [
            .location(Location(latitude: 25.2048, longitude: 55.2708, name: "Dubai Mall",
                               address: "Financial Center Rd", url: "https://example.com/place")),
            .contacts([SharedContact(formattedName: "Omar Haddad",
                                     phones: [.init(phone: "+971 50 765 4321", waID: "971507654321", type: "CELL")],
                                     emails: ["omar@example.com"], organization: "Haddad Trading")]),
        ])
    }

    @Test func interactiveRepliesAndTemplateButton() throws {
        let decoded = messages(try Fixtures.events("interactive"))
        #expect(decoded.map(\.content) == [
            .interactive(InteractiveReply(kind: .buttonReply, replyID: "track-order", title: "Track my order")),
            .interactive(InteractiveReply(kind: .listReply, replyID: "slot-3", title: "Thursday 10:00",
                                          description: "Morning delivery")),
            .interactive(InteractiveReply(kind: .flowReply, name: "flow", body: "Sent",
                                          responseJSON: #"{"rating":"5","flow_token":"abc"}"#)),
            .button(payload: "STOP_PROMOS", text: "Stop promotions"),
        ])
        #expect(decoded[0].context == MessageContext(repliedTo: "wamid.out.menu", repliedToFrom: "15550783881"))
    }

    @Test func reactionsAddReplaceAndRemove() throws {
        let reactions = try Fixtures.events("reactions").compactMap { event -> Reaction? in
            if case .reaction(let reaction) = event { reaction } else { nil }
        }
        #expect(reactions.map(\.emoji) == ["👍", "❤️", nil, nil])
        #expect(reactions.map(\.target.rawValue) == [
            "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=",
            "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=", "wamid.other", "wamid.third",
        ])
        #expect(reactions[0].sender == ContactIdentity(waID: "33612345678", name: "Amélie Laurent"))
    }

    @Test func orderWithNumbersWrittenEitherWay() throws {
        let contents = messages(try Fixtures.events("order")).map(\.content)
        #expect(contents == [.order(Order(catalogID: "cat-77", text: "Please deliver before Friday", items: [
            .init(productRetailerID: "sku-tea", quantity: 2, itemPrice: 4.5, currency: "EUR"),
            .init(productRetailerID: "sku-cup", quantity: 1, itemPrice: 12, currency: "EUR"),
            .init(productRetailerID: "sku-pot", quantity: 1, itemPrice: 30, currency: "EUR"),
        ]))])
    }

    @Test func changedNumberWithoutContactsArray() throws {
        let decoded = messages(try Fixtures.events("changed_number"))
        #expect(decoded.count == 1)
        #expect(decoded[0].sender == ContactIdentity(waID: "33612345678"))
        #expect(decoded[0].content == .system(SystemNotice(
            kind: "user_changed_number", body: "Amélie changed their phone number to a new number 33698765432",
            newWaID: "33698765432")))
    }

    @Test func unsupportedAndUnknownTypesAreKept() throws {
        let decoded = messages(try Fixtures.events("unsupported_unknown"))
        let error = APIErrorDetail(code: 131051, title: "Message type unknown", message: "Message type unknown",
                                   details: "Message type is currently not supported.")
        #expect(decoded[0].content == .unsupported(type: "poll", errors: [error]))
        #expect(decoded[0].errors == [error])
        guard case .unknown(let type, let raw) = decoded[1].content else {
            Issue.record("expected an unknown type, got \(decoded[1].content)")
            return
        }
        #expect(type == "hologram")
        let object = try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any]
        #expect((object?["hologram"] as? [String: Any])?["frames"] as? Int == 240)
        #expect(object?["id"] as? String == "wamid.future.1")
    }

    @Test func welcomeReferralReplyForwardedAndGroup() throws {
        let decoded = messages(try Fixtures.events("context_referral"))
        #expect(decoded.map(\.content.typeName) == ["request_welcome", "text", "text", "text", "text"])
        #expect(decoded[1].referral == Referral(sourceURL: "https://fb.me/ad123", sourceID: "ad123", sourceType: "ad",
                                                headline: "Winter tea sale", body: "20% off", mediaType: "image",
                                                ctwaClid: "clid-998"))
        #expect(decoded[2].context?.repliedTo == "wamid.out.earlier")
        #expect(decoded[3].context == MessageContext(forwarded: true))
        #expect(decoded[4].groupID == "grp-42")
    }

    /// Older API versions, Meta's test tools and many examples name a customer by `wa_id`
    /// alone: no `user_id`, no `contacts[]` on statuses, a button reply without `context`.
    @Test func olderShapesWithoutUserIDsOrStatusContacts() throws {
        let head = #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"#
        let tail = "}}]}]}"
        let status = Data((head + #""statuses":[{"id":"wamid.out.7","status":"delivered","timestamp":"1764404200","recipient_id":"4915112345678"}]"# + tail).utf8)
        let events = try WebhookDecoder().decode(status, receivedAt: 0)
        #expect(events == [.status(StatusUpdate(messageID: "wamid.out.7", business: business, status: .delivered,
                                                rawStatus: "delivered", timestamp: 1_764_404_200,
                                                recipient: ContactIdentity(waID: "4915112345678")))])

        let button = Data((head + #""contacts":[{"profile":{"name":"Jonas Müller"},"wa_id":"4915112345678"}],"messages":[{"from":"4915112345678","id":"wamid.in.7","timestamp":"1764404201","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"track-order","title":"Track my order"}}}]"# + tail).utf8)
        let decoded = messages(try WebhookDecoder().decode(button, receivedAt: 0))
        #expect(decoded.map(\.sender) == [ContactIdentity(waID: "4915112345678", name: "Jonas Müller")])
        #expect(decoded.first?.context == nil)
        #expect(decoded.first?.content == .interactive(InteractiveReply(kind: .buttonReply, replyID: "track-order",
                                                                          title: "Track my order")))
    }

    /// The current shape: `user_id` on the contact, `recipient_user_id` and `contacts[]` on
    /// statuses, `context` on a button reply.
    @Test func currentShapesWithUserIDsAndStatusContacts() throws {
        let head = #"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Jonas Müller"},"wa_id":"4915112345678","user_id":"DE.5512093847"}],"#
        let tail = "}}]}]}"
        let status = Data((head + #""statuses":[{"id":"wamid.out.8","status":"read","timestamp":"1764404300","recipient_id":"4915112345678","recipient_user_id":"DE.5512093847"}]"# + tail).utf8)
        let events = try WebhookDecoder().decode(status, receivedAt: 0)
        #expect(events == [.status(StatusUpdate(messageID: "wamid.out.8", business: business, status: .read,
                                                rawStatus: "read", timestamp: 1_764_404_300,
                                                recipient: ContactIdentity(waID: "4915112345678", userID: "DE.5512093847",
                                                                           name: "Jonas Müller")))])

        let list = Data((head + #""messages":[{"from":"4915112345678","from_user_id":"DE.5512093847","id":"wamid.in.8","timestamp":"1764404301","type":"interactive","context":{"from":"15550783881","id":"wamid.out.8"},"interactive":{"type":"list_reply","list_reply":{"id":"slot-2","title":"Tuesday 14:00"}}}]"# + tail).utf8)
        let decoded = messages(try WebhookDecoder().decode(list, receivedAt: 0))
        #expect(decoded.map(\.sender) == [ContactIdentity(waID: "4915112345678", userID: "DE.5512093847", name: "Jonas Müller")])
        #expect(decoded.first?.context == MessageContext(repliedTo: "wamid.out.8", repliedToFrom: "15550783881"))
    }

    @Test func statusesInAnyOrderWithErrors() throws {
        let statuses = try Fixtures.events("statuses").compactMap { event -> StatusUpdate? in
            if case .status(let update) = event { update } else { nil }
        }
        #expect(statuses.map(\.status) == [.read, .sent, .delivered, .failed])
        #expect(statuses[0].recipient == ContactIdentity(waID: "33612345678", userID: "FR.8837465512093847561",
                                                         name: "Amélie Laurent"))
        #expect(statuses[1].callbackData == "local-1")
        #expect(statuses[3].errors.first?.code == 131047)
        #expect(statuses[3].errors.first?.details?.hasPrefix("Message failed to send") == true)
    }

    @Test func usernameOnlyCustomer() throws {
        let decoded = messages(try Fixtures.events("username_only"))
        #expect(decoded.first?.sender == ContactIdentity(
            waID: nil, userID: "US.13491208655302741918", parentUserID: "US.ENT.99887766",
            username: "night.owl", name: "Nightowl"))
    }

    @Test func otherObjectsAreTolerated() throws {
        // Other fields (template and account updates, preferences) are decoded: UpdateDecodingTests.
        #expect(try Fixtures.events("other_object") == [.ignored(reason: #"object "page""#)])
    }

    @Test func valueLevelErrors() throws {
        #expect(try Fixtures.events("value_errors") == [.accountErrors(business: business, errors: [
            APIErrorDetail(code: 131000, title: "Something went wrong", message: "Something went wrong",
                           details: "Unable to process the webhook at this time."),
        ])])
    }

    @Test func malformedPartsDoNotSinkTheBatch() throws {
        let events = try Fixtures.events("malformed_batch")
        // A payload that is not an object makes a message wabox could not read; an odd
        // timestamp falls back to the time of receipt; a message without an id cannot be kept.
        #expect(messages(events).map(\.id.rawValue) == ["wamid.bad.image", "wamid.good.1", "wamid.bad.ts", "wamid.good.2"])
        #expect(messages(events)[0].content.typeName == "image")
        #expect(messages(events)[0].content.unreadableRaw?.contains("not an object") == true)
        #expect(messages(events)[2].timestamp == 1_764_500_000)
        #expect(messages(events)[3].timestamp == 1_764_404_405)
        let malformed = events.compactMap { if case .malformed(let part) = $0 { part } else { nil } }
        #expect(malformed.map(\.path) == [
            "entry[0].changes[0].value.messages[0]",
            "entry[0].changes[0].value.statuses[0]",
            "entry[1]",
        ])
        #expect(malformed[0].reason.contains("id"))
        #expect(malformed[0].rawJSON?.contains("I have no id") == true)
        #expect(malformed[2].rawJSON == #""not an entry""#)
        let statuses = events.compactMap { if case .status(let update) = $0 { update.messageID.rawValue } else { nil } }
        #expect(statuses == ["wamid.out.9"])
    }

    @Test func missingTimestampFallsBackToReceipt() throws {
        let body = Data(#"""
            {"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"1"},"messages":[{"from":"1","id":"w","type":"text","text":{"body":"x"}}]}}]}]}
            """#.utf8)
        let decoded = messages(try WebhookDecoder().decode(body, receivedAt: 42))
        #expect(decoded.first?.timestamp == 42)
    }

    @Test func bodiesThatAreNotWebhooksThrow() {
        for body in ["", "not json", "[1,2]", "{\"object\":", "\"text\""] {
            #expect(throws: WebhookDecoder.Failure.self) { try WebhookDecoder().decode(Data(body.utf8), receivedAt: 0) }
        }
    }

    @Test func escapedTextDecodesToTheRealCharacters() throws {
        let decoded = messages(try Fixtures.events("escaped"))
        #expect(decoded.first?.content == .text(body: "café 🍰 see https://example.com/menu"))
        #expect(decoded.first?.sender.name == "Renée 😀")
    }
}

/// `smb_message_echoes`: what the business sent from the WhatsApp Business app.
@Suite struct EchoDecodingTests {
    @Test func echoesNameTheCustomerTheyWentTo() throws {
        let events = try Fixtures.events("message_echoes")
        let customer = ContactIdentity(waID: "33612345678")
        #expect(events == [
            .echo(.message(InboundMessage(
                id: "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBJFQ0hPMDAwMDAwMDAwMDAxAA==", business: business, sender: customer,
                timestamp: 1_764_403_500, content: .text(body: "Je vous appelle dans 5 minutes")))),
            .echo(.reaction(Reaction(
                id: "wamid.HBgLMzM2MTIzNDU2NzgVAgARGBJFQ0hPMDAwMDAwMDAwMDAyAA==", business: business, sender: customer,
                timestamp: 1_764_403_510, target: "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=",
                emoji: "👍"))),
            .malformed(MalformedPart(
                path: "entry[0].changes[0].value.message_echoes[2]",
                reason: "message echo wamid.HBgLMzM2MTIzNDU2NzgVAgARGBJFQ0hPMDAwMDAwMDAwMDAzAA== names no customer (no to, to_user_id or contacts)",
                rawJSON: nil)),
        ])
    }
}
