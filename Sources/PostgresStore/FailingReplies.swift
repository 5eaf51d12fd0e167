extension PostgresStore {
    /// The count of a conversation's replies that failed or are uncertain (the filter's
    /// `~F`), kept by triggers whichever path writes a status, as SQLite's are (InboxStore's
    /// "v12" migration): the applier's statuses, the outbox's answers, a merge that moves
    /// messages between conversations.
    static let failingRepliesMigration = Migration(version: 8, name: "failing replies", statements: [
        """
        CREATE FUNCTION wabox_failing_replies() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            was boolean := TG_OP <> 'INSERT' AND OLD.direction = 'out' AND OLD.status IN ('failed', 'uncertain');
            now_failing boolean := TG_OP <> 'DELETE' AND NEW.direction = 'out' AND NEW.status IN ('failed', 'uncertain');
        BEGIN
            IF was AND (NOT now_failing OR NEW.conversation_id IS DISTINCT FROM OLD.conversation_id) THEN
                UPDATE conversation SET failing_replies = failing_replies - 1 WHERE id = OLD.conversation_id;
            END IF;
            IF now_failing AND (NOT was OR NEW.conversation_id IS DISTINCT FROM OLD.conversation_id) THEN
                UPDATE conversation SET failing_replies = failing_replies + 1 WHERE id = NEW.conversation_id;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER message_failing_replies AFTER INSERT OR DELETE OR UPDATE OF status, conversation_id ON message
        FOR EACH ROW EXECUTE FUNCTION wabox_failing_replies()
        """,
        // Rows written before this version.
        """
        UPDATE conversation cv SET failing_replies = (
            SELECT count(*) FROM message m
            WHERE m.conversation_id = cv.id AND m.direction = 'out' AND m.status IN ('failed', 'uncertain'))
        """,
    ])
}
