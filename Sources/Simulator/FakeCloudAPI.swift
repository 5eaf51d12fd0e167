import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import InboxCore
import Logging
import ServiceLifecycle
import NIOCore
import Synchronization

/// A fake WhatsApp Cloud API on loopback: `POST /{version}/{phone-number-id}/messages`
/// (send and mark read), `GET /{version}/{waba-id}/message_templates`,
/// `GET /{version}/{phone-number-id}` (the phone number object), `GET /{version}/{media-id}`
/// and the media download.
///
/// It answers like Meta (ids `wamid.…`, the documented error bodies), can be told to fail,
/// records every request, and posts signed status webhooks for what it accepted to a
/// listener. Tests and `wabox demo` use it; nothing talks to Meta.
public final class FakeCloudAPI: Sendable {
    /// A documented failure the fake can answer with.
    public enum Failure: Sendable, Hashable {
        case windowClosed          // 131047
        case undeliverable         // 131026
        case throughput            // 130429
        case pairRateLimit         // 131056
        case badToken              // 190
        case invalidParameter      // 100
        case unsupportedType       // 131051
        case unknown               // 131000
        case accountRestricted     // 368
        case accountLocked         // 131031
        /// A bare 5xx without an error body (a proxy or an outage).
        case serverError(status: Int)
    }

    /// Where and how status webhooks go after an accepted send.
    public struct StatusWebhooks: Sendable {
        public enum Order: Sendable { case inOrder, reversed, shuffled }

        /// The listener, e.g. `http://127.0.0.1:8080/webhook`.
        public var url: String
        /// Signs each body with `WebhookSignature`.
        public var appSecret: String
        public var statuses: [DeliveryStatus]
        public var order: Order
        /// Between two webhooks.
        public var delay: Duration
        /// Post (and wait for the listener's answer to) every status before answering the
        /// send request: the race where statuses come before the message id.
        public var beforeResponse: Bool

        public init(url: String, appSecret: String, statuses: [DeliveryStatus] = [.sent, .delivered, .read],
                    order: Order = .inOrder, delay: Duration = .milliseconds(20), beforeResponse: Bool = false) {
            self.url = url
            self.appSecret = appSecret
            self.statuses = statuses
            self.order = order
            self.delay = delay
            self.beforeResponse = beforeResponse
        }
    }

    /// A status webhook the fake posted and the listener took.
    public struct PostedStatus: Sendable, Hashable {
        public var wamid: String
        /// The wa_id, or the user id of a customer addressed by user id.
        public var recipient: String
        public var status: DeliveryStatus
        /// Whether it is about the newest message the fake accepted for that recipient.
        public var isLatestToRecipient: Bool
    }

    /// A request the fake received.
    public struct RecordedRequest: Sendable, Hashable {
        public var method: String
        public var path: String
        public var authorization: String?
        public var body: Data

        /// The body parsed, for comparing JSON regardless of key order and spacing.
        public var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: body) }
    }

    /// A template the fake lists.
    public struct Template: Sendable, Hashable, Encodable {
        public var id: String
        public var name: String
        public var language: String
        public var status: String
        public var category: String
        public var components: [Component]

        public struct Component: Sendable, Hashable, Encodable {
            public var type: String
            public var text: String?
            public init(type: String, text: String?) {
                self.type = type
                self.text = text
            }
        }

        public init(id: String, name: String, language: String, status: String = "APPROVED",
                    category: String = "UTILITY", body: String) {
            self.id = id
            self.name = name
            self.language = language
            self.status = status
            self.category = category
            self.components = [Component(type: "BODY", text: body)]
        }
    }

    struct Media: Sendable {
        var mimeType: String
        var bytes: Data
    }

    struct State: Sendable {
        var accessToken: String
        var requests: [RecordedRequest] = []
        var scriptedFailures: [Failure] = []
        var closedWindow: Set<String> = []
        var undeliverable: Set<String> = []
        var accepted = 0
        var statusWebhooks: StatusWebhooks?
        var postedWebhooks = 0
        var webhookErrors: [String] = []
        var templates: [Template] = []
        var media: [String: Media] = [:]
        var phoneNumbers: [String: PhoneNumber] = [PhoneNumber.standard.id: .standard]
        var port: Int?
        /// The newest message accepted for each recipient (wa_id or user id).
        var latestAccepted: [String: String] = [:]
        /// Download URLs handed out and not used yet: each works once, as Meta's expire.
        var downloadTokens: [String: String] = [:]
        /// Media whose next download URL has already expired (answers 404).
        var expireNextURL: Set<String> = []
        /// Media whose metadata gives a digest that does not match the bytes.
        var wrongHash: Set<String> = []
        var downloads = 0
        var statusObservers: [@Sendable (PostedStatus) -> Void] = []
    }

    let state: Mutex<State>
    let phoneNumberDisplay = "15550009999"
    /// Keeps ids unique across runs on one database (the demo with `--db`).
    let runTag = String((0..<6).map { _ in "ABCDEFGHJKLMNPQRSTUVWXYZ".randomElement()! })
    let wabaID: String
    let logger: Logger
    let now: @Sendable () -> Int64

    public init(accessToken: String, wabaID: String = "102290129340398",
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
                logger: Logger = Logger(label: "wabox.fake-cloud-api", factory: { _ in SwiftLogNoOpLogHandler() })) {
        state = Mutex(State(accessToken: accessToken))
        self.wabaID = wabaID
        self.now = now
        self.logger = logger
    }

    // MARK: - Scripting

    /// The next `count` send calls answer with `failure`, in order after those already queued.
    public func failNext(_ count: Int = 1, with failure: Failure) {
        state.withLock { $0.scriptedFailures += Array(repeating: failure, count: count) }
    }

    /// Sends to `recipient` (a wa_id or user id) answer 131047.
    public func closeWindow(for recipient: String) {
        state.withLock { _ = $0.closedWindow.insert(recipient) }
    }

    /// Sends to `recipient` answer 131026.
    public func makeUndeliverable(_ recipient: String) {
        state.withLock { _ = $0.undeliverable.insert(recipient) }
    }

    /// The token the fake accepts; any other gets 190.
    public func setAccessToken(_ token: String) {
        state.withLock { $0.accessToken = token }
    }

    public func postStatuses(_ webhooks: StatusWebhooks?) {
        state.withLock { $0.statusWebhooks = webhooks }
    }

    /// Tells `observer` of every status webhook the listener took (answered 200).
    public func observeStatuses(_ observer: @escaping @Sendable (PostedStatus) -> Void) {
        state.withLock { $0.statusObservers.append(observer) }
    }

    public func addTemplates(_ templates: [Template]) {
        state.withLock { $0.templates += templates }
    }

    public func addMedia(id: String, mimeType: String, bytes: Data) {
        state.withLock { $0.media[id] = Media(mimeType: mimeType, bytes: bytes) }
    }

    /// The next download URL handed out for `id` has expired by the time it is used (404),
    /// as happens when a download waits longer than about 5 minutes.
    public func expireNextDownloadURL(of id: String) {
        state.withLock { _ = $0.expireNextURL.insert(id) }
    }

    /// The metadata of `id` gives a SHA-256 that the bytes do not have.
    public func advertiseWrongHash(for id: String) {
        state.withLock { _ = $0.wrongHash.insert(id) }
    }

    /// How many media downloads were answered with the bytes.
    public var mediaDownloads: Int { state.withLock { $0.downloads } }

    // MARK: - Inspection

    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// The send and mark-read requests, in arrival order.
    public var messageRequests: [RecordedRequest] {
        requests.filter { $0.method == "POST" && $0.path.hasSuffix("/messages") }
    }

    /// Status webhooks the listener answered with 200.
    public var postedWebhooks: Int { state.withLock { $0.postedWebhooks } }

    /// Status webhooks that could not be delivered, and why.
    public var webhookErrors: [String] { state.withLock { $0.webhookErrors } }

    // MARK: - Running

    /// Builds the HTTP application on `host:port` (port 0: any free one).
    public func makeApplication(host: String = "127.0.0.1", port: Int = 0,
                                onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        let router = Router()
        router.post("/:version/:node/messages") { request, context in
            try await self.messages(request, phoneNumberID: context.parameters.require("node"))
        }
        router.post("/:version/:node/media") { request, context in
            try await self.upload(request)
        }
        router.get("/:version/:node/message_templates") { request, context in
            try await self.templates(request, account: context.parameters.require("node"))
        }
        router.get("/:version/:node") { request, context in
            let node = try context.parameters.require("node")
            if self.state.withLock({ $0.phoneNumbers[node] != nil }) {
                return try await self.phoneNumber(request, id: node)
            }
            return try await self.mediaInfo(request, mediaID: node)
        }
        router.get("/download/media/:id") { request, context in
            try await self.download(request, mediaID: context.parameters.require("id"))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                self.state.withLock { $0.port = bound }
                await onServerRunning(bound)
            },
            logger: logger)
    }

    /// Runs the fake on a free loopback port for the duration of `body`, which gets the
    /// base URL to use as `WABOX_GRAPH_URL` (`http://127.0.0.1:PORT`).
    public func withRunning<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = makeApplication(onServerRunning: { port in continuation.yield(port) })
        let services = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                throw FakeError(description: "the fake Cloud API did not start")
            }
            do {
                let result = try await body("http://127.0.0.1:\(port)")
                await services.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
        }
    }

    public struct FakeError: Error, CustomStringConvertible {
        public var description: String
    }

    // MARK: - Routes

    func record(_ request: Request, maxBytes: Int = 1 << 20) async throws -> RecordedRequest {
        let buffer = try await request.body.collect(upTo: maxBytes)
        let recorded = RecordedRequest(method: request.method.rawValue, path: request.uri.path,
                                       authorization: request.headers[.authorization], body: Data(buffer.readableBytesView))
        state.withLock { $0.requests.append(recorded) }
        return recorded
    }

    func authorized(_ recorded: RecordedRequest) -> Bool {
        let token = state.withLock { $0.accessToken }
        return recorded.authorization == "Bearer \(token)"
    }

    func messages(_ request: Request, phoneNumberID: String) async throws -> Response {
        let recorded = try await record(request)
        guard authorized(recorded) else { return Self.error(.badToken) }
        if let read = try? JSONDecoder().decode(MarkReadBody.self, from: recorded.body), read.status == "read" {
            guard read.messagingProduct == "whatsapp", read.messageID.hasPrefix("wamid.") else {
                return Self.error(.invalidParameter, details: "message_id must be a wamid")
            }
            return Self.json(.ok, #"{"success":true}"#)
        }
        guard let body = try? JSONDecoder().decode(SendMessageBody.self, from: recorded.body) else {
            return Self.error(.invalidParameter, details: "the body is not a message")
        }
        if let problem = Self.validate(body) { return Self.error(.invalidParameter, details: problem) }
        let recipient = body.to ?? body.recipient ?? ""
        let failure: Failure? = state.withLock { state in
            if !state.scriptedFailures.isEmpty { return state.scriptedFailures.removeFirst() }
            if state.closedWindow.contains(recipient), body.type != "template" { return .windowClosed }
            if state.undeliverable.contains(recipient) { return .undeliverable }
            return nil
        }
        if let failure { return Self.error(failure) }
        let (wamid, webhooks) = state.withLock { state -> (String, StatusWebhooks?) in
            state.accepted += 1
            let wamid = "wamid.SIM" + runTag + String(format: "%08d", state.accepted)
            state.latestAccepted[recipient] = wamid
            return (wamid, state.statusWebhooks)
        }
        if let webhooks {
            let plan = StatusPlan(wamid: wamid, phoneNumberID: phoneNumberID, body: body, sentAt: now())
            if webhooks.beforeResponse {
                await postStatuses(plan, webhooks)
            } else {
                Task { await self.postStatuses(plan, webhooks) }
            }
        }
        let response = SendMessageResponse(
            contacts: [.init(input: recipient, waID: body.to)],
            messages: [.init(id: wamid, messageStatus: body.type == "template" ? "accepted" : nil)])
        return Self.json(.ok, String(decoding: try CloudJSON.encode(response), as: UTF8.self))
    }

    /// What Meta would refuse with 100, in a few words; nil when the body is well formed.
    static func validate(_ body: SendMessageBody) -> String? {
        guard body.messagingProduct == "whatsapp" else { return "messaging_product must be whatsapp" }
        guard (body.to == nil) != (body.recipient == nil) else { return "exactly one of to and recipient is required" }
        if let to = body.to, to.isEmpty || !to.allSatisfy(\.isNumber) { return "to must be a phone number" }
        switch body.type {
        case "text":
            guard let text = body.text, !text.body.isEmpty, text.body.count <= 4096 else { return "text.body is required (1–4096 characters)" }
        case "reaction":
            guard let reaction = body.reaction, reaction.messageID.hasPrefix("wamid.") else { return "reaction.message_id is required" }
        case "interactive":
            guard let interactive = body.interactive, interactive.type == "button" else { return "interactive.type must be button" }
            let titles = interactive.action.buttons.map(\.reply.title)
            if let problem = ReplyButtons(body: interactive.body.text, titles: titles).problem { return problem }
        case "template":
            guard let template = body.template, !template.name.isEmpty, !template.language.code.isEmpty else {
                return "template.name and template.language.code are required"
            }
        default:
            return nil
        }
        if let context = body.context, !context.messageID.hasPrefix("wamid.") { return "context.message_id must be a wamid" }
        return nil
    }

    func templates(_ request: Request, account: String) async throws -> Response {
        let recorded = try await record(request)
        guard authorized(recorded) else { return Self.error(.badToken) }
        struct Listing: Encodable {
            struct Paging: Encodable {
                struct Cursors: Encodable { let before: String, after: String }
                let cursors: Cursors
            }
            let data: [Template]
            let paging: Paging
        }
        let templates = state.withLock { $0.templates }
        let listing = Listing(data: templates, paging: .init(cursors: .init(before: "MAZDZD", after: "MjQZD")))
        return Self.json(.ok, String(decoding: try CloudJSON.encode(listing), as: UTF8.self))
    }

    func mediaInfo(_ request: Request, mediaID: String) async throws -> Response {
        let recorded = try await record(request)
        guard authorized(recorded) else { return Self.error(.badToken) }
        let token = UUID().uuidString.lowercased()
        let (media, port, wrong) = state.withLock { state in
            if state.media[mediaID] != nil {
                state.downloadTokens[token] = state.expireNextURL.remove(mediaID) == nil ? mediaID : "expired"
            }
            return (state.media[mediaID], state.port ?? 0, state.wrongHash.contains(mediaID))
        }
        guard let media else {
            return Self.error(.invalidParameter, details: "Unsupported get request. Object with ID '\(mediaID)' does not exist")
        }
        struct Info: Encodable {
            let messaging_product = "whatsapp"
            let url: String, mime_type: String, sha256: String, file_size: Int, id: String
        }
        let digest = wrong ? MediaDigest.hex(of: media.bytes + Data("x".utf8)) : MediaDigest.hex(of: media.bytes)
        let info = Info(url: "http://127.0.0.1:\(port)/download/media/\(mediaID)?token=\(token)", mime_type: media.mimeType,
                        sha256: digest, file_size: media.bytes.count, id: mediaID)
        return Self.json(.ok, String(decoding: try CloudJSON.encode(info), as: UTF8.self))
    }

    /// The bytes behind a URL from `mediaInfo`: the Bearer token is required, and each URL
    /// works once.
    func download(_ request: Request, mediaID: String) async throws -> Response {
        let recorded = try await record(request)
        guard authorized(recorded) else { return Self.error(.badToken) }
        let token = request.uri.queryParameters["token"].map(String.init) ?? ""
        let media = state.withLock { state -> Media? in
            guard state.downloadTokens.removeValue(forKey: token) == mediaID, let media = state.media[mediaID] else { return nil }
            state.downloads += 1
            return media
        }
        guard let media else { return Response(status: .notFound) }
        return Response(status: .ok, headers: [.contentType: media.mimeType],
                        body: .init(byteBuffer: ByteBuffer(bytes: media.bytes)))
    }

    /// `POST /{phone-number-id}/media`: a multipart form with `messaging_product`, `type`
    /// and `file`. The file is kept as media of the fake, so it can be fetched back.
    func upload(_ request: Request) async throws -> Response {
        let recorded = try await record(request, maxBytes: 110 * 1024 * 1024)
        guard authorized(recorded) else { return Self.error(.badToken) }
        guard let contentType = request.headers[.contentType], let range = contentType.range(of: "boundary="),
              let form = Multipart.parse(recorded.body, boundary: String(contentType[range.upperBound...])) else {
            return Self.error(.invalidParameter, details: "the body is not multipart/form-data")
        }
        guard form.fields["messaging_product"] == "whatsapp" else {
            return Self.error(.invalidParameter, details: "messaging_product must be whatsapp")
        }
        guard let type = form.fields["type"], let file = form.file, !file.isEmpty else {
            return Self.error(.invalidParameter, details: "type and file are required")
        }
        let id = state.withLock { state -> String in
            let id = String(format: "9%014d", state.media.count + 1)
            state.media[id] = Media(mimeType: type, bytes: file)
            return id
        }
        return Self.json(.ok, #"{"id":"\#(id)"}"#)
    }

    // MARK: - Answers

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The error body Meta sends for `failure`.
    static func error(_ failure: Failure, details: String? = nil) -> Response {
        let (status, code, type, message, defaultDetails): (HTTPResponse.Status, Int, String, String, String)
        switch failure {
        case .windowClosed:
            (status, code, type, message, defaultDetails) = (.badRequest, 131047, "OAuthException", "(#131047) Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.")
        case .undeliverable:
            (status, code, type, message, defaultDetails) = (.badRequest, 131026, "OAuthException", "(#131026) Message Undeliverable",
                "Message could not be delivered to this recipient.")
        case .throughput:
            (status, code, type, message, defaultDetails) = (.badRequest, 130429, "OAuthException", "(#130429) Rate limit hit",
                "Cloud API message throughput has been reached.")
        case .pairRateLimit:
            (status, code, type, message, defaultDetails) = (.badRequest, 131056, "OAuthException",
                "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                "Too many messages sent from this phone number to the same recipient in a short period.")
        case .badToken:
            (status, code, type, message, defaultDetails) = (.unauthorized, 190, "OAuthException",
                "Error validating access token: The session is invalid.", "The access token could not be decrypted or has expired.")
        case .invalidParameter:
            (status, code, type, message, defaultDetails) = (.badRequest, 100, "OAuthException", "(#100) Invalid parameter",
                "A parameter of the request is invalid.")
        case .unsupportedType:
            (status, code, type, message, defaultDetails) = (.badRequest, 131051, "OAuthException", "(#131051) Unsupported message type",
                "Message type is not currently supported.")
        case .unknown:
            (status, code, type, message, defaultDetails) = (.internalServerError, 131000, "OAuthException",
                "(#131000) Something went wrong", "Message failed to send due to an unknown error.")
        case .accountRestricted:
            (status, code, type, message, defaultDetails) = (.forbidden, 368, "OAuthException",
                "(#368) Temporarily blocked for policies violations", "The account is restricted.")
        case .accountLocked:
            (status, code, type, message, defaultDetails) = (.forbidden, 131031, "OAuthException",
                "(#131031) Business Account locked", "The business account has been locked.")
        case .serverError(let code):
            return Response(status: .init(code: code), headers: [.contentType: "text/html"],
                            body: .init(byteBuffer: ByteBuffer(string: "<html><body>Service Unavailable</body></html>")))
        }
        let body = CloudAPIError.Body(error: .init(message: message, type: type, code: code, details: details ?? defaultDetails,
                                                   fbtraceID: "AFakeTrace" + String(code)))
        return json(status, String(decoding: (try? CloudJSON.encode(body)) ?? Data(), as: UTF8.self))
    }
}

/// Just enough of `multipart/form-data` to read what wabox uploads.
enum Multipart {
    struct Form {
        var fields: [String: String] = [:]
        var file: Data?
    }

    static func parse(_ body: Data, boundary: String) -> Form? {
        let delimiter = Data("--\(boundary)".utf8)
        let bytes = [UInt8](body)
        var parts: [[UInt8]] = []
        var start: Int?
        var index = 0
        while let found = find(Array(delimiter), in: bytes, from: index) {
            if let start { parts.append(Array(bytes[start..<max(start, found - 2)])) }  // drop the CRLF before it
            index = found + delimiter.count
            start = index + 2  // the CRLF after it
        }
        guard !parts.isEmpty else { return nil }
        var form = Form()
        for part in parts {
            guard let split = find(Array("\r\n\r\n".utf8), in: part, from: 0) else { continue }
            let head = String(decoding: part[..<split], as: UTF8.self)
            let content = Array(part[(split + 4)...])
            guard let nameRange = head.range(of: "name=\"") else { continue }
            let name = String(head[nameRange.upperBound...].prefix { $0 != "\"" })
            if head.contains("filename=") {
                form.file = Data(content)
            } else {
                form.fields[name] = String(decoding: content, as: UTF8.self)
            }
        }
        return form
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard needle.count <= haystack.count, from <= haystack.count - needle.count else { return nil }
        var i = from
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], Array(haystack[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}
