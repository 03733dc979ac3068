//! Campaign schedules (migration 0012): a start time, send windows (kept as
//! JSON) and their time zone, one row per campaign that has any.

use super::Store;
use crate::campaign::schedule::{Schedule, ScheduledCampaign, SendWindow};
use crate::error::{Error, Result};
use crate::model::CampaignId;

fn windows_from(stored: &str) -> Result<Vec<SendWindow>> {
    serde_json::from_str(stored).map_err(|e| Error::Internal(format!("a stored send window cannot be read: {e}")))
}

impl Store {
    /// Replaces campaign `campaign`'s schedule; `profile` is its account's id.
    pub async fn set_schedule(&self, campaign: CampaignId, schedule: &Schedule, profile: Option<i64>) -> Result<()> {
        // Names the campaign, or says it does not exist.
        self.campaign_summary(campaign).await?;
        let windows =
            serde_json::to_string(&schedule.windows).map_err(|e| Error::Internal(format!("send windows: {e}")))?;
        let now = self.now_ms();
        sqlx::query!(
            "INSERT INTO campaign_schedules (campaign_id, start_at, time_zone, windows, profile_id, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (campaign_id) DO UPDATE SET start_at = excluded.start_at, time_zone = excluded.time_zone,
               windows = excluded.windows, profile_id = excluded.profile_id, updated_at = excluded.updated_at",
            campaign,
            schedule.start_at,
            schedule.time_zone,
            windows,
            profile,
            now,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Campaign `campaign`'s schedule, if it has one.
    pub async fn schedule(&self, campaign: CampaignId) -> Result<Option<Schedule>> {
        let row = sqlx::query!(
            r#"SELECT s.start_at, s.time_zone, s.windows, p.name AS "account?"
               FROM campaign_schedules s LEFT JOIN smtp_profiles p ON p.id = s.profile_id
               WHERE s.campaign_id = ?1"#,
            campaign
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Schedule {
                start_at: r.start_at,
                time_zone: r.time_zone,
                windows: windows_from(&r.windows)?,
                account: r.account,
            })
        })
        .transpose()
    }

    /// Every schedule, soonest start first (`missed` is the caller's to set).
    pub async fn schedules(&self) -> Result<Vec<ScheduledCampaign>> {
        let rows = sqlx::query!(
            r#"SELECT s.campaign_id, c.name, s.start_at, s.time_zone, s.windows, p.name AS "account?"
               FROM campaign_schedules s
               JOIN campaigns c ON c.id = s.campaign_id
               LEFT JOIN smtp_profiles p ON p.id = s.profile_id
               ORDER BY s.start_at IS NULL, s.start_at, s.campaign_id"#
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ScheduledCampaign {
                    campaign: r.campaign_id,
                    name: r.name,
                    schedule: Schedule {
                        start_at: r.start_at,
                        time_zone: r.time_zone,
                        windows: windows_from(&r.windows)?,
                        account: r.account,
                    },
                    // Filled in by `schedule::list`.
                    accounts: Vec::new(),
                    missed: false,
                })
            })
            .collect()
    }

    /// Removes campaign `campaign`'s schedule.
    pub async fn clear_schedule(&self, campaign: CampaignId) -> Result<()> {
        sqlx::query!("DELETE FROM campaign_schedules WHERE campaign_id = ?1", campaign)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Clears campaign `campaign`'s start time if one is set and due by
    /// `now` (Unix ms): `Some` with the account it was to send on when this
    /// call took it, `None` when there was none to take (someone else took
    /// it, cleared it, or moved it later). One statement, so of two takers
    /// (the app's timer and `mailroom send --at`) only one starts the run.
    pub async fn take_due_start(&self, campaign: CampaignId, now: i64) -> Result<Option<Option<String>>> {
        let updated_at = self.now_ms();
        let taken = sqlx::query_scalar!(
            r#"UPDATE campaign_schedules SET start_at = NULL, updated_at = ?3
               WHERE campaign_id = ?1 AND start_at IS NOT NULL AND start_at <= ?2
               RETURNING (SELECT name FROM smtp_profiles WHERE id = profile_id) AS "account?: String""#,
            campaign,
            now,
            updated_at
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(taken)
    }

    /// Clears campaign `campaign`'s start time (it starts now) and says
    /// which account it was to send on. Windows stay.
    pub async fn take_scheduled_start(&self, campaign: CampaignId) -> Result<Option<String>> {
        let now = self.now_ms();
        let account = sqlx::query_scalar!(
            r#"UPDATE campaign_schedules SET start_at = NULL, updated_at = ?2 WHERE campaign_id = ?1
               RETURNING (SELECT name FROM smtp_profiles WHERE id = profile_id) AS "account?: String""#,
            campaign,
            now
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(account.flatten())
    }
}
