import InboxCore
import PostgresNIO

// An outbound message's ticks, written the way SQLite writes them (InboxStore's
// EventApplier.advance and applyWaiting): forward only, and the statuses that came before
// the message had its wamid applied once it has. The applier and the outbox both move them.

extension Transaction {
    /// The first key of the advisory locks that order the statuses of one wamid ("wabs").
    static let statusLockSpace: Int32 = 0x7761_6273

    /// Holds, until this transaction ends, the lock of `wamid`'s statuses. The applier takes
    /// it before it records a status, the sender before it gives a message its wamid: the
    /// second of the two sees what the first wrote, so a status that came with the send's
    /// answer is never left waiting for a message that has its wamid already. (A row lock
    /// cannot order them: the status may come before the message has the wamid to find.)
    func lockStatuses(of wamid: String) async throws {
        try await run("SELECT pg_advisory_xact_lock(\(Self.statusLockSpace), hashtext(\(wamid)))")
    }

    /// Moves an outbound message's status forward, never back (`DeliveryStatus.advances`).
    func advance(messageRowID: Int64, current: String, to next: DeliveryStatus, at timestamp: Int64,
                 error: APIErrorDetail?) async throws {
        guard let current = DeliveryStatus(rawValue: current), current.advances(to: next) else { return }
        if next == .failed {
            try await run("""
                UPDATE message SET status = \(next.rawValue), status_at = \(timestamp), error_code = \(error?.code)::bigint,
                    error_title = \(PostgresText.safe(error?.title))::text,
                    error_message = \(PostgresText.safe(error?.message))::text,
                    error_details = \(PostgresText.safe(error?.details))::text
                WHERE id = \(messageRowID)
                """)
        } else {
            try await run("UPDATE message SET status = \(next.rawValue), status_at = \(timestamp) WHERE id = \(messageRowID)")
        }
    }

    /// Applies every status that arrived for `wamid` before the message had it, oldest first.
    func applyWaitingStatuses(messageRowID: Int64, wamid: String) async throws {
        let waiting = try await rows("""
            SELECT status, timestamp, error_code, error_title, error_message, error_details
            FROM status_event WHERE wamid = \(wamid) ORDER BY timestamp, id
            """) { try $0.decode((String, Int64, Int?, String?, String?, String?).self) }
        for (raw, timestamp, code, title, message, details) in waiting {
            guard let status = DeliveryStatus(rawValue: raw.lowercased()),
                  let current = try await row("SELECT status FROM message WHERE id = \(messageRowID)",
                                                 read: { try $0.decode(String.self) }) else { continue }
            let error = code.map { APIErrorDetail(code: $0, title: title, message: message, details: details) }
            try await self.advance(messageRowID: messageRowID, current: current, to: status, at: timestamp, error: error)
        }
    }
}
