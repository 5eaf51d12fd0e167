import Foundation
import InboxCore
import Logging
import NIOSSL
import PostgresNIO
import StoreContract
import Synchronization

/// Hears of every commit that changed the inbox, from any host: a connection of its own
/// that `LISTEN`s on the change channel, and a poll of the feed's position on it as the
/// backstop (a notification lost costs at most one poll interval). When the connection
/// drops it says so, and connects again, with a growing pause, until it is back; the poll
/// then catches up with what changed meanwhile.
///
/// A screen runs one and reads the feed (`feedChanges(after:)`) after each `.changed`.
public final class PostgresChangeListener: Sendable {
    public enum Event: Sendable, Equatable {
        /// The feed reached this position (reported once per position, growing).
        case changed(Int64)
        /// Connected (again): the screen may say the database is back.
        case reachable
        /// The connection failed or dropped, in words for the status bar; the screen keeps
        /// showing what it has.
        case unreachable(String)
    }

    public struct Configuration: Sendable {
        /// The backstop's interval.
        public var pollEvery: Duration = .seconds(1)
        /// A poll that takes longer means the connection is dead (a cable pulled gives no
        /// error until TCP gives up, minutes later).
        public var pollTimeout: Duration = .seconds(5)
        /// The pauses between attempts to connect again, from the first to the longest.
        public var firstRetry: Duration = .milliseconds(200)
        public var longestRetry: Duration = .seconds(5)
        /// Whether to LISTEN at all (off, only the backstop: for tests of the backstop).
        public var listens = true

        public init() {}
    }

    private let location: PostgresLocation
    private let configuration: Configuration
    private let logger: Logger
    private let reported = Mutex<Int64>(0)

    public init(_ location: PostgresLocation, configuration: Configuration = .init(), logger: Logger) {
        self.location = location
        self.configuration = configuration
        self.logger = logger
    }

    /// Listens until the task is cancelled, handing every event to `handle`. `after` is the
    /// position the caller has read already.
    public func run(after position: Int64 = 0, _ handle: @escaping @Sendable (Event) async -> Void) async {
        reported.withLock { $0 = max($0, position) }
        var pause = configuration.firstRetry
        var wasReachable = true
        while !Task.isCancelled {
            do {
                try await session { await handle($0) }
                pause = configuration.firstRetry
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                let reason = Self.describe(error)
                if wasReachable { logger.warning("the database is unreachable", metadata: ["reason": "\(reason)"]) }
                wasReachable = false
                await handle(.unreachable(reason))
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, configuration.longestRetry)
                continue
            }
            wasReachable = true
        }
    }

    /// What the listener's connection calls itself in `pg_stat_activity`.
    public static let applicationName = "wabox change listener"

    /// One connection's life: connect, listen and poll until it fails.
    private func session(_ handle: @escaping @Sendable (Event) async -> Void) async throws {
        var settings = try PostgresStore.connectionConfiguration(location)
        settings.options.additionalStartupParameters = [("application_name", Self.applicationName)]
        let connection = try await PostgresConnection.connect(configuration: settings, id: Int.random(in: 1...Int.max),
                                                              logger: logger)
        do {
            try await listenAndPoll(connection, handle)
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Reachable is said once the server acknowledged the LISTEN: from then on no commit
    /// goes unheard.
    private func listenAndPoll(_ connection: PostgresConnection, _ handle: @escaping @Sendable (Event) async -> Void)
        async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            if configuration.listens {
                group.addTask {
                    try await connection.listen(on: PostgresStore.changeChannel) { notifications in
                        await handle(.reachable)
                        for try await notification in notifications {
                            if let position = Int64(notification.payload) { await self.report(position, handle) }
                        }
                    }
                    throw PostgresStoreError("the database ended the notifications")
                }
            } else {
                await handle(.reachable)
            }
            group.addTask {
                while true {
                    // Right after connecting too: what changed while the connection was down.
                    let position = try await self.poll(connection)
                    await self.report(position, handle)
                    try await Task.sleep(for: self.configuration.pollEvery)
                }
            }
            // Either task ending ends the connection; the caller connects again. The
            // connection is closed before the group is left: a server that stopped
            // answering would otherwise keep the other task's statement, and the group,
            // waiting for ever (cancelling a query waits for the server too).
            defer { group.cancelAll() }
            do {
                try await group.next()
            } catch {
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
                throw error
            }
        }
    }

    private func poll(_ connection: PostgresConnection) async throws -> Int64 {
        try await withThrowingTaskGroup(of: Int64.self) { group in
            group.addTask {
                for try await position in try await connection.query("SELECT seq FROM change_counter WHERE id = 1",
                                                                     logger: self.logger).decode(Int64.self) {
                    return position
                }
                return 0
            }
            group.addTask {
                try await Task.sleep(for: self.configuration.pollTimeout)
                throw PostgresStoreError("the database did not answer within \(self.configuration.pollTimeout)")
            }
            defer { group.cancelAll() }
            do {
                return try await group.next() ?? 0
            } catch {
                // The statement waits for a server that does not answer: only closing the
                // connection ends it, and the group waits for it before it returns.
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
                throw error
            }
        }
    }

    /// A failure in words for the status bar. postgres-nio hides the server's message from
    /// `description` (it may hold data); the server's message names no secret.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }

    /// Hands on a position once, and only one past what was reported.
    private func report(_ position: Int64, _ handle: @Sendable (Event) async -> Void) async {
        let isNew = reported.withLock { reported in
            guard position > reported else { return false }
            reported = position
            return true
        }
        if isNew { await handle(.changed(position)) }
    }
}

extension PostgresStore {
    /// The channel each journal append notifies at commit.
    public static let journalChannel = "wabox_journal"

    /// What the journal listener's connection calls itself in `pg_stat_activity`.
    public static let journalListenerName = "wabox journal listener"

    /// Hears every listener's appends until cancelled, ringing `journalAppends`, so that the
    /// applier wakes at once for a body another listener journaled; connects again a second
    /// after the connection drops (meanwhile the applier's poll finds the bodies).
    public func followJournal() async {
        while !Task.isCancelled {
            do {
                var settings = try Self.connectionConfiguration(location)
                settings.options.additionalStartupParameters = [("application_name", Self.journalListenerName)]
                let connection = try await PostgresConnection.connect(configuration: settings, id: Int.random(in: 1...Int.max),
                                                                      logger: logger)
                do {
                    try await connection.listen(on: Self.journalChannel) { [journalAppends] notifications in
                        // Rung once listening too: what was appended while not is looked for.
                        journalAppends?.ring()
                        for try await _ in notifications { journalAppends?.ring() }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { return }
                logger.debug("the journal listener's connection failed, connecting again: \(error)")
            }
            // However the session ended, a pause before the next: never a tight loop.
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
