import BuildInfo
import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// The built binary, driven as an operator would: `wabox serve` on a free loopback port,
/// real HTTP with curl, then `wabox export`.
@Suite(.serialized) struct ServeEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-e2e")
    }

    private func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
        let result = try runCommand("/usr/bin/curl", ["-s", "-S", "-o", "-", "-w", "\n%{http_code}"] + arguments)
        var lines = result.stdout.components(separatedBy: "\n")
        let status = Int(lines.removeLast()) ?? -1
        return (status, lines.joined(separator: "\n"))
    }

    private func post(_ file: URL, port: Int, signature: String) throws -> (status: Int, body: String) {
        try curl(["-X", "POST", "http://127.0.0.1:\(port)/webhook", "-H", "Content-Type: application/json",
                  "-H", "X-Hub-Signature-256: \(signature)", "--data-binary", "@\(file.path)"])
    }

    private func export(_ extra: [String] = []) throws -> CommandResult {
        try runCommand(try waboxBinary(), ["export", "--db", databasePath, "--format", "jsonl"] + extra,
                       environment: environment)
    }

    @Test func signedPostsAreStoredAndExportedAndReplaysChangeNothing() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)

            let verify = try curl(["http://127.0.0.1:\(port)/webhook?hub.mode=subscribe&hub.verify_token=\(Fixtures.verifyToken)&hub.challenge=987654"])
            #expect(verify.status == 200)
            #expect(verify.body == "987654")

            // The business replied earlier (an outbox row accepted as wamid.multi.out.1); the
            // webhook brings its delivery status and a reaction to it.
            let store = try InboxDatabase(path: databasePath)
            _ = try await store.ingest(Fixtures.webhook("text"))
            let conversation = try #require(try store.conversations().items.first)
            try await store.enqueueOutbound(in: conversation.id, content: .text(body: "Votre colis arrive demain"),
                                            localID: "l-1", at: 1_764_404_500)
            try await store.markAccepted(localID: "l-1", wamid: "wamid.multi.out.1", at: 1_764_404_501)

            let file = Fixtures.directory.appendingPathComponent("multi_entry.json")
            let signature = WebhookSignature(appSecret: Fixtures.appSecret).header(for: try Data(contentsOf: file))
            let first = try post(file, port: port, signature: signature)
            #expect(first.status == 200)

            let exported = try export()
            #expect(exported.status == 0, "\(exported.stderr)")
            let records = try exported.stdout.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            #expect(records.map { $0["id"] as? String } == [
                "wamid.HBgLMzM2MTIzNDU2NzgVAgASGBQzQUI5RjE2QjQ2QzE0RjQ2NzQ4NgA=", "wamid.multi.out.1",
                "wamid.multi.1", "wamid.multi.2", "wamid.multi.3", "wamid.multi.4",
            ])
            #expect(records.map { $0["status"] as? String } == ["received", "delivered", "received", "received", "received", "received"])
            let reactions = records[1]["reactions"] as? [[String: Any]]
            #expect(reactions?.first?["emoji"] as? String == "🙏")
            #expect((records[5]["contact"] as? [String: Any])?["username"] as? String == "night.owl")
            #expect(records[5]["timestamp"] as? Int == 1_764_405_004)

            // A replay is acknowledged and changes nothing.
            let replay = try post(file, port: port, signature: signature)
            #expect(replay.status == 200)
            #expect(try export().stdout == exported.stdout)

            // A bad signature gets 401 and stores nothing.
            let countsBefore = try store.counts()
            let bad = try post(file, port: port, signature: "sha256=" + String(repeating: "ab", count: 32))
            #expect(bad.status == 401)
            #expect(try store.counts() == countsBefore)

            // One contact by any identifier.
            let amelie = try export(["--contact", "FR.8837465512093847561"])
            #expect(amelie.stdout.split(separator: "\n").count == 4)

            let health = try curl(["http://127.0.0.1:\(port)/healthz"])
            #expect(health.status == 200)
            #expect(try curl(["http://127.0.0.1:\(port)/elsewhere"]).status == 404)

            // SIGTERM shuts down gracefully.
            #expect(await serve.stop() == 0)
            #expect(!serve.log.contains(Fixtures.appSecret))
            #expect(!serve.log.contains(Fixtures.verifyToken))
        }
    }

    @Test func oversizedBodyIsRefusedWith413() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let big = directory.appendingPathComponent("big.json")
            try Data(repeating: UInt8(ascii: " "), count: 5 * 1024 * 1024).write(to: big)
            let response = try post(big, port: port, signature: "sha256=" + String(repeating: "0", count: 64))
            #expect(response.status == 413)
            await serve.stop()
        }
    }

    @Test func missingSecretsAreAClearStartupError() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = self.environment
        environment["WABOX_APP_SECRET"] = nil
        let result = try runCommand(try waboxBinary(), ["serve", "--db", databasePath], environment: environment)
        #expect(result.status == 1)
        #expect(result.stderr.contains("WABOX_APP_SECRET"))
        #expect(!result.stderr.contains("Fatal error"))

        environment = self.environment
        environment["WABOX_VERIFY_TOKEN"] = nil
        let noToken = try runCommand(try waboxBinary(), ["serve", "--db", databasePath], environment: environment)
        #expect(noToken.status == 1)
        #expect(noToken.stderr.contains("WABOX_VERIFY_TOKEN"))
    }

    @Test func configFileReadableByOthersIsRefused() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config.toml")
        try "app_secret = \"from-the-file-1234\"\nverify_token = \"tok\"\nlisten = \"127.0.0.1:0\"\n"
            .write(to: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: config.path)
        let result = try runCommand(try waboxBinary(), ["serve", "--db", databasePath, "--config", config.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("chmod 600 \(config.path)"))
        #expect(!result.stderr.contains("from-the-file-1234"))

        try "not = [valid".write(to: config, atomically: true, encoding: .utf8)
        let invalid = try runCommand(try waboxBinary(), ["export", "--db", databasePath, "--config", config.path])
        #expect(invalid.status == 1)
        #expect(invalid.stderr.contains("not valid TOML"))
    }

    @Test func configFileSuppliesSettingsAndFlagsWin() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config.toml")
        try "app_secret = \"\(Fixtures.appSecret)\"\nverify_token = \"file-token\"\nlisten = \"127.0.0.1:1\"\n"
            .write(to: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config.path)
        try await withProcesses { scope in
            let serve = try scope.start(
                try waboxBinary(), ["serve", "--db", databasePath, "--config", config.path, "--listen", "127.0.0.1:0"],
                environment: ["XDG_CONFIG_HOME": directory.path],
                logFile: directory.appendingPathComponent("serve.log"))
            let port = try await serve.waitForLog(#"listening on http://127\.0\.0\.1:(\d+)/webhook"#).flatMap(Int.init)
            let found = try #require(port, "\(serve.log)")
            let verify = try curl(["http://127.0.0.1:\(found)/webhook?hub.mode=subscribe&hub.verify_token=file-token&hub.challenge=ok"])
            #expect(verify.body == "ok")
            await serve.stop()
        }
    }

    @Test func exportExplainsWhatIsWrong() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = try export()
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no database at \(databasePath)"))

        _ = try InboxDatabase(path: databasePath)
        let unknown = try export(["--contact", "4400000"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no contact is known as \"4400000\""))
        let empty = try export()
        #expect(empty.status == 0)
        #expect(empty.stdout.isEmpty)
    }

    @Test func everyCommandHasHelpAndVersion() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        for command in [[], ["serve"], ["export"], ["journal"], ["journal", "show"], ["replay"]] {
            let help = try runCommand(try waboxBinary(), command + ["--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("USAGE"))
            let version = try runCommand(try waboxBinary(), command + ["--version"])
            #expect(version.status == 0)
            #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == BuildInfo.versionLine, "\(command)")
        }
    }
}
