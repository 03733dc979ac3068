//! Campaigns and recipients: creating them from an import, counting them by
//! state, and listing them with the values they were imported with.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::LazyLock;

use indexmap::IndexMap;
use sqlx::{Sqlite, Transaction};

use super::Store;
use crate::error::{Error, Result};
use crate::model::{BounceKind, CampaignId, CampaignStatus, CampaignSummary, Recipient, RecipientStatus};
use crate::outcome::{PauseReason, RecipientReason};

/// Rows per INSERT: 8 parameters each, well under SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 500;

/// The campaign an import creates.
#[derive(Debug)]
pub struct NewCampaign<'a> {
    pub name: &'a str,
    pub source_file: &'a str,
    pub columns: &'a [String],
    pub email_column: &'a str,
}

/// One imported row on its way into the store.
#[derive(Debug)]
pub struct NewRecipient {
    pub row: u64,
    pub email: String,
    /// The row's values as a JSON array, encoded by the parser so that the
    /// writer, the import's bottleneck, only binds.
    pub fields: String,
    pub status: RecipientStatus,
    /// Its [`RecipientReason`] as stored (JSON).
    pub reason: Option<String>,
}

impl NewRecipient {
    pub fn new(
        row: u64,
        email: String,
        values: &[String],
        status: RecipientStatus,
        reason: Option<&RecipientReason>,
    ) -> Result<NewRecipient> {
        let fields = serde_json::to_string(values).map_err(|e| Error::Internal(format!("encoding fields: {e}")))?;
        Ok(NewRecipient {
            row,
            email,
            fields,
            status,
            reason: reason.map(RecipientReason::to_json),
        })
    }
}

/// The INSERT for `rows` recipients, 8 parameters each. `OR FAIL`: a
/// failing row stops the statement without undoing the rows before it, so
/// SQLite keeps no statement journal; nothing is lost, since any failure
/// abandons the whole import transaction anyway.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT OR FAIL INTO recipients (campaign_id, row_number, email, fields, status, reason, created_at, updated_at) VALUES ",
    );
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?,?,?,?,?,?,?,?)"
        } else {
            ",(?,?,?,?,?,?,?,?)"
        });
    }
    sql
}

/// The INSERT for a full chunk, built once: SQLite prepares it once per
/// import, and sqlx finds it by its text.
static FULL_INSERT: LazyLock<String> = LazyLock::new(|| insert_sql(ROWS_PER_STATEMENT));

/// Writes one import inside one transaction: either every row lands with its
/// campaign, or (dropped without [`ImportWriter::commit`]) nothing does.
#[derive(Debug)]
pub struct ImportWriter {
    tx: Transaction<'static, Sqlite>,
    campaign_id: CampaignId,
    now: i64,
}

impl ImportWriter {
    /// Inserts a batch of rows, many per statement.
    pub async fn write(&mut self, rows: &[NewRecipient]) -> Result<()> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let partial;
            let sql: &str = if chunk.len() == ROWS_PER_STATEMENT {
                &FULL_INSERT
            } else {
                partial = insert_sql(chunk.len());
                &partial
            };
            let mut insert = sqlx::query(sql);
            for r in chunk {
                insert = insert
                    .bind(self.campaign_id)
                    .bind(i64::try_from(r.row).unwrap_or(i64::MAX))
                    .bind(r.email.as_str())
                    .bind(r.fields.as_str())
                    .bind(r.status.as_str())
                    .bind(r.reason.as_deref())
                    .bind(self.now)
                    .bind(self.now);
            }
            insert.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    pub fn campaign_id(&self) -> CampaignId {
        self.campaign_id
    }

    /// Replaces `old`, which must still be a draft that never sent: its
    /// message moves to the campaign being imported and `old` is deleted with
    /// its recipients. A campaign that is no longer a draft (it was sent from
    /// elsewhere meanwhile) is an error naming its state, and the import is
    /// not saved: replacing it would lose its history.
    pub async fn supersede(&mut self, old: CampaignId) -> Result<()> {
        let found = sqlx::query!("SELECT name, status FROM campaigns WHERE id = ?1", old)
            .fetch_optional(&mut *self.tx)
            .await?
            .ok_or_else(|| Error::CampaignNotFound(format!("#{old}")))?;
        if found.status != CampaignStatus::Draft.as_str() {
            return Err(Error::CampaignState {
                campaign: found.name,
                status: found.status,
                action: "an import replaces only a draft; import the list as a new campaign instead".to_owned(),
            });
        }
        sqlx::query!(
            "UPDATE messages SET campaign_id = ?2 WHERE campaign_id = ?1",
            old,
            self.campaign_id
        )
        .execute(&mut *self.tx)
        .await?;
        sqlx::query!("DELETE FROM campaigns WHERE id = ?1", old)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Makes the import durable; until now nothing of it is visible.
    pub async fn commit(self) -> Result<CampaignId> {
        self.tx.commit().await?;
        Ok(self.campaign_id)
    }
}

impl Store {
    /// Starts an import: creates the draft campaign inside a new transaction.
    pub async fn begin_import(&self, campaign: &NewCampaign<'_>) -> Result<ImportWriter> {
        let now = self.now_ms();
        let columns = serde_json::to_string(campaign.columns).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let campaign_id = sqlx::query_scalar!(
            r#"INSERT INTO campaigns (name, status, source_file, columns, email_column, created_at, updated_at)
               VALUES (?1, 'draft', ?2, ?3, ?4, ?5, ?5)
               RETURNING id"#,
            campaign.name,
            campaign.source_file,
            columns,
            campaign.email_column,
            now,
        )
        .fetch_one(&mut *tx)
        .await?;
        Ok(ImportWriter { tx, campaign_id, now })
    }

    /// Every suppressed address, as dedup keys.
    pub async fn suppressed_addresses(&self) -> Result<HashSet<String>> {
        let rows = sqlx::query_scalar!("SELECT email FROM suppressions")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Adds an address to the suppression list (kept in its dedup form) as a
    /// person's own entry; see [`Store::add_suppressions`].
    pub async fn suppress(&self, email: &str, reason: &str) -> Result<()> {
        sqlx::query(super::suppressions::INSERT_SUPPRESSION)
            .bind(crate::address::dedup_key(email))
            .bind(reason)
            .bind(self.now_ms())
            .bind("manual")
            .bind(None::<&str>)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Finds a campaign by a person's reference: `#7` is campaign 7; any
    /// other text is a campaign's exact name, or its id when it is a number.
    /// A reference more than one campaign answers to (two campaigns named
    /// "spring", or a campaign named "1" besides campaign 1) is an error that
    /// lists them, never a silent choice.
    pub async fn resolve_campaign(&self, reference: &str) -> Result<CampaignId> {
        let trimmed = reference.trim();
        if let Some(id) = trimmed.strip_prefix('#').and_then(|n| n.parse::<i64>().ok()) {
            return sqlx::query_scalar!("SELECT id FROM campaigns WHERE id = ?1", id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| Error::CampaignNotFound(format!("#{id}")));
        }
        let as_id = trimmed.parse::<i64>().ok();
        let candidates = sqlx::query!(
            r#"SELECT id AS "id!", name, status, created_at FROM campaigns
               WHERE id = ?1 OR name = ?2 ORDER BY created_at DESC, id DESC"#,
            as_id,
            reference
        )
        .fetch_all(&self.pool)
        .await?;
        match candidates.as_slice() {
            [] => Err(Error::CampaignNotFound(format!("\"{reference}\""))),
            [one] => Ok(one.id),
            many => Err(Error::AmbiguousCampaign {
                reference: reference.to_owned(),
                candidates: many
                    .iter()
                    .map(|c| {
                        format!(
                            "#{} \"{}\" ({}, made {})",
                            c.id,
                            c.name,
                            c.status,
                            utc_minute(c.created_at)
                        )
                    })
                    .collect(),
            }),
        }
    }

    /// A campaign with its counts per recipient state.
    pub async fn campaign_summary(&self, id: CampaignId) -> Result<CampaignSummary> {
        let row = sqlx::query!(
            "SELECT c.id, c.name, c.status, c.pause_reason, p.name AS account, c.source_file, c.columns,
                    c.email_column, c.created_at
             FROM campaigns c LEFT JOIN smtp_profiles p ON p.id = c.smtp_profile_id WHERE c.id = ?1",
            id
        )
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::CampaignNotFound(id.to_string()))?;

        let counts = self.status_counts(id).await?;

        Ok(CampaignSummary {
            id: row.id,
            name: row.name,
            status: CampaignStatus::from_str(&row.status).map_err(Error::Internal)?,
            pause_reason: row.pause_reason.as_deref().map(PauseReason::from_stored),
            account: row.account,
            source_file: row.source_file,
            columns: parse_columns(&row.columns)?,
            email_column: row.email_column,
            created_at: row.created_at,
            total: counts.total(),
            counts,
            sent_by: None,
            interrupted: false,
        })
    }

    /// Every campaign, newest first.
    pub async fn list_campaigns(&self) -> Result<Vec<CampaignSummary>> {
        let ids = sqlx::query_scalar!("SELECT id FROM campaigns ORDER BY created_at DESC, id DESC")
            .fetch_all(&self.pool)
            .await?;
        let mut summaries = Vec::with_capacity(ids.len());
        for id in ids {
            summaries.push(self.campaign_summary(id).await?);
        }
        Ok(summaries)
    }

    /// A page of a campaign's recipients in file order, optionally only those
    /// in one state.
    pub async fn recipients(
        &self,
        campaign: CampaignId,
        status: Option<RecipientStatus>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Recipient>> {
        let columns_json = sqlx::query_scalar!("SELECT columns FROM campaigns WHERE id = ?1", campaign)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::CampaignNotFound(campaign.to_string()))?;
        let columns = parse_columns(&columns_json)?;
        // A bounced recipient is stored as sent with its bounce marked
        // (store/bounces.rs): `sent` means sent and not bounced.
        let (stored, bounced) = match status {
            Some(RecipientStatus::Bounced) => (Some(RecipientStatus::Sent.as_str()), Some(true)),
            Some(RecipientStatus::Sent) => (Some(RecipientStatus::Sent.as_str()), Some(false)),
            other => (other.map(RecipientStatus::as_str), None),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = sqlx::query!(
            r#"SELECT row_number, email, status, reason, sent_reply, attempts, unanswered, message_version, fields, bounce
               FROM recipients
               WHERE campaign_id = ?1 AND (?2 IS NULL OR status = ?2) AND (?5 IS NULL OR (bounce IS NOT NULL) = ?5)
               ORDER BY row_number
               LIMIT ?3 OFFSET ?4"#,
            campaign,
            stored,
            limit,
            offset,
            bounced,
        )
        .fetch_all(&self.pool)
        .await?;

        rows.into_iter()
            .map(|row| {
                let values: Vec<String> =
                    serde_json::from_str(&row.fields).map_err(|e| Error::Internal(format!("stored fields: {e}")))?;
                let bounce = row
                    .bounce
                    .as_deref()
                    .map(BounceKind::from_str)
                    .transpose()
                    .map_err(Error::Internal)?;
                let status = match RecipientStatus::from_str(&row.status).map_err(Error::Internal)? {
                    RecipientStatus::Sent if bounce.is_some() => RecipientStatus::Bounced,
                    status => status,
                };
                Ok(Recipient {
                    row: u64::try_from(row.row_number).unwrap_or(0),
                    email: row.email,
                    status,
                    reason: row.reason.as_deref().map(RecipientReason::from_stored),
                    reply: row.sent_reply,
                    attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
                    unanswered: u32::try_from(row.unanswered).unwrap_or(u32::MAX),
                    message_version: row.message_version,
                    bounce,
                    fields: columns.iter().cloned().zip(values).collect::<IndexMap<_, _>>(),
                })
            })
            .collect()
    }
}

/// `ms` (Unix milliseconds) as `2025-03-14 09:26 UTC`, for telling
/// campaigns apart.
fn utc_minute(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => format!("at {ms} ms"),
    }
}

fn parse_columns(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| Error::Internal(format!("stored columns: {e}")))
}
