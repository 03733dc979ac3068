-- A campaign's message, saved message templates, and how many messages each
-- SMTP account sent per minute (so per-minute/hour/day quotas hold across
-- restarts and across campaigns). Timestamps are Unix milliseconds (UTC).

CREATE TABLE messages (
    campaign_id INTEGER PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    -- JSON of the engine's MessageDraft.
    draft       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE message_templates (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    draft      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE send_counts (
    profile_id INTEGER NOT NULL REFERENCES smtp_profiles (id) ON DELETE CASCADE,
    -- Unix minutes (ms / 60000).
    minute     INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (profile_id, minute)
) WITHOUT ROWID;

-- The runner reads pending recipients in id order and due retries by time.
CREATE INDEX recipients_retry_due ON recipients (campaign_id, next_attempt_at) WHERE status = 'retry_wait';
