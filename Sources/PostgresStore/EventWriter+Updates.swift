import InboxCore
import PostgresNIO
import StoreContract

// The events beyond messages and statuses, as SQLite's store applies them
// (InboxStore/Ingest+Updates.swift): edits and deletions (which wait for their message),
// calls, account alerts, template updates and marketing preferences. Each idempotent.

extension EventWriter {
    /// Applies one of the events of this file; returns how many parts became dead letters.
    mutating func applyUpdate(_ event: InboxEvent) async throws -> Int {
        switch event {
        case .edit(let edit): try await apply(edit)
        case .revoke(let revoke): try await apply(revoke)
        case .call(let call): try await apply(call)
        case .accountUpdate(let update): try await apply(update)
        case .templateUpdate(let update): try await apply(update)
        case .preference(let preference): try await apply(preference)
        case .message, .reaction, .status, .accountErrors, .ignored, .malformed, .echo: 0
        }
    }

    /// A customer's message was just stored: edits and a deletion that came first apply now.
    mutating func applyWaitingChanges(toMessage rowID: Int64, wamid: String) async throws -> Int {
        guard let (edits, revoked) = try await tx.row("""
            SELECT EXISTS (SELECT 1 FROM message_edit WHERE original_wamid = \(wamid)),
                   EXISTS (SELECT 1 FROM message_revoke WHERE original_wamid = \(wamid))
            """, read: { try $0.decode((Bool, Bool).self) }), edits || revoked else { return 0 }
        guard let original = try await original(wamid) else { return 0 }
        var kept = 0
        if edits { kept += try await refreshVersions(of: original) }
        if revoked { kept += try await applyWaitingRevoke(to: original) }
        return kept
    }

    // MARK: - Edits

    private struct Original {
        var rowID: Int64
        var wamid: String
        var editedAt: Int64?
        var author: Set<String>
    }

    private func original(_ wamid: String) async throws -> Original? {
        try await tx.row("""
            SELECT m.id, m.edited_at, c.wa_id, c.user_id FROM message m
            JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
            WHERE m.wamid = \(wamid) AND m.direction = 'in'
            """) { row in
            let (id, editedAt, waID, userID) = try row.decode((Int64, Int64?, String?, String?).self)
            return Original(rowID: id, wamid: wamid, editedAt: editedAt, author: Set([waID, userID].compactMap { $0 }))
        }
    }

    private static func identifier(_ identity: ContactIdentity) -> String? {
        PostgresText.safe(identity.waID?.rawValue ?? identity.userID?.rawValue)
    }

    private mutating func apply(_ edit: MessageEdit) async throws -> Int {
        let originalWamid = PostgresText.safe(edit.original.rawValue)
        let stored = try await tx.returnsRow("""
            INSERT INTO message_edit (original_wamid, edit_wamid, editor, type, text, caption, content, timestamp)
            VALUES (\(originalWamid), \(PostgresText.safe(edit.id.rawValue)), \(Self.identifier(edit.sender))::text,
                    \(edit.content.typeName), \(PostgresText.safe(edit.content.text))::text,
                    \(PostgresText.safe(edit.content.caption))::text, \(try StoredJSON.encode(edit.content)), \(edit.timestamp))
            ON CONFLICT (edit_wamid) DO NOTHING
            RETURNING 1
            """)
        guard stored else { return 0 }  // the same edit again
        guard let original = try await original(originalWamid) else { return 0 }  // waits for its message
        return try await refreshVersions(of: original)
    }

    /// Makes the message show its newest version, keeping the original as a version of its
    /// own. Edits by anyone but the author become dead letters.
    private mutating func refreshVersions(of original: Original) async throws -> Int {
        let strangers = try await tx.rows("""
            SELECT id, edit_wamid, editor FROM message_edit WHERE original_wamid = \(original.wamid) AND edit_wamid IS NOT NULL
            """) { try $0.decode((Int64, String, String?).self) }
            .filter { row in row.2.map { !original.author.contains($0) } ?? false }
        for (id, editWamid, editor) in strangers {
            try await insertDeadLetter(path: nil,
                                 reason: "edit \(editWamid) of \(original.wamid) comes from \(editor ?? ""), not the message's author",
                                 raw: nil)
            try await tx.run("DELETE FROM message_edit WHERE id = \(id)")
        }
        if original.editedAt == nil {
            try await tx.run("""
                INSERT INTO message_edit (original_wamid, edit_wamid, type, text, caption, content, timestamp)
                SELECT wamid, NULL, type, text, caption, content, timestamp FROM message m
                WHERE m.id = \(original.rowID)
                  AND NOT EXISTS (SELECT 1 FROM message_edit WHERE original_wamid = m.wamid AND edit_wamid IS NULL)
                """)
        }
        // The newest version; at the same second an edit wins over the original.
        guard let newest = try await tx.row("""
            SELECT type, text, caption, content, timestamp, edit_wamid IS NOT NULL AS is_edit FROM message_edit
            WHERE original_wamid = \(original.wamid) ORDER BY timestamp DESC, is_edit DESC, id DESC LIMIT 1
            """, read: { try $0.decode((String, String?, String?, String, Int64, Bool).self) }) else { return strangers.count }
        let editedAt: Int64? = newest.5 ? newest.4 : nil
        try await tx.run("""
            UPDATE message SET type = \(newest.0), text = \(newest.1)::text, caption = \(newest.2)::text,
                content = \(newest.3), edited_at = \(editedAt)::bigint
            WHERE id = \(original.rowID)
            """)
        return strangers.count
    }

    // MARK: - Deletions

    private mutating func apply(_ revoke: MessageRevoke) async throws -> Int {
        let originalWamid = PostgresText.safe(revoke.original.rawValue)
        let stored = try await tx.returnsRow("""
            INSERT INTO message_revoke (original_wamid, revoke_wamid, revoker, timestamp)
            VALUES (\(originalWamid), \(PostgresText.safe(revoke.id.rawValue)), \(Self.identifier(revoke.sender))::text,
                    \(revoke.timestamp))
            ON CONFLICT (original_wamid) DO NOTHING
            RETURNING 1
            """)
        guard stored else { return 0 }
        guard let original = try await original(originalWamid) else { return 0 }
        return try await applyWaitingRevoke(to: original)
    }

    private mutating func applyWaitingRevoke(to original: Original) async throws -> Int {
        guard let (revoker, timestamp) = try await tx.row("""
            SELECT revoker, timestamp FROM message_revoke WHERE original_wamid = \(original.wamid)
            """, read: { try $0.decode((String?, Int64).self) }) else { return 0 }
        if let revoker, !original.author.contains(revoker) {
            try await insertDeadLetter(path: nil, reason: "deletion of \(original.wamid) comes from \(revoker), not the message's author",
                                 raw: nil)
            try await tx.run("DELETE FROM message_revoke WHERE original_wamid = \(original.wamid)")
            return 1
        }
        try await tx.run("UPDATE message SET deleted_at = \(timestamp) WHERE id = \(original.rowID) AND deleted_at IS NULL")
        return 0
    }

    // MARK: - Calls

    /// Folds the event into its call's state and (re)writes the call's notice, a message row
    /// whose wamid is the call id.
    private func apply(_ event: CallEvent) async throws -> Int {
        let callID = PostgresText.safe(event.id.rawValue)
        let stored = try await tx.row("SELECT state FROM call_state WHERE call_id = \(callID)",
                                      read: { try $0.decode(String.self) })
        guard let state = try CallState.folding(event, intoStored: stored) else { return 0 }  // nothing new: a replay
        try await tx.run("""
            INSERT INTO call_state (call_id, state) VALUES (\(callID), \(try StoredJSON.encode(state)))
            ON CONFLICT (call_id) DO UPDATE SET state = excluded.state
            """)
        let summary = state.summary
        let content = try StoredJSON.encode(MessageContent.call(summary))
        if let rowID = try await messageRowID(callID) {
            try await tx.run("UPDATE message SET content = \(content), timestamp = \(state.firstSeen) WHERE id = \(rowID)")
            return 0
        }
        let contact = try await contacts.resolve(event.customer, at: event.timestamp)
        let conversation = try await contacts.conversation(for: event.business, contact: contact)
        let inbound = summary.direction == .customer
        guard let rowID = try await tx.int64("""
            INSERT INTO message (wamid, conversation_id, direction, type, content, timestamp, status)
            VALUES (\(callID), \(conversation), \(inbound ? "in" : "out"), 'call', \(content), \(state.firstSeen),
                    \(inbound ? "received" : DeliveryStatus.sent.rawValue))
            RETURNING id
            """) else { throw PostgresStoreError("PostgreSQL stored a call but returned no id: report this") }
        // A customer's call wants attention (unread), but does not open the service window.
        try await noteNewMessage(rowID, in: conversation, timestamp: state.firstSeen, inbound: false, unread: inbound)
        return 0
    }

    // MARK: - Account alerts

    private func apply(_ update: AccountUpdate) async throws -> Int {
        switch update.effect {
        case .unchanged:
            return 0
        case .raise(let alert):
            let account = PostgresText.safe(alert.account)
            let changed = try await tx.returnsRow("""
                INSERT INTO account_alert AS a (account, slot, alert, at, expires_at, lifted_at)
                VALUES (\(account), \(alert.slot.rawValue), \(PostgresText.safe(try StoredJSON.encodeSorted(alert))),
                        \(alert.at), \(alert.expiresAt)::bigint, NULL)
                ON CONFLICT (account, slot) DO UPDATE
                    SET alert = excluded.alert, at = excluded.at, expires_at = excluded.expires_at, lifted_at = NULL
                    WHERE excluded.at > a.at
                       OR (excluded.at = a.at AND (a.lifted_at IS NOT NULL OR excluded.alert IS DISTINCT FROM a.alert
                           OR excluded.expires_at IS DISTINCT FROM a.expires_at))
                RETURNING 1
                """)
            // An older word arriving late, or the same word again (a replayed body).
            guard changed else { return 0 }
            let source = Self.haltSource(account: account, slot: alert.slot)
            if alert.stopsAllSending {
                // Every send would fail: halt until Meta lifts it.
                try await tx.run("""
                    INSERT INTO sending_halt (id, code, reason, since, source, until)
                    VALUES (1, NULL, \(PostgresText.safe(alert.words)), \(alert.at), \(source), \(alert.expiresAt)::bigint)
                    ON CONFLICT (id) DO UPDATE SET code = NULL, reason = excluded.reason, since = excluded.since,
                        source = excluded.source, until = excluded.until
                    """)
            } else {
                try await tx.run("DELETE FROM sending_halt WHERE source = \(source)")
            }
        case .lift(let slots):
            let account = PostgresText.safe(update.account)
            for slot in slots {
                let lifted = try await tx.returnsRow("""
                    INSERT INTO account_alert AS a (account, slot, alert, at, expires_at, lifted_at)
                    VALUES (\(account), \(slot.rawValue), NULL, \(update.timestamp), NULL, \(update.timestamp))
                    ON CONFLICT (account, slot) DO UPDATE SET at = excluded.at, lifted_at = excluded.lifted_at
                    WHERE excluded.at >= a.at
                    RETURNING 1
                    """)
                guard lifted else { continue }
                try await tx.run("DELETE FROM sending_halt WHERE source = \(Self.haltSource(account: account, slot: slot))")
            }
        }
        return 0
    }

    static func haltSource(account: String, slot: AccountAlert.Slot) -> String { "account:\(account):\(slot.rawValue)" }

    // MARK: - Templates

    /// A template's status, quality or category, each kept with the time of the update
    /// that set it. (Failing queued replies that use a template no longer sendable waits for
    /// the outbox on PostgreSQL.)
    private func apply(_ update: TemplateUpdate) async throws -> Int {
        let name = PostgresText.safe(update.name), language = PostgresText.safe(update.language ?? "")
        let column: String, value: String, reason: String?
        switch update.change {
        case .status(let status, let why): (column, value, reason) = ("status", status, why)
        case .quality(_, let quality): (column, value, reason) = ("quality", quality, nil)
        case .category(_, let category): (column, value, reason) = ("category", category, nil)
        case .components: return 0  // the refresher fetches the new text
        }
        var binds = PostgresBindings()
        binds.append(name)
        binds.append(language)
        binds.append(PostgresText.safe(update.templateID))
        binds.append(PostgresText.safe(value))
        binds.append(update.timestamp)
        let changed = try await tx.returnsRow(PostgresQuery(unsafeSQL: """
            INSERT INTO template_state AS t (name, language, template_id, \(column), \(column)_at)
            VALUES ($1, $2, $3::text, $4, $5)
            ON CONFLICT (name, language) DO UPDATE
                SET template_id = coalesce(excluded.template_id, t.template_id), \(column) = excluded.\(column),
                    \(column)_at = excluded.\(column)_at
                WHERE excluded.\(column)_at >= coalesce(t.\(column)_at, -1)
            RETURNING 1
            """, binds: binds))
        guard changed, column == "status" else { return 0 }
        try await tx.run("""
            UPDATE template_state SET reason = \(PostgresText.safe(reason))::text WHERE name = \(name) AND language = \(language)
            """)
        if let category = update.category {
            // A status update names the category: keep it unless a newer category update did.
            try await tx.run("""
                UPDATE template_state SET category = \(PostgresText.safe(category)), category_at = \(update.timestamp)
                WHERE name = \(name) AND language = \(language) AND coalesce(category_at, -1) < \(update.timestamp)
                """)
        }
        return 0
    }

    // MARK: - Marketing preferences

    private func apply(_ preference: PreferenceUpdate) async throws -> Int {
        guard let optOut = preference.marketingOptOut else { return 0 }  // another category or value
        let contact = try await contacts.resolve(preference.customer, at: preference.timestamp)
        let optedOutAt: Int64? = optOut ? preference.timestamp : nil
        try await tx.run("""
            UPDATE contact SET marketing_opt_out_at = \(optedOutAt)::bigint, marketing_pref_at = \(preference.timestamp)
            WHERE id = \(contact) AND coalesce(marketing_pref_at, -1) <= \(preference.timestamp)
            """)
        return 0
    }
}
