import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// `wabox serve`'s operations endpoints over real HTTP: `/metrics` scraped and parsed as
/// the Prometheus text format, its counters moving by exactly what the test sent;
/// `--metrics-listen`; `/readyz` during a start-up backlog.
@Suite(.serialized) struct MetricsEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-metrics")
    }

    private func get(_ url: String) throws -> (status: Int, body: String) {
        let result = try runCommand("/usr/bin/curl", ["-s", "-S", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}", url])
        var lines = result.stdout.components(separatedBy: "\n")
        let status = Int(lines.removeLast()) ?? -1
        return (status, lines.joined(separator: "\n"))
    }

    private func scrape(port: Int) throws -> PrometheusScrape {
        let answer = try get("http://127.0.0.1:\(port)/metrics")
        try #require(answer.status == 200, "GET /metrics answered \(answer.status): \(answer.body)")
        return try PrometheusScrape(parsing: answer.body)
    }

    private func post(_ body: Data, port: Int, signature: String? = nil) throws -> String {
        let file = directory.appendingPathComponent("body-\(UUID().uuidString).json")
        try body.write(to: file)
        let header = signature ?? WebhookSignature(appSecret: Fixtures.appSecret).header(for: body)
        return try runCommand("/usr/bin/curl", [
            "-s", "-S", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "-H", "Expect:", "-X", "POST",
            "http://127.0.0.1:\(port)/webhook", "-H", "X-Hub-Signature-256: \(header)", "--data-binary", "@\(file.path)",
        ]).stdout
    }

    private static func received(_ scrape: PrometheusScrape, _ outcome: String) -> Double? {
        scrape.value("wabox_webhooks_received_total", ["outcome": outcome])
    }

    @Test func countersMoveByExactlyWhatWasSent() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope, ["--body-limit", "4096"])
            let before = try scrape(port: port)
            for outcome in ["stored", "duplicate", "bad_signature", "too_large", "dead_letter", "refused"] {
                #expect(Self.received(before, outcome) == 0, "\(outcome) before anything was sent")
            }
            #expect(before.types["wabox_webhooks_received_total"] == "counter")
            #expect(before.types["wabox_webhook_ack_seconds"] == "histogram")
            #expect(before.help["wabox_webhooks_received_total"]?.isEmpty == false)

            let now = Int64(Date().timeIntervalSince1970)
            let texts = (1...3).map { UpdateBodies.text(id: "wamid.metrics.\($0)", from: "4477009000\($0)", timestamp: now, body: "hello \($0)") }
            for body in texts { #expect(try post(body, port: port) == "200") }
            #expect(try post(texts[1], port: port) == "200")  // Meta redelivers one
            #expect(try post(texts[0], port: port, signature: "sha256=" + String(repeating: "ab", count: 32)) == "401")
            #expect(try post(texts[2], port: port, signature: "sha256=" + String(repeating: "cd", count: 32)) == "401")
            #expect(try post(Data(repeating: UInt8(ascii: " "), count: 5000), port: port) == "413")
            #expect(try post(Data(#"{"object":"whatsapp_business_account","entry":[{"changes":"#.utf8), port: port) == "200")

            // The acknowledged ones are counted once the applier has applied them.
            var last = before
            let applied = try await waitUntil(timeout: 20) {
                last = try scrape(port: port)
                return Self.received(last, "stored") == 3 && Self.received(last, "duplicate") == 1
                    && Self.received(last, "dead_letter") == 1
            }
            try #require(applied, "the applied outcomes never reached 3 stored, 1 duplicate, 1 dead letter:\n\(last.all("wabox_webhooks_received_total"))")
            let after = last
            #expect(Self.received(after, "bad_signature") == 2)
            #expect(Self.received(after, "too_large") == 1)
            #expect(Self.received(after, "refused") == 0)
            #expect(after.value("wabox_webhook_ack_seconds_count") == 5)
            #expect(after.value("wabox_journal_commit_batch_size_sum") == 5)
            #expect(after.value("wabox_journal_commit_seconds_count") == after.value("wabox_journal_commit_batch_size_count"))
            #expect(after.value("wabox_applier_lag") == 0)
            #expect(after.value("wabox_applier_lag_seconds") == 0)
            #expect(after.value("wabox_sending_halted") == 0)
            #expect(after.value("wabox_database_up") == 1)
            for state in ["queued", "in_flight", "uncertain"] {
                #expect(after.value("wabox_outbox_depth", ["state": state]) == 0)
            }

            // The process's own figures, as Prometheus's client libraries name them.
            #expect(after.types["process_cpu_seconds_total"] == "counter")
            #expect((after.value("process_resident_memory_bytes") ?? 0) > 1_000_000)
            #expect((after.value("process_open_fds") ?? 0) >= 3)
            let started = try #require(after.value("process_start_time_seconds"))
            #expect(abs(started - Double(now)) < 300, "process_start_time_seconds \(started), now \(now)")

            // Answers the webhook port also serves: health unchanged, readiness.
            #expect(try get("http://127.0.0.1:\(port)/healthz").status == 200)
            let ready = try get("http://127.0.0.1:\(port)/readyz")
            #expect(ready.status == 200)
            #expect(ready.body == "ready\n")
            #expect(await serve.stop() == 0)
        }
    }

    @Test func sendsAreCountedByOutcomeAndCloudAPIErrorCode() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let token = "metrics-access-token-5a2e"
        let store = try InboxDatabase(path: databasePath)
        _ = try await store.ingest(Fixtures.webhook("text"))
        let conversation = try #require(try store.conversations().items.first).id
        let fake = FakeCloudAPI(accessToken: token)
        try await fake.withRunning { graphURL in
            var environment = self.environment
            environment["WABOX_ACCESS_TOKEN"] = token
            environment["WABOX_PHONE_NUMBER_ID"] = UpdateBodies.phoneNumberID
            environment["WABOX_GRAPH_URL"] = graphURL
            try await withProcesses { scope in
                let (serve, port) = try await startServe(in: scope, environment: environment)
                // Curl on a thread of its own: the fake answering serve needs the cooperative pool.
                func sends() async throws -> [String: Double] {
                    let scrape = try await withCheckedThrowingContinuation { continuation in
                        Thread { continuation.resume(with: Result { try self.scrape(port: port) }) }.start()
                    }
                    var byLabels: [String: Double] = [:]
                    for sample in scrape.all("wabox_sends_total") {
                        byLabels["\(sample.labels["outcome"] ?? "?") \(sample.labels["code"] ?? "?")"] = sample.value
                    }
                    byLabels["halted gauge"] = scrape.value("wabox_sending_halted")
                    return byLabels
                }
                func send(_ localID: String, expecting expected: [String: Double]) async throws {
                    _ = try await store.enqueueOutbound(in: conversation, content: .text(body: "reply \(localID)"),
                                                        localID: localID, at: Int64(Date().timeIntervalSince1970))
                    var last: [String: Double] = [:]
                    let counted = try await waitUntilAsync(timeout: 20) {
                        last = try await sends()
                        return last == expected
                    }
                    #expect(counted, "after \(localID) expected \(expected), the scrape had \(last)\n\(serve.log)")
                }
                try await send("l-1", expecting: ["accepted none": 1, "halted gauge": 0])
                fake.failNext(1, with: .undeliverable)
                try await send("l-2", expecting: ["accepted none": 1, "failed 131026": 1, "halted gauge": 0])
                fake.failNext(1, with: .badToken)
                try await send("l-3", expecting: ["accepted none": 1, "failed 131026": 1, "halted 190": 1, "halted gauge": 1])
                #expect(await serve.stop() == 0)
            }
        }
    }

    @Test func metricsListenServesThemOnTheirOwnPortOnly() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope, ["--metrics-listen", "127.0.0.1:0"])
            let metricsPort = try #require(try await serve.waitForLog(#"metrics on http://127\.0\.0\.1:(\d+)/metrics"#).flatMap(Int.init),
                                           "no metrics listener in the log:\n\(serve.log)")
            #expect(metricsPort != port)
            #expect(try get("http://127.0.0.1:\(port)/metrics").status == 404)
            #expect(try post(UpdateBodies.text(id: "wamid.metrics.own", from: "447700900001", timestamp: 1_764_500_000,
                                               body: "hi"), port: port) == "200")
            var last: PrometheusScrape?
            let counted = try await waitUntil(timeout: 20) {
                last = try scrape(port: metricsPort)
                return last.flatMap { Self.received($0, "stored") } == 1
            }
            #expect(counted, "stored never reached 1 on the metrics port: \(last?.all("wabox_webhooks_received_total") ?? [])")
            #expect(try get("http://127.0.0.1:\(metricsPort)/webhook").status == 404)
            #expect(try get("http://127.0.0.1:\(port)/healthz").status == 200)
            #expect(await serve.stop() == 0)
        }
    }

    @Test func readyzIsUnavailableWhileTheStartUpBacklogIsApplied() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // Acknowledged by an earlier run and never applied: the applier of the next start
        // works through them, and until then the listener is not ready.
        let backlog = 20_000
        do {
            try FileManager.default.createDirectory(atPath: (databasePath as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            let store = try InboxDatabase(path: databasePath)
            let entries = (0..<backlog).map { index in
                JournalEntry(receivedAt: 1_764_500_000, body: UpdateBodies.text(
                    id: "wamid.backlog.\(index)", from: "4477001\(String(format: "%05d", index % 500))",
                    timestamp: 1_764_500_000 + Int64(index), body: "queued \(index)"))
            }
            for chunk in stride(from: 0, to: backlog, by: 5_000) {
                _ = try await store.appendToJournal(Array(entries[chunk..<min(backlog, chunk + 5_000)]))
            }
        }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let first = try get("http://127.0.0.1:\(port)/readyz")
            #expect(first.status == 503, "with \(backlog) bodies to apply, /readyz answered \(first.status) \(first.body)")
            #expect(first.body.hasPrefix("not ready: applying the start-up backlog, "), "\(first.body)")
            #expect(!first.body.dropLast().contains("\n"))
            // Healthy all the while: the process runs and the database answers.
            #expect(try get("http://127.0.0.1:\(port)/healthz").status == 200)

            var last = first
            let ready = try await waitUntil(timeout: 120) {
                last = try get("http://127.0.0.1:\(port)/readyz")
                return last.status == 200
            }
            #expect(ready, "/readyz never became ready; last answer \(last.status) \(last.body)")
            let store = try InboxDatabase(path: databasePath)
            #expect(try store.journalProgress().lag == 0)
            #expect(await serve.stop() == 0)
        }
    }
}
