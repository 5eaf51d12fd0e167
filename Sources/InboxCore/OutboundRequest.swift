import Foundation

// MARK: - Sending

/// Who a message goes to: a phone number (`to`) or, for a customer known only by a
/// business-scoped user id, that id (`recipient`).
public enum Recipient: Sendable, Hashable, CustomStringConvertible {
    case waID(WaID)
    case userID(UserID)

    public var description: String {
        switch self {
        case .waID(let id): id.rawValue
        case .userID(let id): id.rawValue
        }
    }
}

/// What goes out through `POST /{phone-number-id}/messages`.
public enum OutboundKind: Sendable, Hashable {
    case text(body: String)
    case reaction(to: MessageID, emoji: String)
    case template(TemplateMessage)
}

/// An approved template with its parameters filled in.
public struct TemplateMessage: Sendable, Hashable, Codable {
    public var name: String
    public var language: Language
    public var components: [Component]

    public struct Language: Sendable, Hashable, Codable {
        public var code: String
        public init(code: String) { self.code = code }
    }

    /// `{"type":"body","parameters":[{"type":"text","text":"…"}]}`.
    public struct Component: Sendable, Hashable, Codable {
        public var type: String
        public var subType: String?
        public var index: String?
        public var parameters: [Parameter]

        public init(type: String, subType: String? = nil, index: String? = nil, parameters: [Parameter]) {
            self.type = type
            self.subType = subType
            self.index = index
            self.parameters = parameters
        }

        enum CodingKeys: String, CodingKey {
            case type, index, parameters
            case subType = "sub_type"
        }
    }

    public struct Parameter: Sendable, Hashable, Codable {
        public var type: String
        public var text: String?
        /// For templates with named parameters (`{{order_id}}`).
        public var parameterName: String?

        public static func text(_ text: String, name: String? = nil) -> Parameter {
            Parameter(type: "text", text: text, parameterName: name)
        }

        enum CodingKeys: String, CodingKey {
            case type, text
            case parameterName = "parameter_name"
        }
    }

    public init(name: String, languageCode: String, components: [Component] = []) {
        self.name = name
        self.language = Language(code: languageCode)
        self.components = components
    }

    /// A template whose body takes `parameters` in order: the common case.
    public init(name: String, languageCode: String, bodyParameters: [String]) {
        self.init(name: name, languageCode: languageCode,
                  components: bodyParameters.isEmpty ? [] : [Component(type: "body", parameters: bodyParameters.map { .text($0) })])
    }

    /// The words shown in the inbox for a sent template: its name and parameters.
    public var summary: String {
        let values = components.flatMap(\.parameters).compactMap(\.text)
        return values.isEmpty ? "[\(name)]" : "[\(name)] " + values.joined(separator: " · ")
    }
}

/// One message to send, with everything the request body needs.
public struct OutboundMessage: Sendable, Hashable {
    public var recipient: Recipient
    public var kind: OutboundKind
    /// The message this one answers (`context.message_id`).
    public var replyTo: MessageID?
    /// Comes back on this message's status webhooks: wabox sends the outbox local id.
    public var callbackData: String?

    public init(recipient: Recipient, kind: OutboundKind, replyTo: MessageID? = nil, callbackData: String? = nil) {
        self.recipient = recipient
        self.kind = kind
        self.replyTo = replyTo
        self.callbackData = callbackData
    }

    /// The request body, exactly as the Cloud API documents it.
    public var body: SendMessageBody {
        var body = SendMessageBody(type: "text")
        switch recipient {
        case .waID(let id): body.to = id.rawValue
        case .userID(let id): body.recipient = id.rawValue
        }
        switch kind {
        case .text(let text):
            body.type = "text"
            body.text = .init(body: text, previewURL: Self.containsLink(text))
        case .reaction(let target, let emoji):
            body.type = "reaction"
            body.reaction = .init(messageID: target.rawValue, emoji: emoji)
        case .template(let template):
            body.type = "template"
            body.template = template
        }
        body.context = replyTo.map { .init(messageID: $0.rawValue) }
        body.callbackData = callbackData
        return body
    }

    /// Whether WhatsApp should render a link preview: the text holds an http(s) URL or a
    /// `www.` address.
    public static func containsLink(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.contains("https://") || lower.contains("http://") || lower.contains("www.")
    }
}

/// The JSON body of `POST /{phone-number-id}/messages` for a message.
public struct SendMessageBody: Sendable, Hashable, Codable {
    public var messagingProduct = "whatsapp"
    public var recipientType: String? = "individual"
    public var to: String?
    public var recipient: String?
    public var type: String
    public var text: Text?
    public var reaction: ReactionBody?
    public var template: TemplateMessage?
    public var context: Context?
    public var callbackData: String?

    public struct Text: Sendable, Hashable, Codable {
        public var body: String
        public var previewURL: Bool
        enum CodingKeys: String, CodingKey {
            case body
            case previewURL = "preview_url"
        }
    }

    public struct ReactionBody: Sendable, Hashable, Codable {
        public var messageID: String
        public var emoji: String
        enum CodingKeys: String, CodingKey {
            case emoji
            case messageID = "message_id"
        }
    }

    public struct Context: Sendable, Hashable, Codable {
        public var messageID: String
        enum CodingKeys: String, CodingKey { case messageID = "message_id" }
    }

    public init(type: String) { self.type = type }

    enum CodingKeys: String, CodingKey {
        case to, recipient, type, text, reaction, template, context
        case messagingProduct = "messaging_product"
        case recipientType = "recipient_type"
        case callbackData = "biz_opaque_callback_data"
    }
}

/// The body of a read receipt: `{"messaging_product":"whatsapp","status":"read","message_id":…}`,
/// with `typing_indicator` to show "typing…" as well.
public struct MarkReadBody: Sendable, Hashable, Codable {
    public var messagingProduct = "whatsapp"
    public var status = "read"
    public var messageID: String
    public var typingIndicator: TypingIndicator?

    public struct TypingIndicator: Sendable, Hashable, Codable {
        public var type = "text"
        public init() {}
    }

    public init(messageID: MessageID, typing: Bool) {
        self.messageID = messageID.rawValue
        self.typingIndicator = typing ? TypingIndicator() : nil
    }

    enum CodingKeys: String, CodingKey {
        case status
        case messagingProduct = "messaging_product"
        case messageID = "message_id"
        case typingIndicator = "typing_indicator"
    }
}

/// The answer to a successful send: accepted, not yet delivered.
public struct SendMessageResponse: Sendable, Hashable, Codable {
    public struct Contact: Sendable, Hashable, Codable {
        public var input: String?
        public var waID: String?
        enum CodingKeys: String, CodingKey {
            case input
            case waID = "wa_id"
        }
        public init(input: String?, waID: String?) {
            self.input = input
            self.waID = waID
        }
    }

    public struct Message: Sendable, Hashable, Codable {
        public var id: String
        public var messageStatus: String?
        enum CodingKeys: String, CodingKey {
            case id
            case messageStatus = "message_status"
        }
        public init(id: String, messageStatus: String? = nil) {
            self.id = id
            self.messageStatus = messageStatus
        }
    }

    public var messagingProduct: String?
    public var contacts: [Contact]?
    public var messages: [Message]

    public init(contacts: [Contact]?, messages: [Message]) {
        self.messagingProduct = "whatsapp"
        self.contacts = contacts
        self.messages = messages
    }

    enum CodingKeys: String, CodingKey {
        case contacts, messages
        case messagingProduct = "messaging_product"
    }
}

/// The JSON encoding used for every request body: compact, keys sorted, `/` unescaped.
public enum CloudJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
