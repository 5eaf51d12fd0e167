import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InboxCore
import InboxStore
import InboxTesting
import Logging
import NIOCore
import Testing
import WebhookServer

private let signatureField = HTTPField.Name("X-Hub-Signature-256")!

private func makeApp(_ database: InboxDatabase, bodyLimit: Int = 4 * 1024 * 1024) -> some ApplicationProtocol {
    makeWebhookApplication(
        configuration: WebhookConfiguration(host: "127.0.0.1", port: 0, verifyToken: Fixtures.verifyToken,
                                            appSecret: Fixtures.appSecret, bodyLimit: bodyLimit),
        database: database,
        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
        now: { 1_764_500_000 })
}

private func signed(_ body: Data) -> HTTPFields {
    [signatureField: WebhookSignature(appSecret: Fixtures.appSecret).header(for: body), .contentType: "application/json"]
}

/// The router's routes in-process (`.router`); `POST /webhook`, which the channel handler
/// serves ahead of the router, through the listener's own connection handling (`.live`).
@Suite struct ListenerTests {
    @Test func verificationEchoesTheChallenge() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        try await makeApp(temp.database).test(.router) { client in
            try await client.execute(
                uri: "/webhook?hub.mode=subscribe&hub.verify_token=\(Fixtures.verifyToken)&hub.challenge=1158201444",
                method: .get
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "1158201444")
            }
            try await client.execute(uri: "/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", method: .get) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/webhook", method: .get) { #expect($0.status == .badRequest) }
        }
    }

    /// A 200 means the body is in the journal; the applier running with the listener
    /// applies it just after.
    @Test func signedWebhookIsJournaledBeforeTheAnswerAndAppliedJustAfter() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let body = try Fixtures.data("multi_entry")
        @Sendable func exported() throws -> [String] {
            var lines: [String] = []
            try temp.database.export(contact: nil) { lines.append($0.jsonLine) }
            return lines
        }
        try await makeApp(temp.database).test(.live) { client in
            try await client.execute(uri: "/webhook", method: .post, headers: signed(body),
                                     body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .ok)
                // The answer came after the journal commit: the body is there already.
                #expect((try? temp.database.journalBodies()) == [body])
            }
            let applied = try await waitUntil { try temp.database.counts().messages == 4 }
            #expect(applied, "the applier did not apply the body: \(String(describing: try? temp.database.counts())), \(String(describing: try? temp.database.journalProgress()))")
            // A replay is answered 200, journaled again, and changes nothing else.
            let before = try temp.database.counts()
            let exportBefore = try exported()
            try await client.execute(uri: "/webhook", method: .post, headers: signed(body), body: ByteBuffer(bytes: body)) {
                #expect($0.status == .ok)
            }
            let caughtUp = try await waitUntil { try temp.database.journalProgress().lag == 0 }
            #expect(caughtUp, "the replay was not applied: \(String(describing: try? temp.database.journalProgress()))")
            var after = try temp.database.counts()
            #expect(after.webhooks == before.webhooks + 1)
            after.webhooks = before.webhooks
            #expect(after == before)
            #expect(try exported() == exportBefore)
        }
    }

    @Test func missingOrBadSignatureIs401AndStoresNothing() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let body = try Fixtures.data("text")
        try await makeApp(temp.database).test(.live) { client in
            try await client.execute(uri: "/webhook", method: .post, body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("missing X-Hub-Signature-256"))
            }
            let wrong = WebhookSignature(appSecret: "not the secret").header(for: body)
            try await client.execute(uri: "/webhook", method: .post, headers: [signatureField: wrong],
                                     body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("WABOX_APP_SECRET"))
            }
            var tampered = body
            tampered[tampered.startIndex + 10] = UInt8(ascii: "X")
            try await client.execute(uri: "/webhook", method: .post, headers: signed(body),
                                     body: ByteBuffer(bytes: tampered)) {
                #expect($0.status == .unauthorized)
            }
        }
        #expect(try temp.database.counts().webhooks == 0)
    }

    @Test func oversizedBodyIs413() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let body = Data(repeating: UInt8(ascii: " "), count: 70_000)
        try await makeApp(temp.database, bodyLimit: 65_536).test(.live) { client in
            try await client.execute(uri: "/webhook", method: .post, headers: signed(body), body: ByteBuffer(bytes: body)) {
                #expect($0.status == .contentTooLarge)
            }
        }
        #expect(try temp.database.counts().webhooks == 0)
    }

    @Test func signedButUndecodableBodyIsADeadLetterAnswered200() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let body = Data(#"{"object":"whatsapp_business_account","entry":[{"changes":"#.utf8)
        try await makeApp(temp.database).test(.live) { client in
            try await client.execute(uri: "/webhook", method: .post, headers: signed(body), body: ByteBuffer(bytes: body)) {
                #expect($0.status == .ok)
            }
        }
        #expect(try temp.database.journalBodies() == [body])
        #expect(try temp.database.deadLetters().count == 1)
        #expect(try temp.database.counts().messages == 0)
    }

    @Test func healthAndUnknownPaths() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        try await makeApp(temp.database).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""status":"ok""#))
                #expect(String(buffer: response.body).contains(#""applier_lag":0"#))
            }
            try await client.execute(uri: "/nothing-here", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/nothing-here", method: .post) { #expect($0.status == .notFound) }
        }
    }

    @Test func concurrentWebhooksAreGroupCommittedAndAllStored() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        try await makeApp(temp.database).test(.live) { live in
            // AsyncHTTPClient with several connections, so that requests wait for the same
            // commits, and a deadline of minutes: the suite's other tests can keep this
            // process's threads busy for seconds (the live client's own 20 s timeout fired).
            let port = try #require(live.port)
            let http = HTTPClient(eventLoopGroupProvider: .singleton,
                                  configuration: .init(timeout: .init(connect: .seconds(120), read: .seconds(120))))
            do {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<200 {
                        group.addTask {
                            let body = Data("""
                                {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
                                "metadata":{"phone_number_id":"1"},"contacts":[{"profile":{"name":"C\(index % 7)"},"wa_id":"155500\(index % 7)"}],
                                "messages":[{"from":"155500\(index % 7)","id":"wamid.burst.\(index)","timestamp":"\(1000 + index)",
                                "type":"text","text":{"body":"n\(index)"}}]}}]}]}
                                """.utf8)
                            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook")
                            request.method = .POST
                            for field in signed(body) { request.headers.add(name: field.name.rawName, value: field.value) }
                            request.body = .bytes(ByteBuffer(bytes: body))
                            return Int(try await http.execute(request, deadline: .now() + .minutes(2)).status.code)
                        }
                    }
                    for try await status in group { #expect(status == 200) }
                }
            } catch {
                try await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
        let counts = try temp.database.counts()
        #expect(counts.messages == 200)
        #expect(counts.contacts == 7)
    }
}

@Suite struct LiveListenerTests {
    /// One test on a real socket: the listener as Meta (or curl) reaches it.
    @Test func realSocketRoundTrip() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        try await makeApp(temp.database).test(.live) { client in
            try await client.execute(
                uri: "/webhook?hub.mode=subscribe&hub.verify_token=\(Fixtures.verifyToken)&hub.challenge=abc", method: .get
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "abc")
            }
            let body = try Fixtures.data("escaped")
            try await client.execute(uri: "/webhook", method: .post, headers: signed(body), body: ByteBuffer(bytes: body)) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/webhook", method: .post, headers: [signatureField: "sha256=00"],
                                     body: ByteBuffer(bytes: body)) {
                #expect($0.status == .unauthorized)
            }
        }
        let message = try #require(try temp.database.message("wamid.escaped.1"))
        #expect(message.content == .text(body: "café 🍰 see https://example.com/menu"))
        #expect(try temp.database.journalBodies() == [try Fixtures.data("escaped")])
    }
}
