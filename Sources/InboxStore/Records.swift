import InboxCore

/// Whether a message came from the customer or was sent by the business.
public enum Direction: String, Sendable, Codable, Hashable {
    case inbound = "in"
    case outbound = "out"
}

/// A stored customer: the store's key and every identifier seen for them. The identifiers
/// and the profile are a `ContactIdentity`, read through as `record.waID`, `record.name`, ….
@dynamicMemberLookup
public struct ContactRecord: Sendable, Hashable {
    public var id: ContactID
    public var identity: ContactIdentity

    public init(id: ContactID, identity: ContactIdentity) {
        self.id = id
        self.identity = identity
    }

    public init(id: ContactID, waID: WaID? = nil, userID: UserID? = nil, parentUserID: UserID? = nil,
                username: String? = nil, name: String? = nil) {
        self.init(id: id, identity: ContactIdentity(waID: waID, userID: userID, parentUserID: parentUserID,
                                                    username: username, name: name))
    }

    public subscript<Value>(dynamicMember keyPath: KeyPath<ContactIdentity, Value>) -> Value {
        identity[keyPath: keyPath]
    }

    /// What to call the customer: profile name, else username, else number, else user id.
    public var displayName: String {
        identity.name ?? identity.username.map { "@" + $0 } ?? identity.waID.map { "+" + $0.rawValue }
            ?? identity.userID?.rawValue ?? "unknown"
    }
}

/// One row of the conversation list.
public struct ConversationSummary: Sendable, Hashable {
    public var id: ConversationID
    public var business: BusinessNumber
    public var contact: ContactRecord
    public var lastActivityAt: Int64
    /// When the customer last wrote: the 24-hour service window runs from here.
    public var lastInboundAt: Int64?
    public var unreadCount: Int
    public var lastMessage: StoredMessage?
    /// When the Cloud API last refused a message because the window was closed (131047).
    public var windowClosedAt: Int64?
    /// The agent who claimed the conversation.
    public var assignee: String?
    /// When an agent resolved it; nil while open.
    public var resolvedAt: Int64?
    /// Other agents typing a reply here (expired notes are for the reader to ignore).
    public var typing: [TypingNote]
    /// The labels agents put on it, by name.
    public var labels: [String]

    public init(id: ConversationID, business: BusinessNumber, contact: ContactRecord, lastActivityAt: Int64,
                lastInboundAt: Int64?, unreadCount: Int, lastMessage: StoredMessage?, windowClosedAt: Int64? = nil,
                assignee: String? = nil, resolvedAt: Int64? = nil, typing: [TypingNote] = [], labels: [String] = []) {
        self.labels = labels
        self.assignee = assignee
        self.resolvedAt = resolvedAt
        self.typing = typing
        self.id = id
        self.business = business
        self.contact = contact
        self.lastActivityAt = lastActivityAt
        self.lastInboundAt = lastInboundAt
        self.unreadCount = unreadCount
        self.lastMessage = lastMessage
        self.windowClosedAt = windowClosedAt
    }

    /// Whether free-form text may be sent at `now` (Unix seconds): the customer wrote in
    /// the last 24 hours, and WhatsApp has not refused a message since.
    public func serviceWindow(now: Int64) -> ServiceWindow {
        guard let lastInbound = lastInboundAt else { return .closed(.neverOpened) }
        if let refused = windowClosedAt, refused >= lastInbound { return .closed(.refusedByAPI(at: refused)) }
        let closesAt = lastInbound + InboxDatabase.serviceWindowSeconds
        return now < closesAt ? .open(closesAt: closesAt) : .closed(.expired(at: closesAt))
    }

    public var cursor: ConversationCursor { ConversationCursor(lastActivityAt: lastActivityAt, id: id.rawValue) }

    /// The agents typing here at `nowMilliseconds`.
    public func typingAgents(nowMilliseconds: Int64) -> [String] {
        typing.filter { $0.until > nowMilliseconds }.map(\.agent)
    }
}

/// A position in the conversation list, newest activity first.
public struct ConversationCursor: Sendable, Hashable {
    public var lastActivityAt: Int64
    public var id: Int64

    public init(lastActivityAt: Int64, id: Int64) {
        self.lastActivityAt = lastActivityAt
        self.id = id
    }
}

/// A position in a thread, ordered by timestamp then arrival.
public struct MessageCursor: Sendable, Hashable {
    public var timestamp: Int64
    public var id: Int64

    public init(timestamp: Int64, id: Int64) {
        self.timestamp = timestamp
        self.id = id
    }
}

public struct StoredReaction: Sendable, Hashable, Codable {
    public var emoji: String
    /// The reactor's wa_id or user id, or the business phone number id for our own.
    public var from: String

    public init(emoji: String, from: String) {
        self.emoji = emoji
        self.from = from
    }
}

/// Where a customer's file stands: downloaded and kept, waiting, or given up.
public struct MediaStatus: Sendable, Hashable, Codable {
    public var state: MediaState
    /// Why it failed or expired, or what the last attempt ran into.
    public var reason: String?
    /// The kept file, once ready.
    public var path: String?
    /// Bytes, once the metadata said.
    public var fileSize: Int64?
    public var mimeType: String?
    /// The Cloud API's id of the file: the webhook's, or the upload's for a file sent.
    public var mediaID: String?

    public init(state: MediaState, reason: String? = nil, path: String? = nil, fileSize: Int64? = nil, mimeType: String? = nil,
                mediaID: String? = nil) {
        self.mediaID = mediaID
        self.state = state
        self.reason = reason
        self.path = path
        self.fileSize = fileSize
        self.mimeType = mimeType
    }

    enum CodingKeys: String, CodingKey {
        case state, reason, path
        case fileSize = "size"
        case mimeType = "mime"
        case mediaID = "id"
    }
}

public struct StoredMessage: Sendable, Hashable {
    public var rowID: Int64
    public var wamid: MessageID?
    /// Outbound messages: the outbox id, sent as `biz_opaque_callback_data`.
    public var localID: String?
    public var conversationID: ConversationID
    public var direction: Direction
    public var content: MessageContent
    public var timestamp: Int64
    /// Outbound messages only; inbound ones are `received`.
    public var status: DeliveryStatus?
    public var statusAt: Int64?
    public var replyTo: MessageID?
    public var forwarded: Bool
    public var error: APIErrorDetail?
    public var reactions: [StoredReaction]
    /// While the message is in the outbox: what the sender last ran into (a retry's reason,
    /// or why the outcome is uncertain).
    public var outboxNote: String?
    /// The Cloud API took it but holds it for a quality review (a template) before sending.
    public var heldForQualityReview: Bool
    /// For a customer's file: where its download stands (nil until the downloader queued it).
    public var media: MediaStatus?

    public init(rowID: Int64, wamid: MessageID?, localID: String?, conversationID: ConversationID, direction: Direction,
                content: MessageContent, timestamp: Int64, status: DeliveryStatus?, statusAt: Int64?, replyTo: MessageID?,
                forwarded: Bool, error: APIErrorDetail?, reactions: [StoredReaction], outboxNote: String? = nil,
                heldForQualityReview: Bool = false, media: MediaStatus? = nil) {
        self.media = media
        self.rowID = rowID
        self.wamid = wamid
        self.localID = localID
        self.conversationID = conversationID
        self.direction = direction
        self.content = content
        self.timestamp = timestamp
        self.status = status
        self.statusAt = statusAt
        self.replyTo = replyTo
        self.forwarded = forwarded
        self.error = error
        self.reactions = reactions
        self.outboxNote = outboxNote
        self.heldForQualityReview = heldForQualityReview
    }

    public var cursor: MessageCursor { MessageCursor(timestamp: timestamp, id: rowID) }
}

/// One page of a keyset-paginated query; `next` continues where it stopped.
public struct Page<Item: Sendable, Cursor: Sendable>: Sendable {
    public var items: [Item]
    public var next: Cursor?
}
