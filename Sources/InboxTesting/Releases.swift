import Foundation
import InboxCore

/// A customer's poll: a type this release of wabox does not know.
public func pollBody(_ id: String, from waID: String = "33622222222", question: String = "Which day suits you?",
                     alsoText textID: String? = nil) -> Data {
    let text = textID.map {
        #"{"from":"\#(waID)","id":"\#($0)","timestamp":"1764400001","type":"text","text":{"body":"and a text"}},"#
    } ?? ""
    return Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
          "contacts":[{"profile":{"name":"Poll Customer"},"wa_id":"\(waID)"}],
          "messages":[\(text){"from":"\(waID)","id":"\(id)","timestamp":"1764400002","type":"poll",
                      "poll":{"question":"\(question)","options":["Monday","Tuesday"]}}]}}]}]}
        """.utf8)
}

/// Decoders that stand in for other releases of wabox.
public enum Releases {
    /// The question of a poll, read from the message object.
    public static func question(_ message: JSONValue) -> String? {
        guard case .object(let fields) = message, case .object(let poll)? = fields["poll"],
              case .string(let question)? = poll["question"] else { return nil }
        return question
    }

    /// An older release that could not read polls and kept them as dead letters.
    public static let refusingPolls = WebhookDecoder.Configuration(messageTypes: [
        "poll": { _ throws(WebhookDecoder.Failure) in throw WebhookDecoder.Failure(description: "poll messages are not supported") },
    ])

    /// A newer release that has learned polls, holograms and a location written as text.
    public static let learned = WebhookDecoder.Configuration(messageTypes: [
        "poll": { message throws(WebhookDecoder.Failure) in
            guard let question = question(message) else { throw WebhookDecoder.Failure(description: "a poll needs a question") }
            return .text(body: "Poll: \(question)")
        },
        "hologram": { _ in .text(body: "a hologram") },
        "location": { _ in .location(Location(latitude: 35.68, longitude: 139.76, name: "Tokyo")) },
    ])
}
