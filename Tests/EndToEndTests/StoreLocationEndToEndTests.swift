import Foundation
import InboxTesting
import Testing

/// A command that runs on SQLite only (`replay`, issue 19; every other one runs on
/// PostgreSQL too) refuses a postgres:// URL for --db, WABOX_DB or db with a message that
/// says so, instead of creating a file named `postgres:`.
@Suite struct StoreLocationEndToEndTests {
    @Test(arguments: [["replay", "--dead-letters"]])
    func aPostgresURLIsRefusedInWords(_ command: [String]) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-url-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = "postgres://wabox:hunter2-secret@127.0.0.1:5432/inbox"
        let environment = ["XDG_CONFIG_HOME": directory.path, "XDG_DATA_HOME": directory.path]
        for (arguments, extra) in [(command + ["--db", url], [:]), (command, ["WABOX_DB": url])] {
            let result = try runCommand(try waboxBinary(), arguments, environment: environment.merging(extra) { $1 })
            #expect(result.status == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("this command runs on SQLite only so far"), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("this command stores in SQLite: pass a file path"), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("postgres://wabox:***@127.0.0.1:5432/inbox"), "\(result.stderr)")
            #expect(!result.stderr.contains("hunter2") && !result.stdout.contains("hunter2"), "the password was printed")
        }
        let cwd = FileManager.default.currentDirectoryPath
        #expect(!FileManager.default.fileExists(atPath: cwd + "/postgres:"), "a file named postgres: was created")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).allSatisfy { !$0.contains("postgres") })
    }
}
