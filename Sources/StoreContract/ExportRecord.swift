import Foundation
import InboxCore

// The export's line (DESIGN.md, "Export format"), the same from every store: SQLite and
// PostgreSQL each read their rows into these records, and one writer turns them into JSON.

/// One line of `wabox export --format jsonl`, in the contract's shape and key order: every
/// key present, absent values as `null`.
public struct ExportRecord: Sendable, Equatable {
    /// A reaction the message has: its emoji and who (a wa_id or user id; the business
    /// number's id for the business).
    public struct Reaction: Sendable, Equatable {
        public var emoji: String
        public var from: String
        public init(emoji: String, from: String) {
            self.emoji = emoji
            self.from = from
        }
    }

    public struct Contact: Sendable, Equatable {
        public var waID: String?
        public var userID: String?
        public var username: String?
        public var name: String?
        /// The customer asked to stop marketing messages (and has not resumed them).
        public var marketingOptOut = false

        public init(waID: String?, userID: String?, username: String?, name: String?, marketingOptOut: Bool = false) {
            self.waID = waID
            self.userID = userID
            self.username = username
            self.name = name
            self.marketingOptOut = marketingOptOut
        }
    }

    /// An earlier version of an edited message.
    public struct Edit: Sendable, Equatable {
        public var text: String?
        public var caption: String?
        public var timestamp: Int64

        public init(text: String?, caption: String?, timestamp: Int64) {
            self.text = text
            self.caption = caption
            self.timestamp = timestamp
        }
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

        public init(id: String, direction: String, status: String, duration: Int64?) {
            self.id = id
            self.direction = direction
            self.status = status
            self.duration = duration
        }
    }

    public struct ErrorInfo: Sendable, Equatable {
        public var code: Int?
        public var title: String?

        public init(code: Int?, title: String?) {
            self.code = code
            self.title = title
        }
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

        public init(id: String?, mimeType: String?, sha256: String?, fileSize: Int64?, filename: String?, state: String,
                    reason: String?, path: String?) {
            self.id = id
            self.mimeType = mimeType
            self.sha256 = sha256
            self.fileSize = fileSize
            self.filename = filename
            self.state = state
            self.reason = reason
            self.path = path
        }
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
    public var reactions: [Reaction]
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

    public init(id: String, phoneNumberID: String, contact: Contact, direction: String, type: String, text: String?,
                caption: String?, timestamp: Int64, status: String?, replyTo: String?, reactions: [Reaction],
                error: ErrorInfo?, media: Media?, labels: [String] = [], agent: String? = nil) {
        self.id = id
        self.phoneNumberID = phoneNumberID
        self.contact = contact
        self.direction = direction
        self.type = type
        self.text = text
        self.caption = caption
        self.timestamp = timestamp
        self.status = status
        self.replyTo = replyTo
        self.reactions = reactions
        self.error = error
        self.media = media
        self.labels = labels
        self.agent = agent
    }

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
public final class JSONWriter {
    public init() {}

    public private(set) var output = ""
    private var needsComma = false

    public func object(_ body: () -> Void) {
        separate()
        output += "{"
        needsComma = false
        body()
        output += "}"
        needsComma = true
    }

    public func array<T>(_ items: [T], _ element: (T) -> Void) {
        separate()
        output += "["
        needsComma = false
        items.forEach(element)
        output += "]"
        needsComma = true
    }

    public func key(_ key: String) {
        separate()
        string(key)
        output += ":"
        needsComma = false
    }

    public func field(_ name: String, _ value: String?) {
        key(name)
        if let value { string(value) } else { output += "null" }
        needsComma = true
    }


    public func field(_ name: String, _ value: Int64?) {
        key(name)
        output += value.map(String.init) ?? "null"
        needsComma = true
    }

    public func field(_ name: String, _ value: Bool) {
        key(name)
        output += value ? "true" : "false"
        needsComma = true
    }

    public func null() {
        output += "null"
        needsComma = true
    }

    /// A value already written as JSON.
    public func raw(_ json: String) {
        separate()
        output += json
        needsComma = true
    }

    private func separate() {
        if needsComma { output += "," }
    }

    /// A string as an array element.
    public func element(_ value: String) {
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


/// The export, from any store: `wabox export` reads through this.
public protocol ExportStore: Sendable {
    /// Every stored message (and note) to `emit`, oldest first; only the contact
    /// `contact` names (a wa_id with or without `+`, a user id or a username) when given.
    /// Returns how many were emitted.
    ///
    /// - Parameter showDeleted: whether messages the customer deleted keep their content
    ///   (text, caption, earlier versions); without it they keep only `deleted_at`.
    func exportRecords(contact: String?, showDeleted: Bool, emit: (ExportRecord) throws -> Void) async throws -> Int
}

/// An export asked for a contact no store row names.
public struct UnknownContact: Error, Sendable, CustomStringConvertible {
    public var identifier: String
    public init(identifier: String) { self.identifier = identifier }
    public var description: String {
        "no contact is known as \"\(identifier)\": give a wa_id (phone number digits), a user id (US.…) or a username"
    }
}
