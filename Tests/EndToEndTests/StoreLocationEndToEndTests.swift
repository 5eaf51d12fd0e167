import Foundation
import InboxTesting
import Testing

/// Every command takes a postgres:// URL for --db, WABOX_DB or db (issue 19), but the two
/// that keep no shared inbox: `wabox demo --db` refuses one in words (it fills an inbox of
/// its own), and `wabox simulate`, which reads no database, pays no heed to a team's URL.
/// Neither creates a file named `postgres:`, nor prints the password.
@Suite struct StoreLocationEndToEndTests {
    @Test func theDemoRefusesAPostgresURLAndSimulateIgnoresIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-url-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = "postgres://wabox:hunter2-secret@127.0.0.1:5432/inbox"
        let environment = ["XDG_CONFIG_HOME": directory.path, "XDG_DATA_HOME": directory.path]
        let demo = try runCommand(try waboxBinary(), ["demo", "--db", url], environment: environment)
        #expect(demo.status == 1, "\(demo.stderr)")
        #expect(demo.stderr.contains("wabox demo fills an inbox of its own") && demo.stderr.contains("give --db a file path"),
                "\(demo.stderr)")
        // simulate with the team's URL in WABOX_DB: what it lacks is the app secret, not a database.
        let simulate = try runCommand(try waboxBinary(), ["simulate", "--url", "http://127.0.0.1:9/webhook"],
                                      environment: environment.merging(["WABOX_DB": url]) { $1 })
        #expect(simulate.status == 1, "\(simulate.stderr)")
        #expect(simulate.stderr.contains("signs webhooks with the app secret"), "\(simulate.stderr)")
        for output in [demo.stdout, demo.stderr, simulate.stdout, simulate.stderr] {
            #expect(!output.contains("hunter2"), "the password was printed")
        }
        let cwd = FileManager.default.currentDirectoryPath
        #expect(!FileManager.default.fileExists(atPath: cwd + "/postgres:"), "a file named postgres: was created")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).allSatisfy { !$0.contains("postgres") })
    }
}
