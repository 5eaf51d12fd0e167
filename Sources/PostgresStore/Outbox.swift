import Foundation
import InboxCore
import Logging
import PostgresNIO
import StoreContract
import Synchronization

// The outbox on PostgreSQL (StoreContract.OutboxStore), with SQLite's rules (InboxStore's
// Outbox.swift): a conversation's messages go out in order, a claim is committed before the
// request, an answer settles the row, and a row whose fate is unknown waits for the
// operator. What differs is that several listeners send from it at once: a claim skips the
// rows another sender has locked (`FOR UPDATE SKIP LOCKED`), and a row left in flight
// becomes uncertain only once its sender's presence lease has expired.

/// One sender's view of the outbox on PostgreSQL: the store, and the presence lease its
/// claims are known by while it lives.
public final class PostgresOutbox: OutboxStore {
    public let store: PostgresStore
    /// The lease row that says this sender is alive (`sender <uuid>`): a fresh name for
    /// each process, so that a restarted process (in a container, often pid 1 again) does
    /// not vouch for what the dead one held.
    public let presenceName: String
    private let claimant: LeaseClaimant
    private let lifetimeMilliseconds: Int64
    /// The rows this sender claimed and has not yet tried to settle. A row it holds in
    /// flight that is not among them is one whose outcome could not be written (the
    /// connection dropped): the sweep makes it uncertain, as it would a dead sender's.
    private let holds = Mutex<Set<String>>([])
    /// When rows held by dead senders were last looked for (Unix ms).
    private let lastSweep = Mutex<Int64>(0)
    private let sweepInterval: Int64

    /// This host's media folder: a file another host queued is copied into it from the
    /// database before its upload.
    public let mediaDirectory: String?

    /// - Parameters:
    ///   - lifetime: how long the presence lease lasts without a renewal; `keepPresent`
    ///     renews it five times as often.
    ///   - sweepInterval: how often a claim first makes uncertain the rows left in flight by
    ///     senders that died (milliseconds).
    ///   - mediaDirectory: this host's media folder (`media_dir`).
    public init(store: PostgresStore, claimant: LeaseClaimant, lifetime: Duration = .seconds(15),
                sweepInterval: Int64 = 5_000, mediaDirectory: String? = nil) {
        self.mediaDirectory = mediaDirectory
        self.store = store
        self.claimant = claimant
        self.presenceName = "sender " + UUID().uuidString.lowercased()
        self.lifetimeMilliseconds = lifetime.wholeMilliseconds
        self.sweepInterval = sweepInterval
    }

    private var logger: Logger { store.logger }

    private func hold(_ item: OutboxItem?) async -> OutboxItem? {
        guard var item else { return nil }
        holds.withLock { _ = $0.insert(item.localID) }
        if let file = item.file { item.file = await hereOrCopied(file) }
        return item
    }

    /// `file` where this host can read it: as queued when it is here, else copied from the
    /// database into this host's media folder (a screen on another host queued it). When
    /// neither works the path stays, and the upload says it cannot read the file.
    private func hereOrCopied(_ file: OutboundFile) async -> OutboundFile {
        guard let mediaDirectory else { return file }
        let hash = (file.path as NSString).lastPathComponent
        do {
            guard let here = try await store.localFile(hash: hash, path: file.path, in: mediaDirectory) else {
                // Never the queued path itself: only a file that holds the bytes named is sent,
                // and this one is missing (the upload then says it cannot read it).
                logger.warning("the file to send \(hash) is neither at \(file.path) nor in the database")
                var missing = file
                missing.path = (mediaDirectory as NSString).appendingPathComponent(".missing-\(UUID().uuidString)")
                return missing
            }
            var copy = file
            copy.path = here
            return copy
        } catch {
            logger.warning("could not copy the file to send \(hash) from the database: \(error)")
            return file
        }
    }

    func releaseHold(_ localID: String) {
        holds.withLock { _ = $0.remove(localID) }
    }

    // MARK: - Presence

    /// Writes (or renews) the presence lease. Called before the first claim and by
    /// `keepPresent`.
    public func renewPresence() async throws {
        try await store.client.query("""
            INSERT INTO lease (name, pid, host, role, lifetime_ms, acquired_at, renewed_at)
            VALUES (\(presenceName), \(claimant.pid), \(claimant.host), \(claimant.role), \(lifetimeMilliseconds), now(), now())
            ON CONFLICT (name) DO UPDATE SET renewed_at = now()
            """, logger: logger)
    }

    /// Renews the presence lease until cancelled (a renewal that fails is tried again at
    /// the next beat: the lease outlives four missed beats), then deletes it.
    public func keepPresent() async {
        let beat = Duration.milliseconds(max(lifetimeMilliseconds / 5, 100))
        while !Task.isCancelled {
            do {
                try await renewPresence()
            } catch {
                logger.warning("could not renew the sender's presence in PostgreSQL: \(String(reflecting: error))")
            }
            try? await Task.sleep(for: beat)
        }
        _ = try? await store.client.query("DELETE FROM lease WHERE name = \(presenceName)", logger: logger)
    }

    /// Runs `body` while the presence lease is kept, for a one-shot sender (`wabox send`).
    public func whilePresent<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        try await renewPresence()
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { await self.keepPresent(); return nil }
            group.addTask { try await body() }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let result = next { return result }
            }
            throw CancellationError()
        }
    }

    // MARK: - Claiming

    public func claimNextOutbound(nowMilliseconds now: Int64) async throws -> OutboxItem? {
        try await sweepIfDue()
        let presence = presenceName
        return await hold(try await store.transaction { tx in
            if try await Self.halt(in: tx) != nil { return nil }
            // A row another sender holds is locked, and skipped; it stays in the outbox, so
            // the later rows of its conversation wait for it (NOT EXISTS sees it whatever
            // its state), which keeps each conversation in order across senders.
            guard let rowID = try await tx.int64("""
                SELECT o.message_id FROM outbox o JOIN message m ON m.id = o.message_id
                WHERE o.state = 'queued' AND o.next_attempt_at <= \(now)
                  AND NOT EXISTS (SELECT 1 FROM outbox o2 JOIN message m2 ON m2.id = o2.message_id
                                  WHERE o2.state <> 'uncertain' AND m2.conversation_id = m.conversation_id
                                    AND o2.message_id < o.message_id)
                ORDER BY o.next_attempt_at, o.message_id
                LIMIT 1
                FOR UPDATE OF o SKIP LOCKED
                """) else { return nil }
            return try await Self.claim(rowID: rowID, now: now, by: presence, in: tx)
        })
    }

    public func claimOutbound(localID: String, nowMilliseconds now: Int64) async throws -> OutboxItem? {
        let presence = presenceName
        return await hold(try await store.transaction { tx in
            guard let rowID = try await tx.int64("""
                SELECT o.message_id FROM outbox o JOIN message m ON m.id = o.message_id
                WHERE m.local_id = \(localID) AND o.state = 'queued'
                FOR UPDATE OF o SKIP LOCKED
                """) else { return nil }
            return try await Self.claim(rowID: rowID, now: now, by: presence, in: tx)
        })
    }

    private static func claim(rowID: Int64, now: Int64, by presence: String, in tx: Transaction) async throws -> OutboxItem? {
        typealias Columns = (Int64, String, Int64, String, String?, String?, String, String?, Int, String?,
                             String?, String?, String, String?, String?)
        guard let row = try await tx.row("""
            SELECT m.id, m.local_id, m.conversation_id, m.content, m.reply_to, m.wamid, m.type, m.buttons, o.attempts,
                   o.payload, o.file_path, o.upload_id, cv.phone_number_id, c.wa_id, c.user_id
            FROM outbox o JOIN message m ON m.id = o.message_id
            JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
            WHERE o.message_id = \(rowID)
            """, read: { try $0.decode(Columns.self) }) else { return nil }
        let (_, localID, conversationID, content, replyTo, wamid, type, buttons, attempts, payload,
             filePath, uploadID, phoneNumberID, waID, userID) = row
        if wamid != nil {
            // A status webhook already linked it: it went out. Nothing to send.
            try await tx.run("DELETE FROM outbox WHERE message_id = \(rowID)")
            return nil
        }
        try await tx.run("""
            UPDATE outbox SET state = 'in_flight', attempts = attempts + 1, claimed_at = \(now), claimed_by = \(presence)
            WHERE message_id = \(rowID)
            """)
        let kind: OutboundKind
        var file: OutboundFile?
        if let payload {
            kind = .template(try StoredJSON.decode(TemplateMessage.self, from: payload))
        } else {
            switch try StoredJSON.decode(MessageContent.self, from: content) {
            case .text(let body) where type == "reaction":
                kind = .reaction(to: MessageID(replyTo ?? ""), emoji: body)
            case .text(let body) where buttons != nil:
                kind = .buttons(ReplyButtons(body: body, titles: try StoredJSON.decode([String].self, from: buttons!)))
            case .text(let body): kind = .text(body: body)
            case .media(let media) where filePath != nil:
                kind = .media(OutboundMedia(kind: media.kind, mediaID: uploadID, caption: media.caption,
                                            filename: media.filename))
                file = OutboundFile(path: filePath!, mimeType: media.mimeType ?? "application/octet-stream",
                                    filename: media.filename)
            case let other: throw OutboxError("the outbox holds a \(other.typeName) message, which wabox cannot send yet")
            }
        }
        let recipient: Recipient? = waID.map { .waID(WaID($0)) } ?? userID.map { .userID(UserID($0)) }
        return OutboxItem(
            messageRowID: rowID, localID: localID, conversationID: ConversationID(rawValue: conversationID),
            phoneNumberID: PhoneNumberID(phoneNumberID), recipient: recipient, kind: kind,
            // A reaction names its message in `reaction`, not as a reply.
            replyTo: type == "reaction" ? nil : replyTo.map(MessageID.init),
            attempts: attempts + 1, file: file)
    }

    // MARK: - Outcomes

    public func recordUpload(localID: String, mediaID: String) async throws {
        try await store.transaction { tx in
            try await tx.run("""
                UPDATE outbox SET upload_id = \(mediaID)
                WHERE message_id = (SELECT id FROM message WHERE local_id = \(localID))
                """)
            try await tx.run("""
                UPDATE media SET media_id = \(mediaID) WHERE message_id = (SELECT id FROM message WHERE local_id = \(localID))
                """)
        }
    }

    public func markAccepted(localID: String, wamid: MessageID, heldForQualityReview: Bool,
                             at timestamp: Int64) async throws {
        releaseHold(localID)
        try await store.transaction { tx in
            // Ordered with the applier's statuses of this wamid (first the status lock, then
            // the row, as the applier takes them): whichever commits second sees the other.
            try await tx.lockStatuses(of: wamid.rawValue)
            guard let (rowID, status) = try await tx.row("""
                SELECT id, status FROM message WHERE local_id = \(localID) FOR UPDATE
                """, read: { try $0.decode((Int64, String).self) }) else { return }
            let linked = try await tx.row("""
                UPDATE message SET wamid = coalesce(wamid, \(wamid.rawValue)), held_for_review = \(heldForQualityReview)
                WHERE id = \(rowID) RETURNING wamid
                """, read: { try $0.decode(String.self) }) ?? wamid.rawValue
            try await tx.advance(messageRowID: rowID, current: status, to: .accepted, at: timestamp, error: nil)
            try await tx.applyWaitingStatuses(messageRowID: rowID, wamid: linked)
            try await tx.run("DELETE FROM outbox WHERE message_id = \(rowID)")
        }
    }

    /// Only while this sender still holds the row: one another listener made uncertain
    /// meanwhile (this one lost the database for longer than its presence) stays so.
    public func scheduleRetry(localID: String, atMilliseconds nextAttempt: Int64, lastError: String) async throws {
        releaseHold(localID)
        try await store.client.query("""
            UPDATE outbox SET state = 'queued', next_attempt_at = \(nextAttempt), claimed_at = NULL, claimed_by = NULL,
                              last_error = \(PostgresText.safe(lastError))
            WHERE message_id = (SELECT id FROM message WHERE local_id = \(localID))
              AND state = 'in_flight' AND claimed_by = \(presenceName)
            """, logger: logger)
    }

    public func releaseOutbound(localID: String, lastError: String) async throws {
        releaseHold(localID)
        try await store.client.query("""
            UPDATE outbox SET state = 'queued', claimed_at = NULL, claimed_by = NULL, attempts = greatest(attempts - 1, 0),
                              last_error = \(PostgresText.safe(lastError))
            WHERE message_id = (SELECT id FROM message WHERE local_id = \(localID))
              AND state = 'in_flight' AND claimed_by = \(presenceName)
            """, logger: logger)
    }

    public func markFailed(localID: String, error: APIErrorDetail, closesWindow: Bool, at timestamp: Int64) async throws {
        releaseHold(localID)
        try await store.transaction { tx in
            guard let (rowID, status, conversationID) = try await tx.row("""
                SELECT id, status, conversation_id FROM message WHERE local_id = \(localID) FOR UPDATE
                """, read: { try $0.decode((Int64, String, Int64).self) }) else { return }
            try await tx.advance(messageRowID: rowID, current: status, to: .failed, at: timestamp, error: error)
            try await tx.run("DELETE FROM outbox WHERE message_id = \(rowID)")
            if closesWindow {
                try await tx.run("""
                    UPDATE conversation SET window_closed_at = greatest(coalesce(window_closed_at, 0), \(timestamp))
                    WHERE id = \(conversationID)
                    """)
            }
        }
    }

    public func markUncertain(localID: String, reason: String) async throws {
        releaseHold(localID)
        try await store.transaction { tx in
            try await Self.makeUncertain(in: tx, reason: reason, where: """
                o.message_id = (SELECT id FROM message WHERE local_id = \(localID)) AND o.state = 'in_flight'
                """)
        }
    }

    /// Rows in flight whose sender's presence lease has expired (or was never written)
    /// become uncertain, and so do this sender's own whose outcome it tried and failed to
    /// write; a row a live sender is sending is left to it. Presence leases expired for an
    /// hour, their rows settled, are deleted.
    public func recoverInFlightOutbound() async throws -> Int {
        let count = try await store.transaction { tx in
            let count = try await Self.makeUncertain(in: tx,
                reason: "the wabox sending it stopped; the message may or may not have gone out", where: """
                o.state = 'in_flight' AND (NOT EXISTS (
                    SELECT 1 FROM lease l WHERE l.name = o.claimed_by
                      AND l.renewed_at + l.lifetime_ms * interval '1 millisecond' > now())
                  OR (o.claimed_by = \(presenceName) AND NOT m.local_id = ANY(\(Array(holds.withLock { $0 }))::text[])))
                """)
            try await tx.run("""
                DELETE FROM lease WHERE name LIKE 'sender %'
                  AND renewed_at + lifetime_ms * interval '1 millisecond' < now() - interval '1 hour'
                """)
            return count
        }
        lastSweep.withLock { $0 = Int64(Date().timeIntervalSince1970 * 1000) }
        return count
    }

    /// Looks for rows dead senders left in flight at most every `sweepInterval`: while a
    /// dead sender's row is in flight, the later messages of its conversation wait. On the
    /// wall clock: the sender's `now` may be a test's.
    private func sweepIfDue() async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        guard lastSweep.withLock({ now - $0 >= sweepInterval }) else { return }
        let recovered = try await recoverInFlightOutbound()
        if recovered > 0 {
            logger.warning("\(recovered) message(s) were being sent by a wabox that stopped; marked uncertain, not resent")
        }
    }

    /// `filter` is a condition on `outbox o` (PostgreSQL interpolations already bound).
    @discardableResult
    private static func makeUncertain(in tx: Transaction, reason: String, where filter: PostgresQuery) async throws -> Int {
        let rows = try await tx.rows(Self.selectOutbox(where: filter)) { try $0.decode((Int64, String?).self) }
        for (rowID, wamid) in rows {
            if wamid != nil {
                try await tx.run("DELETE FROM outbox WHERE message_id = \(rowID)")
                continue
            }
            try await tx.run("""
                UPDATE outbox SET state = 'uncertain', claimed_at = NULL, claimed_by = NULL,
                                  last_error = \(PostgresText.safe(reason))
                WHERE message_id = \(rowID)
                """)
            try await tx.run("UPDATE message SET status = 'uncertain' WHERE id = \(rowID) AND status = 'pending'")
        }
        return rows.count
    }

    private static func selectOutbox(where filter: PostgresQuery) -> PostgresQuery {
        var query = filter
        query.sql = """
            SELECT o.message_id, m.wamid FROM outbox o JOIN message m ON m.id = o.message_id
            WHERE \(filter.sql)
            FOR UPDATE OF o, m
            """
        return query
    }

    // MARK: - Halting

    public func haltSending(code: Int?, reason: String, at timestamp: Int64) async throws {
        try await store.transaction { tx in
            try await tx.run("DELETE FROM sending_halt WHERE until <= extract(epoch FROM now())::bigint")
            try await tx.run("""
                INSERT INTO sending_halt (id, code, reason, since) VALUES (1, \(code)::bigint, \(PostgresText.safe(reason)), \(timestamp))
                ON CONFLICT (id) DO NOTHING
                """)
        }
    }

    public func resumeSending() async throws {
        try await store.client.query("DELETE FROM sending_halt WHERE source IS NULL", logger: logger)
    }

    public func sendingHalt() async throws -> SendingHalt? {
        try await store.transaction { tx in try await Self.halt(in: tx) }
    }

    static func halt(in tx: Transaction) async throws -> SendingHalt? {
        // An alert's halt ends by itself when its restriction expires.
        try await tx.row("""
            SELECT code, reason, since, source FROM sending_halt
            WHERE id = 1 AND (until IS NULL OR until > extract(epoch FROM now())::bigint)
            """, read: { row in
            let (code, reason, since, source) = try row.decode((Int?, String, Int64, String?).self)
            return SendingHalt(code: code, reason: reason, since: since, isAccountAlert: source != nil)
        })
    }

    // MARK: - Reading back

    public func outboundSettlement(localID: String) async throws -> OutboundSettlement? {
        try await store.transaction { tx in
            try await tx.row("""
                SELECT wamid, status, error_code, error_title, error_message, error_details
                FROM message WHERE local_id = \(localID) AND direction = 'out'
                """, read: { row in
                let (wamid, status, code, title, message, details) = try row.decode(
                    (String?, String, Int?, String?, String?, String?).self)
                let error = code != nil || title != nil
                    ? APIErrorDetail(code: code, title: title, message: message, details: details) : nil
                return OutboundSettlement(wamid: wamid.map(MessageID.init), status: DeliveryStatus(rawValue: status),
                                          error: error)
            })
        }
    }

    public func outboxEntry(localID: String) async throws -> OutboxEntry? {
        try await store.transaction { tx in
            try await tx.row("""
                SELECT o.state, o.attempts, o.next_attempt_at, o.last_error FROM outbox o JOIN message m ON m.id = o.message_id
                WHERE m.local_id = \(localID)
                """, read: { row in
                let (state, attempts, next, error) = try row.decode((String, Int, Int64, String?).self)
                return OutboxEntry(state: state, attempts: attempts, nextAttemptAt: next, lastError: error)
            })
        }
    }

    // MARK: - Read receipts

    /// Queues a read receipt for the sender to send (a screen without a token of its own).
    public func queueReadReceipt(for message: MessageID, from business: PhoneNumberID, at now: Int64) async throws {
        try await store.client.query("""
            INSERT INTO read_receipt (wamid, phone_number_id, requested_at) VALUES (\(message.rawValue), \(business.rawValue), \(now))
            ON CONFLICT (wamid) DO NOTHING
            """, logger: logger)
    }

    public func dueReadReceipts(staleBefore: Int64, maxAttempts: Int, limit: Int) async throws
        -> [(message: MessageID, business: PhoneNumberID)] {
        let due = try await store.transaction { tx in
            try await tx.run("DELETE FROM read_receipt WHERE requested_at < \(staleBefore) OR attempts >= \(maxAttempts)")
            // Skipping the ones another sender is sending: each receipt goes out once.
            return try await tx.rows("""
                DELETE FROM read_receipt WHERE wamid IN (
                    SELECT wamid FROM read_receipt ORDER BY requested_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING wamid, phone_number_id, requested_at, attempts
                """) { try $0.decode((String, String, Int64, Int).self) }
        }
        // Taken out of the queue so that no other sender sends them too; one that fails
        // goes back with an attempt more (finishReadReceipt).
        pendingReceipts.withLock { pending in
            for (wamid, business, requestedAt, attempts) in due {
                pending[wamid] = (business, requestedAt, attempts)
            }
        }
        return due.sorted { $0.2 < $1.2 }.map { (MessageID($0.0), PhoneNumberID($0.1)) }
    }

    public func finishReadReceipt(_ message: MessageID, done: Bool) async throws {
        guard let taken = pendingReceipts.withLock({ $0.removeValue(forKey: message.rawValue) }), !done else { return }
        try await store.client.query("""
            INSERT INTO read_receipt (wamid, phone_number_id, requested_at, attempts)
            VALUES (\(message.rawValue), \(taken.business), \(taken.requestedAt), \(taken.attempts + 1))
            ON CONFLICT (wamid) DO NOTHING
            """, logger: logger)
    }

    /// Receipts this sender took from the queue and has not finished: business, requested
    /// at, attempts.
    private let pendingReceipts = Mutex<[String: (business: String, requestedAt: Int64, attempts: Int)]>([:])
}
