import Foundation
import GRDB
import InboxCore

/// One line of `wabox export --format jsonl`, in the contract's shape: every key present,
/// absent values as `null`.
public struct ExportRecord: Encodable, Sendable, Equatable {
    public struct Contact: Encodable, Sendable, Equatable {
        public var wa_id: String?
        public var user_id: String?
        public var username: String?
        public var name: String?

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(wa_id, forKey: .wa_id)
            try c.encode(user_id, forKey: .user_id)
            try c.encode(username, forKey: .username)
            try c.encode(name, forKey: .name)
        }

        enum CodingKeys: CodingKey { case wa_id, user_id, username, name }
    }

    public struct ErrorInfo: Encodable, Sendable, Equatable {
        public var code: Int?
        public var title: String?

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(code, forKey: .code)
            try c.encode(title, forKey: .title)
        }

        enum CodingKeys: CodingKey { case code, title }
    }

    public var id: String
    public var phone_number_id: String
    public var contact: Contact
    public var direction: String
    public var type: String
    public var text: String?
    public var caption: String?
    public var timestamp: Int64
    public var status: String
    public var reply_to: String?
    public var reactions: [StoredReaction]
    public var error: ErrorInfo?

    enum CodingKeys: CodingKey {
        case id, phone_number_id, contact, direction, type, text, caption, timestamp, status, reply_to, reactions, error
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(phone_number_id, forKey: .phone_number_id)
        try c.encode(contact, forKey: .contact)
        try c.encode(direction, forKey: .direction)
        try c.encode(type, forKey: .type)
        try c.encode(text, forKey: .text)
        try c.encode(caption, forKey: .caption)
        try c.encode(timestamp, forKey: .timestamp)
        try c.encode(status, forKey: .status)
        try c.encode(reply_to, forKey: .reply_to)
        try c.encode(reactions, forKey: .reactions)
        try c.encode(error, forKey: .error)
    }
}

extension InboxDatabase {
    public struct UnknownContact: Error, CustomStringConvertible {
        public var identifier: String
        public var description: String {
            "no contact is known as \"\(identifier)\": give a wa_id (phone number digits), a user id (US.…) or a username"
        }
    }

    /// Streams every stored message, oldest first, to `emit`; only one contact's when
    /// `contact` names one by any identifier. Returns how many were emitted.
    @discardableResult
    public func export(contact identifier: String? = nil, emit: (ExportRecord) throws -> Void) throws -> Int {
        var filter = ""
        var arguments: StatementArguments = []
        if let identifier {
            let ids = try contacts(matching: identifier).map(\.id.rawValue)
            guard !ids.isEmpty else { throw UnknownContact(identifier: identifier) }
            filter = "WHERE cv.contact_id IN (\(ids.map { _ in "?" }.joined(separator: ",")))"
            arguments = StatementArguments(ids)
        }
        return try writer.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT \(Self.messageColumns), m.type, m.text, m.caption, cv.phone_number_id,
                       c.wa_id, c.user_id, c.username, c.name
                FROM message m
                JOIN conversation cv ON cv.id = m.conversation_id
                JOIN contact c ON c.id = cv.contact_id
                \(filter)
                ORDER BY m.timestamp, m.id
                """, arguments: arguments)
            var count = 0
            while let row = try rows.next() {
                let message = try Self.message(from: row)
                let errorInfo: ExportRecord.ErrorInfo? = message.status == .failed || message.error != nil
                    ? ExportRecord.ErrorInfo(code: message.error?.code, title: message.error?.title)
                    : nil
                try emit(ExportRecord(
                    id: message.wamid?.rawValue ?? "local:\(message.localID ?? String(message.rowID))",
                    phone_number_id: row["phone_number_id"],
                    contact: .init(wa_id: row["wa_id"], user_id: row["user_id"], username: row["username"], name: row["name"]),
                    direction: message.direction.rawValue,
                    type: row["type"],
                    text: row["text"],
                    caption: row["caption"],
                    timestamp: message.timestamp,
                    status: message.status?.rawValue ?? "received",
                    reply_to: message.replyTo?.rawValue,
                    reactions: message.reactions,
                    error: errorInfo))
                count += 1
            }
            return count
        }
    }
}
