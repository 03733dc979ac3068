//! `mailroom send --at`, `schedule` and `plan` as a person or a script runs
//! them, against the scripted server: a send scheduled a few seconds ahead
//! waits for its time and then sends everyone; a start that passed while
//! no Mailroom ran is reported as missed and not sent; a past time is
//! refused; the plan splits a list by the daily quota.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailroom_e2e::smtp_server::{Script, ScriptedServer};
use mailroom_e2e::{Workspace, mailroom_async as cli, message_args};
use mailroom_engine::Store;
use mailroom_engine::campaign::schedule::{self, Schedule, SendWindow};

/// A workspace with campaign 1 of `n` recipients, its message, and account
/// "test" on `port` (`account` adds options).
async fn campaign(n: usize, port: u16, account: &[&str]) -> Arc<Workspace> {
    let ws = Arc::new(Workspace::new());
    let mut csv = String::from("email,name\n");
    for i in 0..n {
        csv.push_str(&format!("r{i:05}@example.org,Person {i}\n"));
    }
    let list = ws.file("list.csv", csv);
    let body = ws.file("body.txt", "Hello {{ name }}.\n");
    {
        let ws = ws.clone();
        let options: Vec<String> = account.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let options: Vec<&str> = options.iter().map(String::as_str).collect();
            ws.add_local_account("test", port, &options);
        })
        .await
        .expect("test step");
    }
    for args in [
        vec!["import", list.to_str().expect("test step")],
        message_args("1", "For {{ name }}", &body),
    ] {
        let run = cli(&ws, &args).await;
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }
    ws
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("test step")
            .as_millis(),
    )
    .expect("test step")
}

/// Unix ms as the CLI's --at reads it, in UTC, to the second.
fn utc_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .expect("test step")
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_at_waits_for_its_time_then_sends_everyone() {
    let server = ScriptedServer::start(Script::default()).await;
    let ws = campaign(5, server.port(), &[]).await;
    // A time already gone is refused, and nothing is kept.
    let past = utc_text(now_ms() - 60_000);
    let run = cli(&ws, &["schedule", "set", "1", "--at", &past, "--tz", "UTC"]).await;
    assert!(!run.success());
    assert!(run.stderr.contains("has already passed"), "{}", run.stderr);

    // Three seconds ahead, on a whole second.
    let at = (now_ms() / 1000 + 3) * 1000;
    let due = tokio::time::Instant::now() + Duration::from_millis(u64::try_from(at - now_ms()).expect("test step"));
    let run = cli(
        &ws,
        &["send", "1", "--smtp", "test", "--at", &utc_text(at), "--tz", "UTC"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("Scheduled for"), "{}", run.stderr);
    assert!(run.stderr.contains("Plan: 5 recipients"), "{}", run.stderr);
    let received = server.received();
    assert_eq!(received.len(), 5);
    for message in &received {
        // The instants agree to the millisecond they were converted at.
        assert!(
            message.at + Duration::from_millis(5) >= due,
            "a message went before its time"
        );
    }
    // The start was taken: listed without a start time, and not missed.
    let run = cli(&ws, &["--json", "schedule", "list"]).await;
    assert!(run.success(), "{}", run.stderr);
    let list = run.json();
    assert_eq!(list[0]["schedule"]["start_at"], serde_json::Value::Null, "{list}");
    assert_eq!(list[0]["missed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_run_offers_a_missed_start_and_sends_nothing() {
    let server = ScriptedServer::start(Script::default()).await;
    let ws = campaign(3, server.port(), &[]).await;
    // Set for an hour ago, as if Mailroom was closed when it came.
    let store = Store::open(&ws.db()).await.expect("test step");
    let missed_at = now_ms() - 3_600_000;
    let windowed = Schedule {
        start_at: Some(missed_at),
        time_zone: "Europe/Paris".to_owned(),
        windows: vec![SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")],
        account: Some("test".to_owned()),
    };
    store.set_schedule(1, &windowed, None).await.expect("test step");
    store.close().await;

    let run = cli(&ws, &["schedule", "list"]).await;
    assert!(run.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("MISSED") && run.stdout.contains("Mon-Fri 09:00-17:00"),
        "{}",
        run.stdout
    );
    let run = cli(&ws, &["schedule", "run"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("Missed: campaign"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&schedule::describe_time(missed_at, "Europe/Paris")),
        "{}",
        run.stderr
    );
    assert!(server.received().is_empty(), "a missed start is never sent silently");
    // Still offered, until a person decides; clearing it decides.
    let run = cli(&ws, &["schedule", "clear", "1"]).await;
    assert!(run.success(), "{}", run.stderr);
    let run = cli(&ws, &["--json", "schedule", "list"]).await;
    assert_eq!(run.json(), serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_splits_the_list_by_the_daily_quota_and_what_was_sent_today() {
    let server = ScriptedServer::start(Script::default()).await;
    let ws = campaign(7, server.port(), &["--per-day", "3", "--rate", "10"]).await;
    let run = cli(&ws, &["--json", "plan", "1", "--smtp", "test"]).await;
    assert!(run.success(), "{}", run.stderr);
    let plan = run.json();
    let counts: Vec<u64> = plan["days"]
        .as_array()
        .expect("test step")
        .iter()
        .map(|d| d["count"].as_u64().expect("test step"))
        .collect();
    assert_eq!((plan["remaining"].as_u64(), counts), (Some(7), vec![3, 3, 1]), "{plan}");
    assert_eq!(plan["sent_today"], 0);
    let run = cli(&ws, &["plan", "1", "--smtp", "test"]).await;
    assert!(
        run.stdout.starts_with("7 recipients on 3 a day at 10/s: "),
        "{}",
        run.stdout
    );
}
