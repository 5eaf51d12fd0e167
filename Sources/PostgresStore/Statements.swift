import InboxCore
import Logging
import PostgresNIO

// The few shapes of answer the applier asks PostgreSQL for, on the connection of its
// transaction. Each reads its rows to the end before returning: the connection runs one
// statement at a time, and a half-read answer would hold up the next.

/// The applier's transaction: its connection and the logger its statements log to.
struct Transaction {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs a statement whose rows (if any) are not needed.
    func run(_ query: PostgresQuery) async throws {
        try await connection.query(query, logger: logger)
    }

    /// Whether the statement returned a row (`… RETURNING 1`: whether it wrote one).
    func returnsRow(_ query: PostgresQuery) async throws -> Bool {
        var found = false
        for try await _ in try await connection.query(query, logger: logger) { found = true }
        return found
    }

    /// The first column of the first row, if there is a row and it is not NULL.
    func int64(_ query: PostgresQuery) async throws -> Int64? {
        try await row(query) { try $0.decode(Int64?.self) } ?? nil
    }

    /// The first row, read with `read`, if there is one.
    func row<Row>(_ query: PostgresQuery, read: (PostgresRow) throws -> Row) async throws -> Row? {
        var found: Row?
        for try await row in try await connection.query(query, logger: logger) where found == nil {
            found = try read(row)
        }
        return found
    }

    /// Every row, read with `read`.
    func rows<Row>(_ query: PostgresQuery, read: (PostgresRow) throws -> Row) async throws -> [Row] {
        var rows: [Row] = []
        for try await row in try await connection.query(query, logger: logger) {
            rows.append(try read(row))
        }
        return rows
    }
}

extension PostgresStore {
    /// `body` in one transaction on one connection of the pool: committed when it returns,
    /// rolled back when it throws.
    func transaction<Result: Sendable>(_ body: (Transaction) async throws -> Result) async throws -> Result {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            try await body(Transaction(connection: connection, logger: logger))
        }
    }

    /// `body` in one REPEATABLE READ READ ONLY transaction, so that its statements agree;
    /// with `timeout`, the server cancels a statement that runs longer (and frees the
    /// connection for the next).
    func readOnly<Result: Sendable>(timeout: Duration? = nil, _ body: (Transaction) async throws -> Result) async throws
        -> Result {
        let logger = self.logger
        return try await client.withConnection { connection in
            let tx = Transaction(connection: connection, logger: logger)
            try await tx.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if let timeout {
                try await tx.run(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(timeout.wholeMilliseconds)"))
            }
            do {
                let result = try await body(tx)
                try await tx.run("COMMIT")
                return result
            } catch {
                _ = try? await tx.run("ROLLBACK")
                throw error
            }
        }
    }
}
