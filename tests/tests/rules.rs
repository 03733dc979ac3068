//! Provider rules (issue 19) against the scripted server replaying each
//! provider's real reply text: what the reply means decides what the
//! campaign does, and the rule that acted is named where it acts.
//!
//! The store's clock is a `ManualClock`: a day-long suspension ends when the
//! test moves that clock a day on (the run looks at it every second), not
//! after a day.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailroom_e2e::fixtures::{address, local_account, numbered_campaign};
use mailroom_e2e::smtp_server::{Received, Script, ScriptedServer};
use mailroom_engine::Session;
use mailroom_engine::campaign::{CampaignEvent, RunControl, RunOptions, RunOutcome, RunReport};
use mailroom_engine::clock::ManualClock;
use mailroom_engine::model::{Recipient, RecipientStatus};
use mailroom_engine::outcome::RecipientReason;
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::smtp::manage::add_account;
use mailroom_engine::smtp::{AccountSettings, AuthMethod, Stage};
use mailroom_engine::{Error, Store};
use tempfile::TempDir;

/// 2025-12-01 10:00:00 UTC.
const START_MS: i64 = 1_764_583_200_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

struct Fixture {
    _dir: TempDir,
    store: Store,
    secrets: SecretStore,
    clock: ManualClock,
    campaign: i64,
}

/// `n` recipients, a message, and an account "test" made from `preset` on
/// the scripted server's `port`.
async fn fixture(n: usize, port: u16, preset: Option<&str>, account: impl FnOnce(&mut AccountSettings)) -> Fixture {
    let dir = tempfile::tempdir().expect("test step");
    let clock = ManualClock::at(START_MS);
    let store = Store::open_with_clock(&dir.path().join("mailroom.db"), Arc::new(clock.clone()))
        .await
        .expect("test step");
    let secrets = SecretStore::EncryptedFile {
        dir: dir.path().to_owned(),
    };
    let campaign = numbered_campaign(&store, dir.path(), n, "Dear {{ first_name }}.\n").await;
    let mut settings = AccountSettings {
        preset: preset.map(str::to_owned),
        per_connection: 100,
        retries: 3,
        ..local_account("test", port)
    };
    account(&mut settings);
    let password = settings.username.as_ref().map(|_| "secret".to_owned());
    add_account(&store, &secrets, settings, password)
        .await
        .expect("test step");
    Fixture {
        _dir: dir,
        store,
        secrets,
        clock,
        campaign,
    }
}

type Events = Arc<Mutex<Vec<CampaignEvent>>>;

/// Starts the campaign; its events gather in the returned list.
fn start(fixture: &Fixture) -> (tokio::task::JoinHandle<Result<RunReport, Error>>, Events) {
    let events: Events = Arc::default();
    let sink_events = events.clone();
    let sink = Arc::new(move |event: &CampaignEvent| sink_events.lock().expect("test step").push(event.clone()));
    let (store, secrets, campaign) = (fixture.store.clone(), fixture.secrets.clone(), fixture.campaign);
    let options = RunOptions {
        retry_base: Duration::from_millis(50),
        retry_cap: Duration::from_millis(400),
        ..RunOptions::default()
    };
    let run = tokio::spawn(async move {
        Session::with_secrets(store.clone(), secrets.clone())
            .send(campaign, &["test"], options, RunControl::default(), sink)
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

/// Moves the store's clock on a second every 20 ms, so retries come due.
fn tick(clock: &ManualClock) -> tokio::task::JoinHandle<()> {
    let clock = clock.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            clock.advance_ms(1_000);
        }
    })
}

async fn finish(run: tokio::task::JoinHandle<Result<RunReport, Error>>) -> RunReport {
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("the campaign hung"))
        .expect("test step")
        .expect("test step")
}

async fn recipients(fixture: &Fixture) -> Vec<Recipient> {
    fixture
        .store
        .recipients(fixture.campaign, None, 0, u64::MAX)
        .await
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

/// The suspension a rule announced: until when, and which rule.
fn suspended(event: &CampaignEvent) -> (i64, String) {
    match event {
        CampaignEvent::Suspended { until, rule, .. } => (*until, rule.clone()),
        other => panic!("not a suspension: {other:?}"),
    }
}

/// A day-long suspension: nothing is sent until the clock passes it, then
/// everyone is sent once, nobody failed, and the recipient that drew the
/// reply did not use an attempt for it (its history names the rule).
async fn resumes_after_the_day(
    fixture: &Fixture,
    server: &ScriptedServer,
    events: &Events,
    run: tokio::task::JoinHandle<Result<RunReport, Error>>,
    rule: &str,
    n: usize,
) {
    let (until, by) = suspended(&event(events, |e| matches!(e, CampaignEvent::Suspended { .. })).await);
    assert_eq!(by, rule);
    // The rolling window frees when the first send (in the campaign's first
    // minute) is a day old.
    assert_eq!(until, (START_MS / 60_000 + 1) * 60_000 + DAY_MS);
    // A while later (real time), still nothing more: the account is suspended.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before = server.received().len();
    assert_eq!(before, 4, "nothing is sent while the account is suspended");
    assert!(!run.is_finished(), "the run waits, it does not end");
    let counts = fixture.store.status_counts(fixture.campaign).await.expect("test step");
    assert_eq!(counts.failed, 0);

    // The next day.
    fixture.clock.advance_ms(until - START_MS + 1_000);
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!((report.counts.sent, report.counts.failed), (n as u64, 0));
    let copies = accepted_per_recipient(&server.received());
    assert!((0..n).all(|i| copies.get(&address(i)) == Some(&1)), "{copies:?}");
    let waited: Vec<Recipient> = recipients(fixture)
        .await
        .into_iter()
        .filter(|r| matches!(&r.reason, Some(RecipientReason::Smtp { failure, .. }) if failure.rule.as_deref() == Some(rule)))
        .collect();
    assert_eq!(waited.len(), 0, "a sent recipient's reason is cleared");
    let all = recipients(fixture).await;
    assert!(
        all.iter().all(|r| r.status == RecipientStatus::Sent && r.attempts == 1),
        "the wait used no attempt"
    );
}

#[tokio::test]
async fn gmails_daily_sending_limit_suspends_the_account_and_it_resumes_the_next_day_with_nobody_failed() {
    let server = ScriptedServer::start(Script {
        replay_at_mail: Some((
            4,
            vec!["550 5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to https://support.google.com/a/answer/166852".to_owned()],
        )),
        ..Script::default()
    })
    .await;
    let fixture = fixture(8, server.port(), Some("gmail"), |_| {}).await;
    let (run, events) = start(&fixture);
    resumes_after_the_day(&fixture, &server, &events, run, "gmail.daily_limit", 8).await;
}

#[tokio::test]
async fn ses_daily_quota_waits_for_the_24_hour_window_while_its_sending_rate_only_slows_down() {
    let server = ScriptedServer::start(Script {
        replay_at_mail: Some((
            4,
            vec!["454 Throttling failure: Daily message quota exceeded".to_owned()],
        )),
        ..Script::default()
    })
    .await;
    let quota = fixture(8, server.port(), Some("amazon_ses"), |_| {}).await;
    let (run, events) = start(&quota);
    resumes_after_the_day(&quota, &server, &events, run, "amazon_ses.daily_quota", 8).await;

    // The sending rate is a different reply: slow down, no suspension.
    let server = ScriptedServer::start(Script {
        replay_at_mail: Some((
            2,
            vec!["454 Throttling failure: Maximum sending rate exceeded".to_owned()],
        )),
        ..Script::default()
    })
    .await;
    let rate = fixture(6, server.port(), Some("amazon_ses"), |a| a.rate_per_second = Some(50.0)).await;
    let (run, events) = start(&rate);
    let ticker = tick(&rate.clock);
    let report = finish(run).await;
    ticker.abort();
    assert_eq!((report.outcome, report.counts.sent), (RunOutcome::Completed, 6));
    let events = events.lock().expect("test step").clone();
    assert!(!events.iter().any(|e| matches!(e, CampaignEvent::Suspended { .. })));
    assert!(
        events.iter().any(|e| matches!(e, CampaignEvent::RateChanged { .. })),
        "it slowed down"
    );
}

#[tokio::test]
async fn office_365s_concurrent_connection_limit_takes_a_connection_away_and_loses_nobody() {
    let server = ScriptedServer::start(Script {
        replay_at_mail: Some((3, vec!["432 4.3.2 Concurrent connections limit exceeded.".to_owned()])),
        ..Script::default()
    })
    .await;
    let fixture = fixture(20, server.port(), Some("office365"), |a| a.connections = 3).await;
    let (run, events) = start(&fixture);
    let report = finish(run).await;
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!((report.counts.sent, report.counts.failed), (20, 0));
    let reduced = event(&events, |e| matches!(e, CampaignEvent::ConnectionsReduced { .. })).await;
    match reduced {
        CampaignEvent::ConnectionsReduced {
            connections,
            rule,
            failure,
        } => {
            assert_eq!((connections, rule.as_str()), (2, "office365.concurrent_connections"));
            assert_eq!(failure.code, Some(432));
        }
        other => panic!("{other:?}"),
    }
    let copies = accepted_per_recipient(&server.received());
    assert!((0..20).all(|i| copies.get(&address(i)) == Some(&1)), "{copies:?}");
    assert!(
        recipients(&fixture).await.iter().all(|r| r.attempts == 1),
        "the 432 used no attempt"
    );
}

#[tokio::test]
async fn an_unknown_mailbox_fails_and_is_suppressed_by_the_generic_rule_which_its_reason_names() {
    let rejected = address(2);
    let server = ScriptedServer::start(Script {
        reject_recipients: [rejected.clone()].into_iter().collect(),
        ..Script::default()
    })
    .await;
    let fixture = fixture(5, server.port(), None, |_| {}).await;
    let (run, _) = start(&fixture);
    let report = finish(run).await;
    assert_eq!((report.counts.sent, report.counts.failed), (4, 1));
    let failed = recipients(&fixture)
        .await
        .into_iter()
        .find(|r| r.email == rejected)
        .expect("test step");
    assert_eq!(failed.status, RecipientStatus::Failed);
    match failed.reason {
        Some(RecipientReason::Smtp { failure, .. }) => {
            assert_eq!(failure.rule.as_deref(), Some("generic.mailbox_unknown"));
            assert_eq!(failure.enhanced_code.as_deref(), Some("5.1.1"));
        }
        other => panic!("{other:?}"),
    }
    let suppressed = fixture.store.suppressions("", 0, 10).await.expect("test step");
    assert!(suppressed.entries.iter().any(|s| s.email == rejected), "{suppressed:?}");
}

/// An account with no provider gets the generic RFC 3463 classes: SES's
/// daily-quota words on some other server are a 4xx about a limit, so the
/// campaign slows down and retries; nobody is failed and nothing suspends.
#[tokio::test]
async fn the_generic_classes_are_the_fallback_for_any_server() {
    let server = ScriptedServer::start(Script {
        replay_at_mail: Some((
            1,
            vec![
                "454 Throttling failure: Daily message quota exceeded".to_owned(),
                "451 4.3.0 Temporary local problem".to_owned(),
            ],
        )),
        ..Script::default()
    })
    .await;
    let fixture = fixture(5, server.port(), None, |_| {}).await;
    let (run, events) = start(&fixture);
    let ticker = tick(&fixture.clock);
    let report = finish(run).await;
    ticker.abort();
    assert_eq!(
        (report.outcome, report.counts.sent, report.counts.failed),
        (RunOutcome::Completed, 5, 0)
    );
    let events = events.lock().expect("test step").clone();
    assert!(!events.iter().any(|e| matches!(e, CampaignEvent::Suspended { .. })));
    let rules: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            CampaignEvent::Recipient {
                reason: Some(RecipientReason::Smtp { failure, .. }),
                status: RecipientStatus::RetryWait,
                ..
            } => failure.rule.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        rules,
        vec!["generic.rate_limited_words".to_owned(), "generic.transient".to_owned()]
    );
}

/// Exchange Online refuses a connection over its limit as it opens: at
/// AUTH (`432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded`)
/// or in its greeting (`421 4.3.2 The maximum number of concurrent server
/// connections has exceeded a limit`). The rule takes a connection away, as
/// for the same reply to a message; nobody is lost, nobody uses an attempt.
#[tokio::test]
async fn office_365s_connection_limit_said_as_a_connection_opens_takes_a_connection_away() {
    for (stage, reply) in [
        (
            Stage::Auth,
            "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded",
        ),
        (
            Stage::Greeting,
            "421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel",
        ),
    ] {
        let server = ScriptedServer::start(Script {
            replay_at_open: Some((stage, vec![reply.to_owned()])),
            credentials: Some(("news".to_owned(), "secret".to_owned())),
            ..Script::default()
        })
        .await;
        let fixture = fixture(12, server.port(), Some("office365"), |a| {
            a.connections = 3;
            a.auth = AuthMethod::Plain;
            a.username = Some("news".to_owned());
        })
        .await;
        let (run, events) = start(&fixture);
        let report = finish(run).await;
        assert_eq!(
            (report.outcome, report.counts.sent, report.counts.failed),
            (RunOutcome::Completed, 12, 0),
            "{reply}"
        );
        match event(&events, |e| matches!(e, CampaignEvent::ConnectionsReduced { .. })).await {
            CampaignEvent::ConnectionsReduced {
                connections,
                rule,
                failure,
            } => {
                assert_eq!((connections, rule.as_str()), (2, "office365.concurrent_connections"));
                assert_eq!((failure.stage, failure.rule.as_deref()), (stage, Some(rule.as_str())));
            }
            other => panic!("{other:?}"),
        }
        let copies = accepted_per_recipient(&server.received());
        assert!((0..12).all(|i| copies.get(&address(i)) == Some(&1)), "{copies:?}");
        assert!(recipients(&fixture).await.iter().all(|r| r.attempts == 1));
    }
}

/// Gmail's `421 4.7.0 Try again later, closing connection.` to EHLO: the
/// rule says try again later (five minutes), so the account waits; it is
/// not counted as a server that cannot be reached (which would pause the
/// campaign within three tries), and nothing goes out until the wait ends.
#[tokio::test]
async fn gmails_try_again_later_as_a_connection_opens_suspends_the_account_instead_of_pausing() {
    let server = ScriptedServer::start(Script {
        replay_at_open: Some((
            Stage::Ehlo,
            vec!["421 4.7.0 Try again later, closing connection. (EHLO) - gsmtp".to_owned(); 4],
        )),
        ..Script::default()
    })
    .await;
    let fixture = fixture(5, server.port(), Some("gmail"), |_| {}).await;
    let (run, events) = start(&fixture);
    let (until, rule) = suspended(&event(&events, |e| matches!(e, CampaignEvent::Suspended { .. })).await);
    assert_eq!((until, rule.as_str()), (START_MS + 300_000, "gmail.try_again_later"));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(server.received().is_empty(), "nothing is sent while the account waits");
    assert!(!run.is_finished(), "the run waits, it does not pause");
    // Each later refusal suspends again, five minutes from then; the clock
    // moves on until the server lets the connection through.
    let ticker = tick(&fixture.clock);
    let report = finish(run).await;
    ticker.abort();
    assert_eq!(
        (report.outcome, report.counts.sent, report.counts.failed),
        (RunOutcome::Completed, 5, 0)
    );
    let suspensions = events
        .lock()
        .expect("test step")
        .iter()
        .filter(|e| matches!(e, CampaignEvent::Suspended { .. }))
        .count();
    assert_eq!(suspensions, 4, "one for each refusal");
    assert!(recipients(&fixture).await.iter().all(|r| r.attempts == 1));
}
