import InboxCore

// A message row and a conversation row as both stores select them: plain columns, and the
// nested parts (reactions, media, earlier versions, typing notes, labels) as JSON that each
// database builds in the same shape. Reading them into `StoredMessage` and
// `ConversationSummary` is written once, here.

/// The columns of one message row.
public struct MessageColumns: Sendable {
    public var rowID: Int64
    public var wamid: String?
    public var localID: String?
    public var conversationID: Int64
    public var direction: String
    /// `MessageContent` as stored (JSON).
    public var content: String
    public var timestamp: Int64
    public var status: String?
    public var statusAt: Int64?
    public var replyTo: String?
    public var forwarded: Bool
    public var errorCode: Int?
    public var errorTitle: String?
    public var errorMessage: String?
    public var errorDetails: String?
    /// `[StoredReaction]` in JSON, nil or `[]` for none.
    public var reactions: String?
    public var outboxNote: String?
    public var heldForReview: Bool
    /// `MediaStatus` in JSON.
    public var media: String?
    public var echo: Bool
    /// `[String]` in JSON.
    public var buttons: String?
    public var agent: String?
    public var editedAt: Int64?
    public var deletedAt: Int64?
    /// `[MessageVersion]` in JSON, oldest first, the last being the current one.
    public var versions: String?

    public init(rowID: Int64, wamid: String?, localID: String?, conversationID: Int64, direction: String, content: String,
                timestamp: Int64, status: String?, statusAt: Int64?, replyTo: String?, forwarded: Bool, errorCode: Int?,
                errorTitle: String?, errorMessage: String?, errorDetails: String?, reactions: String?, outboxNote: String?,
                heldForReview: Bool, media: String?, echo: Bool, buttons: String?, agent: String?, editedAt: Int64?,
                deletedAt: Int64?, versions: String?) {
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
        self.errorCode = errorCode
        self.errorTitle = errorTitle
        self.errorMessage = errorMessage
        self.errorDetails = errorDetails
        self.reactions = reactions
        self.outboxNote = outboxNote
        self.heldForReview = heldForReview
        self.media = media
        self.echo = echo
        self.buttons = buttons
        self.agent = agent
        self.editedAt = editedAt
        self.deletedAt = deletedAt
        self.versions = versions
    }

    /// The message these columns hold.
    public func message() throws -> StoredMessage {
        let direction = Direction(rawValue: direction) ?? .inbound
        let error = errorCode.map {
            APIErrorDetail(code: $0, title: errorTitle, message: errorMessage, details: errorDetails)
        } ?? errorTitle.map {
            APIErrorDetail(code: nil, title: $0, message: errorMessage, details: errorDetails)
        }
        var stored = StoredMessage(
            rowID: rowID,
            wamid: wamid.map(MessageID.init),
            localID: localID,
            conversationID: ConversationID(rawValue: conversationID),
            direction: direction,
            content: try StoredJSON.decode(MessageContent.self, from: content),
            timestamp: timestamp,
            status: direction == .outbound ? status.flatMap(DeliveryStatus.init(rawValue:)) : nil,
            statusAt: statusAt,
            replyTo: replyTo.map(MessageID.init),
            forwarded: forwarded,
            error: error,
            reactions: reactions == nil || reactions == "[]" ? [] : try StoredJSON.decode([StoredReaction].self, from: reactions!),
            outboxNote: direction == .outbound ? outboxNote : nil,
            heldForQualityReview: heldForReview,
            media: try media.map { try StoredJSON.decode(MediaStatus.self, from: $0) },
            sentFromPhoneApp: echo,
            buttons: try buttons.map { try StoredJSON.decode([String].self, from: $0) } ?? [])
        stored.editedAt = editedAt
        stored.deletedAt = deletedAt
        stored.agent = agent
        if editedAt != nil, let versions {
            // Oldest first; the last is the one the row shows.
            stored.earlierVersions = Array(try StoredJSON.decode([MessageVersion].self, from: versions).dropLast())
        }
        return stored
    }
}

/// The columns of one conversation row as a viewer sees it (its unread count is theirs).
public struct ConversationColumns: Sendable {
    public var id: Int64
    public var phoneNumberID: String
    public var displayPhoneNumber: String?
    public var lastActivityAt: Int64
    public var lastInboundAt: Int64?
    public var windowClosedAt: Int64?
    public var assignedTo: String?
    public var resolvedAt: Int64?
    public var viewerUnread: Int
    /// `[TypingNote]` in JSON.
    public var typing: String?
    /// `[String]` in JSON, by name.
    public var labels: String?
    public var contact: ContactRecord

    public init(id: Int64, phoneNumberID: String, displayPhoneNumber: String?, lastActivityAt: Int64, lastInboundAt: Int64?,
                windowClosedAt: Int64?, assignedTo: String?, resolvedAt: Int64?, viewerUnread: Int, typing: String?,
                labels: String?, contact: ContactRecord) {
        self.id = id
        self.phoneNumberID = phoneNumberID
        self.displayPhoneNumber = displayPhoneNumber
        self.lastActivityAt = lastActivityAt
        self.lastInboundAt = lastInboundAt
        self.windowClosedAt = windowClosedAt
        self.assignedTo = assignedTo
        self.resolvedAt = resolvedAt
        self.viewerUnread = viewerUnread
        self.typing = typing
        self.labels = labels
        self.contact = contact
    }

    /// The list row, with its last message.
    public func summary(lastMessage: StoredMessage?) throws -> ConversationSummary {
        ConversationSummary(
            id: ConversationID(rawValue: id),
            business: BusinessNumber(phoneNumberID: PhoneNumberID(phoneNumberID), displayPhoneNumber: displayPhoneNumber),
            contact: contact,
            lastActivityAt: lastActivityAt,
            lastInboundAt: lastInboundAt,
            unreadCount: max(0, viewerUnread),
            lastMessage: lastMessage,
            windowClosedAt: windowClosedAt,
            assignee: assignedTo,
            resolvedAt: resolvedAt,
            typing: typing == nil || typing == "[]" ? [] : try StoredJSON.decode([TypingNote].self, from: typing!),
            labels: labels == nil || labels == "[]" ? [] : try StoredJSON.decode([String].self, from: labels!))
    }
}
