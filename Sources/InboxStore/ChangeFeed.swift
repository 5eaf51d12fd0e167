import Foundation
import GRDB
import InboxCore

// The change feed: what every commit changed that a screen shows, by conversation and
// kind, numbered. SQLite triggers fill it in the writer's own transaction, whichever
// process or code path writes, so a screen that saw the feed up to `seq` knows which rows
// to read again and which it may keep (see `InboxDatabase.changes(after:)`).

extension Schema {
    /// The table and the triggers of migration v18. A kind names what changed; the
    /// conversation is NULL for what concerns no one conversation (canned replies, a new
    /// label, an agent's display name).
    static let changeFeedSQL = """
        CREATE TABLE change (
            seq INTEGER PRIMARY KEY,
            conversation_id INTEGER,
            kind TEXT NOT NULL
        );
        -- Pruning: every 1,000th row drops what is older than the last \(InboxDatabase.changeFeedKept).
        CREATE TRIGGER change_prune AFTER INSERT ON change WHEN new.seq % 1000 = 0 BEGIN
            DELETE FROM change WHERE seq <= new.seq - \(InboxDatabase.changeFeedKept);
        END;

        -- Messages: a new one (also an agent's reaction, a call notice), a status tick, an
        -- edit, a deletion, a merge moving it.
        CREATE TRIGGER change_message_insert AFTER INSERT ON message BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.conversation_id, 'message');
        END;
        CREATE TRIGGER change_message_update AFTER UPDATE ON message BEGIN
            INSERT INTO change (conversation_id, kind)
            SELECT new.conversation_id, CASE WHEN new.status IS NOT old.status OR new.status_at IS NOT old.status_at
                                             THEN 'status' ELSE 'message' END;
            INSERT INTO change (conversation_id, kind)
            SELECT old.conversation_id, 'message' WHERE old.conversation_id != new.conversation_id;
        END;
        CREATE TRIGGER change_message_delete AFTER DELETE ON message BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (old.conversation_id, 'message');
        END;
        CREATE TRIGGER change_edit_insert AFTER INSERT ON message_edit BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'message' FROM message WHERE wamid = new.original_wamid;
        END;
        CREATE TRIGGER change_reaction_insert AFTER INSERT ON reaction BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'reaction' FROM message WHERE wamid = new.message_wamid;
        END;
        CREATE TRIGGER change_reaction_update AFTER UPDATE ON reaction BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'reaction' FROM message WHERE wamid = new.message_wamid;
        END;
        CREATE TRIGGER change_reaction_delete AFTER DELETE ON reaction BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'reaction' FROM message WHERE wamid = old.message_wamid;
        END;

        -- A reply's fate on its way out (the outbox's note), a file's download, a transcript.
        CREATE TRIGGER change_outbox_insert AFTER INSERT ON outbox BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'status' FROM message WHERE id = new.message_id;
        END;
        CREATE TRIGGER change_outbox_update AFTER UPDATE ON outbox
        WHEN new.last_error IS NOT old.last_error OR new.state IS NOT old.state BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'status' FROM message WHERE id = new.message_id;
        END;
        CREATE TRIGGER change_outbox_delete AFTER DELETE ON outbox BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'status' FROM message WHERE id = old.message_id;
        END;
        CREATE TRIGGER change_media_insert AFTER INSERT ON media BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'media' FROM message WHERE id = new.message_id;
        END;
        CREATE TRIGGER change_media_update AFTER UPDATE ON media
        WHEN new.state IS NOT old.state OR new.reason IS NOT old.reason OR new.path IS NOT old.path
             OR new.file_size IS NOT old.file_size OR new.mime_type IS NOT old.mime_type
             OR new.media_id IS NOT old.media_id OR new.duration_ms IS NOT old.duration_ms BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'media' FROM message WHERE id = new.message_id;
        END;
        CREATE TRIGGER change_transcript_insert AFTER INSERT ON transcript BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'media' FROM message WHERE id = new.message_id;
        END;
        CREATE TRIGGER change_transcript_update AFTER UPDATE ON transcript BEGIN
            INSERT INTO change (conversation_id, kind) SELECT conversation_id, 'media' FROM message WHERE id = new.message_id;
        END;

        -- Conversations: a new one, its activity, unread counts, claims, resolution, window.
        CREATE TRIGGER change_conversation_insert AFTER INSERT ON conversation BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.id, 'conversation');
        END;
        CREATE TRIGGER change_conversation_update AFTER UPDATE ON conversation BEGIN
            INSERT INTO change (conversation_id, kind)
            SELECT new.id, CASE
                WHEN new.last_activity_at IS NOT old.last_activity_at OR new.last_message_id IS NOT old.last_message_id
                     OR new.contact_id IS NOT old.contact_id OR new.id IS NOT old.id THEN 'conversation'
                WHEN new.assigned_to IS NOT old.assigned_to OR new.resolved_at IS NOT old.resolved_at THEN 'claim'
                WHEN new.unread_count IS NOT old.unread_count OR new.inbound_count IS NOT old.inbound_count THEN 'read'
                ELSE 'conversation' END
            WHERE new.last_activity_at IS NOT old.last_activity_at OR new.last_message_id IS NOT old.last_message_id
               OR new.last_inbound_at IS NOT old.last_inbound_at OR new.unread_count IS NOT old.unread_count
               OR new.inbound_count IS NOT old.inbound_count OR new.window_closed_at IS NOT old.window_closed_at
               OR new.assigned_to IS NOT old.assigned_to OR new.resolved_at IS NOT old.resolved_at
               OR new.failing_replies IS NOT old.failing_replies OR new.contact_id IS NOT old.contact_id
               OR new.phone_number_id IS NOT old.phone_number_id
               OR new.display_phone_number IS NOT old.display_phone_number OR new.id IS NOT old.id;
        END;
        CREATE TRIGGER change_conversation_delete AFTER DELETE ON conversation BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (old.id, 'conversation');
        END;
        CREATE TRIGGER change_read_insert AFTER INSERT ON agent_read BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.conversation_id, 'read');
        END;
        CREATE TRIGGER change_read_update AFTER UPDATE ON agent_read WHEN new.inbound_seen IS NOT old.inbound_seen BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.conversation_id, 'read');
        END;
        CREATE TRIGGER change_read_delete AFTER DELETE ON agent_read BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (old.conversation_id, 'read');
        END;

        -- The customer: a name, a number, a username, a marketing preference.
        CREATE TRIGGER change_contact_update AFTER UPDATE ON contact
        WHEN new.name IS NOT old.name OR new.username IS NOT old.username OR new.wa_id IS NOT old.wa_id
             OR new.user_id IS NOT old.user_id OR new.parent_user_id IS NOT old.parent_user_id
             OR new.search_key IS NOT old.search_key OR new.marketing_opt_out_at IS NOT old.marketing_opt_out_at BEGIN
            INSERT INTO change (conversation_id, kind) SELECT id, 'contact' FROM conversation WHERE contact_id = new.id;
        END;

        -- Agents' labels, notes and typing notes.
        CREATE TRIGGER change_label_insert AFTER INSERT ON conversation_label BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.conversation_id, 'label');
        END;
        CREATE TRIGGER change_label_delete AFTER DELETE ON conversation_label BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (old.conversation_id, 'label');
        END;
        CREATE TRIGGER change_note_insert AFTER INSERT ON note BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.conversation_id, 'note');
        END;
        CREATE TRIGGER change_note_update AFTER UPDATE ON note BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.conversation_id, 'note');
        END;
        CREATE TRIGGER change_note_delete AFTER DELETE ON note BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (old.conversation_id, 'note');
        END;
        CREATE TRIGGER change_typing_insert AFTER INSERT ON agent_typing BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.conversation_id, 'typing');
        END;
        CREATE TRIGGER change_typing_update AFTER UPDATE ON agent_typing BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (new.conversation_id, 'typing');
        END;
        CREATE TRIGGER change_typing_delete AFTER DELETE ON agent_typing BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (old.conversation_id, 'typing');
        END;

        -- What no one conversation owns: canned replies, label names, agents' display names.
        CREATE TRIGGER change_canned_insert AFTER INSERT ON canned_reply BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (NULL, 'workbench');
        END;
        CREATE TRIGGER change_canned_update AFTER UPDATE ON canned_reply BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (NULL, 'workbench');
        END;
        CREATE TRIGGER change_canned_delete AFTER DELETE ON canned_reply BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (NULL, 'workbench');
        END;
        CREATE TRIGGER change_label_name_insert AFTER INSERT ON label BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (NULL, 'workbench');
        END;
        CREATE TRIGGER change_agent_insert AFTER INSERT ON agent BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (NULL, 'workbench');
        END;
        CREATE TRIGGER change_agent_update AFTER UPDATE ON agent WHEN new.display_name IS NOT old.display_name BEGIN
            INSERT INTO change (conversation_id, kind) VALUES (NULL, 'workbench');
        END;
        """
}

extension InboxDatabase {
    /// How many feed rows are kept: older ones are pruned by the feed's own trigger. A
    /// screen that fell further behind reloads everything.
    public static let changeFeedKept = ChangeBatch.kept

    /// The newest position of the change feed (0 when it is empty).
    public func latestChangeSequence() throws -> Int64 {
        try writer.read { db in try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM change")) ?? 0 }
    }

    /// What changed after position `sequence` of the feed: up to `limit` feed rows, grouped
    /// by kind. Overflows when more rows than that follow, or when rows after `sequence` were
    /// pruned already (the reader fell behind); the batch's sequence is then the newest.
    public func changes(after sequence: Int64, limit: Int = 2_000) throws -> ChangeBatch {
        try writer.read { db in
            let oldest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT min(seq) FROM change")) ?? 0
            let newest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM change")) ?? 0
            return try ChangeBatch.reading(after: sequence, oldest: oldest, newest: newest, limit: limit) {
                try Row.fetchAll(db.cachedStatement(sql: "SELECT conversation_id, kind FROM change WHERE seq > ? AND seq <= ?"),
                                 arguments: [sequence, newest]).map { ($0[0], $0[1]) }
            }
        }
    }
}

extension InboxDatabase: ChangeFeedStore {
    public func feedPosition() async throws -> Int64 { try latestChangeSequence() }

    public func feedChanges(after sequence: Int64, limit: Int) async throws -> ChangeBatch {
        try changes(after: sequence, limit: limit)
    }
}
