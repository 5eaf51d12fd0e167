import InboxCore
import InboxStore

// What a commit changes on the screen, from the change feed: the list's rows of the
// conversations it names (patched in where a full reload would put them), the open thread
// if its conversation changed, the workbench if canned replies or labels did. Nothing else
// is read again.

/// A point reload of the list: the conversations the feed named, read under the list's
/// filter, and where the list stood when it was asked for.
public struct ConversationPatch: Sendable, Equatable {
    public var changed: Set<ConversationID>
    public var filter: String
    public var unreadOnly: Bool
    public var scope: ConversationScope
    /// How many rows the list holds (`AppState.conversationLimit`).
    public var limit: Int

    public init(changed: Set<ConversationID>, filter: String, unreadOnly: Bool, scope: ConversationScope, limit: Int) {
        self.changed = changed
        self.filter = filter
        self.unreadOnly = unreadOnly
        self.scope = scope
        self.limit = limit
    }

    /// The list a full reload would give, from `list` (newest first, `hasMore` when it ends
    /// before the matches do) and `rows`: those of `changed` that match now. Rows not named
    /// keep their place (their sort key did not change); the named ones are taken out and
    /// put back where they sort. A list that ends early keeps only rows up to its last one
    /// (past it, unloaded rows could come first). Nil when the result would end short of
    /// `limit` while more match: only a full reload can fill it.
    public func apply(_ rows: [ConversationSummary], to list: [ConversationSummary], hasMore: Bool)
        -> (list: [ConversationSummary], hasMore: Bool)? {
        let boundary = hasMore ? list.last?.cursor : nil
        let kept = list.filter { !changed.contains($0.id) }
        var fresh = rows.filter { changed.contains($0.id) }.sorted { $0.cursor.isNewer(than: $1.cursor) }
        if let boundary { fresh.removeAll { boundary.isNewer(than: $0.cursor) } }
        var merged: [ConversationSummary] = []
        merged.reserveCapacity(kept.count + fresh.count)
        var (i, j) = (0, 0)
        while i < kept.count || j < fresh.count {
            if j == fresh.count || (i < kept.count && kept[i].cursor.isNewer(than: fresh[j].cursor)) {
                merged.append(kept[i])
                i += 1
            } else {
                merged.append(fresh[j])
                j += 1
            }
        }
        if merged.count > limit { return (Array(merged.prefix(limit)), true) }
        if hasMore, merged.count < limit { return nil }
        return (merged, hasMore)
    }
}

extension ConversationCursor {
    /// Whether this sorts before `other` in the list (newest activity first, then id).
    func isNewer(than other: ConversationCursor) -> Bool {
        (lastActivityAt, id) > (other.lastActivityAt, other.id)
    }
}

/// Kinds that may move a conversation into, out of or within the list, whether shown or
/// not: its activity, claims, unread counts, labels, the customer's name.
let membershipKinds: Set<ChangeBatch.Kind> = [.message, .conversation, .claim, .read, .label, .contact]
/// Kinds that change what a listed row shows but never whether or where it is listed.
let rowKinds: Set<ChangeBatch.Kind> = [.status, .reaction, .media, .typing]
/// Kinds that change the open thread (its messages, notes, the customer's name).
let threadKinds: Set<ChangeBatch.Kind> = [.message, .status, .reaction, .media, .note, .contact]

/// What the screen reloads for a batch of the change feed.
func changesArrived(_ batch: ChangeBatch, _ state: inout AppState) -> [Effect] {
    // Too much, or a filter whose matches move with the clock: everything.
    guard !batch.overflow, !filterDependsOnTime(state.filter.text) else { return reduce(&state, .databaseChanged) }
    var effects: [Effect] = []
    if !(batch.conversations[.message] ?? []).isEmpty { effects += arrivalEffects(state) }
    let listed = Set(state.conversations.map(\.id))
    let changed = batch.conversations(membershipKinds).union(batch.conversations(rowKinds).intersection(listed))
    if !changed.isEmpty {
        effects.append(.patchConversations(ConversationPatch(changed: changed, filter: state.filter.text,
                                                              unreadOnly: state.unreadOnly, scope: state.scope,
                                                              limit: state.conversationLimit)))
    }
    if batch.workbench { effects.append(.loadWorkbench) }
    if let open = state.open, batch.conversations(threadKinds).contains(open.id) {
        effects.append(.loadThread(open.id, limit: threadLimit(state)))
    }
    return effects
}

/// Whether the filter has a term the clock decides (`~w`, the 24-hour window): its matches
/// change without a commit, so a point reload would keep stale ones.
func filterDependsOnTime(_ text: String) -> Bool {
    guard let filter = try? ConversationFilter.parse(text) else { return false }
    return filter.terms.contains { $0.condition == .windowOpen || $0.condition == .windowClosed }
}
