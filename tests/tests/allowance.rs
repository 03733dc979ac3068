//! Issue 19, "use the whole allowance, never more": campaigns through servers
//! that throttle, a real Postfix (anvil's `smtpd_client_message_rate_limit`,
//! from Debian's packages, on loopback) and the scripted server's 454 above
//! N/s. Each checks that nobody is lost, nobody gets two, and that throttle
//! replies stay within 2% of the messages; the rates achieved are printed
//! and recorded in docs/BENCHMARKS.md (scripts/bench-allowance.sh runs the
//! ignored benchmark below), never asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailroom_e2e::fixtures::{campaign_with_message, local_account};
use mailroom_e2e::mailserver::ThrottlingPostfix;
use mailroom_e2e::smtp_server::{Script, ScriptedServer};
use mailroom_engine::Session;
use mailroom_engine::Store;
use mailroom_engine::campaign::{CampaignEvent, RunControl, RunOptions, RunOutcome, RunReport};
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::smtp::AccountSettings;
use mailroom_engine::smtp::manage::{add_account, list_accounts};
use tempfile::TempDir;

struct Fixture {
    _dir: TempDir,
    store: Store,
    secrets: SecretStore,
}

/// A database with an account "test" on `port` (4 connections, no rate of
/// its own: the server's limit is the one to find).
async fn fixture(port: u16) -> Fixture {
    let dir = tempfile::tempdir().expect("test step");
    let store = Store::open(&dir.path().join("mailroom.db")).await.expect("test step");
    let secrets = SecretStore::EncryptedFile {
        dir: dir.path().to_owned(),
    };
    // The engine's own timeouts: a real Postfix is not answering a script.
    let defaults = AccountSettings::default();
    let settings = AccountSettings {
        connections: 4,
        per_connection: 1_000,
        retries: 10,
        connect_timeout_ms: defaults.connect_timeout_ms,
        command_timeout_ms: defaults.command_timeout_ms,
        data_timeout_ms: defaults.data_timeout_ms,
        ..local_account("test", port)
    };
    add_account(&store, &secrets, settings, None).await.expect("test step");
    Fixture {
        _dir: dir,
        store,
        secrets,
    }
}

/// A campaign of `n` recipients (`user0000@example.org`, ...) whose names
/// start with `prefix`, with a message.
async fn campaign_of(fixture: &Fixture, prefix: &str, n: usize) -> i64 {
    let mut csv = String::from("email,first_name\n");
    for i in 0..n {
        csv.push_str(&format!("{prefix}{i:05}@example.org,Name {i}\n"));
    }
    campaign_with_message(
        &fixture.store,
        fixture._dir.path(),
        prefix,
        &csv,
        "Hello {{ first_name }}",
        "Dear {{ first_name }},\nthis is for {{ email }}.\n",
    )
    .await
}

/// What one campaign did.
struct Measured {
    report: RunReport,
    seconds: f64,
    cuts: usize,
    /// The rate the run started at.
    started_at: Option<f64>,
}

async fn send(fixture: &Fixture, campaign: i64) -> Measured {
    let cuts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = cuts.clone();
    let start_rate = Arc::new(std::sync::Mutex::new(None));
    let started_rate = start_rate.clone();
    let sink = Arc::new(move |event: &CampaignEvent| match event {
        CampaignEvent::RateChanged { .. } => {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        CampaignEvent::Started { rate, .. } => {
            *started_rate.lock().expect("test step") = rate.effective;
        }
        _ => {}
    });
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(900),
        Session::with_secrets(fixture.store.clone(), fixture.secrets.clone()).send(
            campaign,
            &["test"],
            RunOptions::default(),
            RunControl::default(),
            sink,
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("the campaign hung"))
    .unwrap_or_else(|e| panic!("run failed: {e}"));
    Measured {
        report,
        seconds: started.elapsed().as_secs_f64(),
        cuts: cuts.load(std::sync::atomic::Ordering::SeqCst),
        started_at: *start_rate.lock().expect("test step"),
    }
}

/// One line of figures, as docs/BENCHMARKS.md records them.
fn figures(
    server: &str,
    allowed: f64,
    messages: usize,
    measured: &Measured,
    replies: usize,
    held: Option<f64>,
) -> String {
    let ideal = messages as f64 / allowed;
    let achieved = messages as f64 / measured.seconds;
    format!(
        "| {server} | {allowed:.1}/s | {messages} | {ideal:.1} s | {:.1} s | {achieved:.1}/s | {:.1}% | {replies} ({:.2}%) | {} | {} |",
        measured.seconds,
        100.0 * achieved / allowed,
        100.0 * replies as f64 / messages as f64,
        measured.cuts,
        held.map_or("-".to_owned(), |h| format!("{h:.1}/s")),
    )
}

async fn held_rate(fixture: &Fixture) -> Option<f64> {
    list_accounts(&fixture.store, &fixture.secrets)
        .await
        .expect("test step")
        .into_iter()
        .find(|a| a.settings.name == "test")
        .and_then(|a| a.held_rate.map(|h| h.rate))
}

/// Through Postfix allowing `limit` per anvil window of `unit` s, one
/// campaign of each size in `runs` on the same account: everyone once,
/// throttle replies within 2%. Returns the figures' lines.
async fn through_postfix(limit: u32, unit: u32, runs: &[usize]) -> Vec<String> {
    let postfix = ThrottlingPostfix::start(limit, unit);
    let fixture = fixture(postfix.port).await;
    let mut lines = Vec::new();
    let mut replies_before = 0;
    let mut discarded_before = 0;
    for (run, &messages) in runs.iter().enumerate() {
        let prefix = format!("r{run}u");
        let campaign = campaign_of(&fixture, &prefix, messages).await;
        let held_before = held_rate(&fixture).await;
        let measured = send(&fixture, campaign).await;
        assert_eq!(measured.report.outcome, RunOutcome::Completed, "{:?}", measured.report);
        assert_eq!(measured.report.counts.sent, messages as u64, "{:?}", measured.report);
        if run > 0 {
            // Where the last run found the limit, not unthrottled.
            assert!(held_before.is_some(), "the first run learned the rate");
            assert_eq!(measured.started_at, held_before);
        }
        let discarded = postfix.discarded_per_recipient(discarded_before + messages);
        let ours: Vec<_> = discarded.iter().filter(|(to, _)| to.starts_with(&prefix)).collect();
        assert_eq!(ours.len(), messages, "everyone got it, by Postfix's log");
        assert!(
            ours.iter().all(|(_, n)| **n == 1),
            "nobody got it twice, by Postfix's log"
        );
        discarded_before += messages;
        let replies = postfix.throttle_replies() - replies_before;
        replies_before += replies;
        let line = figures(
            &format!("Postfix {limit} per {unit} s anvil, run {}", run + 1),
            postfix.allowed_per_second(),
            messages,
            &measured,
            replies,
            held_rate(&fixture).await,
        );
        eprintln!("{line}");
        assert!(
            replies as f64 <= 0.02 * messages as f64,
            "{replies} throttle replies for {messages} messages: {line}"
        );
        lines.push(line);
    }
    lines
}

/// Through the scripted server's 454 above `allowed`/s.
async fn through_scripted(allowed: usize, messages: usize) -> String {
    let server = ScriptedServer::start(Script {
        throttle_above_per_second: Some(allowed),
        ..Script::default()
    })
    .await;
    let fixture = fixture(server.port()).await;
    let campaign = campaign_of(&fixture, "u", messages).await;
    let measured = send(&fixture, campaign).await;
    assert_eq!(measured.report.outcome, RunOutcome::Completed, "{:?}", measured.report);
    assert_eq!(measured.report.counts.sent, messages as u64);
    let received = server.received();
    let mut seen = std::collections::HashSet::new();
    for message in &received {
        for to in &message.rcpt_to {
            assert!(seen.insert(to.clone()), "{to} got it twice");
        }
    }
    assert_eq!(seen.len(), messages, "everyone got it");
    let replies = server.throttle_replies();
    let line = figures(
        &format!("scripted, 454 above {allowed}/s"),
        allowed as f64,
        messages,
        &measured,
        replies,
        held_rate(&fixture).await,
    );
    eprintln!("{line}");
    assert!(
        replies as f64 <= 0.02 * messages as f64,
        "{replies} throttle replies for {messages} messages: {line}"
    );
    line
}

/// A real Postfix allowing 15 messages a second (30 per anvil window of
/// 1 s, which spans two whole seconds): the 1,450 recipients, then
/// 450 more on the same account, which starts at the rate that held. (The
/// first campaign learns the limit from a handful of replies, about ten
/// whatever its size: 2% of 450 is too few for that, 2% of 1,450 is the
/// issue's own measure.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_postfix_throttling_at_15_a_second_loses_nobody_and_draws_few_replies() {
    through_postfix(30, 1, &[1_450, 450]).await;
}

/// The figures in docs/BENCHMARKS.md: the 1,450-recipient case through
/// Postfix at 15/s (twice: the second run starts at the rate that held),
/// and the scripted server at several N.
/// `cargo test --release -p mailroom-e2e --test allowance -- --ignored --nocapture`
/// (scripts/bench-allowance.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: about seven minutes of sending at the servers' limits"]
async fn bench_allowance() {
    let mut lines = through_postfix(30, 1, &[1_450, 1_450]).await;
    for (allowed, messages) in [(5, 300), (15, 900), (50, 3_000)] {
        lines.push(through_scripted(allowed, messages).await);
    }
    println!(
        "| server | allowed | messages | ideal | time | achieved | of allowed | throttle replies | rate cuts | held |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for line in lines {
        println!("{line}");
    }
}
