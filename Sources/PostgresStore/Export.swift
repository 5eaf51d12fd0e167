import Foundation
import InboxCore
import Logging
import PostgresNIO
import StoreContract

// `wabox export` on PostgreSQL (StoreContract.ExportStore): the records SQLite's export
// writes (InboxStore/Export.swift), notes and labels included, read page by page in one
// REPEATABLE READ transaction, so that a long export sees one moment of the inbox however
// much arrives meanwhile.

extension PostgresStore: ExportStore {
    /// Messages read per round trip.
    static let exportPage = 500

    public func exportRecords(contact identifier: String?, showDeleted: Bool,
                              emit: (ExportRecord) throws -> Void) async throws -> Int {
        return try await readOnly { tx in
            var contactIDs: [Int64]?
            if let identifier {
                let key = CustomerAddress(identifier).key
                let ids = try await tx.rows("""
                    SELECT id FROM contact WHERE wa_id = \(key) OR user_id = \(key) OR username = \(key) ORDER BY id
                    """) { try $0.decode(Int64.self) }
                guard !ids.isEmpty else { throw UnknownContact(identifier: identifier) }
                contactIDs = ids
            }
            var count = 0
            // Notes are few: read first, and put between the messages by time, as on SQLite.
            var notes = try await Self.notes(contacts: contactIDs, in: tx)[...]
            func emitNotes(before timestamp: Int64?) throws {
                while let note = notes.first, timestamp.map({ note.timestamp < $0 }) ?? true {
                    notes.removeFirst()
                    try emit(note)
                    count += 1
                }
            }
            var after: (timestamp: Int64, id: Int64) = (Int64.min, Int64.min)
            while true {
                let page = try await Self.exportPage(after: after, contacts: contactIDs, in: tx)
                guard let last = page.last else {
                    try emitNotes(before: nil)
                    return count
                }
                after = (last.timestamp, last.id)
                let wamids = page.compactMap(\.wamid)
                let reactions = try await Self.reactions(of: wamids, in: tx)
                let versions = try await Self.earlierVersions(of: page.filter { $0.editedAt != nil }.compactMap(\.wamid), in: tx)
                for row in page {
                    try emitNotes(before: row.timestamp)
                    try emit(try row.record(reactions: row.wamid.flatMap { reactions[$0] } ?? [],
                                            versions: row.wamid.flatMap { versions[$0] } ?? [], showDeleted: showDeleted))
                    count += 1
                }
            }
        }
    }

    /// The next messages by (timestamp, id) after `after`. Reactions sent by an agent are
    /// messages of their own here, exported with the message they react to.
    private static func exportPage(after: (timestamp: Int64, id: Int64), contacts: [Int64]?,
                                   in tx: Transaction) async throws -> [ExportedMessage] {
        typealias Columns = (Int64, String?, String?, String, String, String, Int64, String, String?, Int64?, String?,
                             Int64?, Int64?, String?, String)
        let contactFilter = contacts ?? []
        let rows = try await tx.rows("""
            SELECT m.id, m.wamid, m.local_id, m.direction, m.type, m.content, m.timestamp, m.status, m.reply_to,
                   m.error_code, m.error_title, m.edited_at, m.deleted_at, m.agent, cv.phone_number_id
            FROM message m JOIN conversation cv ON cv.id = m.conversation_id
            WHERE m.type <> 'reaction' AND (m.timestamp, m.id) > (\(after.timestamp), \(after.id))
              AND (\(contacts == nil) OR cv.contact_id = ANY(\(contactFilter)::bigint[]))
            ORDER BY m.timestamp, m.id
            LIMIT \(exportPage)
            """) { try $0.decode(Columns.self) }
        guard !rows.isEmpty else { return [] }
        // The texts as written (the text columns hold a NUL as U+FFFD) and the contacts.
        let ids = rows.map(\.0)
        var extra: [Int64: (text: String?, caption: String?, contact: ExportRecord.Contact, labels: [String],
                            download: Download?)] = [:]
        for (id, text, caption, waID, userID, username, name, optOut, labels, state, reason, path, size, mime, mediaID)
            in try await tx.rows("""
            SELECT m.id, m.text, m.caption, c.wa_id, c.user_id, c.username, c.name, c.marketing_opt_out_at, \(unescaped: labelsColumn),
                   md.state, md.reason, md.path, md.file_size, md.mime_type, nullif(md.media_id, '')
            FROM message m JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
            LEFT JOIN media md ON md.message_id = m.id
            WHERE m.id = ANY(\(ids)::bigint[])
            """, read: { try $0.decode((Int64, String?, String?, String?, String?, String?, String?, Int64?, [String],
                                        String?, String?, String?, Int64?, String?, String?).self) }) {
            extra[id] = (text, caption, ExportRecord.Contact(waID: waID, userID: userID, username: username, name: name,
                                                            marketingOptOut: optOut != nil), labels,
                         state.map { Download(state: $0, reason: reason, path: path, fileSize: size, mimeType: mime,
                                              mediaID: mediaID) })
        }
        return try rows.map { row in
            let (id, wamid, localID, direction, type, content, timestamp, status, replyTo, code, title, edited, deleted,
                 agent, phone) = row
            let columns = extra[id]
            return ExportedMessage(
                id: id, wamid: wamid, localID: localID, direction: direction, type: type,
                content: try StoredJSON.decode(MessageContent.self, from: content), textColumn: columns?.text,
                captionColumn: columns?.caption, timestamp: timestamp, status: status, replyTo: replyTo, errorCode: code,
                errorTitle: title, editedAt: edited, deletedAt: deleted, agent: agent, phoneNumberID: phone,
                contact: columns?.contact ?? ExportRecord.Contact(waID: nil, userID: nil, username: nil, name: nil),
                labels: columns?.labels ?? [], download: columns?.download ?? nil)
        }
    }

    /// A conversation `cv`'s labels by name, in SQLite's order (byte order: its BINARY
    /// collation; the database's own may sort otherwise).
    private static let labelsColumn = """
        coalesce((SELECT array_agg(l.name ORDER BY l.name COLLATE "C") FROM conversation_label cl
                  JOIN label l ON l.id = cl.label_id WHERE cl.conversation_id = cv.id), '{}')
        """

    /// The agents' notes, oldest first, as export records.
    private static func notes(contacts: [Int64]?, in tx: Transaction) async throws -> [ExportRecord] {
        let contactFilter = contacts ?? []
        return try await tx.rows("""
            SELECT n.id, n.agent, n.text, n.created_at, cv.phone_number_id, c.wa_id, c.user_id, c.username, c.name,
                   c.marketing_opt_out_at, \(unescaped: labelsColumn)
            FROM note n JOIN conversation cv ON cv.id = n.conversation_id JOIN contact c ON c.id = cv.contact_id
            WHERE \(contacts == nil) OR cv.contact_id = ANY(\(contactFilter)::bigint[])
            ORDER BY n.created_at, n.id
            """) { row in
            let (id, agent, text, createdAt, phone, waID, userID, username, name, optOut, labels) = try row.decode(
                (Int64, String, String, Int64, String, String?, String?, String?, String?, Int64?, [String]).self)
            return ExportRecord(
                id: "note:\(id)", phoneNumberID: phone,
                contact: ExportRecord.Contact(waID: waID, userID: userID, username: username, name: name,
                                              marketingOptOut: optOut != nil),
                direction: "note", type: "note", text: text, caption: nil, timestamp: createdAt, status: nil, replyTo: nil,
                reactions: [], error: nil, media: nil, labels: labels, agent: agent)
        }
    }

    /// The reactions each message has (removals left out), by the reactor's contact id as
    /// SQLite lists them (the business, id 0, first).
    private static func reactions(of wamids: [String], in tx: Transaction) async throws -> [String: [ExportRecord.Reaction]] {
        guard !wamids.isEmpty else { return [:] }
        var reactions: [String: [ExportRecord.Reaction]] = [:]
        for (wamid, emoji, from) in try await tx.rows("""
            SELECT r.message_wamid, r.emoji,
                   CASE WHEN r.from_contact_id = 0 THEN cv.phone_number_id ELSE coalesce(c.wa_id, c.user_id) END
            FROM reaction r
            JOIN message m ON m.wamid = r.message_wamid JOIN conversation cv ON cv.id = m.conversation_id
            LEFT JOIN contact c ON c.id = r.from_contact_id
            WHERE r.message_wamid = ANY(\(wamids)::text[]) AND r.emoji IS NOT NULL AND r.emoji <> ''
            ORDER BY r.message_wamid, r.from_contact_id
            """, read: { try $0.decode((String, String, String?).self) }) {
            reactions[wamid, default: []].append(ExportRecord.Reaction(emoji: emoji, from: from ?? ""))
        }
        return reactions
    }

    /// The versions of each edited message before the one it shows, oldest first.
    private static func earlierVersions(of wamids: [String], in tx: Transaction) async throws -> [String: [ExportRecord.Edit]] {
        guard !wamids.isEmpty else { return [:] }
        var versions: [String: [ExportRecord.Edit]] = [:]
        for (wamid, content, timestamp) in try await tx.rows("""
            SELECT original_wamid, content, timestamp FROM message_edit WHERE original_wamid = ANY(\(wamids)::text[])
            ORDER BY original_wamid, timestamp, edit_wamid IS NOT NULL, id
            """, read: { try $0.decode((String, String, Int64).self) }) {
            let version = try StoredJSON.decode(MessageContent.self, from: content)
            versions[wamid, default: []].append(ExportRecord.Edit(text: version.text, caption: version.caption,
                                                                  timestamp: timestamp))
        }
        // The newest is the one the message shows.
        return versions.mapValues { Array($0.dropLast()) }
    }
}

/// A message row as the export reads it.
private struct ExportedMessage {
    var id: Int64
    var wamid: String?
    var localID: String?
    var direction: String
    var type: String
    var content: MessageContent
    var textColumn: String?
    var captionColumn: String?
    var timestamp: Int64
    var status: String
    var replyTo: String?
    var errorCode: Int64?
    var errorTitle: String?
    var editedAt: Int64?
    var deletedAt: Int64?
    var agent: String?
    var phoneNumberID: String
    var contact: ExportRecord.Contact
    var labels: [String]
    /// The file's row in the media queue, once the downloader (or a migration) wrote one.
    var download: Download?

    /// The record, in the shape SQLite's export gives the same row.
    func record(reactions: [ExportRecord.Reaction], versions: [ExportRecord.Edit], showDeleted: Bool) throws -> ExportRecord {
        let outbound = direction == "out"
        let deliveryStatus = outbound ? DeliveryStatus(rawValue: status) : nil
        let hasError = errorCode != nil || errorTitle != nil
        let hidden = deletedAt != nil && !showDeleted
        var record = ExportRecord(
            id: wamid ?? "local:\(localID ?? String(id))", phoneNumberID: phoneNumberID, contact: contact,
            direction: direction, type: type,
            text: hidden ? nil : Self.faithful(textColumn, content.text),
            caption: hidden ? nil : Self.faithful(captionColumn, content.caption),
            timestamp: timestamp, status: deliveryStatus?.rawValue ?? "received", replyTo: replyTo,
            reactions: reactions,
            error: deliveryStatus == .failed || hasError ? ExportRecord.ErrorInfo(code: errorCode.map(Int.init), title: errorTitle)
                : nil,
            media: hidden ? nil : Self.media(of: content, download: download),
            labels: labels, agent: agent)
        record.editedAt = editedAt
        record.deletedAt = deletedAt
        if !hidden { record.edits = versions }
        if case .call(let call) = content {
            record.call = ExportRecord.Call(id: call.id.rawValue, direction: call.direction.rawValue,
                                            status: call.outcome.rawValue, duration: call.duration)
        }
        return record
    }

    /// A text column as written: the content's copy where the column had to replace a NUL.
    private static func faithful(_ column: String?, _ content: String?) -> String? {
        guard let column else { return nil }
        return column.contains("\u{FFFD}") ? (content ?? column) : column
    }

    /// A media message's file: what the webhook said, and where its download stands
    /// (`pending` while the media queue has no row for it).
    private static func media(of content: MessageContent, download: Download?) -> ExportRecord.Media? {
        guard case .media(let attachment) = content else { return nil }
        return ExportRecord.Media(id: download?.mediaID ?? attachment.mediaID, mimeType: download?.mimeType ?? attachment.mimeType,
                                  sha256: attachment.sha256, fileSize: download?.fileSize, filename: attachment.filename,
                                  state: download?.state ?? "pending", reason: download?.reason, path: download?.path)
    }
}

/// A file's row in the media queue.
private struct Download {
    var state: String
    var reason: String?
    var path: String?
    var fileSize: Int64?
    var mimeType: String?
    var mediaID: String?
}
