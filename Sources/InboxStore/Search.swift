import Foundation
import GRDB
import InboxCore

/// `SearchText.fold`, as InboxStore has long called it.
func searchFold(_ text: String) -> String { SearchText.fold(text) }

extension Schema {
    /// `wabox_fold(text)`: `searchFold` for SQL, registered on every connection.
    /// A blob argument is read as UTF-8 by its length (text passed as a `String` would end at
    /// its first U+0000), and its NULs fold to spaces: SQLite's LIKE stops at a NUL, and the
    /// full-text index takes one for a separator too.
    static let foldFunction = DatabaseFunction("wabox_fold", argumentCount: 1, pure: true) { values in
        if case .blob(let bytes) = values[0].storage {
            return searchFold(String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self))
        }
        guard let text = String.fromDatabaseValue(values[0]) else { return nil }
        return searchFold(text)
    }

    /// The expression that builds a contact's search key from its columns.
    static let searchKeySQL = """
        wabox_fold(coalesce(name, '') || ' ' || coalesce(username, '') || ' ' || coalesce(wa_id, '') || ' ' || coalesce(user_id, ''))
        """

    static func registerSearch(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3: contact search key and message full-text search") { db in
            try db.execute(sql: """
                CREATE INDEX message_waiting ON message(status) WHERE direction = 'out' AND status = 'pending';
                ALTER TABLE contact ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
                UPDATE contact SET search_key = \(searchKeySQL);
                CREATE TRIGGER contact_search_key_insert AFTER INSERT ON contact BEGIN
                    UPDATE contact SET search_key = \(searchKeySQL) WHERE id = new.id;
                END;
                CREATE TRIGGER contact_search_key_update AFTER UPDATE OF name, username, wa_id, user_id ON contact
                WHEN new.name IS NOT old.name OR new.username IS NOT old.username
                     OR new.wa_id IS NOT old.wa_id OR new.user_id IS NOT old.user_id
                BEGIN
                    UPDATE contact SET search_key = \(searchKeySQL) WHERE id = new.id;
                END;

                CREATE VIRTUAL TABLE message_fts USING fts5(
                    text, caption, content='message', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
                INSERT INTO message_fts(message_fts) VALUES ('rebuild');
                CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
                    INSERT INTO message_fts(rowid, text, caption) VALUES (new.id, new.text, new.caption);
                END;
                CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
                    INSERT INTO message_fts(message_fts, rowid, text, caption) VALUES ('delete', old.id, old.text, old.caption);
                END;
                CREATE TRIGGER message_fts_update AFTER UPDATE OF text, caption ON message BEGIN
                    INSERT INTO message_fts(message_fts, rowid, text, caption) VALUES ('delete', old.id, old.text, old.caption);
                    INSERT INTO message_fts(rowid, text, caption) VALUES (new.id, new.text, new.caption);
                END;
                """)
        }
        // The filter looks for a substring anywhere in the key: without an index that is a
        // scan of every contact on each key press. A trigram index answers it directly.
        migrator.registerMigration("v4: contact trigram index") { db in
            try db.execute(sql: """
                CREATE VIRTUAL TABLE contact_trigram USING fts5(
                    search_key, content='contact', content_rowid='id', tokenize='trigram');
                INSERT INTO contact_trigram(contact_trigram) VALUES ('rebuild');
                -- search_key starts empty and is set by an update, so updates and deletes suffice.
                CREATE TRIGGER contact_trigram_update AFTER UPDATE OF search_key ON contact BEGIN
                    INSERT INTO contact_trigram(contact_trigram, rowid, search_key)
                        SELECT 'delete', old.id, old.search_key WHERE old.search_key <> '';
                    INSERT INTO contact_trigram(rowid, search_key) SELECT new.id, new.search_key WHERE new.search_key <> '';
                END;
                CREATE TRIGGER contact_trigram_delete AFTER DELETE ON contact BEGIN
                    INSERT INTO contact_trigram(contact_trigram, rowid, search_key)
                        SELECT 'delete', old.id, old.search_key WHERE old.search_key <> '';
                END;
                """)
        }
    }
}

extension InboxDatabase {
    /// Messages whose text or caption contain every word of `query` (word prefixes match;
    /// accents and case ignored), newest first.
    ///
    /// Messages the indexer has not reached yet (those above `message_fts_progress`, about
    /// the last second's under load) are scanned and matched the same way, in the same
    /// snapshot, so a message is found as soon as it is committed.
    ///
    /// Messages the customer deleted are left out unless `includeDeleted` (`show_deleted`).
    public func searchMessages(_ query: String, limit: Int = 50, includeDeleted: Bool = false) throws -> [MessageHit] {
        let words = query.split(whereSeparator: { $0.isWhitespace }).map { word in
            "\"" + word.replacingOccurrences(of: "\"", with: "\"\"") + "\"*"
        }
        guard !words.isEmpty else { return [] }
        let tokens = Self.searchTokens(query)
        return try writer.read { db in
            // Newest by row id, which FTS5 walks backwards and stops after `limit`; ordering
            // by timestamp made it fetch and sort every match (a second for a one-letter
            // prefix under load). Ids follow arrival, so the two orders rarely differ.
            var found = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT m.id, m.conversation_id, m.timestamp, f.snippet
                FROM (SELECT rowid, CAST(snippet(message_fts, -1, '', '', '…', 10) AS BLOB) AS snippet FROM message_fts
                      WHERE message_fts MATCH ? ORDER BY rowid DESC LIMIT ?) f
                JOIN message m ON m.id = f.rowid
                """), arguments: [words.joined(separator: " "), limit]).map { row in
                (id: row["id"] as Int64, conversationID: row["conversation_id"] as Int64,
                 timestamp: row["timestamp"] as Int64, snippet: Self.wholeText(row, "snippet") ?? "")
            }
            if !tokens.isEmpty {
                // LIKE narrows the scan to candidates; the word-prefix test decides.
                let condition = Array(repeating: "wabox_fold(CAST(coalesce(text, '') || ' ' || coalesce(caption, '') AS BLOB)) LIKE ? ESCAPE '\\'",
                                      count: tokens.count).joined(separator: " AND ")
                let pending = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT id, conversation_id, timestamp, CAST(text AS BLOB) AS text, CAST(caption AS BLOB) AS caption
                    FROM message
                    WHERE id > (SELECT indexed_through FROM message_fts_progress) AND \(condition)
                    """), arguments: StatementArguments(tokens.map { "%" + Self.escapeLike(String($0)) + "%" }))
                for row in pending {
                    let text = [Self.wholeText(row, "text"), Self.wholeText(row, "caption")].compactMap { $0 }
                        .joined(separator: " ")
                    guard let snippet = Self.pendingSnippet(text, tokens: tokens) else { continue }
                    found.append((id: row["id"], conversationID: row["conversation_id"], timestamp: row["timestamp"],
                                  snippet: snippet))
                }
            }
            found.sort { ($0.timestamp, $0.id) > ($1.timestamp, $1.id) }
            found = Array(found.prefix(limit))
            var conversations: [Int64: ConversationSummary] = [:]
            return try found.compactMap { hit in
                if conversations[hit.conversationID] == nil {
                    conversations[hit.conversationID] = try Self.summaries("WHERE cv.id = ?", arguments: [hit.conversationID], in: db).first
                }
                guard let conversation = conversations[hit.conversationID],
                      let message = try Self.message(rowID: hit.id, in: db),
                      includeDeleted || message.deletedAt == nil else { return nil }
                // FTS5 writes its snippet through printf, which drops a NUL and joins the words
                // around it: such a text gets a snippet of our own, NUL kept.
                let text = [message.content.text, message.content.caption].compactMap { $0 }.joined(separator: " ")
                if text.unicodeScalars.contains("\u{0}"), let whole = Self.pendingSnippet(text, tokens: tokens) {
                    return MessageHit(conversation: conversation, message: message, snippet: whole)
                }
                return MessageHit(conversation: conversation, message: message, snippet: hit.snippet)
            }
        }
    }

    static func searchTokens(_ text: String) -> [Substring] { SearchText.tokens(text) }

    /// For a message not indexed yet: nil unless every query token starts one of its words.
    static func pendingSnippet(_ text: String, tokens: [Substring]) -> String? { SearchText.snippet(text, tokens: tokens) }

    static func escapeLike(_ text: String) -> String { SearchText.escapeLike(text) }
}

extension InboxDatabase: SearchStore {
    public func searchHits(_ query: String, limit: Int, includeDeleted: Bool) async throws -> [SearchHit] {
        try searchMessages(query, limit: limit, includeDeleted: includeDeleted).map { hit in
            SearchHit(wamid: hit.message.wamid?.rawValue, localID: hit.message.localID,
                      phoneNumberID: hit.conversation.business.phoneNumberID.rawValue,
                      contactWaID: hit.conversation.contact.identity.waID?.rawValue, snippet: hit.snippet)
        }
    }

    public func conversations(withContactMatching typed: String, limit: Int) async throws -> [ConversationKey] {
        // The plain text of a filter: `~` starts a term there, which this contract leaves out.
        let filter = ConversationFilter(text: typed, terms: [])
        return try conversations(filter: filter, limit: limit).items.map { summary in
            ConversationKey(phoneNumberID: summary.business.phoneNumberID.rawValue,
                            contactWaID: summary.contact.identity.waID?.rawValue,
                            contactUserID: summary.contact.identity.userID?.rawValue)
        }
    }
}
