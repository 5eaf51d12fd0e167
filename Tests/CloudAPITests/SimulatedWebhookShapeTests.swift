import Foundation
import InboxCore
import Simulator
import Testing

/// What `wabox simulate` and the demo's customers post has the shape of Meta's current
/// webhooks (CLOUD_API.md): `contacts[].user_id` on every message and a `context` on every
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
}
