import Foundation
import InboxCore

// What the applier left in the inbox, in plain values that neither engine's ids nor row
// order show through: the conformance suite applies the same bodies to SQLite and to
// PostgreSQL and compares these. Everything is sorted by a key of the customer's world
// (wamids, phone numbers), never by a row id.

/// A conversation, as the list shows it.
public struct ConversationSnapshot: Sendable, Hashable, Codable {
    /// Our number's id.
    public var phoneNumberID: String
    public var displayPhoneNumber: String?
    public var contactWaID: String?
    public var contactUserID: String?
    public var contactName: String?
    /// Unix seconds of the newest message (0 when none).
    public var lastActivityAt: Int64
    /// Unix seconds of the customer's newest message.
    public var lastInboundAt: Int64?
    /// The wamid of the message the list shows.
    public var lastMessageWamid: String?
    /// The team's unread count.
    public var unreadCount: Int64
    public var inboundCount: Int64
    /// Replies failed or uncertain (the filter's `~F`).
    public var failingReplies: Int64

    public init(phoneNumberID: String, displayPhoneNumber: String?, contactWaID: String?, contactUserID: String?,
                contactName: String?, lastActivityAt: Int64, lastInboundAt: Int64?, lastMessageWamid: String?,
                unreadCount: Int64, inboundCount: Int64, failingReplies: Int64 = 0) {
        self.phoneNumberID = phoneNumberID
        self.displayPhoneNumber = displayPhoneNumber
        self.contactWaID = contactWaID
        self.contactUserID = contactUserID
        self.contactName = contactName
        self.lastActivityAt = lastActivityAt
        self.lastInboundAt = lastInboundAt
        self.lastMessageWamid = lastMessageWamid
        self.unreadCount = unreadCount
        self.inboundCount = inboundCount
        self.failingReplies = failingReplies
    }
}

/// A message row.
public struct MessageSnapshot: Sendable, Hashable, Codable {
    public var wamid: String?
    /// The conversation's number and customer.
    public var phoneNumberID: String
    public var contactWaID: String?
    /// `in` or `out`.
    public var direction: String
    /// The message's type (`text`, `image`, `system`, …).
    public var kind: String
    /// The text or caption exactly as the customer wrote it, read from the stored content
    /// (a store's search column may hold a copy adapted to its engine).
    public var text: String?
    /// `received` for the customer's messages; the tick of outbound ones.
    public var status: String
    public var statusAt: Int64?
    public var timestamp: Int64
    public var errorCode: Int64?
    public var errorTitle: String?
    public var editedAt: Int64?
    public var deletedAt: Int64?

    public init(wamid: String?, phoneNumberID: String, contactWaID: String?, direction: String, kind: String,
                text: String?, status: String, statusAt: Int64?, timestamp: Int64, errorCode: Int64?, errorTitle: String?,
                editedAt: Int64?, deletedAt: Int64?) {
        self.wamid = wamid
        self.phoneNumberID = phoneNumberID
        self.contactWaID = contactWaID
        self.direction = direction
        self.kind = kind
        self.text = text
        self.status = status
        self.statusAt = statusAt
        self.timestamp = timestamp
        self.errorCode = errorCode
        self.errorTitle = errorTitle
        self.editedAt = editedAt
        self.deletedAt = deletedAt
    }
}

/// A reaction: the newest word of one reactor on one message (emoji nil: removed).
public struct ReactionSnapshot: Sendable, Hashable, Codable {
    public var messageWamid: String
    /// nil: the business itself.
    public var reactorWaID: String?
    public var emoji: String?
    public var timestamp: Int64

    public init(messageWamid: String, reactorWaID: String?, emoji: String?, timestamp: Int64) {
        self.messageWamid = messageWamid
        self.reactorWaID = reactorWaID
        self.emoji = emoji
        self.timestamp = timestamp
    }
}

/// A part kept aside.
public struct DeadLetterSnapshot: Sendable, Hashable, Codable {
    public var path: String?
    public var reason: String

    public init(path: String?, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// An error Meta reported for a whole change.
public struct AccountErrorSnapshot: Sendable, Hashable, Codable {
    public var phoneNumberID: String?
    public var code: Int64?
    public var title: String?

    public init(phoneNumberID: String?, code: Int64?, title: String?) {
        self.phoneNumberID = phoneNumberID
        self.code = code
        self.title = title
    }
}

/// The whole inbox as the applier left it, each list in a stable order.
public struct InboxSnapshot: Sendable, Hashable, Codable {
    public var conversations: [ConversationSnapshot]
    public var messages: [MessageSnapshot]
    public var reactions: [ReactionSnapshot]
    public var deadLetters: [DeadLetterSnapshot]
    public var accountErrors: [AccountErrorSnapshot]
    /// Status webhooks recorded (applied or waiting for their message).
    public var statusEvents: Int

    public init(conversations: [ConversationSnapshot], messages: [MessageSnapshot], reactions: [ReactionSnapshot],
                deadLetters: [DeadLetterSnapshot], accountErrors: [AccountErrorSnapshot], statusEvents: Int) {
        self.conversations = conversations.sorted { $0.sortKey < $1.sortKey }
        self.messages = messages.sorted { $0.sortKey < $1.sortKey }
        self.reactions = reactions.sorted { $0.sortKey < $1.sortKey }
        self.deadLetters = deadLetters.sorted { ($0.path ?? "", $0.reason) < ($1.path ?? "", $1.reason) }
        self.accountErrors = accountErrors.sorted { $0.sortKey < $1.sortKey }
        self.statusEvents = statusEvents
    }

    /// The message with `wamid`, if stored.
    public func message(_ wamid: String) -> MessageSnapshot? { messages.first { $0.wamid == wamid } }
}

extension ConversationSnapshot {
    var sortKey: String { [phoneNumberID, contactWaID ?? "", contactUserID ?? ""].joined(separator: "\u{1}") }
}

extension MessageSnapshot {
    var sortKey: String { [wamid ?? "", String(timestamp), phoneNumberID, contactWaID ?? ""].joined(separator: "\u{1}") }
}

extension ReactionSnapshot {
    var sortKey: String { [messageWamid, reactorWaID ?? ""].joined(separator: "\u{1}") }
}

extension AccountErrorSnapshot {
    var sortKey: String { [phoneNumberID ?? "", code.map(String.init) ?? "", title ?? ""].joined(separator: "\u{1}") }
}

/// A store whose inbox the conformance suite can read back as an `InboxSnapshot`.
public protocol InboxSnapshotStore: Sendable {
    func inboxSnapshot() async throws -> InboxSnapshot
}

/// The text a stored message shows, read from its stored content (JSON of InboxCore's
/// MessageContent, which either store writes): the text, or else the caption.
public enum StoredMessageText {
    public static func of(contentJSON: String) throws -> String? {
        let content = try JSONDecoder().decode(MessageContent.self, from: Data(contentJSON.utf8))
        return content.text ?? content.caption
    }
}
