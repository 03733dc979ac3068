//! Store tests on real SQLite files.

use std::sync::Arc;

use super::*;
use crate::ErrorKind;
use crate::clock::ManualClock;
use crate::model::{CampaignId, RecipientStatus};
use crate::store::{NewCampaign, NewRecipient};

#[tokio::test]
async fn opens_in_wal_mode_with_foreign_keys_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("nested/dir/m.db")).await.expect("open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&store.pool)
        .await
        .expect("foreign_keys");
    assert_eq!(fk, 1);
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&store.pool)
        .await
        .expect("synchronous");
    assert_eq!(sync, 2, "FULL");
}

#[tokio::test]
async fn the_schema_has_no_place_for_passwords() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("m.db")).await.expect("open");
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('smtp_profiles')")
        .fetch_all(&store.pool)
        .await
        .expect("columns");
    assert!(columns.contains(&"username".to_owned()));
    assert!(
        !columns.iter().any(|c| c.contains("pass") || c.contains("secret")),
        "{columns:?}"
    );
}

#[tokio::test]
async fn unusable_locations_are_reported_plainly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = Store::open(dir.path()).await.expect_err("a folder");
    assert_eq!(err.kind(), ErrorKind::DatabaseUnavailable);
    assert!(err.to_string().contains("folder"), "{err}");

    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    let err = Store::open(&blocker.join("m.db")).await.expect_err("parent is a file");
    assert_eq!(err.kind(), ErrorKind::DatabaseUnavailable);

    let not_a_db = dir.path().join("notes.txt");
    std::fs::write(&not_a_db, "this is not a database, just some text that is long enough").expect("write");
    let err = Store::open(&not_a_db).await.expect_err("not sqlite");
    assert_eq!(err.kind(), ErrorKind::DatabaseUnavailable);
    assert!(err.to_string().contains("not a Mailroom database"), "{err}");
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("m.db");
    let store = Store::open(&path).await.expect("open");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (999999, 'from the future', 1, x'00', 0)",
    )
    .execute(&store.pool)
    .await
    .expect("fake migration");
    store.close().await;
    let err = Store::open(&path).await.expect_err("too new");
    assert_eq!(err.kind(), ErrorKind::DatabaseTooNew);
}

/// A store on a new file in `dir`, its clock stopped at a fixed time.
async fn store_at_fixed_time(dir: &tempfile::TempDir) -> Store {
    let clock = ManualClock::at(1_700_000_000_000);
    Store::open_with_clock(&dir.path().join("m.db"), Arc::new(clock))
        .await
        .expect("open")
}

/// The campaign an import of a one-column (`email`) list creates.
fn email_campaign(columns: &[String]) -> NewCampaign<'_> {
    NewCampaign {
        name: "c",
        source_file: "/x.csv",
        columns,
        email_column: "email",
    }
}

/// Row `n` of that list: a pending recipient `u{n}@example.com`.
fn email_row(n: u64) -> NewRecipient {
    let email = format!("u{n}@example.com");
    NewRecipient::new(n, email.clone(), &[email], RecipientStatus::Pending, None).expect("encode")
}

#[tokio::test]
async fn an_uncommitted_import_leaves_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let columns = vec!["email".to_owned()];
    let campaign = email_campaign(&columns);
    let row = email_row;

    let mut writer = store.begin_import(&campaign).await.expect("begin");
    writer.write(&[row(2), row(3)]).await.expect("write");
    drop(writer);
    assert!(store.list_campaigns().await.expect("list").is_empty());

    let mut writer = store.begin_import(&campaign).await.expect("begin");
    writer.write(&[row(2), row(3)]).await.expect("write");
    let id = writer.commit().await.expect("commit");
    let summary = store.campaign_summary(id).await.expect("summary");
    assert_eq!(summary.counts.pending, 2);
    assert_eq!(
        summary.created_at, 1_700_000_000_000,
        "time comes from the injected clock"
    );

    assert_eq!(store.resolve_campaign(&id.to_string()).await.expect("by id"), id);
    assert_eq!(store.resolve_campaign("c").await.expect("by name"), id);
    let err = store.resolve_campaign("nope").await.expect_err("unknown");
    assert_eq!(err.kind(), ErrorKind::CampaignNotFound);

    // The schema refuses a status that does not exist, on every connection.
    for _ in 0..4 {
        let refused = sqlx::query("UPDATE recipients SET status = 'lost' WHERE campaign_id = ?1")
            .bind(id)
            .execute(&store.pool)
            .await;
        assert!(refused.is_err(), "a pooled connection accepted an unknown status");
    }
}

#[tokio::test]
async fn state_changes_apply_in_order_with_a_reply_per_send_and_a_row_per_other_attempt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let columns = vec!["email".to_owned()];
    let campaign = email_campaign(&columns);
    let mut writer = store.begin_import(&campaign).await.expect("begin");
    let rows: Vec<NewRecipient> = (2..8).map(email_row).collect();
    writer.write(&rows).await.expect("write");
    let campaign = writer.commit().await.expect("commit");
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM recipients ORDER BY row_number")
        .fetch_all(&store.pool)
        .await
        .expect("ids");
    let attempt = |outcome: AttemptOutcome, code: Option<u16>, enhanced: Option<&str>, text: &str| AttemptRecord {
        started_at: 1_700_000_000_000,
        duration_ms: 12,
        outcome,
        stage: AttemptStage::Rcpt,
        code,
        enhanced_code: enhanced.map(str::to_owned),
        text: text.to_owned(),
    };

    let claims: Vec<StateChange> = ids.iter().map(|&id| StateChange::Claim { id, version: 3 }).collect();
    let mut file = store.state_file(1, 0).expect("state file");
    file.apply(&claims).expect("claims");
    let outcomes = vec![
        StateChange::Sent {
            id: ids[0],
            reply: "250 2.0.0 queued as 1".to_owned(),
            note: None,
            duration_ms: 40,
        },
        StateChange::Sent {
            id: ids[1],
            reply: "250 ok \"quoted\" 中文".to_owned(),
            note: Some(crate::outcome::RecipientReason::SentMaybeTwice),
            duration_ms: 40,
        },
        StateChange::Failed {
            id: ids[2],
            reason: crate::outcome::RecipientReason::Legacy {
                text: "550 5.1.1 User unknown".to_owned(),
            },
            attempt: Some(attempt(
                AttemptOutcome::Permanent,
                Some(550),
                Some("5.1.1"),
                "User unknown",
            )),
            suppress: None,
        },
        StateChange::Sent {
            id: ids[3],
            reply: "250 ok".to_owned(),
            note: None,
            duration_ms: 40,
        },
        StateChange::Retry {
            id: ids[4],
            next_attempt_at: 1_700_000_060_000,
            reason: crate::outcome::RecipientReason::Legacy {
                text: "454 throttled".to_owned(),
            },
            attempt: attempt(AttemptOutcome::Transient, Some(454), Some("4.7.0"), "throttled"),
        },
        StateChange::Uncertain {
            id: ids[5],
            reason: crate::outcome::RecipientReason::Legacy {
                text: "no answer after the content".to_owned(),
            },
            attempt: attempt(AttemptOutcome::Ambiguous, None, None, "no answer within 2 s"),
        },
    ];
    file.apply(&outcomes).expect("outcomes");

    let page = store.recipients(campaign, None, 0, 10).await.expect("recipients");
    let states: Vec<(RecipientStatus, u32, u32)> = page.iter().map(|r| (r.status, r.attempts, r.unanswered)).collect();
    assert_eq!(
        states,
        [
            (RecipientStatus::Sent, 1, 0),
            (RecipientStatus::Sent, 1, 0),
            (RecipientStatus::Failed, 1, 0),
            (RecipientStatus::Sent, 1, 0),
            (RecipientStatus::RetryWait, 1, 0),
            // Its content got no answer: the one unanswered attempt.
            (RecipientStatus::Uncertain, 1, 1),
        ]
    );
    assert!(
        page.iter().all(|r| r.message_version == Some(3)),
        "each claim names the version sent"
    );
    assert_eq!(
        page[1].reason,
        Some(crate::outcome::RecipientReason::SentMaybeTwice),
        "a send's note is its reason"
    );
    // A send's reply stays on its recipient; the attempts table holds the rest.
    let replies: Vec<Option<String>> = sqlx::query_scalar("SELECT sent_reply FROM recipients ORDER BY id")
        .fetch_all(&store.pool)
        .await
        .expect("replies");
    assert_eq!(
        replies,
        [
            Some("250 2.0.0 queued as 1".to_owned()),
            Some("250 ok \"quoted\" 中文".to_owned()),
            None,
            Some("250 ok".to_owned()),
            None,
            None
        ]
    );
    type AttemptRow = (i64, String, String, Option<i64>, Option<String>, String, i64);
    let attempts: Vec<AttemptRow> = sqlx::query_as(
        "SELECT recipient_id, outcome, stage, smtp_code, enhanced_code, text, duration_ms FROM attempts ORDER BY id",
    )
    .fetch_all(&store.pool)
    .await
    .expect("attempts");
    let expected = [
        (ids[2], "permanent", "rcpt", Some(550), Some("5.1.1"), "User unknown"),
        (ids[4], "transient", "rcpt", Some(454), Some("4.7.0"), "throttled"),
        (ids[5], "ambiguous", "rcpt", None, None, "no answer within 2 s"),
    ];
    assert_eq!(attempts.len(), expected.len());
    for (row, want) in attempts.iter().zip(expected) {
        assert_eq!(
            (
                row.0,
                row.1.as_str(),
                row.2.as_str(),
                row.3,
                row.4.as_deref(),
                row.5.as_str(),
                row.6
            ),
            (want.0, want.1, want.2, want.3, want.4, want.5, 12)
        );
    }
    let counted: i64 = sqlx::query_scalar("SELECT SUM(count) FROM send_counts WHERE profile_id = 1")
        .fetch_one(&store.pool)
        .await
        .expect("send counts");
    assert_eq!(counted, 6, "each claim counts once against the account's quotas");
}

/// A batch the disk cannot take is refused whole, as a full disk (here the
/// database held at the pages it has, which SQLite reports as SQLITE_FULL,
/// as it does ENOSPC): the runner pauses on it instead of failing.
#[tokio::test]
async fn a_batch_the_disk_cannot_take_is_refused_whole_as_a_full_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let columns = vec!["email".to_owned()];
    let mut writer = store.begin_import(&email_campaign(&columns)).await.expect("begin");
    let rows: Vec<NewRecipient> = (2..12).map(email_row).collect();
    writer.write(&rows).await.expect("write");
    let campaign = writer.commit().await.expect("commit");
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM recipients ORDER BY row_number")
        .fetch_all(&store.pool)
        .await
        .expect("ids");
    let mut file = store.state_file(1, 0).expect("state file");
    file.stop_growing().expect("page limit");
    let mut changes: Vec<StateChange> = ids.iter().map(|&id| StateChange::Claim { id, version: 1 }).collect();
    // Long server texts: more than the pages there are room for.
    changes.extend(ids.iter().map(|&id| StateChange::Failed {
        id,
        reason: crate::outcome::RecipientReason::Legacy {
            text: "550 no".to_owned(),
        },
        attempt: Some(AttemptRecord {
            started_at: 0,
            duration_ms: 0,
            outcome: AttemptOutcome::Permanent,
            stage: AttemptStage::Rcpt,
            code: Some(550),
            enhanced_code: None,
            text: "x".repeat(20_000),
        }),
        suppress: None,
    }));
    let refused = file.apply(&changes).expect_err("the database may not grow");
    assert!(refused.is_disk_full(), "{refused:?}");
    let page = store.recipients(campaign, None, 0, 100).await.expect("recipients");
    assert!(
        page.iter()
            .all(|r| r.status == RecipientStatus::Pending && r.attempts == 0),
        "nothing of the batch is in the file"
    );
}

/// The state writer skips the schema's CHECK constraints (they cost a
/// temporary table per statement); this holds the types it writes to them.
#[tokio::test]
async fn every_attempt_outcome_and_stage_passes_the_schema_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let columns = vec!["email".to_owned()];
    let mut writer = store.begin_import(&email_campaign(&columns)).await.expect("begin");
    writer.write(&[email_row(2)]).await.expect("write");
    writer.commit().await.expect("commit");
    let recipient: i64 = sqlx::query_scalar("SELECT id FROM recipients")
        .fetch_one(&store.pool)
        .await
        .expect("id");
    let insert = |outcome: &str, stage: &str| {
        sqlx::query(
            "INSERT INTO attempts (recipient_id, started_at, duration_ms, outcome, stage) VALUES (?1, 0, 0, ?2, ?3)",
        )
        .bind(recipient)
        .bind(outcome.to_owned())
        .bind(stage.to_owned())
        .execute(&store.pool)
    };
    for outcome in AttemptOutcome::ALL {
        for stage in AttemptStage::ALL {
            insert(outcome.as_str(), stage.as_str())
                .await
                .unwrap_or_else(|e| panic!("{outcome:?} at {stage:?} refused: {e}"));
        }
    }
    // The checks are on for the pool, so the loop above proves something.
    assert!(insert("lost", "data").await.is_err());
    assert!(insert("sent", "teleport").await.is_err());
}

/// A campaign named `name` with one pending recipient, committed.
async fn campaign_named(store: &Store, name: &str) -> CampaignId {
    let columns = vec!["email".to_owned()];
    let mut writer = store
        .begin_import(&NewCampaign {
            name,
            ..email_campaign(&columns)
        })
        .await
        .expect("begin");
    writer.write(&[email_row(2)]).await.expect("write");
    writer.commit().await.expect("commit")
}

#[tokio::test]
async fn a_reference_more_than_one_campaign_answers_to_is_refused_with_them_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let spring = campaign_named(&store, "spring").await;
    let named_one = campaign_named(&store, "1").await;
    let spring_again = campaign_named(&store, "spring").await;
    assert_eq!((spring, named_one, spring_again), (1, 2, 3));

    // "1" is campaign 1 and the campaign named "1": neither silently.
    let err = store.resolve_campaign("1").await.expect_err("ambiguous");
    assert_eq!(err.kind(), ErrorKind::AmbiguousCampaign);
    let message = err.to_string();
    assert!(
        message.contains("#2 \"1\" (draft, made 2023-11-14 22:13 UTC)"),
        "{message}"
    );
    assert!(message.contains("#1 \"spring\" (draft"), "{message}");
    assert!(message.contains("as #2"), "{message}");
    // Two imports named alike: both listed, not the newest picked.
    let err = store.resolve_campaign("spring").await.expect_err("ambiguous");
    assert!(
        err.to_string().contains("#3 \"spring\"") && err.to_string().contains("#1 \"spring\""),
        "{err}"
    );

    // `#N` is always the id; a number nothing else is named is the id too.
    assert_eq!(store.resolve_campaign("#1").await.expect("#1"), spring);
    assert_eq!(store.resolve_campaign(" #3 ").await.expect("#3"), spring_again);
    assert_eq!(store.resolve_campaign("2").await.expect("2"), named_one);
    for unknown in ["#9", "9", "summer"] {
        let err = store.resolve_campaign(unknown).await.expect_err(unknown);
        assert_eq!(err.kind(), ErrorKind::CampaignNotFound, "{unknown}");
    }
}

#[tokio::test]
async fn an_import_does_not_replace_a_campaign_that_is_no_longer_a_draft() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let old = campaign_named(&store, "spring").await;
    sqlx::query("UPDATE campaigns SET status = 'completed' WHERE id = ?1")
        .bind(old)
        .execute(&store.pool)
        .await
        .expect("complete it");
    let columns = vec!["email".to_owned()];
    let mut writer = store.begin_import(&email_campaign(&columns)).await.expect("begin");
    writer.write(&[email_row(2)]).await.expect("write");
    let err = writer.supersede(old).await.expect_err("not a draft");
    assert_eq!(err.kind(), ErrorKind::CampaignState);
    assert!(err.to_string().contains("is completed"), "{err}");
    drop(writer);
    let left = store.list_campaigns().await.expect("list");
    assert_eq!(left.len(), 1, "neither replaced nor a second campaign saved");
    assert_eq!(left[0].id, old);
}

#[tokio::test]
async fn opening_to_read_never_creates_a_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("typo.db");
    let err = Store::open_to_read(&path).await.expect_err("no such file");
    assert_eq!(err.kind(), ErrorKind::DatabaseUnavailable);
    assert!(err.to_string().contains("no such file"), "{err}");
    assert!(!path.exists());
}

#[tokio::test]
async fn opening_read_only_refuses_a_schema_it_cannot_bring_up_to_date() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("m.db");
    let store = Store::open(&path).await.expect("open");
    let id = campaign_named(&store, "spring").await;
    store.close().await;

    let options = SqliteConnectOptions::new().filename(&path).read_only(true);
    let read = Store::connect_read_only(&path, options.clone(), Arc::new(SystemClock))
        .await
        .expect("current schema");
    assert_eq!(read.resolve_campaign("spring").await.expect("resolve"), id);
    let refused = sqlx::query("DELETE FROM campaigns").execute(&read.pool).await;
    assert!(refused.is_err(), "a read-only store changed the file");
    read.close().await;

    let writable = Store::open(&path).await.expect("open");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(&writable.pool)
        .await
        .expect("forget a migration");
    writable.close().await;
    let err = Store::connect_read_only(&path, options, Arc::new(SystemClock))
        .await
        .expect_err("older schema");
    assert!(err.to_string().contains("older Mailroom"), "{err}");
}

/// Migration 0006 reads the sentences earlier versions stored into the
/// typed reasons a front end translates; what it cannot read stays whole.
#[tokio::test]
async fn reasons_stored_as_text_are_moved_into_their_typed_form() {
    use crate::address::InvalidReason;
    use crate::outcome::{PauseReason, RecipientReason};

    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let columns = vec!["email".to_owned()];
    let mut writer = store.begin_import(&email_campaign(&columns)).await.expect("begin");
    writer
        .write(&(2..9).map(email_row).collect::<Vec<_>>())
        .await
        .expect("write");
    let campaign = writer.commit().await.expect("commit");
    // What a database written before 0006 holds, row by row.
    let old = [
        "invalid address: the domain after the @ is not valid",
        "duplicate of row 2",
        "on the suppression list",
        "rcpt: 550 5.1.1 User unknown",
        "the campaign was stopped",
        "sent; an earlier attempt got no answer after its content, so this recipient may have received the message \
         more than once (same Message-ID, which most providers de-duplicate)",
        "gave up after 3 attempts; the last: connect: 127.0.0.1:1: connection refused",
    ];
    for (row, text) in (2_i64..).zip(old) {
        sqlx::query("UPDATE recipients SET reason = ?1 WHERE row_number = ?2")
            .bind(text)
            .bind(row)
            .execute(&store.pool)
            .await
            .expect("old reason");
    }
    sqlx::query(
        "UPDATE campaigns SET status = 'paused', pause_reason = '4 failed recipients to send again' WHERE id = ?1",
    )
    .bind(campaign)
    .execute(&store.pool)
    .await
    .expect("old pause reason");

    sqlx::raw_sql(include_str!("../../migrations/0006_reasons_as_data.sql"))
        .execute(&store.pool)
        .await
        .expect("migration 0006");

    let reasons: Vec<Option<RecipientReason>> = store
        .recipients(campaign, None, 0, 10)
        .await
        .expect("recipients")
        .into_iter()
        .map(|r| r.reason)
        .collect();
    // The reply as the engine keeps it (the store holds reasons as this JSON).
    let refused = RecipientReason::from_stored(
        r#"{"kind":"smtp","failure":{"stage":"rcpt","problem":"rejected","code":550,"enhanced_code":null,
            "text":"5.1.1 User unknown","after_content":false},"unanswered_before":false}"#,
    );
    assert!(matches!(refused, RecipientReason::Smtp { .. }), "{refused:?}");
    assert_eq!(
        reasons,
        [
            Some(RecipientReason::InvalidAddress {
                problem: InvalidReason::BadDomain
            }),
            Some(RecipientReason::Duplicate { first_row: 2 }),
            Some(RecipientReason::Suppressed { reason: None }),
            Some(refused),
            Some(RecipientReason::Stopped),
            Some(RecipientReason::SentMaybeTwice),
            Some(RecipientReason::Legacy {
                text: old[6].to_owned()
            }),
        ]
    );
    assert_eq!(
        store.pause_reason(campaign).await.expect("pause reason"),
        Some(PauseReason::FailedToResend { count: 4 })
    );
}

/// A run killed with recipients in flight: the next run records those
/// attempts (no answer, duration unknown, the killed run's) and marks the
/// killed run interrupted before it opens its own.
#[tokio::test]
async fn a_run_killed_in_flight_leaves_an_attempt_in_each_history_and_an_interrupted_run() {
    use crate::results::{AttemptResult, RunEnd, RunKind};

    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let columns = vec!["email".to_owned()];
    let mut writer = store.begin_import(&email_campaign(&columns)).await.expect("begin");
    writer.write(&[email_row(2), email_row(3)]).await.expect("write");
    let campaign = writer.commit().await.expect("commit");
    let first = store.begin_run(campaign, 1, "Sandbox").await.expect("first run");
    let id: i64 = sqlx::query_scalar("SELECT id FROM recipients WHERE row_number = 2")
        .fetch_one(&store.pool)
        .await
        .expect("id");
    let mut file = store.state_file(1, first.run).expect("state file");
    file.apply(&[StateChange::Claim { id, version: 1 }]).expect("claim");
    // Killed here: nothing more is written. The next run starts.
    let second = store.begin_run(campaign, 1, "Sandbox").await.expect("second run");
    assert_eq!(second.uncertain_recovered, 1);
    let history = store.recipient_history(campaign, 2).await.expect("history");
    assert_eq!(history.recipient.status, RecipientStatus::Uncertain);
    assert_eq!(history.attempts.len(), 1, "{history:?}");
    let attempt = &history.attempts[0];
    assert_eq!(
        (attempt.result, attempt.duration_ms, attempt.run),
        (AttemptResult::Ambiguous, None, Some(first.run))
    );
    assert_eq!(attempt.account.as_deref(), Some("Sandbox"));
    let runs = store.runs(campaign).await.expect("runs");
    assert_eq!(
        runs.iter().map(|r| (r.kind, r.end)).collect::<Vec<_>>(),
        [(RunKind::First, Some(RunEnd::Interrupted)), (RunKind::Resume, None)]
    );
    store
        .end_run(second.run, RunEnd::Paused, Some(&crate::outcome::PauseReason::ByYou))
        .await
        .expect("end");
    let runs = store.runs(campaign).await.expect("runs");
    assert_eq!(runs[1].end, Some(RunEnd::Paused));
    assert_eq!(runs[1].reason, Some(crate::outcome::PauseReason::ByYou));
}

/// Stop from paused on a campaign whose run was killed (the window offers it:
/// a crashed campaign shows as paused) closes that run as interrupted and
/// keeps its in-flight attempt in the history, as a resume would.
#[tokio::test]
async fn recovering_a_killed_run_without_resuming_closes_it_and_keeps_its_attempt() {
    use crate::results::{AttemptResult, RunEnd, RunKind};

    let dir = tempfile::tempdir().expect("temp dir");
    let store = store_at_fixed_time(&dir).await;
    let columns = vec!["email".to_owned()];
    let mut writer = store.begin_import(&email_campaign(&columns)).await.expect("begin");
    writer.write(&[email_row(2), email_row(3)]).await.expect("write");
    let campaign = writer.commit().await.expect("commit");
    let first = store.begin_run(campaign, 1, "Sandbox").await.expect("first run");
    let id: i64 = sqlx::query_scalar("SELECT id FROM recipients WHERE row_number = 2")
        .fetch_one(&store.pool)
        .await
        .expect("id");
    let mut file = store.state_file(1, first.run).expect("state file");
    file.apply(&[StateChange::Claim { id, version: 1 }]).expect("claim");
    // Killed here; then stopped (campaign::stop_idle recovers first).
    assert_eq!(store.recover_interrupted(campaign).await.expect("recover"), 1);
    let history = store.recipient_history(campaign, 2).await.expect("history");
    assert_eq!(history.recipient.status, RecipientStatus::Uncertain);
    assert_eq!(
        history.attempts.iter().map(|a| (a.result, a.run)).collect::<Vec<_>>(),
        [(AttemptResult::Ambiguous, Some(first.run))]
    );
    let runs = store.runs(campaign).await.expect("runs");
    assert_eq!(
        runs.iter().map(|r| (r.kind, r.end)).collect::<Vec<_>>(),
        [(RunKind::First, Some(RunEnd::Interrupted))]
    );
}
