import InboxCore

// What the inbox screen (InboxTUI) asks of a store: every read it draws from and every
// write an agent's key makes. SQLite's InboxDatabase implements it; so does PostgreSQL's
// store, so that a screen on any host works one shared inbox.
//
// Reads are synchronous: the screen's loop asks between two keys and draws the answer in
// the same turn (SQLite answers in microseconds from its own file; PostgreSQL's store waits
// for the server, within a bound, and throws when it is unreachable). Writes are async and
// run behind the screen, which shows their outcome when it comes.

/// A read that failed because the store cannot be reached (a shared database down): the
/// status bar says so once, instead of each failed read saying it again.
public protocol StoreUnreachableError: Error {}

/// The screen's view of an inbox.
public protocol InboxScreenStore: AnyObject, Sendable {
    // MARK: Change signal and feed

    /// A number that changes with every commit, by this process or any other: the screen
    /// looks at it each turn and reads the change feed when it moved.
    var changeCount: Int { get }
    /// What changed after `sequence` (at most `limit` feed rows).
    func changes(after sequence: Int64, limit: Int) throws -> ChangeBatch
    /// The newest change feed sequence.
    func latestChangeSequence() throws -> Int64

    // MARK: The list

    /// One bounded step of the list's walk for a filter.
    func conversationStep(filter: ConversationFilter, unreadOnly: Bool, scope: ConversationScope,
                          after cursor: ConversationCursor?, limit: Int, viewer: Viewer, now: Int64?,
                          window: Int?) throws -> ConversationListStep
    /// Those of `ids` that the filter selects, as the list shows them.
    func conversations(among ids: Set<ConversationID>, filter: ConversationFilter, unreadOnly: Bool,
                       scope: ConversationScope, viewer: Viewer, now: Int64?) throws -> [ConversationSummary]

    // MARK: A thread

    /// The newest `limit` messages before `cursor`, newest first.
    func messages(in conversation: ConversationID, before cursor: MessageCursor?, limit: Int) throws
        -> Page<StoredMessage, MessageCursor>
    /// The messages the given ones reply to.
    func quotedMessages(for messages: [StoredMessage]) throws -> [MessageID: StoredMessage]
    func notes(in conversation: ConversationID) throws -> [ConversationNote]
    /// The customer's newest message there, which a read receipt names.
    func latestInboundMessage(in conversation: ConversationID) throws -> StoredMessage?
    func searchMessages(_ query: String, limit: Int, includeDeleted: Bool) throws -> [MessageHit]

    // MARK: The workbench

    /// The newest message row's id: arrivals are announced after it.
    func latestMessageRowID() throws -> Int64
    /// Customer messages after `rowID`, for the bell and the notification.
    func arrivals(after rowID: Int64, limit: Int) throws -> (arrivals: [Arrival], through: Int64)
    func contactDetails(of conversation: ConversationID, viewer: Viewer) throws -> ContactDetails?
    func rawWebhook(forMessage rowID: Int64) throws -> RawWebhookLookup
    /// Agents' display names by account name.
    func displayNames() throws -> [String: String]
    func labels() throws -> [String]
    func cannedReplies() throws -> [CannedReply]

    // MARK: Writes

    func enqueueOutbound(in conversation: ConversationID, content: MessageContent, replyTo: MessageID?,
                         localID: String, at timestamp: Int64) async throws -> StoredMessage
    func enqueueTemplate(in conversation: ConversationID, template: TemplateMessage, displayText: String?,
                         localID: String, at timestamp: Int64) async throws -> StoredMessage
    func enqueueReaction(in conversation: ConversationID, to target: MessageID, emoji: String, localID: String,
                         at timestamp: Int64) async throws -> StoredMessage
    func enqueueButtons(in conversation: ConversationID, _ buttons: ReplyButtons, replyTo: MessageID?,
                        localID: String, at timestamp: Int64) async throws -> StoredMessage
    /// Sends again a reply whose fate was unknown, on the agent's word.
    func resendUncertain(localID: String, atMilliseconds now: Int64) async throws
    /// The agent (or, `asTeam`, the team) has read the conversation.
    func markRead(_ conversation: ConversationID, asTeam: Bool) async throws
    func claim(_ conversation: ConversationID, takeOver: Bool, at now: Int64) async throws -> ClaimOutcome
    /// Gives a claim back; false when it was not the agent's.
    func release(_ conversation: ConversationID, at now: Int64) async throws -> Bool
    func resolve(_ conversation: ConversationID, at now: Int64) async throws
    func reopen(_ conversation: ConversationID, at now: Int64) async throws
    /// The agent is typing there until `until` (Unix milliseconds).
    func noteTyping(in conversation: ConversationID, until: Int64) async throws
    /// The agent stopped typing there (or, nil, anywhere).
    func stopTyping(in conversation: ConversationID?) async throws
    /// Puts the label on or takes it off; true when it is on now.
    func toggleLabel(_ label: String, on conversation: ConversationID, at now: Int64) async throws -> Bool
    func addNote(to conversation: ConversationID, text: String, at now: Int64) async throws -> ConversationNote
}

/// The team's canned replies, for `wabox replies` on either store; each change is the
/// store's account's, in the audit trail.
public protocol CannedReplyStore: Sendable {
    func cannedReplies() async throws -> [CannedReply]
    /// Adds the reply, or replaces the text of the one with its name (case ignored).
    /// Returns whether one was replaced.
    func saveCannedReply(_ reply: CannedReply, at now: Int64) async throws -> Bool
    /// Removes the reply by that name (case ignored); false when there is none.
    func removeCannedReply(named name: String, at now: Int64) async throws -> Bool
}
