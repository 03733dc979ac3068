-- Where each suppressed address came from, as data the window can say in its
-- own language (issue 18): `source_kind` is what put it there and
-- `source_detail` the account (a bounce scan, an unsubscribe reply) or the
-- file (an import) it came from. `created_at` (0001) is its date.
ALTER TABLE suppressions ADD COLUMN source_kind TEXT NOT NULL DEFAULT 'no_such_user'
    CHECK (source_kind IN ('no_such_user', 'bounce', 'unsubscribe', 'manual', 'imported'));
ALTER TABLE suppressions ADD COLUMN source_detail TEXT;

-- 0007 wrote the source as English ("bounce scan of work", "unsubscribe reply
-- to work"); NULL was a send's "no such user" (the default above).
UPDATE suppressions SET source_kind = 'bounce', source_detail = substr(source, length('bounce scan of ') + 1)
    WHERE source LIKE 'bounce scan of %';
UPDATE suppressions SET source_kind = 'unsubscribe', source_detail = substr(source, length('unsubscribe reply to ') + 1)
    WHERE source LIKE 'unsubscribe reply to %';
UPDATE suppressions SET source_kind = 'manual', source_detail = source
    WHERE source IS NOT NULL AND source_kind = 'no_such_user';
ALTER TABLE suppressions DROP COLUMN source;

-- A send's "no such user" kept its reason as a recipient reason's JSON
-- (`{"kind":"smtp","failure":{...}}`); the list shows reasons as text, so
-- those become the server's words with their codes ("550 5.1.1 User
-- unknown"), as the writer now stores them (`store::suppressions`).
UPDATE suppressions SET reason = trim(
        coalesce(json_extract(reason, '$.failure.code') || ' ', '')
        || coalesce(json_extract(reason, '$.failure.enhanced_code') || ' ', '')
        || coalesce(json_extract(reason, '$.failure.text'), ''))
    WHERE json_valid(reason) AND json_extract(reason, '$.failure.text') IS NOT NULL;

CREATE INDEX suppressions_by_date ON suppressions (created_at DESC, email);
