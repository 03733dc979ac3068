//! The campaign runner against the scripted test server, one fault at a time.
//! Each test checks SPEC's invariants: every recipient ends in a final state,
//! `completed` only with nothing pending, permanent failures are not retried,
//! transient ones are, the reasons are right, and the server's own record
//! agrees (everyone got it; nobody accepted got it twice).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailroom_e2e::fixtures::{address, local_account, numbered_campaign};
use mailroom_e2e::smtp_server::{Received, Script, ScriptedServer, refused_port};
use mailroom_engine::Session;
use mailroom_engine::campaign::{
    self, CampaignEvent, PauseReason, ProgressSink, RunControl, RunOptions, RunOutcome, RunReport,
};
use mailroom_engine::import::{self, ImportOptions, RecipientSource};
use mailroom_engine::message::{MessageCheck, MessageDraft, save_message};
use mailroom_engine::model::{CampaignStatus, Recipient, RecipientStatus, UncertainDecision};
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::smtp::manage::{PasswordChange, add_account, remove_account, update_account};
use mailroom_engine::smtp::{AccountSettings, AuthMethod, Problem, Security};
use mailroom_engine::{Error, ErrorKind, Store};
use tempfile::TempDir;

struct Fixture {
    dir: TempDir,
    store: Store,
    secrets: SecretStore,
    /// The one session every run of the fixture goes through (runs on one
    /// account in it share the account's limits, as in the app).
    session: Session,
    campaign: i64,
}

/// A campaign of `n` recipients with a message, and an account "test" on
/// `port` shaped by `account`.
async fn fixture(n: usize, port: u16, account: impl FnOnce(&mut AccountSettings)) -> Fixture {
    let dir = tempfile::tempdir().expect("test step");
    let store = Store::open(&dir.path().join("mailroom.db")).await.expect("test step");
    let secrets = SecretStore::EncryptedFile {
        dir: dir.path().to_owned(),
    };
    let campaign = numbered_campaign(
        &store,
        dir.path(),
        n,
        "Dear {{ first_name }},\nthis is for {{ email }}.\n",
    )
    .await;
    let mut settings = AccountSettings {
        connections: 4,
        per_connection: 50,
        retries: 5,
        ..local_account("test", port)
    };
    account(&mut settings);
    let password = settings.username.as_ref().map(|_| "secret".to_owned());
    add_account(&store, &secrets, settings, password)
        .await
        .expect("test step");
    Fixture {
        session: Session::with_secrets(store.clone(), secrets.clone()),
        dir,
        store,
        secrets,
        campaign,
    }
}

fn quick() -> RunOptions {
    RunOptions {
        retry_base: Duration::from_millis(50),
        retry_cap: Duration::from_millis(400),
        connect_attempts: 6,
        ..RunOptions::default()
    }
}

type Events = Arc<Mutex<Vec<CampaignEvent>>>;

async fn run_with(
    fixture: &Fixture,
    options: RunOptions,
    control: RunControl,
) -> (Result<RunReport, Error>, Vec<CampaignEvent>) {
    let events: Events = Arc::default();
    let sink_events = events.clone();
    let sink = Arc::new(move |event: &CampaignEvent| sink_events.lock().expect("test step").push(event.clone()));
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        fixture
            .session
            .send(fixture.campaign, &["test"], options, control, sink),
    )
    .await
    .unwrap_or_else(|_| panic!("the campaign hung"));
    let events = events.lock().expect("test step").clone();
    (report, events)
}

async fn run(fixture: &Fixture) -> (RunReport, Vec<CampaignEvent>) {
    let (report, events) = run_with(fixture, quick(), RunControl::default()).await;
    (report.unwrap_or_else(|e| panic!("run failed: {e}")), events)
}

/// Saves a message that attaches each recipient's own file, named after
/// their first name inside `folder`.
async fn attach_each_recipients_file(fixture: &Fixture, folder: &std::path::Path) -> MessageCheck {
    let draft = MessageDraft {
        subject: "Hello {{ first_name }}".to_owned(),
        text: Some("Attached.".to_owned()),
        attachment_column: Some("first_name".to_owned()),
        attachment_folder: Some(folder.to_owned()),
        ..MessageDraft::default()
    };
    save_message(&fixture.store, fixture.campaign, &draft)
        .await
        .expect("test step")
}

async fn recipients(fixture: &Fixture) -> Vec<Recipient> {
    fixture
        .store
        .recipients(fixture.campaign, None, 0, u64::MAX)
        .await
        .expect("test step")
}

/// How many accepted (not reset) copies the server has per recipient.
fn accepted_per_recipient(received: &[Received]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in received.iter().filter(|m| !m.reset) {
        for to in &message.rcpt_to {
            *counts.entry(to.clone()).or_default() += 1;
        }
    }
    counts
}

/// By the server's record, each of `n` recipients got the mail exactly once.
fn assert_each_got_it_once(server: &ScriptedServer, n: usize) {
    let per_recipient = accepted_per_recipient(&server.received());
    let twice: Vec<_> = per_recipient.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "nobody got it twice: {twice:?}");
    assert_eq!(per_recipient.len(), n, "everyone got it");
}

/// Invariant 1 for a completed campaign: nothing pending, sending or waiting,
/// and the counts add up.
async fn assert_completed(fixture: &Fixture, report: &RunReport) {
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    let summary = fixture
        .store
        .campaign_summary(fixture.campaign)
        .await
        .expect("test step");
    assert_eq!(summary.status, CampaignStatus::Completed);
    let c = &summary.counts;
    assert_eq!(c.pending + c.sending + c.retry_wait, 0, "{c:?}");
    assert_eq!(c.sent + c.failed + c.skipped + c.cancelled + c.uncertain, summary.total);
    assert_eq!(&report.counts, c);
}

#[tokio::test]
async fn a_healthy_server_gets_every_recipient_exactly_once_on_reused_connections() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(60, server.port(), |a| a.per_connection = 10).await;
    let (report, events) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!(report.counts.sent, 60);

    let received = server.received();
    let per_recipient = accepted_per_recipient(&received);
    assert_eq!(per_recipient.len(), 60);
    assert!(per_recipient.values().all(|n| *n == 1), "{per_recipient:?}");
    // Pooled: 60 messages at 10 per connection is 6+ connections, not 60.
    let sessions: HashSet<u64> = received.iter().map(|m| m.session).collect();
    assert!((6..=10).contains(&sessions.len()), "{} connections", sessions.len());

    // Each message is the recipient's own, with its stable Message-ID.
    let for_seven = received.iter().find(|m| m.rcpt_to == [address(7)]).expect("test step");
    let text = String::from_utf8_lossy(&for_seven.data);
    assert!(text.contains("Subject: Hello Name 7"), "{text}");
    assert!(
        text.contains(&format!("Message-ID: <mailroom.{}.9.", fixture.campaign)),
        "{text}"
    );

    // Sent events come only for committed states, one per recipient.
    let sent_events = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                CampaignEvent::Recipient {
                    status: RecipientStatus::Sent,
                    ..
                }
            )
        })
        .count();
    assert_eq!(sent_events, 60);
    assert!(matches!(events.first(), Some(CampaignEvent::Started { .. })));
    assert!(matches!(
        events.last(),
        Some(CampaignEvent::Finished {
            outcome: RunOutcome::Completed,
            ..
        })
    ));
    assert!(recipients(&fixture).await.iter().all(|r| r.attempts == 1));
}

#[tokio::test]
async fn throttling_replies_slow_the_campaign_and_every_recipient_still_gets_through() {
    let server = ScriptedServer::start(Script {
        throttle_above_per_second: Some(15),
        ..Script::default()
    })
    .await;
    let fixture = fixture(60, server.port(), |a| a.retries = 10).await;
    let (report, events) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!(
        report.counts.sent, 60,
        "throttling must never fail a recipient: {report:?}"
    );
    assert!(
        events.iter().any(
            |e| matches!(e, CampaignEvent::RateChanged { rate } if rate.effective.is_some()
            && rate.reason.as_deref().is_some_and(|r| r.contains("454")))
        ),
        "the rate must drop, saying why"
    );
    let retried = recipients(&fixture)
        .await
        .into_iter()
        .filter(|r| r.attempts > 1)
        .count();
    assert!(retried > 0, "the 454s were retried");
    assert_each_got_it_once(&server, 60);
}

/// Issue 19: a server answering 454 above N/s is used to the rate it
/// allows, with few throttle replies, at several N. Nobody is lost and
/// nobody gets two. The achieved rate is printed (and recorded in
/// docs/BENCHMARKS.md by scripts/bench-allowance.sh), not asserted.
#[tokio::test]
async fn a_throttling_server_is_used_to_its_allowance_drawing_few_throttle_replies() {
    for (allowed, messages) in [(10, 300), (40, 800)] {
        let server = ScriptedServer::start(Script {
            throttle_above_per_second: Some(allowed),
            ..Script::default()
        })
        .await;
        let fixture = fixture(messages, server.port(), |a| a.retries = 10).await;
        let started = std::time::Instant::now();
        let (report, events) = run(&fixture).await;
        let seconds = started.elapsed().as_secs_f64();
        let changes = events
            .iter()
            .filter(|e| matches!(e, CampaignEvent::RateChanged { .. }))
            .count();
        assert_completed(&fixture, &report).await;
        assert_eq!(report.counts.sent, messages as u64, "{report:?}");
        assert_each_got_it_once(&server, messages);
        let replies = server.throttle_replies();
        eprintln!(
            "454 above {allowed}/s: {messages} in {seconds:.1} s ({:.1}/s, {:.0}% of the allowance), {replies} throttle replies, {changes} cuts",
            messages as f64 / seconds,
            100.0 * messages as f64 / seconds / allowed as f64
        );
        assert!(
            replies as f64 <= 0.02 * messages as f64,
            "{replies} throttle replies for {messages} messages at {allowed}/s"
        );
    }
}

#[tokio::test]
async fn a_server_closing_after_n_messages_is_met_with_a_fresh_connection() {
    let server = ScriptedServer::start(Script {
        close_after_messages: Some(3),
        ..Script::default()
    })
    .await;
    let fixture = fixture(30, server.port(), |a| a.per_connection = 100).await;
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!(report.counts.sent, 30);
    assert_each_got_it_once(&server, 30);
}

/// A reset after the content is ambiguous: the server may have the message.
/// Such a recipient is never retried on its own nor failed: it is
/// `uncertain`, and the campaign, with nothing else left, waits paused for
/// the person's decision instead of calling itself completed.
#[tokio::test]
async fn resets_after_the_content_make_recipients_uncertain_and_nobody_gets_a_second_copy() {
    let server = ScriptedServer::start(Script {
        reset_after_data: Some((0.05, 42)),
        ..Script::default()
    })
    .await;
    let fixture = fixture(100, server.port(), |a| a.retries = 10).await;
    let (report, _) = run(&fixture).await;
    let received = server.received();
    let reset: HashSet<&String> = received.iter().filter(|m| m.reset).flat_map(|m| &m.rcpt_to).collect();
    assert!(!reset.is_empty(), "the seed must produce some resets");
    assert_eq!(report.outcome, RunOutcome::Paused, "{report:?}");
    assert!(
        report
            .reason
            .as_ref()
            .map(ToString::to_string)
            .is_some_and(|r| r.contains("uncertain")),
        "{report:?}"
    );
    assert_eq!(report.counts.uncertain, reset.len() as u64, "{report:?}");
    assert_eq!(report.counts.sent + report.counts.uncertain, 100, "{report:?}");
    assert_eq!(report.counts.failed, 0, "an ambiguous send is never a failure");
    assert_agrees_with_the_server(&fixture, &server).await;
    for r in recipients(&fixture).await {
        assert_eq!(r.attempts, 1, "{} was never sent again on its own", r.email);
        if reset.contains(&r.email) {
            assert_eq!(r.status, RecipientStatus::Uncertain);
            assert_eq!(r.unanswered, 1);
            let reason = r.reason.map(|r| r.to_string()).unwrap_or_default();
            assert!(reason.contains("may have it"), "{reason}");
        } else {
            assert_eq!(r.status, RecipientStatus::Sent);
        }
    }
    let summary = fixture
        .store
        .campaign_summary(fixture.campaign)
        .await
        .expect("test step");
    assert_eq!(
        summary.status,
        CampaignStatus::Paused,
        "not completed with a decision left"
    );

    // Counting them as sent finishes the campaign.
    let settled = fixture
        .store
        .settle_uncertain(fixture.campaign, UncertainDecision::MarkSent)
        .await
        .expect("test step");
    assert_eq!(settled, reset.len() as u64);
    let summary = fixture
        .store
        .campaign_summary(fixture.campaign)
        .await
        .expect("test step");
    assert_eq!(summary.status, CampaignStatus::Completed);
    assert_eq!(server.received().len(), 100, "settling sends nothing");
}

/// Every copy the server received (a reset or a late one too: the server
/// may deliver those) is one the file accounts for: each unanswered attempt
/// left one, and a `sent` recipient has one more, the accepted one. So
/// nobody got a copy the file does not know of, nobody the file calls sent
/// is missing one, and a second copy only ever follows an unanswered attempt.
async fn assert_agrees_with_the_server(fixture: &Fixture, server: &ScriptedServer) {
    let mut copies: HashMap<String, u32> = HashMap::new();
    for message in server.received() {
        for to in message.rcpt_to {
            *copies.entry(to).or_default() += 1;
        }
    }
    for r in recipients(fixture).await {
        let at_server = copies.get(&r.email).copied().unwrap_or(0);
        let expected = r.unanswered + u32::from(r.status == RecipientStatus::Sent);
        assert_eq!(
            at_server, expected,
            "{}: {} with {} unanswered attempts, yet {at_server} copies at the server",
            r.email, r.status, r.unanswered
        );
    }
}

#[tokio::test]
async fn a_server_that_refuses_at_first_and_then_accepts_gets_the_whole_campaign() {
    let port = refused_port().await;
    let fixture = fixture(20, port, |_| {}).await;
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        ScriptedServer::start_on(Script::default(), port).await
    });
    let options = RunOptions {
        retry_base: Duration::from_millis(200),
        retry_cap: Duration::from_millis(800),
        connect_attempts: 20,
        ..RunOptions::default()
    };
    let (report, events) = run_with(&fixture, options, RunControl::default()).await;
    let report = report.expect("test step");
    assert_completed(&fixture, &report).await;
    assert_eq!(report.counts.sent, 20);
    assert!(
        events.iter().any(
            |e| matches!(e, CampaignEvent::ConnectionTrouble { failure, .. } if failure.problem == Problem::Refused)
        )
    );
    let server = late.await.expect("test step");
    assert_eq!(accepted_per_recipient(&server.received()).len(), 20);
    // Refusals were the server's, not the recipients': nobody was charged an attempt.
    assert!(recipients(&fixture).await.iter().all(|r| r.attempts == 1));
}

/// Issue 19: with the default retry settings (8 tries, 30 s doubling) a
/// campaign on a port where nothing listens stayed "running" for over half
/// an hour. Before the server accepted anything, it now pauses after a few
/// quick tries, with the failure Test connection would report and its
/// advice. (The 60 s hang guard of `run_with` is what the old code failed.)
#[tokio::test]
async fn a_server_where_nothing_listens_pauses_the_campaign_within_a_few_tries_with_the_default_options() {
    let port = refused_port().await;
    let fixture = fixture(20, port, |_| {}).await;
    let (report, events) = run_with(&fixture, RunOptions::default(), RunControl::default()).await;
    let report = report.expect("test step");
    assert_eq!(report.outcome, RunOutcome::Paused);
    match report.reason.as_ref().expect("test step") {
        PauseReason::Unreachable {
            attempts,
            failure,
            host,
            port: reason_port,
        } => {
            assert_eq!(*attempts, 3);
            assert_eq!(failure.problem, Problem::Refused);
            assert_eq!((host.as_str(), *reason_port), ("127.0.0.1", port));
        }
        other => panic!("paused for {other}"),
    }
    // The advice Test connection gives for a refused port is in the reason.
    let said = report.reason.as_ref().expect("test step").to_string();
    assert!(said.contains("Nothing is listening on 127.0.0.1"), "{said}");
    assert_eq!((report.counts.pending, report.counts.failed), (20, 0));
    let announced: Vec<(u32, u32)> = events
        .iter()
        .filter_map(|e| match e {
            CampaignEvent::ConnectionTrouble { attempt, of, .. } => Some((*attempt, *of)),
            _ => None,
        })
        .collect();
    assert!(
        announced.contains(&(1, 3)) && announced.contains(&(2, 3)),
        "{announced:?}"
    );
    assert!(
        announced.iter().all(|(attempt, of)| *of == 3 && *attempt < 3),
        "{announced:?}"
    );
}

/// Later in a campaign, a server that goes away is waited for, and the run
/// says so in its progress ("waiting for the server — next try in …, 3rd of
/// N") instead of a rate, until the outage outlasts the account's limit:
/// then the campaign pauses with that reason, and nobody is failed for it.
#[tokio::test]
async fn an_outage_after_mail_was_accepted_is_waited_out_then_pauses_at_the_accounts_limit() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(30, server.port(), |a| {
        a.connections = 1;
        a.per_connection = 2;
        a.rate_per_second = Some(20.0);
        a.outage_limit_ms = 1_500;
    })
    .await;
    // The server goes away after four messages.
    let gone = tokio::spawn(async move {
        while server.received().len() < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let received = server.received().len();
        drop(server);
        received
    });
    let options = RunOptions {
        connect_attempts: 1_000,
        progress_interval: Duration::from_millis(50),
        ..quick()
    };
    let (report, events) = run_with(&fixture, options, RunControl::default()).await;
    let report = report.expect("test step");
    let received = gone.await.expect("test step");
    assert_eq!(report.outcome, RunOutcome::Paused);
    match report.reason.as_ref().expect("test step") {
        PauseReason::OutageTooLong {
            limit_ms,
            failure,
            attempts,
            ..
        } => {
            assert_eq!(*limit_ms, 1_500);
            assert_eq!(failure.problem, Problem::Refused);
            assert!(
                *attempts > 3,
                "waited with several tries, not the first-contact three: {attempts}"
            );
        }
        other => panic!("paused for {other}"),
    }
    assert_eq!(report.counts.failed, 0, "an outage fails nobody");
    assert!(report.counts.sent as usize <= received && report.counts.sent >= 4);
    let waits: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            CampaignEvent::Progress {
                server_wait: Some(wait),
                ..
            } => Some(wait.clone()),
            _ => None,
        })
        .collect();
    assert!(!waits.is_empty(), "progress said the run waits for the server");
    // The server is dropped as soon as it has the 4th message: a connection
    // it had just accepted may lose its greeting (ConnectionLost) before
    // later tries are refused.
    assert!(
        waits.iter().all(|w| w.attempt >= 1
            && w.attempt < w.of
            && matches!(w.failure.problem, Problem::Refused | Problem::ConnectionLost)),
        "{waits:?}"
    );
    assert!(
        waits.last().is_some_and(|w| w.failure.problem == Problem::Refused),
        "{waits:?}"
    );
    assert!(waits.iter().any(|w| w.attempt >= 3), "{waits:?}");
}

#[tokio::test]
async fn a_black_hole_pauses_the_campaign_with_the_reason_and_fails_nobody() {
    let server = ScriptedServer::start(Script {
        black_hole: true,
        ..Script::default()
    })
    .await;
    let fixture = fixture(10, server.port(), |a| {
        a.connect_timeout_ms = 300;
        a.command_timeout_ms = 300;
    })
    .await;
    let options = RunOptions {
        connect_attempts: 2,
        ..quick()
    };
    let (report, _) = run_with(&fixture, options, RunControl::default()).await;
    let report = report.expect("test step");
    assert_eq!(report.outcome, RunOutcome::Paused);
    let paused = report.reason.expect("test step");
    let reason = paused.to_string();
    assert!(
        reason.contains("could not be reached") && reason.contains("greeting"),
        "{reason}"
    );
    assert_eq!(report.counts.pending, 10);
    let summary = fixture
        .store
        .campaign_summary(fixture.campaign)
        .await
        .expect("test step");
    assert_eq!(summary.status, CampaignStatus::Paused);
    assert_eq!(summary.pause_reason, Some(paused));
}

#[tokio::test]
async fn slow_replies_beyond_the_timeout_pause_instead_of_hanging() {
    let server = slow_server(Duration::from_secs(2)).await;
    let fixture = fixture(5, server.port(), |a| {
        a.command_timeout_ms = 200;
        a.connect_timeout_ms = 200;
    })
    .await;
    let options = RunOptions {
        connect_attempts: 2,
        ..quick()
    };
    let (report, _) = run_with(&fixture, options, RunControl::default()).await;
    let report = report.expect("test step");
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert_eq!(report.counts.pending, 5);
    assert_eq!(report.counts.failed, 0);
}

#[tokio::test]
async fn rejected_recipients_fail_at_once_with_the_reason_and_join_the_suppression_list() {
    let rejected: HashSet<String> = [3, 11, 17].into_iter().map(address).collect();
    let server = ScriptedServer::start(Script {
        reject_recipients: rejected.clone(),
        ..Script::default()
    })
    .await;
    let fixture = fixture(20, server.port(), |_| {}).await;
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!((report.counts.sent, report.counts.failed), (17, 3));
    for r in recipients(&fixture).await {
        if rejected.contains(&r.email) {
            assert_eq!(r.status, RecipientStatus::Failed);
            assert_eq!(r.attempts, 1, "a permanent failure is not retried");
            let reason = r.reason.expect("test step").to_string();
            assert!(
                reason.contains("550") && reason.contains("5.1.1") && reason.contains("User unknown"),
                "{reason}"
            );
        } else {
            assert_eq!(r.status, RecipientStatus::Sent);
        }
    }
    let suppressed = fixture.store.suppressed_addresses().await.expect("test step");
    assert!(rejected.iter().all(|a| suppressed.contains(a)), "{suppressed:?}");
}

#[tokio::test]
async fn a_wrong_password_pauses_the_campaign_and_marks_nobody_failed() {
    let server = ScriptedServer::start(Script {
        credentials: Some(("user".to_owned(), "the-right-one".to_owned())),
        ..Script::default()
    })
    .await;
    let fixture = fixture(10, server.port(), |a| {
        a.auth = AuthMethod::Plain;
        a.username = Some("user".to_owned());
    })
    .await;
    let (report, _) = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    let paused = report.reason.expect("test step");
    let reason = paused.to_string();
    assert!(reason.contains("535"), "{reason}");
    assert_eq!(report.counts.pending, 10);
    assert!(
        recipients(&fixture)
            .await
            .iter()
            .all(|r| r.attempts == 0 && r.reason.is_none())
    );
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn many_failures_in_a_row_pause_the_campaign() {
    let everyone: HashSet<String> = (0..30).map(address).collect();
    let server = ScriptedServer::start(Script {
        reject_recipients: everyone,
        ..Script::default()
    })
    .await;
    let fixture = fixture(30, server.port(), |a| a.connections = 1).await;
    let (report, _) = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert!(
        report
            .reason
            .expect("test step")
            .to_string()
            .contains("20 recipients failed in a row")
    );
    assert_eq!(report.counts.failed, 20);
    assert_eq!(report.counts.pending, 10);
}

/// The window the server's clock checks the rate in. The engine spaces the
/// moments messages go on the wire exactly (proved on tokio's paused clock in
/// `campaign/throttle.rs`); the server stamps them when its task next runs,
/// which on a loaded 2-core machine can be tens of milliseconds later for one
/// message than for the next. A window this much shorter than a second still
/// fails on any burst, or on an even rate about 12 % over the limit.
const ONE_SECOND_AS_THE_SERVER_SEES_IT: Duration = Duration::from_millis(900);

#[tokio::test]
async fn the_configured_rate_is_never_exceeded_in_any_second() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(45, server.port(), |a| a.rate_per_second = Some(20.0)).await;
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    let times: Vec<_> = server.received().iter().map(|m| m.at).collect();
    assert_eq!(times.len(), 45);
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|u| u.duration_since(*t) < ONE_SECOND_AS_THE_SERVER_SEES_IT)
            .count();
        assert!(in_window <= 20, "{in_window} messages arrived within one second");
    }
}

#[tokio::test]
async fn two_campaigns_on_one_account_at_once_keep_its_rate_together() {
    let server = ScriptedServer::start(Script::default()).await;
    let first = fixture(30, server.port(), |a| a.rate_per_second = Some(20.0)).await;
    // A second list in the same file, on the same account.
    let mut csv = String::from("email,first_name\n");
    for i in 0..30 {
        csv.push_str(&format!("second{i:02}@example.org,Second {i}\n"));
    }
    let list = first.dir.path().join("second.csv");
    std::fs::write(&list, csv).expect("test step");
    let options = ImportOptions::default();
    let source = RecipientSource::open(&list, &options).await.expect("test step");
    let second = import::import(&first.store, source, &options)
        .await
        .expect("test step")
        .campaign
        .id;
    let draft = MessageDraft {
        subject: "Also for {{ first_name }}".to_owned(),
        text: Some("The second campaign.".to_owned()),
        ..MessageDraft::default()
    };
    save_message(&first.store, second, &draft).await.expect("test step");

    // One session: runs on one account in it share the account's limits.
    let session = &first.session;
    let run = |campaign| {
        session.send(
            campaign,
            &["test"],
            quick(),
            RunControl::default(),
            Arc::new(|_: &CampaignEvent| {}),
        )
    };
    let (a, b) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(run(first.campaign), run(second))
    })
    .await
    .unwrap_or_else(|_| panic!("the campaigns hung"));
    for report in [a, b] {
        let report = report.expect("test step");
        assert_eq!((report.outcome, report.counts.sent), (RunOutcome::Completed, 30));
    }
    let times: Vec<_> = server.received().iter().map(|m| m.at).collect();
    assert_eq!(times.len(), 60);
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|u| u.duration_since(*t) < ONE_SECOND_AS_THE_SERVER_SEES_IT)
            .count();
        assert!(
            in_window <= 20,
            "{in_window} messages from both campaigns arrived within one second"
        );
    }
}

/// A well-behaved server that waits `delay` before every reply.
async fn slow_server(delay: Duration) -> ScriptedServer {
    ScriptedServer::start(Script {
        slow_replies: Some(delay),
        ..Script::default()
    })
    .await
}

/// Runs the campaign on `account` (`None`: its own) with `control` and `sink`.
async fn send_through(
    fixture: &Fixture,
    account: Option<&str>,
    control: RunControl,
    sink: Arc<dyn ProgressSink>,
) -> RunReport {
    fixture
        .session
        .send(fixture.campaign, account.as_slice(), quick(), control, sink)
        .await
        .expect("test step")
}

/// A control and a sink that pause the run when it starts waiting for a quota.
fn pause_on_quota_wait() -> (RunControl, Arc<impl Fn(&CampaignEvent) + Send + Sync + 'static>) {
    let control = RunControl::default();
    let pauser = control.clone();
    let sink = Arc::new(move |event: &CampaignEvent| {
        // A day's quota used up is kept as the account's suspension: a
        // later run waits for it as for any suspension (AccountWait).
        if matches!(
            event,
            CampaignEvent::QuotaWait { .. } | CampaignEvent::AccountWait { .. }
        ) {
            pauser.pause();
        }
    });
    (control, sink)
}

/// A control and a sink that pause the run once `n` recipients are sent,
/// keeping every event.
fn pause_after_sent(n: usize) -> (RunControl, Events, Arc<impl Fn(&CampaignEvent) + Send + Sync + 'static>) {
    let control = RunControl::default();
    let pauser = control.clone();
    let events: Events = Arc::default();
    let sink_events = events.clone();
    let sink = Arc::new(move |event: &CampaignEvent| {
        let mut events = sink_events.lock().expect("test step");
        events.push(event.clone());
        let sent = events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    CampaignEvent::Recipient {
                        status: RecipientStatus::Sent,
                        ..
                    }
                )
            })
            .count();
        if sent == n {
            pauser.pause();
        }
    });
    (control, events, sink)
}

#[tokio::test]
async fn pause_finishes_in_flight_messages_and_resume_sends_the_rest_once() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(60, server.port(), |a| a.rate_per_second = Some(40.0)).await;
    let (control, events, sink) = pause_after_sent(10);
    let report = send_through(&fixture, Some("test"), control, sink).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert_eq!(report.reason, Some(PauseReason::ByYou));
    assert!(report.counts.sent >= 10 && report.counts.sent < 60, "{report:?}");
    assert_eq!(
        report.counts.sending, 0,
        "in-flight messages finish before the run ends"
    );
    assert!(
        events
            .lock()
            .expect("test step")
            .iter()
            .any(|e| matches!(e, CampaignEvent::Pausing { .. }))
    );
    assert_eq!(server.received().len() as u64, report.counts.sent);

    // Resume on the campaign's own account.
    let (resumed, _) = {
        let events: Events = Arc::default();
        let sink_events = events.clone();
        let sink = Arc::new(move |event: &CampaignEvent| sink_events.lock().expect("test step").push(event.clone()));
        let report = send_through(&fixture, None, RunControl::default(), sink).await;
        (report, events)
    };
    assert_completed(&fixture, &resumed).await;
    assert_each_got_it_once(&server, 60);
}

/// Unthrottled, each connection's next envelope travels with the current
/// content, so a pause finds transactions open with no content yet (the
/// slow replies make sure some connection is waiting for its answer when
/// the pause comes). Those connections are dropped, not ended with "." or
/// QUIT (which the server would take for the message): the server has
/// exactly the messages the file says were sent, each with its content, and
/// those recipients are back in the queue, unclaimed, for the resume.
#[tokio::test]
async fn a_pause_abandons_open_transactions_without_sending_anything_into_them() {
    let server = slow_server(Duration::from_millis(10)).await;
    let fixture = fixture(120, server.port(), |a| a.per_connection = 1_000).await;
    let (control, _events, sink) = pause_after_sent(20);
    let report = send_through(&fixture, Some("test"), control, sink).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert!(report.counts.sent >= 20 && report.counts.sent < 120, "{report:?}");
    assert_eq!(
        report.counts.sending + report.counts.uncertain + report.counts.failed,
        0,
        "{report:?}"
    );
    assert_eq!(report.counts.pending, 120 - report.counts.sent, "{report:?}");
    let received = server.received();
    let in_file: HashSet<String> = recipients(&fixture)
        .await
        .into_iter()
        .filter(|r| r.status == RecipientStatus::Sent)
        .map(|r| r.email)
        .collect();
    let at_server: HashSet<String> = received.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    assert_eq!(received.len(), in_file.len(), "nothing extra arrived");
    assert_eq!(at_server, in_file);
    for message in &received {
        let text = String::from_utf8_lossy(&message.data);
        assert!(
            text.contains(&format!("this is for {}.", message.rcpt_to[0])),
            "each message is whole and its own: {text:?}"
        );
    }

    let (resumed, _) = run(&fixture).await;
    assert_completed(&fixture, &resumed).await;
    assert_each_got_it_once(&server, 120);
}

/// A run whose future is dropped (an app task given up on) halts as a pause
/// would: its workers, on their own thread, finish the messages in hand and
/// stop, instead of sending on beside the next run, which then sends nobody
/// twice.
#[tokio::test]
async fn a_dropped_run_stops_its_workers_and_the_next_run_sends_nobody_twice() {
    let server = slow_server(Duration::from_millis(5)).await;
    let fixture = fixture(150, server.port(), |a| a.connections = 2).await;
    let (session, campaign) = (fixture.session.clone(), fixture.campaign);
    let dropped = tokio::spawn(async move {
        let sink = Arc::new(|_: &CampaignEvent| {});
        session
            .send(campaign, &["test"], quick(), RunControl::default(), sink)
            .await
    });
    tokio::time::timeout(Duration::from_secs(30), async {
        while server.received().len() < 10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first run sends");
    dropped.abort();
    assert!(dropped.await.is_err_and(|e| e.is_cancelled()));

    let (report, _) = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert_each_got_it_once(&server, 150);
}

/// SPEC invariant 2's order: a message's content goes out only once its
/// claim is in the file. While another process holds the database's write
/// lock no claim can commit, so only the messages claimed before it (one per
/// connection at most) may still arrive, and every message the server has is
/// `sending` or `sent` in the file; then the run goes on by itself.
#[tokio::test]
async fn no_content_goes_out_while_claims_cannot_be_recorded() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(150, server.port(), |a| a.rate_per_second = Some(50.0)).await;
    let connections = 4;
    let run = {
        let session = fixture.session.clone();
        let campaign = fixture.campaign;
        tokio::spawn(async move {
            let sink = Arc::new(|_: &CampaignEvent| {});
            session
                .send(campaign, &["test"], quick(), RunControl::default(), sink)
                .await
        })
    };
    while server.received().len() < 10 {
        assert!(!run.is_finished(), "the run ended early: {:?}", run.await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let blocker = rusqlite::Connection::open(fixture.dir.path().join("mailroom.db")).expect("test step");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("test step");
    let at_lock = server.received().len();
    // At 50 a second, a run that did not wait for its claims would send
    // about 50 more meanwhile.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let during = server.received().len() - at_lock;
    // What the server has, the file knows of: `sending` or `sent`, never
    // `pending` (a crash now would send it again).
    let mut statuses = HashMap::new();
    {
        let mut query = blocker
            .prepare("SELECT email, status FROM recipients")
            .expect("test step");
        let rows = query
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
            .expect("test step");
        for row in rows {
            let (email, status) = row.expect("test step");
            statuses.insert(email, status);
        }
    }
    blocker.execute_batch("ROLLBACK").expect("test step");
    assert!(
        during <= connections,
        "{during} messages went out while no claim could be recorded"
    );
    for email in accepted_per_recipient(&server.received()).keys() {
        let status = statuses.get(email).map(String::as_str);
        assert!(
            matches!(status, Some("sending" | "sent")),
            "the server has {email}, the file says {status:?}"
        );
    }

    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run hung")
        .expect("test step")
        .expect("test step");
    assert_completed(&fixture, &report).await;
    assert_each_got_it_once(&server, 150);
}

#[tokio::test]
async fn stop_cancels_everyone_not_yet_sent_and_a_stopped_campaign_sends_no_more() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(40, server.port(), |a| a.rate_per_second = Some(20.0)).await;
    let control = RunControl::default();
    let stopper = control.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stopper.stop();
    });
    let (report, _) = run_with(&fixture, quick(), control).await;
    let report = report.expect("test step");
    assert_eq!(report.outcome, RunOutcome::Stopped);
    let c = &report.counts;
    assert!(c.sent > 0 && c.cancelled > 0, "{c:?}");
    assert_eq!(c.sent + c.cancelled, 40);
    assert_eq!(server.received().len() as u64, c.sent);
    let again = run_with(&fixture, quick(), RunControl::default()).await.0;
    assert!(matches!(again, Err(Error::CampaignState { .. })), "{again:?}");
}

#[tokio::test]
async fn a_daily_quota_waits_instead_of_failing_and_holds_across_runs() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(8, server.port(), |a| a.per_day = Some(5)).await;
    let control = RunControl::default();
    let pauser = control.clone();
    let events: Events = Arc::default();
    let sink_events = events.clone();
    let sink = Arc::new(move |event: &CampaignEvent| {
        if matches!(event, CampaignEvent::QuotaWait { .. }) {
            pauser.pause();
        }
        sink_events.lock().expect("test step").push(event.clone());
    });
    let report = send_through(&fixture, Some("test"), control, sink).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert_eq!((report.counts.sent, report.counts.pending), (5, 3));
    assert_eq!(report.counts.failed, 0, "a used-up quota fails nobody");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("test step")
        .as_millis() as i64;
    let wait = events
        .lock()
        .expect("test step")
        .iter()
        .find_map(|e| match e {
            CampaignEvent::QuotaWait { until, window, limit } => Some((*until, *window, *limit)),
            _ => None,
        })
        .expect("test step");
    assert_eq!((wait.1.as_str(), wait.2), ("day", 5));
    assert!(
        wait.0 > now + 86_000_000,
        "resumes about a day later, not at {}",
        wait.0
    );

    // A new run (as after a restart) remembers what the account sent today:
    // the used-up day is kept as the account's suspension, so the run waits
    // for it from the start and sends nothing.
    let events: Events = Arc::default();
    let (control, sink) = {
        let control = RunControl::default();
        let pauser = control.clone();
        let sink_events = events.clone();
        let sink = Arc::new(move |event: &CampaignEvent| {
            if matches!(
                event,
                CampaignEvent::QuotaWait { .. } | CampaignEvent::AccountWait { .. }
            ) {
                pauser.pause();
            }
            sink_events.lock().expect("test step").push(event.clone());
        });
        (control, sink)
    };
    let report = send_through(&fixture, None, control, sink).await;
    assert_eq!((report.counts.sent, report.counts.pending), (5, 3));
    assert_eq!(server.received().len(), 5);
    let until = events.lock().expect("test step").iter().find_map(|e| match e {
        CampaignEvent::AccountWait { until, .. } => Some(*until),
        _ => None,
    });
    assert_eq!(
        until,
        Some(wait.0),
        "the kept suspension ends when the day's quota frees"
    );
}

/// A quota counts messages whose content reached the server. The next
/// recipient's envelope rides with each content; when a reset after DATA
/// loses it, that recipient goes back to the queue and so does its place in
/// the quota. So the server gets exactly the day's 20, resets included
/// (those recipients are uncertain: the server may have their message).
#[tokio::test]
async fn a_quota_is_used_to_the_last_message_when_connections_reset() {
    let server = ScriptedServer::start(Script {
        reset_after_data: Some((0.3, 7)),
        ..Script::default()
    })
    .await;
    let fixture = fixture(40, server.port(), |a| a.per_day = Some(20)).await;
    let (control, sink) = pause_on_quota_wait();
    // So many resets would soon be three in a row, which pauses a campaign
    // before its quota: this test is about the quota.
    let options = RunOptions {
        ambiguous_in_a_row: u32::MAX,
        ..quick()
    };
    let report = fixture
        .session
        .send(fixture.campaign, &["test"], options, control, sink)
        .await
        .expect("test step");
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert!(
        report
            .reason
            .as_ref()
            .map(ToString::to_string)
            .is_some_and(|r| r.contains("paused by you")),
        "the quota paused it: {report:?}"
    );
    let received = server.received();
    assert!(received.iter().any(|m| m.reset), "the script reset some connections");
    assert_eq!(received.len(), 20, "{report:?}");
}

#[tokio::test]
async fn a_campaign_without_a_message_or_with_an_unknown_field_sends_nothing() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(3, server.port(), |_| {}).await;
    let bad = MessageDraft {
        subject: "Hi {{ frist_name }}".to_owned(),
        text: Some("x".to_owned()),
        ..MessageDraft::default()
    };
    let err = save_message(&fixture.store, fixture.campaign, &bad)
        .await
        .expect_err("the test expects an error");
    assert!(err.to_string().contains("frist_name"), "{err}");
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!(
        server.received().len(),
        3,
        "the saved (good) message was sent; the bad one was never stored"
    );
}

#[tokio::test]
async fn a_recipient_whose_attachment_is_missing_fails_with_a_render_reason_and_the_rest_go() {
    let server = ScriptedServer::start(Script::default()).await;
    let fixture = fixture(3, server.port(), |_| {}).await;
    let folder = tempfile::tempdir().expect("test step");
    // Each recipient's file is named after them; only "Name 1" has one.
    std::fs::write(folder.path().join("Name 1"), b"for Name 1").expect("test step");
    let check = attach_each_recipients_file(&fixture, folder.path()).await;
    assert_eq!(
        check.missing_attachment_count, 2,
        "missing files are listed before sending"
    );
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!((report.counts.sent, report.counts.failed), (1, 2));
    for r in recipients(&fixture).await {
        if r.email == address(1) {
            assert_eq!(r.status, RecipientStatus::Sent);
        } else {
            let reason = r.reason.map(|r| r.to_string()).unwrap_or_default();
            assert!(
                reason.contains("could not be made") && reason.contains("cannot be read"),
                "{reason}"
            );
            assert_eq!(r.attempts, 1, "a render failure is not retried");
        }
    }
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_mail_over_the_servers_size_limit_is_not_uploaded_and_fails_only_its_recipient() {
    let server = ScriptedServer::start(Script {
        max_message_size: Some(20_000),
        ..Script::default()
    })
    .await;
    let fixture = fixture(4, server.port(), |_| {}).await;
    let folder = tempfile::tempdir().expect("test step");
    // Everyone has a file of their own; "Name 2"'s is too big for the server.
    for i in 0..4 {
        let size = if i == 2 { 40_000 } else { 1_000 };
        std::fs::write(folder.path().join(format!("Name {i}")), vec![b'x'; size]).expect("test step");
    }
    let check = attach_each_recipients_file(&fixture, folder.path()).await;
    let first = check.message_bytes.expect("the first recipient's size is reported");
    assert!((1_000..20_000).contains(&first), "{first}");
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!((report.counts.sent, report.counts.failed), (3, 1));
    for r in recipients(&fixture).await {
        if r.email == address(2) {
            assert_eq!(r.status, RecipientStatus::Failed);
            assert_eq!(r.attempts, 1, "a mail that is too big is not retried");
            let reason = r.reason.map(|r| r.to_string()).unwrap_or_default();
            assert!(reason.contains("at most 20 KB"), "{reason}");
        } else {
            assert_eq!(r.status, RecipientStatus::Sent);
        }
    }
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert!(
        received.iter().all(|m| m.rcpt_to != [address(2)]),
        "the oversized mail was never uploaded"
    );
}

#[tokio::test]
async fn a_shared_attachment_over_the_size_limit_pauses_the_campaign_and_fails_nobody() {
    let server = ScriptedServer::start(Script {
        max_message_size: Some(20_000),
        ..Script::default()
    })
    .await;
    let fixture = fixture(5, server.port(), |_| {}).await;
    let folder = tempfile::tempdir().expect("test step");
    let brochure = folder.path().join("brochure.pdf");
    std::fs::write(&brochure, vec![b'%'; 40_000]).expect("test step");
    let draft = MessageDraft {
        subject: "Hello {{ first_name }}".to_owned(),
        text: Some("Our brochure.".to_owned()),
        attachments: vec![brochure],
        ..MessageDraft::default()
    };
    save_message(&fixture.store, fixture.campaign, &draft)
        .await
        .expect("test step");
    let (report, _) = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    let paused = report.reason.expect("test step");
    let reason = paused.to_string();
    assert!(
        reason.contains("at most 20 KB") && reason.contains("attachments smaller"),
        "{reason}"
    );
    assert_eq!((report.counts.pending, report.counts.failed), (5, 0));
    assert!(server.received().is_empty());
}

/// The account's settings as stored, changed by `change`, saved back.
async fn edit_account(fixture: &Fixture, change: impl FnOnce(&mut AccountSettings)) {
    let (id, mut settings) = mailroom_engine::smtp::account::load(&fixture.store, "test")
        .await
        .expect("test step");
    change(&mut settings);
    update_account(&fixture.store, &fixture.secrets, id, settings, PasswordChange::Keep)
        .await
        .expect("test step");
}

/// A message's bytes without its Date line (the one header made at each send).
fn undated(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .lines()
        .filter(|line| !line.starts_with("Date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The copies the server received for `email`, in order.
fn copies_for(server: &ScriptedServer, email: &str) -> Vec<Received> {
    server
        .received()
        .into_iter()
        .filter(|m| m.rcpt_to.iter().any(|to| to == email))
        .collect()
}

/// A server whose `250` to the content comes later than the message timeout
/// (a byte at a time) has the message, and the client cannot know it. Those
/// recipients become uncertain, never failed nor sent again on their own,
/// and three in a row pause the campaign with the advice to wait longer.
/// With a longer timeout the rest go once; sent again on request, the
/// uncertain ones get the same message under the same Message-ID, and
/// their history says they may have it twice.
#[tokio::test]
async fn answers_later_than_the_message_timeout_make_recipients_uncertain_and_pause_with_advice() {
    let server = ScriptedServer::start(Script {
        // "250 2.0.0 Ok: queued" and its CRLF: 22 bytes, 0.9 s.
        trickle_after_data: Some(Duration::from_millis(40)),
        ..Script::default()
    })
    .await;
    let fixture = fixture(8, server.port(), |a| {
        a.connections = 1;
        a.data_timeout_ms = 200;
    })
    .await;
    let (report, _) = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    let reason = report.reason.clone().map(|r| r.to_string()).unwrap_or_default();
    assert!(
        reason.contains("3 messages in a row got no answer after their content")
            && reason.contains("longer message timeout than 200 ms"),
        "{reason}"
    );
    let c = &report.counts;
    assert_eq!((c.uncertain, c.pending, c.failed, c.sent), (3, 5, 0, 0), "{c:?}");
    assert_agrees_with_the_server(&fixture, &server).await;

    // The advice, followed: the rest go, each once; the uncertain ones wait.
    edit_account(&fixture, |a| a.data_timeout_ms = 5_000).await;
    let (report, _) = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert!(report.reason == Some(PauseReason::Uncertain { count: 3 }), "{report:?}");
    assert_eq!((report.counts.sent, report.counts.uncertain), (5, 3));
    assert_agrees_with_the_server(&fixture, &server).await;

    // The person sends them again: the same message, a second copy each.
    let uncertain: Vec<Recipient> = recipients(&fixture)
        .await
        .into_iter()
        .filter(|r| r.status == RecipientStatus::Uncertain)
        .collect();
    fixture
        .store
        .settle_uncertain(fixture.campaign, UncertainDecision::Resend)
        .await
        .expect("test step");
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!(report.counts.sent, 8);
    assert_agrees_with_the_server(&fixture, &server).await;
    for r in &uncertain {
        let now = recipients(&fixture)
            .await
            .into_iter()
            .find(|n| n.row == r.row)
            .expect("test step");
        let reason = now.reason.map(|r| r.to_string()).unwrap_or_default();
        assert!(reason.contains("more than once"), "{reason}");
        let copies = copies_for(&server, &r.email);
        assert_eq!(copies.len(), 2);
        assert_eq!(
            undated(&copies[0].data),
            undated(&copies[1].data),
            "the same message, Message-ID and all"
        );
    }
}

/// A server frozen after the content (as by SIGSTOP, then SIGCONT) keeps the
/// message and answers too late. The recipient is uncertain; the rest go
/// once, and the campaign waits for the decision instead of completing.
#[tokio::test]
async fn a_server_frozen_after_the_content_leaves_those_recipients_uncertain_and_the_rest_go_once() {
    let server = ScriptedServer::start(Script {
        freeze_after_data: Some(Duration::from_millis(1_500)),
        after_data_faults_for_first: Some(2),
        ..Script::default()
    })
    .await;
    let fixture = fixture(6, server.port(), |a| {
        a.connections = 1;
        a.data_timeout_ms = 300;
    })
    .await;
    let (report, _) = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Paused, "{report:?}");
    let c = &report.counts;
    assert_eq!((c.sent, c.uncertain, c.failed, c.pending), (4, 2, 0, 0), "{c:?}");
    assert!(server.received()[..2].iter().all(|m| m.late));
    assert_agrees_with_the_server(&fixture, &server).await;
    for r in recipients(&fixture).await {
        let frozen = r.email == address(0) || r.email == address(1);
        assert_eq!(r.status == RecipientStatus::Uncertain, frozen, "{r:?}");
        assert_eq!(r.attempts, 1, "never sent again on its own: {r:?}");
    }
}

/// With the account's `retry_ambiguous` (at least once, as mail servers do),
/// a message frozen after its content is sent again on its own: the same
/// message under the same Message-ID. Its history says it may have it
/// twice; nobody fails, and nobody else gets two.
#[tokio::test]
async fn with_retry_ambiguous_the_same_message_goes_again_and_the_history_says_it_may_arrive_twice() {
    let server = ScriptedServer::start(Script {
        freeze_after_data: Some(Duration::from_millis(1_500)),
        after_data_faults_for_first: Some(2),
        ..Script::default()
    })
    .await;
    let fixture = fixture(6, server.port(), |a| {
        a.connections = 1;
        a.data_timeout_ms = 300;
        a.retry_ambiguous = true;
    })
    .await;
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_eq!((report.counts.sent, report.counts.failed), (6, 0));
    assert_agrees_with_the_server(&fixture, &server).await;
    for r in recipients(&fixture).await {
        if r.email == address(0) || r.email == address(1) {
            assert_eq!((r.attempts, r.unanswered), (2, 1), "{r:?}");
            let reason = r.reason.clone().map(|r| r.to_string()).unwrap_or_default();
            assert!(reason.contains("more than once"), "{reason}");
            let copies = copies_for(&server, &r.email);
            assert_eq!(copies.len(), 2);
            assert_eq!(undated(&copies[0].data), undated(&copies[1].data));
        } else {
            assert_eq!((r.attempts, r.unanswered, r.reason), (1, 0, None), "{}", r.email);
        }
    }
}

/// Transient replies are retried: they are the server asking to wait, not
/// the list going bad. A burst of them longer than the "failures in a row"
/// limit pauses nothing, and everyone gets the mail once.
#[tokio::test]
async fn a_burst_of_transient_replies_longer_than_the_failure_limit_does_not_pause_the_campaign() {
    let server = ScriptedServer::start(Script {
        busy_rcpt_first: Some(30),
        ..Script::default()
    })
    .await;
    let fixture = fixture(10, server.port(), |a| {
        a.connections = 1;
        a.retries = 10;
    })
    .await;
    let options = RunOptions {
        consecutive_failures: 20,
        ..quick()
    };
    let (report, events) = run_with(&fixture, options, RunControl::default()).await;
    assert!(
        !events.iter().any(|e| matches!(e, CampaignEvent::RateChanged { .. })),
        "not taken for throttling"
    );
    let report = report.expect("test step");
    assert_completed(&fixture, &report).await;
    assert_eq!((report.counts.sent, report.counts.failed), (10, 0));
    let retried: u32 = recipients(&fixture).await.iter().map(|r| r.attempts - 1).sum();
    assert_eq!(retried, 30, "each 451 was one retry");
    assert_each_got_it_once(&server, 10);
}

/// Runs the campaign in a task of its own; returns it once the server has
/// received `after` messages.
async fn run_in_background(
    fixture: &Fixture,
    server: &ScriptedServer,
    after: usize,
    control: RunControl,
) -> tokio::task::JoinHandle<Result<RunReport, Error>> {
    let (session, campaign) = (fixture.session.clone(), fixture.campaign);
    let running = tokio::spawn(async move {
        let sink = Arc::new(|_: &CampaignEvent| {});
        session.send(campaign, &["test"], quick(), control, sink).await
    });
    tokio::time::timeout(Duration::from_secs(30), async {
        while server.received().len() < after {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the run sends");
    running
}

/// Deleting the account a campaign is sending on is refused with the
/// reason, and the run goes on undisturbed (it used to die with "FOREIGN
/// KEY constraint failed", leaving recipients `sending`). Once the run is
/// over the account may go, and the campaign keeps its results and works
/// on another account.
#[tokio::test]
async fn the_account_of_a_running_campaign_cannot_be_deleted_and_a_finished_one_keeps_working_without_it() {
    let server = slow_server(Duration::from_millis(5)).await;
    let fixture = fixture(80, server.port(), |a| a.connections = 2).await;
    let control = RunControl::default();
    let running = run_in_background(&fixture, &server, 10, control.clone()).await;
    let refused = remove_account(&fixture.store, &fixture.secrets, "test")
        .await
        .expect_err("deleting a sending account must be refused");
    assert_eq!(refused.kind(), ErrorKind::AccountInUse, "{refused}");
    let text = refused.to_string();
    assert!(
        text.contains("\"test\" is sending a campaign now") && text.contains("pause the campaign first"),
        "{text}"
    );
    control.pause();
    let report = running.await.expect("test step").expect("the run is not broken");
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert_eq!(report.counts.sending, 0);

    // Paused, the account can go; the campaign keeps its results.
    remove_account(&fixture.store, &fixture.secrets, "test")
        .await
        .expect("an idle account can be deleted");
    let summary = campaign::summary(&fixture.store, fixture.campaign)
        .await
        .expect("test step");
    assert_eq!((summary.status, summary.account), (CampaignStatus::Paused, None));
    assert_eq!(summary.counts.sent, report.counts.sent);
    let no_account = fixture
        .session
        .send(
            fixture.campaign,
            &[],
            quick(),
            RunControl::default(),
            Arc::new(|_: &CampaignEvent| {}),
        )
        .await
        .expect_err("no account to resume on");
    assert!(
        no_account.to_string().contains("choose the SMTP account"),
        "{no_account}"
    );

    // On another account it finishes, nobody twice.
    let settings = AccountSettings {
        name: "other".to_owned(),
        host: "127.0.0.1".to_owned(),
        port: server.port(),
        security: Security::None,
        auth: AuthMethod::None,
        from_address: Some("news@example.com".to_owned()),
        ..AccountSettings::default()
    };
    add_account(&fixture.store, &fixture.secrets, settings, None)
        .await
        .expect("test step");
    let report = send_through(
        &fixture,
        Some("other"),
        RunControl::default(),
        Arc::new(|_: &CampaignEvent| {}),
    )
    .await;
    assert_completed(&fixture, &report).await;
    assert_each_got_it_once(&server, 80);
}

/// The message of a running campaign cannot change ("pause it first"); a
/// change made while it is paused is a new version, and every recipient's
/// record names the version it got, which is what the server received.
#[tokio::test]
async fn a_running_campaigns_message_cannot_change_and_each_recipient_records_the_version_it_got() {
    let server = slow_server(Duration::from_millis(5)).await;
    let fixture = fixture(60, server.port(), |a| a.connections = 2).await;
    let control = RunControl::default();
    let running = run_in_background(&fixture, &server, 10, control.clone()).await;
    let second = MessageDraft {
        subject: "Second version for {{ first_name }}".to_owned(),
        text: Some("Changed.\n".to_owned()),
        ..MessageDraft::default()
    };
    let refused = save_message(&fixture.store, fixture.campaign, &second)
        .await
        .expect_err("a running campaign's message must not change");
    assert_eq!(refused.kind(), ErrorKind::CampaignState);
    assert!(refused.to_string().contains("pause it first"), "{refused}");
    control.pause();
    let paused = running.await.expect("test step").expect("test step");
    assert_eq!(paused.outcome, RunOutcome::Paused);
    assert!(paused.counts.pending > 0, "{paused:?}");

    save_message(&fixture.store, fixture.campaign, &second)
        .await
        .expect("paused, the message may change");
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_each_got_it_once(&server, 60);
    let by_address: HashMap<String, Received> = server
        .received()
        .into_iter()
        .map(|m| (m.rcpt_to[0].clone(), m))
        .collect();
    let mut versions = HashSet::new();
    for r in recipients(&fixture).await {
        let version = r.message_version.expect("every sent recipient names its version");
        versions.insert(version);
        let text = String::from_utf8_lossy(&by_address[&r.email].data).into_owned();
        let second_version = text.contains("Subject: Second version for");
        assert_eq!(
            second_version,
            version == 2,
            "{}: version {version}, got {text}",
            r.email
        );
    }
    assert_eq!(versions, HashSet::from([1, 2]));
}

/// An uncertain recipient resent after the message changed gets the version
/// the server may already have, under the same Message-ID, so a provider
/// that de-duplicates drops an identical copy; everyone else gets the new one.
#[tokio::test]
async fn an_uncertain_recipient_resent_after_an_edit_gets_the_version_it_may_already_have() {
    let server = ScriptedServer::start(Script {
        freeze_after_data: Some(Duration::from_millis(1_500)),
        after_data_faults_for_first: Some(1),
        ..Script::default()
    })
    .await;
    let fixture = fixture(4, server.port(), |a| {
        a.connections = 1;
        a.data_timeout_ms = 300;
        a.rate_per_second = Some(2.0);
    })
    .await;
    let (control, _events, sink) = pause_after_sent(1);
    let report = send_through(&fixture, Some("test"), control, sink).await;
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert_eq!(report.counts.uncertain, 1, "{report:?}");
    assert!(report.counts.pending > 0, "{report:?}");

    let second = MessageDraft {
        subject: "Second version for {{ first_name }}".to_owned(),
        text: Some("Changed.\n".to_owned()),
        ..MessageDraft::default()
    };
    save_message(&fixture.store, fixture.campaign, &second)
        .await
        .expect("test step");
    fixture
        .store
        .settle_uncertain(fixture.campaign, UncertainDecision::Resend)
        .await
        .expect("test step");
    let (report, _) = run(&fixture).await;
    assert_completed(&fixture, &report).await;
    assert_agrees_with_the_server(&fixture, &server).await;

    let first = copies_for(&server, &address(0));
    assert_eq!(first.len(), 2, "the uncertain one, sent again on request");
    assert_eq!(
        undated(&first[0].data),
        undated(&first[1].data),
        "exactly the version it may have"
    );
    assert!(undated(&first[1].data).contains("Subject: Hello Name 0"));
    for i in 1..4 {
        let copies = copies_for(&server, &address(i));
        assert_eq!(copies.len(), 1);
        let text = String::from_utf8_lossy(&copies[0].data).into_owned();
        let paused_before = recipients(&fixture).await[i].message_version == Some(1);
        assert_eq!(text.contains("Subject: Second version for"), !paused_before, "{text}");
    }
    let rows = recipients(&fixture).await;
    assert_eq!(rows[0].message_version, Some(1));
    assert!(rows.iter().skip(1).any(|r| r.message_version == Some(2)));
}

/// The answer to a message's content trickling in a byte a second, as the
/// issue's server did: the message timeout bounds the whole answer, not
/// each byte, so the client gives up at the timeout although bytes keep
/// coming, and the server has the message: the send is ambiguous (no code).
/// The clock is tokio's paused clock, so the seconds are virtual; a ticker
/// keeps it moving in small steps while the runtime waits on the sockets.
#[tokio::test(start_paused = true)]
async fn an_answer_trickled_slower_than_the_message_timeout_times_out_and_the_server_has_the_message() {
    use mailroom_engine::smtp::client::{Connection, ConnectionSettings};
    use mailroom_engine::smtp::{Problem, Stage};
    let server = ScriptedServer::start(Script {
        trickle_after_data: Some(Duration::from_secs(1)),
        ..Script::default()
    })
    .await;
    let ticker = tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let settings = ConnectionSettings {
        host: "127.0.0.1".to_owned(),
        port: server.port(),
        security: Security::None,
        auth: AuthMethod::None,
        username: None,
        password: None,
        helo_name: None,
        connect_timeout: Duration::from_secs(600),
        command_timeout: Duration::from_secs(600),
        data_timeout: Duration::from_secs(5),
        accept_invalid_certs: false,
    };
    let mut connection = Connection::open(Arc::new(settings)).await.expect("test step");
    let message = b"Subject: hi\r\n\r\nHello.\r\n";
    let failure = connection
        .send("news@example.com", &["a@example.org"], message)
        .await
        .expect_err("the answer comes too late");
    ticker.abort();
    assert_eq!(
        (failure.stage, failure.problem, failure.code),
        (Stage::Data, Problem::TimedOut, None)
    );
    let received = server.received();
    assert_eq!(received.len(), 1, "the server has the message");
    assert!(received[0].late && !received[0].reset);
}

/// Send windows: outside them the run claims nobody and says when the next
/// one opens (once, though four connections wait); a pause while it waits
/// ends the run with everyone still pending; when the window opens the run
/// goes on by itself. The campaign's clock is injected: the sink moves it to
/// the opening when the run announces the wait, and the run, which reads
/// the wall clock again every few milliseconds here, sees the window open.
#[tokio::test]
async fn outside_its_send_window_a_run_waits_for_the_opening_and_then_sends() {
    use mailroom_engine::campaign::schedule::{Schedule, SendWindow, parse_local_time};
    use mailroom_engine::clock::{Clock, ManualClock};
    let zone = "Europe/Paris";
    // Friday 2026-12-04, after hours; the window opens on Monday at 09:00.
    let friday_evening = parse_local_time("2026-12-04 17:30", zone).expect("test step");
    let monday_morning = parse_local_time("2026-12-07 09:00", zone).expect("test step");
    let server = Arc::new(ScriptedServer::start(Script::default()).await);
    let mut fixture = fixture(6, server.port(), |_| {}).await;
    let clock = ManualClock::at(friday_evening);
    fixture.store = Store::open_with_clock(&fixture.dir.path().join("mailroom.db"), Arc::new(clock.clone()))
        .await
        .expect("test step");
    fixture.session = Session::with_secrets(fixture.store.clone(), fixture.secrets.clone());
    let schedule = Schedule {
        start_at: None,
        time_zone: zone.to_owned(),
        windows: vec![SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")],
        account: None,
    };
    campaign::schedule::set(&fixture.store, fixture.campaign, &schedule)
        .await
        .expect("test step");
    let options = RunOptions {
        window_recheck: Duration::from_millis(10),
        ..quick()
    };

    // A pause while it waits: nobody was claimed or sent.
    let (control, sink) = pause_on_window_wait();
    let report = fixture
        .session
        .send(fixture.campaign, &["test"], options.clone(), control, sink)
        .await
        .expect("test step");
    assert_eq!(report.outcome, RunOutcome::Paused);
    assert_eq!((report.counts.pending, report.counts.sent), (6, 0));
    assert!(server.received().is_empty(), "nothing goes out after hours");

    // Waiting on: the window opens (the clock moves there) and it sends.
    let events: Events = Arc::default();
    let (seen, watched, moved) = (events.clone(), server.clone(), clock.clone());
    let sink = Arc::new(move |event: &CampaignEvent| {
        if let CampaignEvent::WindowWait { opens_at, .. } = event {
            assert!(
                watched.received().is_empty(),
                "nothing went out before the window opened"
            );
            moved.advance_ms(opens_at - moved.now_ms());
        }
        seen.lock().expect("test step").push(event.clone());
    });
    let report = fixture
        .session
        .send(fixture.campaign, &[], options, RunControl::default(), sink)
        .await
        .expect("test step");
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!(report.counts.sent, 6);
    assert_eq!(server.received().len(), 6);
    let waits: Vec<(i64, String)> = events
        .lock()
        .expect("test step")
        .iter()
        .filter_map(|e| match e {
            CampaignEvent::WindowWait { opens_at, time_zone } => Some((*opens_at, time_zone.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        waits,
        [(monday_morning, zone.to_owned())],
        "said once, for Monday 09:00"
    );
}

/// A control and a sink that pause the run when it starts waiting for a send window.
fn pause_on_window_wait() -> (RunControl, Arc<impl Fn(&CampaignEvent) + Send + Sync + 'static>) {
    let control = RunControl::default();
    let pauser = control.clone();
    let sink = Arc::new(move |event: &CampaignEvent| {
        if matches!(event, CampaignEvent::WindowWait { .. }) {
            pauser.pause();
        }
    });
    (control, sink)
}

/// Issue 19: a person's Start, Resend or Stop settles a pending scheduled
/// start. Start and Resend use it up (the run is now, its windows stay),
/// Stop clears the schedule (a stopped campaign sends nothing more), so the
/// schedule timer, the app's and `mailroom schedule run` alike, starts
/// none of them again later.
#[tokio::test]
async fn a_start_resend_or_stop_by_hand_settles_a_pending_scheduled_start() {
    use mailroom_engine::campaign::schedule::{self, Schedule, SendWindow};
    use mailroom_engine::results::ResendChoice;
    let refused = address(1);
    let server = ScriptedServer::start(Script {
        answer_recipients: [(refused.clone(), (554, "5.7.1 Message refused by policy".to_owned()))]
            .into_iter()
            .collect(),
        ..Script::default()
    })
    .await;
    let in_an_hour = |store: &Store| Schedule {
        start_at: Some(store.now_ms() + 3_600_000),
        time_zone: "UTC".to_owned(),
        windows: vec![SendWindow::parse("daily 00:00-24:00").expect("test step")],
        account: Some("test".to_owned()),
    };
    let pending_start = |store: Store, campaign: i64| async move {
        schedule::get(&store, campaign)
            .await
            .expect("test step")
            .map(|s| (s.start_at.is_some(), s.windows.len()))
    };
    // What the timer would start, looking from before any of these starts.
    let timer_starts = |store: Store, since: i64| async move {
        let started = Arc::new(Mutex::new(Vec::new()));
        let seen = started.clone();
        tokio::time::timeout(
            Duration::from_secs(10),
            schedule::run_due(
                &store,
                since,
                true,
                Arc::default(),
                tokio_util::sync::CancellationToken::new(),
                move |campaign, _| {
                    seen.lock().expect("test step").push(campaign);
                    async {}
                },
            ),
        )
        .await
        .expect("no start time is left to wait for")
        .expect("test step");
        started.lock().expect("test step").clone()
    };

    // Start by hand.
    let started = fixture(4, server.port(), |_| {}).await;
    let since = started.store.now_ms() - 1;
    schedule::set(&started.store, started.campaign, &in_an_hour(&started.store))
        .await
        .expect("test step");
    let (report, _) = run(&started).await;
    assert_eq!((report.counts.sent, report.counts.failed), (3, 1));
    assert_eq!(
        pending_start(started.store.clone(), started.campaign).await,
        Some((false, 1)),
        "the start is used up, the window stays"
    );
    assert!(timer_starts(started.store.clone(), since).await.is_empty());

    // Resend by hand (as the window and `mailroom resend` do: requeue, then send).
    schedule::set(&started.store, started.campaign, &in_an_hour(&started.store))
        .await
        .expect("test step");
    let plan = started
        .store
        .requeue_for_resend(started.campaign, &ResendChoice::default())
        .await
        .expect("test step");
    assert_eq!(plan.to_send, 1);
    run(&started).await;
    assert_eq!(
        pending_start(started.store.clone(), started.campaign).await,
        Some((false, 1))
    );
    assert!(timer_starts(started.store.clone(), since).await.is_empty());

    // Stop during a run.
    let stopped = fixture(40, server.port(), |a| a.rate_per_second = Some(20.0)).await;
    let since = stopped.store.now_ms() - 1;
    schedule::set(&stopped.store, stopped.campaign, &in_an_hour(&stopped.store))
        .await
        .expect("test step");
    let control = RunControl::default();
    let stopper = control.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stopper.stop();
    });
    let (report, _) = run_with(&stopped, quick(), control).await;
    assert_eq!(report.expect("test step").outcome, RunOutcome::Stopped);
    assert_eq!(pending_start(stopped.store.clone(), stopped.campaign).await, None);
    assert!(timer_starts(stopped.store.clone(), since).await.is_empty());

    // Stop of a paused campaign.
    let paused = fixture(4, server.port(), |_| {}).await;
    let since = paused.store.now_ms() - 1;
    let control = RunControl::default();
    control.pause();
    let (report, _) = run_with(&paused, quick(), control).await;
    assert_eq!(report.expect("test step").outcome, RunOutcome::Paused);
    schedule::set(&paused.store, paused.campaign, &in_an_hour(&paused.store))
        .await
        .expect("test step");
    campaign::stop_idle(&paused.store, paused.campaign)
        .await
        .expect("test step");
    assert_eq!(pending_start(paused.store.clone(), paused.campaign).await, None);
    assert!(timer_starts(paused.store.clone(), since).await.is_empty());
}
