-- The first schema: campaigns and their recipients, every send attempt, SMTP
-- profiles and the suppression list. Timestamps are Unix milliseconds (UTC).

CREATE TABLE smtp_profiles (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    host                 TEXT    NOT NULL,
    port                 INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    security             TEXT    NOT NULL CHECK (security IN ('tls', 'starttls', 'none')),
    auth                 TEXT    NOT NULL DEFAULT 'none' CHECK (auth IN ('plain', 'login', 'none')),
    username             TEXT,
    -- No password column, by design (SPEC invariant 6): secrets live in the
    -- OS keychain, keyed by this profile's name.
    from_address         TEXT,
    from_name            TEXT,
    reply_to             TEXT,
    helo_name            TEXT,
    connect_timeout_ms   INTEGER NOT NULL DEFAULT 15000,
    command_timeout_ms   INTEGER NOT NULL DEFAULT 30000,
    data_timeout_ms      INTEGER NOT NULL DEFAULT 120000,
    connections          INTEGER NOT NULL DEFAULT 4 CHECK (connections >= 1),
    per_connection       INTEGER NOT NULL DEFAULT 100 CHECK (per_connection >= 1),
    rate_per_second      REAL,
    per_minute           INTEGER,
    per_hour             INTEGER,
    per_day              INTEGER,
    retries              INTEGER NOT NULL DEFAULT 5 CHECK (retries >= 0),
    accept_invalid_certs INTEGER NOT NULL DEFAULT 0 CHECK (accept_invalid_certs IN (0, 1)),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE campaigns (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'running', 'paused', 'completed', 'stopped')),
    pause_reason    TEXT,
    source_file     TEXT    NOT NULL,
    -- JSON array of the source's column names, in file order.
    columns         TEXT    NOT NULL,
    email_column    TEXT    NOT NULL,
    smtp_profile_id INTEGER REFERENCES smtp_profiles (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE recipients (
    id              INTEGER PRIMARY KEY,
    campaign_id     INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- Row number as a spreadsheet shows it: the header is row 1.
    row_number      INTEGER NOT NULL,
    -- The address as written in the file (trimmed).
    email           TEXT    NOT NULL,
    -- JSON array of the row's values, in the campaign's column order, as imported.
    fields          TEXT    NOT NULL,
    status          TEXT    NOT NULL
                    CHECK (status IN ('pending', 'sending', 'sent', 'retry_wait', 'failed',
                                      'skipped', 'cancelled', 'uncertain')),
    reason          TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (campaign_id, row_number)
);

CREATE INDEX recipients_by_campaign_status ON recipients (campaign_id, status);

CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY,
    recipient_id  INTEGER NOT NULL REFERENCES recipients (id) ON DELETE CASCADE,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    outcome       TEXT    NOT NULL CHECK (outcome IN ('sent', 'transient', 'permanent', 'ambiguous')),
    stage         TEXT    NOT NULL
                  CHECK (stage IN ('connect', 'greeting', 'ehlo', 'tls', 'auth', 'mail', 'rcpt',
                                   'data', 'timeout', 'render')),
    smtp_code     INTEGER,
    enhanced_code TEXT,
    text          TEXT
);

CREATE INDEX attempts_by_recipient ON attempts (recipient_id);

CREATE TABLE suppressions (
    -- Normalised address: trimmed and lower-cased.
    email      TEXT    NOT NULL PRIMARY KEY,
    reason     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
