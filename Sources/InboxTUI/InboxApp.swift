import Foundation
import InboxCore
import InboxStore
import MediaPreview
import Synchronization

/// Runs the screen: reads keys, performs the reducer's effects against the store, and
/// draws a frame when something changed. Runs on the main thread; database writes go to
/// tasks whose results come back as actions.
public final class InboxApp {
    public struct Configuration: Sendable {
        public var utcOffset: Int
        public var asciiOnly: Bool
        /// How long one loop waits for a key: also how soon a webhook shows.
        public var pollMilliseconds: Int
        /// The account at this screen (the database's `identity.account`, whose writes
        /// these are); nil shows the team's unread counts and no claims.
        public var agent: String?
        /// The display name shown beside `agent` (the database's `identity.displayName`).
        public var displayName: String?
        /// The demo's hints for some customers, by wa_id (see `AppState.hints`).
        public var hints: [String: String] = [:]
        /// Under a stream of commits the screen reloads at most once per this interval.
        /// Tests that step the loop by hand set it to zero, so each step sees each commit.
        public var reloadInterval: Duration
        /// Where `S` keeps copies of customers' files (`download_dir`); made when missing.
        public var downloadDirectory = Configuration.defaultDownloadDirectory
        /// The program `o` opens a customer's file with (`open_command`), found on `PATH`
        /// unless it is a path; nil makes `o` say where the file is.
        public var openCommand: String?
        /// Whether photos and stickers are drawn as pictures: false on a terminal with
        /// fewer than 256 colours, which gets a line of text instead (as `mono` does).
        public var drawsPictures = true
        /// How a customer writing in another conversation is announced (`notify`).
        public var notify = NotifyMode.bell
        /// Which key does what (`keys.toml`).
        public var keys = KeyMap.standard
        /// Whether messages the customer deleted still show, struck through (`show_deleted`).
        public var showDeleted = false
        /// This agent's canned replies (`replies.toml`).
        public var personalReplies: [CannedReply] = []
        /// How many conversations a filter's walk looks at per loop turn (ListScan.swift).
        public var listWindow = InboxDatabase.listWindow
        /// Reload the whole list and the open thread after every commit, as screens did
        /// before the change feed, instead of the rows the feed names: for measuring the
        /// difference (`WABOX_SCREEN_FULL_RELOAD=1`, scripts/bench-screens).
        public var reloadsEverything = ProcessInfo.processInfo.environment["WABOX_SCREEN_FULL_RELOAD"] == "1"

        /// `~/Downloads`.
        public static var defaultDownloadDirectory: String {
            (NSHomeDirectory() as NSString).appendingPathComponent("Downloads")
        }

        public init(utcOffset: Int = TimeZone.current.secondsFromGMT(), asciiOnly: Bool = false,
                    pollMilliseconds: Int = 40, agent: String? = nil,
                    reloadInterval: Duration = InboxApp.reloadInterval) {
            self.utcOffset = utcOffset
            self.asciiOnly = asciiOnly
            self.pollMilliseconds = pollMilliseconds
            self.agent = agent
            self.reloadInterval = reloadInterval
        }
    }

    /// Writes a reply to the outbox; the sender (when configured) takes it from there.
    public typealias Sender = @Sendable (ConversationID, String, MessageID?) async throws -> StoredMessage
    /// Checks a file against WhatsApp's limits, copies it into the media store and writes
    /// it to the outbox with a caption (`wabox send --file`'s code). The path is absolute.
    /// Throws an error whose description says what is wrong, with the limit in words.
    public typealias FileSender = @Sendable (ConversationID, _ path: String, _ caption: String?, MessageID?) async throws
        -> StoredMessage

    /// What the screen asks of the Cloud API directly (sending goes through the outbox).
    public struct CloudServices: Sendable {
        /// The account's approved templates; nil without a Cloud API token.
        public var templates: (@Sendable () async throws -> [TemplateChoice])?
        /// Marks a customer's message read on WhatsApp (blue ticks on their phone); nil
        /// when the `mark_read` setting is `never`.
        public var markRead: (@Sendable (MessageID, PhoneNumberID) async throws -> Void)?

        public init(templates: (@Sendable () async throws -> [TemplateChoice])?,
                    markRead: (@Sendable (MessageID, PhoneNumberID) async throws -> Void)?) {
            self.templates = templates
            self.markRead = markRead
        }
    }

    public private(set) var state: AppState
    let database: any InboxScreenStore
    let backend: any TerminalBackend
    let theme: Theme
    let configuration: Configuration
    let clock: @Sendable () -> Int64
    /// Unix milliseconds, for what is spaced closer than seconds (notifications).
    let milliseconds: @Sendable () -> Int64
    let listenerStatus: @Sendable () -> ListenerStatus
    let sender: Sender
    let fileSender: FileSender?
    let cloud: CloudServices?
    let completed = ActionInbox()
    let previews = PreviewMaker()
    private var lastStatusCheck: Int64 = 0
    private var reloads: ReloadThrottle
    private var batching = false
    private var queued: [Effect] = []
    public static let reloadInterval = Duration.milliseconds(100)
    private var dirty = true
    /// How far this screen has read the change feed; nil until the first full load.
    private var feedSequence: Int64?
    private var lastFrame: Frame?
    /// A filter's walk through the list, continued a step per loop turn (ListScan.swift).
    var listScan: ListScan?

    public init(database: any InboxScreenStore, backend: any TerminalBackend, theme: Theme,
                configuration: Configuration = .init(),
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
                listenerStatus: @escaping @Sendable () -> ListenerStatus = { ListenerStatus() },
                sender: Sender? = nil, fileSender: FileSender? = nil, cloud: CloudServices? = nil,
                milliseconds: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.database = database
        self.milliseconds = milliseconds
        self.cloud = cloud
        self.fileSender = fileSender
        self.backend = backend
        self.theme = theme
        self.configuration = configuration
        self.clock = clock
        self.listenerStatus = listenerStatus
        self.sender = sender ?? { conversation, text, replyTo in
            try await database.enqueueOutbound(in: conversation, content: .text(body: text), replyTo: replyTo,
                                               localID: UUID().uuidString.lowercased(), at: clock())
        }
        let size = backend.size
        state = AppState(width: size.width, height: size.height, now: clock(), utcOffset: configuration.utcOffset,
                         asciiOnly: configuration.asciiOnly)
        state.agent = configuration.agent
        state.displayName = configuration.displayName
        state.hints = configuration.hints
        state.previewColors = configuration.asciiOnly || theme.name == "mono" || !configuration.drawsPictures
            ? .none : .indexed240
        state.keys = configuration.keys
        state.workbench.notify = configuration.notify
        // What is in the database now is never announced.
        state.workbench.arrivalsAfter = configuration.notify == .off ? nil : try? database.latestMessageRowID()
        state.workbench.startedAt = state.now
        state.showDeleted = configuration.showDeleted
        state.workbench.personalReplies = configuration.personalReplies
        reloads = ReloadThrottle(interval: configuration.reloadInterval, now: .now)
    }

    /// Runs until the user quits.
    public func run() {
        while !state.quit {
            step(waitMilliseconds: configuration.pollMilliseconds)
        }
    }

    /// One turn of the loop: at most one wait for a key, then every key already typed,
    /// finished effects, database changes, the clock, and a draw if anything changed.
    public func step(waitMilliseconds: Int = 0) {
        var wait = listScan == nil ? reloads.keyWait(waitMilliseconds, now: .now) : 0
        let scanning = listScan
        // Finished work waiting is taken at once; a picture being made is looked for often.
        if !completed.isEmpty {
            wait = 0
        } else if previews.isBusy {
            wait = min(wait, Self.previewPollMilliseconds)
        }
        let key = backend.readKey(timeoutMilliseconds: wait, wakeOnChange: !reloads.changeWaiting)
        let changes = database.changeCount
        // The screen shows time to the minute, so an idle screen takes the clock once a
        // minute and draws nothing in between. Keys and new data see the exact time (a
        // window's closing, a typing note's age), and typing notes need it every second.
        let now = clock()
        if now != state.now, key != nil || changes != reloads.lastChangeCount || now / 60 != state.now / 60
            || state.typingNoted != nil || state.showsTypingNotes {
            dispatch(.tick(now: now))
        }
        coalescingEffects {
            turn(key: key, changes: changes)
        }
        // A walk that no key or reload started afresh this turn takes its next step.
        if let scan = listScan, scan == scanning { continueListScan() }
        if now != lastStatusCheck {
            lastStatusCheck = now
            let status = listenerStatus()
            if status != state.listener { dispatch(.listenerChanged(status)) }
        }
        drawIfNeeded()
    }

    /// Keys, a resize, the database's changes and finished work, in that order.
    private func turn(key: Key?, changes: Int) {
        if let key {
            handle(key)
            var burst = 0
            while burst < 256, let next = backend.readKey(timeoutMilliseconds: 0) {
                handle(next)
                burst += 1
            }
        }
        let size = backend.size
        if size.width != state.width || size.height != state.height {
            dispatch(.resized(width: size.width, height: size.height))
        }
        // A walk finishes before the list reloads: restarted by every commit it might never end.
        if listScan == nil, reloads.shouldReload(changes: changes, now: .now) {
            readChanges()
        }
        for action in completed.takeAll() {
            dispatch(action)
        }
    }

    /// After a commit: what the change feed says changed since the last look, or all of it
    /// the first time (and when the feed cannot be read).
    private func readChanges() {
        guard !configuration.reloadsEverything, let seen = feedSequence,
              let batch = try? database.changes(after: seen, limit: 2_000) else {
            feedSequence = configuration.reloadsEverything ? nil : try? database.latestChangeSequence()
            dispatch(.databaseChanged)
            return
        }
        feedSequence = batch.sequence
        if !batch.isEmpty { dispatch(.changesArrived(batch)) }
    }

    private func handle(_ key: Key) {
        let filtering = state.focus == .filter
        dispatch(.key(key))
        // The keys after the filter line act on the list it selects: typed in one burst
        // ("/amelie", Enter, Enter), the second Enter would otherwise find no selection yet.
        if batching, filtering, state.focus != .filter { performQueued() }
    }

    public func dispatch(_ action: Action) {
        let before = state
        let effects = reduce(&state, action)
        if state != before { dirty = true }
        if batching {
            queued += effects
        } else {
            for effect in effects { perform(effect) }
        }
    }

    /// Runs `body` with the effects it asks for held back, then performs them with the
    /// loads that later ones make stale left out: a key and a commit in one turn make one
    /// list query, not two (under a busy listener, that is what keeps keys fast).
    private func coalescingEffects(_ body: () -> Void) {
        batching = true
        body()
        batching = false
        performQueued()
    }

    /// Performs the effects held back so far, stale loads left out. Effects they lead to
    /// are held back in turn while a batch runs.
    private func performQueued() {
        let effects = queued
        queued = []
        for effect in Effect.coalesced(effects) {
            perform(effect)
        }
    }

    private func drawIfNeeded() {
        guard dirty else { return }
        dirty = false
        let frame = render(state, theme: theme)
        if frame != lastFrame {
            backend.draw(frame)
            lastFrame = frame
        }
    }

    // MARK: - Effects

    private func perform(_ effect: Effect) {
        do {
            switch effect {
            case .loadConversations(let filter, let unreadOnly, let scope, let limit):
                startListScan(ListScan(filter: try ConversationFilter.parse(filter), unreadOnly: unreadOnly, scope: scope,
                                       limit: limit))
            case .patchConversations(let patch):
                // A walk under way reads the rows as they are now.
                guard listScan == nil else { return }
                let rows = try database.conversations(among: patch.changed, filter: try ConversationFilter.parse(patch.filter),
                                                      unreadOnly: patch.unreadOnly, scope: patch.scope, viewer: viewer, now: nil)
                dispatch(.conversationsPatched(patch, rows: rows))
            case .loadThread(let id, let limit):
                let page = try database.messages(in: id, before: nil, limit: limit)
                let quoted = try database.quotedMessages(for: page.items)
                dispatch(.threadLoaded(id, page.items, hasOlder: page.next != nil, quoted: quoted))
                dispatch(.notesLoaded(id, try database.notes(in: id)))
            case .markRead(let id):
                let database = self.database
                let agent = configuration.agent
                let latest = cloud?.markRead == nil ? nil : try database.latestInboundMessage(in: id)
                let business = state.conversations.first { $0.id == id }?.business.phoneNumberID ?? state.open?.business.phoneNumberID
                let markRemote = cloud?.markRead
                Task { [completed] in
                    do {
                        try await database.markRead(id, asTeam: agent == nil)
                    } catch {
                        completed.post(.failed("could not mark as read: \(error)"))
                    }
                    guard let markRemote, let wamid = latest?.wamid, let business else { return }
                    do {
                        try await markRemote(wamid, business)
                    } catch {
                        completed.post(.failed("WhatsApp did not take the read receipt: \(error)"))
                    }
                }
            case .send(let id, let text, let replyTo):
                let sender = self.sender
                background("reply not saved") { [completed] _ in
                    completed.post(.queued(try await sender(id, text, replyTo)))
                }
            case .sendTemplate(let id, let template, let values):
                let message = TemplateMessage(name: template.name, languageCode: template.language, bodyParameters: values)
                let display = template.body == nil ? nil : "[\(template.name)] " + template.preview(with: values)
                let now = clock()
                background("template not saved") { [completed] database in
                    completed.post(.queued(try await database.enqueueTemplate(
                        in: id, template: message, displayText: display, localID: UUID().uuidString.lowercased(), at: now)))
                }
            case .loadTemplates:
                guard let templates = cloud?.templates else {
                    dispatch(.templatesFailed("""
                        templates come from the Cloud API: set WABOX_ACCESS_TOKEN, WABOX_PHONE_NUMBER_ID and WABOX_WABA_ID \
                        (or access_token, phone_number_id and waba_id in config.toml), then restart wabox
                        """))
                    return
                }
                Task { [completed] in
                    do {
                        completed.post(.templatesLoaded(try await templates()))
                    } catch {
                        completed.post(.templatesFailed("could not load templates: \(error)"))
                    }
                }
            case .resend(let localID):
                let now = clock() * 1000
                background("could not resend") { [completed] database in
                    try await database.resendUncertain(localID: localID, atMilliseconds: now)
                    completed.post(.notice("sending again; it may reach the customer twice"))
                }
            case .search(let query):
                dispatch(.searchLoaded(query: query, try database.searchMessages(query, limit: 50,
                                                                                 includeDeleted: state.showDeleted)))
            case .claim(let id, let takeOver):
                guard configuration.agent != nil else { return }
                let now = clock()
                background("could not claim the conversation") { [completed] database in
                    switch try await database.claim(id, takeOver: takeOver, at: now) {
                    case .claimed: completed.post(.notice("claimed: the others see it is yours (a gives it back)"))
                    case .alreadyYours: break
                    case .heldBy(let holder): completed.post(.claimRefused(id, holder: holder))
                    }
                }
            case .release(let id):
                guard configuration.agent != nil else { return }
                let now = clock()
                background("could not give the conversation back") { [completed] database in
                    if try await database.release(id, at: now) {
                        completed.post(.notice("given back: unassigned"))
                    }
                }
            case .resolve(let id):
                let now = clock()
                background("could not resolve the conversation") { [completed] database in
                    try await database.resolve(id, at: now)
                    completed.post(.notice("resolved: the customer's next message reopens it (x reopens now)"))
                }
            case .reopen(let id):
                let now = clock()
                background("could not reopen the conversation") { database in try await database.reopen(id, at: now) }
            case .typing(let id):
                guard configuration.agent != nil else { return }
                let until = (clock() + typingRenewSeconds * 2) * 1000
                background("could not tell the others you are typing") { database in
                    try await database.noteTyping(in: id, until: until)
                }
            case .stopTyping(let id):
                guard configuration.agent != nil else { return }
                background("could not tell the others you stopped typing") { database in
                    try await database.stopTyping(in: id)
                }
            case .loadWorkbench, .addNote, .toggleLabel:
                performWorkbench(effect)
            case .openFile(let path):
                openFile(path)
            case .completePath(let typed):
                offTheMainThread { [completed] in
                    completed.post(.pathCompleted(PathFiles.complete(typed, home: NSHomeDirectory(),
                                                                     workingDirectory: FileManager.default.currentDirectoryPath)))
                }
            case .sendFile(let id, let typed, let caption, let replyTo):
                sendFile(id, typed: typed, caption: caption, replyTo: replyTo)
            case .makePreview(let request):
                makePreview(request)
            case .workbench(let effect):
                try perform(effect)
            case .saveFile(let path, let name):
                let directory = configuration.downloadDirectory
                offTheMainThread { [completed] in
                    do {
                        let copy = try MediaFiles.saveCopy(of: path, named: name, into: directory)
                        completed.post(.notice("saved at \(copy)"))
                    } catch {
                        completed.post(.failed("could not save a copy: \(error)"))
                    }
                }
            }
        } catch is ConversationFilter.ParseError {
            // The filter line says what is wrong; the list stays as it was.
        } catch {
            // A store out of reach is the status bar's to say, once.
            if !(error is any StoreUnreachableError) { dispatch(.failed("database: \(error)")) }
        }
    }
}

extension InboxApp {
    /// How the list looks to this screen's agent right now.
    var viewer: Viewer { Viewer(agent: configuration.agent, nowMilliseconds: clock() * 1000) }

    /// Hands a downloaded file to `open_command`; without one, says where the file is.
    private func openFile(_ path: String) {
        guard let command = configuration.openCommand else {
            dispatch(.notice("saved at \(path): set open_command (WABOX_OPEN_COMMAND) to open it"))
            return
        }
        let searchPath = ProcessInfo.processInfo.environment["PATH"]
        offTheMainThread { [completed] in
            do {
                try MediaFiles.launch(command, opening: path, searchPath: searchPath,
                                      launched: { completed.post(.notice("opened with \(command)")) },
                                      exited: { status in completed.post(.failed("\(command) exited with status \(status)")) })
            } catch {
                completed.post(.failed("could not open \(path): \(error)"))
            }
        }
    }

    /// Hands the file picked with Ctrl-O to `fileSender`, its path made absolute.
    private func sendFile(_ id: ConversationID, typed: String, caption: String?, replyTo: MessageID?) {
        guard let fileSender else {
            dispatch(.fileRefused("this screen cannot send files"))
            return
        }
        let path = PathFiles.expand(typed, home: NSHomeDirectory(), workingDirectory: FileManager.default.currentDirectoryPath)
        Task { [completed] in
            do {
                completed.post(.fileQueued(try await fileSender(id, path, caption, replyTo)))
            } catch {
                completed.post(.fileRefused(String(describing: error)))
            }
        }
    }

    /// Runs blocking file work (a copy, starting a program) on a thread of Dispatch's: not
    /// the main thread, which draws, nor the cooperative pool, which the listener needs.
    func offTheMainThread(_ work: @escaping @Sendable () -> Void) {
        DispatchQueue.global(qos: .userInitiated).async { work() }
    }

    /// Runs a database write off the main thread; a failure shows as `what: error`.
    func background(_ what: String, _ work: @escaping @Sendable (any InboxScreenStore) async throws -> Void) {
        let database = self.database
        Task { [completed] in
            do {
                try await work(database)
            } catch {
                completed.post(.failed("\(what): \(error)"))
            }
        }
    }
}

/// When the screen reloads after commits: under a stream of them (a busy listener) at most
/// once per `interval`, while a lone change shows at once.
struct ReloadThrottle {
    let interval: Duration
    /// The database's change count at the last reload.
    private(set) var lastChangeCount = -1
    private var lastReload: ContinuousClock.Instant
    /// A commit seen but not reloaded yet (the last reload was too recent).
    private(set) var changeWaiting = false

    init(interval: Duration, now: ContinuousClock.Instant) {
        self.interval = interval
        lastReload = now - .seconds(1)
    }

    /// Whether the screen should reload now, seeing the database at `changes`.
    mutating func shouldReload(changes: Int, now: ContinuousClock.Instant) -> Bool {
        changeWaiting = changes != lastChangeCount
        guard changeWaiting, now - lastReload >= interval else { return false }
        lastChangeCount = changes
        lastReload = now
        changeWaiting = false
        return true
    }

    /// How long the loop may wait for a key, at most `wait` milliseconds: no longer than
    /// until a waiting change is due.
    func keyWait(_ wait: Int, now: ContinuousClock.Instant) -> Int {
        guard changeWaiting else { return wait }
        let due = lastReload + interval - now
        return min(wait, max(0, Int(due.components.seconds * 1000 + due.components.attoseconds / 1_000_000_000_000_000)))
    }
}

extension Effect {
    /// `effects` in order, without those whose result a later one makes stale.
    static func coalesced(_ effects: [Effect]) -> [Effect] {
        effects.enumerated().filter { index, effect in
            !effects[(index + 1)...].contains { effect.isReplaced(by: $0) }
        }.map(\.element)
    }

    /// Whether performing `later` makes this effect's result stale before it is seen: a
    /// newer load of the same list, thread or search.
    func isReplaced(by later: Effect) -> Bool {
        switch (self, later) {
        case (.loadConversations(_, _, _, let limit), .loadConversations(_, _, _, let laterLimit)): laterLimit >= limit
        case (.patchConversations, .loadConversations): true
        case (.loadThread(let id, let limit), .loadThread(let laterID, let laterLimit)): id == laterID && laterLimit >= limit
        case (.search, .search), (.loadWorkbench, .loadWorkbench): true
        case (.workbench(.checkArrivals), .workbench(.checkArrivals)): true
        default: false
        }
    }
}

/// Actions finished by background tasks, waiting for the main loop.
final class ActionInbox: Sendable {
    private let actions = Mutex<[Action]>([])

    func post(_ action: Action) {
        actions.withLock { $0.append(action) }
    }

    var isEmpty: Bool { actions.withLock { $0.isEmpty } }

    func takeAll() -> [Action] {
        actions.withLock { actions in
            defer { actions.removeAll() }
            return actions
        }
    }
}
