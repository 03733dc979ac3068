//! The session's own promises: the sandbox starts once and only for an
//! action that needs it, a campaign runs once at a time, and closing (or
//! dropping) the session stops what it started; an import reports through
//! the engine's coalescer and its registry cancels it.

use std::sync::Arc;
use std::time::Duration;

use super::Session;
use crate::campaign::{CampaignEvent, RunControl, RunOptions, RunOutcome};
use crate::error::ErrorKind;
use crate::import::{ImportOptions, RecipientSource};
use crate::message::MessageDraft;
use crate::model::ImportProgress;
use crate::progress::Ignore;
use crate::secrets::SecretStore;
use crate::smtp::account;
use crate::smtp::manage::PasswordChange;
use crate::smtp::{AccountSettings, AuthMethod};
use crate::store::Store;

/// A port nothing listens on (bound, then let go).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

async fn session(dir: &tempfile::TempDir) -> Session {
    let store = Store::open(&dir.path().join("mailroom.db")).await.expect("open");
    let secrets = SecretStore::EncryptedFile {
        dir: dir.path().to_owned(),
    };
    Session::with_secrets(store, secrets)
}

/// A Sandbox account on a port of its own (the seeded one uses 2525, which
/// another test or program may hold), sending `rate` a second.
async fn add_sandbox(session: &Session, name: &str, rate: Option<f64>) -> u16 {
    let port = free_port();
    let settings = AccountSettings {
        port,
        rate_per_second: rate,
        ..account::preset("sandbox").expect("the preset").settings(name, None)
    };
    assert!(settings.is_sandbox());
    crate::smtp::manage::add_account(session.store(), session.secrets().await, settings, None)
        .await
        .expect("the sandbox account");
    port
}

#[tokio::test]
async fn the_sandbox_starts_once_and_only_for_an_action_on_the_sandbox_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = session(&dir).await;
    let real_port = free_port();
    let real = AccountSettings {
        name: "Real".to_owned(),
        host: "127.0.0.1".to_owned(),
        port: real_port,
        from_address: Some("news@example.com".to_owned()),
        auth: AuthMethod::None,
        ..AccountSettings::default()
    };
    crate::smtp::manage::add_account(session.store(), session.secrets().await, real, None)
        .await
        .expect("the real account");
    let port = add_sandbox(&session, "Local", None).await;

    // A real SMTP account: Test connection tries its server, and no
    // sandbox is started for it (nothing listens there, so it fails).
    let diagnosis = session
        .test_account("Real", None, 1, &Ignore)
        .await
        .expect("a diagnosis");
    assert!(!diagnosis.ok, "{diagnosis:?}");
    assert!(
        session.sandbox_addresses().await.is_empty(),
        "a sandbox started for a real account"
    );

    // The Sandbox account: the session starts the sandbox, once, and
    // keeps it for the next action.
    for test in [2, 3] {
        let diagnosis = session
            .test_account("Local", None, test, &Ignore)
            .await
            .expect("a diagnosis");
        assert!(diagnosis.ok, "{diagnosis:?}");
        let addrs = session.sandbox_addresses().await;
        assert_eq!(addrs.len(), 1, "{addrs:?}");
        assert_eq!(addrs[0].port(), port);
    }
}

#[tokio::test]
async fn closing_the_session_stops_its_sandbox_and_closes_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = session(&dir).await;
    let port = add_sandbox(&session, "Local", None).await;
    session
        .test_account("Local", None, 1, &Ignore)
        .await
        .expect("a diagnosis");
    let sandbox = session
        .inner
        .sandboxes
        .lock()
        .await
        .get(&port)
        .cloned()
        .expect("started");
    let store = session.store().clone();

    session.close().await;
    tokio::time::timeout(Duration::from_secs(5), sandbox.stopped())
        .await
        .expect("the sandbox stopped");
    assert!(store.templates().await.is_err(), "the database is still open");

    // Dropped without close: the last clone stops the sandbox too.
    let session = self::session(&dir).await;
    session
        .test_account("Local", None, 1, &Ignore)
        .await
        .expect("a diagnosis");
    let sandbox = session
        .inner
        .sandboxes
        .lock()
        .await
        .get(&port)
        .cloned()
        .expect("started again");
    let clone = session.clone();
    drop(session);
    assert!(
        tokio::time::timeout(Duration::ZERO, sandbox.stopped()).await.is_err(),
        "stopped while a clone of the session lives"
    );
    drop(clone);
    tokio::time::timeout(Duration::from_secs(5), sandbox.stopped())
        .await
        .expect("the sandbox stopped with the last clone");
}

#[tokio::test]
async fn a_campaign_running_in_the_session_is_not_started_twice_and_pauses_through_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = session(&dir).await;
    // Slow enough that the run is still sending when the second one is asked for.
    add_sandbox(&session, "Local", Some(2.0)).await;
    let file = dir.path().join("list.csv");
    let rows: String = (0..50).map(|i| format!("person{i}@example.com\n")).collect();
    std::fs::write(&file, format!("email\n{rows}")).expect("the list");
    let options = ImportOptions::default();
    let source = RecipientSource::open(&file, &options).await.expect("the file");
    let report = crate::import::import(session.store(), source, &options)
        .await
        .expect("import");
    let campaign = report.campaign.id;
    let draft = MessageDraft {
        subject: "Hello".to_owned(),
        text: Some("Hi".to_owned()),
        ..MessageDraft::default()
    };
    session.save_message(campaign, &draft).await.expect("the message");

    let started = Arc::new(tokio::sync::Notify::new());
    let on_start = started.clone();
    let sink = Arc::new(move |event: &CampaignEvent| {
        if matches!(event, CampaignEvent::Started { .. }) {
            on_start.notify_one();
        }
    });
    let first = tokio::spawn({
        let session = session.clone();
        async move {
            session
                .send(campaign, &["Local"], RunOptions::default(), RunControl::default(), sink)
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(30), started.notified())
        .await
        .expect("the first run started");
    assert!(session.sending());

    let second = session
        .send(
            campaign,
            &["Local"],
            RunOptions::default(),
            RunControl::default(),
            Arc::new(|_: &CampaignEvent| {}),
        )
        .await
        .expect_err("a second run of the same campaign");
    assert_eq!(second.kind(), ErrorKind::SendingElsewhere, "{second}");

    assert!(session.pause(campaign), "the run was not registered");
    let report = tokio::time::timeout(Duration::from_secs(30), first)
        .await
        .expect("the run paused")
        .expect("the task")
        .expect("the run");
    assert_eq!(report.outcome, RunOutcome::Paused, "{report:?}");
    assert!(!session.sending(), "the run is still registered after it ended");
    assert!(!session.pause(campaign));
    session.close().await;
}

#[tokio::test]
async fn pause_all_pauses_every_run_and_returns_once_they_have_ended() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = session(&dir).await;
    assert!(!session.sending());
    let controls = [RunControl::default(), RunControl::default()];
    let mut held = Vec::new();
    for (id, control) in (1..).zip(&controls) {
        held.push(session.inner.runs.claim(id, control.clone()).expect("registered"));
    }
    assert!(session.sending());
    assert_eq!(session.running(), [1, 2]);
    // Each run ends (leaves the registry) only after it saw its pause.
    for (control, registered) in controls.iter().cloned().zip(held) {
        tokio::spawn(async move {
            while !control.pause_requested() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
            drop(registered);
        });
    }
    session.pause_all().await;
    assert!(controls.iter().all(RunControl::pause_requested));
    assert!(!session.sending(), "returned before every run had ended");
}

/// A recipient file of `rows` addresses in `dir`.
fn big_csv(dir: &tempfile::TempDir, rows: usize) -> std::path::PathBuf {
    let mut csv = String::from("email\n");
    for i in 0..rows {
        csv.push_str(&format!("user{i}@example.com\n"));
    }
    let path = dir.path().join("big.csv");
    std::fs::write(&path, csv).expect("write the file");
    path
}

#[tokio::test]
async fn an_import_reports_through_the_engines_coalescer_and_its_last_step_comes_before_the_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = session(&dir).await;
    let path = big_csv(&dir, 5_000);
    let delivered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = delivered.clone();
    // What the shell does: the engine's coalescer, each batch to the window.
    let sink = crate::progress::Coalescer::for_window(0, move |batch: crate::progress::Batch<ImportProgress>| {
        into.lock().expect("test step").push(batch);
    });
    let report = session
        .import(&path, &ImportOptions::default(), 1, &sink)
        .await
        .expect("import");
    sink.finish();
    assert_eq!(report.valid, 5_000);
    let batches = delivered.lock().expect("test step");
    assert!(!batches.is_empty() && batches.len() <= 3, "{batches:?}");
    assert!(
        batches.iter().all(|b| b.events.len() == 1),
        "one snapshot a batch: {batches:?}"
    );
    let last = batches.last().and_then(|b| b.events.last()).expect("a step");
    assert_eq!(last.rows, 5_000);
    assert!((last.fraction - 1.0).abs() < f64::EPSILON, "{last:?}");
}

#[tokio::test]
async fn cancel_import_stops_an_import_through_its_sink_and_nothing_is_saved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = session(&dir).await;
    let path = big_csv(&dir, 10_000);
    // Cancel pressed while the first batch is reported; the sink itself
    // would go on.
    let cancel_on_first = |_: &ImportProgress| session.cancel_import(7);
    let err = session
        .import(&path, &ImportOptions::default(), 7, &cancel_on_first)
        .await
        .expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::ImportCancelled);
    assert!(session.campaigns().await.expect("list").is_empty());
    // The id is free again: the next import under it runs to the end.
    let report = session
        .import(&path, &ImportOptions::default(), 7, &Ignore)
        .await
        .expect("import");
    assert_eq!(report.valid, 10_000);
}

#[tokio::test]
async fn the_account_forms_save_adds_then_changes_and_an_empty_password_keeps_the_stored_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let session = session(&dir).await;
    let settings = AccountSettings {
        host: "smtp.example.com".to_owned(),
        auth: AuthMethod::Plain,
        username: Some("me@example.com".to_owned()),
        ..account::preset("custom").expect("the preset").settings("Work", None)
    };
    let added = session
        .save_account(None, settings.clone(), PasswordChange::Set("app-pw".to_owned()))
        .await
        .expect("added");
    let stored = || async { session.secrets().await.get("Work").await.expect("readable") };
    assert_eq!(stored().await.as_deref(), Some("app-pw"));
    // Saved again with the password field left empty: the stored one stays.
    let changed = AccountSettings { port: 2587, ..settings };
    let saved = session
        .save_account(Some(added.id), changed.clone(), PasswordChange::Set(String::new()))
        .await
        .expect("changed");
    assert_eq!((saved.id, saved.settings.port), (added.id, 2587));
    assert_eq!(stored().await.as_deref(), Some("app-pw"));
    // Clear means clear.
    session
        .save_account(Some(added.id), changed, PasswordChange::Clear)
        .await
        .expect("cleared");
    assert_eq!(stored().await, None);
}
