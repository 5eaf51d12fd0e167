import Foundation
import InboxCore

// What every store promises the outbox sender (DESIGN.md, "Sending"): an outbound message is
// written with its outbox row before any request, a sender claims a row (committed as in
// flight) before it posts it, and each answer settles the row. SQLite (InboxStore) and
// PostgreSQL (PostgresStore) each implement it; CloudAPI's OutboxSender sees only this
// protocol. On PostgreSQL several listeners send from one outbox: a claim skips the rows
// another sender holds, so a reply goes out once however many run.

/// The store side of sending.
public protocol OutboxStore: Sendable {
    /// Claims the oldest due row (at most one per conversation, in order) and marks it in
    /// flight, committed before the caller sends anything. nil when nothing is due, another
    /// sender holds what is, or sending is halted.
    func claimNextOutbound(nowMilliseconds now: Int64) async throws -> OutboxItem?
    /// Claims one row by its local id, whether due or not (`wabox send` sends at once). nil
    /// when another sender holds it, it is uncertain, or it is no longer in the outbox.
    func claimOutbound(localID: String, nowMilliseconds now: Int64) async throws -> OutboxItem?
    /// Keeps the media id of an uploaded file, so that a retry sends the same upload.
    func recordUpload(localID: String, mediaID: String) async throws
    /// The Cloud API accepted the row under `wamid`: statuses that came first apply, and the
    /// row leaves the outbox.
    func markAccepted(localID: String, wamid: MessageID, heldForQualityReview: Bool, at timestamp: Int64) async throws
    /// Puts a claimed row back, to be tried again at `nextAttempt` (Unix milliseconds).
    func scheduleRetry(localID: String, atMilliseconds nextAttempt: Int64, lastError: String) async throws
    /// Puts a claimed row back untouched (sending halted first): the attempt does not count.
    func releaseOutbound(localID: String, lastError: String) async throws
    /// Refused for good: the message shows `failed`; `closesWindow` (131047) marks the
    /// conversation's window closed.
    func markFailed(localID: String, error: APIErrorDetail, closesWindow: Bool, at timestamp: Int64) async throws
    /// The request may have arrived without an answer: `uncertain`, never resent on its own.
    func markUncertain(localID: String, reason: String) async throws
    /// Rows left in flight by a sender that is gone become `uncertain`. Returns how many.
    func recoverInFlightOutbound() async throws -> Int
    /// Stops every sender until `resumeSending()`; the first reason is kept.
    func haltSending(code: Int?, reason: String, at timestamp: Int64) async throws
    /// Lifts the operator's halt (an account alert's stays until Meta lifts it).
    func resumeSending() async throws
    /// Why sending is halted, or nil.
    func sendingHalt() async throws -> SendingHalt?
    /// Where an outbound message stands once another sender handled it; nil when no
    /// outbound message has this local id.
    func outboundSettlement(localID: String) async throws -> OutboundSettlement?
    /// The outbox row of a message; nil once it left the outbox.
    func outboxEntry(localID: String) async throws -> OutboxEntry?
    /// Read receipts queued by screens without a token, oldest first; drops those older
    /// than `staleBefore` (Unix ms) or tried `maxAttempts` times.
    func dueReadReceipts(staleBefore: Int64, maxAttempts: Int, limit: Int) async throws
        -> [(message: MessageID, business: PhoneNumberID)]
    /// A queued receipt was sent (`done`), or failed and counts one attempt more.
    func finishReadReceipt(_ message: MessageID, done: Bool) async throws
}

/// What the sender needs to know of an outbound message another sender handled.
public struct OutboundSettlement: Sendable, Hashable {
    public var wamid: MessageID?
    public var status: DeliveryStatus?
    public var error: APIErrorDetail?

    public init(wamid: MessageID?, status: DeliveryStatus?, error: APIErrorDetail?) {
        self.wamid = wamid
        self.status = status
        self.error = error
    }
}

/// An outbox row claimed for sending, with everything the request needs.
public struct OutboxItem: Sendable, Hashable {
    public var messageRowID: Int64
    /// Sent as `biz_opaque_callback_data`.
    public var localID: String
    public var conversationID: ConversationID
    /// The business number the reply goes out from.
    public var phoneNumberID: PhoneNumberID
    /// nil when the contact has neither a wa_id nor a user id (cannot be addressed).
    public var recipient: Recipient?
    public var kind: OutboundKind
    public var replyTo: MessageID?
    /// Attempts so far, this one included.
    public var attempts: Int
    /// For a file: the copy in the media store that is uploaded, and its MIME type.
    public var file: OutboundFile?

    public init(messageRowID: Int64, localID: String, conversationID: ConversationID, phoneNumberID: PhoneNumberID,
                recipient: Recipient?, kind: OutboundKind, replyTo: MessageID?, attempts: Int, file: OutboundFile?) {
        self.messageRowID = messageRowID
        self.localID = localID
        self.conversationID = conversationID
        self.phoneNumberID = phoneNumberID
        self.recipient = recipient
        self.kind = kind
        self.replyTo = replyTo
        self.attempts = attempts
        self.file = file
    }

    public var message: OutboundMessage? {
        recipient.map { OutboundMessage(recipient: $0, kind: kind, replyTo: replyTo, callbackData: localID) }
    }
}

/// A file waiting in the media store to be uploaded and sent.
public struct OutboundFile: Sendable, Hashable {
    public var path: String
    public var mimeType: String
    public var filename: String?
    /// Bytes; nil when read back from the outbox (the media row keeps it).
    public var size: Int64?

    public init(path: String, mimeType: String, filename: String?, size: Int64? = nil) {
        self.path = path
        self.mimeType = mimeType
        self.filename = filename
        self.size = size
    }
}

/// Why sending stopped: an invalid token or a restricted account. Stays until
/// `resumeSending()`.
public struct SendingHalt: Sendable, Hashable, CustomStringConvertible {
    public var code: Int?
    public var reason: String
    /// Unix seconds.
    public var since: Int64
    /// Raised by an account alert from Meta: it lasts until Meta lifts it (or it expires),
    /// and a restart does not lift it.
    public var isAccountAlert = false

    public init(code: Int?, reason: String, since: Int64, isAccountAlert: Bool = false) {
        self.code = code
        self.reason = reason
        self.since = since
        self.isAccountAlert = isAccountAlert
    }

    /// For the status bar: `sending halted: <reason>`.
    public var description: String { "sending halted: \(reason)" }
}

/// An outbox operation that could not be done, with what to do instead.
public struct OutboxError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where an outbox row stands, for tests and the status bar.
public struct OutboxEntry: Sendable, Hashable {
    public var state: String
    public var attempts: Int
    /// Unix milliseconds.
    public var nextAttemptAt: Int64
    public var lastError: String?

    public init(state: String, attempts: Int, nextAttemptAt: Int64, lastError: String?) {
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
    }
}


/// Where the sender keeps the account's approved templates, for screens without a token.
public protocol TemplateCacheStore: Sendable {
    /// Replaces the cache with `json` (the Cloud API's list), fetched at `now` (Unix seconds).
    func cacheTemplates(_ json: String, at now: Int64) async throws
}
