/// A message the business sent from the WhatsApp Business app on a coexistence number,
/// as an `smb_message_echoes` change reports it. In both cases `sender` is the customer
/// the business wrote **to** (the echo's `to`): the conversation it belongs to.
public enum MessageEcho: Sendable, Equatable {
    case message(InboundMessage)
    /// A reaction the business set (or removed, `emoji == nil`) from the app.
    case reaction(Reaction)

    /// The webhook `field` of these changes.
    public static let field = "smb_message_echoes"

    public var id: MessageID {
        switch self {
        case .message(let message): message.id
        case .reaction(let reaction): reaction.id
        }
    }
}

/// One element of `value.message_echoes[]`: a message as inbound ones are written, with
/// `from` the business number and `to` the customer.
struct WireEcho: Decodable {
    let to: String?
    let to_user_id: String?
    let message: WireMessage

    private enum CodingKeys: String, CodingKey { case to, to_user_id }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        to = try container.decodeIfPresent(String.self, forKey: .to)
        to_user_id = try container.decodeIfPresent(String.self, forKey: .to_user_id)
        message = try WireMessage(from: decoder)
    }
}

extension WebhookDecoder {
    /// The echoes of one `smb_message_echoes` change, each an `.echo` event or, when it
    /// cannot be read, a `.malformed` one.
    func decodeEchoes(_ value: WireValue?, path: String, receivedAt: Int64, into events: inout [InboxEvent]) {
        guard let value else { return }
        let business = BusinessNumber(
            phoneNumberID: PhoneNumberID(value.metadata?.phone_number_id.nonEmpty ?? "unknown"),
            displayPhoneNumber: value.metadata?.display_phone_number.nonEmpty)
        let contacts = (value.contacts ?? []).compactMap(\.value)
        for (index, echo) in (value.message_echoes ?? []).enumerated() {
            let echoPath = "\(path).message_echoes[\(index)]"
            switch echo {
            case .failure(let reason, let raw):
                events.append(.malformed(MalformedPart(path: echoPath, reason: reason, rawJSON: raw?.jsonText)))
            case .value(let echo):
                do {
                    events.append(.echo(try self.echo(echo, business: business, contacts: contacts, receivedAt: receivedAt)))
                } catch {
                    events.append(.malformed(MalformedPart(path: echoPath, reason: error.description, rawJSON: nil)))
                }
            }
        }
    }

    private func echo(_ echo: WireEcho, business: BusinessNumber, contacts: [WireContact],
                      receivedAt: Int64) throws(Failure) -> MessageEcho {
        let message = echo.message
        guard let id = message.id.nonEmpty else { throw Failure(description: "message echo has an empty id") }
        let customer = identity(waID: echo.to, userID: echo.to_user_id, contacts: contacts, soleContactFallback: true)
        guard customer.hasIdentifier else {
            throw Failure(description: "message echo \(id) names no customer (no to, to_user_id or contacts)")
        }
        let timestamp = message.timestamp?.value ?? receivedAt
        if message.content.type == "reaction" {
            guard let target = message.content.reaction?.message_id.nonEmpty else {
                throw Failure(description: "reaction echo \(id) names no message_id")
            }
            return .reaction(Reaction(id: MessageID(id), business: business, sender: customer, timestamp: timestamp,
                                      target: MessageID(target), emoji: message.content.reaction?.emoji.nonEmpty))
        }
        let errors = (message.errors ?? []).compactMap(\.value).map(\.detail)
        return .message(InboundMessage(
            id: MessageID(id), business: business, sender: customer, timestamp: timestamp,
            content: content(of: message.content, errors: errors),
            context: message.context.map(Self.context), referral: message.referral.map(Self.referral),
            groupID: message.group_id.nonEmpty, errors: errors))
    }
}
