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
        migrator.registerMigration("v10: voice-note transcripts") { db in
            try db.execute(sql: """
                -- How long a voice note or audio file plays, in milliseconds, read from the
                -- file when its download completes; NULL when its format does not say.
                ALTER TABLE media ADD COLUMN duration_ms INTEGER;
                -- The customers' audio the transcriber takes up: ready and audio.
                CREATE INDEX media_ready_audio ON media(message_id) WHERE state = 'ready' AND kind IN ('audio', 'voice');
                -- What transcribe_command printed for a customer's voice note. No row: not
                -- taken up yet. running: taken up; a process stopped meanwhile leaves it so,
                -- and the next lease holder runs it again. done or failed: never run again.
                CREATE TABLE transcript (
                    message_id INTEGER PRIMARY KEY REFERENCES message(id) ON DELETE CASCADE,
                    state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
                    text TEXT,
                    -- Why it failed, in words.
                    reason TEXT,
                    -- Unix milliseconds.
                    updated_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v14: agent reactions, echoes") { db in
            try db.execute(sql: """
                -- The journal row a message came in with, for the raw view (J). NULL for
                -- messages sent from wabox and for those stored before this column.
                ALTER TABLE message ADD COLUMN webhook_id INTEGER;
                -- Sent from the WhatsApp Business app on a coexistence number (smb_message_echoes).
                ALTER TABLE message ADD COLUMN echo INTEGER NOT NULL DEFAULT 0;
                -- An outbound interactive message's reply buttons: a JSON array of their titles.
                ALTER TABLE message ADD COLUMN buttons TEXT;
                -- An agent's reaction: the local id of the outbox row that carries it to the
                -- Cloud API, a message of type 'reaction' that is never shown as a message.
                ALTER TABLE reaction ADD COLUMN local_id TEXT;
                """)
        }
        migrator.registerMigration("v12: edits, deletions, calls, alerts, preferences") { db in
            try db.execute(sql: """
                -- A customer's edit: the time of the newest version the row shows.
                ALTER TABLE message ADD COLUMN edited_at INTEGER;
                -- A customer's deletion ("delete for everyone"): the content stays in the row,
                -- drawn (struck through) and exported only with show_deleted.
                ALTER TABLE message ADD COLUMN deleted_at INTEGER;

                -- Every version of an edited message: the original (edit_wamid NULL, copied
                -- when the first edit applies) and each edit. The row shows the newest. An
                -- edit whose original is not stored yet waits here, as statuses do.
                CREATE TABLE message_edit (
                    id INTEGER PRIMARY KEY,
                    original_wamid TEXT NOT NULL,
                    edit_wamid TEXT UNIQUE,
                    -- The editor's wa_id or user id: only the author's edits apply.
                    editor TEXT,
                    type TEXT NOT NULL,
                    text TEXT,
                    caption TEXT,
                    content TEXT NOT NULL,
                    timestamp INTEGER NOT NULL
                );
                CREATE INDEX message_edit_original ON message_edit(original_wamid, timestamp, id);

                -- A deletion; one whose original is not stored yet waits here.
                CREATE TABLE message_revoke (
                    original_wamid TEXT PRIMARY KEY,
                    revoke_wamid TEXT,
                    revoker TEXT,
                    timestamp INTEGER NOT NULL
                ) WITHOUT ROWID;

                -- Each call as its events built it (CallState JSON); its notice is the message
                -- row whose wamid is the call id.
                CREATE TABLE call_state (
                    call_id TEXT PRIMARY KEY,
                    state TEXT NOT NULL
                ) WITHOUT ROWID;

                -- Meta's alerts on the account, one per kind (slot); a lifting update sets
                -- lifted_at. `at` orders updates: an older one arriving late changes nothing.
                CREATE TABLE account_alert (
                    account TEXT NOT NULL,
                    slot TEXT NOT NULL,
                    alert TEXT,
                    at INTEGER NOT NULL,
                    expires_at INTEGER,
                    lifted_at INTEGER,
                    PRIMARY KEY (account, slot)
                ) WITHOUT ROWID;
                -- A halt raised by an account alert (`account:<waba>:<slot>`) lasts until the
                -- alert is lifted or expires (`until`); a halt from an API answer has no source.
                ALTER TABLE sending_halt ADD COLUMN source TEXT;
                ALTER TABLE sending_halt ADD COLUMN until INTEGER;

                -- Template updates, by name and language ('' for every language of the name).
                -- Each field keeps the time of the update that set it: it overrides a cached
                -- list fetched before then.
                CREATE TABLE template_state (
                    name TEXT NOT NULL,
                    language TEXT NOT NULL,
                    template_id TEXT,
                    status TEXT,
                    reason TEXT,
                    status_at INTEGER,
                    category TEXT,
                    category_at INTEGER,
                    quality TEXT,
                    quality_at INTEGER,
                    PRIMARY KEY (name, language)
                ) WITHOUT ROWID;

                -- The customer's newest marketing preference: when they said stop (NULL once
                -- they said resume, or never), and the time of the newest preference applied.
                ALTER TABLE contact ADD COLUMN marketing_opt_out_at INTEGER;
                ALTER TABLE contact ADD COLUMN marketing_pref_at INTEGER;
                """)
        }
        migrator.registerMigration("v13: canned replies, notes, labels") { db in
            try db.execute(sql: """
                -- Team-wide canned replies (`wabox replies add NAME TEXT`), expanded by /NAME + Tab.
                CREATE TABLE canned_reply (
                    name TEXT PRIMARY KEY COLLATE NOCASE,
                    text TEXT NOT NULL,
                    created_by TEXT,
                    updated_at INTEGER NOT NULL
                ) WITHOUT ROWID;

                -- Agents' private notes on a conversation: never sent to the customer.
                CREATE TABLE note (
                    id INTEGER PRIMARY KEY,
                    conversation_id INTEGER NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
                    agent TEXT NOT NULL,
                    text TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE INDEX note_conversation ON note(conversation_id, created_at, id);

                CREATE TABLE label (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    created_by TEXT,
                    created_at INTEGER NOT NULL
                );
                -- last_activity_at is the conversation's, copied so that `~l LABEL` walks a
                -- label's conversations newest first however few or many carry it.
                CREATE TABLE conversation_label (
                    label_id INTEGER NOT NULL REFERENCES label(id) ON DELETE CASCADE,
                    conversation_id INTEGER NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
                    last_activity_at INTEGER NOT NULL,
                    added_by TEXT,
                    added_at INTEGER NOT NULL,
                    PRIMARY KEY (label_id, conversation_id)
                ) WITHOUT ROWID;
                CREATE INDEX conversation_label_conversation ON conversation_label(conversation_id);
                CREATE INDEX conversation_label_activity ON conversation_label(label_id, last_activity_at, conversation_id);
                CREATE TRIGGER conversation_label_activity AFTER UPDATE OF last_activity_at ON conversation
                WHEN new.last_activity_at IS NOT old.last_activity_at BEGIN
                    UPDATE conversation_label SET last_activity_at = new.last_activity_at WHERE conversation_id = new.id;
                END;

                -- Outbound messages failed or uncertain, per conversation (`~F`), kept by triggers
                -- whichever path writes the status.
                ALTER TABLE conversation ADD COLUMN failing_replies INTEGER NOT NULL DEFAULT 0;
                UPDATE conversation SET failing_replies = (
                    SELECT count(*) FROM message m
                    WHERE m.conversation_id = conversation.id AND m.direction = 'out' AND m.status IN ('failed', 'uncertain'))
                WHERE id IN (SELECT conversation_id FROM message WHERE direction = 'out' AND status IN ('failed', 'uncertain'));
                CREATE TRIGGER message_failing_insert AFTER INSERT ON message
                WHEN new.direction = 'out' AND new.status IN ('failed', 'uncertain') BEGIN
                    UPDATE conversation SET failing_replies = failing_replies + 1 WHERE id = new.conversation_id;
                END;
                CREATE TRIGGER message_failing_status AFTER UPDATE OF status ON message
                WHEN new.direction = 'out' AND (old.status IN ('failed', 'uncertain')) != (new.status IN ('failed', 'uncertain')) BEGIN
                    UPDATE conversation
                    SET failing_replies = failing_replies + CASE WHEN new.status IN ('failed', 'uncertain') THEN 1 ELSE -1 END
                    WHERE id = new.conversation_id;
                END;
                CREATE TRIGGER message_failing_moved AFTER UPDATE OF conversation_id ON message
                WHEN new.direction = 'out' AND new.status IN ('failed', 'uncertain') AND new.conversation_id != old.conversation_id BEGIN
                    UPDATE conversation SET failing_replies = failing_replies - 1 WHERE id = old.conversation_id;
                    UPDATE conversation SET failing_replies = failing_replies + 1 WHERE id = new.conversation_id;
                END;
                CREATE TRIGGER message_failing_delete AFTER DELETE ON message
                WHEN old.direction = 'out' AND old.status IN ('failed', 'uncertain') BEGIN
                    UPDATE conversation SET failing_replies = failing_replies - 1 WHERE id = old.conversation_id;
                END;

                -- The filter's terms walk the list newest first through these and stop after a
                -- screenful, however large the inbox (see `conversations(matching:)`).
                CREATE INDEX conversation_assignee ON conversation(assigned_to, last_activity_at, id);
                CREATE INDEX conversation_unread ON conversation(last_activity_at, id) WHERE unread_count > 0;
                CREATE INDEX conversation_failing ON conversation(last_activity_at, id) WHERE failing_replies > 0;
                """)
        }
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
        migrator.registerMigration("v16: replayed dead letters") { db in
            try db.execute(sql: """
                -- When `wabox replay` applied the dead letter's body again and its part read
                -- (Unix seconds). The row stays, for the record; it is no longer a problem.
                ALTER TABLE dead_letter ADD COLUMN replayed_at INTEGER;
                """)
        }
        migrator.registerMigration("v17: agent identity, audit trail") { db in
            try db.execute(sql: """
                -- Agents by account: the names already in claims, read marks, notes and labels
                -- were given with --agent and stay as they are, read as accounts from now on.
                -- The display name (--agent, WABOX_AGENT, agent) is shown beside the account.
                ALTER TABLE agent ADD COLUMN display_name TEXT;
                -- The account that sent an outbound message from wabox: a screen, or the one that
                -- ran `wabox send`. NULL for inbound messages, echoes from the phone app and
                -- messages sent before this column.
                ALTER TABLE message ADD COLUMN agent TEXT;

                -- The audit trail: one row per action, appended in the transaction that does the
                -- action. No foreign keys: merging contacts or conversations must never take rows
                -- with it. The customer's identifiers are copied in for `wabox audit --contact`.
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,              -- Unix seconds
                    account TEXT NOT NULL,
                    display_name TEXT,
                    action TEXT NOT NULL,
                    conversation_id INTEGER,
                    contact_wa_id TEXT,
                    contact_user_id TEXT,
                    detail TEXT NOT NULL              -- JSON object (AuditDetail)
                );
                CREATE INDEX audit_at ON audit(at);
                CREATE INDEX audit_account ON audit(account, at);
                CREATE INDEX audit_conversation ON audit(conversation_id) WHERE conversation_id IS NOT NULL;

                -- Append-only. Retention pruning (audit_retention) writes its cutoff here, deletes
                -- the older rows and empties this table again, all in one transaction, so no other
                -- connection ever sees a row here. (A trigger of the main schema cannot read a TEMP
                -- table, hence a table of its own.) Nothing else may change or delete a row.
                CREATE TABLE audit_pruning (cutoff INTEGER NOT NULL);
                CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit BEGIN
                    SELECT RAISE(ABORT, 'the audit trail is append-only: its rows are never changed');
                END;
                CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
                WHEN NOT EXISTS (SELECT 1 FROM audit_pruning WHERE old.at < cutoff) BEGIN
                    SELECT RAISE(ABORT, 'the audit trail is append-only: only pruning past audit_retention removes rows');
                END;
                """)
        }
        migrator.registerMigration("v18: change feed") { db in
            try db.execute(sql: Schema.changeFeedSQL)
        }
        return migrator
    }
}
