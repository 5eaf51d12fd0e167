import Foundation

// What every store's search promises (DESIGN.md, "Search"): the same messages and the same
// conversations for the same inbox, whichever store holds it. The screen's richer queries
// (pages, `~` terms, per-agent unread) build on these rules; the conformance suite holds
// both stores to them.

/// A message that matched a search, named as the inbox snapshot names rows.
public struct SearchHit: Sendable, Hashable, Codable {
    /// nil for an outbound message not yet accepted (then `localID` names it).
    public var wamid: String?
    public var localID: String?
    /// The conversation's number and customer.
    public var phoneNumberID: String
    public var contactWaID: String?
    /// About ten words around the match.
    public var snippet: String

    public init(wamid: String?, localID: String?, phoneNumberID: String, contactWaID: String?, snippet: String) {
        self.wamid = wamid
        self.localID = localID
        self.phoneNumberID = phoneNumberID
        self.contactWaID = contactWaID
        self.snippet = snippet
    }
}

/// A conversation named by its number and customer.
public struct ConversationKey: Sendable, Hashable, Codable, CustomStringConvertible {
    public var phoneNumberID: String
    public var contactWaID: String?
    public var contactUserID: String?

    public init(phoneNumberID: String, contactWaID: String?, contactUserID: String?) {
        self.phoneNumberID = phoneNumberID
        self.contactWaID = contactWaID
        self.contactUserID = contactUserID
    }

    public var description: String { "\(contactWaID ?? contactUserID ?? "?") on \(phoneNumberID)" }
}

public protocol SearchStore: Sendable {
    /// Messages whose text or caption holds every word of `query` as the start of a word
    /// (`SearchText.tokens`; accents and case ignored), newest first, at most `limit`; a
    /// message the customer deleted only with `includeDeleted`. A message is found as soon
    /// as it is committed, indexed yet or not.
    func searchHits(_ query: String, limit: Int, includeDeleted: Bool) async throws -> [SearchHit]

    /// Conversations whose contact's key (name, username, number, user id:
    /// `SearchText.contactKey`) contains `SearchText.contactNeedle(typed)`, by last activity,
    /// newest first, at most `limit`.
    func conversations(withContactMatching typed: String, limit: Int) async throws -> [ConversationKey]
}
