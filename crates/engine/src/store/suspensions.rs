//! Account suspensions and a campaign's ordered accounts (migration 0013):
//! an account a provider rule or its quota suspended stays suspended across
//! a restart until its time passes or a person resumes it; a campaign may
//! send on several accounts, in order (see `campaign::failover`).
//!
//! Plain `sqlx::query` rather than the checked macros: the statements are
//! small and the tests below run each of them.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::Store;
use crate::error::{Error, Result};
use crate::model::CampaignId;
use crate::outcome::SuspensionReason;

/// An account's suspension in force: nothing is sent on it until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct AccountSuspension {
    /// Unix ms.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub until: i64,
    pub reason: SuspensionReason,
    /// When it began (Unix ms).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub since: i64,
}

impl Store {
    /// Suspends account `profile` until `until` for `reason`; a suspension
    /// already in force that ends later is kept as it is.
    /// (A row whose time has passed is over and is replaced.)
    pub async fn suspend_account(&self, profile: i64, until: i64, reason: &SuspensionReason) -> Result<()> {
        let now = self.now_ms();
        let reason = serde_json::to_string(reason).map_err(|e| Error::Internal(format!("suspension: {e}")))?;
        sqlx::query(
            "INSERT INTO account_suspensions (profile_id, until, reason, since) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (profile_id) DO UPDATE SET until = excluded.until, reason = excluded.reason,
               since = CASE WHEN account_suspensions.until > ?4 THEN account_suspensions.since ELSE excluded.since END
             WHERE excluded.until > account_suspensions.until OR account_suspensions.until <= ?4",
        )
        .bind(profile)
        .bind(until)
        .bind(reason)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every suspension in force now, by account id (one whose time has
    /// passed is over: it is left out, and replaced by the next).
    pub async fn account_suspensions(&self) -> Result<HashMap<i64, AccountSuspension>> {
        let now = self.now_ms();
        let rows = sqlx::query("SELECT profile_id, until, reason, since FROM account_suspensions WHERE until > ?1")
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                let reason: String = row.try_get("reason")?;
                let reason = serde_json::from_str(&reason)
                    .map_err(|e| Error::Internal(format!("a stored suspension cannot be read: {e}")))?;
                Ok((
                    row.try_get::<i64, _>("profile_id")?,
                    AccountSuspension {
                        until: row.try_get("until")?,
                        reason,
                        since: row.try_get("since")?,
                    },
                ))
            })
            .collect()
    }

    /// Ends account `profile`'s suspension now ("Resume now"); whether it had one in force.
    pub async fn clear_account_suspension(&self, profile: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM account_suspensions WHERE profile_id = ?1 AND until > ?2")
            .bind(profile)
            .bind(self.now_ms())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Recipients of `campaign` a provider rule's reply put off (the
    /// account's suspension, not theirs: no attempt was used) are due now:
    /// an account can send again (a person resumed it, or another of the
    /// campaign's accounts takes over). How many.
    pub async fn due_after_suspension(&self, campaign: CampaignId) -> Result<u64> {
        let now = self.now_ms();
        let done = sqlx::query(
            "UPDATE recipients SET next_attempt_at = ?2
             WHERE campaign_id = ?1 AND status = 'retry_wait' AND next_attempt_at > ?2
               AND json_valid(reason) AND json_extract(reason, '$.kind') = 'smtp'
               AND json_extract(reason, '$.failure.rule') IS NOT NULL",
        )
        .bind(campaign)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Replaces campaign `campaign`'s accounts with `profiles`, in order.
    pub async fn set_campaign_accounts(&self, campaign: CampaignId, profiles: &[i64]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM campaign_accounts WHERE campaign_id = ?1")
            .bind(campaign)
            .execute(&mut *tx)
            .await?;
        for (position, profile) in profiles.iter().enumerate() {
            sqlx::query("INSERT INTO campaign_accounts (campaign_id, position, profile_id) VALUES (?1, ?2, ?3)")
                .bind(campaign)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(profile)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Campaign `campaign`'s accounts by name, in order (empty: none chosen
    /// as a list; it runs on the account it last ran on).
    pub async fn campaign_accounts(&self, campaign: CampaignId) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT p.name FROM campaign_accounts a JOIN smtp_profiles p ON p.id = a.profile_id
             WHERE a.campaign_id = ?1 ORDER BY a.position",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| Ok(row.try_get::<String, _>("name")?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::outcome::QuotaWindow;
    use crate::store::AccountRecord;
    use crate::store::NewCampaign;

    const NOW: i64 = 1_700_000_000_000;

    fn quota(limit: u64) -> SuspensionReason {
        SuspensionReason::Quota {
            window: QuotaWindow::Day,
            limit,
        }
    }

    async fn account(store: &Store, name: &str) -> i64 {
        let settings = AccountRecord {
            port: 2525,
            ..AccountRecord::for_tests(name, "127.0.0.1")
        };
        store.insert_account(&settings).await.expect("account")
    }

    #[tokio::test]
    async fn a_suspension_is_kept_until_its_time_or_a_resume_and_the_later_end_wins() {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::at(NOW);
        let store = Store::open_with_clock(&dir.path().join("m.db"), Arc::new(clock.clone()))
            .await
            .expect("open");
        let a = account(&store, "a").await;
        let b = account(&store, "b").await;
        store
            .suspend_account(a, NOW + 60_000, &quota(100))
            .await
            .expect("suspend");
        // An earlier end does not shorten it; a later one extends it.
        store
            .suspend_account(a, NOW + 30_000, &quota(1))
            .await
            .expect("suspend");
        let kept = store.account_suspensions().await.expect("read");
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (kept[&a].until, &kept[&a].reason, kept[&a].since),
            (NOW + 60_000, &quota(100), NOW)
        );
        store
            .suspend_account(a, NOW + 90_000, &quota(2))
            .await
            .expect("suspend");
        assert_eq!(store.account_suspensions().await.expect("read")[&a].until, NOW + 90_000);

        // Over once its time passes, and a new one replaces it.
        clock.advance_ms(90_000);
        assert!(store.account_suspensions().await.expect("read").is_empty());
        store
            .suspend_account(a, NOW + 100_000, &quota(3))
            .await
            .expect("suspend");
        assert_eq!(
            store.account_suspensions().await.expect("read")[&a].until,
            NOW + 100_000
        );

        // "Resume now" ends it; an account with none says so.
        store
            .suspend_account(b, NOW + 200_000, &quota(4))
            .await
            .expect("suspend");
        assert!(store.clear_account_suspension(a).await.expect("resume"));
        assert!(!store.clear_account_suspension(a).await.expect("resume"));
        let left = store.account_suspensions().await.expect("read");
        assert_eq!(left.keys().copied().collect::<Vec<_>>(), [b]);
    }

    #[tokio::test]
    async fn a_campaigns_accounts_keep_their_order_and_are_replaced_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with_clock(&dir.path().join("m.db"), Arc::new(ManualClock::at(NOW)))
            .await
            .expect("open");
        let columns = vec!["email".to_owned()];
        let writer = store
            .begin_import(&NewCampaign {
                name: "c",
                source_file: "/x.csv",
                columns: &columns,
                email_column: "email",
            })
            .await
            .expect("begin");
        let campaign = writer.commit().await.expect("commit");
        let (a, b, c) = (
            account(&store, "a").await,
            account(&store, "b").await,
            account(&store, "c").await,
        );
        assert!(store.campaign_accounts(campaign).await.expect("read").is_empty());
        store.set_campaign_accounts(campaign, &[c, a, b]).await.expect("set");
        assert_eq!(store.campaign_accounts(campaign).await.expect("read"), ["c", "a", "b"]);
        store.set_campaign_accounts(campaign, &[b, c]).await.expect("set");
        assert_eq!(store.campaign_accounts(campaign).await.expect("read"), ["b", "c"]);
        // An account deleted leaves the list.
        store.delete_account("b").await.expect("delete");
        assert_eq!(store.campaign_accounts(campaign).await.expect("read"), ["c"]);
    }
}
