import Foundation
import GRDB
import InboxCore

/// One webhook body for `ingest(_:)`: journaled and applied at once.
public struct IncomingWebhook: Sendable {
    /// Unix seconds.
    public var receivedAt: Int64
    /// The raw body, as signed.
    public var body: Data

    public init(receivedAt: Int64, body: Data) {
        self.receivedAt = receivedAt
        self.body = body
    }
}

extension InboxDatabase {
    /// Journals a batch of webhooks and applies them (and any body journaled before them
    /// that waits) in one transaction, and returns an outcome for each, in order. For tools
    /// and tests that want the inbox current at once; the listener journals first and
    /// acknowledges, and the applier follows (`appendToJournal(_:)`, `applyJournal(limit:)`).
    public func ingest(_ webhooks: [IncomingWebhook]) async throws -> [IngestOutcome] {
        defer { committed() }
        let entries = webhooks.map { JournalEntry(receivedAt: $0.receivedAt, body: $0.body) }
        let decoder = self.decoder
        do {
            return try await writer.write { db in try Self.appendAndApply(entries, guarded: false, decoder: decoder, in: db) }
        } catch is BodyFailure {
            // One of them could not be applied, and the whole transaction rolled back: do it
            // again with a savepoint each, so that the failing one becomes a dead letter.
            return try await writer.write { db in try Self.appendAndApply(entries, guarded: true, decoder: decoder, in: db) }
        }
    }

    /// Commits one webhook. See `ingest(_:)` for batches.
    public func ingest(_ webhook: IncomingWebhook) async throws -> IngestOutcome {
        try await ingest([webhook])[0]
    }

    /// Blocking variant for callers outside Swift concurrency (tools, tests).
    public func ingestSync(_ webhooks: [IncomingWebhook]) throws -> [IngestOutcome] {
        defer { committed() }
        let entries = webhooks.map { JournalEntry(receivedAt: $0.receivedAt, body: $0.body) }
        do {
            return try writer.write { db in try Self.appendAndApply(entries, guarded: false, decoder: decoder, in: db) }
        } catch is BodyFailure {
            return try writer.write { db in try Self.appendAndApply(entries, guarded: true, decoder: decoder, in: db) }
        }
    }

    private static func appendAndApply(_ entries: [JournalEntry<Data>], guarded: Bool, decoder: WebhookDecoder,
                                       in db: Database) throws -> [IngestOutcome] {
        let ids = try append(entries, in: db)
        guard let last = ids.last else { return [] }
        let applied = try applyBatch(limit: Int.max, through: last, guarded: guarded, decoder: decoder,
                                     shouldYield: { false }, in: db)
        let outcomes = Dictionary(uniqueKeysWithValues: applied.map { ($0.journalID, $0.outcome) })
        return ids.map { outcomes[$0] ?? .duplicate }
    }

    static func deadLetter(webhookID: Int64?, at: Int64, path: String?, reason: String, raw: String?,
                           in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO dead_letter (webhook_id, received_at, path, reason, raw) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [webhookID, at, path, reason, raw])
    }
}

/// Applies decoded events to the database, each one idempotently.
struct EventApplier {
    let statements: IngestStatements
    /// The row of table `webhook` the dead letters and account errors name (nil for a
    /// journaled body: the applier links those rows to it afterwards).
    let webhookID: Int64?
    /// The row of the body, in `journal` or `webhook`, that messages keep for the raw view.
    let sourceID: Int64?
    let receivedAt: Int64
    private(set) var deadLetters = 0
    /// Events found stored already: a message whose wamid is known, a status already recorded.
    private(set) var repeats = 0
    private var db: Database { statements.db }

    init(statements: IngestStatements, webhookID: Int64?, sourceID: Int64? = nil, receivedAt: Int64) {
        self.statements = statements
        self.webhookID = webhookID
        self.sourceID = sourceID ?? webhookID
        self.receivedAt = receivedAt
    }

    mutating func apply(_ event: InboxEvent) throws {
        switch event {
        case .message(let message):
            try apply(message)
        case .reaction(let reaction):
            try apply(reaction)
        case .status(let update):
            try apply(update)
        case .accountErrors(let business, let errors):
            for error in errors {
                try db.cachedStatement(sql: """
                    INSERT INTO account_error (webhook_id, phone_number_id, received_at, code, title, message, details)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [webhookID, business.phoneNumberID.rawValue, receivedAt,
                                             error.code, error.title, error.message, error.details])
            }
        case .edit, .revoke, .call, .accountUpdate, .templateUpdate, .preference:
            deadLetters += try applyUpdate(event)
        case .ignored:
            break
        case .echo(let echo):
            try apply(echo)
        case .malformed(let part):
            try InboxDatabase.deadLetter(webhookID: webhookID, at: receivedAt, path: part.path,
                                         reason: part.reason, raw: part.rawJSON, in: db)
            deadLetters += 1
        }
    }

    // MARK: - Messages

    private mutating func apply(_ message: InboundMessage) throws {
        if try statements(.messageExists).int64(message.id.rawValue) != nil {
            repeats += 1
            return
        }
        let isCustomerWriting: Bool
        if case .system = message.content { isCustomerWriting = false } else { isCustomerWriting = true }
        let contactID = try ContactResolver(statements: statements)
            .resolve(message.sender, at: message.timestamp, timestampIsInboundMessage: isCustomerWriting)
        let conversationID = try conversation(for: message.business, contact: contactID)
        let error = Self.shownError(of: message)
        try statements(.insertMessage).execute(
            message.id.rawValue, conversationID.rawValue, message.content.typeName,
            message.content.text, message.content.caption, try StoredJSON.encode(message.content),
            message.timestamp, message.context?.repliedTo?.rawValue,
            (message.context?.forwarded ?? false) || (message.context?.frequentlyForwarded ?? false),
            try message.referral.map(StoredJSON.encode), message.groupID,
            error?.code, error?.title, error?.message, error?.details, sourceID)
        let messageRowID = db.lastInsertedRowID
        try noteNewMessage(messageRowID, in: conversationID, timestamp: message.timestamp,
                           inbound: isCustomerWriting, unread: isCustomerWriting)
        deadLetters += try applyWaitingChanges(toMessage: messageRowID, wamid: message.id)
        if case .system(let notice) = message.content {
            let resolver = ContactResolver(statements: statements)
            if let newWaID = notice.newWaID {
                try resolver.changeNumber(of: contactID, to: newWaID, at: message.timestamp)
            }
            if let newUserID = notice.newUserID {
                try resolver.changeUserID(of: contactID, to: newUserID, at: message.timestamp)
            }
        }
    }

    /// The error a message row shows: the first Meta sent with it, or why wabox could not
    /// read it.
    static func shownError(of message: InboundMessage) -> APIErrorDetail? {
        if let error = message.errors.first { return error }
        guard case .unreadable(_, let reason, _) = message.content else { return nil }
        return APIErrorDetail(code: nil, title: unreadableTitle + reason)
    }

    /// How the error of a message wabox could not read begins.
    static let unreadableTitle = "wabox could not read this message: "

    /// The conversation of a contact with one of our numbers, made on its first message.
    /// Read first: the usual case changes nothing, and a write would cost a page.
    func conversation(for business: BusinessNumber, contact: ContactID) throws -> ConversationID {
        if let (id, storedDisplay) = try statements(.conversation).row(business.phoneNumberID.rawValue, contact.rawValue,
                                                                       read: { ($0.int64(0), $0.string(1)) }) {
            if let display = business.displayPhoneNumber, display != storedDisplay {
                try statements(.conversationDisplay).execute(display, id)
            }
            return ConversationID(rawValue: id)
        }
        try statements(.insertConversation).execute(business.phoneNumberID.rawValue, business.displayPhoneNumber,
                                                    contact.rawValue)
        return ConversationID(rawValue: db.lastInsertedRowID)
    }

    func noteNewMessage(_ messageRowID: Int64, in conversation: ConversationID, timestamp: Int64,
                                inbound: Bool, unread: Bool) throws {
        try statements(.noteNewMessage).execute(timestamp, messageRowID, inbound, unread ? 1 : 0, conversation.rawValue)
    }

    // MARK: - Reactions

    private func apply(_ reaction: Reaction) throws {
        let contactID = try ContactResolver(statements: statements).resolve(reaction.sender, at: reaction.timestamp)
        // A newer reaction (or removal) replaces an older one; an older one arriving late
        // changes nothing.
        try db.cachedStatement(sql: """
            INSERT INTO reaction (message_wamid, from_contact_id, emoji, timestamp, reaction_wamid)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (message_wamid, from_contact_id) DO UPDATE
                SET emoji = excluded.emoji, timestamp = excluded.timestamp, reaction_wamid = excluded.reaction_wamid
                WHERE excluded.timestamp >= reaction.timestamp
            """).execute(arguments: [reaction.target.rawValue, contactID.rawValue, reaction.emoji,
                                     reaction.timestamp, reaction.id.rawValue])
    }

    // MARK: - Statuses

    private mutating func apply(_ update: StatusUpdate) throws {
        let error = update.errors.first
        try statements(.insertStatusEvent).execute(
            update.messageID.rawValue, update.rawStatus, update.timestamp, update.business.phoneNumberID.rawValue,
            update.recipient.flatMap { $0.waID?.rawValue ?? $0.userID?.rawValue }, update.callbackData,
            error?.code, error?.title, error?.message, error?.details)
        guard db.changesCount > 0 else {
            repeats += 1
            return
        }
        guard let status = update.status else { return }
        let row = try statements(.outboundMessage).row(update.messageID.rawValue) { ($0.int64(0), $0.string(1) ?? "") }
        if row == nil, let localID = update.callbackData {
            // The status came before the send call returned: our local id travels as
            // biz_opaque_callback_data, so the message can take its wamid now.
            try db.cachedStatement(sql: """
                UPDATE message SET wamid = ? WHERE local_id = ? AND wamid IS NULL AND direction = 'out'
                """).execute(arguments: [update.messageID.rawValue, localID])
            if db.changesCount > 0, let linked = try statements(.messageExists).int64(update.messageID.rawValue) {
                // This status and any that waited for the id apply now.
                try OutboundStatus.applyWaiting(messageRowID: linked, wamid: update.messageID, in: db)
                return
            }
        }
        guard let row else { return }  // kept in status_event until the message appears
        try OutboundStatus.advance(messageRowID: row.0, current: row.1, to: status,
                                   at: update.timestamp, error: error, in: db)
    }
}

/// Moves an outbound message's status forward, never back.
enum OutboundStatus {
    static func advance(messageRowID: Int64, current: String, to next: DeliveryStatus, at timestamp: Int64,
                        error: APIErrorDetail?, in db: Database) throws {
        guard let current = DeliveryStatus(rawValue: current), current.advances(to: next) else { return }
        if next == .failed {
            try db.cachedStatement(sql: """
                UPDATE message SET status = ?, status_at = ?, error_code = ?, error_title = ?, error_message = ?,
                                   error_details = ?
                WHERE id = ?
                """).execute(arguments: [next.rawValue, timestamp, error?.code, error?.title, error?.message,
                                         error?.details, messageRowID])
        } else {
            try db.cachedStatement(sql: "UPDATE message SET status = ?, status_at = ? WHERE id = ?")
                .execute(arguments: [next.rawValue, timestamp, messageRowID])
        }
    }

    /// Applies every status that arrived for `wamid` before the message had it.
    static func applyWaiting(messageRowID: Int64, wamid: MessageID, in db: Database) throws {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT status, timestamp, error_code, error_title, error_message, error_details
            FROM status_event WHERE wamid = ? ORDER BY timestamp, id
            """), arguments: [wamid.rawValue])
        for row in rows {
            guard let status = DeliveryStatus(rawValue: (row["status"] as String).lowercased()),
                  let current = try String.fetchOne(db, sql: "SELECT status FROM message WHERE id = ?",
                                                    arguments: [messageRowID]) else { continue }
            let error = (row["error_code"] as Int?).map {
                APIErrorDetail(code: $0, title: row["error_title"], message: row["error_message"],
                               details: row["error_details"])
            }
            try advance(messageRowID: messageRowID, current: current, to: status, at: row["timestamp"],
                        error: error, in: db)
        }
    }
}
