-- Schedules (issue 19): a campaign may start at a time of its own and send
-- only within windows (days of the week and hours) in a time zone of its
-- own. One row per campaign that has either; timestamps are Unix ms (UTC).
CREATE TABLE campaign_schedules (
    campaign_id INTEGER PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    -- When the campaign starts by itself; NULL when it has no start time or
    -- its scheduled start was taken (the run started, or the person chose).
    start_at    INTEGER,
    -- The IANA zone (Europe/Paris) the start was chosen in and the windows
    -- are read in.
    time_zone   TEXT    NOT NULL,
    -- JSON array of windows: [{"days":["mon",...],"start_minute":540,"end_minute":1020}];
    -- empty: any time.
    windows     TEXT    NOT NULL DEFAULT '[]',
    -- The account a scheduled start sends on (NULL: the one it last ran on).
    profile_id  INTEGER REFERENCES smtp_profiles (id) ON DELETE SET NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX campaign_schedules_start ON campaign_schedules (start_at) WHERE start_at IS NOT NULL;
