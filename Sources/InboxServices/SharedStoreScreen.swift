import CloudAPI
import Foundation
import InboxCore
import InboxStore
import InboxTUI
import Logging
import PostgresStore
import Synchronization

/// `wabox --db postgres://…` (issue 19): an agent's screen on a shared PostgreSQL inbox,
/// from any host. It runs no listener and no sender: the `wabox serve` behind the load
/// balancer receive, apply and send; the screen reads, and writes what the agent does (a
/// reply goes to the one outbox, which any listener's sender sends once).
///
/// Commits reach it through a change listener (`LISTEN`, with a one-second poll as the
/// backstop). When the database cannot be reached the status bar says so and the screen
/// keeps what it shows; it reconnects by itself.
public struct SharedStoreScreen: Sendable {
    public var location: PostgresLocation
    public var identity: AgentIdentity
    public var theme: Theme
    public var logger: Logger
    /// What the agent set for their screen (`markReadOnOpen` asks a listener's sender for
    /// the read receipt).
    public var preferences = ScreenPreferences()
    /// How long the first connection may take before the start fails.
    public var connectTimeout: Duration = .seconds(10)
    /// This host's copy of the customers' files (`media_dir`): photos a thread shows are
    /// copied into it from the database.
    public var mediaDirectory: String?

    public init(location: PostgresLocation, identity: AgentIdentity, theme: Theme, logger: Logger) {
        self.location = location
        self.identity = identity
        self.theme = theme
        self.logger = logger
    }

    /// Why the screen could not start, in words that say what to do.
    public struct StartFailure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs until the user quits or a signal arrives. Blocks the calling thread, which must
    /// not be one of the cooperative pool's (the main thread in the program).
    public func run<Terminal: SessionTerminal>(on makeTerminal: () -> Terminal) throws {
        let location = self.location, timeout = connectTimeout
        let storeLogger = Logger(label: "wabox.postgres")
        if case .failure(let error) = runBlocking({
            try await PostgresStore.probe(location, timeout: timeout, logger: storeLogger)
        }) {
            throw StartFailure(description: String(describing: error))
        }
        let store = PostgresStore(location, logger: storeLogger, maximumConnections: 4)
        let pool = Task { await store.client.run() }
        defer { pool.cancel() }
        if case .failure(let error) = runBlocking({ try await store.migrate() }) {
            throw StartFailure(description: "could not bring the schema of \(location.redacted) up to date: \(error)")
        }
        let screen = PostgresScreenStore(store: store, identity: identity, mediaCache: mediaDirectory)
        if case .failure(let error) = runBlocking({ try await screen.registerAgent(at: Int64(Date().timeIntervalSince1970)) }) {
            logger.warning("could not record agent \(identity.label): \(error)")
        }
        let wake = WakePipe()
        let following = Task {
            await screen.followChanges(PostgresChangeListener(location, logger: storeLogger)) { wake.ring() }
        }

        let terminal = makeTerminal()
        if let descriptor = wake.descriptor { terminal.wake(on: descriptor) { wake.drain() } }
        var configuration = InboxApp.Configuration(asciiOnly: !terminal.isUTF8,
                                                   pollMilliseconds: wake.descriptor == nil ? 100 : 1000,
                                                   agent: identity.account)
        configuration.displayName = identity.displayName
        configuration.drawsPictures = terminal.colorCount >= 256
        preferences.apply(to: &configuration)
        // Short, so that a problem beside it fits the bar: the password never shows.
        let shared = "shared inbox \(location.host):\(location.port)/\(location.database)"
        let inbox = InboxApp(
            database: screen, backend: terminal, theme: theme, configuration: configuration,
            listenerStatus: {
                var status = ListenerStatus(isUp: screen.unreachable == nil,
                                            problem: screen.unreachable.map {
                                                "database unreachable: showing what was loaded, reconnecting (\($0))"
                                            })
                status.attachedTo = shared
                return status
            },
            fileSender: fileSender(screen), cloud: cloudServices(screen))
        while !inbox.state.quit {
            if terminal.pendingSignal() != 0 { break }
            inbox.step(waitMilliseconds: configuration.pollMilliseconds)
        }
        terminal.close()
        following.cancel()
        // Bounded like every read: a database that is gone must not hold the quit.
        _ = try? screen.wait { try await screen.stopTyping(in: nil) }
        // The pipe stays open until the process ends: the listener's task may still ring
        // it while it stops, and a closed descriptor's number may be reused by then.
    }

    /// Ctrl-O in the compose line: the file checked, copied into this host's media folder
    /// and queued with its bytes, which the sender of any listener uploads.
    func fileSender(_ screen: PostgresScreenStore) -> InboxApp.FileSender {
        let directory = mediaDirectory
        return { conversation, path, caption, replyTo in
            guard let directory else { throw ScreenSession.SessionError.noMediaStore }
            let caption = caption.flatMap { $0.isEmpty ? nil : $0 }
            let outgoing = try await OutgoingFile.prepareOffThePool(path: path, mediaDirectory: directory, caption: caption)
            return try await screen.enqueueFile(in: conversation, file: outgoing.file, kind: outgoing.kind,
                                                sha256: outgoing.sha256, caption: caption, replyTo: replyTo,
                                                localID: UUID().uuidString.lowercased(),
                                                at: Int64(Date().timeIntervalSince1970))
        }
    }

    /// Templates from the cache one listener keeps fresh; read receipts through the queue
    /// every listener's sender sends from.
    func cloudServices(_ screen: PostgresScreenStore) -> InboxApp.CloudServices {
        let store = screen.store
        let templates: @Sendable () async throws -> [TemplateChoice] = {
            guard let cached = try await store.cachedTemplates() else { throw ScreenSession.SessionError.noCachedTemplates }
            let listed = try JSONDecoder().decode([MessageTemplate].self, from: Data(cached.json.utf8))
            return TemplateEntry.merge(listed, fetchedAt: cached.fetchedAt, updates: try await store.templateStates())
                .filter(\.isOffered).map { ScreenSession.choice(from: $0.template) }
        }
        var markRead: (@Sendable (MessageID, PhoneNumberID) async throws -> Void)?
        if preferences.markReadOnOpen {
            markRead = { @Sendable wamid, business in
                try await screen.queueReadReceipt(for: wamid, from: business, at: Int64(Date().timeIntervalSince1970 * 1000))
            }
        }
        return InboxApp.CloudServices(templates: templates, markRead: markRead)
    }
}

/// A pipe the change listener writes a byte into, so that a screen waiting for a key
/// wakes at once.
final class WakePipe: Sendable {
    private let ends: (read: Int32, write: Int32)?

    init() {
        var fds: [Int32] = [0, 0]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
            ends = (fds[0], fds[1])
        } else {
            ends = nil
        }
    }

    var descriptor: Int32? { ends?.read }

    func ring() {
        guard let ends else { return }
        var byte: UInt8 = 1
        _ = write(ends.write, &byte, 1)
    }

    func drain() {
        guard let ends else { return }
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(ends.read, &buffer, buffer.count) > 0 {}
    }
}
