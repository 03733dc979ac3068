-- Results that tell every recipient's story (issue 18): each run of a
-- campaign, which run made each attempt (and so on which account), the sent
-- attempt's duration and run, and what the recipients table filters and
-- pages by. Timestamps are Unix milliseconds (UTC).

-- One run of a campaign: the first send, each resume, each resend. Ended
-- runs say how (completed, paused, stopped) and why; a run whose process
-- died has no end until the next run starts, which marks it interrupted.
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    campaign_id     INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL
                    CHECK (kind IN ('first', 'resume', 'resend_failed', 'resend_uncertain', 'resend_bounced')),
    -- The account it sent on, and its name then (the account may be renamed
    -- or deleted later; the history keeps what was true).
    profile_id      INTEGER REFERENCES smtp_profiles (id) ON DELETE SET NULL,
    account         TEXT    NOT NULL,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    outcome         TEXT    CHECK (outcome IN ('completed', 'paused', 'stopped', 'interrupted')),
    -- JSON of the engine's PauseReason when it paused.
    end_reason      TEXT,
    -- JSON of the engine's StatusCounts when it started and ended; the run's
    -- own figures are the difference.
    counts_at_start TEXT    NOT NULL,
    counts_at_end   TEXT,
    -- A resend's choices: what it sent again and what it left out, and why
    -- (JSON of the engine's ResendPlan).
    resend          TEXT
);

CREATE INDEX runs_by_campaign ON runs (campaign_id);

-- The resend a person chose, waiting for the run that sends it (which moves
-- it to runs.resend).
ALTER TABLE campaigns ADD COLUMN next_resend TEXT;

-- The run that made an attempt (its account is the run's). No foreign key:
-- a run goes only with its campaign, whose recipients' attempts go with it,
-- and the check would cost a lookup per attempt written while sending.
ALTER TABLE attempts ADD COLUMN run_id INTEGER;

-- The attempt that ended in a send is kept on the recipient (a row per
-- success in attempts cost a quarter of each commit's pages, see 0004):
-- the run that sent it and how long the transaction took.
ALTER TABLE recipients ADD COLUMN sent_run INTEGER;
ALTER TABLE recipients ADD COLUMN sent_ms INTEGER;

-- What the Results table filters by: the reason's kind, with the server's
-- permanent "no such user" (5.1.x, 5.2.1, or a 550 saying so; the rule of
-- Failure::is_unknown_mailbox, which a store test holds this to) told
-- apart from its other refusals. Computed, never written, so every writer of
-- a reason keeps it true.
ALTER TABLE recipients ADD COLUMN reason_class TEXT GENERATED ALWAYS AS (
    CASE
        WHEN reason IS NULL OR NOT json_valid(reason) THEN NULL
        WHEN json_extract(reason, '$.kind') = 'smtp' THEN
            CASE
                WHEN json_extract(reason, '$.failure.code') >= 500 AND (
                    CASE
                        WHEN json_extract(reason, '$.failure.enhanced_code') IS NOT NULL
                            THEN json_extract(reason, '$.failure.enhanced_code') LIKE '5.1.%'
                                 OR json_extract(reason, '$.failure.enhanced_code') = '5.2.1'
                        ELSE json_extract(reason, '$.failure.code') = 550
                             AND (json_extract(reason, '$.failure.text') LIKE '%unknown%'
                                  OR json_extract(reason, '$.failure.text') LIKE '%no such%'
                                  OR json_extract(reason, '$.failure.text') LIKE '%does not exist%'
                                  OR json_extract(reason, '$.failure.text') LIKE '%not found%')
                    END)
                    THEN 'no_such_user'
                ELSE 'smtp'
            END
        ELSE json_extract(reason, '$.kind')
    END
) VIRTUAL;

-- Filter by reason (and state) in file order, for a page at any depth of a
-- 1,000,000-row campaign; and the counts per reason. Only rows with a reason
-- (failed, skipped, waiting, uncertain...): a sent or pending row has none.
CREATE INDEX recipients_by_reason ON recipients (campaign_id, reason_class, status) WHERE reason IS NOT NULL;

-- Every recipient of a campaign in id (file) order, a page at any depth: with
-- only (campaign_id, status), SQLite read all 1,000,000 entries and sorted
-- them for a first page (266 ms); with this, a page is a range read (1 ms).
CREATE INDEX recipients_by_campaign ON recipients (campaign_id, id);
