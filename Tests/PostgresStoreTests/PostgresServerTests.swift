import Foundation
import InboxCore
import InboxTesting
import Logging
import PostgresNIO
@testable import PostgresStore
import Testing

let quiet = Logger(label: "wabox.tests.postgres") { _ in SwiftLogNoOpLogHandler() }

@Suite(.postgresServer) struct PostgresServerTests {
    @Test func theServerAnswersOnLoopbackWithItsPasswordOnly() async throws {
        let server = try PostgresSuite.server
        let name = try await server.createDatabase()
        let listening = try await PostgresStore.withStore(server.location(database: name), logger: quiet) { store in
            var values: [String] = []
            for try await value in try await store.client.query("SHOW listen_addresses").decode(String.self) {
                values.append(value)
            }
            return values
        }
        #expect(listening == ["127.0.0.1"])
        if getuid() == 0 {
            // PostgreSQL refuses root: as root the cluster belongs to nobody.
            let owner = try FileManager.default.attributesOfItem(atPath: server.directory.appendingPathComponent("data").path)[.ownerAccountID] as? NSNumber
            #expect(owner?.uint32Value == getpwnam("nobody")?.pointee.pw_uid)
        }
        // One connection (the pool would retry): the right password connects, a wrong one is refused.
        func connect(password: String) async throws {
            let connection = try await PostgresConnection.connect(
                configuration: .init(host: "127.0.0.1", port: server.port, username: server.user, password: password,
                                     database: name, tls: .disable), id: 1, logger: quiet)
            try await connection.close()
        }
        try await connect(password: server.password)
        let refused = await #expect(throws: PSQLError.self) { try await connect(password: "not-the-password") }
        #expect(refused?.serverInfo?[.sqlState] == "28P01", "\(String(reflecting: refused))")
    }

    @Test func twoListenersStartingTogetherMigrateOnce() async throws {
        let server = try PostgresSuite.server
        let location = server.location(database: try await server.createDatabase())
        // Each withStore migrates before its body: five at once, as five listeners starting.
        let versions = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<5 {
                group.addTask {
                    try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 2) { store in
                        try await store.schemaVersions()
                    }
                }
            }
            return try await group.reduce(into: [[Int]]()) { $0.append($1) }
        }
        let expected = PostgresStore.migrations.map(\.version)
        #expect(versions == Array(repeating: expected, count: 5))
        // Starting again migrates nothing.
        let again = try await PostgresStore.withStore(location, logger: quiet) { try await $0.schemaVersions() }
        #expect(again == expected)
    }
}

@Suite struct PostgresFixtureTests {
    @Test func theServerStopsAndItsFolderGoesWhenTheScopeEnds() async throws {
        let (directory, pid) = try await withPostgresServer { server in
            #expect(FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("data/PG_VERSION").path))
            #expect(processIsAlive(server.processID))
            return (server.directory, server.processID)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path))
        #expect(!processIsAlive(pid))
        #expect(!groupIsAlive(pid), "a PostgreSQL backend outlived its server")
    }
}
