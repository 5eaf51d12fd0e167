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
    /// When the customer asked to stop marketing messages (`user_preferences` `stop`); nil
    /// when they never did, or said `resume` since.
    public var marketingOptOutAt: Int64?

    public init(id: ContactID, identity: ContactIdentity, marketingOptOutAt: Int64? = nil) {
        self.id = id
        self.identity = identity
        self.marketingOptOutAt = marketingOptOutAt
    }

    public init(id: ContactID, waID: WaID? = nil, userID: UserID? = nil, parentUserID: UserID? = nil,
                username: String? = nil, name: String? = nil, marketingOptOutAt: Int64? = nil) {
        self.init(id: id, identity: ContactIdentity(waID: waID, userID: userID, parentUserID: parentUserID,
                                                    username: username, name: name),
                  marketingOptOutAt: marketingOptOutAt)
    }

    /// Whether the customer opted out of marketing messages.
    public var optedOutOfMarketing: Bool { marketingOptOutAt != nil }

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
        let closesAt = lastInbound + ServiceWindow.seconds
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
    /// Empty only for the business's removal of its reaction that failed or whose outcome
    /// is unknown (the customer may still see the old one).
    public var emoji: String
    /// The reactor's wa_id or user id, or the business phone number id for our own.
    public var from: String
    /// The business reacted (from wabox or from the WhatsApp Business app).
    public var isBusiness: Bool
    /// For a reaction sent from wabox: where its outbox message stands, and its local id
    /// (for `R`), and why it failed.
    public var status: DeliveryStatus?
    public var localID: String?
    public var error: APIErrorDetail?

    public init(emoji: String, from: String, isBusiness: Bool = false, status: DeliveryStatus? = nil,
                localID: String? = nil, error: APIErrorDetail? = nil) {
        self.emoji = emoji
        self.from = from
        self.isBusiness = isBusiness
        self.status = status
        self.localID = localID
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case emoji, from, status, error
        case isBusiness = "business"
        case localID = "local_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        emoji = try container.decode(String.self, forKey: .emoji)
        from = try container.decode(String.self, forKey: .from)
        isBusiness = try container.decodeIfPresent(Bool.self, forKey: .isBusiness) ?? false
        status = try container.decodeIfPresent(String.self, forKey: .status).flatMap(DeliveryStatus.init(rawValue:))
        localID = try container.decodeIfPresent(String.self, forKey: .localID)
        error = try container.decodeIfPresent(APIErrorDetail.self, forKey: .error)
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
    /// How long a voice note or audio file plays, once downloaded, when its format says.
    public var durationMilliseconds: Int64?
    /// What `transcribe_command` made of a voice note, once it took it up.
    public var transcript: Transcript?

    /// A voice note's transcript: being made, made, or why not.
    public struct Transcript: Sendable, Hashable {
        public var state: TranscriptState
        /// What the transcriber printed, as it printed it (sanitise before drawing).
        public var text: String?
        /// Why it failed, in words.
        public var reason: String?

        public init(state: TranscriptState, text: String? = nil, reason: String? = nil) {
            self.state = state
            self.text = text
            self.reason = reason
        }
    }

    public init(state: MediaState, reason: String? = nil, path: String? = nil, fileSize: Int64? = nil, mimeType: String? = nil,
                mediaID: String? = nil, durationMilliseconds: Int64? = nil, transcript: Transcript? = nil) {
        self.mediaID = mediaID
        self.state = state
        self.reason = reason
        self.path = path
        self.fileSize = fileSize
        self.mimeType = mimeType
        self.durationMilliseconds = durationMilliseconds
        self.transcript = transcript
    }

    enum CodingKeys: String, CodingKey {
        case state, reason, path
        case fileSize = "size"
        case mimeType = "mime"
        case mediaID = "id"
        case durationMilliseconds = "dur"
        case transcriptState = "ts"
        case transcriptText = "tt"
        case transcriptReason = "tr"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        state = try container.decode(MediaState.self, forKey: .state)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        path = try container.decodeIfPresent(String.self, forKey: .path)
        fileSize = try container.decodeIfPresent(Int64.self, forKey: .fileSize)
        mimeType = try container.decodeIfPresent(String.self, forKey: .mimeType)
        mediaID = try container.decodeIfPresent(String.self, forKey: .mediaID)
        durationMilliseconds = try container.decodeIfPresent(Int64.self, forKey: .durationMilliseconds)
        transcript = try container.decodeIfPresent(TranscriptState.self, forKey: .transcriptState).map {
            Transcript(state: $0, text: try container.decodeIfPresent(String.self, forKey: .transcriptText),
                       reason: try container.decodeIfPresent(String.self, forKey: .transcriptReason))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encodeIfPresent(reason, forKey: .reason)
        try container.encodeIfPresent(path, forKey: .path)
        try container.encodeIfPresent(fileSize, forKey: .fileSize)
        try container.encodeIfPresent(mimeType, forKey: .mimeType)
        try container.encodeIfPresent(mediaID, forKey: .mediaID)
        try container.encodeIfPresent(durationMilliseconds, forKey: .durationMilliseconds)
        try container.encodeIfPresent(transcript?.state, forKey: .transcriptState)
        try container.encodeIfPresent(transcript?.text, forKey: .transcriptText)
        try container.encodeIfPresent(transcript?.reason, forKey: .transcriptReason)
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
    /// Sent from the WhatsApp Business app on a coexistence number, not from wabox.
    public var sentFromPhoneApp = false
    /// An interactive message's reply buttons, by title.
    public var buttons: [String] = []
    /// When the customer last edited it (the content is the newest version).
    public var editedAt: Int64?
    /// The versions before the one shown, oldest first (the original, then each edit).
    public var earlierVersions: [MessageVersion] = []
    /// When the customer deleted it; the content is kept, shown only with `show_deleted`.
    public var deletedAt: Int64?
    /// The account that sent it from wabox (a screen or `wabox send`); nil for the
    /// customer's messages, the phone app's, and those sent before accounts were recorded.
    public var agent: String?

    public init(rowID: Int64, wamid: MessageID?, localID: String?, conversationID: ConversationID, direction: Direction,
                content: MessageContent, timestamp: Int64, status: DeliveryStatus?, statusAt: Int64?, replyTo: MessageID?,
                forwarded: Bool, error: APIErrorDetail?, reactions: [StoredReaction], outboxNote: String? = nil,
                heldForQualityReview: Bool = false, media: MediaStatus? = nil, sentFromPhoneApp: Bool = false,
                buttons: [String] = []) {
        self.media = media
        self.sentFromPhoneApp = sentFromPhoneApp
        self.buttons = buttons
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

/// One version of an edited message: its content then, and when it was written.
public struct MessageVersion: Sendable, Hashable, Codable {
    public var content: MessageContent
    public var timestamp: Int64

    public init(content: MessageContent, timestamp: Int64) {
        self.content = content
        self.timestamp = timestamp
    }
}

/// One page of a keyset-paginated query; `next` continues where it stopped.
public struct Page<Item: Sendable, Cursor: Sendable>: Sendable {
    public var items: [Item]
    public var next: Cursor?

    public init(items: [Item], next: Cursor?) {
        self.items = items
        self.next = next
    }
}
/// Whether free-form messages may be sent in a conversation (the 24-hour customer service
/// window).
public enum ServiceWindow: Sendable, Hashable {
    /// Open until `closesAt` (Unix seconds).
    case open(closesAt: Int64)
    case closed(WindowClosure)

    public var isOpen: Bool { if case .open = self { true } else { false } }

    /// The window's length.
    public static let seconds: Int64 = 24 * 60 * 60
}

public enum WindowClosure: Sendable, Hashable, CustomStringConvertible {
    /// The customer never wrote on this number.
    case neverOpened
    /// More than 24 hours since the customer last wrote (closed at this Unix second).
    case expired(at: Int64)
    /// The Cloud API answered 131047 at this Unix second, after the customer's last message.
    case refusedByAPI(at: Int64)

    public var description: String {
        switch self {
        case .neverOpened: "window closed: the customer has not written on this number; send a template"
        case .expired: "window closed: more than 24 hours since the customer last wrote; send a template"
        case .refusedByAPI: "window closed: WhatsApp refused a message (131047), more than 24 hours since the customer last wrote; send a template"
        }
    }
}

/// An agent typing a reply, until when (Unix milliseconds).
public struct TypingNote: Sendable, Hashable, Codable {
    public var agent: String
    public var until: Int64

    public init(agent: String, until: Int64) {
        self.agent = agent
        self.until = until
    }
}
/// Where a media item's download stands.
public enum MediaState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Waiting for a download (or for an access token).
    case pending
    /// Downloaded, checked and kept in the media folder.
    case ready
    /// Given up, with a reason in plain words.
    case failed
    /// The Cloud API no longer has it (media ids last about 7 days).
    case expired
}

/// Where a voice note's transcript stands (table `transcript`, migration v10).
public enum TranscriptState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Taken up by the transcriber; one that stopped meanwhile left it so, and it is run again.
    case running
    /// The transcriber printed it.
    case done
    /// Given up, with the reason in words; never run again.
    case failed
}
