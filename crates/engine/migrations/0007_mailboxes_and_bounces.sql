-- Bounces: a mailbox (IMAP) per sending account, scanned for delivery status
-- notifications and unsubscribe replies; each bounce recorded on the
-- recipient it is about. Timestamps are Unix milliseconds (UTC).

-- The IMAP side of an SMTP account. No password column, by design (SPEC
-- invariant 6): it lives in the secret store, keyed by the account's name.
CREATE TABLE mailboxes (
    id                   INTEGER PRIMARY KEY,
    profile_id           INTEGER NOT NULL UNIQUE REFERENCES smtp_profiles (id) ON DELETE CASCADE,
    host                 TEXT    NOT NULL,
    port                 INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    security             TEXT    NOT NULL CHECK (security IN ('tls', 'starttls', 'none')),
    username             TEXT    NOT NULL,
    folder               TEXT    NOT NULL DEFAULT 'INBOX',
    connect_timeout_ms   INTEGER NOT NULL DEFAULT 15000,
    command_timeout_ms   INTEGER NOT NULL DEFAULT 60000,
    accept_invalid_certs INTEGER NOT NULL DEFAULT 0 CHECK (accept_invalid_certs IN (0, 1)),
    -- What is done to a processed notice in the mailbox: nothing, the \Seen
    -- and $MailroomBounce flags, or a move to `processed_folder`. Never a delete.
    processed            TEXT    NOT NULL DEFAULT 'leave' CHECK (processed IN ('leave', 'flag', 'move')),
    processed_folder     TEXT,
    -- The soft bounce of an address (across campaigns) that suppresses it.
    soft_bounce_limit    INTEGER NOT NULL DEFAULT 3 CHECK (soft_bounce_limit >= 1),
    -- Scans while the app runs, every this many minutes; 0: only on demand
    -- and after campaigns.
    scan_every_minutes   INTEGER NOT NULL DEFAULT 60 CHECK (scan_every_minutes >= 0),
    -- Where the last scan stopped: messages up to last_uid under this
    -- UIDVALIDITY have been read. Another UIDVALIDITY means every UID changed
    -- and the folder is read again (bounces are recorded once each anyway).
    uid_validity         INTEGER,
    last_uid             INTEGER NOT NULL DEFAULT 0,
    last_scan_at         INTEGER,
    last_scan_error      TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- Every bounce matched to a recipient, once per notice: a notice read again
-- (another UIDVALIDITY, a copy in another folder) finds its row already here.
CREATE TABLE bounces (
    id            INTEGER PRIMARY KEY,
    recipient_id  INTEGER NOT NULL REFERENCES recipients (id) ON DELETE CASCADE,
    -- The address in its dedup form (soft bounces are counted per address).
    email         TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('hard', 'soft')),
    -- The enhanced status code (5.1.1), when the notice gives or implies one.
    status_code   TEXT,
    diagnostic    TEXT    NOT NULL,
    -- The server that reported it (Reporting-MTA, or the notice's sender).
    reporting_mta TEXT,
    -- When the notice was written (its Date), else when it was read.
    bounced_at    INTEGER NOT NULL,
    recorded_at   INTEGER NOT NULL,
    mailbox_id    INTEGER REFERENCES mailboxes (id) ON DELETE SET NULL,
    -- The notice's own Message-ID, or a hash of its headers without one.
    fingerprint   TEXT    NOT NULL,
    UNIQUE (recipient_id, fingerprint)
);

CREATE INDEX bounces_by_email ON bounces (email);

-- A bounced recipient stays `sent` (its message was accepted, so no run or
-- resend ever picks it up again) with the bounce marked here; front ends see
-- the state `bounced`. Kept as a column so the status CHECK, and the writer
-- that depends on it, are untouched.
ALTER TABLE recipients ADD COLUMN bounce TEXT CHECK (bounce IN ('hard', 'soft'));
CREATE INDEX recipients_bounced ON recipients (campaign_id) WHERE bounce IS NOT NULL;

-- Where a suppression came from: a mailbox's bounce scan ("bounce scan of
-- work"), an unsubscribe reply, ...; NULL for the SMTP-time and older ones.
ALTER TABLE suppressions ADD COLUMN source TEXT;
