import Foundation
import GRDB
import GRDBSQLite

/// A statement of the ingest path driven through SQLite's C API.
///
/// On this path GRDB's general machinery (argument arrays of existentials, rows decoded
/// through generic metadata, statements found again by hashing their SQL) cost more than
/// SQLite's own work: measured with `wabox-screen-bench --store-ingest`, a contact lookup
/// through `Row.fetchOne` took about 39,000 instructions. GRDB still prepares, caches and
/// finalizes the statement; only binding, stepping and reading columns happen here.
/// Bound strings and blobs are copied by SQLite (`SQLITE_TRANSIENT`), strings with their
/// full length. GRDB's transaction observers do not see these statements (wabox has none;
/// other processes learn of commits through `PRAGMA data_version`).
struct RawStatement {
    private let statement: Statement
    private var handle: OpaquePointer { statement.sqliteStatement }

    init(_ db: Database, _ sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
    }

    /// Runs the statement to completion.
    func execute<each Value: RawBindable>(_ values: repeat each Value) throws {
        defer { clear() }
        try bind(repeat each values)
        while try step() {}
    }

    /// The first column of the first row, if there is a row and it is not NULL.
    func int64<each Value: RawBindable>(_ values: repeat each Value) throws -> Int64? {
        defer { clear() }
        try bind(repeat each values)
        guard try step(), sqlite3_column_type(handle, 0) != SQLITE_NULL else { return nil }
        return sqlite3_column_int64(handle, 0)
    }

    /// Reads the first row, if any, with `read`.
    func row<each Value: RawBindable, Result>(_ values: repeat each Value,
                                              read: (RawRow) throws -> Result) throws -> Result? {
        defer { clear() }
        try bind(repeat each values)
        guard try step() else { return nil }
        return try read(RawRow(handle: handle))
    }

    /// Leaves the statement as GRDB expects to find it, without the last values (a cached
    /// statement would otherwise hold a whole webhook body until the next use).
    private func clear() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    private func bind<each Value: RawBindable>(_ values: repeat each Value) throws {
        // These statements belong to an ingest transaction. Some errors make SQLite roll it
        // back by itself; a statement stepped after that would commit on its own, outside
        // the batch. GRDB refuses the same way ("Transaction was aborted").
        guard let connection = sqlite3_db_handle(handle), sqlite3_get_autocommit(connection) == 0 else {
            throw DatabaseError(resultCode: .SQLITE_ABORT, message: "Transaction was aborted", sql: statement.sql)
        }
        var index: Int32 = 1
        for value in repeat each values {
            let code = value.bind(to: handle, at: index)
            guard code == SQLITE_OK else { throw error(code) }
            index += 1
        }
        assert(index - 1 == sqlite3_bind_parameter_count(handle), "\(index - 1) values for the parameters of \(statement.sql)")
    }

    /// Whether a row is available; throws SQLite's error as a `DatabaseError`, as GRDB
    /// would, so that the ingest's fallback (a savepoint per webhook) still catches it.
    private func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code: throw error(code)
        }
    }

    private func error(_ code: Int32) -> DatabaseError {
        let connection = sqlite3_db_handle(handle)
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: connection.map { sqlite3_extended_errcode($0) } ?? code),
                             message: message, sql: statement.sql)
    }
}

/// The current row of a `RawStatement`, valid inside its `read` closure only.
struct RawRow {
    fileprivate let handle: OpaquePointer

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }
}

/// A value a `RawStatement` binds to a parameter.
protocol RawBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32
}

private nonisolated(unsafe) let emptyText: UnsafePointer<CChar> = {
    let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return UnsafePointer(pointer)
}()

private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

extension Int64: RawBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 { sqlite3_bind_int64(statement, index, self) }
}

extension Int: RawBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 { sqlite3_bind_int64(statement, index, Int64(self)) }
}

extension Bool: RawBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 { sqlite3_bind_int64(statement, index, self ? 1 : 0) }
}

extension String: RawBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        var copy = self
        return copy.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { text in
                // An empty string may have no address, and SQLite binds a NULL address as NULL.
                sqlite3_bind_text(statement, index, text.baseAddress ?? emptyText, Int32(text.count), transient)
            }
        }
    }
}

extension Data: RawBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        withUnsafeBytes { bytes in
            sqlite3_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), transient)
        }
    }
}

extension Optional: RawBindable where Wrapped: RawBindable {
    func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
        switch self {
        case .some(let value): value.bind(to: statement, at: index)
        case .none: sqlite3_bind_null(statement, index)
        }
    }
}

/// The ingest path's statements, found once per group commit instead of once per use
/// (GRDB's statement cache hashes the whole SQL text on each lookup).
final class IngestStatements {
    enum Query: Int, CaseIterable {
        case messageExists, contactByWaID, contactByUserID, contactByID, insertContact, updateContact
        case contactProfileAt, contactLastInbound, conversation, insertConversation, conversationDisplay, insertMessage
        case noteNewMessage, insertStatusEvent, outboundMessage, contactByPreviousNumber
        case changesWaiting

        var sql: String {
            switch self {
            case .messageExists:
                "SELECT id FROM message WHERE wamid = ?"
            case .contactByWaID, .contactByUserID, .contactByID:
                """
                SELECT id, wa_id, user_id, parent_user_id, username, name, profile_at FROM contact
                WHERE \(self == .contactByWaID ? "wa_id" : self == .contactByUserID ? "user_id" : "id") = ?
                """
            case .insertContact:
                """
                INSERT INTO contact (wa_id, user_id, parent_user_id, username, name, profile_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """
            case .updateContact:
                """
                UPDATE contact SET
                    wa_id = coalesce(?1, wa_id), user_id = coalesce(?2, user_id),
                    parent_user_id = coalesce(?3, parent_user_id),
                    username = coalesce(?4, username), name = coalesce(?5, name),
                    profile_at = max(profile_at, ?6)
                WHERE id = ?7
                """
            case .contactProfileAt:
                "UPDATE contact SET profile_at = ? WHERE id = ?"
            case .contactLastInbound:
                "SELECT max(last_inbound_at) FROM conversation WHERE contact_id = ?"
            case .conversation:
                "SELECT id, display_phone_number FROM conversation WHERE phone_number_id = ? AND contact_id = ?"
            case .insertConversation:
                "INSERT INTO conversation (phone_number_id, display_phone_number, contact_id) VALUES (?, ?, ?)"
            case .conversationDisplay:
                "UPDATE conversation SET display_phone_number = ? WHERE id = ?"
            case .insertMessage:
                """
                INSERT INTO message (wamid, conversation_id, direction, type, text, caption, content, timestamp,
                                     status, reply_to, forwarded, referral, group_id,
                                     error_code, error_title, error_message, error_details, webhook_id)
                VALUES (?, ?, 'in', ?, ?, ?, ?, ?, 'received', ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            case .noteNewMessage:
                """
                UPDATE conversation SET
                    last_message_id = CASE WHEN ?1 >= last_activity_at THEN ?2 ELSE last_message_id END,
                    last_activity_at = max(last_activity_at, ?1),
                    last_inbound_at = CASE WHEN ?3 THEN max(coalesce(last_inbound_at, 0), ?1) ELSE last_inbound_at END,
                    unread_count = unread_count + ?4,
                    inbound_count = inbound_count + ?4,
                    -- The customer writing again reopens a resolved conversation.
                    resolved_at = CASE WHEN ?4 AND ?1 >= resolved_at THEN NULL ELSE resolved_at END
                WHERE id = ?5
                """
            case .insertStatusEvent:
                """
                INSERT OR IGNORE INTO status_event (wamid, status, timestamp, phone_number_id, recipient, callback_data,
                                                    error_code, error_title, error_message, error_details)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            case .outboundMessage:
                "SELECT id, status FROM message WHERE wamid = ? AND direction = 'out'"
            case .changesWaiting:
                """
                SELECT EXISTS (SELECT 1 FROM message_edit WHERE original_wamid = ?1)
                    OR EXISTS (SELECT 1 FROM message_revoke WHERE original_wamid = ?1)
                """
            case .contactByPreviousNumber:
                """
                SELECT c.id, c.wa_id, c.user_id, c.parent_user_id, c.username, c.name, c.profile_at
                FROM contact_previous_number p JOIN contact c ON c.id = p.contact_id WHERE p.wa_id = ?
                """
            }
        }
    }

    let db: Database
    private var prepared: [RawStatement?] = Array(repeating: nil, count: Query.allCases.count)

    init(_ db: Database) {
        self.db = db
    }

    func callAsFunction(_ query: Query) throws -> RawStatement {
        if let statement = prepared[query.rawValue] { return statement }
        let statement = try RawStatement(db, query.sql)
        prepared[query.rawValue] = statement
        return statement
    }
}
