import HummingbirdCore
import Logging
import NIOCore

/// Cuts off clients that hold a connection without finishing a request: the first
/// handler of each connection, it sees the raw bytes (before TLS and HTTP decoding) and
/// closes the connection when
///
/// - a request (or a TLS handshake) is still incomplete `requestTimeout` after its first
///   byte arrived: a slowloris trickling headers or a body a byte at a time;
/// - no request is under way and nothing arrived for `idleTimeout`.
///
/// While a request that was read in full waits for its answer (a commit), no clock runs.
/// `WebhookChannelHandler`, which sees the HTTP parts, tells it where requests end with
/// the outbound events `RequestRead` and `ResponseSent`.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Timeouts: Sendable {
        /// Longest time from the first byte of a request to its last.
        var requestTimeout: TimeAmount
        /// Longest time an open connection may send nothing between requests.
        var idleTimeout: TimeAmount

        init(requestTimeout: TimeAmount = .seconds(15), idleTimeout: TimeAmount = .seconds(60)) {
            self.requestTimeout = requestTimeout
            self.idleTimeout = idleTimeout
        }
    }

    /// The HTTP layer read a whole request.
    struct RequestRead: Sendable {}
    /// The HTTP layer wrote the end of an answer.
    struct ResponseSent: Sendable {}

    private let timeouts: Timeouts
    private let logger: Logger
    /// When the bytes of the request being read began to arrive.
    private var readingSince: NIODeadline?
    /// Requests read in full and not yet answered.
    private var awaitingAnswer = 0
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?

    init(timeouts: Timeouts, logger: Logger) {
        self.timeouts = timeouts
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        lastActivity = .now()
        schedule(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        lastActivity = now
        if readingSince == nil {
            readingSince = now
            schedule(context: context)
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is RequestRead:
            readingSince = nil
            awaitingAnswer += 1
            promise?.succeed()
        case is ResponseSent:
            // May go below zero for a moment: the router can answer before the request's
            // end was read (a 404 for a path that takes no body); its RequestRead follows.
            awaitingAnswer -= 1
            lastActivity = .now()
            schedule(context: context)
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    /// The moment the connection is cut off if nothing changes, or nil while an answer is awaited.
    private var deadline: NIODeadline? {
        if let readingSince { return readingSince + timeouts.requestTimeout }
        if awaitingAnswer > 0 { return nil }
        return lastActivity + timeouts.idleTimeout
    }

    private func schedule(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        guard let deadline else { return }
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.check(context: context)
        }
    }

    private func check(context: ChannelHandlerContext) {
        guard let deadline else { return }
        guard NIODeadline.now() >= deadline else {
            schedule(context: context)
            return
        }
        if readingSince != nil {
            logger.notice("closing a connection whose request was not complete after \(Self.describe(timeouts.requestTimeout))",
                          metadata: ["peer": "\(context.channel.remoteAddress?.ipAddress ?? "?")"])
        } else {
            logger.debug("closing a connection idle for \(Self.describe(timeouts.idleTimeout))")
        }
        context.close(promise: nil)
    }

    static func describe(_ amount: TimeAmount) -> String {
        let milliseconds = amount.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}

/// A child channel that puts a `ConnectionGuard` first in the pipeline of `base`: wrapped
/// in TLS, it comes before the TLS handler too, so a stalled handshake is cut off as well.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let timeouts: ConnectionGuard.Timeouts

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(timeouts: timeouts, logger: logger), position: .first)
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
