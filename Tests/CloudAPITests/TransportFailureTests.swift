import AsyncHTTPClient
import CloudAPI
import Foundation
import InboxCore
import InboxTesting
import NIOCore
import NIOPosix
import Simulator
import Testing

/// The one classifier of network failures, on what AsyncHTTPClient really throws.
@Suite struct TransportFailureTests {
    @Test func aClosedPortIsRefusedAndCannotHaveArrived() async throws {
        let port = try closedPort()
        let client = DirectHTTP.makeClient(connections: 1)
        defer { _ = client.shutdown() }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook")
        request.method = .POST
        do {
            _ = try await client.execute(request, timeout: .seconds(5))
            Issue.record("a closed port answered")
        } catch {
            let failure = TransportFailure.classify(error)
            // NIO reports the address it tried, or a bare ECONNREFUSED: refused either way.
            #expect(failure.isRefused, "\(error)")
            if case .refused(let host?, let refusedPort?) = failure.kind {
                #expect(host == "127.0.0.1")
                #expect(refusedPort == port)
            }
            #expect(!failure.requestMayHaveArrived)
            #expect(failure.description.hasPrefix("connection refused"))
        }
    }

    @Test func kindsDecideWhetherARetryIsSafe() {
        #expect(!TransportFailure.classify(HTTPClientError.connectTimeout).requestMayHaveArrived)
        #expect(TransportFailure.classify(HTTPClientError.connectTimeout).kind == .connectTimeout)
        #expect(TransportFailure.classify(HTTPClientError.invalidURL).kind == .invalidURL)
        #expect(TransportFailure.classify(HTTPClientError.deadlineExceeded).kind == .noAnswer)
        #expect(TransportFailure.classify(HTTPClientError.readTimeout).requestMayHaveArrived)
        #expect(TransportFailure.classify(HTTPClientError.remoteConnectionClosed).kind == .closedWithoutAnswer)
        #expect(TransportFailure.classify(IOError(errnoCode: ECONNREFUSED, reason: "connect")).kind == .refused(host: nil, port: nil))
        #expect(!TransportFailure.classify(IOError(errnoCode: EHOSTUNREACH, reason: "connect")).requestMayHaveArrived)
        #expect(TransportFailure.classify(ChannelError.connectTimeout(.seconds(1))).kind == .connectTimeout)
        struct TLSClosedMidAnswer: Error, CustomStringConvertible { var description = "SSL error: read in invalid TLS state" }
        #expect(TransportFailure.classify(TLSClosedMidAnswer()).requestMayHaveArrived,
                "a TLS error after the request was written may have delivered it")
        #expect(!TransportFailure.classify(HTTPClientError.tlsHandshakeTimeout).requestMayHaveArrived)
        struct Odd: Error {}
        #expect(TransportFailure.classify(Odd()).requestMayHaveArrived, "an unknown failure may have delivered the request")
    }

    /// The sender, the doctor and simulate see the same failure for the same address.
    @Test func theClientAndThePosterAgree() async throws {
        let port = try closedPort()
        let sent = await {
            do {
                _ = try await client("http://127.0.0.1:\(port)").send(
                    OutboundMessage(recipient: .waID(WaID(customer)), kind: .text(body: "x")), from: businessNumber)
                return nil as TransportFailure?
            } catch let error as CloudFailure {
                guard case .network(let failure) = error else { return nil }
                return failure
            } catch {
                return nil
            }
        }()
        let posted = await WebhookPoster(url: "http://127.0.0.1:\(port)/webhook", appSecret: "secret").post(Data("{}".utf8))
        #expect(sent?.isRefused == true, "\(String(describing: sent))")
        #expect(posted.refused)
        #expect(posted.status == nil)
        #expect(posted.text == sent?.description)
    }
}
