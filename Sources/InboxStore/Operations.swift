import Foundation
import GRDB

/// What a metrics scrape reads from the database: the figures that live in tables rather
/// than in the process (the journal's mark, the outbox, the sending halt, the screens).
public struct OperationalFigures: Sendable, Equatable {
    public var journal: JournalProgress
    /// Outbox rows by state; every state is present, 0 when none.
    public var outbox: [String: Int]
    public var sendingHalted: Bool
    /// Agents whose screen said it is open recently (`agentSeen(_:at:)`).
    public var screens: Int

    /// The states of an outbox row.
    public static let outboxStates = ["queued", "in_flight", "uncertain"]
}

extension InboxDatabase {
    /// Reads the figures in one read transaction, off the caller's thread.
    /// - Parameter screensSeenSince: Unix seconds; agents seen since then count as screens.
    public func operationalFigures(screensSeenSince: Int64) async throws -> OperationalFigures {
        try await writer.read { db in
            var outbox = Dictionary(uniqueKeysWithValues: OperationalFigures.outboxStates.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) FROM outbox GROUP BY state") {
                outbox[row[0] as String] = row[1]
            }
            let screens = try Int.fetchOne(db, sql: "SELECT count(*) FROM agent WHERE last_seen_at >= ?",
                                           arguments: [screensSeenSince]) ?? 0
            return OperationalFigures(journal: try Self.progress(in: db), outbox: outbox,
                                      sendingHalted: try Self.halt(in: db) != nil, screens: screens)
        }
    }

    /// Records that `agent`'s screen is open now (Unix seconds): screens say so every
    /// half-minute, so the metrics can count them.
    public func agentSeen(_ agent: String, at now: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE agent SET last_seen_at = ? WHERE name = ? AND last_seen_at < ?",
                           arguments: [now, agent, now])
        }
    }
}
