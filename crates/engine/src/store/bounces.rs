//! Bounces and unsubscribes found by a mailbox scan: finding the recipient a
//! notice is about, recording each bounce once, marking the recipient
//! bounced, and the suppressions that follow. A scan's chunk of messages is
//! one transaction with the scan's new position, so a crash or a cancel
//! leaves either all of a chunk recorded and passed, or none of it.
//!
//! A bounced recipient keeps `status = 'sent'` (its message was accepted; no
//! run or resend picks it up) with `bounce` set to hard or soft; the store
//! shows it as [`RecipientStatus::Bounced`](crate::model::RecipientStatus).

use std::collections::HashMap;

use serde::Serialize;

use super::Store;
use crate::address::dedup_key;
use crate::error::Result;
use crate::model::{BounceKind, CampaignId};
use crate::outcome::{PauseReason, RecipientReason};

/// A recipient a notice may be about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceTarget {
    pub recipient_id: i64,
    pub campaign_id: CampaignId,
    pub row: u64,
    pub email: String,
    /// Whether it is `sent` (only a sent recipient can bounce).
    pub sent: bool,
    /// The campaign's creation time, which its Message-IDs carry.
    pub campaign_created_at: i64,
}

/// One bounce to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceRecord {
    pub recipient_id: i64,
    pub email: String,
    pub kind: BounceKind,
    pub status_code: Option<String>,
    pub diagnostic: String,
    pub reporting_mta: Option<String>,
    /// Unix ms.
    pub bounced_at: i64,
    pub fingerprint: String,
}

/// An address newly on the suppression list, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SuppressedAddress {
    pub email: String,
    pub reason: String,
}

/// What recording a chunk did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkOutcome {
    /// Bounces recorded now, hard and soft.
    pub hard: u64,
    pub soft: u64,
    /// Bounces already recorded from the same notice (a rescan after a new
    /// UIDVALIDITY, a copy of the notice in the folder).
    pub already_known: u64,
    /// Addresses that joined the suppression list.
    pub suppressed: Vec<SuppressedAddress>,
}

/// A bounce's suppression: the newest reason and source replace an older
/// entry's (a hard bounce says more than an earlier send's refusal).
const UPSERT_SUPPRESSION: &str = "INSERT INTO suppressions (email, reason, created_at, source_kind, source_detail)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (email) DO UPDATE SET reason = excluded.reason, source_kind = excluded.source_kind,
         source_detail = excluded.source_detail";

impl Store {
    /// How many of the campaign's recipients bounced.
    pub(crate) async fn bounced_count(&self, campaign: CampaignId) -> Result<u64> {
        let count = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "count!: i64" FROM recipients WHERE campaign_id = ?1 AND bounce IS NOT NULL"#,
            campaign
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The recipient at `row` of `campaign`, for a notice returning its Message-ID.
    pub async fn bounce_target(&self, campaign: CampaignId, row: u64) -> Result<Option<BounceTarget>> {
        let row = i64::try_from(row).unwrap_or(i64::MAX);
        let found = sqlx::query!(
            r#"SELECT r.id AS "id!", r.campaign_id, r.row_number, r.email, r.status, c.created_at
               FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
               WHERE r.campaign_id = ?1 AND r.row_number = ?2"#,
            campaign,
            row
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|r| BounceTarget {
            recipient_id: r.id,
            campaign_id: r.campaign_id,
            row: u64::try_from(r.row_number).unwrap_or(0),
            email: r.email,
            sent: r.status == "sent",
            campaign_created_at: r.created_at,
        }))
    }

    /// For notices that return no Message-ID: the most recently sent
    /// recipient of each address (in its dedup form), any campaign. One pass
    /// over the recipients for the whole list.
    pub async fn latest_sent_to(&self, addresses: &[String]) -> Result<HashMap<String, BounceTarget>> {
        if addresses.is_empty() {
            return Ok(HashMap::new());
        }
        let keys: Vec<String> = addresses.iter().map(|a| dedup_key(a)).collect();
        let keys = serde_json::to_string(&keys).map_err(|e| crate::Error::Internal(e.to_string()))?;
        let rows = sqlx::query!(
            r#"SELECT r.id AS "id!", r.campaign_id, r.row_number, r.email, c.created_at, r.sent_at
               FROM recipients r JOIN campaigns c ON c.id = r.campaign_id
               WHERE r.status = 'sent' AND lower(trim(r.email)) IN (SELECT value FROM json_each(?1))
               ORDER BY r.sent_at, r.id"#,
            keys
        )
        .fetch_all(&self.pool)
        .await?;
        // Ascending: the newest of each address is inserted last and stays.
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    dedup_key(&r.email),
                    BounceTarget {
                        recipient_id: r.id,
                        campaign_id: r.campaign_id,
                        row: u64::try_from(r.row_number).unwrap_or(0),
                        email: r.email,
                        sent: true,
                        campaign_created_at: r.created_at,
                    },
                )
            })
            .collect())
    }

    /// Records a scanned chunk in one transaction: each bounce once (by its
    /// notice's fingerprint), its recipient marked bounced (hard wins over
    /// soft), hard bounces and the `soft_limit`-th soft bounce of an address
    /// suppressed, unsubscribe requests suppressed, and the mailbox's scan
    /// position moved to `last_uid` under `uid_validity`.
    #[allow(clippy::too_many_arguments)] // one transaction's worth of inputs
    pub async fn record_scan_chunk(
        &self,
        mailbox: i64,
        account: &str,
        uid_validity: u32,
        last_uid: u32,
        bounces: &[BounceRecord],
        unsubscribes: &[String],
        soft_limit: u32,
    ) -> Result<ChunkOutcome> {
        let now = self.now_ms();
        let bounce_source = "bounce";
        let unsubscribe_source = "unsubscribe";
        let mut outcome = ChunkOutcome::default();
        let mut tx = self.pool.begin().await?;
        for bounce in bounces {
            let kind = bounce.kind.as_str();
            let email = dedup_key(&bounce.email);
            let inserted = sqlx::query!(
                "INSERT OR IGNORE INTO bounces (recipient_id, email, kind, status_code, diagnostic, reporting_mta,
                     bounced_at, recorded_at, mailbox_id, fingerprint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                bounce.recipient_id,
                email,
                kind,
                bounce.status_code,
                bounce.diagnostic,
                bounce.reporting_mta,
                bounce.bounced_at,
                now,
                mailbox,
                bounce.fingerprint,
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                outcome.already_known += 1;
                continue;
            }
            let described = describe(bounce);
            // The recipient keeps the bounce as data; the suppression list,
            // English text (as every suppression reason is).
            let stored_reason = described.to_json();
            let reason = described.to_string();
            sqlx::query!(
                "UPDATE recipients
                 SET reason = CASE WHEN bounce = 'hard' AND ?2 = 'soft' THEN reason ELSE ?3 END,
                     bounce = CASE WHEN bounce = 'hard' THEN 'hard' ELSE ?2 END,
                     updated_at = ?4
                 WHERE id = ?1 AND status = 'sent'",
                bounce.recipient_id,
                kind,
                stored_reason,
                now
            )
            .execute(&mut *tx)
            .await?;
            let suppress_reason = match bounce.kind {
                BounceKind::Hard => {
                    outcome.hard += 1;
                    Some(reason.clone())
                }
                BounceKind::Soft => {
                    outcome.soft += 1;
                    let count = sqlx::query_scalar!(
                        r#"SELECT COUNT(*) AS "count!: i64" FROM bounces WHERE email = ?1 AND kind = 'soft'"#,
                        email
                    )
                    .fetch_one(&mut *tx)
                    .await?;
                    (count >= i64::from(soft_limit)).then(|| format!("{count} soft bounces; the last: {reason}"))
                }
            };
            if let Some(why) = suppress_reason {
                let known = sqlx::query_scalar!("SELECT COUNT(*) FROM suppressions WHERE email = ?1", email)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(UPSERT_SUPPRESSION)
                    .bind(&email)
                    .bind(&why)
                    .bind(now)
                    .bind(bounce_source)
                    .bind(account)
                    .execute(&mut *tx)
                    .await?;
                if known == 0 {
                    outcome.suppressed.push(SuppressedAddress { email, reason: why });
                }
            }
        }
        for address in unsubscribes {
            let email = dedup_key(address);
            let known = sqlx::query_scalar!("SELECT COUNT(*) FROM suppressions WHERE email = ?1", email)
                .fetch_one(&mut *tx)
                .await?;
            if known > 0 {
                continue;
            }
            let why = "asked to unsubscribe, by reply".to_owned();
            sqlx::query(UPSERT_SUPPRESSION)
                .bind(&email)
                .bind(&why)
                .bind(now)
                .bind(unsubscribe_source)
                .bind(account)
                .execute(&mut *tx)
                .await?;
            outcome.suppressed.push(SuppressedAddress { email, reason: why });
        }
        let (validity, last) = (i64::from(uid_validity), i64::from(last_uid));
        sqlx::query!(
            "UPDATE mailboxes SET uid_validity = ?2, last_uid = ?3 WHERE id = ?1",
            mailbox,
            validity,
            last
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Resend including bounces, when a person chooses it: the campaign's
    /// bounced recipients back to `pending` (their bounces stay recorded;
    /// suppressed addresses stay suppressed for later imports). How many.
    pub async fn requeue_bounced(&self, campaign: CampaignId) -> Result<u64> {
        let now = self.now_ms();
        let mut tx = self.pool.begin().await?;
        let requeued = sqlx::query!(
            "UPDATE recipients SET status = 'pending', bounce = NULL, reason = NULL, attempts = 0,
                 next_attempt_at = NULL, updated_at = ?2
             WHERE campaign_id = ?1 AND status = 'sent' AND bounce IS NOT NULL",
            campaign,
            now
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if requeued > 0 {
            let reason = PauseReason::BouncedToResend { count: requeued };
            super::sending::ready_to_run_again(&mut tx, campaign, &reason, now).await?;
        }
        tx.commit().await?;
        Ok(requeued)
    }
}

/// The recipient's reason for a bounce, as data (in English: "hard bounce
/// 5.1.1: 550 5.1.1 <bob@…>: User unknown (reported by mx.example.com)").
fn describe(bounce: &BounceRecord) -> RecipientReason {
    RecipientReason::Bounced {
        bounce: bounce.kind,
        status: bounce.status_code.clone(),
        diagnostic: bounce.diagnostic.clone(),
        reporting_mta: bounce.reporting_mta.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::MailboxSettings;
    use crate::model::RecipientStatus;
    use crate::store::AccountRecord;
    use crate::store::{NewCampaign, NewRecipient};

    /// A campaign whose recipients (one per address) are all sent.
    async fn sent_campaign(store: &Store, name: &str, addresses: &[&str]) -> CampaignId {
        let columns = vec!["email".to_owned()];
        let mut import = store
            .begin_import(&NewCampaign {
                name,
                source_file: "list.csv",
                columns: &columns,
                email_column: "email",
            })
            .await
            .expect("import");
        let rows: Vec<NewRecipient> = addresses
            .iter()
            .enumerate()
            .map(|(i, a)| {
                NewRecipient::new(
                    i as u64 + 2,
                    (*a).to_owned(),
                    &[(*a).to_owned()],
                    RecipientStatus::Pending,
                    None,
                )
                .expect("row")
            })
            .collect();
        import.write(&rows).await.expect("write");
        let id = import.commit().await.expect("commit");
        sqlx::query("UPDATE recipients SET status = 'sent', sent_at = 1 WHERE campaign_id = ?1")
            .bind(id)
            .execute(&store.pool)
            .await
            .expect("sent");
        id
    }

    fn soft(recipient_id: i64, email: &str, fingerprint: &str) -> BounceRecord {
        BounceRecord {
            recipient_id,
            email: email.to_owned(),
            kind: BounceKind::Soft,
            status_code: Some("4.2.2".into()),
            diagnostic: "452 4.2.2 mailbox full".into(),
            reporting_mta: Some("mx.example.org".into()),
            bounced_at: 5,
            fingerprint: fingerprint.to_owned(),
        }
    }

    #[tokio::test]
    async fn the_third_soft_bounce_across_campaigns_suppresses_and_nothing_counts_twice() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("m.db")).await.expect("open");
        let account = AccountRecord {
            username: Some("me".into()),
            ..AccountRecord::for_tests("work", "smtp.example.org")
        };
        store.insert_account(&account).await.expect("account");
        let mailbox = store
            .insert_mailbox(
                "work",
                &MailboxSettings {
                    host: "imap.example.org".into(),
                    username: "me".into(),
                    ..MailboxSettings::default()
                },
            )
            .await
            .expect("mailbox");
        let mut targets = Vec::new();
        for name in ["one", "two", "three"] {
            let id = sent_campaign(&store, name, &["Full@Example.org", "other@example.org"]).await;
            let target = store.bounce_target(id, 2).await.expect("target").expect("row 2");
            targets.push((id, target));
        }
        let record = |records: Vec<BounceRecord>, uid: u32| {
            let store = store.clone();
            async move {
                store
                    .record_scan_chunk(mailbox, "work", 7, uid, &records, &[], 3)
                    .await
                    .expect("record")
            }
        };
        let first = record(vec![soft(targets[0].1.recipient_id, "Full@Example.org", "<n1>")], 1).await;
        assert_eq!((first.soft, first.suppressed.len()), (1, 0));
        // The same notice again (a renumbered folder): already known, not a second bounce.
        let again = record(vec![soft(targets[0].1.recipient_id, "Full@Example.org", "<n1>")], 2).await;
        assert_eq!((again.soft, again.already_known), (0, 1));
        let second = record(vec![soft(targets[1].1.recipient_id, "full@example.org", "<n2>")], 3).await;
        assert_eq!(second.suppressed.len(), 0, "two soft bounces do not suppress");
        let third = record(vec![soft(targets[2].1.recipient_id, "full@example.org", "<n3>")], 4).await;
        assert_eq!(third.suppressed.len(), 1);
        assert_eq!(third.suppressed[0].email, "full@example.org");
        assert!(
            third.suppressed[0].reason.starts_with("3 soft bounces"),
            "{:?}",
            third.suppressed
        );
        let list = store.suppressions("", 0, 10).await.expect("list");
        assert_eq!(
            list.entries[0].source,
            crate::store::SuppressionSource::Bounce {
                account: "work".to_owned()
            }
        );

        // A hard bounce after a soft one makes the recipient hard; a soft one after stays hard.
        let hard = BounceRecord {
            kind: BounceKind::Hard,
            fingerprint: "<n4>".into(),
            status_code: Some("5.1.1".into()),
            diagnostic: "550 5.1.1 no such user".into(),
            ..soft(targets[0].1.recipient_id, "full@example.org", "")
        };
        record(vec![hard], 5).await;
        record(vec![soft(targets[0].1.recipient_id, "full@example.org", "<n5>")], 6).await;
        let (campaign, _) = targets[0];
        let bounced = store
            .recipients(campaign, Some(RecipientStatus::Bounced), 0, 10)
            .await
            .expect("bounced");
        assert_eq!(bounced.len(), 1);
        assert_eq!(bounced[0].bounce, Some(BounceKind::Hard));
        assert!(
            matches!(
                &bounced[0].reason,
                Some(RecipientReason::Bounced { bounce: BounceKind::Hard, status: Some(status), .. })
                    if status == "5.1.1"
            ),
            "{:?}",
            bounced[0].reason
        );
        assert!(
            bounced[0]
                .reason
                .as_ref()
                .is_some_and(|r| r.to_string().starts_with("hard bounce 5.1.1"))
        );
        let counts = store.status_counts(campaign).await.expect("counts");
        assert_eq!((counts.sent, counts.bounced, counts.total()), (1, 1, 2));
        let sent = store
            .recipients(campaign, Some(RecipientStatus::Sent), 0, 10)
            .await
            .expect("sent");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].email, "other@example.org");
        // Resend failed leaves bounces out; choosing them puts them back.
        assert_eq!(store.requeue_failed(campaign).await.expect("requeue"), 0);
        assert_eq!(store.requeue_bounced(campaign).await.expect("requeue"), 1);
        let counts = store.status_counts(campaign).await.expect("counts");
        assert_eq!((counts.pending, counts.bounced), (1, 0));
        // The scan position moved with each chunk.
        let stored = store.mailbox("work").await.expect("mailbox");
        assert_eq!((stored.scan.uid_validity, stored.scan.last_uid), (Some(7), 6));
    }
}
