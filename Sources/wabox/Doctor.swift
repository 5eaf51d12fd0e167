import ArgumentParser
import CloudAPI
import Foundation
import InboxCore
import InboxServices
import InboxStore

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
        version: BuildInfo.versionLine
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
        if let location = settings.postgresLocation {
            await Diagnosis.checkPostgres(location, &report)
        } else {
            Diagnosis.checkDatabase(at: settings.databasePath, &report)
            Diagnosis.checkIdentity(databasePath: settings.databasePath, displayName: settings.displayName, &report)
            Diagnosis.checkMedia(directory: settings.mediaDirectory, databasePath: settings.databasePath,
                                 sending: settings.accessToken != nil && settings[.phoneNumberID] != nil, &report)
            Diagnosis.checkAccount(databasePath: settings.databasePath, &report)
        }

        Diagnosis.checkPrograms(downloadDirectory: settings.downloadDirectory, openCommand: settings.openCommand,
                                transcribeCommand: settings[.transcribeCommand],
                                searchPath: environment["PATH"], &report)

        let client = DiagnosticClient(connections: 2)
        do {
            let address = try ConfigLocations.parseListen(settings.listen)
            await Diagnosis.checkListenAddress(host: address.host, port: address.port, client: client, &report)
        } catch {
            report.fail("listen", "\(error): set WABOX_LISTEN or listen to HOST:PORT")
        }
        await Diagnosis.checkGraphAPI(accessToken: settings.accessToken, phoneNumberID: settings[.phoneNumberID],
                                      graphURL: settings.graphURL, graphURLIsSet: settings[.graphURL] != nil,
                                      graphVersion: settings.graphVersion, client: client, &report)
        await client.shutdown()

        Diagnosis.checkLocale(environment, &report)
        Diagnosis.checkTerminal(loadTheme: { try ScreenSession.theme(named: settings[.theme]) }, environment, &report)

        report.summarise()
        if report.failures > 0 { throw ExitCode.failure }
    }

    // MARK: - Settings

    /// Loads the settings as every command does. A file that cannot be used (refused for
    /// its permissions, not TOML, …) is a ✗ line, and the rest is checked without it.
    func checkSettingsFile(flags: [Settings.Key: String], environment: [String: String],
                           report: inout DoctorReport) -> (Settings, fileRefused: Bool) {
        let path = global.config ?? ConfigLocations.defaultConfigPath(environment: environment)
        do {
            let settings = try Settings.load(flags: flags, configPath: global.config, postgresAllowed: true,
                                             environment: environment)
            guard let file = settings.configFile else {
                report.pass("config file", "none at \(path); settings come from WABOX_* variables and flags")
                return (settings, false)
            }
            let values = (try? Settings.readConfigFile(file)) ?? [:]
            let mode = Diagnosis.permissions(of: file)
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
            if let settings = try? Settings.load(flags: flags, configPath: nil, postgresAllowed: true, environment: bare) {
                return (settings, true)
            }
            bare[Settings.Key.markRead.environmentName] = nil
            // Without a file, flags or mark_read nothing is left that loading could refuse.
            let settings = (try? Settings.load(flags: flags, configPath: nil, postgresAllowed: true, environment: bare))
                ?? (try! Settings.load(flags: [:], configPath: nil, environment: ["XDG_CONFIG_HOME": "/dev/null/wabox-doctor"]))
            return (settings, true)
        }
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
            configName = settings.configFile ?? configPath ?? ConfigLocations.defaultConfigPath(environment: environment)
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
}
