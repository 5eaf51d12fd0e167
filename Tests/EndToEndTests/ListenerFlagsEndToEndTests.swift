import Foundation
import InboxCore
import InboxTesting
import Testing

/// The README's listener flags, through the built `wabox serve`: TLS, the body limit, the
/// request and idle timeouts, and what `/healthz` answers.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ListenerFlagsEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-flags")
    }

    private func curl(_ arguments: [String]) throws -> (code: String, body: String, result: CommandResult) {
        let result = try runCommand("/usr/bin/curl", ["-s", "-S", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"] + arguments)
        var lines = result.stdout.components(separatedBy: "\n")
        let code = lines.removeLast()
        return (code, lines.joined(separator: "\n"), result)
    }

    private func signedPost(_ body: Data, port: Int, scheme: String = "http", extra: [String] = []) throws -> String {
        let file = directory.appendingPathComponent("body-\(UUID().uuidString).json")
        try body.write(to: file)
        let signature = WebhookSignature(appSecret: Fixtures.appSecret).header(for: body)
        return try curl(extra + ["-X", "POST", "\(scheme)://127.0.0.1:\(port)/webhook", "-H", "Expect:",
                                 "-H", "X-Hub-Signature-256: \(signature)", "--data-binary", "@\(file.path)"]).code
    }

    /// Connects to the port and waits for the server to close the connection; the seconds it took.
    private func secondsUntilClosed(port: Int, sending bytes: String = "", timeout: Double = 20) throws -> Double? {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0, "could not connect to \(port)")
        if !bytes.isEmpty { _ = bytes.withCString { send(socket, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let started = Date()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let read = recv(socket, &buffer, buffer.count, 0)
            if read == 0 || (read < 0 && errno == ECONNRESET) { return Date().timeIntervalSince(started) }
            if read < 0 { return nil }  // the timeout passed with the connection still open
        }
    }

    @Test func tlsCertAndKeyServeHTTPSCheckedWithCurl() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key.pem").path
        let certificate = directory.appendingPathComponent("cert.pem").path
        let made = try runCommand(try requireTool("/usr/bin/openssl", package: "openssl"), [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=wabox test", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
        ])
        try #require(made.status == 0, "openssl: \(made.stderr)")
        try await withProcesses { scope in
            let serve = try scope.start(try waboxBinary(), ["serve", "--db", databasePath, "--listen", "127.0.0.1:0",
                                                            "--tls-cert", certificate, "--tls-key", key],
                                        environment: environment, logFile: directory.appendingPathComponent("serve.log"))
            let port = try #require(try await serve.waitForLog(#"listening on https://127\.0\.0\.1:(\d+)/webhook"#).flatMap(Int.init),
                                    "\(serve.log)")
            let verify = try curl(["--cacert", certificate,
                                   "https://127.0.0.1:\(port)/webhook?hub.mode=subscribe&hub.verify_token=\(Fixtures.verifyToken)&hub.challenge=77"])
            #expect(verify.code == "200" && verify.body == "77", "\(verify.result.stderr)")
            #expect(try signedPost(try Fixtures.data("text"), port: port, scheme: "https", extra: ["--cacert", certificate]) == "200")
            let plain = try curl(["http://127.0.0.1:\(port)/healthz"])
            #expect(plain.code == "000", "plain HTTP to the HTTPS port got \(plain.code)")
            #expect(await serve.stop() == 0)
        }
        let exported = try runCommand(try waboxBinary(), ["export", "--db", databasePath], environment: environment)
        #expect(exported.stdout.split(separator: "\n").count == 1, "\(exported.stdout)")
        let half = try runCommand(try waboxBinary(), ["serve", "--db", databasePath, "--tls-cert", certificate],
                                  environment: environment)
        #expect(half.status != 0 && half.stderr.contains("--tls-key"), "\(half.stderr)")
    }

    @Test func bodyLimitRequestTimeoutAndIdleTimeoutAreFlags() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope, ["--body-limit", "3000", "--request-timeout", "1",
                                                                 "--idle-timeout", "2"])
            let small = try Fixtures.data("text")
            try #require(small.count < 3000)
            #expect(try signedPost(small, port: port) == "200")
            var big = small
            big.append(Data(repeating: UInt8(ascii: " "), count: 3000))
            #expect(try signedPost(big, port: port) == "413")

            // A request that never completes is cut off after --request-timeout, not the default 15 s.
            let partial = "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"object\":"
            let cut = try secondsUntilClosed(port: port, sending: partial, timeout: 10)
            #expect(cut != nil && cut! < 8, "an unfinished request stayed open \(cut.map { "\($0) s" } ?? "past 10 s")")
            // A connection that sends nothing closes after --idle-timeout, not the default 60 s.
            let idle = try secondsUntilClosed(port: port, timeout: 20)
            #expect(idle != nil && idle! < 15, "an idle connection stayed open \(idle.map { "\($0) s" } ?? "past 20 s")")
            #expect(await serve.stop() == 0)
        }
    }

    @Test func healthzAnswersItsFields() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope)
            let health = try curl(["http://127.0.0.1:\(port)/healthz"])
            #expect(health.code == "200")
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any],
                                      "not JSON: \(health.body)")
            #expect(fields["status"] as? String == "ok")
            #expect(fields["database"] as? String == "ok")
            #expect(fields["queue"] as? Int == 0)
            #expect(fields["applier_lag"] as? Int == 0)
            #expect(Set(fields.keys) == ["status", "database", "queue", "applier_lag"], "\(fields.keys)")
            #expect(await serve.stop() == 0)
        }
    }

    /// `--log-format json`: every line `wabox serve` writes, from start to a signal, parses as
    /// one JSON object, and a bad signature's warning is among them.
    @Test func logFormatJSONWritesOneObjectPerLine() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            let (serve, port) = try await startServe(in: scope, ["--log-format", "json"])
            let forged = try curl(["-X", "POST", "http://127.0.0.1:\(port)/webhook", "-H", "Expect:",
                                   "-H", "X-Hub-Signature-256: sha256=\(String(repeating: "0", count: 64))", "--data-binary", "{}"])
            #expect(forged.code == "401")
            #expect(await serve.stop() == 0)
            let lines = serve.log.split(separator: "\n").map(String.init)
            #expect(lines.count >= 3, "\(serve.log)")
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["level"] is String && object?["message"] is String, "not a log object: \(line)")
            }
            #expect(lines.contains { $0.contains("listening on http://127.0.0.1:\(port)/webhook") }, "\(serve.log)")
            #expect(!serve.log.contains(Fixtures.appSecret), "the app secret reached the log")
        }
    }
}
