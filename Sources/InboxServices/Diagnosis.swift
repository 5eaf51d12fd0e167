import CloudAPI
import Foundation
import InboxCore
import InboxStore
import InboxTUI
#if canImport(Glibc)
import Glibc
#endif

/// The checks of `wabox doctor` that stand on their own: the database, the Graph API's
/// answers in plain words, the locale and the terminal. Each adds verdict lines to a
/// `DoctorReport`; the executable adds the checks of its settings.
public enum Diagnosis {
    /// The media folder: can downloads be written there, how much it holds, and what
    /// waits in the download queue of the database at `databasePath` (when it exists).
    public static func checkMedia(directory: String, databasePath: String, sending: Bool, _ report: inout DoctorReport) {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        var summary: String
        if manager.fileExists(atPath: directory, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                report.fail("media", "\(directory) is a file, not a folder: set WABOX_MEDIA_DIR or media_dir to a folder")
                return
            }
            guard access(directory, W_OK | X_OK) == 0 else {
                report.fail("media", "\(directory) is not writable by this user, so downloads fail: fix its owner (chown) or permissions, or set WABOX_MEDIA_DIR or media_dir")
                return
            }
            let files = ((try? manager.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.contains(".part-") }
            let bytes = files.reduce(Int64(0)) { total, name in
                let size = (try? manager.attributesOfItem(atPath: (directory as NSString).appendingPathComponent(name)))?[.size]
                return total + ((size as? NSNumber)?.int64Value ?? 0)
            }
            // Photos' thumbnails (`NAME.preview.webp`) count in the bytes, not as files.
            let media = files.filter { !$0.hasSuffix(".preview.webp") }.count
            summary = "\(directory): \(media) files, \(ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file))"
        } else {
            var existing = (directory as NSString).deletingLastPathComponent
            while !existing.isEmpty, existing != "/", !manager.fileExists(atPath: existing) {
                existing = (existing as NSString).deletingLastPathComponent
            }
            guard access(existing.isEmpty ? "." : existing, W_OK) == 0 else {
                report.fail("media", "\(directory) cannot be created: \(existing) is not writable. Set WABOX_MEDIA_DIR or media_dir to a writable folder")
                return
            }
            summary = "none yet at \(directory); made with the first download"
        }
        var waiting = 0
        if manager.fileExists(atPath: databasePath), let database = try? InboxDatabase(path: databasePath),
           let counts = try? database.mediaCounts() {
            waiting = counts[.pending] ?? 0
            let problems = [(counts[.failed] ?? 0, "failed"), (counts[.expired] ?? 0, "expired")].filter { $0.0 > 0 }
            if waiting > 0 || !problems.isEmpty {
                summary += "; " + ([(waiting, "waiting")].filter { $0.0 > 0 } + problems).map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            }
        }
        if waiting > 0, !sending {
            report.warn("media", "\(summary): customers' files are downloaded only with an access token (set WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID)")
        } else {
            report.pass("media", summary)
        }
    }

    /// The file's permission bits, 0 when it cannot be read.
    public static func permissions(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.intValue ?? 0
    }

    /// The database file: can it be created or opened, is it sound and migrated, who may
    /// read it, and which process runs its listener. A missing file is not created.
    public static func checkDatabase(at path: String, holder: LeaseHolder = LeaseHolder(), _ report: inout DoctorReport) {
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
            let mode = permissions(of: path)
            if mode & 0o007 != 0 {
                report.warn("database", "\(summary); but every user of this machine can read it (mode \(String(mode & 0o777, radix: 8))): run `chmod 600 \(path)` (or 660 for a shared group)")
            } else {
                report.pass("database", summary)
            }
            let lease = try database.currentLease()
            if let lease {
                let listening = lease.address.map { " on \($0)" } ?? ""
                if holder.isAlive(lease) {
                    report.pass("listener", "\(lease.holderDescription) runs the listener\(listening)\(lease.sending ? " and the sender" : ""); screens on this database attach to it")
                } else {
                    report.warn("listener", "\(lease.holderDescription) held the listener\(listening) but is gone: webhooks are not received until `wabox serve` (or `wabox`) starts again")
                }
            }
            checkApplier(database, lease: lease.flatMap { holder.isAlive($0) && database.isLeaseOfThisFile($0) ? $0 : nil },
                         &report)
        } catch {
            report.fail("database", "\(error)")
        }
    }

    /// The journal's applier: acknowledged webhooks not yet in the inbox, and who applies them.
    static func checkApplier(_ database: InboxDatabase, lease: ListenerLease?, now: Int64 = Int64(Date().timeIntervalSince1970),
                             _ report: inout DoctorReport) {
        guard let progress = try? database.journalProgress() else { return }
        let behind = progress.oldestWaitingReceivedAt.map { max(0, now - $0) } ?? 0
        if progress.lag == 0 || behind < 2 {
            let waiting = progress.lag == 0 ? "all applied" : "\(progress.lag) being applied just behind the acknowledgements"
            report.pass("applier", "applier_lag \(progress.lag): of the webhooks acknowledged, \(waiting)")
        } else if let lease {
            report.warn("applier", "applier_lag \(progress.lag): acknowledged webhooks not yet in the inbox, the oldest received \(behind) s ago; \(lease.holderDescription) is applying them (screens and export show them once applied). If the lag stays, look at its log")
        } else {
            report.warn("applier", "applier_lag \(progress.lag): acknowledged webhooks not yet in the inbox, the oldest received \(behind) s ago, and no listener runs to apply them: start `wabox serve` (or `wabox`), or run `wabox export`, which applies them first")
        }
    }

    /// An error the Graph API answered, in plain words with what to do.
    public static func explain(_ error: CloudAPIError, token: String, phoneNumberID: String) -> String {
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
    public static func explain(_ failure: TransportFailure, base: String, url: String) -> String {
        switch failure.kind {
        case .unresolvable(let host, _):
            return "cannot resolve \(host) for \(base): check the network and DNS (`getent hosts \(host)`)"
        case .refused, .unreachable:
            let parsed = URL(string: url)
            let port = parsed?.port ?? (parsed?.scheme == "http" ? 80 : 443)
            return "cannot connect to \(parsed?.host ?? base):\(port) for \(base): connection refused or unreachable. Check the network and firewall, or the graph_url setting"
        case .connectTimeout:
            return "no connection to \(base) within 5 s: check the network and firewall (outgoing HTTPS must be allowed)"
        case .noAnswer:
            return "no answer from \(base) within 10 s: check the network, or try again later"
        case .invalidURL:
            return "\(base) is not a URL like https://graph.facebook.com: fix WABOX_GRAPH_URL or graph_url"
        case .tls(let detail):
            return "the TLS handshake with \(base) failed (\(detail)): check the system clock and that the ca-certificates package is installed"
        case .other(let detail) where ["ssl", "tls", "certificate", "handshake"].contains(where: {
            detail.localizedCaseInsensitiveContains($0) }):
            return "the TLS handshake with \(base) failed (\(detail)): check the system clock and that the ca-certificates package is installed"
        case .closedWithoutAnswer, .other:
            return "cannot reach \(base): \(failure). Check the network, or the graph_url setting"
        }
    }

    /// Whether the locale is UTF-8, as the screen needs.
    public static func checkLocale(_ environment: [String: String], _ report: inout DoctorReport) {
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

    /// Whether the terminal can draw the screen, with the theme `loadTheme` finds.
    public static func checkTerminal(loadTheme: () throws -> Theme, _ environment: [String: String],
                                     _ report: inout DoctorReport) {
        let themeName: String
        do {
            themeName = try loadTheme().name
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

// MARK: - Files and programs

extension Diagnosis {
    /// Where `S` saves (`download_dir`: there or creatable, and writable) and the programs
    /// the settings name (`open_command`, `transcribe_command`: found and executable).
    public static func checkPrograms(downloadDirectory: String, openCommand: String?, transcribeCommand: String?,
                                     searchPath: String?, _ report: inout DoctorReport) {
        checkDownloadDirectory(downloadDirectory, &report)
        if let openCommand {
            checkProgram("open", setting: "open_command", openCommand, searchPath: searchPath,
                         purpose: "`o` opens customers' files with it", &report)
        } else {
            report.pass("open", "open_command not set: `o` on a file says where it is; set WABOX_OPEN_COMMAND or open_command (e.g. xdg-open) to open files")
        }
        if let transcribeCommand {
            checkProgram("transcribe", setting: "transcribe_command", transcribeCommand, searchPath: searchPath,
                         purpose: "voice notes are transcribed with it, the file's path its one argument", &report)
        } else {
            report.pass("transcribe", "transcribe_command not set: voice notes show their length but no transcript")
        }
    }

    static func checkDownloadDirectory(_ directory: String, _ report: inout DoctorReport) {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        if manager.fileExists(atPath: directory, isDirectory: &isFolder) {
            if !isFolder.boolValue {
                report.fail("downloads", "\(directory) is a file, not a folder, so `S` cannot save there: set WABOX_DOWNLOAD_DIR or download_dir to a folder")
            } else if access(directory, W_OK | X_OK) != 0 {
                report.fail("downloads", "\(directory) is not writable by this user, so `S` cannot save there: fix its permissions, or set WABOX_DOWNLOAD_DIR or download_dir to a writable folder")
            } else {
                report.pass("downloads", "\(directory): `S` saves copies of customers' files here")
            }
            return
        }
        var existing = (directory as NSString).deletingLastPathComponent
        while !existing.isEmpty, existing != "/", !manager.fileExists(atPath: existing, isDirectory: &isFolder) {
            existing = (existing as NSString).deletingLastPathComponent
        }
        if existing.isEmpty { existing = "." }
        _ = manager.fileExists(atPath: existing, isDirectory: &isFolder)
        if isFolder.boolValue, access(existing, W_OK | X_OK) == 0 {
            report.pass("downloads", "none yet at \(directory); made by the first `S`")
        } else {
            report.fail("downloads", "\(directory) cannot be created: \(existing) is \(isFolder.boolValue ? "not writable" : "not a folder"). Set WABOX_DOWNLOAD_DIR or download_dir to a writable folder")
        }
    }

    static func checkProgram(_ label: String, setting: String, _ command: String, searchPath: String?, purpose: String,
                             _ report: inout DoctorReport) {
        let environment = "WABOX_" + setting.uppercased()
        if let program = ProgramLookup.find(command, searchPath: searchPath) {
            report.pass(label, "\(command) is \(program.path): \(purpose)")
        } else if command.contains(" ") && !command.contains("/") {
            report.fail(label, "\(command) is not a program on PATH: \(setting) names one program, run with the file's path as its one argument and no shell, so put any options in a small script and name the script")
        } else if command.contains("/") {
            report.fail(label, "\(command) is not an executable file: check the path, or `chmod +x \(command)`; \(environment) or \(setting) in config.toml set it")
        } else {
            report.fail(label, "\(command) is not on PATH (\(searchPath ?? "no PATH")): install it, or set \(environment) or \(setting) to its full path")
        }
    }
}

// MARK: - Listen address and Graph API

extension Diagnosis {
    /// Whether the listener can bind `host:port`, and what holds it when taken.
    public static func checkListenAddress(host: String, port: Int, client: DiagnosticClient,
                                          _ report: inout DoctorReport) async {
        let shown = "\(urlHost(host)):\(port)"
        if port == 0 {
            report.pass("listen", "\(shown): the listener takes any free port and prints it")
            return
        }
        switch PortProbe.bind(host: host, port: port) {
        case .free:
            report.pass("listen", "\(shown) is free for `wabox serve` or `wabox`")
        case .unresolvable(let reason):
            report.fail("listen", "\(shown): \(reason). Set WABOX_LISTEN or listen to an address of this machine, like 127.0.0.1:8080")
        case .failed(let code) where code == EACCES:
            report.fail("listen", "\(shown): ports below 1024 need root. Use a port like 8080 and put a reverse proxy (HTTPS on 443) in front")
        case .failed(let code) where code == EADDRNOTAVAIL:
            report.fail("listen", "\(shown): \(host) is not an address of this machine. Use 127.0.0.1 behind a reverse proxy, or 0.0.0.0 for every interface")
        case .failed(let code) where code != EADDRINUSE:
            report.fail("listen", "\(shown) cannot be bound: \(String(cString: strerror(code)))")
        case .failed:
            let health = await client.listenerHealth(at: "http://\(urlHost(connectableHost(host))):\(port)/healthz")
            switch health {
            case .wabox(let status, let queue):
                if status == "ok" {
                    report.pass("listen", "\(shown) is held by a running wabox listener (healthz ok, \(queue) webhooks queued): `wabox` attaches to it; a second `wabox serve` here would fail")
                } else {
                    report.warn("listen", "\(shown) is held by a running wabox listener that reports \(status) (its database is not readable): look at its log")
                }
            case .other(let what):
                report.fail("listen", "\(shown) is in use by another program (\(what)): stop it (`ss -ltnp 'sport = :\(port)'` names it), or set WABOX_LISTEN or listen to a free port")
            }
        }
    }

    /// The Graph API's answer for the phone number, with the access token: read only.
    public static func checkGraphAPI(accessToken: String?, phoneNumberID: String?, graphURL: String, graphURLIsSet: Bool,
                                     graphVersion: String, client: DiagnosticClient, _ report: inout DoctorReport) async {
        guard let token = accessToken else {
            report.warn("Graph API", "not checked: no access token (see sending above)")
            return
        }
        guard let phoneNumberID, phoneNumberID.allSatisfy(\.isNumber) else {
            report.warn("Graph API", "not checked: no usable phone_number_id (see sending above)")
            return
        }
        let graph = GraphCloudClient.Configuration(graphURL: graphURL, graphVersion: graphVersion, accessToken: token,
                                                   timeout: .seconds(10))
        let base = graph.graphURL
        let url = "\(base)/\(graphVersion)/\(phoneNumberID)"
        let whereTo = graphURLIsSet ? "\(base) (WABOX_GRAPH_URL/graph_url)" : base
        let tokenShown = Redaction.shown(token)
        let number: PhoneNumberInfo
        do {
            number = try await client.phoneNumber(PhoneNumberID(phoneNumberID), graph: graph)
        } catch {
            switch error {
            case .api(let error):
                report.fail("Graph API", explain(error, token: tokenShown, phoneNumberID: phoneNumberID))
            case .http(let status, let snippet):
                report.fail("Graph API", "GET \(url) answered HTTP \(status) without a Graph API error (\(snippet)): check that \(whereTo) is the Graph API and graph_version \(graphVersion) exists")
            case .network(let failure):
                report.fail("Graph API", explain(failure, base: whereTo, url: url))
            case .invalidResponse, .tooLarge:
                report.fail("Graph API", "GET \(url) answered but not with a phone number: check that \(whereTo) is the Graph API")
            }
            return
        }
        guard number.verifiedName != nil || number.displayPhoneNumber != nil else {
            report.fail("Graph API", "GET \(url) answered but not with a phone number: check that \(whereTo) is the Graph API")
            return
        }
        let display = TerminalText.sanitize(number.displayPhoneNumber ?? "?")
        let name = TerminalText.sanitize(number.verifiedName ?? "no verified name")
        let quality = TerminalText.sanitize(number.qualityRating ?? "UNKNOWN")
        let summary = "\(whereTo) \(graphVersion): token \(tokenShown) valid; \(phoneNumberID) is \(display) “\(name)”, quality \(quality)"
        if ["YELLOW", "RED"].contains(quality.uppercased()) {
            report.warn("Graph API", "\(summary): customers have been blocking or reporting this number's messages; see WhatsApp Manager → Insights before sending more")
        } else {
            report.pass("Graph API", summary)
        }
    }
}

// MARK: - Report

/// The lines of a `doctor` run, printed as they are made.
public struct DoctorReport {
    public enum Verdict: String, Sendable {
        case pass = "✓"
        case warn = "!"
        case fail = "✗"
    }

    /// Values never to print, replaced by their last four characters wherever they appear.
    public var secrets: [String] = []
    public private(set) var failures = 0
    public private(set) var warnings = 0
    public private(set) var passes = 0
    /// Where each line goes as it is made.
    private let emit: (String) -> Void

    public init(emit: @escaping (String) -> Void = { print($0) }) {
        self.emit = emit
    }

    public mutating func pass(_ check: String, _ detail: String) { add(.pass, check, detail) }
    public mutating func warn(_ check: String, _ detail: String) { add(.warn, check, detail) }
    public mutating func fail(_ check: String, _ detail: String) { add(.fail, check, detail) }

    private mutating func add(_ verdict: Verdict, _ check: String, _ detail: String) {
        switch verdict {
        case .pass: passes += 1
        case .warn: warnings += 1
        case .fail: failures += 1
        }
        let label = check.padding(toLength: max(check.count, 12), withPad: " ", startingAt: 0)
        // Details quote the Graph API's error messages and file contents: sanitised.
        emit(scrub("\(verdict.rawValue) \(label)\(TerminalText.sanitizeKeepingLines(detail))"))
    }

    /// Replaces any secret that found its way into a line.
    public func scrub(_ line: String) -> String {
        secrets.filter { $0.count >= 4 }.reduce(line) { $0.replacingOccurrences(of: $1, with: Redaction.shown($1)) }
    }

    public func summarise() {
        emit("")
        let warningText = warnings == 0 ? "" : " and \(warnings) warning\(warnings == 1 ? "" : "s") (!)"
        if failures == 0 {
            emit("No problems found\(warningText).")
        } else {
            emit("\(failures) problem\(failures == 1 ? "" : "s") (✗)\(warningText): do what the ✗ lines say, then run `wabox doctor` again.")
        }
    }
}

