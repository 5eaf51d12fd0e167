import Foundation
import InboxCore
import PostgresNIO
import StoreContract

// Applies decoded events to PostgreSQL with the semantics of SQLite's EventApplier
// (InboxStore/Ingest.swift): each event idempotent by its key (a message by wamid, a status
// by wamid, status and time, a reaction by message and reactor), ticks that only move
// forward, and statuses that wait for their message.

struct EventWriter {
    let tx: Transaction
    /// The journal row of the body, which its messages, dead letters and account errors name.
    let journalID: Int64
    let receivedAt: Int64
    /// The body's SHA-256 (hex), given when the body leaves rows with no key of their own
    /// (dead letters, account errors): they carry it, so a replay of the body adds none.
    let digest: String?
    private(set) var deadLetters = 0
    /// Events found stored already.
    private(set) var repeats = 0

    init(tx: Transaction, journalID: Int64, receivedAt: Int64, digest: String?) {
        self.tx = tx
        self.journalID = journalID
        self.receivedAt = receivedAt
        self.digest = digest
    }

    var contacts: ContactWriter { ContactWriter(tx: tx) }

    mutating func apply(_ event: InboxEvent) async throws {
        switch event {
        case .message(let message):
            try await apply(message)
        case .reaction(let reaction):
            try await apply(reaction)
        case .status(let update):
            try await apply(update)
        case .accountErrors(let business, let errors):
            for error in errors {
                try await tx.run("""
                    INSERT INTO account_error (journal_id, digest, phone_number_id, received_at, code, title, message, details)
                    VALUES (\(journalID), \(digest)::text, \(PostgresText.safe(business.phoneNumberID.rawValue)), \(receivedAt),
                            \(error.code)::bigint, \(PostgresText.safe(error.title))::text,
                            \(PostgresText.safe(error.message))::text, \(PostgresText.safe(error.details))::text)
                    """)
            }
        case .edit, .revoke, .call, .accountUpdate, .templateUpdate, .preference:
            deadLetters += try await applyUpdate(event)
        case .ignored:
            break
        case .echo(let echo):
            try await apply(echo)
        case .malformed(let part):
            try await insertDeadLetter(path: part.path, reason: part.reason, raw: part.rawJSON)
            deadLetters += 1
        }
    }

    /// Keeps a part aside, naming this body. (The caller counts it.)
    func insertDeadLetter(path: String?, reason: String, raw: String?) async throws {
        try await tx.run("""
            INSERT INTO dead_letter (journal_id, digest, received_at, path, reason, raw)
            VALUES (\(journalID), \(digest)::text, \(receivedAt), \(PostgresText.safe(path))::text,
                    \(PostgresText.safe(reason)), \(PostgresText.safe(raw))::text)
            """)
    }

    // MARK: - Messages

    func messageRowID(_ wamid: String) async throws -> Int64? {
        try await tx.int64("SELECT id FROM message WHERE wamid = \(wamid)")
    }

    private mutating func apply(_ message: InboundMessage) async throws {
        let wamid = PostgresText.safe(message.id.rawValue)
        if try await messageRowID(wamid) != nil {
            repeats += 1
            return
        }
        let isCustomerWriting: Bool
        if case .system = message.content { isCustomerWriting = false } else { isCustomerWriting = true }
        let contactID = try await contacts.resolve(message.sender, at: message.timestamp,
                                                   timestampIsInboundMessage: isCustomerWriting)
        let conversationID = try await contacts.conversation(for: message.business, contact: contactID)
        let error = Self.shownError(of: message)
        let forwarded = (message.context?.forwarded ?? false) || (message.context?.frequentlyForwarded ?? false)
        let referral = try message.referral.map(StoredJSON.encode)
        guard let rowID = try await tx.int64("""
            INSERT INTO message (wamid, conversation_id, direction, type, text, caption, content, timestamp,
                                 status, reply_to, forwarded, referral, group_id,
                                 error_code, error_title, error_message, error_details, webhook_id)
            VALUES (\(wamid), \(conversationID), 'in', \(message.content.typeName),
                    \(PostgresText.safe(message.content.text))::text, \(PostgresText.safe(message.content.caption))::text,
                    \(try StoredJSON.encode(message.content)), \(message.timestamp), 'received',
                    \(PostgresText.safe(message.context?.repliedTo?.rawValue))::text, \(forwarded), \(referral)::text,
                    \(PostgresText.safe(message.groupID))::text, \(error?.code)::bigint,
                    \(PostgresText.safe(error?.title))::text, \(PostgresText.safe(error?.message))::text,
                    \(PostgresText.safe(error?.details))::text, \(journalID))
            RETURNING id
            """) else { throw PostgresStoreError("PostgreSQL stored a message but returned no id: report this") }
        try await noteNewMessage(rowID, in: conversationID, timestamp: message.timestamp,
                                 inbound: isCustomerWriting, unread: isCustomerWriting)
        deadLetters += try await applyWaitingChanges(toMessage: rowID, wamid: wamid)
        if case .system(let notice) = message.content {
            if let newWaID = notice.newWaID {
                try await contacts.changeNumber(of: contactID, to: newWaID, at: message.timestamp)
            }
            if let newUserID = notice.newUserID {
                try await contacts.changeUserID(of: contactID, to: newUserID, at: message.timestamp)
            }
        }
    }

    /// The error a message row shows: the first Meta sent with it, or why wabox could not read it.
    static func shownError(of message: InboundMessage) -> APIErrorDetail? {
        if let error = message.errors.first { return error }
        guard case .unreadable(_, let reason, _) = message.content else { return nil }
        return APIErrorDetail(code: nil, title: unreadableTitle + reason)
    }

    /// How the error of a message wabox could not read begins.
    static let unreadableTitle = "wabox could not read this message: "

    func noteNewMessage(_ rowID: Int64, in conversation: Int64, timestamp: Int64, inbound: Bool, unread: Bool) async throws {
        let count: Int64 = unread ? 1 : 0
        try await tx.run("""
            UPDATE conversation SET
                last_message_id = CASE WHEN \(timestamp) >= last_activity_at THEN \(rowID) ELSE last_message_id END,
                last_activity_at = greatest(last_activity_at, \(timestamp)),
                last_inbound_at = CASE WHEN \(inbound) THEN greatest(coalesce(last_inbound_at, 0), \(timestamp))
                                  ELSE last_inbound_at END,
                unread_count = unread_count + \(count),
                inbound_count = inbound_count + \(count),
                -- The customer writing again reopens a resolved conversation.
                resolved_at = CASE WHEN \(unread) AND \(timestamp) >= resolved_at THEN NULL ELSE resolved_at END
            WHERE id = \(conversation)
            """)
    }

    // MARK: - Reactions

    private func apply(_ reaction: Reaction) async throws {
        let contactID = try await contacts.resolve(reaction.sender, at: reaction.timestamp)
        try await upsertReaction(reaction, from: contactID)
    }

    /// A newer reaction (or removal) replaces an older one; an older one arriving late
    /// changes nothing.
    private func upsertReaction(_ reaction: Reaction, from contactID: Int64) async throws {
        try await tx.run("""
            INSERT INTO reaction AS r (message_wamid, from_contact_id, emoji, timestamp, reaction_wamid, local_id)
            VALUES (\(PostgresText.safe(reaction.target.rawValue)), \(contactID), \(PostgresText.safe(reaction.emoji))::text,
                    \(reaction.timestamp), \(PostgresText.safe(reaction.id.rawValue)), NULL)
            ON CONFLICT (message_wamid, from_contact_id) DO UPDATE
                SET emoji = excluded.emoji, timestamp = excluded.timestamp, reaction_wamid = excluded.reaction_wamid,
                    local_id = NULL
                WHERE excluded.timestamp >= r.timestamp
            """)
    }

    // MARK: - Echoes

    /// A message the business sent from the WhatsApp Business app: outbound, `sent`, and it
    /// leaves the service window as it is.
    private func apply(_ echo: MessageEcho) async throws {
        switch echo {
        case .message(let message):
            let wamid = PostgresText.safe(message.id.rawValue)
            if try await messageRowID(wamid) != nil { return }
            let contactID = try await contacts.resolve(message.sender, at: message.timestamp)
            let conversationID = try await contacts.conversation(for: message.business, contact: contactID)
            guard let rowID = try await tx.int64("""
                INSERT INTO message (wamid, conversation_id, direction, type, text, caption, content, timestamp, status,
                                     status_at, reply_to, forwarded, group_id, webhook_id, echo)
                VALUES (\(wamid), \(conversationID), 'out', \(message.content.typeName),
                        \(PostgresText.safe(message.content.text))::text, \(PostgresText.safe(message.content.caption))::text,
                        \(try StoredJSON.encode(message.content)), \(message.timestamp), 'sent', \(message.timestamp),
                        \(PostgresText.safe(message.context?.repliedTo?.rawValue))::text, \(message.context?.forwarded ?? false),
                        \(PostgresText.safe(message.groupID))::text, \(journalID), true)
                RETURNING id
                """) else { throw PostgresStoreError("PostgreSQL stored a message but returned no id: report this") }
            try await noteNewMessage(rowID, in: conversationID, timestamp: message.timestamp, inbound: false, unread: false)
            // Its statuses may have come first.
            try await tx.applyWaitingStatuses(messageRowID: rowID, wamid: wamid)
        case .reaction(let reaction):
            try await upsertReaction(reaction, from: 0)
        }
    }

    // MARK: - Statuses

    private mutating func apply(_ update: StatusUpdate) async throws {
        let error = update.errors.first
        let wamid = PostgresText.safe(update.messageID.rawValue)
        let recipient = update.recipient.flatMap { $0.waID?.rawValue ?? $0.userID?.rawValue }
        try await tx.lockStatuses(of: wamid)
        let recorded = try await tx.returnsRow("""
            INSERT INTO status_event (wamid, status, timestamp, phone_number_id, recipient, callback_data,
                                      error_code, error_title, error_message, error_details)
            VALUES (\(wamid), \(PostgresText.safe(update.rawStatus)), \(update.timestamp),
                    \(PostgresText.safe(update.business.phoneNumberID.rawValue)), \(PostgresText.safe(recipient))::text,
                    \(PostgresText.safe(update.callbackData))::text, \(error?.code)::bigint,
                    \(PostgresText.safe(error?.title))::text, \(PostgresText.safe(error?.message))::text,
                    \(PostgresText.safe(error?.details))::text)
            ON CONFLICT (wamid, status, timestamp) DO NOTHING
            RETURNING 1
            """)
        guard recorded else {
            repeats += 1
            return
        }
        guard let status = update.status else { return }
        let outbound: PostgresQuery = "SELECT id, status FROM message WHERE wamid = \(wamid) AND direction = 'out'"
        var row = try await tx.row(outbound) { try $0.decode((Int64, String).self) }
        if row == nil, let localID = update.callbackData {
            // The status came before the send call returned: our local id travels as
            // biz_opaque_callback_data, so the message can take its wamid now.
            if let linked = try await tx.int64("""
                UPDATE message SET wamid = \(wamid)
                WHERE local_id = \(PostgresText.safe(localID)) AND wamid IS NULL AND direction = 'out'
                RETURNING id
                """) {
                try await tx.applyWaitingStatuses(messageRowID: linked, wamid: wamid)
                return
            }
            // Or a sender took the wamid between the two statements (its answer came as this
            // status did, and its commit held the row this link waited for): the message
            // has it now, and the sender's transaction did not see this status.
            row = try await tx.row(outbound) { try $0.decode((Int64, String).self) }
        }
        guard let row else { return }  // kept in status_event until the message appears
        try await tx.advance(messageRowID: row.0, current: row.1, to: status, at: update.timestamp, error: error)
    }
}
