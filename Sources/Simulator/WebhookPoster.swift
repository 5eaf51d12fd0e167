import AsyncHTTPClient
import CloudAPI
import Foundation
import InboxCore
import NIOCore

/// What a listener answered to one webhook.
public struct ListenerAnswer: Sendable, Hashable {
    /// The HTTP status, or nil when no answer came.
    public var status: Int?
    /// The answer's body, sanitised for the terminal; or why no answer came.
    public var text: String
    /// The connection was refused: nothing listens there.
    public var refused = false

    public init(status: Int?, text: String, refused: Bool = false) {
        self.status = status
        self.text = text
        self.refused = refused
    }

    public var succeeded: Bool { (200..<300).contains(status ?? 0) }
}

/// Posts webhooks signed with the app secret exactly as Meta does (HMAC-SHA256 of the
/// body's bytes in `X-Hub-Signature-256`): the one poster behind `wabox simulate`, the
/// demo's customers and the fake Cloud API's status webhooks.
public struct WebhookPoster: Sendable {
    public let url: String
    private let signature: WebhookSignature
    private let client: HTTPClient
    private let timeout: TimeAmount
    private let userAgent: String

    /// - Parameter client: the caller's client, which the poster never shuts down.
    public init(url: String, appSecret: String, client: HTTPClient = .shared, timeout: TimeAmount = .seconds(10),
                userAgent: String = "wabox-simulator") {
        self.url = url
        self.signature = WebhookSignature(appSecret: appSecret)
        self.client = client
        self.timeout = timeout
        self.userAgent = userAgent
    }

    /// Runs `body` with a poster on a client of its own (no redirects, no connection
    /// retries: a closed port is reported at once), shut down afterwards.
    public static func withDirectClient<T: Sendable>(url: String, appSecret: String, connections: Int,
                                                     timeout: TimeAmount = .seconds(30), userAgent: String,
                                                     _ body: (WebhookPoster) async -> T) async -> T {
        let client = DirectHTTP.makeClient(connections: connections)
        let poster = WebhookPoster(url: url, appSecret: appSecret, client: client, timeout: timeout, userAgent: userAgent)
        let result = await body(poster)
        try? await client.shutdown()
        return result
    }

    /// The `X-Hub-Signature-256` value for `body`.
    public func signatureHeader(for body: Data) -> String { signature.header(for: body) }

    /// Posts one signed body and reports what the listener answered.
    public func post(_ body: Data) async -> ListenerAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Hub-Signature-256", value: signature.header(for: body))
        request.headers.add(name: "User-Agent", value: userAgent)
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: 64 * 1024)
            return ListenerAnswer(status: Int(response.status.code), text: DirectHTTP.printable(Data(bytes.readableBytesView)))
        } catch {
            let failure = TransportFailure.classify(error)
            return ListenerAnswer(status: nil, text: failure.description, refused: failure.isRefused)
        }
    }

    /// Posts `count` bodies, `concurrency` at a time; the answers come in request order.
    public func post(count: Int, concurrency: Int, body: @escaping @Sendable (Int) -> Data) async -> [ListenerAnswer] {
        let concurrency = max(1, concurrency)
        return await withTaskGroup(of: (Int, ListenerAnswer).self) { group in
            var answers = [ListenerAnswer?](repeating: nil, count: count)
            var next = 0, inFlight = 0
            while next < count || inFlight > 0 {
                // Keep `concurrency` requests in flight; collect one answer to make room.
                if next < count, inFlight < concurrency {
                    let index = next
                    next += 1
                    inFlight += 1
                    group.addTask { (index, await post(body(index))) }
                    continue
                }
                guard let (index, answer) = await group.next() else { break }
                answers[index] = answer
                inFlight -= 1
            }
            return answers.map { $0 ?? ListenerAnswer(status: nil, text: "not sent") }
        }
    }
}

/// The answers of a run of posts, grouped for printing, with advice for the first failure.
public struct PostReport: Sendable {
    public let answers: [ListenerAnswer]

    public init(answers: [ListenerAnswer]) { self.answers = answers }

    public var allSucceeded: Bool { answers.allSatisfy(\.succeeded) }
    public var nothingListened: Bool { !answers.isEmpty && answers.allSatisfy(\.refused) }

    /// `← 200 OK: EVENT_RECEIVED`, or for a burst one line per status with its count.
    public func lines(single: Bool) -> [String] {
        var groups: [(key: String, count: Int, text: String)] = []
        for answer in answers {
            let key = answer.status.map { "\($0) \(Self.reason($0))" } ?? "no answer"
            if let index = groups.firstIndex(where: { $0.key == key }) {
                groups[index].count += 1
            } else {
                groups.append((key, 1, answer.text))
            }
        }
        return groups.map { group in
            let said = group.text.isEmpty ? "" : ": \(group.text)"
            return single ? "← \(group.key)\(said)" : "← \(group.count) × \(group.key)\(said)"
        }
    }

    /// What to do about the first failed answer; `secret` is the app secret as it may be shown.
    public func advice(secret: String) -> String {
        let failed = answers.filter { !$0.succeeded }
        let prefix = answers.count > 1 ? "\(failed.count) of \(answers.count) webhooks were not accepted" : "the webhook was not accepted"
        guard let first = failed.first else { return prefix }
        switch first.status {
        case 401:
            return "\(prefix): the listener refused the signature. simulate signed with app secret \(secret); give it the same app_secret as the listener (WABOX_APP_SECRET or app_secret in config.toml)"
        case 404:
            return "\(prefix): nothing answers at that path. The listener takes POST /webhook: check --url"
        case 413:
            return "\(prefix): the body is over the listener's limit (wabox serve --body-limit)"
        case 429, 503:
            return "\(prefix): the listener is busy; Meta would retry. Try a smaller --count or --concurrency"
        case nil:
            return "\(prefix): \(first.text)"
        default:
            return "\(prefix): see the listener's answer above and its log"
        }
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301, 302, 307, 308: "Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}
