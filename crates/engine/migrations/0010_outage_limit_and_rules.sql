-- Issue 19: how long a campaign waits for a server that went away after it
-- accepted mail, before it pauses (10 minutes unless the account says
-- otherwise).
ALTER TABLE smtp_profiles ADD COLUMN outage_limit_ms INTEGER NOT NULL DEFAULT 600000 CHECK (outage_limit_ms > 0);
-- The account's changes to the shipped provider rules (smtp::rules::RuleEdits
-- as JSON: its own rules and the ids of shipped ones it removed); NULL: none.
ALTER TABLE smtp_profiles ADD COLUMN rules TEXT;
