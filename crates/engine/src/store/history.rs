//! What Results reads and the resend writes: a page of a campaign's
//! recipients by state, reason and text (keyset paging, so the 10,000th page
//! of 1,000,000 rows costs what the first does); the counts its filters
//! show; one recipient's history; the runs of a campaign (opened by
//! `begin_run`, closed when the run ends); and the resend a person chose.
//!
//! The page query is built at run time (sqlx's `QueryBuilder`): which index
//! serves it depends on which filters are set, and one SQL text with
//! `?n IS NULL OR ...` for each would let SQLite use none of them.

use std::collections::HashSet;
use std::str::FromStr;

use indexmap::IndexMap;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::Store;
use crate::error::{Error, Result};
use crate::model::{
    BounceKind, CampaignId, CampaignStatus, Recipient, RecipientStatus, StatusCounts, UncertainDecision,
};
use crate::outcome::{PauseReason, RecipientReason};
use crate::results::{
    AttemptResult, AttemptView, BounceView, LeftOut, LeftOutWhy, ReasonClass, ReasonCount, RecipientFacets,
    RecipientHistory, RecipientPage, RecipientQuery, ResendChoice, ResendPlan, RunCounts, RunEnd, RunKind, RunRecord,
    StateFilter, shown_status,
};

/// The text an attempt in flight at a crash is recorded with.
const IN_FLIGHT_TEXT: &str = "in flight when Mailroom stopped: no answer was recorded";
/// `attempts.duration_ms` of such an attempt: unknown.
const UNKNOWN_DURATION: i64 = -1;

/// A resend chosen and not yet run (`campaigns.next_resend`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PendingResend {
    kind: RunKind,
    plan: Option<ResendPlan>,
}

/// Marks the campaign's runs that never ended as interrupted (their process
/// died); returns the newest run's id, whose attempts were in flight.
pub(super) async fn close_interrupted_runs(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    campaign: CampaignId,
) -> Result<Option<i64>> {
    sqlx::query!(
        "UPDATE runs SET outcome = 'interrupted' WHERE campaign_id = ?1 AND outcome IS NULL",
        campaign
    )
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query_scalar!(
        r#"SELECT MAX(id) AS "id: i64" FROM runs WHERE campaign_id = ?1"#,
        campaign
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Records an attempt for each recipient left `sending` (claimed, its
/// message maybe sent, no answer recorded): the history shows it, with no
/// code, no duration, and the run that claimed it.
pub(super) async fn record_in_flight_attempts(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    campaign: CampaignId,
    run: Option<i64>,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO attempts (recipient_id, started_at, duration_ms, outcome, stage, text, run_id)
         SELECT id, updated_at, ?2, 'ambiguous', 'data', ?3, ?4
         FROM recipients WHERE campaign_id = ?1 AND status = 'sending'",
        campaign,
        UNKNOWN_DURATION,
        IN_FLIGHT_TEXT,
        run
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Opens a run of `campaign` on account `profile` (`account` by name): a
/// resend the person chose is this run's kind (and its choices move here);
/// else the first run of a draft, or a resume.
pub(super) async fn open_run(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    campaign: CampaignId,
    profile: i64,
    account: &str,
    now: i64,
) -> Result<i64> {
    let row = sqlx::query!("SELECT status, next_resend FROM campaigns WHERE id = ?1", campaign)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::CampaignNotFound(campaign.to_string()))?;
    let pending = row
        .next_resend
        .as_deref()
        .and_then(|json| serde_json::from_str::<PendingResend>(json).ok());
    let kind = match &pending {
        Some(pending) => pending.kind,
        None if row.status == CampaignStatus::Draft.as_str() => RunKind::First,
        None => RunKind::Resume,
    };
    let resend = pending
        .and_then(|p| p.plan)
        .map(|plan| serde_json::to_string(&plan))
        .transpose()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let counts = counts_in(tx, campaign).await?;
    let counts = serde_json::to_string(&counts).map_err(|e| Error::Internal(e.to_string()))?;
    let kind = kind.as_str();
    let run = sqlx::query_scalar!(
        r#"INSERT INTO runs (campaign_id, kind, profile_id, account, started_at, counts_at_start, resend)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id AS "id!: i64""#,
        campaign,
        kind,
        profile,
        account,
        now,
        counts,
        resend
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query!("UPDATE campaigns SET next_resend = NULL WHERE id = ?1", campaign)
        .execute(&mut **tx)
        .await?;
    Ok(run)
}

/// The campaign's counts per state, on `conn` (inside a transaction).
async fn counts_in(conn: &mut SqliteConnection, campaign: CampaignId) -> Result<StatusCounts> {
    let mut counts = StatusCounts::default();
    let rows = sqlx::query!(
        r#"SELECT status, bounce IS NOT NULL AS "bounced!: bool", COUNT(*) AS "count!: i64"
           FROM recipients WHERE campaign_id = ?1 GROUP BY status, bounce IS NOT NULL"#,
        campaign
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let status = shown_status(
            RecipientStatus::from_str(&row.status).map_err(Error::Internal)?,
            row.bounced,
        );
        *counts.get_mut(status) += u64::try_from(row.count).unwrap_or(0);
    }
    Ok(counts)
}

impl Store {
    /// The account that sent each recipient of `campaign` on rows `first` to
    /// `last` (its sent run's), else the account of its last attempt, by row:
    /// the `account` column of exports.
    pub async fn accounts_by_row(
        &self,
        campaign: CampaignId,
        first: u64,
        last: u64,
    ) -> Result<std::collections::HashMap<u64, String>> {
        let rows = sqlx::query(
            "SELECT r.row_number AS row_number,
                    COALESCE(sr.account, (SELECT ru.account FROM attempts a JOIN runs ru ON ru.id = a.run_id
                                          WHERE a.recipient_id = r.id ORDER BY a.id DESC LIMIT 1)) AS account
             FROM recipients r LEFT JOIN runs sr ON sr.id = r.sent_run
             WHERE r.campaign_id = ?1 AND r.row_number BETWEEN ?2 AND ?3",
        )
        .bind(campaign)
        .bind(i64::try_from(first).unwrap_or(i64::MAX))
        .bind(i64::try_from(last).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut accounts = std::collections::HashMap::new();
        for row in rows {
            let number: i64 = row.try_get("row_number")?;
            let account: Option<String> = row.try_get("account")?;
            if let (Ok(number), Some(account)) = (u64::try_from(number), account) {
                accounts.insert(number, account);
            }
        }
        Ok(accounts)
    }

    /// Says how run `run` ended: its outcome, the reason it paused, and the
    /// counts it left.
    pub async fn end_run(&self, run: i64, end: RunEnd, reason: Option<&PauseReason>) -> Result<()> {
        let now = self.now_ms();
        let mut conn = self.pool.acquire().await?;
        let campaign = sqlx::query_scalar!("SELECT campaign_id FROM runs WHERE id = ?1", run)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(campaign) = campaign else {
            return Ok(());
        };
        let counts = counts_in(&mut conn, campaign).await?;
        let counts = serde_json::to_string(&counts).map_err(|e| Error::Internal(e.to_string()))?;
        let end = end.as_str();
        let reason = reason.map(PauseReason::to_json);
        sqlx::query!(
            "UPDATE runs SET ended_at = ?2, outcome = ?3, end_reason = ?4, counts_at_end = ?5 WHERE id = ?1",
            run,
            now,
            end,
            reason,
            counts
        )
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Every run of `campaign`, oldest first.
    pub async fn runs(&self, campaign: CampaignId) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query!(
            r#"SELECT id AS "id!: i64", kind, account, started_at, ended_at, outcome, end_reason, counts_at_start,
                      counts_at_end, resend
               FROM runs WHERE campaign_id = ?1 ORDER BY id"#,
            campaign
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let counts_at_start = parse_counts(&row.counts_at_start)?;
                let counts_at_end = row.counts_at_end.as_deref().map(parse_counts).transpose()?;
                Ok(RunRecord {
                    id: row.id,
                    kind: RunKind::from_str(&row.kind).map_err(Error::Internal)?,
                    account: row.account,
                    started_at: row.started_at,
                    ended_at: row.ended_at,
                    end: row
                        .outcome
                        .as_deref()
                        .map(RunEnd::from_str)
                        .transpose()
                        .map_err(Error::Internal)?,
                    reason: row.end_reason.as_deref().map(PauseReason::from_stored),
                    outcome_counts: counts_at_end
                        .as_ref()
                        .map(|end| RunCounts::between(&counts_at_start, end)),
                    counts_at_start,
                    counts_at_end,
                    resend: row
                        .resend
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| Error::Internal(format!("stored resend: {e}")))?,
                })
            })
            .collect()
    }

    /// A page of `campaign`'s recipients matching `query`, in file order.
    pub async fn recipient_page(&self, campaign: CampaignId, query: &RecipientQuery) -> Result<RecipientPage> {
        let columns = self.campaign_columns(campaign).await?;
        let limit = i64::from(query.page_size());
        let backwards = query.before.is_some() && query.after.is_none();
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT id, row_number, email, status, reason, sent_reply, attempts, unanswered, message_version, fields, \
             bounce FROM recipients WHERE campaign_id = ",
        );
        sql.push_bind(campaign);
        push_filters(&mut sql, query.state, query.reason, query.search.as_deref());
        if let Some(after) = query.after {
            sql.push(" AND id > ").push_bind(after);
        } else if let Some(before) = query.before {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(if backwards { " ORDER BY id DESC" } else { " ORDER BY id" });
        sql.push(" LIMIT ").push_bind(limit + 1);
        if let Some(offset) = query.offset.filter(|_| !backwards) {
            sql.push(" OFFSET ")
                .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
        }
        let rows = sql.build().fetch_all(&self.pool).await?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let mut page = Vec::with_capacity(rows.len());
        for row in rows.into_iter().take(usize::try_from(limit).unwrap_or(usize::MAX)) {
            let id: i64 = row.try_get("id")?;
            page.push((id, recipient_from(&row, &columns)?));
        }
        if backwards {
            page.reverse();
        }
        let first = page.first().map(|(id, _)| *id);
        let last = page.last().map(|(id, _)| *id);
        let (next, previous) = if backwards {
            (last, if more { first } else { None })
        } else {
            let earlier = query.after.is_some() || query.offset.is_some_and(|o| o > 0);
            (if more { last } else { None }, if earlier { first } else { None })
        };
        Ok(RecipientPage {
            recipients: page.into_iter().map(|(_, r)| r).collect(),
            next,
            previous,
        })
    }

    /// The counts the recipients table's filters show: per state, and per
    /// kind of reason among the recipients in `state` (all when `None`).
    pub async fn recipient_facets(&self, campaign: CampaignId, state: Option<StateFilter>) -> Result<RecipientFacets> {
        let counts = self.status_counts(campaign).await?;
        let suppressed = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "count!: i64" FROM recipients
               WHERE campaign_id = ?1 AND reason IS NOT NULL AND reason_class = 'suppressed' AND status = 'skipped'"#,
            campaign
        )
        .fetch_one(&self.pool)
        .await?;
        let mut sql =
            QueryBuilder::<Sqlite>::new("SELECT reason_class, COUNT(*) AS count FROM recipients WHERE campaign_id = ");
        sql.push_bind(campaign);
        sql.push(" AND reason IS NOT NULL");
        push_filters(&mut sql, state, None, None);
        sql.push(" GROUP BY reason_class ORDER BY COUNT(*) DESC");
        let mut reasons = Vec::new();
        for row in sql.build().fetch_all(&self.pool).await? {
            let class: Option<String> = row.try_get("reason_class")?;
            let count: i64 = row.try_get("count")?;
            let reason = class
                .as_deref()
                .and_then(|c| ReasonClass::from_str(c).ok())
                .unwrap_or(ReasonClass::Legacy);
            reasons.push(ReasonCount {
                reason,
                count: u64::try_from(count).unwrap_or(0),
            });
        }
        Ok(RecipientFacets {
            counts,
            suppressed: u64::try_from(suppressed).unwrap_or(0),
            reasons,
        })
    }

    /// The spreadsheet row of the recipient with address `address` (ignoring
    /// case): the one that was not skipped, else the first.
    pub async fn row_of_address(&self, campaign: CampaignId, address: &str) -> Result<Option<u64>> {
        let address = address.trim();
        let row = sqlx::query_scalar!(
            "SELECT row_number FROM recipients WHERE campaign_id = ?1 AND email = ?2 COLLATE NOCASE
             ORDER BY status = 'skipped', id LIMIT 1",
            campaign,
            address
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| u64::try_from(r).unwrap_or(0)))
    }

    /// Everything that happened to the recipient on spreadsheet row `row`:
    /// each attempt with its account, stage, codes, the server's words and
    /// duration; the send with the server's reply; bounces after it.
    pub async fn recipient_history(&self, campaign: CampaignId, row: u64) -> Result<RecipientHistory> {
        let columns = self.campaign_columns(campaign).await?;
        let row_number = i64::try_from(row).unwrap_or(i64::MAX);
        let stored = sqlx::query(
            "SELECT id, row_number, email, status, reason, sent_reply, attempts, unanswered, message_version, fields, \
             bounce, updated_at, sent_at, sent_ms, sent_run FROM recipients WHERE campaign_id = ?1 AND row_number = ?2",
        )
        .bind(campaign)
        .bind(row_number)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::RowNotFound {
            campaign: campaign.to_string(),
            row,
        })?;
        let id: i64 = stored.try_get("id")?;
        let recipient = recipient_from(&stored, &columns)?;
        let updated_at: i64 = stored.try_get("updated_at")?;
        let mut attempts: Vec<AttemptView> = sqlx::query!(
            r#"SELECT a.started_at, a.duration_ms, a.outcome, a.stage, a.smtp_code, a.enhanced_code, a.text,
                      a.run_id, r.account AS "account?"
               FROM attempts a LEFT JOIN runs r ON r.id = a.run_id
               WHERE a.recipient_id = ?1 ORDER BY a.started_at, a.id"#,
            id
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|a| AttemptView {
            started_at: a.started_at,
            duration_ms: (a.duration_ms >= 0).then_some(a.duration_ms),
            result: match a.outcome.as_str() {
                "transient" => AttemptResult::Transient,
                "permanent" => AttemptResult::Permanent,
                _ => AttemptResult::Ambiguous,
            },
            stage: a.stage,
            code: a.smtp_code.and_then(|c| u16::try_from(c).ok()),
            enhanced_code: a.enhanced_code,
            text: a.text,
            account: a.account,
            run: a.run_id,
        })
        .collect();
        // The send itself is kept on the recipient (migration 0004/0008).
        let status: String = stored.try_get("status")?;
        let reply: Option<String> = stored.try_get("sent_reply")?;
        let sent_at: Option<i64> = stored.try_get("sent_at")?;
        if let (true, Some(reply), Some(sent_at)) = (status == "sent", reply, sent_at) {
            let duration: Option<i64> = stored.try_get("sent_ms")?;
            let run: Option<i64> = stored.try_get("sent_run")?;
            let account = match run {
                Some(run) => {
                    sqlx::query_scalar!("SELECT account FROM runs WHERE id = ?1", run)
                        .fetch_optional(&self.pool)
                        .await?
                }
                None => None,
            };
            let (code, enhanced) = reply_codes(&reply);
            attempts.push(AttemptView {
                started_at: sent_at - duration.unwrap_or(0),
                duration_ms: duration,
                result: AttemptResult::Sent,
                stage: "data".to_owned(),
                code,
                enhanced_code: enhanced,
                text: Some(reply),
                account,
                run,
            });
        }
        let bounces = sqlx::query!(
            "SELECT bounced_at, kind, status_code, diagnostic, reporting_mta FROM bounces
             WHERE recipient_id = ?1 ORDER BY bounced_at, id",
            id
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|b| {
            Ok(BounceView {
                bounced_at: b.bounced_at,
                kind: BounceKind::from_str(&b.kind).map_err(Error::Internal)?,
                status: b.status_code,
                diagnostic: b.diagnostic,
                reporting_mta: b.reporting_mta,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(RecipientHistory {
            recipient,
            updated_at,
            attempts,
            bounces,
        })
    }

    /// What a resend with `choice` would send again and leave out; nothing changes.
    pub async fn resend_plan(&self, campaign: CampaignId, choice: &ResendChoice) -> Result<ResendPlan> {
        let mut conn = self.pool.acquire().await?;
        Ok(plan_resend(&mut conn, campaign, choice).await?.0)
    }

    /// Resend failed as the person chose: the failed recipients of the
    /// chosen kinds (not suppressed, unless chosen) back to `pending` with a
    /// fresh budget of attempts, and the uncertain and bounced ones when
    /// chosen; the campaign ready to run again, the plan kept for the run
    /// that sends it. Past attempts stay in the history.
    pub async fn requeue_for_resend(&self, campaign: CampaignId, choice: &ResendChoice) -> Result<ResendPlan> {
        let now = self.now_ms();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (plan, ids) = plan_resend(&mut tx, campaign, choice).await?;
        // In chunks, each one statement over a JSON array of ids.
        for chunk in ids.chunks(10_000) {
            let json = serde_json::to_string(chunk).map_err(|e| Error::Internal(e.to_string()))?;
            sqlx::query!(
                "UPDATE recipients SET status = 'pending', reason = NULL, attempts = 0, next_attempt_at = NULL,
                        updated_at = ?2
                 WHERE campaign_id = ?1 AND status = 'failed' AND id IN (SELECT value FROM json_each(?3))",
                campaign,
                now,
                json
            )
            .execute(&mut *tx)
            .await?;
        }
        if choice.include_uncertain {
            sqlx::query!(
                "UPDATE recipients SET status = 'pending', reason = NULL, next_attempt_at = NULL, updated_at = ?2
                 WHERE campaign_id = ?1 AND status = 'uncertain'",
                campaign,
                now
            )
            .execute(&mut *tx)
            .await?;
        }
        if choice.include_bounced {
            sqlx::query!(
                "UPDATE recipients SET status = 'pending', bounce = NULL, reason = NULL, attempts = 0,
                     next_attempt_at = NULL, updated_at = ?2
                 WHERE campaign_id = ?1 AND status = 'sent' AND bounce IS NOT NULL",
                campaign,
                now
            )
            .execute(&mut *tx)
            .await?;
        }
        if plan.to_send > 0 {
            let failed = u64::try_from(ids.len()).unwrap_or(u64::MAX);
            let kind = if failed == 0 && plan.uncertain > 0 && choice.include_uncertain {
                RunKind::ResendUncertain
            } else if failed == 0 && choice.include_bounced {
                RunKind::ResendBounced
            } else {
                RunKind::ResendFailed
            };
            let reason = match kind {
                RunKind::ResendUncertain => PauseReason::UncertainToResend { count: plan.to_send },
                RunKind::ResendBounced => PauseReason::BouncedToResend { count: plan.to_send },
                _ => PauseReason::FailedToResend { count: plan.to_send },
            };
            super::sending::ready_to_run_again(&mut tx, campaign, &reason, now).await?;
            let pending = PendingResend {
                kind,
                plan: Some(plan.clone()),
            };
            let json = serde_json::to_string(&pending).map_err(|e| Error::Internal(e.to_string()))?;
            sqlx::query!("UPDATE campaigns SET next_resend = ?2 WHERE id = ?1", campaign, json)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(plan)
    }

    /// The person's decision about some uncertain recipients (spreadsheet
    /// `rows`), or all when `rows` is `None`: as [`Store::settle_uncertain`].
    pub async fn settle_uncertain_rows(
        &self,
        campaign: CampaignId,
        rows: Option<&[u64]>,
        decision: UncertainDecision,
    ) -> Result<u64> {
        let Some(rows) = rows else {
            return self.settle_uncertain(campaign, decision).await;
        };
        let resend = decision == UncertainDecision::Resend;
        let now = self.now_ms();
        let json = serde_json::to_string(rows).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let changed = if resend {
            sqlx::query!(
                "UPDATE recipients SET status = 'pending', reason = NULL, next_attempt_at = NULL, updated_at = ?2
                 WHERE campaign_id = ?1 AND status = 'uncertain' AND row_number IN (SELECT value FROM json_each(?3))",
                campaign,
                now,
                json
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            let marked = RecipientReason::MarkedSent.to_json();
            sqlx::query!(
                "UPDATE recipients SET status = 'sent', reason = ?4, sent_at = ?2, updated_at = ?2
                 WHERE campaign_id = ?1 AND status = 'uncertain' AND row_number IN (SELECT value FROM json_each(?3))",
                campaign,
                now,
                json,
                marked
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if changed > 0 && resend {
            let reason = PauseReason::UncertainToResend { count: changed };
            super::sending::ready_to_run_again(&mut tx, campaign, &reason, now).await?;
            let pending = serde_json::to_string(&PendingResend {
                kind: RunKind::ResendUncertain,
                plan: None,
            })
            .map_err(|e| Error::Internal(e.to_string()))?;
            sqlx::query!("UPDATE campaigns SET next_resend = ?2 WHERE id = ?1", campaign, pending)
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

    async fn campaign_columns(&self, campaign: CampaignId) -> Result<Vec<String>> {
        let json = sqlx::query_scalar!("SELECT columns FROM campaigns WHERE id = ?1", campaign)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::CampaignNotFound(campaign.to_string()))?;
        serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored columns: {e}")))
    }
}

/// The plan of a resend with `choice`, and the failed recipients it sends again.
async fn plan_resend(
    conn: &mut SqliteConnection,
    campaign: CampaignId,
    choice: &ResendChoice,
) -> Result<(ResendPlan, Vec<i64>)> {
    // Suppression keys are the address's dedup form, which SQL's lower()
    // (ASCII only) cannot make: compared here.
    let suppressed: HashSet<String> = sqlx::query_scalar!("SELECT email FROM suppressions")
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    let failed = sqlx::query!(
        r#"SELECT id AS "id!: i64", email, reason_class FROM recipients WHERE campaign_id = ?1 AND status = 'failed'
           ORDER BY id"#,
        campaign
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_class: IndexMap<ReasonClass, u64> = IndexMap::new();
    let mut left_out: IndexMap<LeftOutWhy, u64> = IndexMap::new();
    let mut ids = Vec::new();
    let mut suppressed_count = 0;
    for row in failed {
        let class = row
            .reason_class
            .as_deref()
            .and_then(|c| ReasonClass::from_str(c).ok())
            .unwrap_or(ReasonClass::Legacy);
        *by_class.entry(class).or_default() += 1;
        if !choice.includes(class) {
            *left_out.entry(LeftOutWhy::Reason(class)).or_default() += 1;
            continue;
        }
        if suppressed.contains(&crate::address::dedup_key(&row.email)) {
            suppressed_count += 1;
            if !choice.include_suppressed {
                *left_out.entry(LeftOutWhy::Suppressed).or_default() += 1;
                continue;
            }
        }
        ids.push(row.id);
    }
    let counts = counts_in(conn, campaign).await?;
    if !choice.include_uncertain && counts.uncertain > 0 {
        left_out.insert(LeftOutWhy::Uncertain, counts.uncertain);
    }
    if !choice.include_bounced && counts.bounced > 0 {
        left_out.insert(LeftOutWhy::Bounced, counts.bounced);
    }
    let mut to_send = u64::try_from(ids.len()).unwrap_or(u64::MAX);
    if choice.include_uncertain {
        to_send += counts.uncertain;
    }
    if choice.include_bounced {
        to_send += counts.bounced;
    }
    let plan = ResendPlan {
        choice: choice.clone(),
        failed: by_class
            .into_iter()
            .map(|(reason, count)| ReasonCount { reason, count })
            .collect(),
        suppressed: suppressed_count,
        uncertain: counts.uncertain,
        bounced: counts.bounced,
        to_send,
        left_out: left_out
            .into_iter()
            .map(|(why, count)| LeftOut { why, count })
            .collect(),
    };
    Ok((plan, ids))
}

/// Adds the WHERE terms for a state, a kind of reason and a text.
fn push_filters(
    sql: &mut QueryBuilder<'_, Sqlite>,
    state: Option<StateFilter>,
    reason: Option<ReasonClass>,
    search: Option<&str>,
) {
    match state {
        None => {}
        Some(StateFilter::Sent) => {
            sql.push(" AND status = 'sent' AND bounce IS NULL");
        }
        Some(StateFilter::Bounced) => {
            sql.push(" AND status = 'sent' AND bounce IS NOT NULL");
        }
        Some(StateFilter::Suppressed) => {
            sql.push(" AND status = 'skipped' AND reason IS NOT NULL AND reason_class = 'suppressed'");
        }
        Some(other) => {
            // The other filters are stored states, whose names are literals.
            sql.push(" AND status = '").push(other.as_str()).push("'");
        }
    }
    if let Some(reason) = reason {
        sql.push(" AND reason IS NOT NULL AND reason_class = ")
            .push_bind(reason.as_str());
    }
    if let Some(text) = search.map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = format!(
            "%{}%",
            text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
        );
        sql.push(" AND (email LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR fields LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

/// A recipient from a row of the page or history query.
fn recipient_from(row: &sqlx::sqlite::SqliteRow, columns: &[String]) -> Result<Recipient> {
    let fields: String = row.try_get("fields")?;
    let values: Vec<String> =
        serde_json::from_str(&fields).map_err(|e| Error::Internal(format!("stored fields: {e}")))?;
    let bounce: Option<String> = row.try_get("bounce")?;
    let bounce = bounce
        .as_deref()
        .map(BounceKind::from_str)
        .transpose()
        .map_err(Error::Internal)?;
    let status: String = row.try_get("status")?;
    let status = shown_status(
        RecipientStatus::from_str(&status).map_err(Error::Internal)?,
        bounce.is_some(),
    );
    let reason: Option<String> = row.try_get("reason")?;
    let row_number: i64 = row.try_get("row_number")?;
    let attempts: i64 = row.try_get("attempts")?;
    let unanswered: i64 = row.try_get("unanswered")?;
    Ok(Recipient {
        row: u64::try_from(row_number).unwrap_or(0),
        email: row.try_get("email")?,
        status,
        reason: reason.as_deref().map(RecipientReason::from_stored),
        reply: row.try_get("sent_reply")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        bounce,
        unanswered: u32::try_from(unanswered).unwrap_or(u32::MAX),
        message_version: row.try_get("message_version")?,
        fields: columns.iter().cloned().zip(values).collect::<IndexMap<_, _>>(),
    })
}

/// The code and enhanced code of a reply line kept as text ("250 2.0.0 Ok: queued as …").
fn reply_codes(reply: &str) -> (Option<u16>, Option<String>) {
    let mut words = reply.split_whitespace();
    let code = words.next().and_then(|w| w.parse::<u16>().ok());
    let enhanced = words
        .next()
        .filter(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned);
    (code, enhanced)
}

fn parse_counts(json: &str) -> Result<StatusCounts> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("stored counts: {e}")))
}
