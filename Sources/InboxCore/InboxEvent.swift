/// What one webhook tells the inbox, after decoding. The store applies these idempotently.
public enum InboxEvent: Sendable, Equatable {
    /// A customer wrote (any type but reactions), or the platform posted a system notice.
    case message(InboundMessage)
    /// A customer reacted to a message, or removed their reaction (`emoji == nil`).
    case reaction(Reaction)
    /// A delivery status for an outbound message.
    case status(StatusUpdate)
    /// Errors reported for the whole change (`value.errors[]`), not tied to one message.
    case accountErrors(business: BusinessNumber, errors: [APIErrorDetail])
    /// A customer changed a message they sent (`type: "edit"`).
    case edit(MessageEdit)
    /// A customer deleted a message they sent (`type: "revoke"`).
    case revoke(MessageRevoke)
    /// A call rang, connected, ended, or changed state (`field: "calls"`, call statuses).
    case call(CallEvent)
    /// Meta restricted, disabled or reinstated the account (`field: "account_update"`).
    case accountUpdate(AccountUpdate)
    /// A template's status, quality, category or components changed.
    case templateUpdate(TemplateUpdate)
    /// A customer stopped or resumed a category of messages (`field: "user_preferences"`).
    case preference(PreferenceUpdate)
    /// A part wabox does not handle (another `object`, another `field`): kept in the raw
    /// journal, nothing else to do.
    case ignored(reason: String)
    /// A part that could not be decoded; the rest of the batch is unaffected.
    case malformed(MalformedPart)
    /// What the business sent from the WhatsApp Business app on a coexistence number
    /// (`smb_message_echoes`): outbound, and it does not open the customer service window.
    case echo(MessageEcho)
}

/// One of the business's phone numbers.
public struct BusinessNumber: Sendable, Hashable, Codable {
    public var phoneNumberID: PhoneNumberID
    public var displayPhoneNumber: String?

    public init(phoneNumberID: PhoneNumberID, displayPhoneNumber: String? = nil) {
        self.phoneNumberID = phoneNumberID
        self.displayPhoneNumber = displayPhoneNumber
    }
}

/// Everything a webhook says about who a customer is. At least one of `waID` and `userID`
/// is present.
public struct ContactIdentity: Sendable, Hashable, Codable {
    public var waID: WaID?
    public var userID: UserID?
    public var parentUserID: UserID?
    public var username: String?
    public var name: String?

    public init(waID: WaID? = nil, userID: UserID? = nil, parentUserID: UserID? = nil,
                username: String? = nil, name: String? = nil) {
        self.waID = waID
        self.userID = userID
        self.parentUserID = parentUserID
        self.username = username
        self.name = name
    }

    public var hasIdentifier: Bool { waID != nil || userID != nil }
}

public struct InboundMessage: Sendable, Equatable {
    public var id: MessageID
    public var business: BusinessNumber
    public var sender: ContactIdentity
    /// Unix seconds as the Cloud API reported them.
    public var timestamp: Int64
    public var content: MessageContent
    public var context: MessageContext?
    public var referral: Referral?
    public var groupID: String?
    public var errors: [APIErrorDetail]

    public init(id: MessageID, business: BusinessNumber, sender: ContactIdentity, timestamp: Int64,
                content: MessageContent, context: MessageContext? = nil, referral: Referral? = nil,
                groupID: String? = nil, errors: [APIErrorDetail] = []) {
        self.id = id
        self.business = business
        self.sender = sender
        self.timestamp = timestamp
        self.content = content
        self.context = context
        self.referral = referral
        self.groupID = groupID
        self.errors = errors
    }
}

public struct Reaction: Sendable, Equatable {
    /// The id of the reaction message itself.
    public var id: MessageID
    public var business: BusinessNumber
    public var sender: ContactIdentity
    public var timestamp: Int64
    /// The message reacted to.
    public var target: MessageID
    /// `nil` when the customer removed their reaction.
    public var emoji: String?

    public init(id: MessageID, business: BusinessNumber, sender: ContactIdentity, timestamp: Int64,
                target: MessageID, emoji: String?) {
        self.id = id
        self.business = business
        self.sender = sender
        self.timestamp = timestamp
        self.target = target
        self.emoji = emoji
    }
}

public struct StatusUpdate: Sendable, Equatable {
    public var messageID: MessageID
    public var business: BusinessNumber
    /// `nil` for a status wabox does not know (kept in the history, changes no tick).
    public var status: DeliveryStatus?
    public var rawStatus: String
    public var timestamp: Int64
    public var recipient: ContactIdentity?
    public var callbackData: String?
    public var errors: [APIErrorDetail]

    public init(messageID: MessageID, business: BusinessNumber, status: DeliveryStatus?, rawStatus: String,
                timestamp: Int64, recipient: ContactIdentity? = nil, callbackData: String? = nil,
                errors: [APIErrorDetail] = []) {
        self.messageID = messageID
        self.business = business
        self.status = status
        self.rawStatus = rawStatus
        self.timestamp = timestamp
        self.recipient = recipient
        self.callbackData = callbackData
        self.errors = errors
    }
}

/// An error as the Cloud API reports it in webhooks and responses.
public struct APIErrorDetail: Sendable, Hashable, Codable {
    public var code: Int?
    public var title: String?
    public var message: String?
    public var details: String?

    public init(code: Int?, title: String? = nil, message: String? = nil, details: String? = nil) {
        self.code = code
        self.title = title
        self.message = message
        self.details = details
    }
}

/// A part of a webhook that could not be decoded, with where it was and why.
public struct MalformedPart: Sendable, Equatable {
    /// Where in the body, e.g. `entry[0].changes[1].value.messages[2]`.
    public var path: String
    public var reason: String
    /// The part as JSON, when it was JSON at all.
    public var rawJSON: String?

    public init(path: String, reason: String, rawJSON: String?) {
        self.path = path
        self.reason = reason
        self.rawJSON = rawJSON
    }
}

public struct MessageContext: Sendable, Hashable, Codable {
    /// The message this one replies to.
    public var repliedTo: MessageID?
    public var repliedToFrom: String?
    public var forwarded: Bool
    public var frequentlyForwarded: Bool
    public var referredProduct: ReferredProduct?

    public init(repliedTo: MessageID? = nil, repliedToFrom: String? = nil, forwarded: Bool = false,
                frequentlyForwarded: Bool = false, referredProduct: ReferredProduct? = nil) {
        self.repliedTo = repliedTo
        self.repliedToFrom = repliedToFrom
        self.forwarded = forwarded
        self.frequentlyForwarded = frequentlyForwarded
        self.referredProduct = referredProduct
    }
}

public struct ReferredProduct: Sendable, Hashable, Codable {
    public var catalogID: String?
    public var productRetailerID: String?

    public init(catalogID: String?, productRetailerID: String?) {
        self.catalogID = catalogID
        self.productRetailerID = productRetailerID
    }
}

/// The click-to-WhatsApp ad a conversation started from.
public struct Referral: Sendable, Hashable, Codable {
    public var sourceURL: String?
    public var sourceID: String?
    public var sourceType: String?
    public var headline: String?
    public var body: String?
    public var mediaType: String?
    public var ctwaClid: String?

    public init(sourceURL: String? = nil, sourceID: String? = nil, sourceType: String? = nil,
                headline: String? = nil, body: String? = nil, mediaType: String? = nil, ctwaClid: String? = nil) {
        self.sourceURL = sourceURL
        self.sourceID = sourceID
        self.sourceType = sourceType
        self.headline = headline
        self.body = body
        self.mediaType = mediaType
        self.ctwaClid = ctwaClid
    }
}
