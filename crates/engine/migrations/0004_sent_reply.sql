-- The server's reply to an accepted message ("250 2.0.0 Ok: queued as 4Bx…"),
-- kept on the recipient: what a person quotes to the provider to trace a
-- delivery. The attempts table keeps the attempts that did not end in a send;
-- a row per success there cost a quarter of each commit's pages while
-- sending (docs/BENCHMARKS.md).
ALTER TABLE recipients ADD COLUMN sent_reply TEXT;
