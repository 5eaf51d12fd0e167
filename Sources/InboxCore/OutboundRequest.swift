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
    /// A file uploaded with `POST /{phone-number-id}/media`, sent by its id.
    case media(OutboundMedia)
    /// Text with up to three reply buttons (`type: interactive`, `interactive.type: button`).
    case buttons(ReplyButtons)
}

/// A file to send: uploaded first, then sent by the media id the upload returned.
public struct OutboundMedia: Sendable, Hashable {
    public var kind: MediaAttachment.Kind
    /// Nil until the upload returned one; reused on every retry.
    public var mediaID: String?
    public var caption: String?
    /// Shown to the customer for documents.
    public var filename: String?

    public init(kind: MediaAttachment.Kind, mediaID: String? = nil, caption: String? = nil, filename: String? = nil) {
        self.kind = kind
        self.mediaID = mediaID
        self.caption = caption
        self.filename = filename
    }
}

/// What the Cloud API takes as a file to send (CLOUD_API.md): the message type a MIME type
/// goes out as, and the largest size for it.
public enum OutgoingMediaLimits {
    public struct Rule: Sendable, Hashable {
        public var kind: MediaAttachment.Kind
        public var maxBytes: Int
    }

    static let megabyte = 1024 * 1024

    /// The rule for `mimeType`, or nil when WhatsApp does not take that type.
    public static func rule(for mimeType: String) -> Rule? {
        let type = mimeType.lowercased().split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        switch type {
        case "image/jpeg", "image/png": return Rule(kind: .image, maxBytes: 5 * megabyte)
        case "video/mp4", "video/3gpp": return Rule(kind: .video, maxBytes: 16 * megabyte)
        case "audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg": return Rule(kind: .audio, maxBytes: 16 * megabyte)
        case "image/webp": return Rule(kind: .sticker, maxBytes: 100 * 1024)
        case "application/pdf", "text/plain", "text/csv", "application/msword", "application/vnd.ms-excel",
             "application/vnd.ms-powerpoint",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation":
            return Rule(kind: .document, maxBytes: 100 * megabyte)
        default: return nil
        }
    }

    /// The MIME type of a file by its name's extension, for the types WhatsApp takes.
    public static func mimeType(forFileNamed name: String) -> String? {
        let ext = (name as NSString).pathExtension.lowercased()
        let types: [String: String] = [
            "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
            "mp4": "video/mp4", "3gp": "video/3gpp", "aac": "audio/aac", "amr": "audio/amr", "mp3": "audio/mpeg",
            "m4a": "audio/mp4", "ogg": "audio/ogg", "opus": "audio/ogg", "pdf": "application/pdf", "txt": "text/plain",
            "csv": "text/csv", "doc": "application/msword", "xls": "application/vnd.ms-excel",
            "ppt": "application/vnd.ms-powerpoint",
            "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ]
        return types[ext]
    }

    /// Why a file of `size` bytes and `mimeType` cannot be sent, in words with the limit;
    /// nil when it can.
    public static func problem(mimeType: String?, size: Int, name: String) -> String? {
        guard let mimeType, let rule = rule(for: mimeType) else {
            return "\(name): WhatsApp does not take this type of file; send JPEG or PNG images, MP4 video, AAC, MP3, M4A or OGG audio, WebP stickers, or PDF, text and Office documents"
        }
        if size == 0 { return "\(name) is empty" }
        if size > rule.maxBytes {
            let limit = rule.maxBytes >= megabyte ? "\(rule.maxBytes / megabyte) MB" : "\(rule.maxBytes / 1024) KB"
            return "\(name) is \(size) bytes: WhatsApp takes \(rule.kind.typeName) files up to \(limit)"
        }
        return nil
    }
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
        case .buttons(let buttons):
            body.type = "interactive"
            body.interactive = SendMessageBody.Interactive(buttons)
        case .media(let media):
            body.type = media.kind.typeName
            let file = SendMessageBody.MediaBody(id: media.mediaID ?? "", caption: media.kind == .sticker || media.kind == .audio
                                                    ? nil : media.caption,
                                                 filename: media.kind == .document ? media.filename : nil)
            switch media.kind {
            case .image: body.image = file
            case .video: body.video = file
            case .audio, .voice: body.audio = file
            case .document: body.document = file
            case .sticker: body.sticker = file
            }
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
    public var image: MediaBody?
    public var video: MediaBody?
    public var audio: MediaBody?
    public var document: MediaBody?
    public var sticker: MediaBody?
    public var interactive: Interactive?

    /// `{"id": "<media id>", "caption"?, "filename"?}`.
    public struct MediaBody: Sendable, Hashable, Codable {
        public var id: String
        public var caption: String?
        public var filename: String?
    }

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
        case to, recipient, type, text, reaction, template, context, image, video, audio, document, sticker, interactive
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
