import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// `wabox simulate` against a running `wabox serve`, and `wabox doctor` against a good and a
/// broken configuration: the built binary, real HTTP on loopback.
@Suite(.serialized) struct SimulateDoctorTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-tools-e2e")
    }

    // MARK: - Helpers

    /// Runs the binary on a thread of its own, so that waiting for it never holds a thread
    /// of the cooperative pool that an in-process fake needs.
    private func wabox(_ arguments: [String], environment: [String: String]) async throws -> CommandResult {
        let binary = try waboxBinary()
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try runCommand(binary, arguments, environment: environment) })
            }.start()
        }
    }

    private func exported() throws -> [[String: Any]] {
        let result = try runCommand(try waboxBinary(), ["export", "--db", databasePath], environment: environment)
        return try result.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    // MARK: - simulate

    @Test func simulatePresetsAndFilesAreStoredByServe() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            // The default URL comes from the listen setting.
            var environment = self.environment
            environment["WABOX_LISTEN"] = "127.0.0.1:\(port)"

            let text = try runCommand(try waboxBinary(), ["simulate", "--text", "Bonjour, où est mon colis ? 📦",
                                                          "--from", "+33600000001", "--name", "Zoé Martin"],
                                      environment: environment)
            #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
            #expect(text.stdout.contains("→ POST http://127.0.0.1:\(port)/webhook: text message wamid."))
            #expect(text.stdout.contains(" from +33600000001 (Zoé Martin), signed with app secret …6789"))
            #expect(text.stdout.contains("← 200 OK: EVENT_RECEIVED"))
            #expect(!text.stdout.contains(Fixtures.appSecret))

            let records = try exported()
            #expect(records.count == 1)
            let first = try #require(records.first)
            #expect(first["text"] as? String == "Bonjour, où est mon colis ? 📦")
            #expect(first["type"] as? String == "text")
            #expect((first["contact"] as? [String: Any])?["wa_id"] as? String == "33600000001")
            #expect((first["contact"] as? [String: Any])?["name"] as? String == "Zoé Martin")
            let firstID = try #require(first["id"] as? String)
            #expect(text.stdout.contains("text message \(firstID) from"))

            // An image quoting the text, and a status for an id the store does not know yet.
            let image = try runCommand(try waboxBinary(), ["simulate", "--type", "image", "--text", "Le carton abîmé",
                                                           "--from", "33600000001", "--reply-to", firstID],
                                       environment: environment)
            #expect(image.status == 0, "\(image.stderr)")
            let status = try runCommand(try waboxBinary(), ["simulate", "--status", "read", "--id", "wamid.not.sent.yet"],
                                        environment: environment)
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("status read of wamid.not.sent.yet"))

            // A file's exact bytes.
            let file = Fixtures.directory.appendingPathComponent("multi_entry.json")
            let posted = try runCommand(try waboxBinary(), ["simulate", "--file", file.path], environment: environment)
            #expect(posted.status == 0, "\(posted.stderr)")
            #expect(posted.stdout.contains("← 200 OK"))

            let all = try exported()
            let imageRecord = try #require(all.first { $0["type"] as? String == "image" })
            #expect(imageRecord["caption"] as? String == "Le carton abîmé")
            #expect(imageRecord["reply_to"] as? String == firstID)
            #expect(all.contains { $0["id"] as? String == "wamid.multi.1" })
            #expect(all.contains { $0["id"] as? String == "wamid.multi.4" })

            // Options that do not fit together are refused before anything is sent.
            let noID = try runCommand(try waboxBinary(), ["simulate", "--type", "status", "--status", "read"], environment: environment)
            #expect(noID.status != 0)
            #expect(noID.stderr.contains("--id"))
            let unknownType = try runCommand(try waboxBinary(), ["simulate", "--type", "carrier-pigeon"], environment: environment)
            #expect(unknownType.status != 0)
            #expect(unknownType.stderr.contains("request_welcome"))
            #expect(await serve.stop() == 0)
        }
    }

    @Test func simulateBurstOfFiftyIsAllAccepted() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let burst = try runCommand(try waboxBinary(), ["simulate", "--url", "http://127.0.0.1:\(port)/webhook", "--count", "50"],
                                       environment: environment)
            #expect(burst.status == 0, "\(burst.stdout)\(burst.stderr)")
            #expect(burst.stdout.contains("50 × text message from +15550100001 (Sam Tester), 16 at a time"))
            #expect(burst.stdout.contains("← 50 × 200 OK: EVENT_RECEIVED"))
            #expect(burst.stdout.contains("50 requests in "))
            #expect(burst.stdout.contains("requests/s"))
            let records = try exported()
            #expect(records.count == 50)
            #expect(Set(records.compactMap { $0["id"] as? String }).count == 50)
            #expect(Set(records.compactMap { $0["text"] as? String }).count == 50)
            #expect(await serve.stop() == 0)
        }
    }

    @Test func simulateWithTheWrongSecretShowsTheListenersAnswer() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            var environment = self.environment
            let wrongSecret = "not-the-listeners-secret-4242"
            environment["WABOX_APP_SECRET"] = wrongSecret
            let refused = try runCommand(try waboxBinary(), ["simulate", "--url", "http://127.0.0.1:\(port)/webhook"],
                                         environment: environment)
            #expect(refused.status == 1)
            #expect(refused.stdout.contains("← 401 Unauthorized: X-Hub-Signature-256 does not match the body"))
            #expect(refused.stderr.contains("the listener refused the signature"))
            #expect(refused.stderr.contains("…4242"))
            #expect(!(refused.stdout + refused.stderr).contains(wrongSecret))
            #expect(try exported().isEmpty)

            let burst = try runCommand(try waboxBinary(), ["simulate", "--url", "http://127.0.0.1:\(port)/webhook", "--count", "5"],
                                       environment: environment)
            #expect(burst.status == 1)
            #expect(burst.stdout.contains("← 5 × 401 Unauthorized"))
            #expect(burst.stderr.contains("5 of 5 webhooks were not accepted"))

            let wrongPath = try runCommand(try waboxBinary(), ["simulate", "--url", "http://127.0.0.1:\(port)/hooks"],
                                           environment: self.environment)
            #expect(wrongPath.status == 1)
            #expect(wrongPath.stdout.contains("← 404"))
            #expect(wrongPath.stderr.contains("POST /webhook"))
            #expect(await serve.stop() == 0)
        }
    }

    @Test func simulateExplainsWhatIsMissing() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try closedPort()
        let nothing = try runCommand(try waboxBinary(), ["simulate", "--url", "http://127.0.0.1:\(port)/webhook"],
                                     environment: environment)
        #expect(nothing.status == 1)
        #expect(nothing.stderr.contains("nothing listens on 127.0.0.1:\(port): start `wabox serve` or `wabox`"),
                "\(nothing.stdout)\(nothing.stderr)")

        var noDefaultListener = environment
        noDefaultListener["WABOX_LISTEN"] = "0.0.0.0:\(port)"
        let wildcard = try runCommand(try waboxBinary(), ["simulate", "--count", "3"], environment: noDefaultListener)
        #expect(wildcard.status == 1)
        #expect(wildcard.stdout.contains("→ POST http://127.0.0.1:\(port)/webhook"))
        #expect(wildcard.stderr.contains("nothing listens on 127.0.0.1:\(port)"))

        var noSecret = environment
        noSecret["WABOX_APP_SECRET"] = nil
        let unsigned = try runCommand(try waboxBinary(), ["simulate", "--url", "http://127.0.0.1:\(port)/webhook"],
                                      environment: noSecret)
        #expect(unsigned.status == 1)
        #expect(unsigned.stderr.contains("WABOX_APP_SECRET"))
        #expect(unsigned.stderr.contains("app_secret"))

        for flag in ["--help", "--version"] {
            for command in ["simulate", "doctor"] {
                let result = try runCommand(try waboxBinary(), [command, flag])
                #expect(result.status == 0)
                #expect(result.stdout.contains(flag == "--help" ? "USAGE" : "0.1.0"))
            }
        }
    }

    // MARK: - doctor

    @Test func doctorPassesAGoodConfiguration() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let accessToken = "doctor-good-token-5a6b7c8d"
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { graphURL in
            let configDirectory = directory.appendingPathComponent("config/wabox")
            try FileManager.default.createDirectory(at: configDirectory, withIntermediateDirectories: true)
            let config = configDirectory.appendingPathComponent("config.toml")
            try """
                app_secret = "\(Fixtures.appSecret)"
                verify_token = "\(Fixtures.verifyToken)"
                access_token = "\(accessToken)"
                phone_number_id = "106540352242922"
                waba_id = "102290129340398"
                graph_url = "\(graphURL)"
                """.write(to: config, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config.path)
            _ = try InboxDatabase(path: databasePath)
            let port = try closedPort()
            let environment = [
                "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
                "WABOX_LISTEN": "127.0.0.1:\(port)",
                "WABOX_DOWNLOAD_DIR": directory.appendingPathComponent("saved").path,
                "WABOX_TRANSCRIBE_COMMAND": "/bin/cat",
                "LANG": "C.UTF-8", "LC_ALL": "", "TERM": "xterm-256color",
            ]
            let result = try await wabox(["doctor", "--db", databasePath], environment: environment)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").filter { !$0.isEmpty }
            let checks = lines.filter { ["✓", "!", "✗"].contains($0.first.map(String.init) ?? "") }
            // The applier, the media folder, the download folder, open_command, transcribe_command, Meta's account
            // alerts, this session's identity and who can write the audit trail among them.
            #expect(checks.count == 17, "\(result.stdout)")
            let account = InboxDatabase.sessionAccount()
            #expect(result.stdout.contains("✓ identity    this session acts as account \(account) (its login): every reply"), "\(result.stdout)")
            #expect(result.stdout.contains("✓ audit trail only account \(account) can write"), "\(result.stdout)")
            #expect(result.stdout.contains("✓ account     no alert from Meta in force"), "\(result.stdout)")
            #expect(checks.allSatisfy { $0.hasPrefix("✓") }, "\(result.stdout)")
            #expect(result.stdout.contains("config.toml sets access_token, app_secret, graph_url, phone_number_id, verify_token, waba_id; mode 600"))
            #expect(result.stdout.contains("app_secret …6789 (config file)"))
            #expect(result.stdout.contains("access_token …7c8d (config file)"))
            #expect(result.stdout.contains("integrity ok"))
            #expect(result.stdout.contains("✓ applier     applier_lag 0: of the webhooks acknowledged, all applied"), "\(result.stdout)")
            #expect(result.stdout.contains("✓ media       none yet at \(directory.appendingPathComponent("data/media").path)"), "\(result.stdout)")
            #expect(result.stdout.contains("✓ downloads   none yet at \(directory.appendingPathComponent("saved").path); made by the first `S`"))
            #expect(result.stdout.contains("✓ open        open_command not set"))
            #expect(result.stdout.contains("✓ transcribe  /bin/cat is /bin/cat: voice notes are transcribed with it"))
            #expect(result.stdout.contains("127.0.0.1:\(port) is free"))
            #expect(result.stdout.contains("token …7c8d valid; 106540352242922 is +1 555-078-3881 “wabox Test Shop”, quality GREEN"))
            #expect(result.stdout.contains("UTF-8 (LANG=C.UTF-8)"))
            #expect(result.stdout.contains("TERM=xterm-256color"))
            #expect(result.stdout.contains("No problems found."))
            for secret in [Fixtures.appSecret, Fixtures.verifyToken, accessToken] {
                #expect(!(result.stdout + result.stderr).contains(secret))
            }
            #expect(fake.requests.last?.path == "/v26.0/106540352242922")
            #expect(fake.requests.last?.authorization == "Bearer \(accessToken)")

            // A running `wabox serve` on the listen address is told apart from a stranger.
            try await withProcesses { scope in
                let (serve, servePort) = try await startServe(in: scope)
                var held = environment
                held["WABOX_LISTEN"] = "127.0.0.1:\(servePort)"
                let withServe = try await wabox(["doctor", "--db", databasePath], environment: held)
                #expect(withServe.status == 0, "\(withServe.stdout)")
                #expect(withServe.stdout.contains("✓ listen      127.0.0.1:\(servePort) is held by a running wabox listener"))
                await serve.stop()
            }
        }
    }

    @Test func doctorExplainsABrokenConfiguration() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let fileSecret = "broken-file-secret-abcdef123"
        let fileToken = "expired-file-token-9f8e7d6c"
        let staleToken = "stale-env-token-0a1b2c3d4e"
        let fake = FakeCloudAPI(accessToken: "the-only-valid-token-000")
        try await fake.withRunning { graphURL in
            let config = directory.appendingPathComponent("config.toml")
            try "app_secret = \"\(fileSecret)\"\naccess_token = \"\(fileToken)\"\n".write(to: config, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: config.path)
            let notAFolder = directory.appendingPathComponent("a-file")
            try Data("x".utf8).write(to: notAFolder)
            let graphPort = try #require(URL(string: graphURL)?.port)
            let environment = [
                "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
                "WABOX_ACCESS_TOKEN": staleToken,
                "WABOX_PHONE_NUMBER_ID": "106540352242922",
                "WABOX_GRAPH_URL": graphURL,
                // Something that is not wabox holds the listen port: the fake itself.
                "WABOX_LISTEN": "127.0.0.1:\(graphPort)",
                "LANG": "C.UTF-8", "LC_ALL": "", "TERM": "xterm-256color",
            ]
            let result = try await wabox(["doctor", "--config", config.path, "--db", notAFolder.path + "/inbox.sqlite"],
                                         environment: environment)
            let output = result.stdout + result.stderr
            #expect(result.status == 1, "\(output)")
            #expect(result.stdout.contains("✗ settings"))
            #expect(result.stdout.contains("chmod 600 \(config.path)"))
            #expect(result.stdout.contains("✗ receiving   app_secret is not set"))
            #expect(result.stdout.contains("set WABOX_APP_SECRET, or app_secret in \(config.path) once it can be read"))
            #expect(result.stdout.contains("verify_token is not set"))
            #expect(result.stdout.contains("✓ sending     access_token …3d4e (WABOX_ACCESS_TOKEN)"))
            #expect(result.stdout.contains("! templates   waba_id is not set"))
            #expect(result.stdout.contains("✗ database    cannot be created at \(notAFolder.path)/inbox.sqlite: \(notAFolder.path) is a file"))
            #expect(result.stdout.contains("✗ listen      127.0.0.1:\(graphPort) is in use by another program"))
            #expect(result.stdout.contains("✗ Graph API   the access token …3d4e was refused: error 190 means it has expired or is invalid"))
            #expect(result.stdout.contains("set WABOX_ACCESS_TOKEN"))
            #expect(result.stdout.contains("problems (✗)"))
            for secret in [fileSecret, fileToken, staleToken] {
                #expect(!output.contains(secret), "a secret was printed")
            }
            #expect(!output.contains("Fatal error"))
        }
    }

    @Test func doctorWithNothingSetSaysWhatToSet() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try closedPort()
        let result = try await wabox(["doctor", "--db", databasePath],
                                     environment: ["XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
                                                   "WABOX_LISTEN": "127.0.0.1:\(port)",
                                                   "WABOX_GRAPH_URL": "http://127.0.0.1:\(port)",
                                                   "TERM": "no-such-terminal-xyz", "NO_COLOR": "1"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("✓ config file none at"))
        #expect(result.stdout.contains("app_secret is not set"))
        #expect(result.stdout.contains("access_token is not set"))
        #expect(result.stdout.contains("phone_number_id is not set: set WABOX_PHONE_NUMBER_ID"))
        #expect(result.stdout.contains("✓ database    none yet at \(databasePath)"))
        #expect(result.stdout.contains("! Graph API   not checked: no access token"))
        #expect(result.stdout.contains("✗ terminal    TERM=no-such-terminal-xyz has no terminfo entry"))
        #expect(!FileManager.default.fileExists(atPath: databasePath), "doctor must not create the database")

        // A Graph API that cannot be reached is explained, not thrown.
        let unreachable = try await wabox(["doctor", "--db", databasePath],
                                          environment: ["XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
                                                        "WABOX_ACCESS_TOKEN": "some-token-1234abcd",
                                                        "WABOX_PHONE_NUMBER_ID": "106540352242922",
                                                        "WABOX_GRAPH_URL": "http://127.0.0.1:\(port)"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stdout.contains("✗ Graph API   cannot connect to 127.0.0.1:\(port)"), "\(unreachable.stdout)")
        #expect(!unreachable.stdout.contains("some-token-1234abcd"))
    }
}
