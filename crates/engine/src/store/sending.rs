//! What a running campaign reads and writes: messages, the recipients to send
//! next, each state change with its attempt, and per-account send counts.
//!
//! Every state change of a run goes through [`StateFile::apply`](super::StateFile::apply), one
//! transaction per batch, so a batch is durable before anything reports it
//! (SPEC invariant 3), and a claim (`sending`) is durable before the message
//! goes on the wire, so after `kill -9` the in-flight recipients are known.

use std::str::FromStr;

use super::Store;
use crate::error::{Error, Result};
use crate::model::{CampaignId, CampaignStatus, MessageDraft, RecipientStatus, StatusCounts, UncertainDecision};
use crate::outcome::{PauseReason, RecipientReason};

/// A recipient the runner will send to.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedRecipient {
    pub id: i64,
    pub row: u64,
    pub email: String,
    pub values: Vec<String>,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Attempts whose content may have reached the server without an answer
    /// (see [`AttemptOutcome::Ambiguous`]); after one, a send may deliver a
    /// second copy.
    pub unanswered: u32,
    /// The message version of its last claim, if it was ever claimed.
    pub message_version: Option<i64>,
}

impl QueuedRecipient {
    /// The message version this recipient must get: the one the server may
    /// already have (its last claim's) when an attempt went unanswered, so a
    /// second copy is the same message under the same Message-ID; else the
    /// run's `current`.
    pub fn version_to_send(&self, current: i64) -> i64 {
        match self.message_version {
            Some(version) if self.unanswered > 0 => version,
            _ => current,
        }
    }
}

/// One attempt that did not end in a send (a sent message's reply is kept on
/// its recipient, see [`StateChange::Sent`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: AttemptOutcome,
    pub stage: AttemptStage,
    pub code: Option<u16>,
    pub enhanced_code: Option<String>,
    pub text: String,
}

/// How an attempt ended, as the attempts table spells it. A closed set: the
/// state writer skips the schema's CHECK constraints (see
/// [`StateFile`](super::StateFile)), so only these values can reach the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Transient,
    Permanent,
    /// The content went out and no answer came (a timeout, a lost or closed
    /// connection, an answer that is not SMTP): the server may have it.
    Ambiguous,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 3] = [Self::Transient, Self::Permanent, Self::Ambiguous];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Ambiguous => "ambiguous",
        }
    }
}

/// Where an attempt ended, as the attempts table spells it (a closed set, as
/// [`AttemptOutcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStage {
    Connect,
    Greeting,
    Ehlo,
    Tls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Render,
}

impl AttemptStage {
    pub const ALL: [AttemptStage; 9] = [
        Self::Connect,
        Self::Greeting,
        Self::Ehlo,
        Self::Tls,
        Self::Auth,
        Self::Mail,
        Self::Rcpt,
        Self::Data,
        Self::Render,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Greeting => "greeting",
            Self::Ehlo => "ehlo",
            Self::Tls => "tls",
            Self::Auth => "auth",
            Self::Mail => "mail",
            Self::Rcpt => "rcpt",
            Self::Data => "data",
            Self::Render => "render",
        }
    }
}

/// A change to one recipient's state.
#[derive(Debug, Clone, PartialEq)]
pub enum StateChange {
    /// `pending`/`retry_wait` → `sending`, counting the attempt, with the
    /// version of the message it is sent; committed before the message is sent.
    Claim { id: i64, version: i64 },
    /// Accepted: `reply` is the server's answer to the content, as one line
    /// (`250 2.0.0 Ok: queued as …`), kept on the recipient's row. `note`
    /// becomes its reason: that an earlier unanswered attempt may have
    /// delivered it too.
    Sent {
        id: i64,
        reply: String,
        note: Option<RecipientReason>,
        /// From the start of the attempt to the server's answer.
        duration_ms: i64,
    },
    /// Waits to be sent again. An ambiguous `attempt` (the at-least-once
    /// account setting) counts as unanswered.
    Retry {
        id: i64,
        next_attempt_at: i64,
        reason: RecipientReason,
        attempt: AttemptRecord,
    },
    /// Failed for good. `suppress` carries the address when the server said
    /// the mailbox does not exist: it joins the suppression list in the same
    /// transaction, so no later campaign can send to it even after a crash.
    Failed {
        id: i64,
        reason: RecipientReason,
        attempt: Option<AttemptRecord>,
        suppress: Option<String>,
    },
    /// Waits until `next_attempt_at` without counting the attempt: a rule
    /// said the account, not this recipient, must wait (a daily quota, a
    /// provider's "come back later").
    Postpone {
        id: i64,
        next_attempt_at: i64,
        reason: RecipientReason,
        attempt: AttemptRecord,
    },
    /// Back to `pending` without counting the attempt: the campaign paused for
    /// a reason that is not this recipient's (wrong password, say).
    Unclaim { id: i64, attempt: Option<AttemptRecord> },
    /// The server may or may not have the message (its content went out and
    /// no answer came): nobody sends it again until a person decides. An
    /// ambiguous `attempt` counts as unanswered.
    Uncertain {
        id: i64,
        reason: RecipientReason,
        attempt: AttemptRecord,
    },
}

/// What [`Store::begin_run`] found and recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStart {
    /// This run's row in `runs`: its attempts and sends name it.
    pub run: i64,
    /// Recipients left `sending` by a run that never finished, now `uncertain`.
    pub uncertain_recovered: u64,
    /// The message this run sends and its version, now kept for good.
    pub message: Option<(i64, MessageDraft)>,
}

impl Store {
    /// The campaign's message, if one was written.
    pub async fn message_draft(&self, campaign: CampaignId) -> Result<Option<MessageDraft>> {
        let json = sqlx::query_scalar!("SELECT draft FROM messages WHERE campaign_id = ?1", campaign)
            .fetch_optional(&self.pool)
            .await?;
        json.map(|json| parse_draft(&json)).transpose()
    }

    /// Saves (replaces) the campaign's message. A message some run already
    /// sent with is kept as it was: the new one is the next version, so every
    /// recipient's record keeps saying which one it got. One statement, so a
    /// run starting at the same moment ([`Store::begin_run`]) sees either
    /// message whole, and keeps whichever it sends.
    pub async fn save_message_draft(&self, campaign: CampaignId, draft: &MessageDraft) -> Result<()> {
        let json = serde_json::to_string(draft).map_err(|e| Error::Internal(e.to_string()))?;
        let now = self.now_ms();
        sqlx::query!(
            "INSERT INTO messages (campaign_id, draft, updated_at, version) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (campaign_id) DO UPDATE SET
                 version = messages.version + (messages.draft != excluded.draft AND EXISTS (
                     SELECT 1 FROM message_versions v
                     WHERE v.campaign_id = messages.campaign_id AND v.version = messages.version)),
                 draft = excluded.draft, updated_at = excluded.updated_at",
            campaign,
            json,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The campaign's message and its version, if one was written.
    pub async fn message_with_version(&self, campaign: CampaignId) -> Result<Option<(i64, MessageDraft)>> {
        let row = sqlx::query!("SELECT version, draft FROM messages WHERE campaign_id = ?1", campaign)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.version, parse_draft(&r.draft)?))).transpose()
    }

    /// Version `version` of the campaign's message, as a run sent it.
    pub async fn message_version(&self, campaign: CampaignId, version: i64) -> Result<Option<MessageDraft>> {
        let json = sqlx::query_scalar!(
            "SELECT draft FROM message_versions WHERE campaign_id = ?1 AND version = ?2",
            campaign,
            version
        )
        .fetch_optional(&self.pool)
        .await?;
        json.map(|json| parse_draft(&json)).transpose()
    }

    /// Recipients left `sending` by a run that never finished become
    /// `uncertain`, as [`Store::begin_run`] makes them; how many.
    pub async fn recover_interrupted(&self, campaign: CampaignId) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let recovered = recover_in_flight(&mut tx, campaign, self.now_ms()).await?;
        tx.commit().await?;
        Ok(recovered)
    }

    /// Starts (or restarts) a run on account `profile`: recipients left
    /// `sending` by a run that never finished become `uncertain` (the server
    /// may have their message; it counts as an unanswered attempt), the
    /// campaign is `running` on `profile`, and the message as it is now is
    /// kept as the version this run sends. One transaction: a message saved
    /// at the same moment is either this run's or the next version.
    pub async fn begin_run(&self, campaign: CampaignId, profile: i64, account: &str) -> Result<RunStart> {
        let now = self.now_ms();
        let mut tx = self.pool.begin().await?;
        // Write first, so the transaction holds the write lock from its first
        // statement (a read first could not become a write once another
        // connection has written). A run that never said how it ended died
        // with its process; the attempts it had in flight are recorded as
        // such (no answer, duration unknown), then their recipients become
        // uncertain.
        let uncertain_recovered = recover_in_flight(&mut tx, campaign, now).await?;
        let suppressed = super::suppressions::skip_suppressed(&mut tx, campaign, now).await?;
        if suppressed > 0 {
            tracing::info!(campaign, suppressed, "recipients suppressed since the import skipped");
        }
        // The account may have been deleted since the caller read it: say so,
        // instead of SQLite's "FOREIGN KEY constraint failed".
        let exists = sqlx::query_scalar!("SELECT id FROM smtp_profiles WHERE id = ?1", profile)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(Error::AccountNotFound(account.to_owned()));
        }
        let run = super::history::open_run(&mut tx, campaign, profile, account, now).await?;
        sqlx::query!(
            "UPDATE campaigns SET status = 'running', pause_reason = NULL, smtp_profile_id = ?2, updated_at = ?3
             WHERE id = ?1",
            campaign,
            profile,
            now
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT OR IGNORE INTO message_versions (campaign_id, version, draft, created_at)
             SELECT campaign_id, version, draft, ?2 FROM messages WHERE campaign_id = ?1",
            campaign,
            now
        )
        .execute(&mut *tx)
        .await?;
        let message = sqlx::query!("SELECT version, draft FROM messages WHERE campaign_id = ?1", campaign)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| Ok::<_, Error>((r.version, parse_draft(&r.draft)?)))
            .transpose()?;
        tx.commit().await?;
        Ok(RunStart {
            run,
            uncertain_recovered,
            message,
        })
    }

    /// Up to `limit` pending recipients with an id above `after`, in id (file) order.
    pub async fn pending_recipients(
        &self,
        campaign: CampaignId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<QueuedRecipient>> {
        let rows = sqlx::query!(
            r#"SELECT id AS "id!", row_number, email, fields, attempts, unanswered, message_version FROM recipients
               WHERE campaign_id = ?1 AND status = 'pending' AND id > ?2
               ORDER BY id LIMIT ?3"#,
            campaign,
            after,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                queued(
                    r.id,
                    r.row_number,
                    r.email,
                    &r.fields,
                    r.attempts,
                    r.unanswered,
                    r.message_version,
                )
            })
            .collect()
    }

    /// The recipient on spreadsheet row `row` (any state), or the first one
    /// that is not skipped.
    pub async fn recipient_at(&self, campaign: CampaignId, row: Option<u64>) -> Result<Option<QueuedRecipient>> {
        let found = match row {
            Some(row) => {
                let row = i64::try_from(row).unwrap_or(i64::MAX);
                sqlx::query!(
                    r#"SELECT id AS "id!", row_number, email, fields, attempts, unanswered, message_version FROM recipients
                       WHERE campaign_id = ?1 AND row_number = ?2"#,
                    campaign,
                    row
                )
                .fetch_optional(&self.pool)
                .await?
                .map(|r| queued(r.id, r.row_number, r.email, &r.fields, r.attempts, r.unanswered, r.message_version))
            }
            None => sqlx::query!(
                r#"SELECT id AS "id!", row_number, email, fields, attempts, unanswered, message_version FROM recipients
                   WHERE campaign_id = ?1 AND status != 'skipped' ORDER BY id LIMIT 1"#,
                campaign
            )
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                queued(
                    r.id,
                    r.row_number,
                    r.email,
                    &r.fields,
                    r.attempts,
                    r.unanswered,
                    r.message_version,
                )
            }),
        };
        found.transpose()
    }

    /// The spreadsheet row of the first recipient whose address contains
    /// `query` (ignoring case), for "find an address" in the preview.
    pub async fn row_matching(&self, campaign: CampaignId, query: &str) -> Result<Option<u64>> {
        let pattern = format!(
            "%{}%",
            query
                .trim()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let row = sqlx::query_scalar!(
            r"SELECT row_number FROM recipients
              WHERE campaign_id = ?1 AND status != 'skipped' AND email LIKE ?2 ESCAPE '\'
              ORDER BY id LIMIT 1",
            campaign,
            pattern
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| u64::try_from(r).unwrap_or(0)))
    }

    /// Up to `limit` recipients waiting to retry whose time has come.
    pub async fn due_retries(&self, campaign: CampaignId, now: i64, limit: i64) -> Result<Vec<QueuedRecipient>> {
        let rows = sqlx::query!(
            r#"SELECT id AS "id!", row_number, email, fields, attempts, unanswered, message_version FROM recipients
               WHERE campaign_id = ?1 AND status = 'retry_wait' AND next_attempt_at <= ?2
               ORDER BY next_attempt_at, id LIMIT ?3"#,
            campaign,
            now,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                queued(
                    r.id,
                    r.row_number,
                    r.email,
                    &r.fields,
                    r.attempts,
                    r.unanswered,
                    r.message_version,
                )
            })
            .collect()
    }

    /// When the next retry of the campaign is due, if any recipient waits for one.
    pub async fn next_retry_at(&self, campaign: CampaignId) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar!(
            r#"SELECT MIN(next_attempt_at) AS "at: i64" FROM recipients
               WHERE campaign_id = ?1 AND status = 'retry_wait'"#,
            campaign
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Messages `profile` sent per minute since `since_minute` (Unix minutes).
    pub async fn send_counts(&self, profile: i64, since_minute: i64) -> Result<Vec<(i64, u64)>> {
        let rows = sqlx::query!(
            "SELECT minute, count FROM send_counts WHERE profile_id = ?1 AND minute >= ?2 ORDER BY minute",
            profile,
            since_minute
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.minute, u64::try_from(r.count).unwrap_or(0)))
            .collect())
    }

    /// Sets the campaign's state, with the reason a person sees for a pause.
    pub async fn set_campaign_status(
        &self,
        campaign: CampaignId,
        status: CampaignStatus,
        reason: Option<&PauseReason>,
    ) -> Result<()> {
        let now = self.now_ms();
        let status = status.as_str();
        let reason = reason.map(PauseReason::to_json);
        sqlx::query!(
            "UPDATE campaigns SET status = ?2, pause_reason = ?3, updated_at = ?4 WHERE id = ?1",
            campaign,
            status,
            reason,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The campaign's counts per recipient state.
    pub async fn status_counts(&self, campaign: CampaignId) -> Result<StatusCounts> {
        let mut counts = StatusCounts::default();
        let by_status = sqlx::query!(
            r#"SELECT status, COUNT(*) AS "count!: i64" FROM recipients WHERE campaign_id = ?1 GROUP BY status"#,
            campaign
        )
        .fetch_all(&self.pool)
        .await?;
        for group in by_status {
            let status = RecipientStatus::from_str(&group.status).map_err(Error::Internal)?;
            *counts.get_mut(status) = u64::try_from(group.count).unwrap_or(0);
        }
        // Bounced recipients are stored as sent with the bounce marked
        // (store/bounces.rs); they are shown as their own state.
        counts.bounced = self.bounced_count(campaign).await?;
        counts.sent = counts.sent.saturating_sub(counts.bounced);
        Ok(counts)
    }

    /// Stops a campaign: every recipient not yet in a final state is `cancelled`.
    pub async fn cancel_unfinished(&self, campaign: CampaignId) -> Result<u64> {
        let now = self.now_ms();
        let stopped = RecipientReason::Stopped.to_json();
        Ok(sqlx::query!(
            "UPDATE recipients SET status = 'cancelled', reason = ?3, updated_at = ?2
             WHERE campaign_id = ?1 AND status IN ('pending', 'retry_wait')",
            campaign,
            now,
            stopped
        )
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The person's decision about uncertain recipients: send them again
    /// (`pending`; the same Message-ID and message version let providers drop
    /// a duplicate) or count them as sent. How many changed.
    ///
    /// A campaign that ended with only this decision left is completed once
    /// they count as sent; one with them to send again waits, paused, for a
    /// resume (a completed or stopped one too, as [`Store::requeue_failed`]).
    pub async fn settle_uncertain(&self, campaign: CampaignId, decision: UncertainDecision) -> Result<u64> {
        let resend = decision == UncertainDecision::Resend;
        let now = self.now_ms();
        let mut tx = self.pool.begin().await?;
        let changed = if resend {
            sqlx::query!(
                "UPDATE recipients SET status = 'pending', reason = NULL, next_attempt_at = NULL, updated_at = ?2
                 WHERE campaign_id = ?1 AND status = 'uncertain'",
                campaign,
                now
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            let marked = RecipientReason::MarkedSent.to_json();
            sqlx::query!(
                "UPDATE recipients SET status = 'sent', reason = ?3, sent_at = ?2, updated_at = ?2
                 WHERE campaign_id = ?1 AND status = 'uncertain'",
                campaign,
                now,
                marked
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if changed > 0 && resend {
            let reason = PauseReason::UncertainToResend { count: changed }.to_json();
            sqlx::query!(
                "UPDATE campaigns SET status = 'paused', pause_reason = ?2, updated_at = ?3
                 WHERE id = ?1 AND status IN ('paused', 'completed', 'stopped')",
                campaign,
                reason,
                now
            )
            .execute(&mut *tx)
            .await?;
        } else if changed > 0 {
            sqlx::query!(
                "UPDATE campaigns SET status = 'completed', pause_reason = NULL, updated_at = ?2
                 WHERE id = ?1 AND status = 'paused' AND NOT EXISTS (
                     SELECT 1 FROM recipients
                     WHERE campaign_id = ?1 AND status IN ('pending', 'sending', 'retry_wait', 'uncertain'))",
                campaign,
                now
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Resend failed: every failed recipient of `campaign` back to `pending`
    /// with a fresh budget of attempts (each past attempt stays in the
    /// attempts table), and the campaign ready to run again: a completed or
    /// stopped campaign becomes paused, with the reason. How many.
    pub async fn requeue_failed(&self, campaign: CampaignId) -> Result<u64> {
        let now = self.now_ms();
        let mut tx = self.pool.begin().await?;
        let requeued = sqlx::query!(
            "UPDATE recipients SET status = 'pending', reason = NULL, attempts = 0, next_attempt_at = NULL, updated_at = ?2
             WHERE campaign_id = ?1 AND status = 'failed'",
            campaign,
            now
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if requeued > 0 {
            ready_to_run_again(&mut tx, campaign, &PauseReason::FailedToResend { count: requeued }, now).await?;
        }
        tx.commit().await?;
        Ok(requeued)
    }

    /// The campaign's account, if it has run before.
    pub async fn campaign_profile(&self, campaign: CampaignId) -> Result<Option<String>> {
        Ok(sqlx::query_scalar!(
            "SELECT p.name FROM campaigns c JOIN smtp_profiles p ON p.id = c.smtp_profile_id WHERE c.id = ?1",
            campaign
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The account a campaign last ran on, of the campaign that ran most
    /// recently (the last account used), if any campaign has run.
    pub async fn last_used_account(&self) -> Result<Option<String>> {
        Ok(sqlx::query_scalar!(
            "SELECT p.name FROM campaigns c JOIN smtp_profiles p ON p.id = c.smtp_profile_id
             ORDER BY c.updated_at DESC, c.id DESC LIMIT 1"
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The recipient on spreadsheet row `row` if it was skipped at import:
    /// its address and why (none for a reason lost to an old file).
    pub async fn skipped_at(
        &self,
        campaign: CampaignId,
        row: u64,
    ) -> Result<Option<(String, Option<RecipientReason>)>> {
        let row = i64::try_from(row).unwrap_or(i64::MAX);
        let found = sqlx::query!(
            "SELECT email, reason FROM recipients WHERE campaign_id = ?1 AND row_number = ?2 AND status = 'skipped'",
            campaign,
            row
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|r| (r.email, r.reason.as_deref().map(RecipientReason::from_stored))))
    }

    /// Copies the write-ahead log into the database and has the next write
    /// start it over, reusing the space it has (see
    /// [`StateFile::restart_log`](super::StateFile::restart_log)): what lets
    /// a full disk still take a campaign's paused state. Whether it completed.
    pub async fn restart_log(&self) -> bool {
        sqlx::query_scalar::<_, i64>("PRAGMA wal_checkpoint(RESTART)")
            .fetch_one(&self.pool)
            .await
            .is_ok_and(|busy| busy == 0)
    }

    /// Why the campaign is paused, if it is.
    pub async fn pause_reason(&self, campaign: CampaignId) -> Result<Option<PauseReason>> {
        Ok(
            sqlx::query_scalar!("SELECT pause_reason FROM campaigns WHERE id = ?1", campaign)
                .fetch_optional(&self.pool)
                .await?
                .flatten()
                .as_deref()
                .map(PauseReason::from_stored),
        )
    }
}

fn queued(
    id: i64,
    row: i64,
    email: String,
    fields: &str,
    attempts: i64,
    unanswered: i64,
    message_version: Option<i64>,
) -> Result<QueuedRecipient> {
    Ok(QueuedRecipient {
        id,
        row: u64::try_from(row).unwrap_or(0),
        email,
        values: serde_json::from_str(fields).map_err(|e| Error::Internal(format!("stored fields: {e}")))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        unanswered: u32::try_from(unanswered).unwrap_or(u32::MAX),
        message_version,
    })
}

fn parse_draft(json: &str) -> Result<MessageDraft> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("stored message: {e}")))
}

/// A saved message template, as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TemplateSummary {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub id: i64,
    pub name: String,
    pub subject: String,
    /// Unix milliseconds.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub updated_at: i64,
}

impl Store {
    /// Saves `draft` as the template `name`, replacing one of that name.
    pub async fn save_template(&self, name: &str, draft: &MessageDraft) -> Result<()> {
        let json = serde_json::to_string(draft).map_err(|e| Error::Internal(e.to_string()))?;
        let now = self.now_ms();
        sqlx::query!(
            "INSERT INTO message_templates (name, draft, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (name) DO UPDATE SET draft = excluded.draft, updated_at = excluded.updated_at",
            name,
            json,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every template, by name.
    pub async fn templates(&self) -> Result<Vec<TemplateSummary>> {
        let rows = sqlx::query!(r#"SELECT id AS "id!", name, draft, updated_at FROM message_templates ORDER BY name"#)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                let draft: MessageDraft =
                    serde_json::from_str(&r.draft).map_err(|e| Error::Internal(format!("stored template: {e}")))?;
                Ok(TemplateSummary {
                    id: r.id,
                    name: r.name,
                    subject: draft.subject,
                    updated_at: r.updated_at,
                })
            })
            .collect()
    }

    /// The template called `name`.
    pub async fn template(&self, name: &str) -> Result<MessageDraft> {
        let json = sqlx::query_scalar!("SELECT draft FROM message_templates WHERE name = ?1", name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::TemplateNotFound(name.to_owned()))?;
        serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored template: {e}")))
    }

    /// Deletes the template called `name`.
    pub async fn delete_template(&self, name: &str) -> Result<()> {
        let deleted = sqlx::query!("DELETE FROM message_templates WHERE name = ?1", name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(Error::TemplateNotFound(name.to_owned()));
        }
        Ok(())
    }
}

/// Recipients of `campaign` were put back to `pending` in `tx` (a resend the
/// person chose): a completed or stopped campaign becomes paused with
/// `reason`, ready to run again; a paused or draft one stays as it is.
pub(super) async fn ready_to_run_again(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    campaign: CampaignId,
    reason: &PauseReason,
    now: i64,
) -> Result<()> {
    let reason = reason.to_json();
    sqlx::query!(
        "UPDATE campaigns SET status = 'paused', pause_reason = ?2, updated_at = ?3
                 WHERE id = ?1 AND status IN ('completed', 'stopped')",
        campaign,
        reason,
        now
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// In `tx`: the run of `campaign` that never said how it ended is closed as
/// interrupted, the attempts it had in flight are recorded (no answer,
/// duration unknown), then their recipients become `uncertain` (after that,
/// nothing says which were in flight). How many recipients.
async fn recover_in_flight(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    campaign: CampaignId,
    now: i64,
) -> Result<u64> {
    let in_flight = RecipientReason::InFlightAtStop.to_json();
    let previous = super::history::close_interrupted_runs(tx, campaign).await?;
    super::history::record_in_flight_attempts(tx, campaign, previous).await?;
    Ok(sqlx::query!(
        "UPDATE recipients
             SET status = 'uncertain', updated_at = ?2, reason = ?3, unanswered = unanswered + 1
             WHERE campaign_id = ?1 AND status = 'sending'",
        campaign,
        now,
        in_flight
    )
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
