import Testing

/// `@Suite(.postgresServer)`: one PostgreSQL server of the suite's own (`withPostgresServer`)
/// runs around all of the suite's tests, which reach it as `PostgresSuite.server` and
/// make a fresh database each (`createDatabase()`). Stopped, its folder removed, when the
/// suite ends.
public struct PostgresSuite: SuiteTrait, TestScoping {
    @TaskLocal static var current: PostgresServer?

    /// The suite's server; throws outside a suite marked `.postgresServer`.
    public static var server: PostgresServer {
        get throws {
            guard let current else {
                throw Fixtures.FixtureError(description: "no PostgreSQL server: mark the suite @Suite(.postgresServer)")
            }
            return current
        }
    }

    public var isRecursive: Bool { false }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await withPostgresServer { server in
            try await Self.$current.withValue(server) { try await function() }
        }
    }
}

extension Trait where Self == PostgresSuite {
    /// A PostgreSQL server for the whole suite.
    public static var postgresServer: Self { PostgresSuite() }
}
