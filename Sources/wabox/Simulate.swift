import ArgumentParser
import Foundation
import InboxCore
import InboxServices
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
        version: BuildInfo.versionLine
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
        if !SimulatedCustomer.isUserID(from), digits.isEmpty || !digits.allSatisfy(\.isASCII) || !digits.allSatisfy(\.isNumber) {
            throw ValidationError("--from \(from) is neither a phone number (digits, + allowed) nor a user id like US.13491208655302741918")
        }
    }

    /// `--type`, or `status` when only `--status` was given.
    var effectiveType: String { type ?? (status != nil ? "status" : "text") }

    func run() async throws {
        // It posts to a listener and reads no database: a team's PostgreSQL db is no matter.
        let settings = try global.settings(postgresAllowed: true)
        guard let appSecret = settings.appSecret else {
            throw Failure("""
                wabox simulate signs webhooks with the app secret, as Meta does: set WABOX_APP_SECRET, or app_secret in \
                \(settings.configFile ?? ConfigLocations.defaultConfigPath(environment: ProcessInfo.processInfo.environment)), \
                to the same secret the listener uses.
                """)
        }
        let target = try url ?? Self.defaultURL(listen: settings.listen)
        guard let parsed = URL(string: target), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = parsed.host, !host.isEmpty else {
            throw Failure("--url \(target) is not an http:// or https:// address like http://127.0.0.1:8080/webhook")
        }
        let bodies = try makeBodies(phoneNumberID: phoneNumberID ?? settings[.phoneNumberID])
        let what = describe(bodies: bodies)
        print("→ POST \(target): \(what), signed with app secret \(Settings.redacted(appSecret))")

        let started = ContinuousClock.now
        let inFlight = min(concurrency, count), total = count
        let answers = await WebhookPoster.withDirectClient(url: target, appSecret: appSecret, connections: inFlight,
                                                           userAgent: "wabox-simulate/\(BuildInfo.version)") { poster in
            await poster.post(count: total, concurrency: inFlight, body: bodies.body)
        }
        let elapsed = ContinuousClock.now - started

        let report = PostReport(answers: answers)
        // The lines quote the listener's answers, which may come from anywhere (--url).
        for line in report.lines(single: count == 1) { print(TerminalText.sanitizeKeepingLines(line)) }
        if count > 1 {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "%d requests in %.2f s: %.0f requests/s", count, seconds, Double(count) / max(seconds, 1e-6)))
        }
        if report.allSucceeded { return }
        if report.nothingListened {
            let port = parsed.port ?? (scheme == "https" ? 443 : 80)
            throw Failure("nothing listens on \(urlHost(host)):\(port): start `wabox serve` or `wabox`, or pass --url with the listener's address")
        }
        throw Failure(report.advice(secret: Settings.redacted(appSecret)))
    }

    /// `http://<listen>/webhook`, with a wildcard host replaced by loopback.
    static func defaultURL(listen: String) throws -> String {
        let address = try Serve.parse(listen)
        guard address.port != 0 else {
            throw Failure("the listen setting \(listen) picks any free port, so simulate cannot guess it: pass --url with the address `wabox serve` printed")
        }
        return "http://\(urlHost(connectableHost(address.host))):\(address.port)/webhook"
    }

    // MARK: - Bodies

    func makeBodies(phoneNumberID: String?) throws -> SimulatedBodies {
        let builder = phoneNumberID.map { WebhookBuilder(phoneNumberID: $0) } ?? WebhookBuilder()
        if let file {
            do { return try SimulatedBodies.file(file) } catch { throw Failure(error.description) }
        }
        let customer = SimulatedCustomer(from: from, name: name, username: username)
        if effectiveType == "status", let status, let id, let deliveryStatus = DeliveryStatus(rawValue: status) {
            return .status(deliveryStatus, of: id, to: customer, errorCode: errorCode, builder: builder)
        }
        guard let bodies = SimulatedBodies.messages(effectiveType, text: text, reactTo: id, replyTo: replyTo, from: customer,
                                                    count: count, builder: builder) else {
            throw Failure("--type \(effectiveType) has no preset")
        }
        return bodies
    }

    func describe(bodies: SimulatedBodies) -> String {
        if count == 1 { return bodies.summary }
        return "\(count) × \(bodies.summary), \(min(concurrency, count)) at a time"
    }
}

