-- SMTP accounts remember the preset they came from; the built-in sandbox
-- keeps the messages it captures. Timestamps are Unix milliseconds (UTC).

ALTER TABLE smtp_profiles ADD COLUMN preset TEXT;

CREATE TABLE sandbox_messages (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    mail_from   TEXT    NOT NULL,
    -- JSON array of the envelope recipients.
    rcpt_to     TEXT    NOT NULL,
    -- From the headers, for the list view; the raw message has the truth.
    subject     TEXT,
    size        INTEGER NOT NULL,
    raw         BLOB    NOT NULL
);

CREATE INDEX sandbox_messages_by_time ON sandbox_messages (received_at DESC);

-- A fresh install starts with the built-in sandbox as its account, so a new
-- user can run a whole campaign before configuring a real server. Deleting it
-- is final: this runs once per database.
INSERT INTO smtp_profiles (name, preset, host, port, security, auth, connections, per_connection,
                           created_at, updated_at)
VALUES ('Sandbox', 'sandbox', '127.0.0.1', 2525, 'none', 'none', 4, 100,
        CAST(unixepoch('subsec') * 1000 AS INTEGER), CAST(unixepoch('subsec') * 1000 AS INTEGER));
