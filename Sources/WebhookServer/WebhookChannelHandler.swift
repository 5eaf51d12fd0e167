import HTTPTypes
import InboxStore
import NIOCore
import NIOHTTPTypes

/// Serves `POST /webhook` on the event loop, ahead of the router: collects the body,
/// checks the signature, decodes, queues the webhook for the group commit and writes the
/// answer when the commit lands, all without a task per request. Every other request goes
/// on to the router unchanged.
///
/// This is the hot path. Per request the router costs a task, an async body stream and
/// hops between the event loop and the cooperative pool; measured with
/// `scripts/bench-ingest`, serving the route here is what brings the listener past
/// 25,000 signed webhooks a second on two cores (README, Performance).
///
/// HTTP/1.1 answers go out in request order: while a request waits for its answer (a
/// commit, or the router), later pipelined requests are held and reading pauses.
final class WebhookChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Mode {
        case idle
        /// Reading a webhook's body.
        case receiving(Receiving)
        /// The webhook is queued; the commit's callback writes the answer.
        case committing
        /// A request for the router: done once its end went up and its answer came down.
        case forwarding(requestEnded: Bool, responseEnded: Bool)
    }

    private struct Receiving {
        var signature: String?
        var body: ByteBuffer?
        var tooLarge: WebhookIntake.Answer?
        var closeAfter: Bool
    }

    private let intake: WebhookIntake
    private let pipeline: IngestPipeline
    /// The peer's address as the rate limit of unauthenticated requests keys it.
    private var client = "unknown"
    private var mode = Mode.idle
    /// Parts that arrived while an earlier request still waited for its answer.
    private var held = CircularBuffer<HTTPRequestPart>()
    private var readHeld = false
    private var quiesceHeld = false
    /// Parts passed on to the router since the last `channelReadComplete`: the router's
    /// channel hands what it read to its request loop only on that event.
    private var forwardedUnflushed = false

    init(intake: WebhookIntake, pipeline: IngestPipeline) {
        self.intake = intake
        self.pipeline = pipeline
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
        let part = unwrapInboundIn(data)
        if !held.isEmpty || isWaitingForAnswer {
            held.append(part)
            return
        }
        process(part, context: context)
    }

    /// Whether a new request must wait: its answer would overtake the current one's.
    private var isWaitingForAnswer: Bool {
        switch mode {
        case .committing: true
        case .forwarding(requestEnded: true, _): true
        default: false
        }
    }

    private func process(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (mode, part) {
        case (.idle, .head(let head)):
            guard head.method == .post, Self.isWebhookPath(head.path) else {
                mode = .forwarding(requestEnded: false, responseEnded: false)
                forward(part, context: context)
                return
            }
            let declared = head.headerFields[.contentLength].flatMap { Int($0) }
            mode = .receiving(Receiving(
                signature: head.headerFields[WebhookIntake.signatureHeader],
                body: nil,
                tooLarge: intake.tooLarge(declaredLength: declared),
                closeAfter: head.headerFields[.connection]?.lowercased() == "close"))
        case (.receiving(var receiving), .body(var chunk)):
            mode = .idle  // drop the reference so that the body buffer is not copied on write
            if receiving.tooLarge == nil {
                if var body = receiving.body {
                    receiving.body = nil
                    if body.readableBytes + chunk.readableBytes > intake.bodyLimit {
                        receiving.tooLarge = intake.tooLarge
                    } else {
                        body.writeBuffer(&chunk)
                        receiving.body = body
                    }
                } else if chunk.readableBytes > intake.bodyLimit {
                    receiving.tooLarge = intake.tooLarge
                } else {
                    receiving.body = chunk
                }
            }
            mode = .receiving(receiving)
        case (.receiving(let receiving), .end):
            context.triggerUserOutboundEvent(ConnectionGuard.RequestRead(), promise: nil)
            finish(receiving, context: context)
        case (.forwarding(_, let responseEnded), .end):
            context.triggerUserOutboundEvent(ConnectionGuard.RequestRead(), promise: nil)
            mode = .forwarding(requestEnded: true, responseEnded: responseEnded)
            forward(part, context: context)
            if responseEnded { becomeIdle(context: context) }
        case (.forwarding, _):
            forward(part, context: context)
        default:
            // Out of order parts: let the router's connection handling report it.
            forward(part, context: context)
        }
    }

    private func forward(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        forwardedUnflushed = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        forwardedUnflushed = false
        context.fireChannelReadComplete()
    }

    private func finish(_ receiving: Receiving, context: ChannelHandlerContext) {
        if let tooLarge = receiving.tooLarge {
            write(tooLarge, close: receiving.closeAfter, context: context)
            return
        }
        let body = receiving.body ?? ByteBuffer()
        switch intake.verdict(signatureHeader: receiving.signature, body: body, client: client) {
        case .answer(let answer):
            write(answer, close: receiving.closeAfter, context: context)
        case .commit(let webhook):
            mode = .committing
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            let close = receiving.closeAfter
            do {
                try pipeline.enqueue(webhook, waiter: .eventLoop(context.eventLoop) { result in
                    let (handler, context) = loopBound.value
                    handler.write(handler.intake.answer(for: result), close: close, context: context)
                })
            } catch {
                write(intake.answer(for: .failure(error)), close: close, context: context)
            }
        }
    }

    static func isWebhookPath(_ path: String?) -> Bool {
        guard let path else { return false }
        let route = path.utf8.firstIndex(of: UInt8(ascii: "?")).map { path[..<$0] } ?? path[...]
        return route == "/webhook" || route == "/webhook/"
    }

    // MARK: - Answers

    private static let receivedHead = HTTPResponse(status: .ok, headerFields: [
        .contentType: "text/plain; charset=utf-8",
        .contentLength: String(WebhookIntake.Answer.received.text.utf8.count),
    ])
    private static let receivedBody = ByteBuffer(string: WebhookIntake.Answer.received.text)

    private func write(_ answer: WebhookIntake.Answer, close: Bool, context: ChannelHandlerContext) {
        if answer == .received {
            context.write(wrapOutboundOut(.head(Self.receivedHead)), promise: nil)
            context.write(wrapOutboundOut(.body(Self.receivedBody)), promise: nil)
        } else {
            let body = ByteBuffer(string: answer.text)
            var head = HTTPResponse(status: answer.status, headerFields: [
                .contentType: "text/plain; charset=utf-8", .contentLength: String(body.readableBytes),
            ])
            if let retryAfter = answer.retryAfter { head.headerFields[.retryAfter] = retryAfter }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
        }
        if close {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            mode = .committing  // nothing more is read on this connection
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.triggerUserOutboundEvent(ConnectionGuard.ResponseSent(), promise: nil)
        becomeIdle(context: context)
    }

    /// The current request is answered: take up what was held.
    private func becomeIdle(context: ChannelHandlerContext) {
        mode = .idle
        while !held.isEmpty, !isWaitingForAnswer {
            process(held.removeFirst(), context: context)
        }
        if forwardedUnflushed {
            // Held parts went on outside a read: complete the read for the router's channel.
            forwardedUnflushed = false
            context.fireChannelReadComplete()
        }
        guard held.isEmpty, !isWaitingForAnswer else { return }
        if case .idle = mode, quiesceHeld {
            quiesceHeld = false
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        if readHeld {
            readHeld = false
            context.read()
        }
    }

    // MARK: - Outbound (the router's answers) and events

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if case .forwarding(let requestEnded, false) = mode, case .end = unwrapOutboundIn(data) {
            context.triggerUserOutboundEvent(ConnectionGuard.ResponseSent(), promise: nil)
            mode = .forwarding(requestEnded: requestEnded, responseEnded: true)
            if requestEnded {
                // Not from inside the write: handling held requests may write again.
                let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
                context.eventLoop.execute {
                    let (handler, context) = loopBound.value
                    if case .forwarding(true, true) = handler.mode { handler.becomeIdle(context: context) }
                }
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        // Pause reading while requests are held; resumed in becomeIdle.
        if !held.isEmpty {
            readHeld = true
            return
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Graceful shutdown closes idle connections: a webhook waiting for its commit keeps
        // the connection until its answer is written.
        if event is ChannelShouldQuiesceEvent {
            switch mode {
            case .receiving, .committing:
                quiesceHeld = true
                return
            default:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }
}
