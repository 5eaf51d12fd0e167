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
///
/// The decisions are `StateMachine`'s; this handler arms the timer and closes. Time is the
/// event loop's (`EventLoop.now`), so that a test drives it with an `EmbeddedEventLoop`.
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
    private var state: StateMachine
    private var timer: Scheduled<Void>?

    init(timeouts: Timeouts, logger: Logger) {
        self.timeouts = timeouts
        self.logger = logger
        state = StateMachine(timeouts: timeouts)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        perform(state.added(now: context.eventLoop.now), context: context)
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
        perform(state.bytesRead(now: context.eventLoop.now), context: context)
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is RequestRead:
            state.requestRead()
            promise?.succeed()
        case is ResponseSent:
            perform(state.responseSent(now: context.eventLoop.now), context: context)
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func perform(_ action: StateMachine.TimerAction, context: ChannelHandlerContext) {
        guard case .rearm(let deadline) = action else { return }
        timer?.cancel()
        timer = nil
        guard let deadline else { return }
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        switch state.timerFired(now: context.eventLoop.now) {
        case .none:
            break
        case .rearm(let deadline):
            perform(.rearm(deadline), context: context)
        case .close(.request):
            logger.notice("closing a connection whose request was not complete after \(Self.describe(timeouts.requestTimeout))",
                          metadata: ["peer": "\(context.channel.remoteAddress?.ipAddress ?? "?")"])
            context.close(promise: nil)
        case .close(.idle):
            logger.debug("closing a connection idle for \(Self.describe(timeouts.idleTimeout))")
            context.close(promise: nil)
        }
    }

    static func describe(_ amount: TimeAmount) -> String {
        let milliseconds = amount.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}

// MARK: - Decisions

extension ConnectionGuard {
    /// When `ConnectionGuard` cuts a connection off, without a clock or a timer of its own:
    /// each event brings the time, and the answer says how to arm the one timer.
    struct StateMachine {
        /// What to do with the connection's timer.
        enum TimerAction: Equatable {
            /// Leave it as it is.
            case keep
            /// Cancel it; arm it again for the deadline unless nil (no clock runs while
            /// an answer is awaited).
            case rearm(NIODeadline?)
        }

        /// Which limit a connection overran.
        enum Expiry: Equatable {
            case request
            case idle
        }

        /// What to do when the timer fires.
        enum FiredAction: Equatable {
            /// Nothing: an answer is awaited, and its end rearms the timer.
            case none
            /// The deadline moved since the timer was armed.
            case rearm(NIODeadline)
            case close(Expiry)
        }

        let timeouts: Timeouts
        /// When the bytes of the request being read began to arrive.
        private var readingSince: NIODeadline?
        /// Requests read in full and not yet answered.
        private var awaitingAnswer = 0
        private var lastActivity = NIODeadline.uptimeNanoseconds(0)

        init(timeouts: Timeouts) {
            self.timeouts = timeouts
        }

        /// The moment the connection is cut off if nothing changes, or nil while an answer is awaited.
        var deadline: NIODeadline? {
            if let readingSince { return readingSince + timeouts.requestTimeout }
            if awaitingAnswer > 0 { return nil }
            return lastActivity + timeouts.idleTimeout
        }

        /// The connection opened: the idle clock starts.
        mutating func added(now: NIODeadline) -> TimerAction {
            lastActivity = now
            return .rearm(deadline)
        }

        /// Bytes arrived: the first ones of a request start its clock.
        mutating func bytesRead(now: NIODeadline) -> TimerAction {
            lastActivity = now
            guard readingSince == nil else { return .keep }
            readingSince = now
            return .rearm(deadline)
        }

        /// The HTTP layer read a whole request: its clock stops; the timer, left armed,
        /// finds nothing to do when it fires.
        mutating func requestRead() {
            readingSince = nil
            awaitingAnswer += 1
        }

        /// The HTTP layer wrote the end of an answer: the idle clock starts again.
        mutating func responseSent(now: NIODeadline) -> TimerAction {
            // May go below zero for a moment: the router can answer before the request's
            // end was read (a 404 for a path that takes no body); its RequestRead follows.
            awaitingAnswer -= 1
            lastActivity = now
            return .rearm(deadline)
        }

        func timerFired(now: NIODeadline) -> FiredAction {
            guard let deadline else { return .none }
            guard now >= deadline else { return .rearm(deadline) }
            return .close(readingSince != nil ? .request : .idle)
        }
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
