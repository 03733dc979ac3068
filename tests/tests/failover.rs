//! Several accounts for one campaign (issue 19), against two scripted
//! servers: when the first account is suspended (Gmail's real `550 5.4.5`
//! daily limit), cannot log in, or its server cannot be reached (a closed
//! port, before any message or later in the run), the rest goes through the
//! second, and back to the first when its suspension ends or its server
//! answers again; a suspension outlives the run (a new `send` on the same
//! store honours it) until its time or "Resume now". When no account's
//! server can be reached the campaign pauses, failing nobody. Office 365's
//! `432 4.3.2` to the only connection as it opens is waited out, not taken
//! for an unreachable server. Nobody is lost, nobody gets two, nobody fails
//! for a suspension or an outage, and every recipient's record names the
//! account that sent it.
//!
//! The store's clock is a `ManualClock`: a day-long suspension ends when the
//! test moves it a day on (the run looks every second), not after a day.
//! The run's bounds are small (`start`): tries 50 ms apart, a set-aside
//! server tried again every 100 ms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailroom_e2e::fixtures::{address, local_account, numbered_campaign};
use mailroom_e2e::smtp_server::{Received, Script, ScriptedServer, refused_port};
use mailroom_engine::Session;
use mailroom_engine::campaign::{
    AccountChange, CampaignEvent, PauseReason, RunControl, RunOptions, RunOutcome, RunReport, SuspensionReason,
};
use mailroom_engine::clock::ManualClock;
use mailroom_engine::model::RecipientStatus;
use mailroom_engine::results::AttemptResult;
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::smtp::manage::{add_account, get_account, resume_account};
use mailroom_engine::smtp::{AccountSettings, AuthMethod, Problem, Stage};
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

fn settings(name: &str, port: u16, preset: Option<&str>) -> AccountSettings {
    AccountSettings {
        preset: preset.map(str::to_owned),
        from_address: Some(format!("news@{name}.example.com")),
        per_connection: 100,
        retries: 3,
        ..local_account(name, port)
    }
}

impl Fixture {
    /// Adds an account with no password.
    async fn add(&self, settings: AccountSettings) {
        add_account(&self.store, &self.secrets, settings, None)
            .await
            .expect("test step");
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
    let campaign = numbered_campaign(&store, dir.path(), n, "Dear {{ first_name }}.\n").await;
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
        probe_every: Duration::from_millis(100),
        ..RunOptions::default()
    };
    let run = tokio::spawn(async move {
        let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
        Session::with_secrets(store.clone(), secrets.clone())
            .send(campaign, &accounts, options, control, sink)
            .await
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
    fixture.add(settings("first", first.port(), Some("gmail"))).await;
    fixture.add(settings("second", second.port(), None)).await;
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
    fixture.add(settings("second", second.port(), None)).await;
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
    fixture.add(settings("first", first.port(), Some("gmail"))).await;
    fixture.add(settings("second", second.port(), None)).await;

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
    fixture.add(settings("first", first.port(), Some("gmail"))).await;
    let (run, events) = start(&fixture, &["first"], RunControl::default());
    event(&events, |e| matches!(e, CampaignEvent::Suspended { .. })).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(first.received().len(), 2, "the run waits");
    assert!(resume_account(&fixture.store, "first").await.expect("test step"));
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    everyone_once_on_the_account_that_sent_it(&fixture, &first, &unused).await;
}

/// Two loopback ports where nothing listens, not the same one.
async fn two_refused_ports() -> (u16, u16) {
    let first = refused_port().await;
    loop {
        let second = refused_port().await;
        if second != first {
            return (first, second);
        }
    }
}

/// The moves of the run, in order.
fn moves(events: &Events) -> Vec<(String, String, AccountChange)> {
    events
        .lock()
        .expect("test step")
        .iter()
        .filter(|e| matches!(e, CampaignEvent::AccountChanged { .. }))
        .map(moved)
        .collect()
}

/// The account's server could not be used: which port, and how the last try failed.
fn unreachable(why: &AccountChange) -> (u16, Problem) {
    match why {
        AccountChange::Unreachable { failure, port, .. } => (*port, failure.problem),
        other => panic!("not an unreachable server: {other:?}"),
    }
}

/// Nothing paused the campaign, even for a moment.
fn never_paused(events: &Events) {
    let events = events.lock().expect("test step");
    assert!(
        !events.iter().any(|e| matches!(e, CampaignEvent::Pausing { .. })),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_unreachable_first_account_sends_everything_through_the_second() {
    let second = ScriptedServer::start(Script::default()).await;
    let closed = refused_port().await;
    let fixture = fixture(10).await;
    fixture.add(settings("first", closed, None)).await;
    fixture.add(settings("second", second.port(), None)).await;
    let (run, events) = start(&fixture, &["first", "second"], RunControl::default());
    let report = finish(run).await;
    assert_eq!(
        (report.outcome, report.counts.sent, report.counts.failed),
        (RunOutcome::Completed, 10, 0),
        "{report:?}"
    );
    never_paused(&events);
    // The first-contact bound on the first account (three tries), then the move.
    let tries: Vec<(u16, u32, u32)> = events
        .lock()
        .expect("test step")
        .iter()
        .filter_map(|e| match e {
            CampaignEvent::ConnectionTrouble { port, attempt, of, .. } => Some((*port, *attempt, *of)),
            _ => None,
        })
        .collect();
    assert_eq!(tries, [(closed, 1, 3), (closed, 2, 3)]);
    let moves = moves(&events);
    assert_eq!(moves.len(), 1, "{moves:?}");
    let (from, to, why) = &moves[0];
    assert_eq!((from.as_str(), to.as_str()), ("first", "second"));
    assert_eq!(unreachable(why), (closed, Problem::Refused));
    // Every recipient's record names the second account; each got one copy.
    let by = sent_by(&fixture).await;
    assert!(by.values().all(|account| account == "second"), "{by:?}");
    let copies = accepted_per_recipient(&second.received());
    assert!((0..10).all(|i| copies.get(&address(i)) == Some(&1)), "{copies:?}");
    let recipients = fixture
        .store
        .recipients(fixture.campaign, None, 0, u64::MAX)
        .await
        .expect("test step");
    assert!(
        recipients.iter().all(|r| r.attempts == 1),
        "an unreachable server uses nobody's attempt"
    );
    let runs = fixture.store.runs(fixture.campaign).await.expect("test step");
    let accounts: Vec<&str> = runs.iter().map(|r| r.account.as_str()).collect();
    assert_eq!(accounts, ["first", "second"], "{runs:?}");
    assert!(
        matches!(&runs[0].reason, Some(PauseReason::MovedToAccount { account, why: AccountChange::Unreachable { port, .. } }) if account == "second" && *port == closed),
        "{runs:?}"
    );
    // Setting an account aside for an outage is this send's: nothing is kept on it.
    let first_account = get_account(&fixture.store, &fixture.secrets, "first")
        .await
        .expect("test step");
    assert_eq!(first_account.suspension, None);
}

#[tokio::test]
async fn when_no_accounts_server_can_be_reached_the_campaign_pauses_failing_nobody() {
    let (first_port, second_port) = two_refused_ports().await;
    let fixture = fixture(6).await;
    fixture.add(settings("first", first_port, None)).await;
    fixture.add(settings("second", second_port, None)).await;
    let (run, events) = start(&fixture, &["first", "second"], RunControl::default());
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Paused, "{report:?}");
    // Test connection's verdict on the last account tried.
    match &report.reason {
        Some(PauseReason::Unreachable {
            attempts,
            failure,
            port,
            ..
        }) => assert_eq!((*attempts, failure.problem, *port), (3, Problem::Refused, second_port)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (report.counts.pending, report.counts.sent, report.counts.failed),
        (6, 0, 0),
        "{report:?}"
    );
    let moves = moves(&events);
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!((moves[0].0.as_str(), moves[0].1.as_str()), ("first", "second"));
    assert_eq!(unreachable(&moves[0].2), (first_port, Problem::Refused));
    let recipients = fixture
        .store
        .recipients(fixture.campaign, None, 0, u64::MAX)
        .await
        .expect("test step");
    assert!(
        recipients
            .iter()
            .all(|r| r.status == RecipientStatus::Pending && r.attempts == 0),
        "{recipients:?}"
    );
    let runs = fixture.store.runs(fixture.campaign).await.expect("test step");
    let accounts: Vec<&str> = runs.iter().map(|r| r.account.as_str()).collect();
    assert_eq!(accounts, ["first", "second"], "{runs:?}");
}

#[tokio::test]
async fn sending_moves_back_to_the_first_account_when_its_server_answers_again() {
    // The second is slow, so that the first's server is back while it sends.
    let second = ScriptedServer::start(Script {
        slow_replies: Some(Duration::from_millis(40)),
        ..Script::default()
    })
    .await;
    let closed = refused_port().await;
    let fixture = fixture(40).await;
    fixture.add(settings("first", closed, None)).await;
    fixture.add(settings("second", second.port(), None)).await;
    let (run, events) = start(&fixture, &["first", "second"], RunControl::default());
    event(
        &events,
        |e| matches!(e, CampaignEvent::AccountChanged { to, .. } if to == "second"),
    )
    .await;
    for _ in 0..100 {
        if second.received().len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(second.received().len() >= 5, "the second account sends");
    // The first account's server comes up on its port.
    let first = ScriptedServer::start_on(Script::default(), closed).await;
    let (from, to, why) = moved(
        &event(
            &events,
            |e| matches!(e, CampaignEvent::AccountChanged { to, .. } if to == "first"),
        )
        .await,
    );
    assert_eq!(
        (from.as_str(), to.as_str(), why),
        ("second", "first", AccountChange::Reachable)
    );
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    never_paused(&events);
    everyone_once_on_the_account_that_sent_it(&fixture, &first, &second).await;
    assert!(!first.received().is_empty(), "sending moved back to the first");
    assert!(second.received().len() < fixture.n, "the second did not send it all");
    let runs = fixture.store.runs(fixture.campaign).await.expect("test step");
    let accounts: Vec<&str> = runs.iter().map(|r| r.account.as_str()).collect();
    assert_eq!(accounts, ["first", "second", "first"], "{runs:?}");
    assert!(
        matches!(&runs[1].reason, Some(PauseReason::MovedToAccount { account, why: AccountChange::Reachable }) if account == "first"),
        "{runs:?}"
    );
}

#[tokio::test]
async fn an_outage_later_in_the_run_that_outlasts_its_limit_moves_the_rest_to_the_second() {
    // The first sends four messages on one connection, closes it, and is
    // down from then on: nothing is in flight when it goes.
    let first = ScriptedServer::start(Script {
        down_after_messages: Some(4),
        ..Script::default()
    })
    .await;
    let second = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(12).await;
    let mut down_later = settings("first", first.port(), None);
    down_later.per_connection = 4;
    down_later.outage_limit_ms = 1_000;
    fixture.add(down_later).await;
    fixture.add(settings("second", second.port(), None)).await;
    let (run, events) = start(&fixture, &["first", "second"], RunControl::default());
    let report = finish(run).await;
    assert_eq!(
        (report.outcome, report.counts.sent, report.counts.failed),
        (RunOutcome::Completed, 12, 0),
        "{report:?}"
    );
    never_paused(&events);
    // The run waited for the server (the outage came after accepted mail),
    // then moved when the outage outlasted the account's limit.
    assert!(
        events
            .lock()
            .expect("test step")
            .iter()
            .any(|e| matches!(e, CampaignEvent::ConnectionTrouble { port, .. } if *port == first.port())),
        "the run waited for the first's server"
    );
    let moves = moves(&events);
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!((moves[0].0.as_str(), moves[0].1.as_str()), ("first", "second"));
    assert_eq!(unreachable(&moves[0].2).0, first.port());
    assert_eq!(first.received().len(), 4);
    everyone_once_on_the_account_that_sent_it(&fixture, &first, &second).await;
}

/// Office 365's `432 4.3.2` (the account's connections are taken, by
/// another program sending on it) to the run's only connection as it
/// opens: the account waits and tries again, longer each time; the server
/// is there and answered, so it is no failed try of it (three of which
/// would pause the campaign as unreachable before any message).
#[tokio::test]
async fn office_365s_connection_limit_at_the_only_connections_opening_is_waited_out_not_taken_for_an_outage() {
    let server = ScriptedServer::start(Script {
        replay_at_open: Some((
            Stage::Auth,
            vec!["432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded".to_owned(); 4],
        )),
        credentials: Some(("news".to_owned(), "secret".to_owned())),
        ..Script::default()
    })
    .await;
    let fixture = fixture(5).await;
    let mut only = settings("first", server.port(), Some("office365"));
    only.auth = AuthMethod::Plain;
    only.username = Some("news".to_owned());
    add_account(&fixture.store, &fixture.secrets, only, Some("secret".to_owned()))
        .await
        .expect("test step");
    // The account's waits are on the store's clock: it moves on a second
    // every 20 ms.
    let clock = fixture.clock.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            clock.advance_ms(1_000);
        }
    });
    let (run, events) = start(&fixture, &["first"], RunControl::default());
    let report = finish(run).await;
    ticker.abort();
    assert_eq!(
        (report.outcome, report.counts.sent, report.counts.failed),
        (RunOutcome::Completed, 5, 0),
        "{report:?}"
    );
    never_paused(&events);
    let events = events.lock().expect("test step").clone();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, CampaignEvent::ConnectionTrouble { .. })),
        "a 432 is not a failed try of the server: {events:?}"
    );
    let waits: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            CampaignEvent::Suspended { until, rule, failure } => {
                assert_eq!(rule, "office365.concurrent_connections");
                assert_eq!((failure.code, failure.stage), (Some(432), Stage::Auth));
                Some(*until)
            }
            _ => None,
        })
        .collect();
    assert_eq!(waits.len(), 4, "one wait for each refusal: {events:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, CampaignEvent::ConnectionsReduced { .. })),
        "one connection was all it had"
    );
    let copies = accepted_per_recipient(&server.received());
    assert!((0..5).all(|i| copies.get(&address(i)) == Some(&1)), "{copies:?}");
    let recipients = fixture
        .store
        .recipients(fixture.campaign, None, 0, u64::MAX)
        .await
        .expect("test step");
    assert!(recipients.iter().all(|r| r.attempts == 1), "{recipients:?}");
}
