import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Testing

/// The built `wabox serve` under attack: what it logs, what it refuses, what it warns of.
@Suite(.serialized) struct SecurityEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    static let previousSecret = "previous-app-secret-5150"
    static let accessToken = "EAAG-access-token-never-logged-7777"

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-security")
    }

    private func curl(_ arguments: [String]) throws -> Int {
        let result = try runCommand("/usr/bin/curl", ["-s", "-g", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"] + arguments)
        return Int(result.stdout) ?? -1
    }

    /// Every line `wabox serve` wrote while attacked holds no secret and no byte that
    /// drives a terminal, though the attacks put escape sequences in paths, headers and
    /// bodies and the secrets in requests.
    @Test func secretsAndEscapesNeverReachTheLog() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = self.environment
        environment["WABOX_APP_SECRET_PREVIOUS"] = Self.previousSecret
        environment["WABOX_ACCESS_TOKEN"] = Self.accessToken
        environment["WABOX_PHONE_NUMBER_ID"] = "106540352242922"
        environment["WABOX_GRAPH_URL"] = "http://127.0.0.1:9"
        environment["WABOX_LOG_LEVEL"] = "debug"
        try await withProcesses { scope in
            let serve = try scope.start(try waboxBinary(), ["serve", "--db", databasePath, "--listen", "127.0.0.1:0"],
                                        environment: environment, logFile: directory.appendingPathComponent("serve.log"))
            let port = try #require(try await serve.waitForLog(#"listening on http://127\.0\.0\.1:(\d+)/webhook"#).flatMap(Int.init),
                                    "\(serve.log)")
            let url = "http://127.0.0.1:\(port)/webhook"
            // Verification with wrong tokens, some of them the other secrets.
            for token in ["wrong", Fixtures.appSecret, Self.accessToken, "%1b]52;c;eA==%07"] {
                #expect(try curl(["\(url)?hub.mode=subscribe&hub.verify_token=\(token)&hub.challenge=1"]) == 403)
            }
            // Signed with the previous secret during a rotation: accepted.
            let body = try Fixtures.data("text")
            let byPrevious = WebhookSignature(appSecret: Self.previousSecret).header(for: body)
            let bodyFile = directory.appendingPathComponent("text.json")
            try body.write(to: bodyFile)
            #expect(try curl(["-X", "POST", url, "-H", "X-Hub-Signature-256: \(byPrevious)", "--data-binary", "@\(bodyFile.path)"]) == 200)
            // Bad signatures, one of them carrying the secret itself.
            for header in ["sha256=\(Fixtures.appSecret)", "sha256=" + String(repeating: "0", count: 64), "\u{1b}]52;c;eA==\u{07}"] {
                let status = try curl(["-X", "POST", url, "-H", "X-Hub-Signature-256: \(header)", "--data-binary", "@\(bodyFile.path)"])
                // A control character in a header is already refused by the HTTP decoder.
                #expect([400, 401, 429].contains(status), "\(status)")
            }
            // Signed bodies that become dead letters, their reasons quoting hostile text.
            let hostile = Data(#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":"\u001b]52;c;eA==\u0007","type":"text","text":{"body":"\u001b[2J"}}]}}]}]}"#.utf8)
            let deep = Data((String(repeating: "[", count: 60_000) + String(repeating: "]", count: 60_000)).utf8)
            var invalid = body
            invalid.insert(contentsOf: [0x1b, 0x5d, 0xff], at: 40)
            for (index, data) in [hostile, deep, invalid].enumerated() {
                let file = directory.appendingPathComponent("hostile-\(index).json")
                try data.write(to: file)
                let signature = WebhookSignature(appSecret: Fixtures.appSecret).header(for: data)
                #expect(try curl(["-X", "POST", url, "-H", "X-Hub-Signature-256: \(signature)", "--data-binary", "@\(file.path)"]) == 200)
            }
            #expect(await serve.stop() == 0, "\(serve.log)")

            let log = serve.log
            #expect(log.contains("bad signature"))
            #expect(log.contains("dead letter"))
            for secret in [Fixtures.appSecret, Fixtures.verifyToken, Self.previousSecret, Self.accessToken] {
                #expect(!log.contains(secret), "a secret reached the log")
            }
            for line in log.split(separator: "\n") {
                #expect(!line.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" || (0x7f...0x9f).contains($0.value) },
                        "a control character reached the log: \(line.unicodeScalars.map { $0.value < 0x20 ? "^\($0.value)" : String($0) }.joined())")
        }
        }
    }

    @Test func insecureModeWarnsOnEveryStart() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            for _ in 0..<2 {
                let serve = try scope.start(try waboxBinary(), ["serve", "--db", databasePath, "--listen", "127.0.0.1:0",
                                                                "--insecure-skip-signature"],
                                            environment: environment,
                                            logFile: directory.appendingPathComponent("insecure-\(UUID().uuidString).log"))
                let port = try #require(try await serve.waitForLog(#"listening on http://127\.0\.0\.1:(\d+)/webhook"#).flatMap(Int.init))
                #expect(serve.log.contains("INSECURE: --insecure-skip-signature is on"))
                let file = Fixtures.directory.appendingPathComponent("text.json")
                #expect(try curl(["-X", "POST", "http://127.0.0.1:\(port)/webhook", "--data-binary", "@\(file.path)"]) == 200)
                await serve.stop()
        }
        }
    }

    @Test func configHoldingAPreviousSecretIsRefusedWhenOthersCanReadIt() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config.toml")
        try "app_secret_previous = \"\(Self.previousSecret)\"\n".write(to: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: config.path)
        let result = try runCommand(try waboxBinary(), ["serve", "--db", databasePath, "--config", config.path],
                                    environment: environment)
        #expect(result.status == 1)
        #expect(result.stderr.contains("config file \(config.path) holds secrets but group or others can read it (mode 640)"))
        #expect(result.stderr.contains("chmod 600 \(config.path)"))
        #expect(!result.stderr.contains(Self.previousSecret))
    }

    @Test func tlsFlagsAreCheckedBeforeListening() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing-cert.pem").path
        let result = try runCommand(try waboxBinary(), ["serve", "--db", databasePath, "--listen", "127.0.0.1:0",
                                                        "--tls-cert", missing, "--tls-key", missing],
                                    environment: environment)
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot read the TLS certificate \(missing)"))
        let half = try runCommand(try waboxBinary(), ["serve", "--db", databasePath, "--tls-cert", missing],
                                  environment: environment)
        #expect(half.status != 0)
        #expect(half.stderr.contains("--tls-cert and --tls-key go together"))
    }
}
