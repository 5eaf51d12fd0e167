import Foundation

// The rows of one store read table by table, for `wabox migrate`, which copies a SQLite
// inbox into PostgreSQL. Neither engine's library shows through: the SQLite store reads its
// tables into these values and the PostgreSQL store writes them, so PostgresStore needs no
// GRDB and InboxStore no postgres-nio.

/// One stored value as SQLite's dynamic typing keeps it.
public enum StoredValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
}

/// A store whose tables can be read row by row in key order, all from one snapshot.
public protocol InboxRowSource: Sendable {
    /// Whether `table` exists (an older schema may lack one).
    func hasTable(_ table: String) async throws -> Bool

    /// Up to `limit` rows of `table`, each its `columns` in that order, sorted by `key`
    /// (columns that identify a row), starting after the row whose key is `after` (nil: from
    /// the first).
    func rows(of table: String, columns: [String], key: [String], after: [StoredValue]?,
              limit: Int) async throws -> [[StoredValue]]

    /// How many rows `table` holds.
    func count(of table: String) async throws -> Int
}
