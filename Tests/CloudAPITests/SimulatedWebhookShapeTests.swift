import CloudAPI
import Foundation
import Hummingbird
import InboxCore
import Simulator
import Synchronization
import Testing

/// What `wabox simulate`, the demo's customers and the fake Cloud API post has the shape of
/// Meta's current webhooks (CLOUD_API.md): `contacts[].user_id` on every message and on
/// status webhooks, `recipient_user_id` beside `recipient_id`, and a `context` on every
/// reply to buttons or a list. wabox's own decoder reads all of it.
@Suite struct SimulatedWebhookShapeTests {
    let builder = WebhookBuilder()
    let ana = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
    let owl = SimulatedCustomer(name: nil, waID: nil, userID: "US.13491208655302741918", username: "night.owl")

    /// `entry[0].changes[0].value` of a body, as plain JSON.
    private func changeValue(_ body: Data) throws -> [String: Any] {
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let entry = try #require((object["entry"] as? [[String: Any]])?.first)
        let change = try #require((entry["changes"] as? [[String: Any]])?.first)
        #expect(change["field"] as? String == "messages")
        return try #require(change["value"] as? [String: Any])
    }

    private func wireMessage(_ body: Data) throws -> [String: Any] {
        try #require((try changeValue(body)["messages"] as? [[String: Any]])?.first)
    }

    private func decoded(_ body: Data) throws -> InboxEvent {
        let events = try WebhookDecoder().decode(body, receivedAt: 1_764_400_000)
        #expect(events.count == 1)
        return try #require(events.first)
    }

    @Test(arguments: SimulatedMessage.presetNames)
    func everyPresetNamesItsCustomerByUserID(type: String) throws {
        let message = try #require(SimulatedMessage.preset(type, text: nil, reactTo: "wamid.OUTearlier"))
        let body = builder.message(from: ana, message)
        let contacts = try #require(try changeValue(body)["contacts"] as? [[String: Any]])
        #expect(contacts.count == 1)
        #expect(contacts.first?["user_id"] as? String == "US.5511987654321")
        #expect(contacts.first?["wa_id"] as? String == "5511987654321")
        let wire = try wireMessage(body)
        #expect(wire["from"] as? String == "5511987654321")
        #expect(wire["from_user_id"] as? String == "US.5511987654321")

        let sender: ContactIdentity
        switch try decoded(body) {
        case .message(let message): sender = message.sender
        case .reaction(let reaction): sender = reaction.sender
        case let other: Issue.record("\(type) decoded as \(other)"); return
        }
        #expect(sender == ContactIdentity(waID: "5511987654321", userID: "US.5511987654321", name: "Ana Lima"))
    }

    @Test(arguments: ["button", "interactive", "list"])
    func repliesToButtonsAndListsAnswerABusinessMessage(type: String) throws {
        let message = try #require(SimulatedMessage.preset(type, text: nil, reactTo: nil))
        #expect(message.answersBusinessMessage)

        // Without --reply-to, a generated business message id.
        let generated = try #require(try wireMessage(builder.message(from: ana, message))["context"] as? [String: String])
        #expect(generated["from"] == "15550783881")
        let generatedID = try #require(generated["id"])
        #expect(generatedID.hasPrefix("wamid.OUT"))
        #expect(generatedID.count > "wamid.OUT".count + 16)

        // With one, that message; the decoder keeps it as the message replied to.
        let body = builder.message(from: ana, message, replyTo: "wamid.OUTasked42")
        #expect(try wireMessage(body)["context"] as? [String: String] == ["from": "15550783881", "id": "wamid.OUTasked42"])
        guard case .message(let decodedMessage) = try decoded(body) else { Issue.record("not a message"); return }
        #expect(decodedMessage.context?.repliedTo == "wamid.OUTasked42")
        #expect(decodedMessage.context?.repliedToFrom == "15550783881")
    }

    @Test func otherMessagesQuoteOnlyWhenAsked() throws {
        #expect(try wireMessage(builder.message(from: ana, .text("Olá")))["context"] == nil)
        #expect(!SimulatedMessage.text("Olá").answersBusinessMessage)
        let quoted = try wireMessage(builder.message(from: ana, .text("Olá"), replyTo: "wamid.INearlier"))
        #expect(quoted["context"] as? [String: String] == ["from": "15550783881", "id": "wamid.INearlier"])
    }

    @Test func usernameOnlyCustomerIsNamedByUserIDAlone() throws {
        let body = builder.message(from: owl, .text("hey"))
        let contact = try #require((try changeValue(body)["contacts"] as? [[String: Any]])?.first)
        #expect(contact["user_id"] as? String == "US.13491208655302741918")
        #expect(contact["wa_id"] == nil)
        #expect((contact["profile"] as? [String: String]) == ["username": "night.owl"])
        guard case .message(let message) = try decoded(body) else { Issue.record("not a message"); return }
        #expect(message.sender == ContactIdentity(userID: "US.13491208655302741918", username: "night.owl"))
    }

    @Test(arguments: [DeliveryStatus.sent, .delivered, .read, .played, .failed])
    func statusNamesItsRecipientByNumberAndUserID(status: DeliveryStatus) throws {
        let body = builder.status(status, of: "wamid.OUT1", to: ana, timestamp: 1_764_400_100)
        let value = try changeValue(body)
        let contacts = try #require(value["contacts"] as? [[String: String]])
        #expect(contacts == [["wa_id": "5511987654321", "user_id": "US.5511987654321"]])
        let wire = try #require((value["statuses"] as? [[String: Any]])?.first)
        #expect(wire["recipient_id"] as? String == "5511987654321")
        #expect(wire["recipient_user_id"] as? String == "US.5511987654321")
        #expect(wire["timestamp"] as? String == "1764400100")
        #expect((wire["conversation"] != nil) == (status == .sent))
        #expect((wire["pricing"] != nil) == (status == .sent))

        guard case .status(let update) = try decoded(body) else { Issue.record("not a status"); return }
        #expect(update.messageID == "wamid.OUT1")
        #expect(update.status == status)
        #expect(update.timestamp == 1_764_400_100)
        #expect(update.recipient == ContactIdentity(waID: "5511987654321", userID: "US.5511987654321"))
        #expect(update.errors.map(\.code) == (status == .failed ? [131026] : []))
    }

    @Test func statusOfAUsernameOnlyCustomerHasNoNumber() throws {
        let body = builder.status(.failed, of: "wamid.OUT2", to: owl, errorCode: 131047, callbackData: "l-9")
        let value = try changeValue(body)
        #expect(value["contacts"] as? [[String: String]] == [["user_id": "US.13491208655302741918"]])
        let wire = try #require((value["statuses"] as? [[String: Any]])?.first)
        #expect(wire["recipient_id"] == nil)
        #expect(wire["recipient_user_id"] as? String == "US.13491208655302741918")
        guard case .status(let update) = try decoded(body) else { Issue.record("not a status"); return }
        #expect(update.recipient == ContactIdentity(userID: "US.13491208655302741918"))
        #expect(update.callbackData == "l-9")
        #expect(update.errors.first?.code == 131047)
        #expect(update.errors.first?.title == "Re-engagement message")
    }

    /// The fake posts its statuses through the same builder: a real send, the bodies it
    /// posts, signed.
    @Test func fakeCloudAPIPostsStatusesInTheSameShape() async throws {
        let received = Mutex<[(body: Data, signature: String?)]>([])
        let router = Router()
        router.post("/webhook") { request, _ -> HTTPResponse.Status in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let signature = request.headers.first { $0.name.canonicalName == "x-hub-signature-256" }?.value
            received.withLock { $0.append((Data(bytes.readableBytesView), signature)) }
            return .ok
        }
        let appSecret = "shape-test-secret-7c1d"
        try await withRunning({ onRunning in
            Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                        onServerRunning: { await onRunning($0.localAddress?.port ?? 0) }, logger: quiet)
        }) { port in
            let fake = FakeCloudAPI(accessToken: accessToken)
            fake.postStatuses(.init(url: "http://127.0.0.1:\(port)/webhook", appSecret: appSecret, delay: .zero,
                                    beforeResponse: true))
            try await fake.withRunning { url in
                _ = try await client(url).send(
                    OutboundMessage(recipient: .waID(WaID(customer)), kind: .text(body: "Bonjour"), callbackData: "l-1"),
                    from: businessNumber)
                _ = try await client(url).send(
                    OutboundMessage(recipient: .userID("US.13491208655302741918"), kind: .text(body: "Hello")),
                    from: businessNumber)
            }
            #expect(fake.webhookErrors.isEmpty)
        }

        let posted = received.withLock { $0 }
        #expect(posted.count == 6)
        let signature = WebhookSignature(appSecret: appSecret)
        for (index, (body, header)) in posted.enumerated() {
            #expect(header == signature.header(for: body))
            let toNumber = index < 3
            let value = try changeValue(body)
            #expect(value["contacts"] as? [[String: String]]
                == [toNumber ? ["wa_id": customer, "user_id": "US.\(customer)"] : ["user_id": "US.13491208655302741918"]])
            let wire = try #require((value["statuses"] as? [[String: Any]])?.first)
            #expect(wire["recipient_id"] as? String == (toNumber ? customer : nil))
            #expect(wire["recipient_user_id"] as? String == (toNumber ? "US.\(customer)" : "US.13491208655302741918"))
            guard case .status(let update) = try decoded(body) else { Issue.record("not a status"); continue }
            #expect(update.status == [DeliveryStatus.sent, .delivered, .read][index % 3])
            #expect(update.recipient?.userID == UserID(toNumber ? "US.\(customer)" : "US.13491208655302741918"))
            #expect(update.callbackData == (toNumber ? "l-1" : nil))
        }
    }
}
