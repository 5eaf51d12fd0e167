import CloudAPI
import Foundation
import InboxCore
import InboxStore
import InboxTUI
import Logging

/// A terminal a screen session can run on: the curses terminal in the program, one in
/// memory in tests.
public protocol SessionTerminal: TerminalBackend {
    /// Whether the locale is UTF-8; when false the screen is drawn in ASCII.
    var isUTF8: Bool { get }
    /// How many colours the terminal has (0 without colours): pictures need 256.
    var colorCount: Int { get }
    /// SIGINT, SIGTERM or SIGHUP received since the last call, or 0.
    func pendingSignal() -> Int32
    /// Makes waiting for a key end early when `descriptor` becomes readable.
    func wake(on descriptor: Int32, drain: @escaping () -> Void)
    /// Gives the terminal back.
    func close()
}

/// What an agent sets for their screen, on either store: `mark_read`, the clock's zone,
/// files, notifications, keys, deleted messages and personal replies.
public struct ScreenPreferences: Sendable {
    /// Whether opening a conversation sends read receipts (`mark_read`).
    public var markReadOnOpen = true
    /// For the demo: a hint per customer (wa_id) while their conversation is selected.
    public var hints: [String: String] = [:]
    /// Seconds east of UTC for the clock; the machine's zone unless set.
    public var utcOffset = TimeZone.current.secondsFromGMT()
    /// Where `S` keeps copies of customers' files (`download_dir`).
    public var downloadDirectory = InboxApp.Configuration.defaultDownloadDirectory
    /// The program `o` opens a customer's file with (`open_command`); nil says where the file is.
    public var openCommand: String?
    /// How a customer writing in another conversation is announced (`notify`).
    public var notify = NotifyMode.bell
    /// Which key does what (`keys.toml`).
    public var keys = KeyMap.standard
    /// Whether messages the customer deleted still show, struck through (`show_deleted`).
    public var showDeleted = false
    /// This agent's canned replies (`replies.toml`).
    public var personalReplies: [CannedReply] = []

    public init() {}

    /// Puts them into the screen's configuration (`markReadOnOpen` is the session's to use).
    func apply(to configuration: inout InboxApp.Configuration) {
        configuration.utcOffset = utcOffset
        configuration.hints = hints
        configuration.downloadDirectory = downloadDirectory
        configuration.openCommand = openCommand
        configuration.notify = notify
        configuration.keys = keys
        configuration.showDeleted = showDeleted
        configuration.personalReplies = personalReplies
    }
}

/// The screen and what runs beside it (the services of `ServiceAssembly`), from the
/// first frame to the last: shared by `wabox` and `wabox demo`.
public struct ScreenSession: Sendable {
    public var database: InboxDatabase
    public var theme: Theme
    public var logger: Logger
    /// The account at this screen: the database's (`InboxDatabase.identity`), never a name
    /// the user chose.
    public var agent: String { database.identity.account }
    /// What runs beside the screen; its role is `.inbox`.
    public var services: ServiceAssembly.Configuration
    /// What the agent set for their screen.
    public var preferences = ScreenPreferences()
    /// How long services get to finish on quit.
    public var stopTimeout: Double = 5

    public init(database: InboxDatabase, theme: Theme, logger: Logger) {
        self.database = database
        self.theme = theme
        self.logger = logger
        services = ServiceAssembly.Configuration(role: .inbox)
        services.agent = database.identity.account
    }

    /// Runs until the user quits or a signal arrives; then stops the services gracefully.
    /// Blocks the calling thread, which must not be one of the cooperative pool's: the
    /// main thread in the program, a thread of its own in tests.
    ///
    /// - Parameter makeTerminal: called once the services run; the screen draws on it.
    public func run<Terminal: SessionTerminal>(on makeTerminal: () -> Terminal) {
        do {
            try database.registerAgent(at: Int64(Date().timeIntervalSince1970))
        } catch {
            logger.warning("could not record agent \(database.identity.label): \(error)")
        }
        let configuration = services, database = self.database, logger = self.logger
        let assembly: ServiceAssembly
        switch runBlocking({ try await ServiceAssembly.assemble(configuration, database: database, logger: logger) }) {
        case .success(let assembled): assembly = assembled
        case .failure(let error):
            // Only `.serve` throws; keep the screen usable all the same.
            logger.error("services: \(error)")
            return
        }
        let background = assembly.startInBackground(logger: logger)

        let terminal = makeTerminal()
        let wake = database.openChangeWake()
        if let descriptor = wake.descriptor { terminal.wake(on: descriptor) { wake.drain() } }
        let status = assembly.status
        var appConfiguration = InboxApp.Configuration(utcOffset: preferences.utcOffset, asciiOnly: !terminal.isUTF8,
                                                      pollMilliseconds: wake.waitMilliseconds, agent: agent)
        appConfiguration.displayName = database.identity.displayName
        appConfiguration.drawsPictures = terminal.colorCount >= 256
        preferences.apply(to: &appConfiguration)
        let inbox = InboxApp(
            database: database, backend: terminal, theme: theme, configuration: appConfiguration,
            listenerStatus: { status.current },
            fileSender: fileSender(),
            // Attached or not, a token of this screen's own lists templates and sends read
            // receipts (direct calls); replies always go through the outbox.
            cloud: cloudServices(attachedToSender: assembly.attachedTo?.sending == true))
        while !inbox.state.quit {
            if terminal.pendingSignal() != 0 { break }
            inbox.step(waitMilliseconds: wake.waitMilliseconds)
        }
        terminal.close()
        wake.close()
        _ = runBlocking { try await database.stopTyping() }
        background.stop(timeout: stopTimeout)
    }

    /// Ctrl-O in the compose line: the file checked, copied into the media store
    /// (`media_dir`) and queued as `wabox send --file` does; the sender takes it from there.
    func fileSender() -> InboxApp.FileSender {
        let database = self.database, directory = services.media?.directory
        return { conversation, path, caption, replyTo in
            guard let directory else { throw SessionError.noMediaStore }
            return try await OutgoingFile.enqueue(path: path, mediaDirectory: directory, in: conversation, caption: caption,
                                                  replyTo: replyTo, localID: UUID().uuidString.lowercased(),
                                                  at: Int64(Date().timeIntervalSince1970), database: database)
        }
    }

    /// The agent's canned replies from `$XDG_CONFIG_HOME/wabox/replies.toml`; a broken file
    /// is refused with its line and key.
    public static func personalReplies(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(RepliesCommand.Failure) -> [CannedReply] {
        do {
            return try CannedReply.loadPersonal(from: CannedReply.personalFile(environment: environment))
        } catch {
            throw RepliesCommand.Failure(description: String(describing: error))
        }
    }

    /// `$XDG_CONFIG_HOME/wabox/keys.toml`, refused with its line and key when broken.
    public static func keyMap(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(CommandOutput.Failure) -> KeyMap {
        do {
            return try KeyMap.load(from: ConfigLocations.configDirectory(environment: environment) + "/keys.toml")
        } catch {
            // It quotes the file.
            throw CommandOutput.Failure(description: TerminalText.sanitizeKeepingLines(String(describing: error)))
        }
    }

    /// `--theme`/`WABOX_THEME`, or `mono` when `NO_COLOR` is set, else `default`.
    public static func theme(named name: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(CommandOutput.Failure) -> Theme {
        do {
            return try Theme.choose(named: name, environment: environment, executable: CommandLine.arguments[0])
        } catch {
            throw CommandOutput.Failure(description: TerminalText.sanitizeKeepingLines(String(describing: error)))
        }
    }

    /// Templates and read receipts: straight from the Cloud API with a token of this
    /// screen's own; without one, through the database from and to the sender of the
    /// process this screen is attached to (`attachedToSender`).
    func cloudServices(attachedToSender: Bool) -> InboxApp.CloudServices? {
        var markRead: (@Sendable (MessageID, PhoneNumberID) async throws -> Void)?
        var templates: (@Sendable () async throws -> [TemplateChoice])?
        if let client = services.client {
            let wabaID = services.wabaID, database = self.database
            templates = {
                guard let wabaID else { throw SessionError.noTemplateAccount }
                let approved = try await client.approvedTemplates(of: wabaID)
                // Fetched now: updates received earlier are already in the answer; they
                // still tell the quality where the listing does not.
                let entries = TemplateEntry.merge(approved, fetchedAt: Int64(Date().timeIntervalSince1970),
                                                  updates: try database.templateStates())
                return entries.filter(\.isOffered).map { Self.choice(from: $0.template) }
            }
            markRead = { wamid, business in
                try await client.markRead(wamid, from: business, typing: false)
            }
        } else if attachedToSender {
            let database = self.database
            markRead = { wamid, business in
                try await database.queueReadReceipt(for: wamid, from: business, at: Int64(Date().timeIntervalSince1970 * 1000))
            }
            templates = {
                guard let cached = try TemplateCacheRefresher.cached(in: database) else {
                    throw SessionError.noCachedTemplates
                }
                return cached.templates.filter(\.isOffered).map { Self.choice(from: $0.template) }
            }
        }
        if !preferences.markReadOnOpen { markRead = nil }
        guard templates != nil || markRead != nil else { return nil }
        return InboxApp.CloudServices(templates: templates, markRead: markRead)
    }

    static func choice(from template: MessageTemplate) -> TemplateChoice {
        TemplateChoice(name: template.name, language: template.language,
                       body: template.components?.first { $0.type.uppercased() == "BODY" }?.text,
                       parameterCount: template.bodyParameterCount, category: template.category,
                       quality: template.quality)
    }

    /// Why the template picker has nothing to offer, in words for the status line.
    enum SessionError: Error, CustomStringConvertible {
        case noTemplateAccount
        case noCachedTemplates
        case noMediaStore

        var description: String {
            switch self {
            case .noTemplateAccount:
                "set WABOX_WABA_ID (or waba_id in config.toml) to the WhatsApp Business Account id that owns the templates"
            case .noCachedTemplates:
                """
                templates come from wabox serve, which has not fetched any: set WABOX_WABA_ID (waba_id) \
                for it and restart it; it fetches them every 10 minutes
                """
            case .noMediaStore:
                "this screen has no media store to copy the file into: set WABOX_MEDIA_DIR (or media_dir in config.toml)"
            }
        }
    }
}
