import Foundation
import GRDB
import InboxCore

// How the events beyond messages and statuses are applied: customers' edits and
// deletions, calls, account alerts, template updates and marketing preferences. Each is
// idempotent, and none depends on arrival order: an edit or a deletion that comes before
// its message waits, and is applied when the message arrives (as statuses do).

extension EventApplier {
    /// Applies one of the events of this file. Returns how many parts were kept aside as
    /// dead letters (an edit or a deletion by someone other than the message's author).
    func applyUpdate(_ event: InboxEvent) throws -> Int {
        switch event {
        case .edit(let edit): try apply(edit)
        case .revoke(let revoke): try apply(revoke)
        case .call(let call): try apply(call)
        case .accountUpdate(let update): try apply(update)
        case .templateUpdate(let update): try apply(update)
        case .preference(let preference): try apply(preference)
        case .message, .reaction, .status, .accountErrors, .ignored, .malformed, .echo: 0
        }
    }

    /// A customer's message was just stored: edits and a deletion that came first apply now.
    func applyWaitingChanges(toMessage rowID: Int64, wamid: MessageID) throws -> Int {
        // Asked for every customer's message, and nearly always no: one cheap statement.
        guard try statements(.changesWaiting).int64(wamid.rawValue) == 1 else { return 0 }
        let waiting = try Row.fetchOne(statements.db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM message_edit WHERE original_wamid = ?1) AS edits,
                   (SELECT timestamp FROM message_revoke WHERE original_wamid = ?1) AS revoked
            """), arguments: [wamid.rawValue])
        guard let waiting, waiting["edits"] as Bool || waiting["revoked"] as Int64? != nil else { return 0 }
        guard let original = try original(wamid) else { return 0 }
        var kept = 0
        if waiting["edits"] as Bool { kept += try refreshVersions(of: original) }
        if waiting["revoked"] as Int64? != nil { kept += try applyWaitingRevoke(to: original) }
        return kept
    }

    // MARK: - Edits

    /// A customer's message as edits and deletions need it, with its author's identifiers.
    private struct Original {
        var rowID: Int64
        var wamid: MessageID
        var timestamp: Int64
        var editedAt: Int64?
        var author: Set<String>
    }

    private func original(_ wamid: MessageID) throws -> Original? {
        try Row.fetchOne(statements.db.cachedStatement(sql: """
            SELECT m.id, m.timestamp, m.edited_at, c.wa_id, c.user_id FROM message m
            JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
            WHERE m.wamid = ? AND m.direction = 'in'
            """), arguments: [wamid.rawValue]).map { row in
            Original(rowID: row["id"], wamid: wamid, timestamp: row["timestamp"], editedAt: row["edited_at"],
                     author: Set([row["wa_id"], row["user_id"]].compactMap { $0 as String? }))
        }
    }

    private func apply(_ edit: MessageEdit) throws -> Int {
        let db = statements.db
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO message_edit (original_wamid, edit_wamid, editor, type, text, caption, content, timestamp)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [edit.original.rawValue, edit.id.rawValue, Self.identifier(edit.sender),
                                     edit.content.typeName, edit.content.text, edit.content.caption,
                                     try StoredJSON.encode(edit.content), edit.timestamp])
        guard db.changesCount > 0 else { return 0 }  // the same edit again
        guard let original = try original(edit.original) else { return 0 }  // waits for its message
        return try refreshVersions(of: original)
    }

    /// Makes the message show its newest version, keeping the original as a version of its
    /// own. Edits by anyone but the author are dropped as dead letters.
    private func refreshVersions(of original: Original) throws -> Int {
        let db = statements.db
        let strangers = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT id, edit_wamid, editor FROM message_edit WHERE original_wamid = ? AND edit_wamid IS NOT NULL
            """), arguments: [original.wamid.rawValue]).filter { row in
            guard let editor = row["editor"] as String? else { return false }
            return !original.author.contains(editor)
        }
        for row in strangers {
            try InboxDatabase.deadLetter(
                webhookID: webhookID, at: receivedAt, path: nil,
                reason: "edit \(row["edit_wamid"] as String) of \(original.wamid) comes from \(row["editor"] as String), not the message's author",
                raw: nil, in: db)
            try db.execute(sql: "DELETE FROM message_edit WHERE id = ?", arguments: [row["id"] as Int64])
        }
        if original.editedAt == nil {
            // The row still shows what the customer first wrote: keep it as the first version.
            try db.cachedStatement(sql: """
                INSERT INTO message_edit (original_wamid, edit_wamid, type, text, caption, content, timestamp)
                SELECT wamid, NULL, type, text, caption, content, timestamp FROM message m
                WHERE m.id = ? AND NOT EXISTS (SELECT 1 FROM message_edit WHERE original_wamid = m.wamid AND edit_wamid IS NULL)
                """).execute(arguments: [original.rowID])
        }
        // The newest version; at the same second an edit wins over the original.
        guard let newest = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT type, text, caption, content, timestamp, edit_wamid IS NOT NULL AS is_edit FROM message_edit
            WHERE original_wamid = ? ORDER BY timestamp DESC, is_edit DESC, id DESC LIMIT 1
            """), arguments: [original.wamid.rawValue]) else { return strangers.count }
        try db.cachedStatement(sql: """
            UPDATE message SET type = ?, text = ?, caption = ?, content = ?, edited_at = ? WHERE id = ?
            """).execute(arguments: [newest["type"] as String, newest["text"] as String?, newest["caption"] as String?,
                                     newest["content"] as String, newest["is_edit"] as Bool ? newest["timestamp"] as Int64 : nil,
                                     original.rowID])
        return strangers.count
    }

    // MARK: - Deletions

    private func apply(_ revoke: MessageRevoke) throws -> Int {
        let db = statements.db
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO message_revoke (original_wamid, revoke_wamid, revoker, timestamp) VALUES (?, ?, ?, ?)
            """).execute(arguments: [revoke.original.rawValue, revoke.id.rawValue, Self.identifier(revoke.sender),
                                     revoke.timestamp])
        guard db.changesCount > 0 else { return 0 }
        guard let original = try original(revoke.original) else { return 0 }
        return try applyWaitingRevoke(to: original)
    }

    private func applyWaitingRevoke(to original: Original) throws -> Int {
        let db = statements.db
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT revoke_wamid, revoker, timestamp FROM message_revoke WHERE original_wamid = ?
            """), arguments: [original.wamid.rawValue]) else { return 0 }
        if let revoker = row["revoker"] as String?, !original.author.contains(revoker) {
            try InboxDatabase.deadLetter(
                webhookID: webhookID, at: receivedAt, path: nil,
                reason: "deletion of \(original.wamid) comes from \(revoker), not the message's author", raw: nil, in: db)
            try db.execute(sql: "DELETE FROM message_revoke WHERE original_wamid = ?", arguments: [original.wamid.rawValue])
            return 1
        }
        try db.cachedStatement(sql: "UPDATE message SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
            .execute(arguments: [row["timestamp"] as Int64, original.rowID])
        return 0
    }

    private static func identifier(_ identity: ContactIdentity) -> String? {
        identity.waID?.rawValue ?? identity.userID?.rawValue
    }

    // MARK: - Calls

    /// Folds the event into its call's state and (re)writes the call's notice, a message
    /// row whose id is the call id.
    private func apply(_ event: CallEvent) throws -> Int {
        let db = statements.db
        let stored = try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM call_state WHERE call_id = ?"),
                                         arguments: [event.id.rawValue])
        guard let state = try CallState.folding(event, intoStored: stored) else { return 0 }  // nothing new: a replay
        let json = try StoredJSON.encode(state)
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO call_state (call_id, state) VALUES (?, ?)")
            .execute(arguments: [event.id.rawValue, json])
        let summary = state.summary
        let content = try StoredJSON.encode(MessageContent.call(summary))
        if let rowID = try statements(.messageExists).int64(event.id.rawValue) {
            try db.cachedStatement(sql: "UPDATE message SET content = ?, timestamp = ? WHERE id = ?")
                .execute(arguments: [content, state.firstSeen, rowID])
            return 0
        }
        let contact = try ContactResolver(statements: statements).resolve(event.customer, at: event.timestamp)
        let conversation = try conversation(for: event.business, contact: contact)
        let inbound = summary.direction == .customer
        try db.cachedStatement(sql: """
            INSERT INTO message (wamid, conversation_id, direction, type, content, timestamp, status)
            VALUES (?, ?, ?, 'call', ?, ?, ?)
            """).execute(arguments: [event.id.rawValue, conversation.rawValue, inbound ? "in" : "out", content,
                                     state.firstSeen, inbound ? "received" : DeliveryStatus.sent.rawValue])
        // A customer's call wants attention (unread), but does not open the service window.
        try noteNewMessage(db.lastInsertedRowID, in: conversation, timestamp: state.firstSeen, inbound: false,
                           unread: inbound)
        return 0
    }

    // MARK: - Account alerts

    private func apply(_ update: AccountUpdate) throws -> Int {
        let db = statements.db
        switch update.effect {
        case .unchanged:
            return 0
        case .raise(let alert):
            try db.cachedStatement(sql: """
                INSERT INTO account_alert (account, slot, alert, at, expires_at, lifted_at) VALUES (?, ?, ?, ?, ?, NULL)
                ON CONFLICT (account, slot) DO UPDATE
                    SET alert = excluded.alert, at = excluded.at, expires_at = excluded.expires_at, lifted_at = NULL
                    WHERE excluded.at > account_alert.at
                       OR (excluded.at = account_alert.at AND (account_alert.lifted_at IS NOT NULL
                           OR excluded.alert IS NOT account_alert.alert OR excluded.expires_at IS NOT account_alert.expires_at))
                """).execute(arguments: [alert.account, alert.slot.rawValue, try StoredJSON.encodeSorted(alert), alert.at,
                                         alert.expiresAt])
            // An older word arriving late, or the same word again (a replayed body).
            guard db.changesCount > 0 else { return 0 }
            let source = Self.haltSource(account: alert.account, slot: alert.slot)
            if alert.stopsAllSending {
                // Every send would fail: halt, as error 368 does, until Meta lifts it.
                try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO sending_halt (id, code, reason, since, source, until) VALUES (1, NULL, ?, ?, ?, ?)
                    """).execute(arguments: [alert.words, alert.at, source, alert.expiresAt])
            } else {
                try db.cachedStatement(sql: "DELETE FROM sending_halt WHERE source = ?").execute(arguments: [source])
            }
        case .lift(let slots):
            for slot in slots {
                try db.cachedStatement(sql: """
                    INSERT INTO account_alert (account, slot, alert, at, expires_at, lifted_at) VALUES (?, ?, NULL, ?, NULL, ?)
                    ON CONFLICT (account, slot) DO UPDATE SET at = excluded.at, lifted_at = excluded.lifted_at
                    WHERE excluded.at >= account_alert.at
                    """).execute(arguments: [update.account, slot.rawValue, update.timestamp, update.timestamp])
                guard db.changesCount > 0 else { continue }
                try db.cachedStatement(sql: "DELETE FROM sending_halt WHERE source = ?")
                    .execute(arguments: [Self.haltSource(account: update.account, slot: slot)])
            }
        }
        return 0
    }

    static func haltSource(account: String, slot: AccountAlert.Slot) -> String { "account:\(account):\(slot.rawValue)" }

    // MARK: - Templates

    private func apply(_ update: TemplateUpdate) throws -> Int {
        let db = statements.db
        let language = update.language ?? ""
        let column: String, value: String, reason: String?
        switch update.change {
        case .status(let status, let why): (column, value, reason) = ("status", status, why)
        case .quality(_, let quality): (column, value, reason) = ("quality", quality, nil)
        case .category(_, let category): (column, value, reason) = ("category", category, nil)
        case .components: return 0  // the refresher fetches the new text
        }
        try db.execute(sql: """
            INSERT INTO template_state (name, language, template_id, \(column), \(column)_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (name, language) DO UPDATE
                SET template_id = coalesce(excluded.template_id, template_id), \(column) = excluded.\(column),
                    \(column)_at = excluded.\(column)_at
                WHERE excluded.\(column)_at >= coalesce(template_state.\(column)_at, -1)
            """, arguments: [update.name, language, update.templateID, value, update.timestamp])
        guard db.changesCount > 0 else { return 0 }
        if column == "status" {
            try db.execute(sql: "UPDATE template_state SET reason = ? WHERE name = ? AND language = ?",
                           arguments: [reason, update.name, language])
            if let category = update.category {
                // A status update names the category: keep it unless a newer category update did.
                try db.execute(sql: """
                    UPDATE template_state SET category = ?, category_at = ?
                    WHERE name = ? AND language = ? AND coalesce(category_at, -1) < ?
                    """, arguments: [category, update.timestamp, update.name, language, update.timestamp])
            }
            if !TemplateStatus.isSendable(value) {
                try failQueuedReplies(using: update.name, language: update.language,
                                      reason: TemplateStatus.refusal(name: update.name, status: value, reason: reason))
            }
        }
        return 0
    }

    /// Replies waiting in the outbox with a template that can no longer be sent fail now,
    /// with the reason, rather than at the Cloud API.
    private func failQueuedReplies(using name: String, language: String?, reason: String) throws {
        let db = statements.db
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT m.id, m.status FROM outbox o JOIN message m ON m.id = o.message_id
            WHERE o.state = 'queued' AND json_extract(o.payload, '$.name') = ?1
              AND (?2 IS NULL OR json_extract(o.payload, '$.language.code') = ?2)
            """), arguments: [name, language])
        for row in rows {
            let rowID: Int64 = row["id"]
            try OutboundStatus.advance(messageRowID: rowID, current: row["status"], to: .failed, at: receivedAt,
                                       error: APIErrorDetail(code: nil, title: reason), in: db)
            try db.execute(sql: "DELETE FROM outbox WHERE message_id = ?", arguments: [rowID])
        }
    }

    // MARK: - Marketing preferences

    private func apply(_ preference: PreferenceUpdate) throws -> Int {
        guard let optOut = preference.marketingOptOut else { return 0 }  // another category or value
        let contact = try ContactResolver(statements: statements).resolve(preference.customer, at: preference.timestamp)
        try statements.db.cachedStatement(sql: """
            UPDATE contact SET marketing_opt_out_at = ?, marketing_pref_at = ?
            WHERE id = ? AND coalesce(marketing_pref_at, -1) <= ?
            """).execute(arguments: [optOut ? preference.timestamp : nil, preference.timestamp, contact.rawValue,
                                     preference.timestamp])
        return 0
    }
}
