import Foundation

extension WebhookBuilder {
    /// An `smb_message_echoes` webhook: what a coexistence number posts when someone at the
    /// business writes to `customer` from the WhatsApp Business app on the phone (`from` is
    /// the business number, `to` the customer).
    public func echo(to customer: SimulatedCustomer, _ message: SimulatedMessage, id: String = newBusinessMessageID(),
                     timestamp: Int64 = Int64(Date().timeIntervalSince1970)) -> Data {
        var body: [String: Any] = ["id": id, "timestamp": String(timestamp), "from": displayPhoneNumber]
        if let waID = customer.waID { body["to"] = waID } else { body["to_user_id"] = customer.userID }
        let (type, content) = Self.content(of: message)
        body["type"] = type
        if let content { body[type] = content }
        let value: [String: Any] = [
            "messaging_product": "whatsapp",
            "metadata": ["display_phone_number": displayPhoneNumber, "phone_number_id": phoneNumberID],
            "message_echoes": [body],
        ]
        let object: [String: Any] = [
            "object": "whatsapp_business_account",
            "entry": [["id": wabaID, "changes": [["field": "smb_message_echoes", "value": value]]]],
        ]
        // Only strings, numbers, arrays and dictionaries: serialisation cannot fail.
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }
}
