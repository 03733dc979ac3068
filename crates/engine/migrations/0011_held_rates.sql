-- The rate that held on an account without throttle replies (issue 19): a
-- throttling server's limit, found by the last campaign on the account, so
-- the next one starts there rather than at the configured maximum. One row
-- per account, replaced after each run that learned it; dropped with the
-- account, and when its server (host or port) changes. Unix milliseconds.
CREATE TABLE held_rates (
    profile_id INTEGER PRIMARY KEY REFERENCES smtp_profiles (id) ON DELETE CASCADE,
    rate       REAL    NOT NULL CHECK (rate > 0),
    held_at    INTEGER NOT NULL
);
