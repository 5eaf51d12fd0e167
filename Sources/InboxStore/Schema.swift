import Foundation
import GRDB
import InboxCore

/// The database schema, one migration per released change. Never edit a registered
/// migration: add a new one.
enum Schema {
    static let acceptedMigration = "v7: accepted is not sent; templates held for quality review"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: contacts, conversations, messages, statuses, journal") { db in
            try db.execute(sql: """
                CREATE TABLE contact (
                    id INTEGER PRIMARY KEY,
                    wa_id TEXT UNIQUE,
                    user_id TEXT UNIQUE,
                    parent_user_id TEXT,
                    username TEXT,
                    name TEXT,
                    -- Timestamp of the newest event that set the profile: an older event
                    -- arriving late must not bring back an old name.
                    profile_at INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL
                );
                CREATE INDEX contact_username ON contact(username);

                CREATE TABLE conversation (
                    id INTEGER PRIMARY KEY,
                    phone_number_id TEXT NOT NULL,
                    display_phone_number TEXT,
                    contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
                    last_activity_at INTEGER NOT NULL DEFAULT 0,
                    last_message_id INTEGER,
                    last_inbound_at INTEGER,
                    unread_count INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (phone_number_id, contact_id)
                );
                CREATE INDEX conversation_activity ON conversation(last_activity_at, id);
                CREATE INDEX conversation_contact ON conversation(contact_id);

                CREATE TABLE message (
                    id INTEGER PRIMARY KEY,
                    wamid TEXT UNIQUE,
                    local_id TEXT UNIQUE,
                    conversation_id INTEGER NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
                    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
                    type TEXT NOT NULL,
                    text TEXT,
                    caption TEXT,
                    content TEXT NOT NULL,
                    timestamp INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    status_at INTEGER,
                    reply_to TEXT,
                    forwarded INTEGER NOT NULL DEFAULT 0,
                    referral TEXT,
                    group_id TEXT,
                    error_code INTEGER,
                    error_title TEXT,
                    error_message TEXT,
                    error_details TEXT
                );
                CREATE INDEX message_thread ON message(conversation_id, timestamp, id);
                CREATE INDEX message_timeline ON message(timestamp, id);

                -- One reaction per reactor per message; emoji NULL marks a removal, kept so
                -- that an older reaction arriving late cannot come back.
                CREATE TABLE reaction (
                    message_wamid TEXT NOT NULL,
                    from_contact_id INTEGER NOT NULL, -- 0: the business itself
                    emoji TEXT,
                    timestamp INTEGER NOT NULL,
                    reaction_wamid TEXT,
                    PRIMARY KEY (message_wamid, from_contact_id)
                ) WITHOUT ROWID;

                -- Every status webhook, applied or not. A status whose message is not
                -- known yet waits here and is applied when the message appears.
                CREATE TABLE status_event (
                    id INTEGER PRIMARY KEY,
                    wamid TEXT NOT NULL,
                    status TEXT NOT NULL,
                    timestamp INTEGER NOT NULL,
                    phone_number_id TEXT,
                    recipient TEXT,
                    callback_data TEXT,
                    error_code INTEGER,
                    error_title TEXT,
                    error_message TEXT,
                    error_details TEXT,
                    UNIQUE (wamid, status, timestamp)
                );

                -- The raw journal: every signed body exactly as received.
                CREATE TABLE webhook (
                    id INTEGER PRIMARY KEY,
                    received_at INTEGER NOT NULL,
                    signature TEXT UNIQUE,
                    body BLOB NOT NULL
                );

                CREATE TABLE dead_letter (
                    id INTEGER PRIMARY KEY,
                    webhook_id INTEGER REFERENCES webhook(id),
                    received_at INTEGER NOT NULL,
                    path TEXT,
                    reason TEXT NOT NULL,
                    raw TEXT
                );

                CREATE TABLE account_error (
                    id INTEGER PRIMARY KEY,
                    webhook_id INTEGER REFERENCES webhook(id),
                    phone_number_id TEXT,
                    received_at INTEGER NOT NULL,
                    code INTEGER,
                    title TEXT,
                    message TEXT,
                    details TEXT
                );
                """)
        }
        migrator.registerMigration("v2: outbox") { db in
            try db.execute(sql: """
                -- One row per outbound message still to be sent, or whose fate is unknown.
                -- Deleted once the Cloud API accepted or refused the message.
                CREATE TABLE outbox (
                    message_id INTEGER PRIMARY KEY REFERENCES message(id) ON DELETE CASCADE,
                    -- queued: waits for next_attempt_at; in_flight: claimed by a sender, the
                    -- request may be on the wire; uncertain: was in flight when the process
                    -- died, never resent without the operator's word.
                    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'in_flight', 'uncertain')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL, -- Unix milliseconds
                    claimed_at INTEGER,               -- Unix milliseconds
                    last_error TEXT,
                    -- What to send when the message row's content is not enough (a template).
                    payload TEXT
                );
                CREATE INDEX outbox_due ON outbox(state, next_attempt_at);

                -- At most one row: why sending stopped (token, account) until the operator acts.
                CREATE TABLE sending_halt (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    code INTEGER,
                    reason TEXT NOT NULL,
                    since INTEGER NOT NULL
                );

                -- When the Cloud API last answered 131047 (window closed) for this conversation.
                ALTER TABLE conversation ADD COLUMN window_closed_at INTEGER;
                """)
        }
        registerSearch(in: &migrator)
        registerSharedInbox(in: &migrator)
        registerDeferredSearch(in: &migrator)
        migrator.registerMigration(acceptedMigration) { db in
            try db.execute(sql: """
                -- The send answer said message_status = held_for_quality_assessment.
                ALTER TABLE message ADD COLUMN held_for_review INTEGER NOT NULL DEFAULT 0;
                -- Rows the Cloud API took before `accepted` existed were marked `sent` on the
                -- spot: without a status webhook, that is all they are.
                UPDATE message SET status = 'accepted'
                WHERE direction = 'out' AND status = 'sent' AND wamid IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM status_event s WHERE s.wamid = message.wamid);
                """)
        }
        migrator.registerMigration("v8: a contact's previous phone numbers") { db in
            try db.execute(sql: """
                -- The numbers a contact had before a user_changed_number: a late message from
                -- one of them is still theirs (Meta's delivery is not ordered).
                CREATE TABLE contact_previous_number (
                    wa_id TEXT PRIMARY KEY,
                    contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
                    changed_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX contact_previous_number_contact ON contact_previous_number(contact_id);
                """)
        }
        registerMedia(in: &migrator)
        migrator.registerMigration("v11: journal-first ingest") { db in
            // The SHA-256 of a body, for the digests of the dead letters already stored.
            db.add(function: DatabaseFunction("wabox_body_digest", argumentCount: 1, pure: true) { values in
                Data.fromDatabaseValue(values[0]).map { BodyDigest.of($0) }
            })
            try db.execute(sql: """
                -- The journal: every signed body exactly as received, in the order the listener
                -- committed them. A 200 means the body is here. The listener only appends: no
                -- index but the row id. AUTOINCREMENT, so that an id never comes back once
                -- the bodies before it are pruned (the applier's mark must stay below every
                -- new body); ids go on from the table webhook's, whose bodies were applied
                -- with their commit, so the mark starts past them.
                CREATE TABLE journal (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    received_at INTEGER NOT NULL,
                    body BLOB NOT NULL
                );
                INSERT INTO sqlite_sequence (name, seq) SELECT 'journal', coalesce(max(id), 0) FROM webhook;
                -- The applier's high-water mark: every journaled body with an id up to
                -- applied_through is applied; it moves in the transaction that applies them.
                CREATE TABLE journal_mark (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    applied_through INTEGER NOT NULL
                );
                INSERT INTO journal_mark (id, applied_through) SELECT 1, coalesce(max(id), 0) FROM webhook;

                -- The body a dead letter or an account error came from (journal_id; webhook_id
                -- for rows older than the journal) and its SHA-256: a replayed body is
                -- journaled again, and the digest keeps its dead letters and account errors
                -- from being stored twice.
                ALTER TABLE dead_letter ADD COLUMN journal_id INTEGER;
                ALTER TABLE dead_letter ADD COLUMN digest TEXT;
                ALTER TABLE account_error ADD COLUMN journal_id INTEGER;
                ALTER TABLE account_error ADD COLUMN digest TEXT;
                UPDATE dead_letter SET digest = (SELECT wabox_body_digest(body) FROM webhook WHERE webhook.id = dead_letter.webhook_id)
                WHERE webhook_id IS NOT NULL;
                UPDATE account_error SET digest = (SELECT wabox_body_digest(body) FROM webhook WHERE webhook.id = account_error.webhook_id)
                WHERE webhook_id IS NOT NULL;
                CREATE INDEX dead_letter_digest ON dead_letter(digest) WHERE digest IS NOT NULL;
                CREATE INDEX account_error_digest ON account_error(digest) WHERE digest IS NOT NULL;
                -- Pruning keeps dead letters' bodies and unlinks account errors from theirs.
                CREATE INDEX dead_letter_journal ON dead_letter(journal_id) WHERE journal_id IS NOT NULL;
                CREATE INDEX dead_letter_webhook ON dead_letter(webhook_id) WHERE webhook_id IS NOT NULL;
                CREATE INDEX account_error_journal ON account_error(journal_id) WHERE journal_id IS NOT NULL;
                CREATE INDEX account_error_webhook ON account_error(webhook_id) WHERE webhook_id IS NOT NULL;

                -- The database file the holder opened (device and inode): a copy of the file
                -- carries the row, but its holder applies the journal of the original only.
                ALTER TABLE listener_lease ADD COLUMN file_id TEXT;
                """)
        }
        return migrator
    }
}
