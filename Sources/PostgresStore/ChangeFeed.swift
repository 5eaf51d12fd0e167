import Foundation
import InboxCore
import Logging
import PostgresNIO
import StoreContract

// The change feed on PostgreSQL (StoreContract.ChangeFeedStore): what each commit changed
// that a screen shows, numbered in commit order, and a notification on the channel
// `wabox_change` carrying the newest position, for screens on any host.
//
// Numbering in commit order is what makes "read after my last position" safe with many
// writers: a sequence drawn when a row is inserted would let a transaction that commits
// later take a lower number than one a screen has already read past. So a writer's
// changes wait in `change_pending`, and a deferred trigger numbers them at commit time,
// under the row lock of the one counter row: the next transaction to number its changes
// waits for this one to commit, and takes the numbers after it. No gaps either (a
// transaction that rolls back takes its counter update with it), which lets a reader tell
// a pruned feed from a quiet one.

extension PostgresStore {
    /// Migration 3: the feed, its numbering at commit and its notification. Writers record
    /// a change with `SELECT wabox_note_change(conversation_id, kind)` (the inbox tables'
    /// triggers call it).
    static let changeFeedMigration = Migration(version: 3, name: "change feed", statements: [
        """
        CREATE TABLE change (
            seq bigint PRIMARY KEY,
            conversation_id bigint,
            kind text NOT NULL
        )
        """,
        """
        -- This transaction's changes until it commits (other transactions' rows are never
        -- visible here: each deletes its own as it commits).
        CREATE TABLE change_pending (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            conversation_id bigint,
            kind text NOT NULL
        )
        """,
        """
        CREATE TABLE change_counter (
            id integer PRIMARY KEY CHECK (id = 1),
            seq bigint NOT NULL
        )
        """,
        "INSERT INTO change_counter (id, seq) VALUES (1, 0)",
        """
        CREATE FUNCTION wabox_note_change(conversation bigint, what text) RETURNS void
        LANGUAGE sql AS $$
            INSERT INTO change_pending (conversation_id, kind) VALUES (conversation, what)
        $$
        """,
        """
        -- At commit, once per transaction (the first of its deferred events; a setting
        -- local to the transaction tells the others): number the pending changes after
        -- the counter, move them into the feed, prune, and notify.
        CREATE FUNCTION wabox_number_changes() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            waiting bigint;
            last bigint;
        BEGIN
            IF current_setting('wabox.changes_numbered', true) = 'yes' THEN
                RETURN NULL;
            END IF;
            PERFORM set_config('wabox.changes_numbered', 'yes', true);
            SELECT count(*) INTO waiting FROM change_pending;
            IF waiting = 0 THEN
                RETURN NULL;
            END IF;
            UPDATE change_counter SET seq = seq + waiting WHERE id = 1 RETURNING seq INTO last;
            INSERT INTO change (seq, conversation_id, kind)
            SELECT last - waiting + row_number() OVER (ORDER BY id), conversation_id, kind FROM change_pending;
            DELETE FROM change_pending;
            IF last / 1000 > (last - waiting) / 1000 THEN
                DELETE FROM change WHERE seq <= last - \(ChangeBatch.kept);
            END IF;
            PERFORM pg_notify('\(changeChannel)', last::text);
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE CONSTRAINT TRIGGER change_number AFTER INSERT ON change_pending
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wabox_number_changes()
        """,
    ])

    /// Migration 4: the inbox tables note what they change, as SQLite's feed triggers do
    /// (Sources/InboxStore/ChangeFeed.swift), so a commit of the applier reaches every
    /// listening screen. Tables PostgreSQL does not have yet (the outbox, media, claims'
    /// and agents' tables) get theirs with them.
    static let inboxChangeTriggers = Migration(version: 4, name: "change feed of the inbox rows", statements: [
        """
        CREATE FUNCTION wabox_change_message() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM wabox_note_change(OLD.conversation_id, 'message');
                RETURN NULL;
            END IF;
            IF TG_OP = 'UPDATE' AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.status_at IS DISTINCT FROM OLD.status_at) THEN
                PERFORM wabox_note_change(NEW.conversation_id, 'status');
            ELSE
                PERFORM wabox_note_change(NEW.conversation_id, 'message');
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.conversation_id IS DISTINCT FROM NEW.conversation_id THEN
                PERFORM wabox_note_change(OLD.conversation_id, 'message');
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER change_message AFTER INSERT OR UPDATE OR DELETE ON message
        FOR EACH ROW EXECUTE FUNCTION wabox_change_message()
        """,
        """
        CREATE FUNCTION wabox_change_edit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM wabox_note_change(conversation_id, 'message') FROM message WHERE wamid = NEW.original_wamid;
            RETURN NULL;
        END
        $$
        """,
        "CREATE TRIGGER change_edit AFTER INSERT ON message_edit FOR EACH ROW EXECUTE FUNCTION wabox_change_edit()",
        """
        CREATE FUNCTION wabox_change_reaction() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM wabox_note_change(conversation_id, 'reaction') FROM message
            WHERE wamid = CASE WHEN TG_OP = 'DELETE' THEN OLD.message_wamid ELSE NEW.message_wamid END;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER change_reaction AFTER INSERT OR UPDATE OR DELETE ON reaction
        FOR EACH ROW EXECUTE FUNCTION wabox_change_reaction()
        """,
        """
        -- As SQLite's: what changed decides the kind, and an update that changed nothing a
        -- screen shows notes nothing.
        CREATE FUNCTION wabox_change_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM wabox_note_change(NEW.id, 'conversation');
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM wabox_note_change(OLD.id, 'conversation');
            ELSIF NEW.last_activity_at IS DISTINCT FROM OLD.last_activity_at
                  OR NEW.last_message_id IS DISTINCT FROM OLD.last_message_id
                  OR NEW.contact_id IS DISTINCT FROM OLD.contact_id OR NEW.id IS DISTINCT FROM OLD.id THEN
                PERFORM wabox_note_change(NEW.id, 'conversation');
            ELSIF NEW.assigned_to IS DISTINCT FROM OLD.assigned_to OR NEW.resolved_at IS DISTINCT FROM OLD.resolved_at THEN
                PERFORM wabox_note_change(NEW.id, 'claim');
            ELSIF NEW.unread_count IS DISTINCT FROM OLD.unread_count
                  OR NEW.inbound_count IS DISTINCT FROM OLD.inbound_count THEN
                PERFORM wabox_note_change(NEW.id, 'read');
            ELSIF NEW.last_inbound_at IS DISTINCT FROM OLD.last_inbound_at
                  OR NEW.window_closed_at IS DISTINCT FROM OLD.window_closed_at
                  OR NEW.failing_replies IS DISTINCT FROM OLD.failing_replies
                  OR NEW.phone_number_id IS DISTINCT FROM OLD.phone_number_id
                  OR NEW.display_phone_number IS DISTINCT FROM OLD.display_phone_number THEN
                PERFORM wabox_note_change(NEW.id, 'conversation');
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER change_conversation AFTER INSERT OR UPDATE OR DELETE ON conversation
        FOR EACH ROW EXECUTE FUNCTION wabox_change_conversation()
        """,
        """
        CREATE FUNCTION wabox_change_contact() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.name IS DISTINCT FROM OLD.name OR NEW.username IS DISTINCT FROM OLD.username
               OR NEW.wa_id IS DISTINCT FROM OLD.wa_id OR NEW.user_id IS DISTINCT FROM OLD.user_id
               OR NEW.parent_user_id IS DISTINCT FROM OLD.parent_user_id
               OR NEW.marketing_opt_out_at IS DISTINCT FROM OLD.marketing_opt_out_at THEN
                PERFORM wabox_note_change(id, 'contact') FROM conversation WHERE contact_id = NEW.id;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        "CREATE TRIGGER change_contact AFTER UPDATE ON contact FOR EACH ROW EXECUTE FUNCTION wabox_change_contact()",
    ])

    /// The channel every commit with changes notifies, its payload the feed's newest position.
    public static let changeChannel = "wabox_change"
}

extension PostgresStore: ChangeFeedStore {
    public func feedPosition() async throws -> Int64 {
        for try await position in try await client.query("SELECT seq FROM change_counter WHERE id = 1", logger: logger)
            .decode(Int64.self) {
            return position
        }
        return 0
    }

    /// One snapshot for the bounds and the rows (a transaction), as SQLite reads its feed.
    public func feedChanges(after sequence: Int64, limit: Int) async throws -> ChangeBatch {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            var oldest: Int64 = 0, newest: Int64 = 0
            for try await (first, last) in try await connection.query("""
                SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM change
                """, logger: logger).decode((Int64, Int64).self) {
                (oldest, newest) = (first, last)
            }
            var rows: [(conversation: Int64?, kind: String)] = []
            if newest > sequence, newest - sequence <= Int64(limit), oldest <= sequence + 1 {
                for try await row in try await connection.query("""
                    SELECT conversation_id, kind FROM change WHERE seq > \(sequence) AND seq <= \(newest)
                    """, logger: logger).decode((Int64?, String).self) {
                    rows.append((conversation: row.0, kind: row.1))
                }
            }
            return ChangeBatch.reading(after: sequence, oldest: oldest, newest: newest, limit: limit) { rows }
        }
    }

    /// Records a change in the caller's transaction (tests; the inbox tables' triggers call
    /// the same function).
    public func noteChange(conversation: Int64?, kind: ChangeBatch.Kind, on connection: PostgresConnection) async throws {
        // Read to the end: a row left unread holds the connection back from the next statement.
        for try await _ in try await connection.query("SELECT wabox_note_change(\(conversation), \(kind.rawValue))",
                                                      logger: logger) {}
    }
}
