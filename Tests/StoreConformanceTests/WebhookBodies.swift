import Foundation

// Webhook bodies for the applier's conformance tests, built as Meta writes them (see
// CLOUD_API.md): an envelope of entries, each of changes, each a `value` with metadata,
// contacts, messages, statuses or errors. Serialised with JSONSerialization, so any text
// (quotes, NUL, emoji) arrives escaped as a real webhook carries it.

enum Bodies {
    static let phoneNumberID = "106540352242922"
    static let displayNumber = "15550783881"
    static let otherPhoneNumberID = "106540352249999"

    typealias JSON = [String: Any]

    /// A whole body: one entry per element of `entries`, each with its changes.
    static func envelope(_ entries: [[JSON]]) -> Data {
        let object: JSON = [
            "object": "whatsapp_business_account",
            "entry": entries.enumerated().map { index, changes in ["id": "10229012934039\(index)", "changes": changes] },
        ]
        return try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// One change of field `messages` (or `field`) for our number `phone`.
    static func change(phone: String = phoneNumberID, field: String = "messages", _ parts: JSON) -> JSON {
        var value: JSON = [
            "messaging_product": "whatsapp",
            "metadata": ["display_phone_number": displayNumber, "phone_number_id": phone],
        ]
        value.merge(parts) { $1 }
        return ["field": field, "value": value]
    }

    /// A body of one change.
    static func single(phone: String = phoneNumberID, field: String = "messages", _ parts: JSON) -> Data {
        envelope([[change(phone: phone, field: field, parts)]])
    }

    static func contact(_ waID: String, name: String?) -> JSON {
        var contact: JSON = ["wa_id": waID]
        if let name { contact["profile"] = ["name": name] }
        return contact
    }

    static func textMessage(_ id: String, from waID: String, timestamp: Int64, text: String) -> JSON {
        ["from": waID, "id": id, "timestamp": String(timestamp), "type": "text", "text": ["body": text]]
    }

    /// A customer's text message, with its sender's profile.
    static func text(_ id: String, from waID: String, name: String? = "Amélie Laurent", timestamp: Int64, text: String = "hello",
                     phone: String = phoneNumberID) -> Data {
        single(phone: phone, ["contacts": [contact(waID, name: name)],
                              "messages": [textMessage(id, from: waID, timestamp: timestamp, text: text)]])
    }

    static func statusObject(_ id: String, _ status: String, timestamp: Int64, errorCode: Int? = nil) -> JSON {
        var object: JSON = ["id": id, "status": status, "timestamp": String(timestamp), "recipient_id": "33612345678"]
        if let errorCode { object["errors"] = [["code": errorCode, "title": "Error \(errorCode)"]] }
        return object
    }

    /// A delivery status of our message `id`.
    static func status(_ id: String, _ status: String, timestamp: Int64, errorCode: Int? = nil) -> Data {
        single(["statuses": [statusObject(id, status, timestamp: timestamp, errorCode: errorCode)]])
    }

    /// A message our business sent from the WhatsApp Business app to `waID`.
    static func echo(_ id: String, to waID: String, timestamp: Int64, text: String = "sent from the phone") -> Data {
        single(field: "smb_message_echoes", ["message_echoes": [[
            "from": displayNumber, "to": waID, "id": id, "timestamp": String(timestamp), "type": "text",
            "text": ["body": text],
        ]]])
    }

    /// A customer's reaction to `target` (`emoji` nil: removed).
    static func reaction(_ id: String, from waID: String, to target: String, emoji: String?, timestamp: Int64) -> Data {
        single(["contacts": [contact(waID, name: "Amélie Laurent")],
                "messages": [["from": waID, "id": id, "timestamp": String(timestamp), "type": "reaction",
                              "reaction": ["message_id": target, "emoji": emoji ?? ""]]]])
    }

    /// Errors Meta reports for the whole change.
    static func accountErrors(code: Int, title: String) -> Data {
        single(["errors": [["code": code, "title": title, "message": "\(title) (message)"]]])
    }
}
