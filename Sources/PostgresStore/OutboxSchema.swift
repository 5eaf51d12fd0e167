extension PostgresStore {
    /// The outbox and the read receipts screens queue, as on SQLite (InboxStore's "v2:
    /// outbox" and "v9: shared inbox"), plus who holds a row in flight: several listeners
    /// send from this one outbox, and a row left in flight is only made uncertain once its
    /// holder is gone (its `sender …` lease expired), not while another listener is still
    /// waiting for the Cloud API's answer.
    static let outboxMigration = Migration(version: 5, name: "outbox", statements: [
        """
        -- One row per outbound message still to be sent, or whose fate is unknown; deleted
        -- once the Cloud API accepted or refused the message.
        CREATE TABLE outbox (
            message_id bigint PRIMARY KEY REFERENCES message (id) ON DELETE CASCADE,
            -- queued: waits for next_attempt_at; in_flight: claimed by a sender, the request
            -- may be on the wire; uncertain: its sender died holding it, never resent
            -- without the operator's word.
            state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'in_flight', 'uncertain')),
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at bigint NOT NULL, -- Unix milliseconds
            claimed_at bigint,               -- Unix milliseconds
            -- The sender holding the row in flight: the name of its lease ('sender host pid').
            claimed_by text,
            last_error text,
            -- What to send when the message row's content is not enough (a template).
            payload text,
            -- A file to upload: its copy in the media store, and the media id once uploaded.
            file_path text,
            upload_id text
        )
        """,
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
        """
        -- Read receipts queued by screens without a token of their own; the sender sends them.
        CREATE TABLE read_receipt (
            wamid text PRIMARY KEY,
            phone_number_id text NOT NULL,
            requested_at bigint NOT NULL, -- Unix milliseconds
            attempts integer NOT NULL DEFAULT 0
        )
        """,
    ])
}

extension PostgresStore {
    /// Migration 9: the outbox notes what it changes, as SQLite's feed triggers do, so that
    /// a retry's note ("503, retrying") or an outbox row's end reaches every screen.
    static let outboxChangeTriggers = Migration(version: 9, name: "change feed of the outbox", statements: [
        """
        CREATE TRIGGER change_outbox_insert AFTER INSERT ON outbox
        FOR EACH ROW EXECUTE FUNCTION wabox_change_of_message('status')
        """,
        """
        CREATE TRIGGER change_outbox_update AFTER UPDATE ON outbox FOR EACH ROW
        WHEN (NEW.last_error IS DISTINCT FROM OLD.last_error OR NEW.state IS DISTINCT FROM OLD.state)
        EXECUTE FUNCTION wabox_change_of_message('status')
        """,
        """
        CREATE TRIGGER change_outbox_delete AFTER DELETE ON outbox
        FOR EACH ROW EXECUTE FUNCTION wabox_change_of_message('status')
        """,
    ])
}
