import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// What `WebhookChannelHandler` decides for one connection, without doing any of it: fed
/// the HTTP parts read, the answers written and the channel's events, it returns actions
/// (forward a part to the router, check a webhook, write an answer and close, resume
/// reading) that the handler performs. Hummingbird's `HTTPConnectionStateHandler` has the
/// same split; here it lets the tests drive every decision without a channel.
///
/// HTTP/1.1 answers go out in request order: while a request waits for its answer (a
/// commit, or the router), later pipelined parts are held here and reading pauses; they
/// are taken up, one `takeUpHeldPart()` at a time, once the answer is out.
///
/// - Important: this is on the listener's hot path. Actions are enums with inline payloads
///   (no arrays, no closures) and a webhook's body is appended to in place, so that a
///   request allocates nothing here; only holding pipelined parts may grow `held`.
struct WebhookConnectionStateMachine {
    /// Why a webhook is refused as too large before its signature is checked.
    enum Oversize: Equatable, Sendable {
        /// `Content-Length` declares more than the limit.
        case declared(Int)
        /// The body grew past the limit as it arrived.
        case streamed
    }

    /// What to do with a part that was read (or taken up from the held ones).
    enum ReadAction: Equatable {
        /// Nothing now: the part is held, or it went into the webhook being read.
        case none
        /// Pass the part on to the router.
        case forward(HTTPRequestPart)
        /// Tell the connection guard that a request was read in full, then pass its end
        /// on to the router; when `thenTakeUpHeld`, the router had answered already and
        /// the connection is idle again.
        case forwardRequestEnd(HTTPRequestPart, thenTakeUpHeld: Bool)
        /// A webhook was read in full and is too large: tell the connection guard, then
        /// answer 413.
        case refuse(Oversize)
        /// A webhook was read in full: tell the connection guard, check the signature,
        /// and answer now or once the commit lands.
        case verify(signature: String?, body: ByteBuffer)
    }

    /// How to finish writing a webhook's answer.
    enum AnswerAction: Equatable {
        /// Flush, tell the connection guard the answer is out, take up held parts.
        case writeThenTakeUpHeld
        /// Flush, then close: the client asked for it; nothing more is read.
        case writeThenClose
    }

    /// What to do after the router wrote a part of its answer.
    enum RouterWriteAction: Equatable {
        case none
        /// The answer's end went out: tell the connection guard.
        case responseSent
        /// The answer's end went out after the request's: tell the connection guard, and
        /// later, outside the write (taking up held parts may write again), call
        /// `routerAnswerDelivered()`.
        case responseSentThenResume
    }

    /// What to do once held parts are taken up (`takeUpHeldPart()` returned nil).
    struct Resumption: OptionSet, Equatable {
        let rawValue: UInt8
        /// Held parts went on to the router outside a read: complete the read, since the
        /// router's channel hands what it read to its request loop only on that event.
        static let completeRead = Resumption(rawValue: 1 << 0)
        /// Pass on the graceful-shutdown request held while a webhook was under way.
        static let quiesce = Resumption(rawValue: 1 << 1)
        /// Ask for the read that was held while parts were.
        static let read = Resumption(rawValue: 1 << 2)
    }

    private enum Mode {
        case idle
        /// Reading a webhook's body.
        case receiving(Receiving)
        /// The webhook was read in full; its answer (now, or once committed) is awaited.
        case answering(closeAfter: Bool)
        /// A request for the router: done once its end went up and its answer came down.
        case forwarding(requestEnded: Bool, responseEnded: Bool)
        /// The last answer is written and the connection closes: nothing more is taken up.
        case closing
    }

    private struct Receiving {
        var signature: String?
        var body: ByteBuffer?
        var oversize: Oversize?
        var closeAfter: Bool
    }

    /// Bodies above this are refused.
    let bodyLimit: Int
    private var mode = Mode.idle
    /// Parts that arrived while an earlier request still waited for its answer.
    private var held = CircularBuffer<HTTPRequestPart>()
    private var readHeld = false
    private var quiesceHeld = false
    /// Parts passed on to the router since the last completed read.
    private var forwardedUnflushed = false

    init(bodyLimit: Int) {
        self.bodyLimit = bodyLimit
    }

    // MARK: - Reads

    /// A part was read from the connection.
    mutating func read(_ part: HTTPRequestPart) -> ReadAction {
        if !held.isEmpty || isWaitingForAnswer {
            held.append(part)
            return .none
        }
        return process(part)
    }

    /// The next held part, processed, once the current request is answered; nil when
    /// nothing can be taken up (then call `heldPartsTakenUp()`).
    mutating func takeUpHeldPart() -> ReadAction? {
        guard !held.isEmpty, !isWaitingForAnswer else { return nil }
        return process(held.removeFirst())
    }

    /// After `takeUpHeldPart()` returned nil: what the held parts kept back.
    mutating func heldPartsTakenUp() -> Resumption {
        var resumption: Resumption = []
        if forwardedUnflushed {
            forwardedUnflushed = false
            resumption.insert(.completeRead)
        }
        guard held.isEmpty, !isWaitingForAnswer else { return resumption }
        if case .idle = mode, quiesceHeld {
            quiesceHeld = false
            resumption.insert(.quiesce)
        }
        if readHeld {
            readHeld = false
            resumption.insert(.read)
        }
        return resumption
    }

    /// The read that delivered parts completed (the router's channel sees them now).
    mutating func readCompleted() {
        forwardedUnflushed = false
    }

    /// The pipeline asks for more bytes: whether to pass the request on. Reading pauses
    /// while parts are held; `heldPartsTakenUp()` resumes it.
    mutating func readRequested() -> Bool {
        if !held.isEmpty {
            readHeld = true
            return false
        }
        return true
    }

    /// Graceful shutdown asks idle connections to close: whether to pass that on now. A
    /// webhook under way keeps the connection until its answer is written.
    mutating func quiesceRequested() -> Bool {
        switch mode {
        case .receiving, .answering, .closing:
            quiesceHeld = true
            return false
        case .idle, .forwarding:
            return true
        }
    }

    /// Whether a new request must wait: its answer would overtake the current one's.
    private var isWaitingForAnswer: Bool {
        switch mode {
        case .answering, .closing: true
        case .forwarding(requestEnded: true, _): true
        case .idle, .receiving, .forwarding(requestEnded: false, _): false
        }
    }

    private mutating func process(_ part: HTTPRequestPart) -> ReadAction {
        switch (mode, part) {
        case (.idle, .head(let head)):
            guard head.method == .post, Self.isWebhookPath(head.path) else {
                mode = .forwarding(requestEnded: false, responseEnded: false)
                return forward(part)
            }
            let declared = head.headerFields[.contentLength].flatMap { Int($0) }
            mode = .receiving(Receiving(
                signature: head.headerFields[WebhookIntake.signatureHeader],
                body: nil,
                oversize: declared.flatMap { $0 > bodyLimit ? .declared($0) : nil },
                closeAfter: head.headerFields[.connection]?.lowercased() == "close"))
            return .none
        case (.receiving(var receiving), .body(var chunk)):
            mode = .idle  // drop the reference so that the body buffer is not copied on write
            if receiving.oversize == nil {
                if var body = receiving.body {
                    receiving.body = nil
                    if body.readableBytes + chunk.readableBytes > bodyLimit {
                        receiving.oversize = .streamed
                    } else {
                        body.writeBuffer(&chunk)
                        receiving.body = body
                    }
                } else if chunk.readableBytes > bodyLimit {
                    receiving.oversize = .streamed
                } else {
                    receiving.body = chunk
                }
            }
            mode = .receiving(receiving)
            return .none
        case (.receiving(let receiving), .end):
            mode = .answering(closeAfter: receiving.closeAfter)
            if let oversize = receiving.oversize { return .refuse(oversize) }
            return .verify(signature: receiving.signature, body: receiving.body ?? ByteBuffer())
        case (.forwarding(_, let responseEnded), .end):
            mode = responseEnded ? .idle : .forwarding(requestEnded: true, responseEnded: false)
            forwardedUnflushed = true
            return .forwardRequestEnd(part, thenTakeUpHeld: responseEnded)
        case (.forwarding, _):
            return forward(part)
        default:
            // Out of order parts: let the router's connection handling report it.
            return forward(part)
        }
    }

    private mutating func forward(_ part: HTTPRequestPart) -> ReadAction {
        forwardedUnflushed = true
        return .forward(part)
    }

    static func isWebhookPath(_ path: String?) -> Bool {
        guard let path else { return false }
        let route = path.utf8.firstIndex(of: UInt8(ascii: "?")).map { path[..<$0] } ?? path[...]
        return route == "/webhook" || route == "/webhook/"
    }

    // MARK: - Answers

    /// The answer to the webhook that was read (`refuse`, `verify`) is being written.
    mutating func writingAnswer() -> AnswerAction {
        guard case .answering(let closeAfter) = mode else {
            preconditionFailure("an answer is written while no webhook awaits one")
        }
        if closeAfter {
            mode = .closing
            return .writeThenClose
        }
        mode = .idle
        return .writeThenTakeUpHeld
    }

    /// The router wrote a part of its answer.
    mutating func routerWrote(_ part: HTTPResponsePart) -> RouterWriteAction {
        guard case .forwarding(let requestEnded, false) = mode, case .end = part else { return .none }
        mode = .forwarding(requestEnded: requestEnded, responseEnded: true)
        return requestEnded ? .responseSentThenResume : .responseSent
    }

    /// After `responseSentThenResume`, outside the write: whether the connection is idle
    /// again and held parts are to be taken up.
    mutating func routerAnswerDelivered() -> Bool {
        guard case .forwarding(requestEnded: true, responseEnded: true) = mode else { return false }
        mode = .idle
        return true
    }
}
