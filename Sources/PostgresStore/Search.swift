import Foundation
import InboxCore
import Logging
import PostgresNIO
import StoreContract

// Search on PostgreSQL (StoreContract.SearchStore) with the results SQLite's gives:
//
// - Messages: a `tsvector` per message (GIN index), built from wabox's own words
//   (`SearchText.tokens`) with `array_to_tsvector`, not by a text search configuration:
//   PostgreSQL's parser decides what a letter is by the database's locale, and would split
//   (or drop) words differently from SQLite's index. A query is a prefix query on the same
//   words (`'word':* & …`).
// - Contacts: the folded key (`SearchText.contactKey`) in a column with a trigram index
//   (`pg_trgm`), which answers `LIKE '%…%'`.
//
// Both are written by the search indexer behind the applier, in Swift, the way SQLite's
// fold function writes them; a row written or edited since (its search column NULL, reset
// by a trigger) is scanned and matched the same way, so it is found as soon as committed.

extension PostgresStore {
    static let searchMigration = Migration(version: 7, name: "search", statements: [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        """
        -- NULL until the search indexer has written the words (and again after an edit).
        ALTER TABLE message ADD COLUMN search_words tsvector
        """,
        "CREATE INDEX message_search_words ON message USING gin (search_words)",
        "CREATE INDEX message_search_pending ON message (id) WHERE search_words IS NULL",
        """
        ALTER TABLE contact ADD COLUMN search_key text
        """,
        "CREATE INDEX contact_search_key ON contact USING gin (search_key gin_trgm_ops)",
        "CREATE INDEX contact_search_pending ON contact (id) WHERE search_key IS NULL",
        """
        -- A text that changes is searched for by its new words: back to the indexer.
        CREATE FUNCTION wabox_search_stale() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'message' THEN
                NEW.search_words := NULL;
            ELSE
                NEW.search_key := NULL;
            END IF;
            RETURN NEW;
        END
        $$
        """,
        """
        CREATE TRIGGER message_search_stale BEFORE UPDATE OF text, caption ON message FOR EACH ROW
        WHEN (NEW.text IS DISTINCT FROM OLD.text OR NEW.caption IS DISTINCT FROM OLD.caption)
        EXECUTE FUNCTION wabox_search_stale()
        """,
        """
        CREATE TRIGGER contact_search_stale BEFORE UPDATE OF name, username, wa_id, user_id ON contact FOR EACH ROW
        WHEN (NEW.name IS DISTINCT FROM OLD.name OR NEW.username IS DISTINCT FROM OLD.username
              OR NEW.wa_id IS DISTINCT FROM OLD.wa_id OR NEW.user_id IS DISTINCT FROM OLD.user_id)
        EXECUTE FUNCTION wabox_search_stale()
        """,
        // The indexer writing a message's words is no change a screen shows: the change
        // feed's message trigger leaves that update out (the words go from NULL to a value
        // and nothing else moves; an edit sets them back to NULL, and is noted).
        "DROP TRIGGER change_message ON message",
        """
        CREATE TRIGGER change_message AFTER INSERT OR DELETE ON message
        FOR EACH ROW EXECUTE FUNCTION wabox_change_message()
        """,
        """
        CREATE TRIGGER change_message_update AFTER UPDATE ON message FOR EACH ROW
        WHEN (NEW.search_words IS NULL OR OLD.search_words IS NOT DISTINCT FROM NEW.search_words)
        EXECUTE FUNCTION wabox_change_message()
        """,
    ])

    /// Rows the indexer writes per pass, of each kind.
    public static let searchIndexBatch = 1024

    /// Writes the search words of up to `limit` messages and the keys of up to `limit`
    /// contacts that have none yet; returns how many rows it wrote. The applier runs it
    /// after each batch.
    @discardableResult
    public func indexSearchText(limit: Int = searchIndexBatch) async throws -> Int {
        try await transaction { tx in
            let messages = try await tx.rows("""
                SELECT id, text, caption FROM message WHERE search_words IS NULL ORDER BY id LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
                """) { try $0.decode((Int64, String?, String?).self) }
            if !messages.isEmpty {
                let ids = messages.map(\.0)
                let words = messages.map { Self.searchWords(text: $0.1, caption: $0.2).joined(separator: " ") }
                try await tx.run("""
                    UPDATE message m SET search_words = array_to_tsvector(string_to_array(w.words, ' ', ''))
                    FROM unnest(\(ids)::bigint[], \(words)::text[]) AS w (id, words)
                    WHERE m.id = w.id
                    """)
            }
            let contacts = try await tx.rows("""
                SELECT id, name, username, wa_id, user_id FROM contact WHERE search_key IS NULL ORDER BY id LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
                """) { try $0.decode((Int64, String?, String?, String?, String?).self) }
            if !contacts.isEmpty {
                let ids = contacts.map(\.0)
                let keys = contacts.map { SearchText.contactKey(name: $0.1, username: $0.2, waID: $0.3, userID: $0.4) }
                try await tx.run("""
                    UPDATE contact c SET search_key = k.key
                    FROM unnest(\(ids)::bigint[], \(keys)::text[]) AS k (id, key)
                    WHERE c.id = k.id
                    """)
            }
            return messages.count + contacts.count
        }
    }

    /// A message's words: its text's and its caption's. (A NUL, kept as U+FFFD in these
    /// columns, separates words as SQLite's fold makes it a space.)
    static func searchWords(text: String?, caption: String?) -> [String] {
        SearchText.tokens([text, caption].compactMap { $0 }.joined(separator: " ")).map(lexeme)
    }

    /// A tsvector keeps a lexeme's length in 11 bits, and `array_to_tsvector` checks none:
    /// a longer word (a pasted key, a line of one letter) would be stored cut at its length
    /// mod 2,048. Such a word is kept by its first 2,000 bytes, and a query word the same
    /// way, so a search for its start finds it.
    static let longestLexeme = 2_000

    static func lexeme(_ word: Substring) -> String {
        guard word.utf8.count > longestLexeme else { return String(word) }
        var kept = ""
        var bytes = 0
        for character in word {
            bytes += character.utf8.count
            if bytes > longestLexeme { break }
            kept.append(character)
        }
        return kept
    }
}

extension PostgresStore: SearchStore {
    /// The most rows not indexed yet that a search scans, newest first: the indexer keeps
    /// up with the applier, so there are seldom more than a batch's.
    static let pendingScanLimit = 4096

    public func searchHits(_ query: String, limit: Int, includeDeleted: Bool) async throws -> [SearchHit] {
        let tokens = SearchText.tokens(query)
        guard !tokens.isEmpty else { return [] }
        // Quoted lexemes, taken as they are: no configuration normalizes them again.
        let tsquery = tokens.map { "'" + Self.lexeme($0) + "':*" }.joined(separator: " & ")
        typealias Columns = (Int64, Int64, String?, String?, String?, String?, String, String?, Int64?, String)
        let columns = """
            SELECT m.id, m.timestamp, m.wamid, m.local_id, m.text, m.caption, cv.phone_number_id, c.wa_id,
                   m.deleted_at, m.content
            FROM message m JOIN conversation cv ON cv.id = m.conversation_id JOIN contact c ON c.id = cv.contact_id
            """
        let rows = try await readOnly { tx in
            let indexed = try await tx.rows("""
                \(unescaped: columns) WHERE m.search_words @@ \(tsquery)::tsquery ORDER BY m.timestamp DESC, m.id DESC LIMIT \(limit)
                """) { try $0.decode(Columns.self) }
            // Not indexed yet: decided by the same word test, in Swift.
            let pending = try await tx.rows("""
                \(unescaped: columns) WHERE m.search_words IS NULL ORDER BY m.id DESC LIMIT \(Self.pendingScanLimit)
                """) { try $0.decode(Columns.self) }
            return indexed + pending
        }
        var hits: [(id: Int64, timestamp: Int64, hit: SearchHit, deleted: Bool)] = []
        for (id, timestamp, wamid, localID, text, caption, phone, waID, deletedAt, content) in rows {
            var searched = [text, caption].compactMap { $0 }.joined(separator: " ")
            guard var snippet = SearchText.snippet(searched, tokens: tokens) else { continue }
            if searched.contains("\u{FFFD}"), let faithful = try? StoredJSON.decode(MessageContent.self, from: content) {
                // A NUL the text column could not keep: the snippet shows the text as written.
                searched = [faithful.text, faithful.caption].compactMap { $0 }.joined(separator: " ")
                snippet = SearchText.snippet(searched, tokens: tokens) ?? snippet
            }
            hits.append((id, timestamp, SearchHit(wamid: wamid, localID: localID, phoneNumberID: phone, contactWaID: waID,
                                                  snippet: snippet), deletedAt != nil))
        }
        hits.sort { ($0.timestamp, $0.id) > ($1.timestamp, $1.id) }
        return hits.prefix(limit).filter { includeDeleted || !$0.deleted }.map(\.hit)
    }

    public func conversations(withContactMatching typed: String, limit: Int) async throws -> [ConversationKey] {
        let needle = SearchText.contactNeedle(typed)
        let pattern = "%" + SearchText.escapeLike(needle) + "%"
        typealias Columns = (Int64, Int64, String, String?, String?, String?, String?, String?)
        let columns = """
            SELECT cv.id, cv.last_activity_at, cv.phone_number_id, c.wa_id, c.user_id, c.search_key, c.name, c.username
            FROM conversation cv JOIN contact c ON c.id = cv.contact_id
            """
        let rows = try await readOnly { tx in
            let indexed = try await tx.rows("""
                \(unescaped: columns) WHERE c.search_key LIKE \(pattern) ESCAPE '\\' ORDER BY cv.last_activity_at DESC, cv.id DESC LIMIT \(limit)
                """) { try $0.decode(Columns.self) }
            let pending = try await tx.rows("""
                \(unescaped: columns) WHERE c.search_key IS NULL ORDER BY cv.id DESC LIMIT \(Self.pendingScanLimit)
                """) { try $0.decode(Columns.self) }
            return indexed + pending
        }
        var found: [(activity: Int64, id: Int64, key: ConversationKey)] = []
        for (id, activity, phone, waID, userID, key, name, username) in rows {
            // A contact not indexed yet is matched on the key it will get.
            let searched = key ?? SearchText.contactKey(name: name, username: username, waID: waID, userID: userID)
            guard needle.isEmpty || searched.contains(needle) else { continue }
            found.append((activity, id, ConversationKey(phoneNumberID: phone, contactWaID: waID, contactUserID: userID)))
        }
        found.sort { ($0.activity, $0.id) > ($1.activity, $1.id) }
        return found.prefix(limit).map(\.key)
    }
}
