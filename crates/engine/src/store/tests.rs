//! Store tests on real SQLite files.

use std::sync::Arc;

use super::*;
use crate::ErrorKind;
use crate::clock::ManualClock;
use crate::model::RecipientStatus;
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

#[tokio::test]
async fn an_uncommitted_import_leaves_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::at(1_700_000_000_000);
    let store = Store::open_with_clock(&dir.path().join("m.db"), Arc::new(clock.clone()))
        .await
        .expect("open");
    let columns = vec!["email".to_owned()];
    let campaign = NewCampaign {
        name: "c",
        source_file: "/x.csv",
        columns: &columns,
        email_column: "email",
    };
    let row = |n: u64| {
        let email = format!("u{n}@example.com");
        NewRecipient::new(n, email.clone(), &[email], RecipientStatus::Pending, None).expect("encode")
    };

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

    // The import skipped the status CHECK on its own connection only: every
    // pooled connection still refuses a status that does not exist.
    for _ in 0..4 {
        let refused = sqlx::query("UPDATE recipients SET status = 'lost' WHERE campaign_id = ?1")
            .bind(id)
            .execute(&store.pool)
            .await;
        assert!(refused.is_err(), "a pooled connection accepted an unknown status");
    }
}
