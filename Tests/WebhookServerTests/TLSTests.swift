import Foundation
import Hummingbird
import HummingbirdTesting
import InboxCore
import InboxStore
import InboxTesting
import Logging
import Testing
import WebhookServer

/// TLS termination on the listener, checked with curl and openssl against a self-signed
/// certificate made for the test.
@Suite(.serialized) struct TLSTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private func makeCertificate(_ name: String) throws -> ListenerTLS {
        let key = directory.appendingPathComponent("\(name)-key.pem").path
        let certificate = directory.appendingPathComponent("\(name)-cert.pem").path
        let made = try runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=wabox test", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", key, "-out", certificate,
        ])
        try #require(made.status == 0, "openssl could not make a certificate: \(made.stderr)")
        return ListenerTLS(certificatePath: certificate, privateKeyPath: key)
    }

    private func curl(_ arguments: [String]) throws -> CommandResult {
        try runCommand("/usr/bin/curl", ["-s", "-S", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"] + arguments)
    }

    @Test func servesHTTPSWithTLS12OrNewerOnTheWebhookPath() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let tls = try makeCertificate("server")
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        var configuration = WebhookConfiguration(host: "127.0.0.1", port: 0, verifyToken: Fixtures.verifyToken,
                                                 appSecret: Fixtures.appSecret)
        configuration.tls = tls
        configuration.idleTimeout = .milliseconds(800)
        let app = makeWebhookApplication(configuration: configuration, database: temp.database,
                                         logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                                         now: { 1_764_500_000 })
        let body = try Fixtures.data("text")
        let bodyFile = directory.appendingPathComponent("body.json")
        try body.write(to: bodyFile)
        let signature = WebhookSignature(appSecret: Fixtures.appSecret).header(for: body)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let base = "https://127.0.0.1:\(port)"
            let verify = try curl(["--cacert", tls.certificatePath,
                                   "\(base)/webhook?hub.mode=subscribe&hub.verify_token=\(Fixtures.verifyToken)&hub.challenge=4242"])
            #expect(verify.stdout == "4242\n200", "\(verify.stderr)")
            // The hot route, served by the channel handler behind TLS.
            let post = try curl(["--cacert", tls.certificatePath, "-X", "POST", "\(base)/webhook", "-H", "Expect:",
                                 "-H", "X-Hub-Signature-256: \(signature)", "--data-binary", "@\(bodyFile.path)"])
            #expect(post.stdout == "EVENT_RECEIVED\n\n200", "\(post.stderr)")
            let unsigned = try curl(["--cacert", tls.certificatePath, "-X", "POST", "\(base)/webhook", "-H", "Expect:",
                                     "--data-binary", "@\(bodyFile.path)"])
            #expect(unsigned.stdout.hasSuffix("\n401"))
            // A certificate the client does not trust is refused by the client, as it should be.
            let untrusted = try curl(["\(base)/healthz"])
            #expect(untrusted.status != 0)
            // TLS 1.1 is refused by the server; 1.2 works.
            let old = try runCommand("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_1",
                                                          "-cipher", "DEFAULT@SECLEVEL=0"], stdin: Data())
            #expect(old.status != 0, "TLS 1.1 handshake succeeded: \(old.stdout)")
            let current = try runCommand("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-tls1_2",
                                                              "-CAfile", tls.certificatePath], stdin: Data())
            #expect(current.stdout.contains("Verify return code: 0 (ok)"), "\(current.stdout)")
            // Plain HTTP to the TLS port: the connection closes, no answer is made up.
            let plain = try curl(["http://127.0.0.1:\(port)/healthz"])
            #expect(!plain.stdout.hasSuffix("\n500"))
            #expect(plain.status != 0 && plain.stdout.hasSuffix("000"), "plain HTTP got an answer: \(plain.stdout)")
            // A client that opens a connection and never starts the handshake is cut off.
            let started = ContinuousClock.now
            try await RawConnection.open(port: port).use { _, reader in try await reader.waitForClose() }
            // The idle timeout here is 0.8 s: 15 s is generous, because on a loaded machine the
            // test's own tasks may wait seconds for a thread, and still tells a cut-off from a
            // connection left open.
            #expect(ContinuousClock.now - started < .seconds(15))
        }
        #expect(try temp.database.counts().webhooks == 1)
    }

    @Test func unusableFilesAreRefusedWithTheirNames() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try makeCertificate("first")
        let second = try makeCertificate("second")
        _ = try first.load()
        let missing = ListenerTLS(certificatePath: directory.appendingPathComponent("nope.pem").path, privateKeyPath: first.privateKeyPath)
        do {
            _ = try missing.load()
            Issue.record("a missing certificate was accepted")
        } catch {
            #expect(error.description.contains("nope.pem"))
            #expect(error.description.contains("--tls-cert"))
        }
        let swapped = ListenerTLS(certificatePath: first.privateKeyPath, privateKeyPath: first.certificatePath)
        #expect(throws: ListenerTLS.Failure.self) { try swapped.load() }
        let mismatched = ListenerTLS(certificatePath: first.certificatePath, privateKeyPath: second.privateKeyPath)
        do {
            _ = try mismatched.load()
            Issue.record("a key of another certificate was accepted")
        } catch {
            #expect(error.description.contains("do not work together"))
        }
    }
}
