import Foundation
import InboxCore

// The audit trail's vocabulary (DESIGN.md, "Audit"), the same in every store: what an agent
// did and what it was about. SQLite's InboxStore and PostgreSQL's PostgresStore each write
// rows of it in the transaction of the action.

/// What an agent did, as the audit trail names it.
public enum AuditAction: String, Sendable, CaseIterable, Codable {
    /// A message sent: text, template, file, reaction or reply buttons (`detail.type`).
    case send
    /// A message whose outcome was unknown, sent again (`R`).
    case resend
    case note
    case claim
    case release
    case resolve
    case reopen
    case labelAdd = "label_add"
    case labelRemove = "label_remove"
    case replyAdd = "reply_add"
    case replyEdit = "reply_edit"
    case replyRemove = "reply_remove"
}

/// What an audited action was about; only the fields that apply are set.
public struct AuditDetail: Sendable, Hashable, Codable {
    /// A message sent: its type (`text`, `template`, `image`, …, `reaction`, `interactive`).
    public var type: String?
    /// A message sent: the outbox id it travels under (`biz_opaque_callback_data`).
    public var localID: String?
    public var text: String?
    public var caption: String?
    public var template: String?
    public var filename: String?
    /// Reply buttons' titles.
    public var buttons: [String]?
    /// A reaction: the emoji (empty: the business's reaction taken back), and its message.
    public var emoji: String?
    public var reactedTo: String?
    public var noteID: Int64?
    public var label: String?
    /// A canned reply's name.
    public var reply: String?
    /// A claim taken over from another agent: whose it was.
    public var takenFrom: String?

    public init(type: String? = nil, localID: String? = nil, text: String? = nil, caption: String? = nil,
                template: String? = nil, filename: String? = nil, buttons: [String]? = nil, emoji: String? = nil,
                reactedTo: String? = nil, noteID: Int64? = nil, label: String? = nil, reply: String? = nil,
                takenFrom: String? = nil) {
        self.type = type
        self.localID = localID
        self.text = text
        self.caption = caption
        self.template = template
        self.filename = filename
        self.buttons = buttons
        self.emoji = emoji
        self.reactedTo = reactedTo
        self.noteID = noteID
        self.label = label
        self.reply = reply
        self.takenFrom = takenFrom
    }

    enum CodingKeys: String, CodingKey {
        case type, text, caption, template, filename, buttons, emoji, label, reply
        case localID = "local_id", reactedTo = "reacted_to", noteID = "note_id", takenFrom = "taken_from"
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static let decoder = JSONDecoder()

    /// The detail as the audit row keeps it: JSON with sorted keys, absent fields left out.
    public var json: String { String(decoding: (try? Self.encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self) }
}

/// One row of the audit trail.
public struct AuditEntry: Sendable, Hashable {
    public var id: Int64
    /// Unix seconds.
    public var at: Int64
    public var account: String
    /// The display name the agent had at the time.
    public var displayName: String?
    public var action: AuditAction
    /// nil for canned replies (the team's, not a conversation's).
    public var conversationID: ConversationID?
    /// The customer's identifiers when it happened, and their name now.
    public var contactWaID: String?
    public var contactUserID: String?
    public var contactName: String?
    public var detail: AuditDetail

    public init(id: Int64, at: Int64, account: String, displayName: String?, action: AuditAction,
                conversationID: ConversationID?, contactWaID: String?, contactUserID: String?, contactName: String?,
                detail: AuditDetail) {
        self.id = id
        self.at = at
        self.account = account
        self.displayName = displayName
        self.action = action
        self.conversationID = conversationID
        self.contactWaID = contactWaID
        self.contactUserID = contactUserID
        self.contactName = contactName
        self.detail = detail
    }

    /// `bob` or `bob (Bobby)`.
    public var agentLabel: String { AgentIdentity.label(account: account, displayName: displayName) }

    /// One line of `wabox audit --format jsonl`: every key present, absent values as `null`.
    public var jsonLine: String {
        let json = JSONWriter()
        json.object {
            json.field("id", id)
            json.field("at", at)
            json.field("account", account)
            json.field("display_name", displayName)
            json.field("action", action.rawValue)
            json.field("conversation_id", conversationID?.rawValue)
            json.key("contact")
            if conversationID != nil || contactWaID != nil || contactUserID != nil {
                json.object {
                    json.field("wa_id", contactWaID)
                    json.field("user_id", contactUserID)
                    json.field("name", contactName)
                }
            } else {
                json.null()
            }
            json.key("detail")
            json.raw(detail.json)
        }
        return json.output
    }
}

/// Which part of the trail to read.
public struct AuditQuery: Sendable, Hashable {
    /// Only entries at or after this Unix second.
    public var since: Int64?
    /// Only this account's.
    public var account: String?
    /// Only this contact's: a wa_id (with or without `+`), a user id or a username.
    public var contact: String?

    public init(since: Int64? = nil, account: String? = nil, contact: String? = nil) {
        self.since = since
        self.account = account
        self.contact = contact
    }
}

/// The audit trail, for `wabox audit` on either store.
public protocol AuditTrailStore: Sendable {
    /// Streams the entries `query` selects, oldest first, to `emit`; returns how many.
    /// A contact that matches nothing throws `UnknownContact`.
    func auditTrail(_ query: AuditQuery, emit: (AuditEntry) throws -> Void) async throws -> Int
}
