import Foundation
import GRDB
import InboxCore

extension InboxDatabase {
    /// The `media` of an exported row: nil unless the message carries a file. A file not
    /// queued yet (the downloader has not looked, or there is no token) is `pending`.
    static func exportedMedia(_ message: StoredMessage) -> ExportRecord.Media? {
        guard case .media(let attachment) = message.content else { return nil }
        let status = message.media
        return ExportRecord.Media(
            id: status?.mediaID ?? attachment.mediaID, mimeType: status?.mimeType ?? attachment.mimeType, sha256: attachment.sha256,
            fileSize: status?.fileSize, filename: attachment.filename,
            state: (status?.state ?? .pending).rawValue, reason: status?.reason, path: status?.path)
    }

    static func exportedContact(_ row: Row) -> ExportRecord.Contact {
        ExportRecord.Contact(waID: row["wa_id"], userID: row["user_id"], username: row["username"], name: row["name"],
                             marketingOptOut: row["marketing_opt_out_at"] as Int64? != nil)
    }

    static func exportedLabels(_ row: Row) throws -> [String] {
        let labels: String = row["labels"] ?? "[]"
        return labels == "[]" ? [] : try StoredJSON.decode([String].self, from: labels)
    }

    public typealias UnknownContact = StoreContract.UnknownContact

    /// Streams every stored message, oldest first, to `emit`; only one contact's when
    /// `contact` names one by any identifier. Returns how many were emitted.
    ///
    /// - Parameter showDeleted: whether messages the customer deleted keep their content
    ///   (text, caption, earlier versions); without it they keep only `deleted_at`.
    @discardableResult
    public func export(contact identifier: String? = nil, showDeleted: Bool = false,
                       emit: (ExportRecord) throws -> Void) throws -> Int {
        // An agent's reaction travels as a message of its own; it is exported with the message it reacts to.
        var filter = "WHERE 1"
        var arguments: StatementArguments = []
        if let identifier {
            let ids = try contacts(matching: identifier).map(\.id.rawValue)
            guard !ids.isEmpty else { throw UnknownContact(identifier: identifier) }
            filter += " AND cv.contact_id IN (\(ids.map { _ in "?" }.joined(separator: ",")))"
            arguments = StatementArguments(ids)
        }
        return try writer.read { db in
            // Notes are few: they are read first and put between the messages by time.
            var notes = try Row.fetchAll(db, sql: """
                SELECT n.id, n.agent, CAST(n.text AS BLOB) AS text, n.created_at, cv.phone_number_id, \(Self.labelsColumn),
                       c.wa_id, c.user_id, c.username, c.name, c.marketing_opt_out_at
                FROM note n
                JOIN conversation cv ON cv.id = n.conversation_id
                JOIN contact c ON c.id = cv.contact_id
                \(filter)
                ORDER BY n.created_at, n.id
                """, arguments: arguments)[...]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT \(Self.messageColumns), m.type, CAST(m.text AS BLOB) AS text, CAST(m.caption AS BLOB) AS caption,
                       cv.phone_number_id, \(Self.labelsColumn),
                       c.wa_id, c.user_id, c.username, c.name, c.marketing_opt_out_at
                FROM message m
                JOIN conversation cv ON cv.id = m.conversation_id
                JOIN contact c ON c.id = cv.contact_id
                \(filter) AND \(Self.shownAsMessage)
                ORDER BY m.timestamp, m.id
                """, arguments: arguments)
            var count = 0
            func emitNotes(before timestamp: Int64?) throws {
                while let note = notes.first, timestamp.map({ note["created_at"] < $0 }) ?? true {
                    notes.removeFirst()
                    try emit(ExportRecord(
                        id: "note:\(note["id"] as Int64)", phoneNumberID: note["phone_number_id"], contact: Self.exportedContact(note),
                        direction: "note", type: "note", text: Self.wholeText(note, "text"), caption: nil,
                        timestamp: note["created_at"], status: nil, replyTo: nil, reactions: [], error: nil, media: nil,
                        labels: try Self.exportedLabels(note), agent: note["agent"]))
                    count += 1
                }
            }
            while let row = try rows.next() {
                let message = try Self.message(from: row)
                try emitNotes(before: message.timestamp)
                let errorInfo: ExportRecord.ErrorInfo? = message.status == .failed || message.error != nil
                    ? ExportRecord.ErrorInfo(code: message.error?.code, title: message.error?.title)
                    : nil
                let hidden = message.deletedAt != nil && !showDeleted
                var record = ExportRecord(
                    id: message.wamid?.rawValue ?? "local:\(message.localID ?? String(message.rowID))",
                    phoneNumberID: row["phone_number_id"],
                    contact: Self.exportedContact(row),
                    direction: message.direction.rawValue,
                    type: row["type"],
                    text: hidden ? nil : Self.wholeText(row, "text"),
                    caption: hidden ? nil : Self.wholeText(row, "caption"),
                    timestamp: message.timestamp,
                    status: message.status?.rawValue ?? "received",
                    replyTo: message.replyTo?.rawValue,
                    reactions: message.reactions.filter { !$0.emoji.isEmpty }
                        .map { ExportRecord.Reaction(emoji: $0.emoji, from: $0.from) },
                    error: errorInfo,
                    media: hidden ? nil : Self.exportedMedia(message))
                record.labels = try Self.exportedLabels(row)
                record.agent = message.agent
                record.editedAt = message.editedAt
                record.deletedAt = message.deletedAt
                if !hidden {
                    record.edits = message.earlierVersions.map {
                        ExportRecord.Edit(text: $0.content.text, caption: $0.content.caption, timestamp: $0.timestamp)
                    }
                }
                if case .call(let call) = message.content {
                    record.call = ExportRecord.Call(id: call.id.rawValue, direction: call.direction.rawValue,
                                                    status: call.outcome.rawValue, duration: call.duration)
                }
                try emit(record)
                count += 1
            }
            try emitNotes(before: nil)
            return count
        }
    }
}

extension InboxDatabase: ExportStore {
    public func exportRecords(contact: String?, showDeleted: Bool, emit: (ExportRecord) throws -> Void) async throws -> Int {
        try export(contact: contact, showDeleted: showDeleted, emit: emit)
    }
}
