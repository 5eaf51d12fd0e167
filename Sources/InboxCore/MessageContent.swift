/// What a message carries, one case per Cloud API message type. Stored as JSON so that
/// the screen can render any type later without another webhook.
public enum MessageContent: Sendable, Hashable, Codable {
    case text(body: String)
    case media(MediaAttachment)
    case location(Location)
    case contacts([SharedContact])
    case interactive(InteractiveReply)
    /// A template's quick-reply button.
    case button(payload: String?, text: String?)
    case order(Order)
    case system(SystemNotice)
    /// The customer opened the chat for the first time.
    case requestWelcome
    /// The Cloud API could not deliver the type to the business (`errors[].code` 131051).
    case unsupported(type: String?, errors: [APIErrorDetail])
    /// A type this version of wabox does not know, kept whole.
    case unknown(type: String, rawJSON: String)
    /// A call between the customer and the business: a notice in the conversation.
    case call(CallSummary)
    /// A message whose payload was missing or malformed, kept with what was wrong and the
    /// message as it came, so that nothing the customer sent disappears.
    case unreadable(type: String, reason: String, rawJSON: String)

    /// The Cloud API's name for the type (`text`, `image`, `interactive`, …).
    public var typeName: String {
        switch self {
        case .text: "text"
        case .media(let media): media.kind.typeName
        case .location: "location"
        case .contacts: "contacts"
        case .interactive: "interactive"
        case .button: "button"
        case .order: "order"
        case .system: "system"
        case .requestWelcome: "request_welcome"
        case .unsupported: "unsupported"
        case .unknown(let type, _): type
        case .call: "call"
        case .unreadable(let type, _, _): type
        }
    }

    /// The words of the message, where it has some apart from a caption.
    public var text: String? {
        switch self {
        case .text(let body): body
        case .button(_, let text): text
        case .interactive(let reply): reply.title ?? reply.body
        case .order(let order): order.text
        case .system(let notice): notice.body
        case .location(let location): location.name ?? location.address
        case .media, .contacts, .requestWelcome, .unsupported, .unknown, .call, .unreadable: nil
        }
    }

    public var caption: String? {
        if case .media(let media) = self { return media.caption }
        return nil
    }
}

public struct MediaAttachment: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case image, video, audio, voice, document, sticker

        public var typeName: String { self == .voice ? "audio" : rawValue }
    }

    public var kind: Kind
    public var mediaID: String?
    public var mimeType: String?
    public var sha256: String?
    public var caption: String?
    public var filename: String?
    public var url: String?
    public var animated: Bool

    public init(kind: Kind, mediaID: String? = nil, mimeType: String? = nil, sha256: String? = nil,
                caption: String? = nil, filename: String? = nil, url: String? = nil, animated: Bool = false) {
        self.kind = kind
        self.mediaID = mediaID
        self.mimeType = mimeType
        self.sha256 = sha256
        self.caption = caption
        self.filename = filename
        self.url = url
        self.animated = animated
    }
}

public struct Location: Sendable, Hashable, Codable {
    public var latitude: Double
    public var longitude: Double
    public var name: String?
    public var address: String?
    public var url: String?

    public init(latitude: Double, longitude: Double, name: String? = nil, address: String? = nil, url: String? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.name = name
        self.address = address
        self.url = url
    }
}

/// A contact card the customer shared.
public struct SharedContact: Sendable, Hashable, Codable {
    public struct Phone: Sendable, Hashable, Codable {
        public var phone: String?
        public var waID: String?
        public var type: String?

        public init(phone: String?, waID: String? = nil, type: String? = nil) {
            self.phone = phone
            self.waID = waID
            self.type = type
        }
    }

    public var formattedName: String?
    public var phones: [Phone]
    public var emails: [String]
    public var organization: String?

    public init(formattedName: String?, phones: [Phone] = [], emails: [String] = [], organization: String? = nil) {
        self.formattedName = formattedName
        self.phones = phones
        self.emails = emails
        self.organization = organization
    }
}

/// The customer's answer to an interactive message.
public struct InteractiveReply: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case buttonReply = "button_reply"
        case listReply = "list_reply"
        case flowReply = "nfm_reply"
        case other
    }

    public var kind: Kind
    public var replyID: String?
    public var title: String?
    public var description: String?
    /// Flow replies: the flow's name and body.
    public var name: String?
    public var body: String?
    /// Flow replies: the form answers, a JSON text as the Cloud API sends it.
    public var responseJSON: String?

    public init(kind: Kind, replyID: String? = nil, title: String? = nil, description: String? = nil,
                name: String? = nil, body: String? = nil, responseJSON: String? = nil) {
        self.kind = kind
        self.replyID = replyID
        self.title = title
        self.description = description
        self.name = name
        self.body = body
        self.responseJSON = responseJSON
    }
}

public struct Order: Sendable, Hashable, Codable {
    public struct Item: Sendable, Hashable, Codable {
        public var productRetailerID: String?
        public var quantity: Double?
        public var itemPrice: Double?
        public var currency: String?

        public init(productRetailerID: String?, quantity: Double?, itemPrice: Double?, currency: String?) {
            self.productRetailerID = productRetailerID
            self.quantity = quantity
            self.itemPrice = itemPrice
            self.currency = currency
        }
    }

    public var catalogID: String?
    public var text: String?
    public var items: [Item]

    public init(catalogID: String?, text: String?, items: [Item]) {
        self.catalogID = catalogID
        self.text = text
        self.items = items
    }
}

/// A platform notice inside a conversation, such as a changed phone number.
public struct SystemNotice: Sendable, Hashable, Codable {
    /// `user_changed_number`, `user_changed_user_id`, or another kind.
    public var kind: String
    public var body: String?
    /// For `user_changed_number`: the customer's new WhatsApp id.
    public var newWaID: WaID?
    /// For `user_changed_user_id`: the customer's new user id.
    public var newUserID: UserID?

    public init(kind: String, body: String?, newWaID: WaID? = nil, newUserID: UserID? = nil) {
        self.kind = kind
        self.body = body
        self.newWaID = newWaID
        self.newUserID = newUserID
    }

    public static let changedNumber = "user_changed_number"
    public static let changedUserID = "user_changed_user_id"
}
