import Foundation
import InboxCore
import Logging
import PostgresNIO
import StoreContract
import Synchronization

// The inbox screen on PostgreSQL (issue 19): every read and write the screen makes
// (InboxScreenStore), in the SQL of SQLite's InboxDatabase, so that an agent on any host
// sees and does what an agent on the SQLite server would. A change listener of its own
// (LISTEN, with a polling backstop) moves `changeCount`; the screen then reads the feed.

/// A screen's store on a shared PostgreSQL inbox, as `identity`.
public final class PostgresScreenStore: InboxScreenStore {
    public let store: PostgresStore
    public let identity: AgentIdentity
    /// How long a read may wait for the server before the screen is told it is unreachable
    /// (and keeps showing what it has); the server cancels a statement that runs longer.
    static let readTimeout: Duration = .seconds(3)
    private let counter = Atomic<Int>(0)
    private let reachability = Mutex<String?>(nil)
    /// Message ids near the arrivals mark already seen (`arrivals(after:)`).
    private let announced = Mutex<Set<Int64>>([])

    /// This host's copy of the customers' files (`media_dir`), filled from the database as
    /// threads show them; nil: files are shown only where the downloader kept them.
    public let mediaCache: String?
    /// Files being copied from the database, by hash, and those it did not have (asked
    /// again after `missingRetry`: `wabox migrate` may add them meanwhile).
    private let copies = Mutex<(running: Set<String>, missing: [String: (reason: String, at: ContinuousClock.Instant)])>(([], [:]))
    static let missingRetry: Duration = .seconds(30)
    /// Conversations whose files were copied since the feed was last read: their threads
    /// show them on the next reload.
    private let copied = Mutex<Set<ConversationID>>([])
    private let wake = Mutex<@Sendable () -> Void>({})

    public init(store: PostgresStore, identity: AgentIdentity, mediaCache: String? = nil) {
        self.store = store
        self.identity = identity
        self.mediaCache = mediaCache
    }

    /// Listens for commits until cancelled: each moves `changeCount`; a lost connection
    /// is kept in `unreachable` until it is back.
    /// `onChange` is called after each move and each change of reachability (a screen's
    /// wake-up).
    public func followChanges(_ listener: PostgresChangeListener, onChange: @escaping @Sendable () -> Void = {}) async {
        wake.withLock { $0 = onChange }
        await listener.run { [self] event in
            switch event {
            case .changed:
                counter.add(1, ordering: .relaxed)
            case .reachable:
                let was = reachability.withLock { state in defer { state = nil }; return state }
                // What changed while away is read at once.
                if was != nil { counter.add(1, ordering: .relaxed) }
            case .unreachable(let reason):
                reachability.withLock { $0 = reason }
            }
            onChange()
        }
    }

    /// Records that this account uses the inbox, with its display name as it is now; an
    /// account seen for the first time starts from the team's read state (as SQLite's).
    public func registerAgent(at now: Int64) async throws {
        let identity = self.identity
        try await store.transaction { tx in
            let known = try await tx.returnsRow("""
                UPDATE agent SET last_seen_at = \(now), display_name = \(identity.displayName)::text
                WHERE name = \(identity.account) RETURNING 1
                """)
            if known { return }
            try await tx.run("""
                INSERT INTO agent (name, first_seen_at, last_seen_at, display_name)
                VALUES (\(identity.account), \(now), \(now), \(identity.displayName)::text) ON CONFLICT DO NOTHING
                """)
            try await tx.run("""
                INSERT INTO agent_read (agent, conversation_id, inbound_seen)
                SELECT \(identity.account), id, greatest(0, inbound_count - unread_count) FROM conversation WHERE inbound_count > 0
                ON CONFLICT DO NOTHING
                """)
        }
    }

    /// Why the database cannot be reached, while it cannot.
    public var unreachable: String? { reachability.withLock { $0 } }

    public var changeCount: Int { counter.load(ordering: .relaxed) }

    // MARK: - Waiting for the server

    public struct Unreachable: StoreUnreachableError, CustomStringConvertible {
        public var description: String
    }

    /// Runs `work` on the pool and waits for it, at most `readTimeout`: the screen's loop
    /// asks synchronously, between two keys.
    public func wait<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        // Known down: the screen keeps what it has and its keys stay quick; the change
        // listener says when the database is back.
        if let reason = unreachable {
            throw Unreachable(description: "database unreachable: showing what was loaded, reconnecting (\(reason))")
        }
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        let seconds = Double(Self.readTimeout.wholeMilliseconds) / 1000
        guard done.wait(timeout: .now() + seconds) == .success else {
            task.cancel()
            throw Unreachable(description: "database unreachable: no answer within \(Int(seconds)) s; showing what was loaded")
        }
        return try outcome.withLock { $0! }.get()
    }

    // MARK: - Change feed

    public func changes(after sequence: Int64, limit: Int) throws -> ChangeBatch {
        var batch = try wait { [store] in try await store.feedChanges(after: sequence, limit: limit) }
        let local = copied.withLock { ids in defer { ids = [] }; return ids }
        if !local.isEmpty { batch.conversations[.media, default: []].formUnion(local) }
        return batch
    }

    public func latestChangeSequence() throws -> Int64 {
        try wait { [store] in try await store.feedPosition() }
    }

    // MARK: - The list

    public func conversationStep(filter: ConversationFilter, unreadOnly: Bool, scope: ConversationScope,
                                 after cursor: ConversationCursor?, limit: Int, viewer: Viewer, now: Int64?,
                                 window: Int?) throws -> ConversationListStep {
        let now = now ?? (viewer.nowMilliseconds > 0 ? viewer.nowMilliseconds / 1000 : Int64(Date().timeIntervalSince1970))
        let query = ScreenListQuery(filter: filter, unreadOnly: unreadOnly, scope: scope, viewer: viewer, now: now)
        return try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                try await query.step(after: cursor, limit: limit, window: window, in: tx)
            }
        }
    }

    public func conversations(among ids: Set<ConversationID>, filter: ConversationFilter, unreadOnly: Bool,
                              scope: ConversationScope, viewer: Viewer, now: Int64?) throws -> [ConversationSummary] {
        guard !ids.isEmpty else { return [] }
        let now = now ?? (viewer.nowMilliseconds > 0 ? viewer.nowMilliseconds / 1000 : Int64(Date().timeIntervalSince1970))
        var query = ScreenListQuery(filter: filter, unreadOnly: unreadOnly, scope: scope, viewer: viewer, now: now)
        query.add("cv.id = ANY(?)", ids.map(\.rawValue))
        return try wait { [store, query] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                try await ScreenRows.summaries(query.whereClause + " ORDER BY cv.last_activity_at DESC, cv.id DESC",
                                               query.values, viewer: viewer, in: tx).filter(query.matches)
            }
        }
    }

    // MARK: - A thread

    public func messages(in conversation: ConversationID, before cursor: MessageCursor?, limit: Int) throws
        -> Page<StoredMessage, MessageCursor> {
        var page = try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                var sql = "SELECT \(ScreenRows.messageColumns) FROM message m WHERE m.conversation_id = $1 AND m.type != 'reaction'"
                var binds = PostgresBindings()
                binds.append(conversation.rawValue)
                if let cursor {
                    sql += " AND (m.timestamp, m.id) < ($2, $3)"
                    binds.append(cursor.timestamp)
                    binds.append(cursor.id)
                }
                sql += " ORDER BY m.timestamp DESC, m.id DESC LIMIT \(limit + 1)"
                var items = try await tx.rows(PostgresQuery(unsafeSQL: sql, binds: binds), read: ScreenRows.message(from:))
                let hasMore = items.count > limit
                if hasMore { items.removeLast() }
                return Page(items: items.reversed(), next: hasMore ? items.last?.cursor : nil)
            }
        }
        page.items = page.items.map(withLocalFile)
        return page
    }

    // MARK: - Files from the shared inbox

    /// `message` with its file in this host's media folder, by its hash; a file not copied
    /// there yet shows as still on its way, and is copied from the database in the
    /// background (the thread reloads once it is here).
    func withLocalFile(_ message: StoredMessage) -> StoredMessage {
        guard let cache = mediaCache, var media = message.media, media.state == .ready, let path = media.path else {
            return message
        }
        // Only files of this host's media folder are opened: a path from the database is
        // anyone's with its password, and must not make `o` or `S` reach another file here.
        let hash = (path as NSString).lastPathComponent
        let local = (cache as NSString).appendingPathComponent(hash)
        var copy = message
        guard hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
            media.path = nil
            media.state = .failed
            media.reason = "the shared inbox names no file by its SHA-256 for it"
            copy.media = media
            return copy
        }
        if FileManager.default.fileExists(atPath: local) {
            media.path = local
        } else {
            media.path = nil
            let missing = copies.withLock { state -> String? in
                guard let entry = state.missing[hash] else { return nil }
                if ContinuousClock.now - entry.at < Self.missingRetry { return entry.reason }
                state.missing[hash] = nil
                return nil
            }
            if let missing {
                media.state = .failed
                media.reason = missing
            } else {
                media.state = .pending
                media.reason = "copying it from the shared inbox"
                copyFile(hash, to: local, for: message.conversationID)
            }
        }
        copy.media = media
        return copy
    }

    /// Copies the file named `hash` from the database to `local`, once at a time.
    private func copyFile(_ hash: String, to local: String, for conversation: ConversationID) {
        guard copies.withLock({ $0.running.insert(hash).inserted }) else { return }
        Task.detached { [self] in
            var missing: String?
            do {
                if try await store.localFile(hash: hash, path: local, in: (local as NSString).deletingLastPathComponent) == nil {
                    missing = "the file is kept only on the host that downloaded it (the database has no copy of it): open it there"
                }
            } catch {
                // Unreachable or a full disk: asked again when the thread is shown again.
                copies.withLock { _ = $0.running.remove(hash) }
                return
            }
            copies.withLock { state in
                state.running.remove(hash)
                if let missing { state.missing[hash] = (missing, .now) }
            }
            copied.withLock { _ = $0.insert(conversation) }
            counter.add(1, ordering: .relaxed)
            wake.withLock { $0 }()
        }
    }

    public func quotedMessages(for messages: [StoredMessage]) throws -> [MessageID: StoredMessage] {
        var quoted: [MessageID: StoredMessage] = [:]
        let present = Dictionary(messages.compactMap { message in message.wamid.map { ($0, message) } },
                                 uniquingKeysWith: { first, _ in first })
        var missing: [String] = []
        for replyTo in messages.compactMap(\.replyTo) where quoted[replyTo] == nil {
            if let found = present[replyTo] { quoted[replyTo] = found } else { missing.append(replyTo.rawValue) }
        }
        guard !missing.isEmpty else { return quoted }
        let found = try wait { [store, missing] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                try await tx.rows("""
                    SELECT \(unescaped: ScreenRows.messageColumns) FROM message m WHERE m.wamid = ANY(\(missing))
                    """, read: ScreenRows.message(from:))
            }
        }
        for message in found { if let wamid = message.wamid { quoted[wamid] = message } }
        return quoted
    }

    public func notes(in conversation: ConversationID) throws -> [ConversationNote] {
        try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                try await tx.rows("""
                    SELECT id, agent, text, created_at FROM note WHERE conversation_id = \(conversation.rawValue)
                    ORDER BY created_at, id
                    """) {
                    let (id, agent, text, createdAt) = try $0.decode((Int64, String, String, Int64).self)
                    return ConversationNote(id: id, conversationID: conversation, agent: agent, text: text, createdAt: createdAt)
                }
            }
        }
    }

    public func latestInboundMessage(in conversation: ConversationID) throws -> StoredMessage? {
        try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                try await tx.row("""
                    SELECT \(unescaped: ScreenRows.messageColumns) FROM message m
                    WHERE m.conversation_id = \(conversation.rawValue) AND m.direction = 'in' AND m.wamid IS NOT NULL
                          AND m.type != 'call'
                    ORDER BY m.timestamp DESC, m.id DESC LIMIT 1
                    """, read: ScreenRows.message(from:))
            }
        }
    }

    public func searchMessages(_ query: String, limit: Int, includeDeleted: Bool) throws -> [MessageHit] {
        let viewer = Viewer(agent: identity.account, nowMilliseconds: 0)
        return try wait { [store] in
            let hits = try await store.searchHits(query, limit: limit, includeDeleted: includeDeleted)
            guard !hits.isEmpty else { return [] }
            let wamids = hits.compactMap(\.wamid), localIDs = hits.compactMap(\.localID)
            return try await store.readOnly(timeout: Self.readTimeout) { tx in
                let messages = try await tx.rows("""
                    SELECT \(unescaped: ScreenRows.messageColumns) FROM message m
                    WHERE m.wamid = ANY(\(wamids)) OR m.local_id = ANY(\(localIDs))
                    """, read: ScreenRows.message(from:))
                let conversationIDs = Array(Set(messages.map(\.conversationID.rawValue)))
                let summaries = try await ScreenRows.summaries("WHERE cv.id = ANY($5)", [.numbers(conversationIDs)],
                                                               viewer: viewer, in: tx)
                let byID = Dictionary(summaries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                var byWamid: [String: StoredMessage] = [:], byLocalID: [String: StoredMessage] = [:]
                for message in messages {
                    if let wamid = message.wamid { byWamid[wamid.rawValue] = message }
                    if let localID = message.localID { byLocalID[localID] = message }
                }
                return hits.compactMap { hit in
                    guard let message = hit.wamid.flatMap({ byWamid[$0] }) ?? hit.localID.flatMap({ byLocalID[$0] }),
                          let summary = byID[message.conversationID] else { return nil }
                    return MessageHit(conversation: summary, message: message, snippet: hit.snippet)
                }
            }
        }
    }

    // MARK: - The workbench

    /// Ids are drawn when a row is written, not when it commits: with several writers a
    /// lower id may become visible after a higher one. Arrivals are looked for this far
    /// below the mark too, and those already seen are left out.
    static let arrivalMargin: Int64 = 500

    public func latestMessageRowID() throws -> Int64 {
        let (latest, seen) = try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                let latest = try await tx.int64("SELECT coalesce(max(id), 0) FROM message") ?? 0
                // What is there now is never announced, those below the mark included.
                let seen = try await tx.rows("SELECT id FROM message WHERE id > \(latest - Self.arrivalMargin)") {
                    try $0.decode(Int64.self)
                }
                return (latest, seen)
            }
        }
        announced.withLock { $0.formUnion(seen) }
        return latest
    }

    public func arrivals(after rowID: Int64, limit: Int) throws -> (arrivals: [Arrival], through: Int64) {
        let floor = rowID - Self.arrivalMargin
        let seen = announced.withLock { known in
            known = known.filter { $0 > floor }
            return Array(known)
        }
        let found = try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                let arrivals = try await tx.rows("""
                    SELECT m.id, m.conversation_id, m.content, cv.assigned_to, cv.resolved_at, j.received_at,
                           \(unescaped: ScreenRows.contactColumns)
                    FROM message m JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
                    LEFT JOIN journal j ON j.id = m.webhook_id
                    WHERE m.id > \(floor) AND m.id <> ALL(\(seen)) AND m.direction = 'in' AND m.type != 'system'
                    ORDER BY m.id DESC LIMIT \(limit)
                    """) { row in
                    let cells = row.makeRandomAccess()
                    return Arrival(messageRowID: try cells["id"].decode(Int64.self),
                                   conversation: ConversationID(rawValue: try cells["conversation_id"].decode(Int64.self)),
                                   contact: try ScreenRows.contact(from: cells),
                                   content: try StoredJSON.decode(MessageContent.self, from: try cells["content"].decode(String.self)),
                                   assignee: try cells["assigned_to"].decode(String?.self),
                                   isResolved: try cells["resolved_at"].decode(Int64?.self) != nil,
                                   receivedAt: try cells["received_at"].decode(Int64?.self))
                }
                // Every message seen here, so that none is announced twice.
                let visible = try await tx.rows("SELECT id FROM message WHERE id > \(floor) AND id <> ALL(\(seen))") {
                    try $0.decode(Int64.self)
                }
                let through = try await tx.int64("SELECT coalesce(max(id), 0) FROM message") ?? rowID
                return (arrivals, max(rowID, through), visible)
            }
        }
        announced.withLock { $0.formUnion(found.2) }
        return (found.0, found.1)
    }

    public func contactDetails(of conversation: ConversationID, viewer: Viewer) throws -> ContactDetails? {
        try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                guard let summary = try await ScreenRows.summaries("WHERE cv.id = $5", [.number(conversation.rawValue)],
                                                                   viewer: viewer, in: tx).first
                else { return nil }
                let contactID = summary.contact.id.rawValue
                let previous = try await tx.rows("""
                    SELECT wa_id, changed_at FROM contact_previous_number WHERE contact_id = \(contactID)
                    ORDER BY changed_at DESC
                    """) {
                    let (waID, changedAt) = try $0.decode((String, Int64).self)
                    return ContactDetails.PreviousNumber(waID: WaID(waID), changedAt: changedAt)
                }
                func edge(_ order: String) async throws -> StoredMessage? {
                    try await tx.row("""
                        SELECT \(unescaped: ScreenRows.messageColumns) FROM message m
                        WHERE m.conversation_id = \(conversation.rawValue) AND m.type != 'reaction'
                        ORDER BY m.timestamp \(unescaped: order), m.id \(unescaped: order) LIMIT 1
                        """, read: ScreenRows.message(from:))
                }
                let counts = try await tx.rows("""
                    SELECT m.direction, count(*) FROM message m
                    WHERE m.conversation_id = \(conversation.rawValue) AND m.type != 'reaction' GROUP BY m.direction
                    """) { try $0.decode((String, Int64).self) }
                func count(_ direction: String) -> Int { Int(counts.first { $0.0 == direction }?.1 ?? 0) }
                let otherNumbers = try await tx.rows("""
                    SELECT coalesce(display_phone_number, phone_number_id) FROM conversation
                    WHERE contact_id = \(contactID) AND id != \(conversation.rawValue) ORDER BY id
                    """) { try $0.decode(String.self) }
                let assignedAt = try await tx.int64("SELECT assigned_at FROM conversation WHERE id = \(conversation.rawValue)")
                return ContactDetails(
                    conversation: summary, previousNumbers: previous, firstMessage: try await edge("ASC"),
                    lastMessage: try await edge("DESC"), receivedCount: count("in"), sentCount: count("out"),
                    otherBusinessNumbers: otherNumbers, claimedAt: assignedAt, labels: nil, notesCount: nil)
            }
        }
    }

    public func rawWebhook(forMessage rowID: Int64) throws -> RawWebhookLookup {
        try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                guard let (direction, echo, webhookID) = try await tx.row("""
                    SELECT direction, echo, webhook_id FROM message WHERE id = \(rowID)
                    """, read: { try $0.decode((String, Bool, Int64?).self) }) else { return .noMessage }
                if let webhookID {
                    guard let (id, receivedAt, body) = try await tx.row("""
                        SELECT id, received_at, body FROM journal WHERE id = \(webhookID)
                        """, read: { try $0.decode((Int64, Int64, ByteBuffer).self) }) else { return .pruned(webhookID: webhookID) }
                    return .found(RawWebhook(webhookID: id, receivedAt: receivedAt, body: Data(body.readableBytesView)))
                }
                if direction == "out", !echo { return .sentFromWabox }
                // Stored before messages kept their webhook's id (rows migrated from an older SQLite inbox).
                return .notFound(searched: 0)
            }
        }
    }

    public func displayNames() throws -> [String: String] {
        try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                Dictionary(try await tx.rows("SELECT name, display_name FROM agent WHERE display_name IS NOT NULL") {
                    try $0.decode((String, String).self)
                }, uniquingKeysWith: { first, _ in first })
            }
        }
    }

    public func labels() throws -> [String] {
        try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                try await tx.rows(#"SELECT name FROM label ORDER BY wabox_nocase(name) COLLATE "C""#) { try $0.decode(String.self) }
            }
        }
    }

    public func cannedReplies() throws -> [CannedReply] {
        try wait { [store] in
            try await store.readOnly(timeout: Self.readTimeout) { tx in
                try await tx.rows(#"SELECT name, text FROM canned_reply ORDER BY wabox_nocase(name) COLLATE "C""#) {
                    let (name, text) = try $0.decode((String, String).self)
                    return CannedReply(name: name, text: text)
                }
            }
        }
    }
}

// MARK: - Writes

extension PostgresScreenStore {
    public func enqueueOutbound(in conversation: ConversationID, content: MessageContent, replyTo: MessageID?,
                                localID: String, at timestamp: Int64) async throws -> StoredMessage {
        let rowID = try await store.enqueueOutbound(in: conversation, content: content, replyTo: replyTo, localID: localID,
                                                    at: timestamp, agent: identity.account,
                                                    displayName: identity.displayName)
        return try await message(rowID: rowID)
    }

    /// A file checked and copied into this host's media folder (`OutgoingFile.prepare`),
    /// written with its bytes for the sender of any host.
    public func enqueueFile(in conversation: ConversationID, file: OutboundFile, kind: MediaAttachment.Kind, sha256: String,
                            caption: String?, replyTo: MessageID?, localID: String,
                            at timestamp: Int64) async throws -> StoredMessage {
        let rowID = try await store.enqueueFile(in: conversation, file: file, kind: kind, sha256: sha256, caption: caption,
                                                replyTo: replyTo, localID: localID, at: timestamp, agent: identity.account,
                                                displayName: identity.displayName)
        return try await message(rowID: rowID)
    }

    public func enqueueTemplate(in conversation: ConversationID, template: TemplateMessage, displayText: String?,
                                localID: String, at timestamp: Int64) async throws -> StoredMessage {
        let rowID = try await store.enqueueTemplate(in: conversation, template: template, displayText: displayText,
                                                    localID: localID, at: timestamp, agent: identity.account,
                                                    displayName: identity.displayName)
        return try await message(rowID: rowID)
    }

    public func enqueueButtons(in conversation: ConversationID, _ buttons: ReplyButtons, replyTo: MessageID?,
                               localID: String, at timestamp: Int64) async throws -> StoredMessage {
        if let problem = buttons.problem { throw OutboxError(problem) }
        let rowID = try await store.enqueueButtons(in: conversation, buttons, replyTo: replyTo, localID: localID,
                                                   at: timestamp, agent: identity.account,
                                                   displayName: identity.displayName)
        return try await message(rowID: rowID)
    }

    public func enqueueReaction(in conversation: ConversationID, to target: MessageID, emoji: String, localID: String,
                                at timestamp: Int64) async throws -> StoredMessage {
        let identity = self.identity
        let rowID = try await store.transaction { tx in
            // Not the conversation's last message: written here, not through insertOutbound.
            guard let rowID = try await tx.int64("""
                INSERT INTO message (local_id, conversation_id, direction, type, content, timestamp, status, reply_to, agent)
                VALUES (\(localID), \(conversation.rawValue), 'out', 'reaction',
                        \(try StoredJSON.encode(MessageContent.text(body: emoji))), \(timestamp), 'pending',
                        \(target.rawValue), \(identity.account))
                RETURNING id
                """) else { throw PostgresStoreError("PostgreSQL stored a reaction but returned no id: report this") }
            try await tx.run("""
                INSERT INTO outbox (message_id, state, attempts, next_attempt_at) VALUES (\(rowID), 'queued', 0, \(timestamp * 1000))
                """)
            try await tx.run("""
                INSERT INTO reaction (message_wamid, from_contact_id, emoji, timestamp, reaction_wamid, local_id)
                VALUES (\(target.rawValue), 0, nullif(\(emoji), ''), \(timestamp), NULL, \(localID))
                ON CONFLICT (message_wamid, from_contact_id) DO UPDATE
                    SET emoji = excluded.emoji, timestamp = excluded.timestamp, reaction_wamid = NULL,
                        local_id = excluded.local_id
                    WHERE excluded.timestamp >= reaction.timestamp
                """)
            try await tx.audit(.send, by: identity, conversation: conversation,
                               detail: AuditDetail(type: "reaction", localID: localID, emoji: emoji, reactedTo: target.rawValue),
                               at: timestamp)
            return rowID
        }
        return try await message(rowID: rowID)
    }

    private func message(rowID: Int64) async throws -> StoredMessage {
        guard let message = try await store.readOnly({ tx in
            try await tx.row("SELECT \(unescaped: ScreenRows.messageColumns) FROM message m WHERE m.id = \(rowID)",
                             read: ScreenRows.message(from:))
        }) else { throw PostgresStoreError("message \(rowID) was written but cannot be read back: report this") }
        return message
    }

    public func resendUncertain(localID: String, atMilliseconds now: Int64) async throws {
        let identity = self.identity
        try await store.transaction { tx in
            // As SQLite's: only a row whose fate is unknown, never sent (no wamid), with its
            // outbox row waiting on the agent.
            guard let (rowID, conversation, status, type, wamid, outbox) = try await tx.row("""
                SELECT m.id, m.conversation_id, m.status, m.type, m.wamid, o.state
                FROM message m LEFT JOIN outbox o ON o.message_id = m.id WHERE m.local_id = \(localID) FOR UPDATE OF m
                """, read: { try $0.decode((Int64, Int64, String, String, String?, String?).self) }) else {
                throw OutboxError("no message \(localID) to resend")
            }
            guard status == "uncertain", wamid == nil, outbox == "uncertain" else {
                throw OutboxError("message \(localID) is not uncertain (it is \(status)): nothing to resend")
            }
            guard try await tx.returnsRow("""
                UPDATE outbox SET state = 'queued', next_attempt_at = \(now), last_error = NULL, claimed_by = NULL
                WHERE message_id = \(rowID) AND state = 'uncertain' RETURNING 1
                """) else { throw OutboxError("message \(localID) is not uncertain any more: nothing to resend") }
            try await tx.run("UPDATE message SET status = 'pending' WHERE id = \(rowID)")
            try await tx.audit(.resend, by: identity, conversation: ConversationID(rawValue: conversation),
                               detail: AuditDetail(type: type, localID: localID), at: now / 1000)
        }
    }

    public func markRead(_ conversation: ConversationID, asTeam: Bool) async throws {
        let agent = asTeam ? nil : identity.account
        try await store.transaction { tx in
            try await tx.run("UPDATE conversation SET unread_count = 0 WHERE id = \(conversation.rawValue) AND unread_count != 0")
            guard let agent else { return }
            try await tx.run("""
                INSERT INTO agent_read (agent, conversation_id, inbound_seen)
                SELECT \(agent), id, inbound_count FROM conversation WHERE id = \(conversation.rawValue)
                ON CONFLICT (agent, conversation_id) DO UPDATE SET inbound_seen = excluded.inbound_seen
                    WHERE agent_read.inbound_seen IS DISTINCT FROM excluded.inbound_seen
                """)
        }
    }

    /// Asks a listener's sender to mark the customer's message read on WhatsApp.
    public func queueReadReceipt(for message: MessageID, from business: PhoneNumberID, at now: Int64) async throws {
        try await store.transaction { tx in
            try await tx.run("""
                INSERT INTO read_receipt (wamid, phone_number_id, requested_at) VALUES (\(message.rawValue), \(business.rawValue), \(now))
                ON CONFLICT (wamid) DO NOTHING
                """)
        }
    }

    public func claim(_ conversation: ConversationID, takeOver: Bool, at now: Int64) async throws -> ClaimOutcome {
        let identity = self.identity
        return try await store.transaction { tx in
            guard let (holder) = try await tx.row("""
                SELECT assigned_to FROM conversation WHERE id = \(conversation.rawValue) FOR UPDATE
                """, read: { try $0.decode(String?.self) }) else {
                throw WorkbenchError("no conversation \(conversation.rawValue) to claim")
            }
            if holder == identity.account { return .alreadyYours }
            if let holder, !takeOver { return .heldBy(holder) }
            try await tx.run("""
                UPDATE conversation SET assigned_to = \(identity.account), assigned_at = \(now) WHERE id = \(conversation.rawValue)
                """)
            try await tx.audit(.claim, by: identity, conversation: conversation, detail: AuditDetail(takenFrom: holder), at: now)
            return .claimed
        }
    }

    public func release(_ conversation: ConversationID, at now: Int64) async throws -> Bool {
        let identity = self.identity
        return try await store.transaction { tx in
            guard try await tx.returnsRow("""
                UPDATE conversation SET assigned_to = NULL, assigned_at = NULL
                WHERE id = \(conversation.rawValue) AND assigned_to = \(identity.account) RETURNING 1
                """) else { return false }
            try await tx.audit(.release, by: identity, conversation: conversation, detail: AuditDetail(), at: now)
            return true
        }
    }

    public func resolve(_ conversation: ConversationID, at now: Int64) async throws {
        let identity = self.identity
        try await store.transaction { tx in
            guard try await tx.returnsRow("""
                UPDATE conversation SET resolved_at = \(now) WHERE id = \(conversation.rawValue) RETURNING 1
                """) else { return }
            try await tx.audit(.resolve, by: identity, conversation: conversation, detail: AuditDetail(), at: now)
        }
    }

    public func reopen(_ conversation: ConversationID, at now: Int64) async throws {
        let identity = self.identity
        try await store.transaction { tx in
            guard try await tx.returnsRow("""
                UPDATE conversation SET resolved_at = NULL WHERE id = \(conversation.rawValue) AND resolved_at IS NOT NULL
                RETURNING 1
                """) else { return }
            try await tx.audit(.reopen, by: identity, conversation: conversation, detail: AuditDetail(), at: now)
        }
    }

    public func noteTyping(in conversation: ConversationID, until: Int64) async throws {
        let agent = identity.account
        try await store.transaction { tx in
            try await tx.run("""
                INSERT INTO agent_typing (conversation_id, agent, until_ms) VALUES (\(conversation.rawValue), \(agent), \(until))
                ON CONFLICT (conversation_id, agent) DO UPDATE SET until_ms = excluded.until_ms
                """)
        }
    }

    public func stopTyping(in conversation: ConversationID?) async throws {
        let agent = identity.account
        try await store.transaction { tx in
            if let conversation {
                try await tx.run("DELETE FROM agent_typing WHERE agent = \(agent) AND conversation_id = \(conversation.rawValue)")
            } else {
                try await tx.run("DELETE FROM agent_typing WHERE agent = \(agent)")
            }
        }
    }

    public func toggleLabel(_ label: String, on conversation: ConversationID, at now: Int64) async throws -> Bool {
        if let problem = LabelName.validate(label) { throw WorkbenchError(problem) }
        let identity = self.identity
        return try await store.transaction { tx in
            // One toggle at a time per conversation, as SQLite's single writer has it: two
            // agents toggling at once take turns instead of colliding on the key.
            guard try await tx.returnsRow("SELECT 1 FROM conversation WHERE id = \(conversation.rawValue) FOR UPDATE") else {
                throw WorkbenchError("no conversation \(conversation.rawValue) to label")
            }
            try await tx.run("""
                INSERT INTO label (name, created_by, created_at) VALUES (\(label), \(identity.account), \(now))
                ON CONFLICT DO NOTHING
                """)
            guard let (labelID, name) = try await tx.row("""
                SELECT id, name FROM label WHERE wabox_nocase(name) = wabox_nocase(\(label))
                """, read: { try $0.decode((Int64, String).self) }) else {
                throw WorkbenchError("label \(label) could not be made")
            }
            if try await tx.returnsRow("""
                DELETE FROM conversation_label WHERE label_id = \(labelID) AND conversation_id = \(conversation.rawValue)
                RETURNING 1
                """) {
                try await tx.audit(.labelRemove, by: identity, conversation: conversation, detail: AuditDetail(label: name),
                                   at: now)
                return false
            }
            guard try await tx.returnsRow("""
                INSERT INTO conversation_label (label_id, conversation_id, last_activity_at, added_by, added_at)
                SELECT \(labelID), id, last_activity_at, \(identity.account), \(now) FROM conversation
                WHERE id = \(conversation.rawValue)
                RETURNING 1
                """) else { throw WorkbenchError("no conversation \(conversation.rawValue) to label") }
            try await tx.audit(.labelAdd, by: identity, conversation: conversation, detail: AuditDetail(label: name), at: now)
            return true
        }
    }

    public func addNote(to conversation: ConversationID, text: String, at now: Int64) async throws -> ConversationNote {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw WorkbenchError("the note is empty: type the words, then Enter") }
        let identity = self.identity
        let kept = PostgresText.safe(text)
        return try await store.transaction { tx in
            guard let id = try await tx.int64("""
                INSERT INTO note (conversation_id, agent, text, created_at)
                VALUES (\(conversation.rawValue), \(identity.account), \(kept), \(now)) RETURNING id
                """) else { throw PostgresStoreError("PostgreSQL stored a note but returned no id: report this") }
            try await tx.audit(.note, by: identity, conversation: conversation, detail: AuditDetail(text: text, noteID: id),
                               at: now)
            return ConversationNote(id: id, conversationID: conversation, agent: identity.account, text: kept, createdAt: now)
        }
    }
}

extension Transaction {
    /// One entry of the audit trail, in the transaction of what it records (as SQLite's).
    func audit(_ action: AuditAction, by identity: AgentIdentity, conversation: ConversationID?, detail: AuditDetail,
               at now: Int64) async throws {
        try await run("""
            INSERT INTO audit (at, account, display_name, action, conversation_id, contact_wa_id, contact_user_id, detail)
            SELECT \(now), \(identity.account), \(identity.displayName)::text, \(action.rawValue), \(conversation?.rawValue)::bigint,
                   (SELECT c.wa_id FROM conversation cv JOIN contact c ON c.id = cv.contact_id WHERE cv.id = \(conversation?.rawValue)::bigint),
                   (SELECT c.user_id FROM conversation cv JOIN contact c ON c.id = cv.contact_id WHERE cv.id = \(conversation?.rawValue)::bigint),
                   \(PostgresText.safe(detail.json))
            """)
    }
}

// MARK: - Canned replies

extension PostgresScreenStore: CannedReplyStore {
    public func cannedReplies() async throws -> [CannedReply] {
        try await store.readOnly { tx in
            try await tx.rows(#"SELECT name, text FROM canned_reply ORDER BY wabox_nocase(name) COLLATE "C""#) {
                let (name, text) = try $0.decode((String, String).self)
                return CannedReply(name: name, text: text)
            }
        }
    }

    public func saveCannedReply(_ reply: CannedReply, at now: Int64) async throws -> Bool {
        if let problem = CannedReply.validate(name: reply.name) { throw WorkbenchError(problem) }
        guard !reply.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw WorkbenchError("the text of reply \(reply.name) is empty: give the words to send")
        }
        let identity = self.identity, text = PostgresText.safe(reply.text)
        return try await store.transaction { tx in
            // As SQLite's NOCASE key: a name differing only in case is the same reply, and keeps its first spelling.
            let existed = try await tx.returnsRow("""
                UPDATE canned_reply SET text = \(text), created_by = \(identity.account), updated_at = \(now)
                WHERE wabox_nocase(name) = wabox_nocase(\(reply.name)) RETURNING 1
                """)
            if !existed {
                try await tx.run("""
                    INSERT INTO canned_reply (name, text, created_by, updated_at)
                    VALUES (\(reply.name), \(text), \(identity.account), \(now))
                    """)
            }
            try await tx.audit(existed ? .replyEdit : .replyAdd, by: identity, conversation: nil,
                               detail: AuditDetail(text: reply.text, reply: reply.name), at: now)
            return existed
        }
    }

    public func removeCannedReply(named name: String, at now: Int64) async throws -> Bool {
        let identity = self.identity
        return try await store.transaction { tx in
            guard let (removed, text) = try await tx.row("""
                DELETE FROM canned_reply WHERE wabox_nocase(name) = wabox_nocase(\(name)) RETURNING name, text
                """, read: { try $0.decode((String, String).self) }) else { return false }
            try await tx.audit(.replyRemove, by: identity, conversation: nil, detail: AuditDetail(text: text, reply: removed),
                               at: now)
            return true
        }
    }
}

/// A file copied from the shared inbox into this host's media folder: whole or not at all.
enum MediaCopy {
    static func write(_ bytes: Data, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let temporary = path + ".part-\(UUID().uuidString.prefix(8))"
        guard FileManager.default.createFile(atPath: temporary, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
            throw PostgresStoreError("cannot write \(temporary): check that the media folder \(folder) is writable")
        }
        guard rename(temporary, path) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw PostgresStoreError("cannot rename \(temporary) to \(path)")
        }
    }
}
