import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// `wabox serve` (listener and outbox sender) and `wabox send`, built, against the fake
/// Cloud API running in the test process.
@Suite(.serialized) struct SendEndToEndTests {
    let directory: URL
    let databasePath: String
    let accessToken = "e2e-access-token-7d1f0b"

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-send-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        databasePath = directory.appendingPathComponent("data/inbox.sqlite").path
    }

    func environment(graphURL: String) -> [String: String] {
        [
            "WABOX_APP_SECRET": Fixtures.appSecret,
            "WABOX_VERIFY_TOKEN": Fixtures.verifyToken,
            "WABOX_ACCESS_TOKEN": accessToken,
            "WABOX_PHONE_NUMBER_ID": "106540352242922",
            "WABOX_GRAPH_URL": graphURL,
            "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
        ]
    }

    /// Runs the binary on a thread of its own, so that waiting for it never holds a thread
    /// of the cooperative pool that the in-process fake needs.
    func wabox(_ arguments: [String], environment: [String: String]) async throws -> CommandResult {
        let binary = try waboxBinary()
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try runCommand(binary, arguments, environment: environment) })
            }.start()
        }
    }

    func exported(_ environment: [String: String]) async throws -> [[String: Any]] {
        let result = try await wabox(["export", "--db", databasePath], environment: environment)
        return try result.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func sendPrintsTheWamidAndTicksAdvanceFromStatusWebhooks() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { graphURL in
            let environment = environment(graphURL: graphURL)
            try await withProcesses { scope in
                let serve = try scope.start(try waboxBinary(), ["serve", "--db", databasePath, "--listen", "127.0.0.1:0"],
                                            environment: environment,
                                            logFile: directory.appendingPathComponent("serve.log"))
                guard let port = try await serve.waitForLog(#"listening on http://127\.0\.0\.1:(\d+)/webhook"#).flatMap(Int.init) else {
                    await serve.stop()
                    Issue.record("wabox serve did not start:\n\(serve.log)")
                    return
                }
                #expect(serve.log.contains("outbox sender on"))
                fake.postStatuses(.init(url: "http://127.0.0.1:\(port)/webhook", appSecret: Fixtures.appSecret,
                                        delay: .milliseconds(100)))

                let sent = try await wabox(["send", "--db", databasePath, "--to", "+33612345678",
                                            "--text", "Votre colis arrive demain"], environment: environment)
                #expect(sent.status == 0, "\(sent.stderr)")
                let wamid = sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(wamid.hasPrefix("wamid."))
                #expect(fake.messageRequests.count == 1)
                #expect(fake.messageRequests.first?.json?.jsonText.contains(#""to":"33612345678""#) == true)

                // The ticks move forward as the fake's status webhooks reach `wabox serve`.
                var seen: [String] = []
                let read = try await waitUntilAsync(timeout: 15) {
                    let records = try await exported(environment)
                    guard let record = records.first(where: { $0["id"] as? String == wamid }),
                          let status = record["status"] as? String else { return false }
                    if seen.last != status { seen.append(status) }
                    return status == "read"
                }
                #expect(read, "statuses seen: \(seen); fake: \(fake.webhookErrors)\n\(serve.log)")
                #expect(seen.allSatisfy { ["accepted", "sent", "delivered", "read"].contains($0) })
                let record = try #require(try await exported(environment).first)
                #expect(record["direction"] as? String == "out")
                #expect(record["text"] as? String == "Votre colis arrive demain")
                #expect((record["contact"] as? [String: Any])?["wa_id"] as? String == "33612345678")

                // The window is closed for this customer: a clear refusal, exit 1.
                fake.closeWindow(for: "33612345678")
                let refused = try await wabox(["send", "--db", databasePath, "--to", "33612345678", "--text", "Encore ?"],
                                              environment: environment)
                #expect(refused.status == 1)
                #expect(refused.stderr.contains("window closed"))
                #expect(refused.stderr.contains("template"))

                // A bad token halts sending with the reason.
                fake.setAccessToken("rotated-token")
                let halted = try await wabox(["send", "--db", databasePath, "--to", "33612345678", "--text", "Allô ?"],
                                             environment: environment)
                #expect(halted.status == 1)
                #expect(halted.stderr.contains("access token"), "\(halted.stderr)")
                #expect(!halted.stderr.contains(accessToken))

                #expect(await serve.stop() == 0)
                #expect(!serve.log.contains(accessToken))
            }
        }
    }

    @Test func sendExplainsMissingSettings() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = environment(graphURL: "http://127.0.0.1:1")
        environment["WABOX_ACCESS_TOKEN"] = nil
        let noToken = try await wabox(["send", "--db", databasePath, "--to", "33612345678", "--text", "x"],
                                      environment: environment)
        #expect(noToken.status == 1)
        #expect(noToken.stderr.contains("WABOX_ACCESS_TOKEN"))

        let unknown = try await wabox(["send", "--db", databasePath, "--to", "@nobody", "--text", "x"],
                                      environment: self.environment(graphURL: "http://127.0.0.1:1"))
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no contact is known as \"@nobody\""))

        for flag in ["--help", "--version"] {
            let result = try await wabox(["send", flag], environment: [:])
            #expect(result.status == 0)
            #expect(result.stdout.contains(flag == "--help" ? "USAGE" : "0.1.0"))
        }
    }

    /// `wabox send --file`: refused with the limit in words, or uploaded and sent by id;
    /// the export shows the file.
    @Test func sendAFileFromAScript() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let label = directory.appendingPathComponent("label-4471.pdf")
        try Data("%PDF-1.4 label".utf8).write(to: label)
        let tooBig = directory.appendingPathComponent("scan.jpg")
        try Data(count: 6 * 1024 * 1024).write(to: tooBig)
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { graphURL in
            let environment = environment(graphURL: graphURL)
            let refused = try await wabox(["send", "--db", databasePath, "--to", "33612345678", "--file", tooBig.path],
                                          environment: environment)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("scan.jpg is 6291456 bytes: WhatsApp takes image files up to 5 MB"), "\(refused.stderr)")
            let sent = try await wabox(["send", "--db", databasePath, "--to", "33612345678", "--file", label.path,
                                        "--caption", "Votre étiquette"], environment: environment)
            #expect(sent.status == 0, "\(sent.stderr)")
            #expect(sent.stdout.hasPrefix("wamid."))
            #expect(fake.requests.filter { $0.path.hasSuffix("/media") }.count == 1)
            let rows = try await exported(environment)
            let row = try #require(rows.last)
            #expect(row["type"] as? String == "document")
            #expect(row["caption"] as? String == "Votre étiquette")
            let media = try #require(row["media"] as? [String: Any])
            #expect(media["filename"] as? String == "label-4471.pdf")
            #expect(media["mime_type"] as? String == "application/pdf")
            #expect(media["state"] as? String == "ready")
            #expect((media["path"] as? String)?.hasPrefix("/") == true, "\(media)")
            #expect((media["id"] as? String)?.isEmpty == false, "the upload's media id")
            #expect(media["file_size"] as? Int == 14)
        }
    }
}

/// `waitUntil` for an async condition.
func waitUntilAsync(timeout: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()

}
