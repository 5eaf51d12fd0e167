import Foundation

/// How a command names a customer (`wabox send --to`, `wabox export --contact`): a wa_id
/// with or without `+`, a user id (`US.13491208655302741918`) or a username with or
/// without `@`. Every store looks the key up in the same three columns.
public struct CustomerAddress: Sendable, Equatable {
    /// What to look for in wa_id, user_id and username.
    public var key: String
    /// Digits only: a phone number, which may be written to before the customer writes.
    public var isPhoneNumber: Bool
    /// `CC.digits`: a user id, which may be written to too.
    public var isUserID: Bool

    public init(_ identifier: String) {
        var key = identifier.trimmingCharacters(in: .whitespaces)
        if key.hasPrefix("+") { key.removeFirst() }
        if key.hasPrefix("@") { key.removeFirst() }
        self.key = key
        isPhoneNumber = !key.isEmpty && key.allSatisfy { $0.isASCII && $0.isNumber }
        isUserID = key.range(of: #"^[A-Z]{2}\.[0-9]+$"#, options: .regularExpression) != nil
    }
}

extension OutboxError {
    /// The customer named matches several contacts.
    public static func ambiguous(_ identifier: String, matches: Int) -> OutboxError {
        OutboxError("\"\(identifier)\" matches \(matches) contacts: address the customer by wa_id or user id")
    }

    /// Nobody is known by that name, and a name cannot start a conversation.
    public static func unknownCustomer(_ identifier: String) -> OutboxError {
        OutboxError("no contact is known as \"\(identifier)\": a new customer can only be addressed by phone number (digits) or user id (US.…)")
    }

    /// With no business number set, the contact has `conversations` of them (0 or several).
    public static func businessNumberNeeded(_ identifier: String, conversations: Int) -> OutboxError {
        OutboxError(conversations == 0
            ? "no business number to send from: set WABOX_PHONE_NUMBER_ID (phone_number_id in config.toml)"
            : "\"\(identifier)\" writes to \(conversations) of your numbers: set WABOX_PHONE_NUMBER_ID to the one to send from")
    }
}
