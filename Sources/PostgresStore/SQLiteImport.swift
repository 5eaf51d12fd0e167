import Foundation
import InboxCore
import Logging
import PostgresNIO
import StoreContract

// `wabox migrate`: a SQLite inbox copied into an empty PostgreSQL one, in one transaction,
// row ids kept, then counted on both sides. The SQLite side comes as an InboxRowSource
// (InboxStore reads its file), so this module needs no GRDB.
//
// Ids are kept so that every reference between rows (a message's conversation, a dead
// letter's journal body, a note's conversation, the applied mark) stays true without a
// mapping; each identity sequence is then set past the largest id copied.
//
// The change feed's triggers (v4, v6) fire on these inserts like on any other; their
// pending changes are deleted before the commit, so the commit numbers and announces
// nothing: a migrated inbox starts with an empty feed, and a screen that opens it loads
// everything anyway. (Turning the triggers off instead would need the tables' owner or a
// superuser, and an exclusive lock on each table.)

extension PostgresStore {
    /// How a column's SQLite value is written.
    enum ImportKind: String, Sendable {
        case bigint, integer, boolean, bytea
        /// Text, with a NUL (which PostgreSQL's text refuses) as U+FFFD, as the applier
        /// writes it (`PostgresText.safe`): only columns beside a faithful copy, or whose
        /// text is the team's own.
        case text
        /// JSON kept byte for byte (a message's content): a NUL in it is the escape \u0000.
        case json
    }

    struct ImportColumn: Sendable {
        var name: String
        var kind: ImportKind
    }

    /// One PostgreSQL table and the SQLite tables its rows come from.
    struct ImportTable: Sendable {
        var name: String
        /// SQLite's tables, read in this order; the journal's bodies are in two (`webhook`
        /// before v11, `journal` since), with one id sequence across both.
        var sources: [String]
        var columns: [ImportColumn]
        /// The columns that order and identify a row (keyset paging).
        var key: [String]
        /// Whether `id` is an identity column whose sequence must go past the copied ids.
        var identity = false
        /// A table of one row the migration seeds (the applied mark): replaced, and not a
        /// sign that the target holds an inbox.
        var seeded = false

        init(_ name: String, from sources: [String]? = nil, key: [String], identity: Bool = false, seeded: Bool = false,
             _ columns: [(String, ImportKind)]) {
            self.name = name
            self.sources = sources ?? [name]
            self.key = key
            self.identity = identity
            self.seeded = seeded
            self.columns = columns.map { ImportColumn(name: $0.0, kind: $0.1) }
        }
    }

    /// Every table copied, parents before the rows that refer to them.
    static let importedTables: [ImportTable] = [
        // The journal's digest stays NULL, as a replay's does: SQLite never folded a body
        // delivered twice, so its journal may hold one twice, which the unique digest would
        // refuse; and the digest only folds one delivery journaled by two listeners at once,
        // which these bodies, applied already, no longer need. `signature` (table webhook)
        // has no column here.
        ImportTable("journal", from: ["webhook", "journal"], key: ["id"], identity: true,
                    [("id", .bigint), ("received_at", .bigint), ("body", .bytea)]),
        ImportTable("journal_mark", key: ["id"], seeded: true, [("id", .integer), ("applied_through", .bigint)]),
        ImportTable("contact", key: ["id"], identity: true,
                    [("id", .bigint), ("wa_id", .text), ("user_id", .text), ("parent_user_id", .text), ("username", .text),
                     ("name", .text), ("profile_at", .bigint), ("created_at", .bigint), ("marketing_opt_out_at", .bigint),
                     ("marketing_pref_at", .bigint)]),
        ImportTable("contact_previous_number", key: ["wa_id"],
                    [("wa_id", .text), ("contact_id", .bigint), ("changed_at", .bigint)]),
        ImportTable("conversation", key: ["id"], identity: true,
                    [("id", .bigint), ("phone_number_id", .text), ("display_phone_number", .text), ("contact_id", .bigint),
                     ("last_activity_at", .bigint), ("last_message_id", .bigint), ("last_inbound_at", .bigint),
                     ("unread_count", .bigint), ("inbound_count", .bigint), ("window_closed_at", .bigint),
                     ("assigned_to", .text), ("assigned_at", .bigint), ("resolved_at", .bigint),
                     ("failing_replies", .bigint)]),
        ImportTable("message", key: ["id"], identity: true,
                    [("id", .bigint), ("wamid", .text), ("local_id", .text), ("conversation_id", .bigint),
                     ("direction", .text), ("type", .text), ("text", .text), ("caption", .text), ("content", .json),
                     ("timestamp", .bigint), ("status", .text), ("status_at", .bigint), ("reply_to", .text),
                     ("forwarded", .boolean), ("referral", .json), ("group_id", .text), ("error_code", .bigint),
                     ("error_title", .text), ("error_message", .text), ("error_details", .text),
                     ("held_for_review", .boolean), ("webhook_id", .bigint), ("echo", .boolean), ("buttons", .json),
                     ("agent", .text), ("edited_at", .bigint), ("deleted_at", .bigint)]),
        ImportTable("reaction", key: ["message_wamid", "from_contact_id"],
                    [("message_wamid", .text), ("from_contact_id", .bigint), ("emoji", .text), ("timestamp", .bigint),
                     ("reaction_wamid", .text), ("local_id", .text)]),
        ImportTable("status_event", key: ["id"], identity: true,
                    [("id", .bigint), ("wamid", .text), ("status", .text), ("timestamp", .bigint),
                     ("phone_number_id", .text), ("recipient", .text), ("callback_data", .text), ("error_code", .bigint),
                     ("error_title", .text), ("error_message", .text), ("error_details", .text)]),
        ImportTable("dead_letter", key: ["id"], identity: true,
                    [("id", .bigint), ("webhook_id", .bigint), ("journal_id", .bigint), ("digest", .text),
                     ("received_at", .bigint), ("path", .text), ("reason", .text), ("raw", .text),
                     ("replayed_at", .bigint)]),
        ImportTable("account_error", key: ["id"], identity: true,
                    [("id", .bigint), ("webhook_id", .bigint), ("journal_id", .bigint), ("digest", .text),
                     ("phone_number_id", .text), ("received_at", .bigint), ("code", .bigint), ("title", .text),
                     ("message", .text), ("details", .text)]),
        ImportTable("message_edit", key: ["id"], identity: true,
                    [("id", .bigint), ("original_wamid", .text), ("edit_wamid", .text), ("editor", .text), ("type", .text),
                     ("text", .text), ("caption", .text), ("content", .json), ("timestamp", .bigint)]),
        ImportTable("message_revoke", key: ["original_wamid"],
                    [("original_wamid", .text), ("revoke_wamid", .text), ("revoker", .text), ("timestamp", .bigint)]),
        ImportTable("call_state", key: ["call_id"], [("call_id", .text), ("state", .json)]),
        ImportTable("account_alert", key: ["account", "slot"],
                    [("account", .text), ("slot", .text), ("alert", .json), ("at", .bigint), ("expires_at", .bigint),
                     ("lifted_at", .bigint)]),
        ImportTable("sending_halt", key: ["id"],
                    [("id", .integer), ("code", .bigint), ("reason", .text), ("since", .bigint), ("source", .text),
                     ("until", .bigint)]),
        ImportTable("template_state", key: ["name", "language"],
                    [("name", .text), ("language", .text), ("template_id", .text), ("status", .text), ("reason", .text),
                     ("status_at", .bigint), ("category", .text), ("category_at", .bigint), ("quality", .text),
                     ("quality_at", .bigint)]),
        // claimed_by stays NULL: SQLite's sender leaves no row in flight once stopped (it
        // makes them uncertain when it starts again, which `wabox migrate` does first).
        ImportTable("outbox", key: ["message_id"],
                    [("message_id", .bigint), ("state", .text), ("attempts", .integer), ("next_attempt_at", .bigint),
                     ("claimed_at", .bigint), ("last_error", .text), ("payload", .json), ("file_path", .text),
                     ("upload_id", .text)]),
        ImportTable("read_receipt", key: ["wamid"],
                    [("wamid", .text), ("phone_number_id", .text), ("requested_at", .bigint), ("attempts", .integer)]),
        ImportTable("agent", key: ["name"],
                    [("name", .text), ("first_seen_at", .bigint), ("last_seen_at", .bigint), ("display_name", .text)]),
        ImportTable("agent_read", key: ["agent", "conversation_id"],
                    [("agent", .text), ("conversation_id", .bigint), ("inbound_seen", .bigint)]),
        ImportTable("agent_typing", key: ["conversation_id", "agent"],
                    [("conversation_id", .bigint), ("agent", .text), ("until_ms", .bigint)]),
        ImportTable("note", key: ["id"], identity: true,
                    [("id", .bigint), ("conversation_id", .bigint), ("agent", .text), ("text", .text),
                     ("created_at", .bigint)]),
        ImportTable("label", key: ["id"], identity: true,
                    [("id", .bigint), ("name", .text), ("created_by", .text), ("created_at", .bigint)]),
        ImportTable("conversation_label", key: ["label_id", "conversation_id"],
                    [("label_id", .bigint), ("conversation_id", .bigint), ("last_activity_at", .bigint),
                     ("added_by", .text), ("added_at", .bigint)]),
        ImportTable("canned_reply", key: ["name"],
                    [("name", .text), ("text", .text), ("created_by", .text), ("updated_at", .bigint)]),
        ImportTable("audit", key: ["id"], identity: true,
                    [("id", .bigint), ("at", .bigint), ("account", .text), ("display_name", .text), ("action", .text),
                     ("conversation_id", .bigint), ("contact_wa_id", .text), ("contact_user_id", .text),
                     ("detail", .json)]),
        ImportTable("template_cache", key: ["id"],
                    [("id", .integer), ("fetched_at", .bigint), ("templates", .json)]),
        ImportTable("media", key: ["message_id"],
                    [("message_id", .bigint), ("media_id", .text), ("kind", .text), ("mime_type", .text),
                     ("sha256", .text), ("filename", .text), ("state", .text), ("reason", .text), ("file_size", .bigint),
                     ("content_hash", .text), ("path", .text), ("sent_at", .bigint), ("attempts", .integer),
                     ("next_attempt_at", .bigint), ("duration_ms", .bigint)]),
        ImportTable("media_progress", key: ["id"], seeded: true, [("id", .integer), ("queued_through", .bigint)]),
        ImportTable("transcript", key: ["message_id"],
                    [("message_id", .bigint), ("state", .text), ("text", .text), ("reason", .text),
                     ("updated_at", .bigint)]),
    ]

    /// The tables `importInbox` fills, in the order it fills them.
    public static var importedTableNames: [String] { importedTables.map(\.name) }

    /// Rows read from SQLite and sent to COPY at a time: a page of the keyset walk, about
    /// half a megabyte of messages.
    static let importBatch = 1_000
}

/// What a migration copied: each table's rows on both sides.
public struct SQLiteImportReport: Sendable, Equatable {
    public struct Table: Sendable, Equatable {
        public var name: String
        /// Rows in SQLite (for the journal: `webhook` and `journal` together).
        public var source: Int
        /// Rows in PostgreSQL after the copy.
        public var target: Int
        public var matches: Bool { source == target }
    }

    public var tables: [Table]

    /// The table of counts, one line each: `contact  1,204 → 1,204 ✓`.
    public var lines: [String] {
        let formatted = tables.map { ($0.name, Self.grouped($0.source), Self.grouped($0.target), $0.matches) }
        let nameWidth = formatted.map(\.0.count).max() ?? 0
        let sourceWidth = formatted.map(\.1.count).max() ?? 0
        let targetWidth = formatted.map(\.2.count).max() ?? 0
        return formatted.map { name, source, target, matches in
            name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                + String(repeating: " ", count: sourceWidth - source.count) + source + " → "
                + String(repeating: " ", count: targetWidth - target.count) + target + (matches ? " ✓" : " ✗")
        }
    }

    /// 1204 as `1,204`, whatever the locale.
    static func grouped(_ number: Int) -> String {
        var digits = String(number.magnitude)
        var groups: [Substring] = []
        while digits.count > 3 {
            groups.insert(digits.suffix(3), at: 0)
            digits.removeLast(3)
        }
        groups.insert(Substring(digits), at: 0)
        return (number < 0 ? "-" : "") + groups.joined(separator: ",")
    }
}

/// Why a migration copied nothing (the transaction rolled back).
public struct SQLiteImportError: Error, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The target already holds rows of an inbox.
        case targetNotEmpty
        /// A table's count differs after the copy.
        case countMismatch
        /// A value the target cannot hold.
        case unreadableValue
        /// PostgreSQL refused a statement of the copy.
        case refused
    }

    public var kind: Kind
    public var description: String
    /// The counts, for a mismatch.
    public var report: SQLiteImportReport?
}

extension PostgresStore {
    /// Copies every table of `source` (a SQLite inbox) into this database, which must hold no
    /// inbox yet, in one transaction, then compares every table's count with the source's:
    /// on a difference nothing is kept. The schema must be migrated (`migrate()`) first.
    public func importInbox(from source: some InboxRowSource) async throws -> SQLiteImportReport {
        do {
            return try await copyInbox(from: source)
        } catch let error as PostgresTransactionError {
            // The transaction rolled back; what failed inside it is what to tell.
            throw Self.explainImport(error.closureError ?? error.beginError ?? error.commitError ?? error)
        } catch {
            throw Self.explainImport(error)
        }
    }

    /// `error` in words that say what to do: PSQLError's own description hides the
    /// server's message, which names no secret.
    private static func explainImport(_ error: any Error) -> any Error {
        guard let error = error as? PSQLError else { return error }
        let message = error.serverInfo?[.message] ?? "\(error.code)"
        let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
        let state = error.serverInfo?[.sqlState].map { ", SQLSTATE \($0)" } ?? ""
        return SQLiteImportError(kind: .refused, description: """
            PostgreSQL refused the copy: \(message)\(detail)\(state). Nothing was kept; the database is as it was
            """)
    }

    private func copyInbox(from source: some InboxRowSource) async throws -> SQLiteImportReport {
        let logger = self.logger, location = self.location
        return try await client.withTransaction(logger: logger) { connection in
            let tx = Transaction(connection: connection, logger: logger)
            // No listener appends meanwhile (an append takes the journal lock), and no migration runs.
            _ = try await tx.returnsRow("SELECT pg_advisory_xact_lock(\(Self.migrationLock))")
            _ = try await tx.returnsRow("SELECT pg_advisory_xact_lock(\(Self.journalLock))")
            try await Self.refuseNonEmptyTarget(tx, location: location)
            var tables: [SQLiteImportReport.Table] = []
            for table in Self.importedTables {
                if table.seeded { try await tx.run(PostgresQuery(unsafeSQL: "DELETE FROM \(table.name)")) }
                var sourceCount = 0
                for sourceTable in table.sources {
                    guard try await source.hasTable(sourceTable) else { continue }
                    sourceCount += try await source.count(of: sourceTable)
                    try await Self.copy(sourceTable, into: table, from: source, tx)
                }
                tables.append(.init(name: table.name, source: sourceCount, target: 0))
            }
            try await Self.resetSequences(tx)
            try await Self.recountFailingReplies(tx)
            // The feed's numbering at commit finds nothing to number: see the top of the file.
            try await tx.run("DELETE FROM change_pending")
            for index in tables.indices {
                tables[index].target = Int(try await tx.int64(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(tables[index].name)")) ?? 0)
            }
            let report = SQLiteImportReport(tables: tables)
            let differing = tables.filter { !$0.matches }
            if !differing.isEmpty {
                throw SQLiteImportError(kind: .countMismatch, description: """
                    the copy's counts differ for \(differing.map { "\($0.name) (\($0.source) in SQLite, \($0.target) in PostgreSQL)" }
                        .joined(separator: ", ")): nothing was kept. The SQLite side is read from one snapshot, so something wrote to the \
                    PostgreSQL database meanwhile: stop every wabox serve that uses it and run the migration again
                    """, report: report)
            }
            return report
        }
    }

    /// Throws unless every table the migration fills is empty.
    private static func refuseNonEmptyTarget(_ tx: Transaction, location: PostgresLocation) async throws {
        var held: [String] = []
        for table in importedTables where !table.seeded {
            if try await tx.returnsRow(PostgresQuery(unsafeSQL: "SELECT 1 FROM \(table.name) LIMIT 1")) {
                let count = try await tx.int64(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table.name)")) ?? 0
                held.append("\(table.name) \(count)")
            }
        }
        guard held.isEmpty else {
            throw SQLiteImportError(kind: .targetNotEmpty, description: """
                \(location.redacted) already holds an inbox (\(held.joined(separator: ", ")) rows): wabox migrate copies \
                into an empty database only, and changed nothing. Create a new database (createdb -h \(location.host) \
                -p \(location.port) -U \(location.user) NAME) and give its URL to --to
                """)
        }
    }

    /// Copies one SQLite table into `table` with one `COPY … FROM STDIN` (text format), a
    /// batch of rows per message: PostgreSQL parses no statement per row, and identity
    /// columns take the ids given (as OVERRIDING SYSTEM VALUE would).
    private static func copy(_ sourceTable: String, into table: ImportTable, from source: some InboxRowSource,
                             _ tx: Transaction) async throws {
        let names = table.columns.map(\.name)
        let keyIndexes = table.key.map { key in names.firstIndex(of: key)! }
        try await tx.connection.copyFrom(table: table.name, columns: names, logger: tx.logger) { writer in
            var after: [StoredValue]?
            while true {
                let rows = try await source.rows(of: sourceTable, columns: names, key: table.key, after: after,
                                                 limit: importBatch)
                guard let last = rows.last else { return }
                var buffer = ByteBufferAllocator().buffer(capacity: 64 * 1024)
                for row in rows {
                    for (index, column) in table.columns.enumerated() {
                        if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                        try write(row[index], as: column, of: sourceTable, into: &buffer)
                    }
                    buffer.writeInteger(UInt8(ascii: "\n"))
                }
                try await writer.write(buffer)
                after = keyIndexes.map { last[$0] }
                if rows.count < importBatch { return }
            }
        }
    }

    /// Writes `value` as COPY's text format wants it for `column` (`\N` for NULL), or throws
    /// naming the table and the column.
    private static func write(_ value: StoredValue, as column: ImportColumn, of table: String,
                              into buffer: inout ByteBuffer) throws {
        func refuse(_ why: String) -> SQLiteImportError {
            SQLiteImportError(kind: .unreadableValue, description: """
                \(table).\(column.name) holds \(why), which PostgreSQL's \(column.kind.sqlType) column cannot take: \
                nothing was copied. Check the SQLite file (wabox doctor --db PATH) and run the migration again
                """)
        }
        switch (column.kind, value) {
        case (_, .null):
            buffer.writeStaticString("\\N")
        case (.bigint, .integer(let integer)), (.integer, .integer(let integer)):
            buffer.writeString(String(integer))
        case (.bigint, .real(let real)), (.integer, .real(let real)):
            guard let integer = Int64(exactly: real) else { throw refuse("the number \(real)") }
            buffer.writeString(String(integer))
        case (.bigint, .text(let text)), (.integer, .text(let text)):
            guard let integer = Int64(text) else { throw refuse("the text \"\(text.prefix(40))\"") }
            buffer.writeString(String(integer))
        case (.boolean, .integer(let integer)):
            buffer.writeInteger(UInt8(ascii: integer != 0 ? "t" : "f"))
        case (.bytea, .blob(let data)):
            writeHex(data, into: &buffer)
        case (.bytea, .text(let text)):
            writeHex(Data(text.utf8), into: &buffer)
        case (.text, .text(let text)):
            writeEscaped(PostgresText.safe(text), into: &buffer)
        case (.text, .integer(let integer)):
            buffer.writeString(String(integer))
        case (.text, .real(let real)):
            buffer.writeString(String(real))
        case (.text, .blob(let data)), (.json, .blob(let data)):
            guard let text = String(validating: data, as: UTF8.self) else { throw refuse("bytes that are not UTF-8 text") }
            if column.kind == .json, text.utf8.contains(0) { throw refuse("text with a NUL character") }
            writeEscaped(column.kind == .json ? text : PostgresText.safe(text), into: &buffer)
        case (.json, .text(let text)):
            guard !text.utf8.contains(0) else { throw refuse("text with a NUL character") }
            writeEscaped(text, into: &buffer)
        default:
            throw refuse("a value of another type (\(value))")
        }
    }

    /// Text with COPY's four special characters escaped (backslash, tab, newline, return).
    /// Byte loops over raw buffers: this runs for every text of every row.
    private static func writeEscaped(_ text: String, into buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else {
                buffer.writeBytes(bytes)
                return
            }
            let escaped = [UInt8](unsafeUninitializedCapacity: bytes.count * 2) { out, written in
                var index = 0
                for byte in bytes {
                    switch byte {
                    case 0x5C: out[index] = 0x5C; out[index + 1] = 0x5C; index += 2
                    case 0x09: out[index] = 0x5C; out[index + 1] = UInt8(ascii: "t"); index += 2
                    case 0x0A: out[index] = 0x5C; out[index + 1] = UInt8(ascii: "n"); index += 2
                    case 0x0D: out[index] = 0x5C; out[index + 1] = UInt8(ascii: "r"); index += 2
                    default: out[index] = byte; index += 1
                    }
                }
                written = index
            }
            buffer.writeBytes(escaped)
        }
    }

    /// bytea in hex (`\\x0a1b…`: the backslash escaped for COPY).
    private static func writeHex(_ data: Data, into buffer: inout ByteBuffer) {
        let hex = data.withUnsafeBytes { bytes in
            [UInt8](unsafeUninitializedCapacity: bytes.count * 2 + 3) { out, written in
                out[0] = 0x5C
                out[1] = 0x5C
                out[2] = UInt8(ascii: "x")
                var index = 3
                for byte in bytes {
                    out[index] = hexDigit(byte >> 4)
                    out[index + 1] = hexDigit(byte & 0x0F)
                    index += 2
                }
                written = index
            }
        }
        buffer.writeBytes(hex)
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x57 + nibble
    }

    /// The conversations' failing replies, counted again: the conversations came with
    /// SQLite's count, and then v8's trigger counted each failed or uncertain reply once more
    /// as its message arrived.
    private static func recountFailingReplies(_ tx: Transaction) async throws {
        try await tx.run("""
            UPDATE conversation cv SET failing_replies = coalesce(f.replies, 0)
            FROM conversation c
            LEFT JOIN (SELECT conversation_id, count(*) AS replies FROM message
                       WHERE direction = 'out' AND status IN ('failed', 'uncertain') GROUP BY conversation_id) f
                   ON f.conversation_id = c.id
            WHERE cv.id = c.id AND cv.failing_replies <> coalesce(f.replies, 0)
            """)
    }

    /// Sets every identity sequence past the largest id copied, so that new rows take new
    /// ids; the journal's also past the applied mark, which every new body must be above
    /// (SQLite's AUTOINCREMENT remembers ids whose bodies were pruned since).
    private static func resetSequences(_ tx: Transaction) async throws {
        for table in importedTables where table.identity {
            let floor = table.name == "journal" ? "(SELECT applied_through FROM journal_mark WHERE id = 1)" : "0"
            _ = try await tx.returnsRow(PostgresQuery(unsafeSQL: """
                SELECT setval(pg_get_serial_sequence('\(table.name)', 'id'), next.id)
                FROM (SELECT greatest(coalesce((SELECT max(id) FROM \(table.name)), 0), coalesce(\(floor), 0)) AS id) next
                WHERE next.id > 0
                """))
        }
    }
}

extension PostgresStore.ImportKind {
    var sqlType: String {
        switch self {
        case .bigint: "bigint"
        case .integer: "integer"
        case .boolean: "boolean"
        case .bytea: "bytea"
        case .text, .json: "text"
        }
    }
}
