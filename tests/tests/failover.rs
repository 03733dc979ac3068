//! Several accounts for one campaign (issue 19), against two scripted
//! servers: when the first account is suspended (Gmail's real `550 5.4.5`
//! daily limit) or cannot log in, the rest goes through the second, and back
//! to the first when its suspension ends; a suspension outlives the run (a
//! new `send` on the same store honours it) until its time or "Resume now".
//! Nobody is lost, nobody gets two, nobody fails for a suspension, and every
//! recipient's record names the account that sent it.
//!
//! The store's clock is a `ManualClock`: a day-long suspension ends when the
//! test moves it a day on (the run looks every second), not after a day.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailroom_e2e::smtp_server::{Received, Script, ScriptedServer};
use mailroom_engine::campaign::{
    self, AccountChange, CampaignEvent, PauseReason, RunControl, RunOptions, RunOutcome, RunReport, SuspensionReason,
};
use mailroom_engine::clock::ManualClock;
use mailroom_engine::import::{self, ImportOptions, RecipientSource};
use mailroom_engine::message::{MessageDraft, save_message};
use mailroom_engine::model::RecipientStatus;
use mailroom_engine::results::AttemptResult;
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::smtp::manage::{add_account, get_account, resume_account};
use mailroom_engine::smtp::{AccountSettings, AuthMethod, Security};
use mailroom_engine::{Error, Store};
use tempfile::TempDir;

/// 2025-12-01 10:00:00 UTC.
const START_MS: i64 = 1_764_583_200_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const GMAIL_DAILY_LIMIT: &str = "550 5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to https://support.google.com/a/answer/166852";

struct Fixture {
    _dir: TempDir,
    store: Store,
    secrets: SecretStore,
    clock: ManualClock,
    campaign: i64,
    n: usize,
}

fn address(i: usize) -> String {
    format!("user{i:04}@example.org")
}

fn settings(name: &str, port: u16, preset: Option<&str>) -> AccountSettings {
    AccountSettings {
        name: name.to_owned(),
        preset: preset.map(str::to_owned),
        host: "127.0.0.1".to_owned(),
        port,
        security: Security::None,
        auth: AuthMethod::None,
        from_address: Some(format!("news@{name}.example.com")),
        connections: 1,
        per_connection: 100,
        connect_timeout_ms: 2_000,
        command_timeout_ms: 2_000,
        data_timeout_ms: 2_000,
        retries: 3,
        ..AccountSettings::default()
    }
}

/// `n` recipients and a message; the accounts are the test's to add.
async fn fixture(n: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("test step");
    let clock = ManualClock::at(START_MS);
    let store = Store::open_with_clock(&dir.path().join("mailroom.db"), Arc::new(clock.clone()))
        .await
        .expect("test step");
    let secrets = SecretStore::EncryptedFile {
        dir: dir.path().to_owned(),
    };
    let mut csv = String::from("email,first_name\n");
    for i in 0..n {
        csv.push_str(&format!("{},Name {i}\n", address(i)));
    }
    let list = dir.path().join("list.csv");
    std::fs::write(&list, csv).expect("test step");
    let options = ImportOptions::default();
    let source = RecipientSource::open(&list, &options).await.expect("test step");
    let campaign = import::import(&store, source, &options)
        .await
        .expect("test step")
        .campaign
        .id;
    let draft = MessageDraft {
        subject: "Hello {{ first_name }}".to_owned(),
        text: Some("Dear {{ first_name }}.\n".to_owned()),
        ..MessageDraft::default()
    };
    save_message(&store, campaign, &draft).await.expect("test step");
    Fixture {
        _dir: dir,
        store,
        secrets,
        clock,
        campaign,
        n,
    }
}

type Events = Arc<Mutex<Vec<CampaignEvent>>>;

/// Sends the campaign on `accounts`; its events gather in the returned list.
fn start(
    fixture: &Fixture,
    accounts: &[&str],
    control: RunControl,
) -> (tokio::task::JoinHandle<Result<RunReport, Error>>, Events) {
    let events: Events = Arc::default();
    let sink_events = events.clone();
    let sink = Arc::new(move |event: &CampaignEvent| sink_events.lock().expect("test step").push(event.clone()));
    let (store, secrets, campaign) = (fixture.store.clone(), fixture.secrets.clone(), fixture.campaign);
    let accounts: Vec<String> = accounts.iter().map(|a| (*a).to_owned()).collect();
    let options = RunOptions {
        retry_base: Duration::from_millis(50),
        retry_cap: Duration::from_millis(400),
        first_contact_wait: Duration::from_millis(50),
        ..RunOptions::default()
    };
    let run = tokio::spawn(async move {
        let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
        campaign::send(&store, &secrets, campaign, &accounts, options, control, sink).await
    });
    (run, events)
}

/// Waits (up to a minute) until an event satisfies `wanted`, and returns it.
async fn event(events: &Events, wanted: impl Fn(&CampaignEvent) -> bool) -> CampaignEvent {
    for _ in 0..600 {
        if let Some(found) = events.lock().expect("test step").iter().find(|e| wanted(e)).cloned() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the event never came: {:?}", events.lock().expect("test step"));
}

async fn finish(run: tokio::task::JoinHandle<Result<RunReport, Error>>) -> RunReport {
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("the campaign hung"))
        .expect("test step")
        .expect("test step")
}

fn accepted_per_recipient(received: &[Received]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in received {
        for to in &message.rcpt_to {
            *counts.entry(to.clone()).or_default() += 1;
        }
    }
    counts
}

/// The account each recipient's sent attempt names, by address.
async fn sent_by(fixture: &Fixture) -> HashMap<String, String> {
    let mut by = HashMap::new();
    // Row 1 is the file's header.
    for row in 2..=fixture.n as u64 + 1 {
        let history = fixture
            .store
            .recipient_history(fixture.campaign, row)
            .await
            .expect("test step");
        let sent: Vec<_> = history
            .attempts
            .iter()
            .filter(|a| a.result == AttemptResult::Sent)
            .collect();
        assert_eq!(sent.len(), 1, "row {row}: {:?}", history.attempts);
        by.insert(
            history.recipient.email.clone(),
            sent[0].account.clone().expect("a sent attempt names its account"),
        );
    }
    by
}

/// Everyone sent exactly once across both servers, nobody failed, and each
/// recipient's record names the account whose server has its message.
async fn everyone_once_on_the_account_that_sent_it(fixture: &Fixture, first: &ScriptedServer, second: &ScriptedServer) {
    let counts = fixture.store.status_counts(fixture.campaign).await.expect("test step");
    assert_eq!((counts.sent, counts.failed), (fixture.n as u64, 0), "{counts:?}");
    let on_first = accepted_per_recipient(&first.received());
    let on_second = accepted_per_recipient(&second.received());
    for i in 0..fixture.n {
        let copies = on_first.get(&address(i)).unwrap_or(&0) + on_second.get(&address(i)).unwrap_or(&0);
        assert_eq!(copies, 1, "{} got {copies} copies", address(i));
    }
    let by = sent_by(fixture).await;
    for (email, account) in &by {
        let server = if on_first.contains_key(email) {
            "first"
        } else {
            "second"
        };
        assert_eq!(account, server, "{email}");
    }
    let recipients = fixture
        .store
        .recipients(fixture.campaign, None, 0, u64::MAX)
        .await
        .expect("test step");
    assert!(
        recipients
            .iter()
            .all(|r| r.status == RecipientStatus::Sent && r.attempts == 1),
        "a suspension uses no attempt: {recipients:?}"
    );
}

fn moved(event: &CampaignEvent) -> (String, String, AccountChange) {
    match event {
        CampaignEvent::AccountChanged { from, to, why } => (from.clone(), to.clone(), why.clone()),
        other => panic!("not a move: {other:?}"),
    }
}

#[tokio::test]
async fn gmails_daily_limit_moves_the_rest_to_the_second_account_and_back_when_it_ends() {
    let first = ScriptedServer::start(Script {
        replay_at_mail: Some((4, vec![GMAIL_DAILY_LIMIT.to_owned()])),
        ..Script::default()
    })
    .await;
    // The second is slow, so that the first's suspension ends while it sends.
    let second = ScriptedServer::start(Script {
        slow_replies: Some(Duration::from_millis(40)),
        ..Script::default()
    })
    .await;
    let fixture = fixture(40).await;
    add_account(
        &fixture.store,
        &fixture.secrets,
        settings("first", first.port(), Some("gmail")),
        None,
    )
    .await
    .expect("test step");
    add_account(
        &fixture.store,
        &fixture.secrets,
        settings("second", second.port(), None),
        None,
    )
    .await
    .expect("test step");
    let (run, events) = start(&fixture, &["first", "second"], RunControl::default());

    let (from, to, why) = moved(&event(&events, |e| matches!(e, CampaignEvent::AccountChanged { .. })).await);
    assert_eq!((from.as_str(), to.as_str()), ("first", "second"));
    let AccountChange::Suspended { until, reason } = why else {
        panic!("moved for {why:?}");
    };
    assert!(
        matches!(&reason, SuspensionReason::Rule { rule, .. } if rule == "gmail.daily_limit"),
        "{reason:?}"
    );
    assert!(until > START_MS + DAY_MS / 2, "a daily limit: {until}");
    // Kept on the account, and shown there.
    let shown = get_account(&fixture.store, &fixture.secrets, "first")
        .await
        .expect("test step")
        .suspension
        .expect("the first account shows its suspension");
    assert_eq!(shown.until, until);

    // The second sends meanwhile; then the first's suspension ends.
    for _ in 0..100 {
        if second.received().len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(second.received().len() >= 5, "the second account sends");
    fixture.clock.advance_ms(until - START_MS + 1_000);
    let (from, to, why) = moved(
        &event(
            &events,
            |e| matches!(e, CampaignEvent::AccountChanged { to, .. } if to == "first"),
        )
        .await,
    );
    assert_eq!(
        (from.as_str(), to.as_str(), why),
        ("second", "first", AccountChange::Resumed)
    );

    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    everyone_once_on_the_account_that_sent_it(&fixture, &first, &second).await;
    let on_first_after = first.received().len();
    assert!(on_first_after > 4, "sending moved back to the first: {on_first_after}");
    assert!(
        second.received().len() < fixture.n - 4,
        "the second did not send it all"
    );
    // The export of the results names the account that sent each recipient.
    let by = sent_by(&fixture).await;
    let path = fixture._dir.path().join("sent.csv");
    mailroom_engine::export::export_recipients(&fixture.store, fixture.campaign, &[RecipientStatus::Sent], &path)
        .await
        .expect("test step");
    let text = std::fs::read_to_string(&path).expect("test step");
    let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = rows.headers().expect("test step").iter().map(str::to_owned).collect();
    let account_column = header.iter().position(|h| h == "account").expect("an account column");
    let mut exported = 0;
    for record in rows.records() {
        let record = record.expect("test step");
        assert_eq!(
            Some(&record[account_column]),
            by.get(&record[1]).map(String::as_str),
            "{record:?}"
        );
        exported += 1;
    }
    assert_eq!(exported, fixture.n);
    // A run per account in turn; the handed-over ones name the next account.
    let runs = fixture.store.runs(fixture.campaign).await.expect("test step");
    let accounts: Vec<&str> = runs.iter().map(|r| r.account.as_str()).collect();
    assert_eq!(accounts, ["first", "second", "first"], "{runs:?}");
    assert!(matches!(&runs[0].reason, Some(PauseReason::MovedToAccount { account, .. }) if account == "second"));
    assert!(
        matches!(&runs[1].reason, Some(PauseReason::MovedToAccount { account, why: AccountChange::Resumed }) if account == "first")
    );
}

#[tokio::test]
async fn an_authentication_failure_on_the_first_account_moves_to_the_second() {
    let first = ScriptedServer::start(Script {
        credentials: Some(("news".to_owned(), "right".to_owned())),
        ..Script::default()
    })
    .await;
    let second = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(10).await;
    let mut wrong = settings("first", first.port(), None);
    wrong.auth = AuthMethod::Plain;
    wrong.username = Some("news".to_owned());
    add_account(&fixture.store, &fixture.secrets, wrong, Some("wrong".to_owned()))
        .await
        .expect("test step");
    add_account(
        &fixture.store,
        &fixture.secrets,
        settings("second", second.port(), None),
        None,
    )
    .await
    .expect("test step");
    let (run, events) = start(&fixture, &["first", "second"], RunControl::default());
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    let (from, to, why) = moved(&event(&events, |e| matches!(e, CampaignEvent::AccountChanged { .. })).await);
    assert_eq!((from.as_str(), to.as_str()), ("first", "second"));
    assert!(matches!(why, AccountChange::AuthFailed { .. }), "{why:?}");
    assert!(first.received().is_empty());
    everyone_once_on_the_account_that_sent_it(&fixture, &first, &second).await;
    // A failed login is not a suspension: nothing frees it by itself, and
    // nothing is kept on the account.
    let first_account = get_account(&fixture.store, &fixture.secrets, "first")
        .await
        .expect("test step");
    assert_eq!(first_account.suspension, None);
}

#[tokio::test]
async fn with_one_account_a_failed_login_still_pauses_the_campaign() {
    let server = ScriptedServer::start(Script {
        credentials: Some(("news".to_owned(), "right".to_owned())),
        ..Script::default()
    })
    .await;
    let fixture = fixture(3).await;
    let mut wrong = settings("first", server.port(), None);
    wrong.auth = AuthMethod::Plain;
    wrong.username = Some("news".to_owned());
    add_account(&fixture.store, &fixture.secrets, wrong, Some("wrong".to_owned()))
        .await
        .expect("test step");
    let (run, _events) = start(&fixture, &["first"], RunControl::default());
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert!(matches!(report.reason, Some(PauseReason::Server { .. })), "{report:?}");
}

#[tokio::test]
async fn a_suspension_outlives_the_run_and_a_new_send_honours_it_until_resumed() {
    let first = ScriptedServer::start(Script {
        replay_at_mail: Some((2, vec![GMAIL_DAILY_LIMIT.to_owned()])),
        ..Script::default()
    })
    .await;
    // Slow, so that a pause finds recipients left for the last run.
    let second = ScriptedServer::start(Script {
        slow_replies: Some(Duration::from_millis(40)),
        ..Script::default()
    })
    .await;
    let fixture = fixture(8).await;
    add_account(
        &fixture.store,
        &fixture.secrets,
        settings("first", first.port(), Some("gmail")),
        None,
    )
    .await
    .expect("test step");
    add_account(
        &fixture.store,
        &fixture.secrets,
        settings("second", second.port(), None),
        None,
    )
    .await
    .expect("test step");

    // One account: it is suspended, and the person pauses (or the app closes).
    let control = RunControl::default();
    let (run, events) = start(&fixture, &["first"], control.clone());
    event(&events, |e| matches!(e, CampaignEvent::Suspended { .. })).await;
    control.pause();
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert_eq!(first.received().len(), 2);

    // A new send (a restart) on that account waits for the kept suspension.
    let control = RunControl::default();
    let (run, events) = start(&fixture, &["first"], control.clone());
    let waiting = event(&events, |e| matches!(e, CampaignEvent::AccountWait { .. })).await;
    let CampaignEvent::AccountWait { account, until, .. } = waiting else {
        unreachable!()
    };
    assert_eq!(account, "first");
    assert!(until > START_MS + DAY_MS / 2);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(first.received().len(), 2, "nothing is sent on a suspended account");
    control.pause();
    assert_eq!(finish(run).await.outcome, RunOutcome::Paused);

    // With a second account the rest goes through it at once.
    let control = RunControl::default();
    let (run, events) = start(&fixture, &["first", "second"], control.clone());
    let started = event(&events, |e| matches!(e, CampaignEvent::Started { .. })).await;
    assert!(
        matches!(&started, CampaignEvent::Started { account, .. } if account == "second"),
        "{started:?}"
    );
    for _ in 0..100 {
        if second.received().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    control.pause();
    assert_eq!(finish(run).await.outcome, RunOutcome::Paused);
    assert_eq!(first.received().len(), 2, "the suspended account sent nothing");

    // The person resumes the first account: it sends again, first in the list.
    assert!(resume_account(&fixture.store, "first").await.expect("test step"));
    let before = first.received().len();
    let (run, _events) = start(&fixture, &["first", "second"], RunControl::default());
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert!(first.received().len() > before, "sending is back on the first account");
    everyone_once_on_the_account_that_sent_it(&fixture, &first, &second).await;
}

#[tokio::test]
async fn resume_now_ends_a_suspension_a_run_is_waiting_on() {
    let first = ScriptedServer::start(Script {
        replay_at_mail: Some((2, vec![GMAIL_DAILY_LIMIT.to_owned()])),
        ..Script::default()
    })
    .await;
    let unused = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(5).await;
    add_account(
        &fixture.store,
        &fixture.secrets,
        settings("first", first.port(), Some("gmail")),
        None,
    )
    .await
    .expect("test step");
    let (run, events) = start(&fixture, &["first"], RunControl::default());
    event(&events, |e| matches!(e, CampaignEvent::Suspended { .. })).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(first.received().len(), 2, "the run waits");
    assert!(resume_account(&fixture.store, "first").await.expect("test step"));
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    everyone_once_on_the_account_that_sent_it(&fixture, &first, &unused).await;
}
