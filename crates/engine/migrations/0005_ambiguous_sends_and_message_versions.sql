-- Sends whose content went out without an answer, and which message each
-- recipient got. Timestamps are Unix milliseconds (UTC).

-- Whether a send that got no answer after its content (the server may have
-- it) is retried on its own, with the same Message-ID (at least once, as mail
-- servers do), instead of waiting as `uncertain` for a person's decision.
ALTER TABLE smtp_profiles ADD COLUMN retry_ambiguous INTEGER NOT NULL DEFAULT 0 CHECK (retry_ambiguous IN (0, 1));

-- Attempts whose content may have reached the server without an answer (a
-- timeout or a lost connection after the content, or in flight at a crash).
-- A recipient sent after one may have the message more than once.
ALTER TABLE recipients ADD COLUMN unanswered INTEGER NOT NULL DEFAULT 0;
-- The version of the campaign's message (message_versions) of the last
-- claim: what this recipient got, or may have got.
ALTER TABLE recipients ADD COLUMN message_version INTEGER;

-- The campaign's message as it is now; `version` goes up when a message
-- that a run already sent with is changed.
ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- Every version of a message a run sent with, kept so that a recipient whose
-- message may have reached the server is resent exactly that content under
-- its Message-ID.
CREATE TABLE message_versions (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    -- JSON of the engine's MessageDraft.
    draft       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, version)
) WITHOUT ROWID;

-- Campaigns that ran before this migration sent their message as it is now
-- (it could change under them, which this migration ends).
INSERT INTO message_versions (campaign_id, version, draft, created_at)
SELECT m.campaign_id, 1, m.draft, m.updated_at
FROM messages m JOIN campaigns c ON c.id = m.campaign_id
WHERE c.status != 'draft';

UPDATE recipients
SET unanswered = (SELECT COUNT(*) FROM attempts a WHERE a.recipient_id = recipients.id AND a.outcome = 'ambiguous')
                 + (status = 'uncertain')
WHERE status = 'uncertain' OR id IN (SELECT recipient_id FROM attempts WHERE outcome = 'ambiguous');
