import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Testing
@testable import WebhookServer

// MARK: - Parts

private let signatureField = HTTPField.Name("X-Hub-Signature-256")!

private func head(_ method: HTTPRequest.Method = .post, _ path: String = "/webhook",
                  _ fields: HTTPFields = [:]) -> HTTPRequestPart {
    .head(HTTPRequest(method: method, scheme: nil, authority: "127.0.0.1", path: path, headerFields: fields))
}

private func body(_ text: String) -> HTTPRequestPart { .body(ByteBuffer(string: text)) }

private let end = HTTPRequestPart.end(nil)
private let answerEnd = HTTPResponsePart.end(nil)
private let answerHead = HTTPResponsePart.head(HTTPResponse(status: .ok))

/// `#expect(a == b)` for an `a` that mutates a state machine (the macro cannot take one).
func check<T: Equatable>(_ actual: T, _ expected: T, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual == expected, sourceLocation: sourceLocation)
}

/// `WebhookConnectionStateMachine` alone: parts, answers and events in, actions out.
@Suite struct WebhookConnectionStateMachineTests {
    @Test func aWebhookIsReadThenVerifiedThenAnswered() {
        var state = WebhookConnectionStateMachine(bodyLimit: 100)
        check(state.read(head(.post, "/webhook", [signatureField: "sha256=ab"])), .none)
        check(state.read(body("{\"a\":")), .none)
        check(state.read(body("1}")), .none)
        check(state.read(end), .verify(signature: "sha256=ab", body: ByteBuffer(string: "{\"a\":1}")))
        check(state.writingAnswer(), .writeThenTakeUpHeld)
        check(state.takeUpHeldPart(), nil)
        check(state.heldPartsTakenUp(), [])
    }

    @Test func onlyPostToTheWebhookPathIsServedHere() {
        #expect(WebhookConnectionStateMachine.isWebhookPath("/webhook"))
        #expect(WebhookConnectionStateMachine.isWebhookPath("/webhook/"))
        #expect(WebhookConnectionStateMachine.isWebhookPath("/webhook?x=1"))
        #expect(!WebhookConnectionStateMachine.isWebhookPath("/webhooks"))
        #expect(!WebhookConnectionStateMachine.isWebhookPath(nil))
        for request in [head(.get, "/webhook?hub.mode=subscribe"), head(.post, "/healthz"), head(.put, "/webhook")] {
            var state = WebhookConnectionStateMachine(bodyLimit: 100)
            check(state.read(request), .forward(request))
            check(state.read(body("x")), .forward(body("x")))
            check(state.read(end), .forwardRequestEnd(end, thenTakeUpHeld: false))
        }
    }

    @Test func emptyBodyIsVerifiedAsEmpty() {
        var state = WebhookConnectionStateMachine(bodyLimit: 100)
        _ = state.read(head())
        check(state.read(end), .verify(signature: nil, body: ByteBuffer()))
    }

    @Test func oversizedBodiesAreRefusedOnceRead() {
        // Declared too large: refused whatever arrives.
        var declared = WebhookConnectionStateMachine(bodyLimit: 10)
        _ = declared.read(head(.post, "/webhook", [.contentLength: "11"]))
        check(declared.read(body("12345678901")), .none)
        check(declared.read(end), .refuse(.declared(11)))
        // Grown too large across chunks, and in one chunk.
        var streamed = WebhookConnectionStateMachine(bodyLimit: 10)
        _ = streamed.read(head())
        _ = streamed.read(body("123456"))
        _ = streamed.read(body("78901"))
        check(streamed.read(end), .refuse(.streamed))
        var oneChunk = WebhookConnectionStateMachine(bodyLimit: 10)
        _ = oneChunk.read(head())
        _ = oneChunk.read(body("12345678901"))
        check(oneChunk.read(end), .refuse(.streamed))
        // Exactly the limit is accepted.
        var limit = WebhookConnectionStateMachine(bodyLimit: 10)
        _ = limit.read(head(.post, "/webhook", [.contentLength: "10"]))
        _ = limit.read(body("12345"))
        _ = limit.read(body("67890"))
        check(limit.read(end), .verify(signature: nil, body: ByteBuffer(string: "1234567890")))
    }

    @Test func connectionCloseClosesAfterTheAnswerAndTakesNothingMore() {
        var state = WebhookConnectionStateMachine(bodyLimit: 100)
        _ = state.read(head(.post, "/webhook", [.connection: "Close"]))
        check(state.read(end), .verify(signature: nil, body: ByteBuffer()))
        check(state.writingAnswer(), .writeThenClose)
        // A request pipelined behind it is never taken up.
        check(state.read(head(.get, "/healthz")), .none)
        check(state.takeUpHeldPart(), nil)
        check(state.readRequested(), false)
        check(state.quiesceRequested(), false)
    }

    /// A request pipelined behind a webhook that awaits its commit waits, reading pauses,
    /// and both resume once the answer is written: answers keep the requests' order.
    @Test func requestsBehindAWebhookAwaitingItsCommitAreHeld() {
        var state = WebhookConnectionStateMachine(bodyLimit: 100)
        _ = state.read(head())
        check(state.read(end), .verify(signature: nil, body: ByteBuffer()))
        check(state.readRequested(), true)  // nothing held yet
        let second = head(.get, "/healthz")
        let third = head(.post, "/webhook")
        for part in [second, end, third, body("x"), end] { check(state.read(part), .none) }
        check(state.readRequested(), false)
        check(state.takeUpHeldPart(), nil)  // the commit has not landed
        check(state.heldPartsTakenUp(), [])

        check(state.writingAnswer(), .writeThenTakeUpHeld)
        check(state.takeUpHeldPart(), .forward(second))
        check(state.takeUpHeldPart(), .forwardRequestEnd(end, thenTakeUpHeld: false))
        // The router's request was read in full: the webhook behind it waits for its answer.
        check(state.takeUpHeldPart(), nil)
        check(state.heldPartsTakenUp(), [.completeRead])
        check(state.routerWrote(answerHead), .none)
        check(state.routerWrote(answerEnd), .responseSentThenResume)
        check(state.takeUpHeldPart(), nil)  // not until the write is over
        check(state.routerAnswerDelivered(), true)
        check(state.takeUpHeldPart(), .some(.none))  // the webhook's head
        check(state.takeUpHeldPart(), .some(.none))  // its body
        check(state.takeUpHeldPart(), .verify(signature: nil, body: ByteBuffer(string: "x")))
        check(state.takeUpHeldPart(), nil)
        // Everything held is taken up, but the last webhook awaits its commit: reading
        // stays paused until its answer is out, then goes on, once.
        check(state.heldPartsTakenUp(), [])
        check(state.writingAnswer(), .writeThenTakeUpHeld)
        check(state.takeUpHeldPart(), nil)
        check(state.heldPartsTakenUp(), [.read])
        check(state.heldPartsTakenUp(), [])
    }

    /// The router may answer before the request's end arrives (a 404 to a path that takes
    /// no body): the end then makes the connection idle at once.
    @Test func routerAnsweringBeforeTheRequestEndsMakesItsEndTheLastWord() {
        var state = WebhookConnectionStateMachine(bodyLimit: 100)
        let request = head(.post, "/nothing-here")
        check(state.read(request), .forward(request))
        check(state.routerWrote(answerHead), .none)
        check(state.routerWrote(answerEnd), .responseSent)
        check(state.routerWrote(answerEnd), .none)  // only the first end counts
        check(state.read(body("x")), .forward(body("x")))
        check(state.read(end), .forwardRequestEnd(end, thenTakeUpHeld: true))
        check(state.routerAnswerDelivered(), false)
        check(state.takeUpHeldPart(), nil)
        check(state.heldPartsTakenUp(), [.completeRead])
        state.readCompleted()
        check(state.heldPartsTakenUp(), [])
    }

    @Test func aCompletedReadClearsTheForwardedParts() {
        var state = WebhookConnectionStateMachine(bodyLimit: 100)
        _ = state.read(head(.get, "/healthz"))
        state.readCompleted()
        _ = state.read(end)
        state.readCompleted()
        _ = state.routerWrote(answerEnd)
        check(state.routerAnswerDelivered(), true)
        check(state.heldPartsTakenUp(), [])
    }

    /// Graceful shutdown closes idle connections: a webhook under way keeps its own until
    /// the answer is written.
    @Test func quiesceWaitsForTheWebhookUnderWay() {
        var idle = WebhookConnectionStateMachine(bodyLimit: 100)
        check(idle.quiesceRequested(), true)

        var forwarding = WebhookConnectionStateMachine(bodyLimit: 100)
        _ = forwarding.read(head(.get, "/healthz"))
        check(forwarding.quiesceRequested(), true)

        var receiving = WebhookConnectionStateMachine(bodyLimit: 100)
        _ = receiving.read(head())
        check(receiving.quiesceRequested(), false)
        _ = receiving.read(end)
        check(receiving.quiesceRequested(), false)
        check(receiving.writingAnswer(), .writeThenTakeUpHeld)
        check(receiving.takeUpHeldPart(), nil)
        check(receiving.heldPartsTakenUp(), [.quiesce])
        check(receiving.heldPartsTakenUp(), [])
    }

    /// Parts that make no request (a body with no head) go to the router, which reports them.
    @Test func outOfOrderPartsGoToTheRouter() {
        var state = WebhookConnectionStateMachine(bodyLimit: 100)
        check(state.read(body("x")), .forward(body("x")))
        check(state.read(end), .forward(end))
    }
}
