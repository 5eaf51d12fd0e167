// MARK: - Events beyond messages and statuses
//
// Edits and deletions by the customer, calls, account alerts, template updates and
// marketing preferences: the shapes of CLOUD_API.md's last section, decoded.

/// A customer's edit of a message they sent earlier. It may arrive before the original.
public struct MessageEdit: Sendable, Equatable {
    /// The id of the edit itself: applying the same edit twice changes nothing.
    public var id: MessageID
    public var business: BusinessNumber
    public var sender: ContactIdentity
    /// When the customer edited (Unix seconds).
    public var timestamp: Int64
    /// The message edited.
    public var original: MessageID
    /// The message's new content.
    public var content: MessageContent

    public init(id: MessageID, business: BusinessNumber, sender: ContactIdentity, timestamp: Int64,
                original: MessageID, content: MessageContent) {
        self.id = id
        self.business = business
        self.sender = sender
        self.timestamp = timestamp
        self.original = original
        self.content = content
    }
}

/// A customer deleted a message they sent ("delete for everyone"). It may arrive before
/// the original.
public struct MessageRevoke: Sendable, Equatable {
    public var id: MessageID
    public var business: BusinessNumber
    public var sender: ContactIdentity
    public var timestamp: Int64
    /// The message deleted.
    public var original: MessageID

    public init(id: MessageID, business: BusinessNumber, sender: ContactIdentity, timestamp: Int64, original: MessageID) {
        self.id = id
        self.business = business
        self.sender = sender
        self.timestamp = timestamp
        self.original = original
    }
}

/// One thing that happened to a call: it rang (connect), ended (terminate), or its state
/// changed (a call status). Several make one call, in any order.
public struct CallEvent: Sendable, Equatable {
    /// Who placed the call.
    public enum Direction: String, Sendable, Hashable, Codable {
        /// The customer called the business (`USER_INITIATED`).
        case customer = "in"
        /// The business called the customer (`BUSINESS_INITIATED`).
        case business = "out"
    }

    public enum Kind: String, Sendable, Hashable, Codable {
        case connect, terminate
        /// A call status (`statuses[]` with `type: "call"`): `RINGING`, `ACCEPTED`, `REJECTED`, …
        case status
        /// An event this version of wabox does not know; it still makes the call known.
        case other
    }

    public var id: CallID
    public var business: BusinessNumber
    /// The customer on the other end.
    public var customer: ContactIdentity
    /// nil when the event did not say.
    public var direction: Direction?
    public var kind: Kind
    /// The terminate's `status` (`COMPLETED`, `FAILED`, …) or the call status.
    public var status: String?
    public var timestamp: Int64
    /// On terminate: when the call was connected and ended (Unix seconds), and for how long.
    public var startTime: Int64?
    public var endTime: Int64?
    public var duration: Int64?

    public init(id: CallID, business: BusinessNumber, customer: ContactIdentity, direction: Direction?, kind: Kind,
                status: String? = nil, timestamp: Int64, startTime: Int64? = nil, endTime: Int64? = nil,
                duration: Int64? = nil) {
        self.id = id
        self.business = business
        self.customer = customer
        self.direction = direction
        self.kind = kind
        self.status = status
        self.timestamp = timestamp
        self.startTime = startTime
        self.endTime = endTime
        self.duration = duration
    }
}

/// An `account_update`: Meta's word on the WhatsApp Business Account.
public struct AccountUpdate: Sendable, Equatable {
    public struct Restriction: Sendable, Hashable, Codable {
        /// `RESTRICTED_BIZ_INITIATED_MESSAGING`, `RESTRICTED_CUSTOMER_INITIATED_MESSAGING`, …
        public var type: String
        /// When it ends by itself (Unix seconds), if it does.
        public var expiration: Int64?

        public init(type: String, expiration: Int64? = nil) {
            self.type = type
            self.expiration = expiration
        }
    }

    /// The WhatsApp Business Account (the entry's id).
    public var account: String
    /// `ACCOUNT_RESTRICTION`, `ACCOUNT_VIOLATION`, `DISABLED_UPDATE`, `ACCOUNT_OFFBOARDED`, …
    public var event: String
    public var phoneNumber: String?
    public var restrictions: [Restriction]
    /// `DISABLED_UPDATE`: `DISABLE`, `SCHEDULE_FOR_DISABLE`, `REINSTATE`.
    public var banState: String?
    public var banDate: String?
    public var violationType: String?
    /// When Meta sent it (the entry's time, else when it was received).
    public var timestamp: Int64

    public init(account: String, event: String, phoneNumber: String? = nil, restrictions: [Restriction] = [],
                banState: String? = nil, banDate: String? = nil, violationType: String? = nil, timestamp: Int64) {
        self.account = account
        self.event = event
        self.phoneNumber = phoneNumber
        self.restrictions = restrictions
        self.banState = banState
        self.banDate = banDate
        self.violationType = violationType
        self.timestamp = timestamp
    }
}

/// A change to one of the account's message templates.
public struct TemplateUpdate: Sendable, Equatable {
    public enum Change: Sendable, Equatable {
        /// `APPROVED`, `REJECTED`, `PAUSED`, `DISABLED`, `PENDING_DELETION`, …, with Meta's reason.
        case status(String, reason: String?)
        /// `GREEN`, `YELLOW`, `RED` (or `UNKNOWN`).
        case quality(previous: String?, new: String)
        /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
        case category(previous: String?, new: String)
        /// The body, header, footer or buttons changed: the cached copy is out of date.
        case components
    }

    /// The WhatsApp Business Account (the entry's id).
    public var account: String?
    public var templateID: String?
    public var name: String
    /// nil when the update did not name one: it concerns every language of `name`.
    public var language: String?
    /// The category a status update names, if it does.
    public var category: String?
    public var change: Change
    public var timestamp: Int64

    public init(account: String?, templateID: String?, name: String, language: String?, category: String? = nil,
                change: Change, timestamp: Int64) {
        self.account = account
        self.templateID = templateID
        self.name = name
        self.language = language
        self.category = category
        self.change = change
        self.timestamp = timestamp
    }
}

/// A customer asked to stop, or to resume, a category of messages (`user_preferences`).
public struct PreferenceUpdate: Sendable, Equatable {
    public static let marketing = "marketing_messages"

    public var business: BusinessNumber?
    public var customer: ContactIdentity
    /// `marketing_messages`.
    public var category: String
    /// `stop` or `resume`.
    public var value: String
    public var detail: String?
    public var timestamp: Int64

    public init(business: BusinessNumber?, customer: ContactIdentity, category: String, value: String,
                detail: String? = nil, timestamp: Int64) {
        self.business = business
        self.customer = customer
        self.category = category
        self.value = value
        self.detail = detail
        self.timestamp = timestamp
    }

    /// For marketing: true when the customer opted out, false when they opted back in;
    /// nil for another category or value.
    public var marketingOptOut: Bool? {
        guard category == Self.marketing else { return nil }
        switch value.lowercased() {
        case "stop": return true
        case "resume": return false
        default: return nil
        }
    }
}
