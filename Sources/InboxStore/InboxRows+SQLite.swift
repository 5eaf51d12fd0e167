import Foundation
import GRDB
import StoreContract

// The SQLite inbox read table by table (StoreContract's InboxRowSource), for `wabox migrate`.
// Every read goes to one snapshot of the file, taken when the source is made: the rows
// copied and the counts they are checked against are of the same instant, even if a
// process wrote meanwhile.

/// The tables of one SQLite inbox as they were when `InboxDatabase.rowSource()` was called.
public final class SQLiteRowSource: InboxRowSource {
    private let snapshot: DatabaseSnapshot

    init(snapshot: DatabaseSnapshot) {
        self.snapshot = snapshot
    }

    public func hasTable(_ table: String) async throws -> Bool {
        try await snapshot.read { db in try db.tableExists(table) }
    }

    public func rows(of table: String, columns: [String], key: [String], after: [StoredValue]?,
                     limit: Int) async throws -> [[StoredValue]] {
        // Text comes as a blob with its type beside it: SQLite hands text over as a C
        // string, which ends at its first NUL (a customer's text may hold one).
        let list = columns.map(\.quotedDatabaseIdentifier).map { column in
            "typeof(\(column)), CASE WHEN typeof(\(column)) = 'text' THEN CAST(\(column) AS BLOB) ELSE \(column) END"
        }.joined(separator: ", ")
        let keys = key.map(\.quotedDatabaseIdentifier).joined(separator: ", ")
        var sql = "SELECT \(list) FROM \(table.quotedDatabaseIdentifier)"
        var values: [DatabaseValue] = []
        if let after {
            // A row value compares column by column: keyset paging, each page an index seek.
            sql += " WHERE (\(keys)) > (\(Array(repeating: "?", count: after.count).joined(separator: ", ")))"
            values = after.map(\.databaseValue)
        }
        sql += " ORDER BY \(keys) LIMIT \(limit)"
        return try await snapshot.read { [sql, values] db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(values)).map { row in
                let cells = Array(row.databaseValues)
                return stride(from: 0, to: cells.count, by: 2).map { index in
                    if String.fromDatabaseValue(cells[index]) == "text", case .blob(let bytes) = cells[index + 1].storage {
                        return .text(String(decoding: bytes, as: UTF8.self))
                    }
                    return StoredValue(cells[index + 1])
                }
            }
        }
    }

    public func count(of table: String) async throws -> Int {
        try await snapshot.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.quotedDatabaseIdentifier)") ?? 0 }
    }
}

extension InboxDatabase {
    /// The inbox's tables as they are now, for copying elsewhere (`wabox migrate`).
    public func rowSource() throws -> SQLiteRowSource {
        guard let pool = writer as? DatabasePool else {
            throw OpenError(description: "the database \(path) is not opened in WAL mode: it cannot be read from one snapshot")
        }
        return SQLiteRowSource(snapshot: try pool.makeSnapshot())
    }
}

private extension StoredValue {
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let integer): self = .integer(integer)
        case .double(let real): self = .real(real)
        case .string(let text): self = .text(text)
        case .blob(let data): self = .blob(data)
        }
    }

    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let integer): integer.databaseValue
        case .real(let real): real.databaseValue
        case .text(let text): text.databaseValue
        case .blob(let data): data.databaseValue
        }
    }
}
