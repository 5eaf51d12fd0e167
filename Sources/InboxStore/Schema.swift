import GRDB

/// The database schema, one migration per released change. Never edit a registered
/// migration: add a new one.
enum Schema {
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
        registerSearch(in: &migrator)
        return migrator
    }
}
