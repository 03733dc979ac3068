-- Several accounts for one campaign (issue 19).
--
-- An account a provider rule (Gmail's 550 5.4.5 daily limit, until its quota
-- resets) or its own quota suspended, kept so that the suspension outlives
-- the process: a restart does not send into a limit the server is still
-- holding. One row per account; a row whose `until` has passed is over (it
-- is cleared as it is read); a person may clear it sooner ("Resume now").
-- `reason` is JSON of the engine's SuspensionReason. Unix milliseconds.
CREATE TABLE account_suspensions (
    profile_id INTEGER PRIMARY KEY REFERENCES smtp_profiles (id) ON DELETE CASCADE,
    until      INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    since      INTEGER NOT NULL
);

-- A campaign's accounts in the order it uses them: the first that is not
-- suspended sends; when it is suspended the next takes over, and sending
-- moves back when an earlier one frees. A campaign with one account (the
-- common case) has one row; with none, it uses the account it last ran on.
CREATE TABLE campaign_accounts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    profile_id  INTEGER NOT NULL REFERENCES smtp_profiles (id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, position)
);
