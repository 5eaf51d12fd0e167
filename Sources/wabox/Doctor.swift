import ArgumentParser
import AsyncHTTPClient
import Foundation
import InboxCore
import InboxStore
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `wabox doctor`: one line per check, each with a verdict and what to do.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check configuration, database, listen address, Graph API and terminal.",
        discussion: """
            Prints one line per check: ✓ in order, ! worth a look, ✗ a problem to fix, each with \
            what to do. Secrets are shown by their last four characters only. Exits 0 when no \
            line is ✗, 1 otherwise. Reads the same settings as every command (flags, WABOX_*, \
            config.toml). The Graph API check only reads: GET {graph_url}/{graph_version}/{phone_number_id} \
            with the access token. An existing database is opened as wabox opens it (pending \
            migrations run); a missing one is not created.
            """,
        version: waboxVersion
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Check this listen address instead of the listen setting.", valueName: "host:port"))
    var listen: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var flags: [Settings.Key: String] = [:]
        if let db = global.db { flags[.db] = db }
        if let listen { flags[.listen] = listen }
        var report = DoctorReport()

        let (settings, fileRefused) = checkSettingsFile(flags: flags, environment: environment, report: &report)
        report.secrets = Settings.Key.allCases.filter(\.isSecret).compactMap { settings[$0] }
            + Settings.Key.allCases.filter(\.isSecret).compactMap { environment[$0.environmentName] }
        let sources = SettingSources(settings: settings, flags: flags, environment: environment,
                                     configPath: global.config, fileRefused: fileRefused)
        checkReceiving(settings, sources, &report)
        checkSending(settings, sources, &report)
        checkTemplates(settings, sources, &report)
        checkDatabase(settings, &report)

        let client = ToolHTTP.makeClient(connections: 2)
        await checkListenAddress(settings, client: client, &report)
        await checkGraphAPI(settings, client: client, &report)
        try? await client.shutdown()

        checkLocale(environment, &report)
        checkTerminal(settings, environment, &report)

        report.summarise()
        if report.failures > 0 { throw ExitCode.failure }
    }

    // MARK: - Settings

    /// Loads the settings as every command does. A file that cannot be used (refused for
    /// its permissions, not TOML, …) is a ✗ line, and the rest is checked without it.
    func checkSettingsFile(flags: [Settings.Key: String], environment: [String: String],
                           report: inout DoctorReport) -> (Settings, fileRefused: Bool) {
        let path = global.config ?? Settings.defaultConfigPath(environment: environment)
        do {
            let settings = try Settings.load(flags: flags, configPath: global.config, environment: environment)
            guard let file = settings.configFile else {
                report.pass("config file", "none at \(path); settings come from WABOX_* variables and flags")
                return (settings, false)
            }
            let values = (try? Settings.readConfigFile(file)) ?? [:]
            let mode = Self.permissions(of: file)
            let holdsSecrets = values.keys.contains(where: \.isSecret)
            let names = values.keys.map(\.rawValue).sorted().joined(separator: ", ")
            let modeText = String(mode & 0o777, radix: 8)
            if holdsSecrets {
                report.pass("config file", "\(file) sets \(names.isEmpty ? "nothing" : names); mode \(modeText): only its owner can read the secrets")
            } else if mode & 0o077 != 0 {
                report.pass("config file", "\(file) sets \(names.isEmpty ? "nothing" : names); mode \(modeText), fine while it holds no secrets (chmod 600 before adding any)")
            } else {
                report.pass("config file", "\(file) sets \(names.isEmpty ? "nothing" : names); mode \(modeText)")
            }
            return (settings, false)
        } catch {
            report.fail("settings", "\(error). The checks below ignore the config file.")
            // An XDG folder under /dev/null cannot exist, so no config file is read.
            var bare = environment
            bare["XDG_CONFIG_HOME"] = "/dev/null/wabox-doctor"
            if let settings = try? Settings.load(flags: flags, configPath: nil, environment: bare) { return (settings, true) }
            bare[Settings.Key.markRead.environmentName] = nil
            // Without a file, flags or mark_read nothing is left that loading could refuse.
            let settings = (try? Settings.load(flags: flags, configPath: nil, environment: bare))
                ?? (try! Settings.load(flags: [:], configPath: nil, environment: ["XDG_CONFIG_HOME": "/dev/null/wabox-doctor"]))
            return (settings, true)
        }
    }

    static func permissions(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue ?? 0
    }

    /// Where each setting came from, for lines like `app_secret …6789 (WABOX_APP_SECRET)`.
    struct SettingSources {
        let settings: Settings
        let flags: [Settings.Key: String]
        let environment: [String: String]
        let fileValues: [Settings.Key: String]
        let configName: String
        let fileRefused: Bool

        init(settings: Settings, flags: [Settings.Key: String], environment: [String: String], configPath: String?,
             fileRefused: Bool) {
            self.settings = settings
            self.flags = flags
            self.environment = environment
            self.fileRefused = fileRefused
            fileValues = settings.configFile.flatMap { try? Settings.readConfigFile($0) } ?? [:]
            configName = settings.configFile ?? configPath ?? Settings.defaultConfigPath(environment: environment)
        }

        func source(of key: Settings.Key) -> String {
            if let value = flags[key], !value.isEmpty { return "--\(key.rawValue)" }
            if let value = environment[key.environmentName], !value.isEmpty { return key.environmentName }
            if fileValues[key] != nil { return "config file" }
            return "default"
        }

        /// `name value (source)`, a secret shown by its last four characters.
        func describe(_ key: Settings.Key) -> String {
            guard let value = settings[key] else { return "\(key.rawValue) not set" }
            let shown = key.isSecret ? Settings.redacted(value) : value
            return "\(key.rawValue) \(shown) (\(source(of: key)))"
        }

        /// How to set `key`.
        func howToSet(_ key: Settings.Key) -> String {
            "set \(key.environmentName), or \(key.rawValue) in \(configName)\(fileRefused ? " once it can be read" : "")"
        }
    }

    func checkReceiving(_ settings: Settings, _ sources: SettingSources, _ report: inout DoctorReport) {
        var missing: [String] = []
        if settings.appSecret == nil {
            missing.append("app_secret is not set, so webhooks cannot be verified: \(sources.howToSet(.appSecret)) (Meta app dashboard → App settings → Basic → App secret)")
        }
        if settings.verifyToken == nil {
            missing.append("verify_token is not set, so Meta cannot subscribe the webhook: pick a hard-to-guess string, \(sources.howToSet(.verifyToken)), and enter the same string in Meta's webhook settings")
        }
        if missing.isEmpty {
            let rotation = settings[.appSecretPrevious] == nil ? ""
                : ", \(sources.describe(.appSecretPrevious)): both secrets are accepted until you remove it"
            report.pass("receiving", "\(sources.describe(.appSecret)), \(sources.describe(.verifyToken))\(rotation)")
        } else {
            report.fail("receiving", missing.joined(separator: "; "))
        }
    }

    func checkSending(_ settings: Settings, _ sources: SettingSources, _ report: inout DoctorReport) {
        var missing: [String] = []
        if settings.accessToken == nil {
            missing.append("access_token is not set, so replies cannot be sent: \(sources.howToSet(.accessToken)) (Meta Business settings → System users → Generate token, with whatsapp_business_messaging)")
        }
        if let id = settings[.phoneNumberID] {
            if !id.allSatisfy(\.isNumber) {
                missing.append("phone_number_id \(id) is not a number: use the Phone number ID from the app's WhatsApp → API Setup page, not the phone number")
            }
        } else {
            missing.append("phone_number_id is not set: \(sources.howToSet(.phoneNumberID)) (the app's WhatsApp → API Setup page shows the Phone number ID)")
        }
        if missing.isEmpty {
            report.pass("sending", "\(sources.describe(.accessToken)), \(sources.describe(.phoneNumberID))")
        } else {
            report.fail("sending", missing.joined(separator: "; "))
        }
    }

    func checkTemplates(_ settings: Settings, _ sources: SettingSources, _ report: inout DoctorReport) {
        if settings[.wabaID] != nil {
            report.pass("templates", sources.describe(.wabaID))
        } else {
            report.warn("templates", "waba_id is not set, so no template can be offered once a customer's 24-hour window has closed: \(sources.howToSet(.wabaID)) (WhatsApp Manager → Account tools → WhatsApp Business Account ID)")
        }
    }

    // MARK: - Database

    func checkDatabase(_ settings: Settings, _ report: inout DoctorReport) {
        let path = settings.databasePath
        let folder = (path as NSString).deletingLastPathComponent
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: path) else {
            var existing = folder.isEmpty ? "." : folder
            var isFolder: ObjCBool = false
            while !fileManager.fileExists(atPath: existing, isDirectory: &isFolder), existing != "/", !existing.isEmpty {
                existing = (existing as NSString).deletingLastPathComponent
            }
            if !isFolder.boolValue {
                report.fail("database", "cannot be created at \(path): \(existing) is a file, not a folder. Set WABOX_DB or db, or pass --db, to a path in a folder")
            } else if access(existing, W_OK) == 0 {
                report.pass("database", "none yet at \(path); `wabox serve` or `wabox` creates it (\(existing) is writable)")
            } else {
                report.fail("database", "cannot be created at \(path): \(existing) is not writable. Set WABOX_DB or db, or pass --db, to a path in a writable folder")
            }
            return
        }
        if access(path, R_OK | W_OK) != 0 {
            report.fail("database", "\(path) is not writable by this user: fix its owner (chown) or permissions, or pass --db with another file")
            return
        }
        if access(folder.isEmpty ? "." : folder, W_OK) != 0, !fileManager.fileExists(atPath: path + "-wal") {
            report.fail("database", "the folder \(folder) is not writable, and SQLite must create \(path)-wal there: make the folder writable for this user")
            return
        }
        do {
            let database = try InboxDatabase(path: path)
            let migrated = try database.isMigrated()
            let integrity = try database.integrityCheck()
            let counts = try database.counts()
            guard integrity == "ok" else {
                let first = integrity.split(separator: "\n").first.map(String.init) ?? integrity
                report.fail("database", "\(path) is damaged (integrity_check: \(TerminalText.sanitize(first))): stop wabox, keep a copy of the file, then recover it with `sqlite3 \(path) .recover` or restore a backup")
                return
            }
            guard migrated else {
                report.fail("database", "\(path) is missing migrations after opening: it was made by a newer wabox; run that version, or pass --db with another file")
                return
            }
            let summary = "\(path): migrated, integrity ok, \(counts.messages) messages from \(counts.contacts) contacts"
            let mode = Self.permissions(of: path)
            if mode & 0o007 != 0 {
                report.warn("database", "\(summary); but every user of this machine can read it (mode \(String(mode & 0o777, radix: 8))): run `chmod 600 \(path)` (or 660 for a shared group)")
            } else {
                report.pass("database", summary)
            }
            let holder = LeaseHolder()
            if let lease = try database.currentLease() {
                let listening = lease.address.map { " on \($0)" } ?? ""
                if holder.isAlive(lease) {
                    report.pass("listener", "\(lease.holderDescription) runs the listener\(listening)\(lease.sending ? " and the sender" : ""); screens on this database attach to it")
                } else {
                    report.warn("listener", "\(lease.holderDescription) held the listener\(listening) but is gone: webhooks are not received until `wabox serve` (or `wabox`) starts again")
                }
            }
        } catch {
            report.fail("database", "\(error)")
        }
    }

    // MARK: - Listen address

    func checkListenAddress(_ settings: Settings, client: HTTPClient, _ report: inout DoctorReport) async {
        let address: (host: String, port: Int)
        do {
            address = try Settings.parseListen(settings.listen)
        } catch {
            report.fail("listen", "\(error): set WABOX_LISTEN or listen to HOST:PORT")
            return
        }
        let shown = "\(Serve.urlHost(address.host)):\(address.port)"
        if address.port == 0 {
            report.pass("listen", "\(shown): the listener takes any free port and prints it")
            return
        }
        switch PortProbe.bind(host: address.host, port: address.port) {
        case .free:
            report.pass("listen", "\(shown) is free for `wabox serve` or `wabox`")
        case .unresolvable(let reason):
            report.fail("listen", "\(shown): \(reason). Set WABOX_LISTEN or listen to an address of this machine, like 127.0.0.1:8080")
        case .failed(let code) where code == EACCES:
            report.fail("listen", "\(shown): ports below 1024 need root. Use a port like 8080 and put a reverse proxy (HTTPS on 443) in front")
        case .failed(let code) where code == EADDRNOTAVAIL:
            report.fail("listen", "\(shown): \(address.host) is not an address of this machine. Use 127.0.0.1 behind a reverse proxy, or 0.0.0.0 for every interface")
        case .failed(let code) where code != EADDRINUSE:
            report.fail("listen", "\(shown) cannot be bound: \(String(cString: strerror(code)))")
        case .failed:
            let host = Serve.urlHost(Simulate.connectableHost(address.host))
            let health = await Self.health(client: client, url: "http://\(host):\(address.port)/healthz")
            switch health {
            case .wabox(let status, let queue):
                if status == "ok" {
                    report.pass("listen", "\(shown) is held by a running wabox listener (healthz ok, \(queue) webhooks queued): `wabox` attaches to it; a second `wabox serve` here would fail")
                } else {
                    report.warn("listen", "\(shown) is held by a running wabox listener that reports \(status) (its database is not readable): look at its log")
                }
            case .other(let what):
                report.fail("listen", "\(shown) is in use by another program (\(what)): stop it (`ss -ltnp 'sport = :\(address.port)'` names it), or set WABOX_LISTEN or listen to a free port")
            }
        }
    }

    enum Health {
        case wabox(status: String, queue: Int)
        case other(String)
    }

    /// Asks the program on the port for wabox's `/healthz`: `{"status", "database", "queue"}`.
    static func health(client: HTTPClient, url: String) async -> Health {
        struct Answer: Decodable {
            let status: String
            let database: String
            let queue: Int
        }
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        do {
            let response = try await client.execute(request, timeout: .seconds(3))
            let body = try await response.body.collect(upTo: 64 * 1024)
            if let answer = try? JSONDecoder().decode(Answer.self, from: Data(body.readableBytesView)) {
                return .wabox(status: answer.status, queue: answer.queue)
            }
            return .other("it answers GET /healthz with HTTP \(response.status.code), not as wabox does")
        } catch {
            return .other("it does not answer HTTP: \(ToolHTTP.networkAnswer(error).text)")
        }
    }

    // MARK: - Graph API

    func checkGraphAPI(_ settings: Settings, client: HTTPClient, _ report: inout DoctorReport) async {
        guard let token = settings.accessToken else {
            report.warn("Graph API", "not checked: no access token (see sending above)")
            return
        }
        guard let phoneNumberID = settings[.phoneNumberID], phoneNumberID.allSatisfy(\.isNumber) else {
            report.warn("Graph API", "not checked: no usable phone_number_id (see sending above)")
            return
        }
        let base = settings.graphURL.hasSuffix("/") ? String(settings.graphURL.dropLast()) : settings.graphURL
        let url = "\(base)/\(settings.graphVersion)/\(phoneNumberID)"
        let isCustom = settings[.graphURL] != nil
        let whereTo = isCustom ? "\(base) (WABOX_GRAPH_URL/graph_url)" : base
        var request = HTTPClientRequest(url: url + "?fields=verified_name,display_phone_number,quality_rating")
        request.method = .GET
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        let status: Int
        let body: Data
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            status = Int(response.status.code)
            body = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        } catch {
            report.fail("Graph API", Self.explainNetwork(error, base: whereTo, url: url))
            return
        }
        let tokenShown = Settings.redacted(token)
        guard (200..<300).contains(status) else {
            if let decoded = try? JSONDecoder().decode(CloudAPIError.Body.self, from: body) {
                let error = CloudAPIError(body: decoded, httpStatus: status)
                report.fail("Graph API", Self.explain(error, token: tokenShown, phoneNumberID: phoneNumberID))
            } else {
                report.fail("Graph API", "GET \(url) answered HTTP \(status) without a Graph API error (\(ToolHTTP.printable(body.prefix(200)))): check that \(whereTo) is the Graph API and graph_version \(settings.graphVersion) exists")
            }
            return
        }
        struct PhoneNumber: Decodable {
            let verified_name: String?
            let display_phone_number: String?
            let quality_rating: String?
        }
        guard let number = try? JSONDecoder().decode(PhoneNumber.self, from: body),
              number.verified_name != nil || number.display_phone_number != nil else {
            report.fail("Graph API", "GET \(url) answered \(status) but not with a phone number: check that \(whereTo) is the Graph API")
            return
        }
        let display = TerminalText.sanitize(number.display_phone_number ?? "?")
        let name = TerminalText.sanitize(number.verified_name ?? "no verified name")
        let quality = TerminalText.sanitize(number.quality_rating ?? "UNKNOWN")
        let summary = "\(whereTo) \(settings.graphVersion): token \(tokenShown) valid; \(phoneNumberID) is \(display) “\(name)”, quality \(quality)"
        if ["YELLOW", "RED"].contains(quality.uppercased()) {
            report.warn("Graph API", "\(summary): customers have been blocking or reporting this number's messages; see WhatsApp Manager → Insights before sending more")
        } else {
            report.pass("Graph API", summary)
        }
    }

    /// An error the Graph API answered, in plain words with what to do.
    static func explain(_ error: CloudAPIError, token: String, phoneNumberID: String) -> String {
        let said = [error.message, error.details].compactMap { $0 }.filter { !$0.isEmpty }
            .map { TerminalText.sanitize($0) }.joined(separator: " — ")
        let quoted = said.isEmpty ? "" : " (\(said))"
        switch error.code {
        case 190:
            return "the access token \(token) was refused: error 190 means it has expired or is invalid\(quoted). Generate a new one (Meta Business settings → System users → Generate token) and set WABOX_ACCESS_TOKEN or access_token"
        case 100, 803:
            return "phone_number_id \(phoneNumberID) is unknown, or this token cannot see it (error \(error.code))\(quoted). Copy the Phone number ID from the app's WhatsApp → API Setup page, and assign the WhatsApp account to the token's system user"
        case 10, 200...299:
            return "the token \(token) lacks a permission (error \(error.code))\(quoted). Generate it with whatsapp_business_management and whatsapp_business_messaging"
        case 4, 17, 32, 613, 80007:
            return "the Graph API is rate limiting this app (error \(error.code))\(quoted). Wait a few minutes and run `wabox doctor` again"
        case 368, 131031:
            return "the account is restricted or locked (error \(error.code))\(quoted). Check WhatsApp Manager → Account quality"
        default:
            return "the Graph API refused the request: \(error.meaning.explanation) (error \(error.code))\(quoted)"
        }
    }

    /// Why the Graph API could not be reached, in plain words with what to do.
    static func explainNetwork(_ error: any Error, base: String, url: String) -> String {
        let text = String(describing: error)
        if let error = error as? NIOConnectionError, error.dnsAError != nil || error.dnsAAAAError != nil {
            return "cannot resolve \(error.host) for \(base): check the network and DNS (`getent hosts \(error.host)`)"
        }
        let unreachable = (error as? IOError).map { [ENETUNREACH, EHOSTUNREACH].contains($0.errnoCode) } ?? false
        if ToolHTTP.networkAnswer(error).refused || unreachable || error is NIOConnectionError {
            let parsed = URL(string: url)
            let port = parsed?.port ?? (parsed?.scheme == "http" ? 80 : 443)
            return "cannot connect to \(parsed?.host ?? base):\(port) for \(base): connection refused or unreachable. Check the network and firewall, or the graph_url setting"
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout:
                return "no connection to \(base) within 5 s: check the network and firewall (outgoing HTTPS must be allowed)"
            case .deadlineExceeded, .readTimeout:
                return "no answer from \(base) within 10 s: check the network, or try again later"
            case .invalidURL, .emptyHost, .emptyScheme:
                return "\(base) is not a URL like https://graph.facebook.com: fix WABOX_GRAPH_URL or graph_url"
            default:
                break
            }
        }
        if text.localizedCaseInsensitiveContains("ssl") || text.localizedCaseInsensitiveContains("tls")
            || text.localizedCaseInsensitiveContains("certificate") || text.localizedCaseInsensitiveContains("handshake") {
            return "the TLS handshake with \(base) failed (\(TerminalText.sanitize(text))): check the system clock and that the ca-certificates package is installed"
        }
        return "cannot reach \(base): \(TerminalText.sanitize(text)). Check the network, or the graph_url setting"
    }

    // MARK: - Terminal

    func checkLocale(_ environment: [String: String], _ report: inout DoctorReport) {
        let deciding = ["LC_ALL", "LC_CTYPE", "LANG"].first { !(environment[$0] ?? "").isEmpty }
        let named = deciding.map { "\($0)=\(environment[$0]!)" } ?? "LANG is not set"
        let accepted = setlocale(LC_ALL, "") != nil
        if accepted, Self.codesetIsUTF8() {
            report.pass("locale", "UTF-8 (\(named))")
            return
        }
        let fallback = setlocale(LC_ALL, "C.UTF-8") != nil && Self.codesetIsUTF8()
        let problem = accepted ? "\(named) is not UTF-8" : "\(named), but that locale is not installed"
        if fallback {
            report.warn("locale", "\(problem); wabox falls back to C.UTF-8 for its screen, but other programs here will garble non-Latin text: `export LANG=C.UTF-8` (or install yours with locale-gen)")
        } else {
            report.fail("locale", "\(problem), and C.UTF-8 is missing too: wabox can only draw ASCII. Install a UTF-8 locale (apt-get install locales; locale-gen en_US.UTF-8) and export LANG=en_US.UTF-8")
        }
        setlocale(LC_ALL, "C")
    }

    static func codesetIsUTF8() -> Bool {
        guard let codeset = nl_langinfo(nl_item(CODESET)) else { return false }
        let name = String(cString: codeset).uppercased()
        return name == "UTF-8" || name == "UTF8"
    }

    func checkTerminal(_ settings: Settings, _ environment: [String: String], _ report: inout DoctorReport) {
        let themeName: String
        do {
            themeName = try Inbox.loadTheme(settings[.theme]).name
        } catch {
            report.fail("terminal", "\(error): set WABOX_THEME or theme to one of those, or drop it for the default")
            return
        }
        let noColor = environment["NO_COLOR"] != nil
        let colours = noColor ? "colours off (NO_COLOR is set)" : "colours on"
        guard let term = environment["TERM"], !term.isEmpty else {
            report.warn("terminal", "TERM is not set: the screen (`wabox`) needs a terminal, `wabox serve` does not. In a terminal, `export TERM=xterm-256color`; \(colours), theme \(themeName)")
            return
        }
        if term == "dumb" {
            report.warn("terminal", "TERM=dumb cannot draw the screen: run `wabox` in a real terminal, or `export TERM=xterm-256color`")
            return
        }
        guard Self.hasTerminfo(term, environment: environment) else {
            report.fail("terminal", "TERM=\(term) has no terminfo entry, so the screen cannot start: `apt-get install ncurses-term`, or `export TERM=xterm-256color`")
            return
        }
        let depth = term.contains("256color") || ["truecolor", "24bit"].contains(environment["COLORTERM"] ?? "")
            ? "256 colours" : "maybe only 8 colours (TERM=xterm-256color shows themes best)"
        report.pass("terminal", "TERM=\(term), \(noColor ? colours : "\(colours), \(depth)"), theme \(themeName)")
    }

    /// Whether a compiled terminfo entry for `term` exists where ncurses looks.
    static func hasTerminfo(_ term: String, environment: [String: String]) -> Bool {
        guard let first = term.first, !term.contains("/") else { return false }
        var directories: [String] = []
        if let dir = environment["TERMINFO"], !dir.isEmpty { directories.append(dir) }
        directories.append((NSHomeDirectory() as NSString).appendingPathComponent(".terminfo"))
        if let dirs = environment["TERMINFO_DIRS"] { directories += dirs.split(separator: ":").map(String.init) }
        directories += ["/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo", "/usr/lib/terminfo", "/usr/share/lib/terminfo"]
        let hex = String(first.asciiValue ?? 0, radix: 16)
        return directories.contains { directory in
            [String(first), hex].contains { FileManager.default.fileExists(atPath: "\(directory)/\($0)/\(term)") }
        }
    }
}

// MARK: - Report

/// The lines of a `doctor` run, printed as they are made.
struct DoctorReport {
    enum Verdict: String {
        case pass = "✓"
        case warn = "!"
        case fail = "✗"
    }

    /// Values never to print, replaced by their last four characters wherever they appear.
    var secrets: [String] = []
    private(set) var failures = 0
    private(set) var warnings = 0
    private(set) var passes = 0

    mutating func pass(_ check: String, _ detail: String) { add(.pass, check, detail) }
    mutating func warn(_ check: String, _ detail: String) { add(.warn, check, detail) }
    mutating func fail(_ check: String, _ detail: String) { add(.fail, check, detail) }

    private mutating func add(_ verdict: Verdict, _ check: String, _ detail: String) {
        switch verdict {
        case .pass: passes += 1
        case .warn: warnings += 1
        case .fail: failures += 1
        }
        let label = check.padding(toLength: max(check.count, 12), withPad: " ", startingAt: 0)
        // Details quote the Graph API's error messages and file contents: sanitised.
        print(scrub("\(verdict.rawValue) \(label)\(TerminalText.sanitizeKeepingLines(detail))"))
    }

    /// Replaces any secret that found its way into a line.
    func scrub(_ line: String) -> String {
        secrets.filter { $0.count >= 4 }.reduce(line) { $0.replacingOccurrences(of: $1, with: Settings.redacted($1)) }
    }

    func summarise() {
        print("")
        let warningText = warnings == 0 ? "" : " and \(warnings) warning\(warnings == 1 ? "" : "s") (!)"
        if failures == 0 {
            print("No problems found\(warningText).")
        } else {
            print("\(failures) problem\(failures == 1 ? "" : "s") (✗)\(warningText): do what the ✗ lines say, then run `wabox doctor` again.")
        }
    }
}

/// Tries to bind the listen address the way the listener would.
enum PortProbe {
    enum Outcome: Equatable {
        case free
        case unresolvable(String)
        /// `errno` of `bind` or `listen`.
        case failed(Int32)
    }

    static func bind(host: String, port: Int) -> Outcome {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &result)
        guard resolved == 0, let info = result else {
            return .unresolvable("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(result) }
        let descriptor = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard descriptor >= 0 else { return .failed(errno) }
        defer { close(descriptor) }
        // The listener sets SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if systemBind(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 { return .failed(errno) }
        if systemListen(descriptor, 1) != 0 { return .failed(errno) }
        return .free
    }
}

#if canImport(Glibc)
private let systemBind = Glibc.bind
private let systemListen = Glibc.listen
#elseif canImport(Darwin)
private let systemBind = Darwin.bind
private let systemListen = Darwin.listen
#endif
