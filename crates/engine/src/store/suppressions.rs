//! The suppression list: addresses Mailroom will not write to again, each
//! with its reason, where it came from and when. Listing and searching it,
//! adding and removing addresses, the reasons an import shows on the rows it
//! skips, and leaving suppressed recipients out of a run as it begins.
//!
//! Addresses are kept in their dedup form ([`dedup_key`]: trimmed and
//! lower-cased), so `Ann@Example.com` and `ann@example.com` are one entry.
//! Reasons are text: the server's words for a send's "no such user", the
//! bounce's diagnostic, or what a person wrote (empty when they wrote none:
//! the source says enough).

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use sqlx::{Sqlite, Transaction};

use super::Store;
use crate::address::dedup_key;
use crate::error::Result;
use crate::model::CampaignId;
use crate::outcome::RecipientReason;

/// What put an address on the list (stored as `source_kind` and
/// `source_detail`, migration 0009).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum SuppressionSource {
    /// A send's 5.1.x "no such user" reply.
    NoSuchUser,
    /// A hard bounce, or the soft-bounce limit, found by a scan of `account`'s mailbox.
    Bounce { account: String },
    /// A reply to `account` asking to unsubscribe.
    Unsubscribe { account: String },
    /// Added by a person, one address at a time.
    Manual,
    /// Imported from `file` (its name).
    Imported { file: String },
}

impl SuppressionSource {
    /// The two columns it is stored in.
    pub(super) fn columns(&self) -> (&'static str, Option<&str>) {
        match self {
            SuppressionSource::NoSuchUser => ("no_such_user", None),
            SuppressionSource::Bounce { account } => ("bounce", Some(account)),
            SuppressionSource::Unsubscribe { account } => ("unsubscribe", Some(account)),
            SuppressionSource::Manual => ("manual", None),
            SuppressionSource::Imported { file } => ("imported", Some(file)),
        }
    }

    fn from_columns(kind: &str, detail: Option<String>) -> SuppressionSource {
        let detail = detail.unwrap_or_default();
        match kind {
            "bounce" => SuppressionSource::Bounce { account: detail },
            "unsubscribe" => SuppressionSource::Unsubscribe { account: detail },
            "manual" => SuppressionSource::Manual,
            "imported" => SuppressionSource::Imported { file: detail },
            // The schema's CHECK allows nothing else.
            _ => SuppressionSource::NoSuchUser,
        }
    }
}

/// English, for the CLI and exported files (the window says it from its catalogs).
impl fmt::Display for SuppressionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuppressionSource::NoSuchUser => f.write_str("a send (no such user)"),
            SuppressionSource::Bounce { account } => write!(f, "bounce scan of {account}"),
            SuppressionSource::Unsubscribe { account } => write!(f, "unsubscribe reply to {account}"),
            SuppressionSource::Manual => f.write_str("added by hand"),
            SuppressionSource::Imported { file } => write!(f, "imported from {file}"),
        }
    }
}

/// A suppressed address, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Suppression {
    pub email: String,
    pub reason: String,
    pub source: SuppressionSource,
    /// When it joined the list, Unix ms.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub created_at: i64,
}

/// One page of the list, newest first, and how many entries match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SuppressionPage {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub total: u64,
    pub entries: Vec<Suppression>,
}

/// Adds an address (in its dedup form) with its reason and source, keeping
/// the entry already there, if any: its date and reason say when and why it
/// first joined. Used by a send's "no such user" (the writer's own
/// connection), a person's add and an import.
pub(super) const INSERT_SUPPRESSION: &str =
    "INSERT INTO suppressions (email, reason, created_at, source_kind, source_detail)
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (email) DO NOTHING";

/// The reason a send's "no such user" puts on the list: the server's words
/// with their codes ("550 5.1.1 User unknown"), whatever recipient reason
/// carried them.
pub(super) fn reason_from_send(reason: &RecipientReason) -> String {
    reason.server_words().unwrap_or_else(|| reason.to_string())
}

/// `value` for a `LIKE` pattern with `\` as its escape character.
fn like_escaped(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len() + 2);
    escaped.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

impl Store {
    /// A page of the suppression list, newest first: every entry, or those
    /// whose address or reason contains `search` (any case).
    pub async fn suppressions(&self, search: &str, offset: u64, limit: u64) -> Result<SuppressionPage> {
        let pattern = like_escaped(search.trim());
        let (offset, limit) = (
            i64::try_from(offset).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        );
        let total = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "count!: i64" FROM suppressions
               WHERE email LIKE ?1 ESCAPE '\' OR reason LIKE ?1 ESCAPE '\'"#,
            pattern
        )
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query!(
            r#"SELECT email, reason, source_kind, source_detail, created_at FROM suppressions
               WHERE email LIKE ?1 ESCAPE '\' OR reason LIKE ?1 ESCAPE '\'
               ORDER BY created_at DESC, email LIMIT ?2 OFFSET ?3"#,
            pattern,
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(SuppressionPage {
            total: u64::try_from(total).unwrap_or(0),
            entries: rows
                .into_iter()
                .map(|r| Suppression {
                    email: r.email,
                    reason: r.reason,
                    source: SuppressionSource::from_columns(&r.source_kind, r.source_detail),
                    created_at: r.created_at,
                })
                .collect(),
        })
    }

    /// Every suppressed address (dedup form) with its reason: what an import
    /// checks each row against, and shows on the rows it skips.
    pub async fn suppression_reasons(&self) -> Result<HashMap<String, String>> {
        let rows = sqlx::query!("SELECT email, reason FROM suppressions")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| (r.email, r.reason)).collect())
    }

    /// Adds these addresses (any form; kept in their dedup form) with their
    /// reasons and `source`, in one transaction. Addresses already on the
    /// list keep their entry. How many were new.
    pub async fn add_suppressions(&self, entries: &[(String, String)], source: &SuppressionSource) -> Result<u64> {
        let now = self.now_ms();
        let (kind, detail) = source.columns();
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for (email, reason) in entries {
            added += sqlx::query(INSERT_SUPPRESSION)
                .bind(dedup_key(email))
                .bind(reason)
                .bind(now)
                .bind(kind)
                .bind(detail)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Takes an address (any form) off the list; whether it was on it.
    /// Recipients already skipped for it stay skipped: they belong to
    /// imports that were made while it was on the list.
    pub async fn remove_suppression(&self, email: &str) -> Result<bool> {
        let key = dedup_key(email);
        let removed = sqlx::query!("DELETE FROM suppressions WHERE email = ?1", key)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(removed > 0)
    }
}

/// Marks `campaign`'s recipients whose address is on the suppression list
/// `skipped`, with the list's reason, as a run begins (in the transaction
/// that begins it), so an address suppressed after the import (by hand, by a
/// bounce, by another campaign's "no such user") is never sent to. That is
/// every recipient never sent to yet (`pending` and never claimed) and every
/// one waiting to retry. A `pending` one that was sent to before is back
/// because a person chose to send to it again (Resend failed, which says
/// what it includes): that choice is theirs, and it stands. How many.
///
/// ASCII addresses are matched in SQL (SQLite's `lower` folds ASCII only, as
/// [`dedup_key`] does for them); the few with other characters are read and
/// folded here.
pub(super) async fn skip_suppressed(tx: &mut Transaction<'_, Sqlite>, campaign: CampaignId, now: i64) -> Result<u64> {
    let skipped = sqlx::query!(
        r#"UPDATE recipients
           SET status = 'skipped', next_attempt_at = NULL, updated_at = ?2,
               reason = json_object('kind', 'suppressed', 'reason', nullif(s.reason, ''))
           FROM suppressions s
           WHERE recipients.campaign_id = ?1
             AND (recipients.status = 'retry_wait' OR (recipients.status = 'pending' AND recipients.message_version IS NULL))
             AND s.email = lower(trim(recipients.email))"#,
        campaign,
        now
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    // GLOB's class: a character outside printable ASCII.
    let others = sqlx::query!(
        r#"SELECT id AS "id!", email FROM recipients
           WHERE campaign_id = ?1 AND email GLOB '*[^ -~]*'
             AND (status = 'retry_wait' OR (status = 'pending' AND message_version IS NULL))"#,
        campaign
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut more = 0;
    for recipient in others {
        let key = dedup_key(&recipient.email);
        let reason = sqlx::query_scalar!("SELECT reason FROM suppressions WHERE email = ?1", key)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(reason) = reason {
            let reason = RecipientReason::Suppressed {
                reason: Some(reason).filter(|r| !r.is_empty()),
            }
            .to_json();
            more += sqlx::query!(
                "UPDATE recipients SET status = 'skipped', next_attempt_at = NULL, updated_at = ?2, reason = ?3
                 WHERE id = ?1",
                recipient.id,
                now,
                reason
            )
            .execute(&mut **tx)
            .await?
            .rows_affected();
        }
    }
    Ok(skipped + more)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::RecipientStatus;
    use crate::store::{NewCampaign, NewRecipient, StateChange};

    async fn store(dir: &tempfile::TempDir) -> Store {
        Store::open_with_clock(&dir.path().join("m.db"), Arc::new(ManualClock::at(1_700_000_000_000)))
            .await
            .expect("open")
    }

    /// A draft campaign of these addresses, one a row from row 2.
    async fn campaign_of(store: &Store, emails: &[&str]) -> CampaignId {
        let columns = vec!["email".to_owned()];
        let mut writer = store
            .begin_import(&NewCampaign {
                name: "c",
                source_file: "/c.csv",
                columns: &columns,
                email_column: "email",
            })
            .await
            .expect("begin");
        let rows: Vec<NewRecipient> = (2_u64..)
            .zip(emails)
            .map(|(row, email)| {
                NewRecipient::new(
                    row,
                    (*email).to_owned(),
                    &[(*email).to_owned()],
                    RecipientStatus::Pending,
                    None,
                )
                .expect("row")
            })
            .collect();
        writer.write(&rows).await.expect("write");
        writer.commit().await.expect("commit")
    }

    async fn an_account(store: &Store) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO smtp_profiles (name, host, port, security, created_at, updated_at)
             VALUES ('work', 'mx.example.com', 25, 'none', 0, 0) RETURNING id",
        )
        .fetch_one(&store.pool)
        .await
        .expect("account")
    }

    #[test]
    fn a_search_is_taken_literally() {
        assert_eq!(like_escaped("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    /// A send's "no such user" is listed with the server's words and as
    /// what it is, not as the recipient reason's JSON.
    #[tokio::test]
    async fn a_sends_no_such_user_is_listed_with_the_servers_words() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(&dir).await;
        let campaign = campaign_of(&store, &["Gone@Example.com"]).await;
        let id: i64 = sqlx::query_scalar("SELECT id FROM recipients WHERE campaign_id = ?1")
            .bind(campaign)
            .fetch_one(&store.pool)
            .await
            .expect("id");
        // The refusal as the engine keeps it (the store holds reasons as this JSON).
        let refused = RecipientReason::from_stored(
            r#"{"kind":"smtp","failure":{"stage":"rcpt","problem":"rejected","code":550,"enhanced_code":"5.1.1",
                "text":"User unknown","after_content":false},"unanswered_before":false}"#,
        );
        assert!(matches!(refused, RecipientReason::Smtp { .. }), "{refused:?}");
        let mut file = store.state_file(1, 0).expect("state file");
        file.apply(&[
            StateChange::Claim { id, version: 1 },
            StateChange::Failed {
                id,
                reason: refused,
                attempt: None,
                suppress: Some("Gone@Example.com".to_owned()),
            },
        ])
        .expect("apply");
        let page = store.suppressions("", 0, 10).await.expect("list");
        assert_eq!(
            page.entries,
            vec![Suppression {
                email: "gone@example.com".to_owned(),
                reason: "550 5.1.1 User unknown".to_owned(),
                source: SuppressionSource::NoSuchUser,
                created_at: 1_700_000_000_000,
            }]
        );
    }

    /// An address suppressed after the import (by hand, by a bounce, by
    /// another campaign) is skipped, with the list's reason, when a run
    /// begins, whether it was pending or waiting to retry, ASCII or not;
    /// one a person chose to resend is sent.
    #[tokio::test]
    async fn a_recipient_given_back_by_a_pause_is_skipped_when_suppressed_before_the_resume() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(&dir).await;
        let campaign = campaign_of(&store, &["ann@example.com", "bob@example.com"]).await;
        let profile = an_account(&store).await;
        let run = store.begin_run(campaign, profile, "work").await.expect("first run");
        let id: i64 = sqlx::query_scalar("SELECT id FROM recipients WHERE email = 'ann@example.com'")
            .fetch_one(&store.pool)
            .await
            .expect("id");
        // Claimed, then given back unsent when the campaign paused (a wrong
        // password, a rule): never sent, so not a person's choice to resend.
        let mut file = store.state_file(profile, run.run).expect("state file");
        file.apply(&[
            StateChange::Claim { id, version: 1 },
            StateChange::Unclaim { id, attempt: None },
        ])
        .expect("claim and give back");
        drop(file);
        store
            .add_suppressions(
                &[("ann@example.com".to_owned(), "asked by phone".to_owned())],
                &SuppressionSource::Manual,
            )
            .await
            .expect("suppress");
        store.begin_run(campaign, profile, "work").await.expect("resume");
        let recipients = store.recipients(campaign, None, 0, 10).await.expect("recipients");
        let fates: Vec<(&str, RecipientStatus)> = recipients.iter().map(|r| (r.email.as_str(), r.status)).collect();
        assert_eq!(
            fates,
            [
                ("ann@example.com", RecipientStatus::Skipped),
                ("bob@example.com", RecipientStatus::Pending)
            ]
        );
    }

    #[tokio::test]
    async fn recipients_suppressed_after_the_import_are_skipped_as_a_run_begins() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(&dir).await;
        let campaign = campaign_of(
            &store,
            &[
                "Ann@Example.com",
                "bob@example.com",
                "ÜMIT@example.de",
                "zoe@example.fr",
                "again@example.com",
            ],
        )
        .await;
        // Sent to before, and back because a person chose to resend it.
        sqlx::query("UPDATE recipients SET message_version = 1 WHERE email = 'again@example.com'")
            .execute(&store.pool)
            .await
            .expect("resent");
        sqlx::query("UPDATE recipients SET status = 'retry_wait', next_attempt_at = 1 WHERE email = 'bob@example.com'")
            .execute(&store.pool)
            .await
            .expect("retry_wait");
        store
            .add_suppressions(
                &[
                    ("ann@example.com".to_owned(), "asked by phone".to_owned()),
                    ("Bob@Example.com".to_owned(), "550 5.1.1 User unknown".to_owned()),
                    ("ümit@example.de".to_owned(), "left the company".to_owned()),
                    ("again@example.com".to_owned(), "550 5.1.1 User unknown".to_owned()),
                ],
                &SuppressionSource::Manual,
            )
            .await
            .expect("suppress");
        let profile = an_account(&store).await;
        store.begin_run(campaign, profile, "work").await.expect("begin run");

        let recipients = store.recipients(campaign, None, 0, 10).await.expect("recipients");
        let fates: Vec<(&str, RecipientStatus, Option<String>)> = recipients
            .iter()
            .map(|r| (r.email.as_str(), r.status, r.reason.as_ref().map(ToString::to_string)))
            .collect();
        assert_eq!(
            fates,
            vec![
                (
                    "Ann@Example.com",
                    RecipientStatus::Skipped,
                    Some("on the suppression list: asked by phone".to_owned())
                ),
                (
                    "bob@example.com",
                    RecipientStatus::Skipped,
                    Some("on the suppression list: 550 5.1.1 User unknown".to_owned())
                ),
                (
                    "ÜMIT@example.de",
                    RecipientStatus::Skipped,
                    Some("on the suppression list: left the company".to_owned())
                ),
                ("zoe@example.fr", RecipientStatus::Pending, None),
                ("again@example.com", RecipientStatus::Pending, None),
            ]
        );
        assert_eq!(
            recipients[0].reason,
            Some(RecipientReason::Suppressed {
                reason: Some("asked by phone".to_owned())
            })
        );
        let counts = store.status_counts(campaign).await.expect("counts");
        assert_eq!((counts.skipped, counts.pending, counts.retry_wait), (3, 2, 0));
    }

    #[tokio::test]
    async fn the_list_is_searched_by_address_or_reason_and_paged_newest_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(&dir).await;
        let source = SuppressionSource::Imported {
            file: "old.csv".to_owned(),
        };
        let added = store
            .add_suppressions(
                &[
                    ("a@example.com".to_owned(), "bounced".to_owned()),
                    ("b_1@example.com".to_owned(), "asked 100% sure".to_owned()),
                    ("c@other.org".to_owned(), "bounced".to_owned()),
                    ("A@Example.com".to_owned(), "a repeat keeps the first entry".to_owned()),
                ],
                &source,
            )
            .await
            .expect("add");
        assert_eq!(added, 3);
        let all = store.suppressions("", 0, 2).await.expect("page");
        assert_eq!((all.total, all.entries.len()), (3, 2));
        assert_eq!(all.entries[0].source, source);
        let found = store.suppressions(" EXAMPLE.COM ", 0, 10).await.expect("search");
        assert_eq!(found.total, 2);
        let literal = store.suppressions("b_1", 0, 10).await.expect("underscore");
        assert_eq!(literal.total, 1, "_ is not a wildcard");
        assert_eq!(store.suppressions("100%", 0, 10).await.expect("percent").total, 1);
        assert_eq!(store.suppressions("bounced", 0, 10).await.expect("reason").total, 2);
        assert_eq!(
            store
                .suppressions("", 0, 10)
                .await
                .expect("all")
                .entries
                .iter()
                .find(|s| s.email == "a@example.com")
                .map(|s| s.reason.as_str()),
            Some("bounced")
        );
        assert!(store.remove_suppression(" A@EXAMPLE.com").await.expect("remove"));
        assert!(!store.remove_suppression("a@example.com").await.expect("again"));
        assert_eq!(store.suppressions("", 0, 10).await.expect("after").total, 2);
    }

    /// Migration 0009 turns 0007's English sources and a send's JSON
    /// reasons into the source's kind and detail and the server's words.
    #[tokio::test]
    async fn migration_0009_reads_the_sources_and_reasons_stored_before_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("old.db"))
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.expect("pool");
        for migration in [
            include_str!("../../migrations/0001_initial.sql"),
            include_str!("../../migrations/0002_smtp_accounts_and_sandbox.sql"),
            include_str!("../../migrations/0003_messages_and_sending.sql"),
            include_str!("../../migrations/0004_sent_reply.sql"),
            include_str!("../../migrations/0005_ambiguous_sends_and_message_versions.sql"),
            include_str!("../../migrations/0006_reasons_as_data.sql"),
            include_str!("../../migrations/0007_mailboxes_and_bounces.sql"),
        ] {
            sqlx::raw_sql(migration).execute(&pool).await.expect("old schema");
        }
        let json_reason = r#"{"kind":"smtp","failure":{"stage":"rcpt","problem":"rejected","code":550,"enhanced_code":"5.1.1","text":"User unknown","after_content":false},"unanswered_before":false}"#;
        sqlx::raw_sql(&format!(
            "INSERT INTO suppressions (email, reason, created_at, source) VALUES
                ('a@example.com', 'hard bounce 5.1.1', 1, 'bounce scan of work'),
                ('b@example.com', 'asked to unsubscribe, by reply', 2, 'unsubscribe reply to home'),
                ('c@example.com', '{json_reason}', 3, NULL),
                ('d@example.com', 'unsubscribed', 4, NULL)"
        ))
        .execute(&pool)
        .await
        .expect("old rows");
        sqlx::raw_sql(include_str!("../../migrations/0009_suppression_sources.sql"))
            .execute(&pool)
            .await
            .expect("migration 0009");
        let rows: Vec<(String, String, String, Option<String>)> =
            sqlx::query_as("SELECT email, reason, source_kind, source_detail FROM suppressions ORDER BY email")
                .fetch_all(&pool)
                .await
                .expect("rows");
        let row = |e: &str, r: &str, k: &str, d: Option<&str>| {
            (e.to_owned(), r.to_owned(), k.to_owned(), d.map(str::to_owned))
        };
        assert_eq!(
            rows,
            vec![
                row("a@example.com", "hard bounce 5.1.1", "bounce", Some("work")),
                row(
                    "b@example.com",
                    "asked to unsubscribe, by reply",
                    "unsubscribe",
                    Some("home")
                ),
                row("c@example.com", "550 5.1.1 User unknown", "no_such_user", None),
                row("d@example.com", "unsubscribed", "no_such_user", None),
            ]
        );
    }
}
