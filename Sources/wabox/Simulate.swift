import ArgumentParser
import AsyncHTTPClient
import Foundation
import InboxCore
import NIOCore
import NIOPosix
import Simulator

/// `wabox simulate`: posts signed webhooks to a listener, as Meta would.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Post a signed test webhook to a listener.",
        discussion: """
            Builds a webhook shaped as the Cloud API sends it (a customer's message of --type, or \
            a delivery status), signs it with the app secret (WABOX_APP_SECRET or app_secret in \
            config.toml) exactly as Meta does, and POSTs it to the listener: by default \
            http://<listen setting>/webhook, else --url, which may be a deployed https:// address. \
            Prints the HTTP status and what the listener answered; exits 0 only if every answer \
            was 2xx.

            Examples:
              wabox simulate                              a text from a test customer
              wabox simulate --type image --text "Box"    a photo with a caption
              wabox simulate --status read --id wamid.…   a read receipt
              wabox simulate --file body.json             your own body, byte for byte
              wabox simulate --count 500                  a burst, 16 in flight
            """,
        version: waboxVersion
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Where to post (default http://<listen setting>/webhook).", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("What the customer sends: \(SimulatedMessage.presetNames.joined(separator: ", ")), or status.",
                               valueName: "type"))
    var type: String?

    @Option(help: ArgumentHelp("The text, or the caption, name or title the type carries (for reaction: the emoji).",
                               valueName: "text"))
    var text: String?

    @Option(help: ArgumentHelp("The customer's wa_id (phone number digits), or a user id (US.…) for a username-only customer.",
                               valueName: "wa_id"))
    var from: String = "15550100001"

    @Option(help: ArgumentHelp("The customer's profile name.", valueName: "name"))
    var name: String = "Sam Tester"

    @Option(help: ArgumentHelp("The customer's username (profile.username).", valueName: "username"))
    var username: String?

    @Option(name: .customLong("reply-to"), help: ArgumentHelp("Quote this earlier message (its wamid).", valueName: "wamid"))
    var replyTo: String?

    @Option(help: ArgumentHelp("A delivery status: sent, delivered, read, played or failed (implies --type status).",
                               valueName: "status"))
    var status: String?

    @Option(help: ArgumentHelp("With --type status: the outbound message the status is about; with --type reaction: the message reacted to.",
                               valueName: "wamid"))
    var id: String?

    @Option(name: .customLong("error-code"), help: ArgumentHelp("With --status failed: the Cloud API error code (default 131026).",
                                                                valueName: "code"))
    var errorCode: Int?

    @Option(help: ArgumentHelp("Sign and post this file's exact bytes instead of a preset (- reads standard input).",
                               valueName: "body.json"))
    var file: String?

    @Option(help: ArgumentHelp("Post this many distinct webhooks, concurrently.", valueName: "n"))
    var count: Int = 1

    @Option(help: ArgumentHelp("Requests in flight at once during a burst.", valueName: "n"))
    var concurrency: Int = 16

    @Option(name: .customLong("phone-number-id"),
            help: ArgumentHelp("The business number the webhook is for (default the phone_number_id setting).", valueName: "id"))
    var phoneNumberID: String?

    static let statusNames = ["sent", "delivered", "read", "played", "failed"]

    func validate() throws {
        if let status, !Self.statusNames.contains(status) {
            throw ValidationError("--status \(status) is not one of \(Self.statusNames.joined(separator: ", "))")
        }
        let type = effectiveType
        if type != "status", !SimulatedMessage.presetNames.contains(type) {
            throw ValidationError("--type \(type) is not one of \((SimulatedMessage.presetNames + ["status"]).joined(separator: ", "))")
        }
        if type == "status" {
            guard status != nil, id != nil else {
                throw ValidationError("--type status needs --status (\(Self.statusNames.joined(separator: "|"))) and --id with the wamid of a message the business sent (the id `wabox send` printed)")
            }
        } else if status != nil {
            throw ValidationError("--status goes with --type status, not --type \(type)")
        }
        if type == "reaction", id == nil {
            throw ValidationError("--type reaction needs --id with the wamid of the message the customer reacts to")
        }
        if errorCode != nil, status != "failed" {
            throw ValidationError("--error-code goes with --status failed")
        }
        if file != nil, self.type != nil || status != nil || text != nil || replyTo != nil || id != nil {
            throw ValidationError("--file posts the file as it is: drop --type, --status, --id, --text and --reply-to")
        }
        guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be between 1 and 1000000") }
        guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 1024") }
        let digits = from.hasPrefix("+") ? String(from.dropFirst()) : from
        if !Self.isUserID(from), digits.isEmpty || !digits.allSatisfy(\.isASCII) || !digits.allSatisfy(\.isNumber) {
            throw ValidationError("--from \(from) is neither a phone number (digits, + allowed) nor a user id like US.13491208655302741918")
        }
    }

    /// `--type`, or `status` when only `--status` was given.
    var effectiveType: String { type ?? (status != nil ? "status" : "text") }

    /// A business-scoped user id looks like `US.13491208655302741918`.
    static func isUserID(_ text: String) -> Bool {
        guard let dot = text.firstIndex(of: ".") else { return false }
        return !text[..<dot].isEmpty && text[..<dot].allSatisfy(\.isLetter) && text[text.index(after: dot)...].allSatisfy(\.isNumber)
    }

    func run() async throws {
        let settings = try global.settings()
        guard let appSecret = settings.appSecret else {
            throw Failure("""
                wabox simulate signs webhooks with the app secret, as Meta does: set WABOX_APP_SECRET, or app_secret in \
                \(settings.configFile ?? Settings.defaultConfigPath(environment: ProcessInfo.processInfo.environment)), \
                to the same secret the listener uses.
                """)
        }
        let target = try url ?? Self.defaultURL(listen: settings.listen)
        guard let parsed = URL(string: target), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = parsed.host, !host.isEmpty else {
            throw Failure("--url \(target) is not an http:// or https:// address like http://127.0.0.1:8080/webhook")
        }
        let bodies = try makeBodies(phoneNumberID: phoneNumberID ?? settings[.phoneNumberID])
        let signature = WebhookSignature(appSecret: appSecret)
        let what = describe(bodies: bodies)
        print("→ POST \(target): \(what), signed with app secret \(Settings.redacted(appSecret))")

        let poster = WebhookPoster(url: target, concurrency: min(concurrency, count))
        let started = ContinuousClock.now
        let answers = await poster.post(count: count) { index in
            let body = bodies.body(index)
            return (body, signature.header(for: body))
        }
        let elapsed = ContinuousClock.now - started
        await poster.shutdown()

        let report = SimulateReport(answers: answers)
        // The lines quote the listener's answers, which may come from anywhere (--url).
        for line in report.lines(single: count == 1) { print(TerminalText.sanitizeKeepingLines(line)) }
        if count > 1 {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "%d requests in %.2f s: %.0f requests/s", count, seconds, Double(count) / max(seconds, 1e-6)))
        }
        if report.allSucceeded { return }
        if report.nothingListened {
            let port = parsed.port ?? (scheme == "https" ? 443 : 80)
            throw Failure("nothing listens on \(Serve.urlHost(host)):\(port): start `wabox serve` or `wabox`, or pass --url with the listener's address")
        }
        throw Failure(report.advice(secret: Settings.redacted(appSecret)))
    }

    /// `http://<listen>/webhook`, with a wildcard host replaced by loopback.
    static func defaultURL(listen: String) throws -> String {
        let address = try Serve.parse(listen)
        guard address.port != 0 else {
            throw Failure("the listen setting \(listen) picks any free port, so simulate cannot guess it: pass --url with the address `wabox serve` printed")
        }
        return "http://\(Serve.urlHost(Self.connectableHost(address.host))):\(address.port)/webhook"
    }

    /// A wildcard listen address is reached on loopback.
    static func connectableHost(_ host: String) -> String {
        switch host {
        case "0.0.0.0", "": "127.0.0.1"
        case "::", "[::]": "::1"
        default: host
        }
    }

    // MARK: - Bodies

    /// The bodies of a run: one file posted as it is, or a preset built afresh per request.
    struct Bodies: Sendable {
        let body: @Sendable (Int) -> Data
        let summary: String
    }

    func makeBodies(phoneNumberID: String?) throws -> Bodies {
        let builder = phoneNumberID.map { WebhookBuilder(phoneNumberID: $0) } ?? WebhookBuilder()
        if let file {
            let data: Data
            do {
                data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                    : try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw Failure("cannot read --file \(file): \(error.localizedDescription)")
            }
            guard !data.isEmpty else { throw Failure("--file \(file) is empty: give a webhook body (JSON)") }
            return Bodies(body: { _ in data }, summary: "\(file == "-" ? "standard input" : file) (\(data.count) bytes)")
        }
        let isUser = Self.isUserID(from)
        let waID = isUser ? nil : (from.hasPrefix("+") ? String(from.dropFirst()) : from)
        let customer = SimulatedCustomer(name: name.isEmpty ? nil : name, waID: waID, userID: isUser ? from : nil,
                                         username: username)
        let type = effectiveType
        let total = count
        if type == "status", let status, let id, let deliveryStatus = DeliveryStatus(rawValue: status) {
            let recipient = waID ?? customer.userID
            let errorCode = self.errorCode
            return Bodies(body: { _ in builder.status(deliveryStatus, of: id, to: customer, errorCode: errorCode) },
                          summary: "status \(status) of \(id) for \(recipient)")
        }
        let text = self.text, replyTo = self.replyTo, reactTo = self.id
        guard SimulatedMessage.preset(type, text: text, reactTo: reactTo) != nil else {
            throw Failure("--type \(type) has no preset")
        }
        // A single message's id is printed, for a later --reply-to or --type reaction --id.
        let firstID = WebhookBuilder.newMessageID()
        let sender = "\(waID.map { "+" + $0 } ?? customer.userID)\(name.isEmpty ? "" : " (\(name))")"
        return Bodies(body: { index in
            // A burst of texts numbers them, so that each one can be told apart on screen.
            let numbered = type == "text" && total > 1 ? "\(text ?? "Hello from wabox simulate") \(index + 1)/\(total)" : text
            let message = SimulatedMessage.preset(type, text: numbered, reactTo: reactTo)!
            return builder.message(from: customer, message, id: index == 0 ? firstID : WebhookBuilder.newMessageID(),
                                   replyTo: replyTo)
        }, summary: total == 1 ? "\(type) message \(firstID) from \(sender)" : "\(type) message from \(sender)")
    }

    func describe(bodies: Bodies) -> String {
        if count == 1 { return bodies.summary }
        return "\(count) × \(bodies.summary), \(min(concurrency, count)) at a time"
    }
}

// MARK: - Posting

/// What the listener answered to one request.
struct ListenerAnswer: Sendable {
    /// The HTTP status, or nil when no answer came.
    var status: Int?
    /// The answer's body, sanitised for the terminal; or why no answer came.
    var text: String
    /// The connection was refused: nothing listens there.
    var refused = false
}

/// Posts signed bodies with a bounded number of requests in flight.
struct WebhookPoster: Sendable {
    let url: String
    let concurrency: Int
    let client: HTTPClient

    init(url: String, concurrency: Int) {
        self.url = url
        self.concurrency = max(1, concurrency)
        client = ToolHTTP.makeClient(connections: self.concurrency)
    }

    func shutdown() async {
        try? await client.shutdown()
    }

    /// Posts `count` requests, `concurrency` at a time; answers in request order.
    func post(count: Int, body: @escaping @Sendable (Int) -> (Data, String)) async -> [ListenerAnswer] {
        await withTaskGroup(of: (Int, ListenerAnswer).self) { group in
            var answers = [ListenerAnswer?](repeating: nil, count: count)
            var next = 0, inFlight = 0
            while next < count || inFlight > 0 {
                // Keep `concurrency` requests in flight; collect one answer to make room.
                if next < count, inFlight < concurrency {
                    let index = next
                    next += 1
                    inFlight += 1
                    group.addTask {
                        let (bytes, signature) = body(index)
                        return (index, await postOne(bytes, signature: signature))
                    }
                    continue
                }
                guard let (index, answer) = await group.next() else { break }
                answers[index] = answer
                inFlight -= 1
            }
            return answers.map { $0 ?? ListenerAnswer(status: nil, text: "not sent") }
        }
    }

    func postOne(_ body: Data, signature: String) async -> ListenerAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Hub-Signature-256", value: signature)
        request.headers.add(name: "User-Agent", value: "wabox-simulate/\(waboxVersion)")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 64 * 1024)
            return ListenerAnswer(status: Int(response.status.code), text: ToolHTTP.printable(Data(bytes.readableBytesView)))
        } catch {
            return ToolHTTP.networkAnswer(error)
        }
    }
}

/// The answers of a run, grouped for printing.
struct SimulateReport {
    let answers: [ListenerAnswer]

    var allSucceeded: Bool { answers.allSatisfy { ($0.status ?? 0) >= 200 && ($0.status ?? 0) < 300 } }
    var nothingListened: Bool { !answers.isEmpty && answers.allSatisfy(\.refused) }

    /// `← 200 OK: EVENT_RECEIVED`, or for a burst one line per status with its count.
    func lines(single: Bool) -> [String] {
        var groups: [(key: String, count: Int, text: String)] = []
        for answer in answers {
            let key = answer.status.map { "\($0) \(ToolHTTP.reason($0))" } ?? "no answer"
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

    /// What to do about the first failed answer.
    func advice(secret: String) -> String {
        let failed = answers.filter { !(200..<300).contains($0.status ?? 0) }
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
}

// MARK: - HTTP for the operator tools

/// The HTTP client `simulate` and `doctor` use: AsyncHTTPClient, without redirects and
/// without the shared client's connection retries, so that a closed port is reported at
/// once rather than after the request deadline.
enum ToolHTTP {
    static func makeClient(connections: Int = 8, connectTimeout: TimeAmount = .seconds(5)) -> HTTPClient {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(30),
                                                          concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        pool.retryConnectionEstablishment = false
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: connectTimeout, read: .seconds(30)),
            connectionPool: pool)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// A body fit for one terminal line: sanitised, trimmed, at most 300 characters.
    static func printable(_ data: Data) -> String {
        let text = TerminalText.sanitize(String(decoding: data.prefix(4096), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines))
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    /// Why no answer came, in plain words.
    static func networkAnswer(_ error: any Error) -> ListenerAnswer {
        if let error = error as? NIOConnectionError {
            if let dns = error.dnsAError ?? error.dnsAAAAError {
                return ListenerAnswer(status: nil, text: "cannot resolve \(error.host): \(dns)")
            }
            let refused = error.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
            if refused || error.connectionErrors.isEmpty {
                return ListenerAnswer(status: nil, text: "connection refused by \(error.host):\(error.port)", refused: true)
            }
            return ListenerAnswer(status: nil, text: "cannot connect to \(error.host):\(error.port): \(error)")
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return ListenerAnswer(status: nil, text: "connection refused", refused: true)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return ListenerAnswer(status: nil, text: "no connection within the connect timeout")
            case .deadlineExceeded, .readTimeout: return ListenerAnswer(status: nil, text: "no answer in time")
            case .remoteConnectionClosed: return ListenerAnswer(status: nil, text: "the server closed the connection without answering")
            default: return ListenerAnswer(status: nil, text: error.description)
            }
        }
        return ListenerAnswer(status: nil, text: TerminalText.sanitize(String(describing: error)))
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
