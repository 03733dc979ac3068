//! Deleting a campaign and everything it owns: its recipients, their
//! attempts and bounces, its message and the message versions its runs sent,
//! and whatever else a later migration hangs off it. Every such table
//! references the campaign (or its recipients) `ON DELETE CASCADE`, so one
//! `DELETE` in one transaction removes it all or, after a crash, nothing.
//! The suppression list is not the campaign's: addresses it suppressed stay
//! suppressed.

use super::Store;
use crate::error::{Error, Result};
use crate::model::CampaignId;

impl Store {
    /// Deletes `campaign` and its data. The caller makes sure no run is
    /// sending it (`campaign::delete` holds its lease meanwhile).
    pub async fn delete_campaign(&self, campaign: CampaignId) -> Result<()> {
        let deleted = sqlx::query!("DELETE FROM campaigns WHERE id = ?1", campaign)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(Error::CampaignNotFound(format!("#{campaign}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::ErrorKind;
    use crate::clock::ManualClock;
    use crate::model::{CampaignId, MessageDraft, RecipientStatus};
    use crate::outcome::RecipientReason;
    use crate::store::{AttemptOutcome, AttemptRecord, AttemptStage, NewCampaign, NewRecipient, StateChange, Store};

    /// A campaign with everything a campaign can own: recipients, attempts,
    /// a bounce, a message and the version a run sent.
    async fn campaign_with_history(store: &Store, profile: i64, name: &str) -> CampaignId {
        let columns = vec!["email".to_owned()];
        let mut writer = store
            .begin_import(&NewCampaign {
                name,
                source_file: "/c.csv",
                columns: &columns,
                email_column: "email",
            })
            .await
            .expect("begin");
        let rows: Vec<NewRecipient> = (2_u64..5)
            .map(|row| {
                let email = format!("{name}{row}@example.com");
                NewRecipient::new(row, email.clone(), &[email], RecipientStatus::Pending, None).expect("row")
            })
            .collect();
        writer.write(&rows).await.expect("write");
        let campaign = writer.commit().await.expect("commit");
        store
            .save_message_draft(
                campaign,
                &MessageDraft {
                    subject: "Hi".to_owned(),
                    text: Some("Hello".to_owned()),
                    ..MessageDraft::default()
                },
            )
            .await
            .expect("message");
        store.begin_run(campaign, profile, "work").await.expect("run");
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM recipients WHERE campaign_id = ?1 ORDER BY id")
            .bind(campaign)
            .fetch_all(&store.pool)
            .await
            .expect("ids");
        let attempt = AttemptRecord {
            started_at: 1,
            duration_ms: 2,
            outcome: AttemptOutcome::Permanent,
            stage: AttemptStage::Rcpt,
            code: Some(550),
            enhanced_code: Some("5.1.1".to_owned()),
            text: "User unknown".to_owned(),
        };
        let mut file = store.state_file(profile, 0).expect("state file");
        file.apply(&[
            StateChange::Claim { id: ids[0], version: 1 },
            StateChange::Claim { id: ids[1], version: 1 },
            StateChange::Sent {
                id: ids[0],
                reply: "250 ok".to_owned(),
                note: None,
                duration_ms: 12,
            },
            StateChange::Failed {
                id: ids[1],
                reason: RecipientReason::Legacy { text: "550".to_owned() },
                attempt: Some(attempt),
                suppress: Some(format!("{name}3@example.com")),
            },
        ])
        .expect("outcomes");
        sqlx::query(
            "INSERT INTO bounces (recipient_id, email, kind, diagnostic, bounced_at, recorded_at, fingerprint)
             VALUES (?1, 'x', 'hard', 'gone', 1, 1, ?2)",
        )
        .bind(ids[0])
        .bind(name)
        .execute(&store.pool)
        .await
        .expect("bounce");
        sqlx::query("UPDATE campaigns SET status = 'paused' WHERE id = ?1")
            .bind(campaign)
            .execute(&store.pool)
            .await
            .expect("paused");
        campaign
    }

    /// Rows that belong to `campaign` in every table that has a
    /// `campaign_id` or a `recipient_id` (whatever migrations add), by table.
    async fn rows_owned_by(store: &Store, campaign: CampaignId) -> Vec<(String, i64)> {
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                .fetch_all(&store.pool)
                .await
                .expect("tables");
        let mut owned = Vec::new();
        for table in tables {
            let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
                .bind(&table)
                .fetch_all(&store.pool)
                .await
                .expect("columns");
            let mut count = 0_i64;
            if table == "campaigns" {
                count += sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM campaigns WHERE id = ?1")
                    .bind(campaign)
                    .fetch_one(&store.pool)
                    .await
                    .expect("count");
            }
            if columns.iter().any(|c| c == "campaign_id") {
                count +=
                    sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM \"{table}\" WHERE campaign_id = ?1"))
                        .bind(campaign)
                        .fetch_one(&store.pool)
                        .await
                        .expect("count");
            }
            if columns.iter().any(|c| c == "recipient_id") {
                // Rows of recipients that are gone count as the campaign's too.
                count += sqlx::query_scalar::<_, i64>(&format!(
                    "SELECT COUNT(*) FROM \"{table}\" t WHERE t.recipient_id NOT IN (SELECT id FROM recipients)
                        OR t.recipient_id IN (SELECT id FROM recipients WHERE campaign_id = ?1)"
                ))
                .bind(campaign)
                .fetch_one(&store.pool)
                .await
                .expect("count");
            }
            if count > 0 {
                owned.push((table, count));
            }
        }
        owned
    }

    #[tokio::test]
    async fn a_deleted_campaign_leaves_no_rows_and_the_others_keep_theirs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with_clock(&dir.path().join("m.db"), Arc::new(ManualClock::at(1_700_000_000_000)))
            .await
            .expect("open");
        let profile: i64 = sqlx::query_scalar(
            "INSERT INTO smtp_profiles (name, host, port, security, created_at, updated_at)
             VALUES ('work', 'mx.example.com', 25, 'none', 0, 0) RETURNING id",
        )
        .fetch_one(&store.pool)
        .await
        .expect("account");
        let doomed = campaign_with_history(&store, profile, "a").await;
        let kept = campaign_with_history(&store, profile, "b").await;
        let before = rows_owned_by(&store, doomed).await;
        for table in [
            "campaigns",
            "recipients",
            "attempts",
            "bounces",
            "messages",
            "message_versions",
        ] {
            assert!(
                before.iter().any(|(t, _)| t == table),
                "the test campaign owns rows in {table}: {before:?}"
            );
        }
        let kept_before = rows_owned_by(&store, kept).await;

        crate::campaign::delete(&store, doomed).await.expect("delete");

        assert_eq!(rows_owned_by(&store, doomed).await, Vec::<(String, i64)>::new());
        assert_eq!(rows_owned_by(&store, kept).await, kept_before);
        // The addresses it suppressed stay suppressed.
        assert_eq!(store.suppressions("a3@", 0, 10).await.expect("list").total, 1);
        let err = crate::campaign::delete(&store, doomed).await.expect_err("gone");
        assert_eq!(err.kind(), ErrorKind::CampaignNotFound);
    }

    #[tokio::test]
    async fn a_campaign_being_sent_cannot_be_deleted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("m.db")).await.expect("open");
        let columns = vec!["email".to_owned()];
        let mut writer = store
            .begin_import(&NewCampaign {
                name: "live",
                source_file: "/c.csv",
                columns: &columns,
                email_column: "email",
            })
            .await
            .expect("begin");
        writer
            .write(&[NewRecipient::new(
                2,
                "a@example.com".to_owned(),
                &["a@example.com".to_owned()],
                RecipientStatus::Pending,
                None,
            )
            .expect("row")])
            .await
            .expect("write");
        let campaign = writer.commit().await.expect("commit");
        // What a run holds while it sends (here or in another process).
        let lease = crate::campaign::lease::take(
            store.path(),
            crate::campaign::lease::Resource::Campaign {
                id: campaign,
                name: "live",
            },
        )
        .expect("lease");
        let err = crate::campaign::delete(&store, campaign).await.expect_err("running");
        assert_eq!(err.kind(), ErrorKind::CampaignState);
        assert!(err.to_string().contains("stop it first, then delete it"), "{err}");
        assert_eq!(store.status_counts(campaign).await.expect("still there").pending, 1);
        drop(lease);
        crate::campaign::delete(&store, campaign)
            .await
            .expect("deleted once the run ended");
    }
}
