import Foundation
import InboxCore

// What the inbox screen reads and writes, as plain values that either store hands back
// (InboxScreenStore.swift). They were SQLite's; PostgreSQL's store returns the same.

/// Who is looking at the list: unread counts and "mine" are per agent. The team view
/// (no agent) counts what nobody has read yet.
public struct Viewer: Sendable, Hashable {
    public var agent: String?
    /// Typing notes older than this are left out.
    public var nowMilliseconds: Int64

    public init(agent: String?, nowMilliseconds: Int64) {
        self.agent = agent
        self.nowMilliseconds = nowMilliseconds
    }

    public static let team = Viewer(agent: nil, nowMilliseconds: 0)
}

/// Which conversations the list shows.
public enum ConversationScope: String, Sendable, Hashable, CaseIterable {
    /// Everything, resolved ones included.
    case all
    /// Open conversations claimed by the viewer.
    case mine
    /// Open conversations nobody has claimed.
    case unassigned
}

/// Display names (`--agent`) go into the database and onto every screen: short and plain.
public enum AgentName {
    public static func validate(_ name: String) -> String? {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-@"))
        guard !name.isEmpty, name.count <= 32, name.unicodeScalars.allSatisfy(allowed.contains) else {
            return "display name \"\(name)\" must be 1 to 32 letters, digits, '.', '_', '-' or '@'"
        }
        return nil
    }
}

/// Part of the conversation list, found within a bounded amount of work: the screen shows
/// it and asks for the rest on its next turns, so that a key press never waits for a walk
/// through a million conversations.
public struct ConversationListStep: Sendable {
    /// Matches found so far in this step, newest first (at most `limit`).
    public var items: [ConversationSummary]
    /// Set when the page is full and more conversations match.
    public var next: ConversationCursor?
    /// Set when the walk stopped here before the end of the list: continue from it.
    public var scannedTo: ConversationCursor?

    public init(items: [ConversationSummary], next: ConversationCursor? = nil, scannedTo: ConversationCursor? = nil) {
        self.items = items
        self.next = next
        self.scannedTo = scannedTo
    }
}

/// A canned reply: `/NAME` + Tab in the compose line puts its text there.
public struct CannedReply: Sendable, Hashable {
    public var name: String
    /// May hold `{{name}}`, `{{agent}}` and `{{number}}`.
    public var text: String

    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }

    /// What a canned reply's name may be: what follows the `/` in the compose line.
    public static func validate(name: String) -> String? {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-"))
        guard !name.isEmpty, name.count <= 32, name.unicodeScalars.allSatisfy(allowed.contains) else {
            return "reply name \"\(name)\" must be 1 to 32 letters, digits, '.', '_' or '-' (it is typed after / in the compose line)"
        }
        return nil
    }
}

/// An agent's private note on a conversation, shown in the thread and never sent.
public struct ConversationNote: Sendable, Hashable {
    public var id: Int64
    public var conversationID: ConversationID
    public var agent: String
    public var text: String
    /// Unix seconds.
    public var createdAt: Int64

    public init(id: Int64, conversationID: ConversationID, agent: String, text: String, createdAt: Int64) {
        self.id = id
        self.conversationID = conversationID
        self.agent = agent
        self.text = text
        self.createdAt = createdAt
    }
}

public enum LabelName {
    /// Labels are typed after `~l` in the filter and shown on list rows: one short word.
    public static func validate(_ name: String) -> String? {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-:/+#&"))
        guard !name.isEmpty, name.count <= 24, name.unicodeScalars.allSatisfy(allowed.contains) else {
            return "label \"\(name)\" must be 1 to 24 letters, digits or . _ - : / + # & (no spaces)"
        }
        return nil
    }
}

public struct WorkbenchError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A customer message that arrived after a screen started: what a notification says.
public struct Arrival: Sendable, Hashable {
    public var messageRowID: Int64
    public var conversation: ConversationID
    public var contact: ContactRecord
    public var content: MessageContent
    /// The conversation's claim and whether it is resolved, as they stood when asked.
    public var assignee: String?
    public var isResolved: Bool
    /// When its webhook reached the journal (Unix seconds); nil when not recorded.
    public var receivedAt: Int64?

    public init(messageRowID: Int64, conversation: ConversationID, contact: ContactRecord, content: MessageContent,
                assignee: String? = nil, isResolved: Bool = false, receivedAt: Int64? = nil) {
        self.messageRowID = messageRowID
        self.conversation = conversation
        self.contact = contact
        self.content = content
        self.assignee = assignee
        self.isResolved = isResolved
        self.receivedAt = receivedAt
    }
}

/// Who a customer is and where their conversation stands, for the contact panel.
public struct ContactDetails: Sendable, Equatable {
    public struct PreviousNumber: Sendable, Hashable {
        public var waID: WaID
        /// When the customer moved off it (Unix seconds).
        public var changedAt: Int64

        public init(waID: WaID, changedAt: Int64) {
            self.waID = waID
            self.changedAt = changedAt
        }
    }

    public var conversation: ConversationSummary
    /// The numbers the customer had before a `user_changed_number`, newest first.
    public var previousNumbers: [PreviousNumber]
    public var firstMessage: StoredMessage?
    public var lastMessage: StoredMessage?
    public var receivedCount: Int
    public var sentCount: Int
    /// The business's other numbers this customer writes to.
    public var otherBusinessNumbers: [String]
    public var claimedAt: Int64?
    /// nil while this version keeps no labels or notes.
    public var labels: [String]?
    public var notesCount: Int?

    public init(conversation: ConversationSummary, previousNumbers: [PreviousNumber] = [], firstMessage: StoredMessage? = nil,
                lastMessage: StoredMessage? = nil, receivedCount: Int = 0, sentCount: Int = 0,
                otherBusinessNumbers: [String] = [], claimedAt: Int64? = nil, labels: [String]? = nil, notesCount: Int? = nil) {
        self.conversation = conversation
        self.previousNumbers = previousNumbers
        self.firstMessage = firstMessage
        self.lastMessage = lastMessage
        self.receivedCount = receivedCount
        self.sentCount = sentCount
        self.otherBusinessNumbers = otherBusinessNumbers
        self.claimedAt = claimedAt
        self.labels = labels
        self.notesCount = notesCount
    }
}

/// A webhook body as the journal keeps it.
public struct RawWebhook: Sendable, Equatable {
    public var webhookID: Int64
    /// Unix seconds.
    public var receivedAt: Int64
    public var body: Data

    public init(webhookID: Int64, receivedAt: Int64, body: Data) {
        self.webhookID = webhookID
        self.receivedAt = receivedAt
        self.body = body
    }
}

/// What the raw view finds behind a message.
public enum RawWebhookLookup: Sendable, Equatable {
    case found(RawWebhook)
    /// Sent from wabox: no webhook brought it.
    case sentFromWabox
    /// Its webhook was pruned from the journal (`journal_retention`).
    case pruned(webhookID: Int64)
    /// Stored before messages kept their webhook's id, and not among the newest `searched` bodies.
    case notFound(searched: Int)
    case noMessage
}

/// A message that matched a full-text search.
public struct MessageHit: Sendable, Equatable {
    public var conversation: ConversationSummary
    public var message: StoredMessage
    /// The matching part of the text, shortened.
    public var snippet: String

    public init(conversation: ConversationSummary, message: StoredMessage, snippet: String) {
        self.conversation = conversation
        self.message = message
        self.snippet = snippet
    }
}

/// What became of a claim.
public enum ClaimOutcome: Sendable, Equatable {
    case claimed
    /// The viewer already had it.
    case alreadyYours
    /// Another agent (this account) has it; nothing changed (claim again with `takeOver`).
    case heldBy(String)
}
/// Who acts on the inbox: the account the store authenticated, and the name the agent
/// chose to be shown beside it.
///
/// - Important: the account is never taken from anything the user types or sets (`--agent`,
///   `WABOX_AGENT`, `agent`, `$USER`): those give the display name only. Screens attached
///   to a shared `wabox serve` run as the agent's own process, so each has its own account.
public struct AgentIdentity: Sendable, Hashable {
    /// The key of every attribution: claims, read marks, typing notes, notes, labels, canned
    /// replies, messages sent, the audit trail.
    public var account: String
    /// Shown beside the account, never instead of it; nil shows the account alone.
    public var displayName: String?

    public init(account: String, displayName: String? = nil) {
        self.account = account
        self.displayName = displayName
    }

    /// `bob`, or `bob (Bobby)` when a display name other than the account is set: the
    /// account always comes first, so a borrowed name cannot pass for its owner.
    public var label: String { Self.label(account: account, displayName: displayName) }

    public static func label(account: String, displayName: String?) -> String {
        guard let displayName, !displayName.isEmpty, displayName != account else { return account }
        return "\(account) (\(displayName))"
    }
}
/// A template update as the store keeps it: the newest status, category and quality
/// webhooks said, each with its time.
public struct TemplateState: Sendable, Hashable {
    public var name: String
    /// nil: the update named no language, so it holds for every language of `name`.
    public var language: String?
    public var templateID: String?
    public var status: String?
    public var reason: String?
    public var statusAt: Int64?
    public var category: String?
    public var categoryAt: Int64?
    public var quality: String?
    public var qualityAt: Int64?

    public init(name: String, language: String?, templateID: String? = nil, status: String? = nil, reason: String? = nil,
                statusAt: Int64? = nil, category: String? = nil, categoryAt: Int64? = nil, quality: String? = nil,
                qualityAt: Int64? = nil) {
        self.name = name
        self.language = language
        self.templateID = templateID
        self.status = status
        self.reason = reason
        self.statusAt = statusAt
        self.category = category
        self.categoryAt = categoryAt
        self.quality = quality
        self.qualityAt = qualityAt
    }

    /// Whether it concerns the template `name` in `language`.
    public func concerns(name: String, language: String) -> Bool {
        self.name == name && (self.language == nil || self.language == language)
    }
}
