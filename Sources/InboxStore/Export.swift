import Foundation
import GRDB
import InboxCore

/// One line of `wabox export --format jsonl`, in the contract's shape and key order: every
/// key present, absent values as `null`.
public struct ExportRecord: Sendable, Equatable {
    public struct Contact: Sendable, Equatable {
        public var waID: String?
        public var userID: String?
        public var username: String?
        public var name: String?
        /// The customer asked to stop marketing messages (and has not resumed them).
        public var marketingOptOut = false
    }

    /// An earlier version of an edited message.
    public struct Edit: Sendable, Equatable {
        public var text: String?
        public var caption: String?
        public var timestamp: Int64
    }

    /// A call row's call.
    public struct Call: Sendable, Equatable {
        public var id: String
        /// `in` (the customer called) or `out`.
        public var direction: String
        /// `ringing`, `answered` or `missed`.
        public var status: String
        /// Seconds, once an answered call ended.
        public var duration: Int64?
    }

    public struct ErrorInfo: Sendable, Equatable {
        public var code: Int?
        public var title: String?
    }

    /// A media message's file: what the webhook said, and where its download stands.
    public struct Media: Sendable, Equatable {
        public var id: String?
        public var mimeType: String?
        public var sha256: String?
        public var fileSize: Int64?
        public var filename: String?
        public var state: String
        public var reason: String?
        /// Absolute, once ready.
        public var path: String?
    }

    public var id: String
    public var phoneNumberID: String
    public var contact: Contact
    public var direction: String
    public var type: String
    public var text: String?
    public var caption: String?
    public var timestamp: Int64
    /// Nil for a note.
    public var status: String?
    public var replyTo: String?
    public var reactions: [StoredReaction]
    public var error: ErrorInfo?
    public var media: Media?
    public var editedAt: Int64?
    /// The versions before `text`/`caption`, oldest first.
    public var edits: [Edit] = []
    public var deletedAt: Int64?
    public var call: Call?
    /// The conversation's labels, by name.
    public var labels: [String] = []
    /// The account that wrote a note or sent an outbound message from wabox; nil on the
    /// customer's messages, the phone app's, and those sent before accounts were recorded.
    public var agent: String?

    /// The record as one line of JSON, without the newline.
    ///
    /// Written by hand rather than with `JSONEncoder`, whose key order on Linux changes
    /// from run to run: exports are diffed and read by people, so the order is the contract's.
    public var jsonLine: String {
        let json = JSONWriter()
        json.object {
            json.field("id", id)
            json.field("phone_number_id", phoneNumberID)
            json.key("contact")
            json.object {
                json.field("wa_id", contact.waID)
                json.field("user_id", contact.userID)
                json.field("username", contact.username)
                json.field("name", contact.name)
                json.field("marketing_opt_out", contact.marketingOptOut)
            }
            json.field("direction", direction)
            json.field("type", type)
            json.field("text", text)
            json.field("caption", caption)
            json.field("timestamp", timestamp)
            json.field("status", status)
            json.field("reply_to", replyTo)
            json.key("reactions")
            json.array(reactions) { reaction in
                json.object {
                    json.field("emoji", reaction.emoji)
                    json.field("from", reaction.from)
                }
            }
            json.key("error")
            if let error {
                json.object {
                    json.field("code", error.code.map(Int64.init))
                    json.field("title", error.title)
                }
            } else {
                json.null()
            }
            json.key("media")
            if let media {
                json.object {
                    json.field("id", media.id)
                    json.field("mime_type", media.mimeType)
                    json.field("sha256", media.sha256)
                    json.field("file_size", media.fileSize)
                    json.field("filename", media.filename)
                    json.field("state", media.state)
                    json.field("reason", media.reason)
                    json.field("path", media.path)
                }
            } else {
                json.null()
            }
            json.field("edited_at", editedAt)
            json.key("edits")
            json.array(edits) { edit in
                json.object {
                    json.field("text", edit.text)
                    json.field("caption", edit.caption)
                    json.field("timestamp", edit.timestamp)
                }
            }
            json.field("deleted_at", deletedAt)
            json.key("call")
            if let call {
                json.object {
                    json.field("id", call.id)
                    json.field("direction", call.direction)
                    json.field("status", call.status)
                    json.field("duration", call.duration)
                }
            } else {
                json.null()
            }
            json.key("labels")
            json.array(labels) { json.element($0) }
            json.field("agent", agent)
        }
        return json.output
    }
}

/// A minimal JSON writer that keeps keys in the order written.
final class JSONWriter {
    private(set) var output = ""
    private var needsComma = false

    func object(_ body: () -> Void) {
        separate()
        output += "{"
        needsComma = false
        body()
        output += "}"
        needsComma = true
    }

    func array<T>(_ items: [T], _ element: (T) -> Void) {
        separate()
        output += "["
        needsComma = false
        items.forEach(element)
        output += "]"
        needsComma = true
    }

    func key(_ key: String) {
        separate()
        string(key)
        output += ":"
        needsComma = false
    }

    func field(_ name: String, _ value: String?) {
        key(name)
        if let value { string(value) } else { output += "null" }
        needsComma = true
    }


    func field(_ name: String, _ value: Int64?) {
        key(name)
        output += value.map(String.init) ?? "null"
        needsComma = true
    }

    func field(_ name: String, _ value: Bool) {
        key(name)
        output += value ? "true" : "false"
        needsComma = true
    }

    func null() {
        output += "null"
        needsComma = true
    }

    /// A value already written as JSON.
    func raw(_ json: String) {
        separate()
        output += json
        needsComma = true
    }

    private func separate() {
        if needsComma { output += "," }
    }

    /// A string as an array element.
    func element(_ value: String) {
        separate()
        string(value)
    }

    private func string(_ value: String) {
        JSONLine.appendQuoted(value, to: &output)
        needsComma = true
    }
}

/// JSON string literals as the export writes them, for every line-oriented JSON wabox prints.
public enum JSONLine {
    /// Appends `value` as a JSON string: quotes, backslashes, control characters and the
    /// line and paragraph separators escaped, everything else as it is.
    public static func appendQuoted(_ value: String, to output: inout String) {
        output += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{2028}": output += "\\u2028"
            case "\u{2029}": output += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }
}

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

    public struct UnknownContact: Error, CustomStringConvertible {
        public var identifier: String
        public var description: String {
            "no contact is known as \"\(identifier)\": give a wa_id (phone number digits), a user id (US.…) or a username"
        }
    }

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
                    reactions: message.reactions.filter { !$0.emoji.isEmpty },
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
