import HTTPTypes
import InboxStore
import NIOCore
import NIOHTTPTypes

/// Takes a verified body for the journal's group commit and calls its waiter once it is
/// committed: `IngestPipeline`, or a test's stand-in that commits when the test says.
protocol WebhookCommitter: Sendable {
    func enqueue(_ body: ByteBuffer, receivedAt: Int64, waiter: IngestPipeline.Waiter) throws
}

extension IngestPipeline: WebhookCommitter {}

/// Serves `POST /webhook` on the event loop, ahead of the router: collects the body,
/// checks the signature, queues the body for the journal's group commit and writes the
/// answer when the commit lands, all without a task per request. Every other request goes
/// on to the router unchanged.
///
/// This is the hot path. Per request the router costs a task, an async body stream and
/// hops between the event loop and the cooperative pool, which this handler avoids. What
/// is left on the event loop (HTTP/1.1 parsing and encoding, the HMAC, the answer) is most
/// of a webhook's cost: 57 µs of CPU per request under `scripts/bench-ingest`'s load, the
/// journal commit 29 (docs/performance.md).
///
/// The decisions (what to hold, forward, check or answer, and when reading resumes) are
/// `WebhookConnectionStateMachine`'s; this handler performs the actions it returns.
final class WebhookChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let intake: WebhookIntake
    private let committer: any WebhookCommitter
    /// The peer's address as the rate limit of unauthenticated requests keys it.
    private var client = "unknown"
    private var state: WebhookConnectionStateMachine

    init(intake: WebhookIntake, committer: any WebhookCommitter) {
        self.intake = intake
        self.committer = committer
        state = WebhookConnectionStateMachine(bodyLimit: intake.bodyLimit)
    }

    // MARK: - Inbound

    func handlerAdded(context: ChannelHandlerContext) {
        client = UnauthenticatedLimiter.key(for: context.channel.remoteAddress)
    }

    func channelActive(context: ChannelHandlerContext) {
        client = UnauthenticatedLimiter.key(for: context.channel.remoteAddress)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(state.read(unwrapInboundIn(data)), context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        state.readCompleted()
        context.fireChannelReadComplete()
    }

    private func perform(_ action: WebhookConnectionStateMachine.ReadAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .forward(let part):
            context.fireChannelRead(wrapInboundOut(part))
        case .forwardRequestEnd(let part, let thenTakeUpHeld):
            context.triggerUserOutboundEvent(ConnectionGuard.RequestRead(), promise: nil)
            context.fireChannelRead(wrapInboundOut(part))
            if thenTakeUpHeld { takeUpHeld(context: context) }
        case .refuse(let oversize):
            context.triggerUserOutboundEvent(ConnectionGuard.RequestRead(), promise: nil)
            switch oversize {
            case .declared(let length):
                write(intake.tooLarge(declaredLength: length) ?? intake.tooLarge, context: context)
            case .streamed:
                write(intake.tooLarge, context: context)
            }
        case .verify(let signature, let body):
            context.triggerUserOutboundEvent(ConnectionGuard.RequestRead(), promise: nil)
            verify(signature: signature, body: body, context: context)
        }
    }

    private func verify(signature: String?, body: ByteBuffer, context: ChannelHandlerContext) {
        switch intake.verdict(signatureHeader: signature, body: body, client: client) {
        case .answer(let answer):
            write(answer, context: context)
        case .commit(let body, let receivedAt):
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            let start = NIODeadline.now().uptimeNanoseconds
            do {
                try committer.enqueue(body, receivedAt: receivedAt, waiter: .eventLoop(context.eventLoop) { result in
                    let (handler, context) = loopBound.value
                    if case .success = result { handler.intake.metrics.acknowledged(since: start) }
                    handler.write(handler.intake.answer(for: result), context: context)
                })
            } catch {
                write(intake.answer(for: .failure(error)), context: context)
            }
        }
    }

    /// The current request is answered: take up what was held, then what it kept back.
    private func takeUpHeld(context: ChannelHandlerContext) {
        while let action = state.takeUpHeldPart() {
            perform(action, context: context)
        }
        let resumption = state.heldPartsTakenUp()
        if resumption.contains(.completeRead) { context.fireChannelReadComplete() }
        if resumption.contains(.quiesce) { context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        if resumption.contains(.read) { context.read() }
    }

    // MARK: - Answers

    private static let receivedHead = HTTPResponse(status: .ok, headerFields: [
        .contentType: "text/plain; charset=utf-8",
        .contentLength: String(WebhookIntake.Answer.received.text.utf8.count),
    ])
    private static let receivedBody = ByteBuffer(string: WebhookIntake.Answer.received.text)

    /// Writes the answer to the webhook that was read.
    private func write(_ answer: WebhookIntake.Answer, context: ChannelHandlerContext) {
        let next = state.writingAnswer()
        if answer == .received {
            context.write(wrapOutboundOut(.head(Self.receivedHead)), promise: nil)
            context.write(wrapOutboundOut(.body(Self.receivedBody)), promise: nil)
        } else {
            intake.metrics.countRefusal(status: answer.status.code)
            let body = ByteBuffer(string: answer.text)
            var head = HTTPResponse(status: answer.status, headerFields: [
                .contentType: "text/plain; charset=utf-8", .contentLength: String(body.readableBytes),
            ])
            if let retryAfter = answer.retryAfter { head.headerFields[.retryAfter] = retryAfter }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
        }
        switch next {
        case .writeThenClose:
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        case .writeThenTakeUpHeld:
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.triggerUserOutboundEvent(ConnectionGuard.ResponseSent(), promise: nil)
            takeUpHeld(context: context)
        }
    }

    // MARK: - Outbound (the router's answers) and events

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        switch state.routerWrote(unwrapOutboundIn(data)) {
        case .none:
            break
        case .responseSent:
            context.triggerUserOutboundEvent(ConnectionGuard.ResponseSent(), promise: nil)
        case .responseSentThenResume:
            context.triggerUserOutboundEvent(ConnectionGuard.ResponseSent(), promise: nil)
            // Not from inside the write: taking up held requests may write again.
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = loopBound.value
                if handler.state.routerAnswerDelivered() { handler.takeUpHeld(context: context) }
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if state.readRequested() { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !state.quiesceRequested() { return }
        context.fireUserInboundEventTriggered(event)
    }
}
