import CloudAPI
import Foundation
import InboxCore
import Simulator
import Testing

/// The HTTP client against the fake Cloud API over real loopback HTTP.
@Suite struct ClientTests {
    @Test func requestBodiesAreExactlyAsDocumented() async throws {
        let fake = FakeCloudAPI(accessToken: accessToken)
        try await fake.withRunning { url in
            let api = client(url)
            let receipt = try await api.send(
                OutboundMessage(recipient: .waID(WaID(customer)), kind: .text(body: "Bonjour Amélie"), callbackData: "l-1"),
                from: businessNumber)
            #expect(receipt.wamid.rawValue.hasPrefix("wamid."))
            #expect(receipt.waID == WaID(customer))
            _ = try await api.send(
                OutboundMessage(recipient: .waID(WaID(customer)), kind: .text(body: "Suivi : https://example.com/colis/42"),
                                replyTo: "wamid.IN.1", callbackData: "l-2"),
                from: businessNumber)
            _ = try await api.send(
                OutboundMessage(recipient: .waID(WaID(customer)), kind: .reaction(to: "wamid.IN.1", emoji: "👍")),
                from: businessNumber)
            _ = try await api.send(
                OutboundMessage(recipient: .userID("US.13491208655302741918"),
                                kind: .template(TemplateMessage(name: "order_update", languageCode: "fr",
                                                                bodyParameters: ["Amélie", "A-1042"])),
                                callbackData: "l-4"),
                from: businessNumber)
            _ = try await api.send(
                OutboundMessage(recipient: .userID("US.13491208655302741918"), kind: .text(body: "Hello"), callbackData: "l-5"),
                from: businessNumber)
            try await api.markRead("wamid.IN.1", from: businessNumber, typing: true)
            try await api.markRead("wamid.IN.2", from: businessNumber, typing: false)
        }
        let requests = fake.messageRequests
        #expect(requests.count == 7)
        for request in requests {
            #expect(request.path == "/v26.0/106540352242922/messages")
            #expect(request.authorization == "Bearer \(accessToken)")
        }
        let expected = [
            #"{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"text","text":{"body":"Bonjour Amélie","preview_url":false},"biz_opaque_callback_data":"l-1"}"#,
            #"{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"text","text":{"body":"Suivi : https://example.com/colis/42","preview_url":true},"context":{"message_id":"wamid.IN.1"},"biz_opaque_callback_data":"l-2"}"#,
            #"{"messaging_product":"whatsapp","recipient_type":"individual","to":"33612345678","type":"reaction","reaction":{"message_id":"wamid.IN.1","emoji":"👍"}}"#,
            #"{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.13491208655302741918","type":"template","template":{"name":"order_update","language":{"code":"fr"},"components":[{"type":"body","parameters":[{"type":"text","text":"Amélie"},{"type":"text","text":"A-1042"}]}]},"biz_opaque_callback_data":"l-4"}"#,
            #"{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.13491208655302741918","type":"text","text":{"body":"Hello","preview_url":false},"biz_opaque_callback_data":"l-5"}"#,
            #"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN.1","typing_indicator":{"type":"text"}}"#,
            #"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN.2"}"#,
        ]
        for (request, body) in zip(requests, expected) {
            #expect(request.json == (try json(body)), "\(String(decoding: request.body, as: UTF8.self))")
        }
    }

    @Test(arguments: [
        (FakeCloudAPI.Failure.windowClosed, 131047), (.undeliverable, 131026), (.throughput, 130429),
        (.pairRateLimit, 131056), (.badToken, 190), (.invalidParameter, 100), (.unsupportedType, 131051),
        (.unknown, 131000), (.accountRestricted, 368), (.accountLocked, 131031),
    ])
    func documentedErrorsAreDecodedByCode(failure: FakeCloudAPI.Failure, code: Int) async throws {
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.failNext(with: failure)
        let result = try await fake.withRunning { url in
            await outcome { () async throws(CloudFailure) -> SendReceipt in
                try await client(url).send(OutboundMessage(recipient: .waID(WaID(customer)), kind: .text(body: "x")),
                                           from: businessNumber)
            }
        }
        guard case .failure(.api(let error)) = result else {
            Issue.record("expected an API error, got \(result)")
            return
        }
        #expect(error.code == code)
        #expect(error.fbtraceID != nil)
        #expect(error.message?.isEmpty == false)
        #expect(error.description.hasPrefix(error.meaning.explanation))
        #expect(!error.description.contains(accessToken))
    }

    @Test func meaningsSayWhatTheInboxDoes() {
        #expect(CloudErrorMeaning(code: 131047).action == .windowClosed)
        #expect(CloudErrorMeaning(code: 131047).explanation.contains("only an approved template"))
        for code in [131026, 100, 131051] { #expect(CloudErrorMeaning(code: code).action == .fail) }
        for code in [130429, 131056] { #expect(CloudErrorMeaning(code: code).action == .retry(attempts: nil)) }
        #expect(CloudErrorMeaning(code: 131000).action == .retry(attempts: 3))
        for code in [190, 368, 131031] { #expect(CloudErrorMeaning(code: code).action == .haltSending) }
    }

    @Test func wrongTokenIs190AndBare5xxIsAnHTTPFailure() async throws {
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.failNext(with: .serverError(status: 503))
        let message = OutboundMessage(recipient: .waID(WaID(customer)), kind: .text(body: "x"))
        let (outage, badToken) = try await fake.withRunning { url in
            let outage = await outcome { () async throws(CloudFailure) in try await client(url).send(message, from: businessNumber) }
            let badToken = await outcome { () async throws(CloudFailure) in
                try await client(url, token: "expired-token").send(message, from: businessNumber)
            }
            return (outage, badToken)
        }
        guard case .failure(.http(let status, _)) = outage else { Issue.record("\(outage)"); return }
        #expect(status == 503)
        guard case .failure(.api(let error)) = badToken else { Issue.record("\(badToken)"); return }
        #expect(error.code == 190)
        #expect(error.httpStatus == 401)
        #expect(!error.description.contains("expired-token"))
    }

    @Test func unreachableServerIsANetworkFailureThatCannotHaveArrived() async throws {
        let result = await outcome { () async throws(CloudFailure) in
            try await GraphCloudClient(
                configuration: .init(graphURL: "http://127.0.0.1:1", graphVersion: "v26.0", accessToken: accessToken,
                                     timeout: .milliseconds(500)),
                logger: quiet
            ).send(
                OutboundMessage(recipient: .waID(WaID(customer)), kind: .text(body: "x")), from: businessNumber)
        }
        guard case .failure(.network(let transport)) = result else { Issue.record("\(result)"); return }
        #expect(!transport.requestMayHaveArrived)
    }

    @Test func templatesAndMedia() async throws {
        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.addTemplates([
            .init(id: "1", name: "order_update", language: "fr", body: "Bonjour {{1}}, votre commande {{2}} est partie."),
            .init(id: "2", name: "old_promo", language: "en", status: "REJECTED", body: "Hi"),
        ])
        let picture = Data((0..<1000).map { UInt8($0 % 251) })
        fake.addMedia(id: "1037543291543636", mimeType: "image/jpeg", bytes: picture)
        try await fake.withRunning { url in
            let api = client(url)
            let templates = try await api.approvedTemplates(of: "102290129340398")
            #expect(templates.map(\.name) == ["order_update"])
            #expect(templates.first?.bodyParameterCount == 2)
            let info = try await api.mediaInfo("1037543291543636")
            #expect(info.mimeType == "image/jpeg")
            #expect(info.fileSize == 1000)
            let bytes = try await api.downloadMedia(info, maxBytes: 1 << 20)
            #expect(bytes == picture)
        }
        #expect(fake.requests.map(\.path).contains("/v26.0/102290129340398/message_templates"))
        #expect(fake.requests.allSatisfy { $0.authorization == "Bearer \(accessToken)" })
    }
}
