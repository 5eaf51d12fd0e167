import Foundation
import GRDB
import InboxCore

/// Case- and accent-insensitive form used to match contacts: `Amélie` → `amelie`.
func searchFold(_ text: String) -> String {
    text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
}

extension Schema {
    /// `wabox_fold(text)`: `searchFold` for SQL, registered on every connection.
    static let foldFunction = DatabaseFunction("wabox_fold", argumentCount: 1, pure: true) { values in
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

/// A message that matched a full-text search.
public struct MessageHit: Sendable, Equatable {
    public var conversation: ConversationSummary
    public var message: StoredMessage
    /// The matching part of the text, shortened.
    public var snippet: String
}

extension InboxDatabase {
    /// Conversations whose contact matches `filter` (name, username, number or user id;
    /// case and accents ignored), by last activity, keyset-paginated like `conversations`.
    public func conversations(matching filter: String, unreadOnly: Bool = false, scope: ConversationScope = .all,
                              after cursor: ConversationCursor? = nil, limit: Int = 50,
                              viewer: Viewer = .team) throws -> Page<ConversationSummary, ConversationCursor> {
        var needle = searchFold(filter.trimmingCharacters(in: .whitespaces))
        // "+33 6 12" finds 33612…: digits typed with spaces or a plus sign.
        if !needle.isEmpty, needle.allSatisfy({ $0.isNumber || $0 == " " || $0 == "+" || $0 == "-" }) {
            needle = needle.filter(\.isNumber)
        }
        return try writer.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if !needle.isEmpty {
                let (condition, argument) = try Self.contactCondition(needle, in: db)
                conditions.append(condition)
                arguments += [argument]
            }
            if unreadOnly { conditions.append("viewer_unread > 0") }
            switch scope {
            case .all: break
            case .mine:
                conditions.append("cv.assigned_to = ? AND cv.resolved_at IS NULL")
                arguments += [viewer.agent]
            case .unassigned:
                conditions.append("cv.assigned_to IS NULL AND cv.resolved_at IS NULL")
            }
            if let cursor {
                conditions.append("(cv.last_activity_at, cv.id) < (?, ?)")
                arguments += [cursor.lastActivityAt, cursor.id]
            }
            arguments += [limit + 1]
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            var items = try Self.summaries(whereClause + " ORDER BY cv.last_activity_at DESC, cv.id DESC LIMIT ?",
                                           arguments: arguments, viewer: viewer, in: db)
            let hasMore = items.count > limit
            if hasMore { items.removeLast() }
            return Page(items: items, next: hasMore ? items.last?.cursor : nil)
        }
    }

    /// How to find contacts whose search key contains `needle`. Few matches: take them
    /// from the trigram index and sort them. Many matches (or a needle under three
    /// characters): walk conversations newest first and test each key, which finds a
    /// screenful long before the end.
    private static func contactCondition(_ needle: String, in db: Database) throws -> (String, String) {
        let fewMatches = 1000
        if needle.count >= 3, !needle.contains(where: { $0 == "%" || $0 == "_" || $0 == "\\" }) {
            let pattern = "%" + needle + "%"
            let matches = try Int.fetchOne(db.cachedStatement(sql: """
                SELECT count(*) FROM (SELECT rowid FROM contact_trigram WHERE search_key LIKE ? LIMIT \(fewMatches))
                """), arguments: [pattern]) ?? 0
            if matches < fewMatches {
                return ("c.id IN (SELECT rowid FROM contact_trigram WHERE search_key LIKE ?)", pattern)
            }
        }
        return ("c.search_key LIKE ? ESCAPE '\\'", "%" + escapeLike(needle) + "%")
    }

    /// Messages whose text or caption contain every word of `query` (word prefixes match;
    /// accents and case ignored), newest first.
    public func searchMessages(_ query: String, limit: Int = 50) throws -> [MessageHit] {
        let words = query.split(whereSeparator: { $0.isWhitespace }).map { word in
            "\"" + word.replacingOccurrences(of: "\"", with: "\"\"") + "\"*"
        }
        guard !words.isEmpty else { return [] }
        return try writer.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT m.id, m.conversation_id,
                       snippet(message_fts, -1, '', '', '…', 10) AS snippet
                FROM message_fts JOIN message m ON m.id = message_fts.rowid
                WHERE message_fts MATCH ?
                ORDER BY m.timestamp DESC, m.id DESC LIMIT ?
                """, arguments: [words.joined(separator: " "), limit])
            var conversations: [Int64: ConversationSummary] = [:]
            return try rows.compactMap { row in
                let conversationID: Int64 = row["conversation_id"]
                if conversations[conversationID] == nil {
                    conversations[conversationID] = try Self.summaries("WHERE cv.id = ?", arguments: [conversationID], in: db).first
                }
                guard let conversation = conversations[conversationID],
                      let message = try Self.message(rowID: row["id"], in: db) else { return nil }
                return MessageHit(conversation: conversation, message: message, snippet: row["snippet"] ?? "")
            }
        }
    }

    private static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
