//! Several accounts for one campaign (issue 19) through the built `mailroom`
//! binary, against scripted servers: `schedule set --smtp A --smtp B` keeps
//! both in order and the plan works over both; a daily quota on the first
//! account hands the rest to the second and each recipient's record names
//! the account that sent it; `smtp resume` ends a suspension a provider's
//! reply (Gmail's real `550 5.4.5` daily limit) left on an account, and the
//! account sends again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mailroom_e2e::smtp_server::{Received, Script, ScriptedServer};
use mailroom_e2e::{Workspace, mailroom_async as cli, message_args};

const GMAIL_DAILY_LIMIT: &str = "550 5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to https://support.google.com/a/answer/166852";

/// Runs the CLI and insists it succeeds.
async fn ok(ws: &Arc<Workspace>, args: &[&str]) -> mailroom_e2e::Run {
    let run = cli(ws, args).await;
    assert!(run.success(), "{args:?}: {}\n{}", run.stderr, run.stdout);
    run
}

/// Imports `n` recipients (`{prefix}{i}@example.org`) as the next campaign
/// and writes its message.
async fn campaign(ws: &Arc<Workspace>, id: u32, prefix: &str, n: usize) {
    let mut csv = String::from("email,name\n");
    for i in 0..n {
        csv.push_str(&format!("{prefix}{i:03}@example.org,Person {i}\n"));
    }
    let list = ws.file(&format!("{prefix}.csv"), csv);
    let body = ws.file("body.txt", "Hello {{ name }}.\n");
    ok(ws, &["import", list.to_str().expect("test step")]).await;
    let id = id.to_string();
    ok(ws, &message_args(&id, "For {{ name }}", &body)).await;
}

/// Adds account `name` on 127.0.0.1:`port` with `options`.
async fn account(ws: &Arc<Workspace>, name: &str, port: u16, options: &[&str]) {
    let ws = ws.clone();
    let name = name.to_owned();
    let options: Vec<String> = options.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        ws.add_local_account(&name, port, &options);
    })
    .await
    .expect("test step");
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

/// Each plan account's name and planned share, in order.
fn shares(plan: &serde_json::Value) -> Vec<(String, u64)> {
    plan["accounts"]
        .as_array()
        .expect("test step")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().expect("test step").to_owned(),
                a["count"].as_u64().expect("test step"),
            )
        })
        .collect()
}

fn day_total(plan: &serde_json::Value) -> u64 {
    plan["days"]
        .as_array()
        .expect("test step")
        .iter()
        .map(|d| d["count"].as_u64().expect("test step"))
        .sum()
}

/// Every address a server accepted, with how many copies.
fn copies(received: &[Received]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in received {
        for to in &message.rcpt_to {
            *counts.entry(to.clone()).or_default() += 1;
        }
    }
    counts
}

/// The exported sent recipients of `campaign`: address → account.
async fn exported_accounts(ws: &Arc<Workspace>, campaign: &str) -> HashMap<String, String> {
    let path = ws.dir.path().join(format!("sent-{campaign}.csv"));
    ok(
        ws,
        &[
            "export",
            campaign,
            "--status",
            "sent",
            "--output",
            path.to_str().expect("test step"),
        ],
    )
    .await;
    let text = std::fs::read_to_string(&path).expect("test step");
    let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = rows.headers().expect("test step").iter().map(str::to_owned).collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column: {header:?}"))
    };
    let (email, account) = (column("email"), column("account"));
    rows.records()
        .map(|r| {
            let r = r.expect("test step");
            (r[email].to_owned(), r[account].to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_set_keeps_several_accounts_in_order_and_the_plan_works_over_all_of_them() {
    let ws = Arc::new(Workspace::new());
    campaign(&ws, 1, "r", 7).await;
    // "primary" sorts after "backup": the order kept is the one given.
    let (primary, backup) = (
        ScriptedServer::start(Script::default()).await,
        ScriptedServer::start(Script::default()).await,
    );
    account(&ws, "primary", primary.port(), &["--per-day", "3", "--rate", "10"]).await;
    account(&ws, "backup", backup.port(), &["--per-day", "2", "--rate", "5"]).await;
    let in_order = "through \"primary\", then \"backup\" when \"primary\" is suspended";

    let at_ms = (now_ms() / 1000 + 3_600) * 1000;
    let at = utc_text(at_ms);
    let run = ok(
        &ws,
        &[
            "schedule", "set", "1", "--at", &at, "--tz", "UTC", "--smtp", "primary", "--smtp", "backup",
        ],
    )
    .await;
    assert!(run.stdout.contains(in_order), "{}", run.stdout);
    let list = ok(&ws, &["--json", "schedule", "list"]).await.json();
    assert_eq!(list[0]["accounts"], serde_json::json!(["primary", "backup"]), "{list}");
    assert_eq!(
        list[0]["schedule"]["account"],
        serde_json::Value::Null,
        "the list is the campaign's"
    );
    let run = ok(&ws, &["schedule", "list"]).await;
    assert!(run.stdout.contains(in_order), "{}", run.stdout);

    // The plan of the scheduled start: both accounts' quotas, 3 + 2 a day.
    // From the start, primary's 3 and backup's 2; a day later primary is
    // free again and sends the last 2.
    let plan = ok(&ws, &["--json", "plan", "1"]).await.json();
    assert_eq!(
        shares(&plan),
        [("primary".to_owned(), 5), ("backup".to_owned(), 2)],
        "{plan}"
    );
    assert_eq!(
        (plan["remaining"].as_u64(), plan["per_day"].as_u64(), day_total(&plan)),
        (Some(7), Some(5), 7),
        "{plan}"
    );
    assert_eq!(plan["starts_at"].as_i64(), Some(at_ms), "{plan}");
    let finish = plan["finishes_at"].as_i64().expect("a finish");
    assert!(finish >= at_ms + 86_400_000, "the last two wait a day: {plan}");
    let run = ok(&ws, &["plan", "1"]).await;
    assert!(
        run.stdout.starts_with(
            "7 recipients on 5 a day through \"primary\" (3 a day, at 10/s; sends 5), then \"backup\" (2 a day, \
             at 5/s; sends 2) when \"primary\" is suspended: "
        ),
        "{}",
        run.stdout
    );
    // One account asked for: only its own figures.
    let run = ok(&ws, &["plan", "1", "--smtp", "backup"]).await;
    assert!(
        run.stdout.starts_with("7 recipients on 2 a day at 5/s: "),
        "{}",
        run.stdout
    );

    // One account for the schedule: the start sends on it alone.
    ok(&ws, &["schedule", "set", "1", "--smtp", "backup"]).await;
    let list = ok(&ws, &["--json", "schedule", "list"]).await.json();
    assert_eq!(
        (list[0]["accounts"].clone(), list[0]["schedule"]["account"].clone()),
        (serde_json::json!(["backup"]), serde_json::json!("backup")),
        "{list}"
    );
    assert!(primary.received().is_empty() && backup.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_quota_on_the_first_account_hands_the_rest_to_the_second() {
    let ws = Arc::new(Workspace::new());
    campaign(&ws, 1, "q", 8).await;
    let (primary, backup) = (
        ScriptedServer::start(Script::default()).await,
        ScriptedServer::start(Script::default()).await,
    );
    account(&ws, "primary", primary.port(), &["--per-day", "3", "--rate", "50"]).await;
    account(&ws, "backup", backup.port(), &["--rate", "50"]).await;

    // Planned before: primary's 3, then backup the other 5.
    let plan = ok(&ws, &["--json", "plan", "1", "--smtp", "primary", "--smtp", "backup"])
        .await
        .json();
    assert_eq!(
        shares(&plan),
        [("primary".to_owned(), 3), ("backup".to_owned(), 5)],
        "{plan}"
    );
    assert_eq!(plan["per_day"], serde_json::Value::Null, "backup has no daily quota");

    let run = cli(&ws, &["send", "1", "--smtp", "primary", "--smtp", "backup"]).await;
    assert_eq!(run.code, Some(0), "completed: {}", run.stderr);
    assert!(
        run.stderr.contains(
            "Sending 8 recipients through \"primary\", then \"backup\" when \"primary\" is suspended, from \
             news@example.com"
        ),
        "{}",
        run.stderr
    );
    let status = ok(&ws, &["--json", "status", "1"]).await.json();
    assert_eq!(
        (status["counts"]["sent"].as_u64(), status["counts"]["failed"].as_u64()),
        (Some(8), Some(0)),
        "{status}"
    );
    let (on_primary, on_backup) = (copies(&primary.received()), copies(&backup.received()));
    assert_eq!((on_primary.len(), on_backup.len()), (3, 5), "the quota held");
    for i in 0..8 {
        let email = format!("q{i:03}@example.org");
        let n = on_primary.get(&email).unwrap_or(&0) + on_backup.get(&email).unwrap_or(&0);
        assert_eq!(n, 1, "{email} got {n} copies");
    }

    // The export and each recipient's history name the account that sent it.
    let exported = exported_accounts(&ws, "1").await;
    assert_eq!(exported.len(), 8);
    for (email, account) in &exported {
        let expected = if on_primary.contains_key(email) {
            "primary"
        } else {
            "backup"
        };
        assert_eq!(account, expected, "{email}");
    }
    let by_backup = on_backup.keys().next().expect("test step");
    let history = ok(&ws, &["--json", "recipients", "1", "--history", by_backup])
        .await
        .json();
    let sent: Vec<&serde_json::Value> = history["attempts"]
        .as_array()
        .expect("test step")
        .iter()
        .filter(|a| a["result"] == "sent")
        .collect();
    assert_eq!(sent.len(), 1, "{history}");
    assert_eq!(sent[0]["account"], "backup", "{history}");
    // A run per account, in turn; the quota is kept on primary.
    let runs = ok(&ws, &["--json", "runs", "1"]).await.json();
    let accounts: Vec<&str> = runs
        .as_array()
        .expect("test step")
        .iter()
        .map(|r| r["account"].as_str().expect("test step"))
        .collect();
    assert_eq!(accounts, ["primary", "backup"], "{runs}");
    let shown = ok(&ws, &["--json", "smtp", "show", "primary"]).await.json();
    assert_eq!(shown["suspension"]["reason"]["kind"], "quota", "{shown}");
    assert_eq!(shown["suspension"]["reason"]["limit"], 3, "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_resume_ends_a_kept_suspension_and_the_account_sends_again() {
    let ws = Arc::new(Workspace::new());
    campaign(&ws, 1, "s", 6).await;
    // Gmail's real daily-limit reply to the third message, then acceptance.
    let gmail = ScriptedServer::start(Script {
        replay_at_mail: Some((2, vec![GMAIL_DAILY_LIMIT.to_owned()])),
        ..Script::default()
    })
    .await;
    let backup = ScriptedServer::start(Script::default()).await;
    account(
        &ws,
        "gmail",
        gmail.port(),
        &["--preset", "gmail", "--rate", "50", "--connections", "1"],
    )
    .await;
    account(&ws, "backup", backup.port(), &["--rate", "50"]).await;

    let run = cli(&ws, &["send", "1", "--smtp", "gmail", "--smtp", "backup"]).await;
    assert_eq!(run.code, Some(0), "completed on the second account: {}", run.stderr);
    assert_eq!(
        (gmail.received().len(), backup.received().len()),
        (2, 4),
        "nobody is lost or failed for the suspension"
    );
    let shown = ok(&ws, &["--json", "smtp", "show", "gmail"]).await.json();
    let suspension = &shown["suspension"];
    assert_eq!(suspension["reason"]["kind"], "rule", "{shown}");
    assert_eq!(suspension["reason"]["rule"], "gmail.daily_limit", "{shown}");
    assert!(
        suspension["until"].as_i64().expect("until") > now_ms() + 12 * 3_600_000,
        "a daily limit: {shown}"
    );
    let run = ok(&ws, &["smtp", "show", "gmail"]).await;
    assert!(
        run.stdout.contains("suspended until") && run.stdout.contains("`mailroom smtp resume gmail`"),
        "{}",
        run.stdout
    );

    // A new campaign: while gmail is suspended the plan sends all on backup.
    campaign(&ws, 2, "t", 3).await;
    let plan = ok(&ws, &["--json", "plan", "2", "--smtp", "gmail", "--smtp", "backup"])
        .await
        .json();
    assert_eq!(
        shares(&plan),
        [("gmail".to_owned(), 0), ("backup".to_owned(), 3)],
        "{plan}"
    );
    assert_eq!(plan["accounts"][0]["suspended_until"], suspension["until"], "{plan}");

    let run = ok(&ws, &["smtp", "resume", "gmail"]).await;
    assert!(run.stdout.contains("no longer suspended"), "{}", run.stdout);
    let again = ok(&ws, &["--json", "smtp", "resume", "gmail"]).await.json();
    assert_eq!(again["resumed"], false, "already resumed: {again}");
    let shown = ok(&ws, &["--json", "smtp", "show", "gmail"]).await.json();
    assert_eq!(shown["suspension"], serde_json::Value::Null, "{shown}");
    let plan = ok(&ws, &["--json", "plan", "2", "--smtp", "gmail", "--smtp", "backup"])
        .await
        .json();
    assert_eq!(
        shares(&plan),
        [("gmail".to_owned(), 3), ("backup".to_owned(), 0)],
        "{plan}"
    );

    // gmail sends again, first in the list.
    let run = cli(&ws, &["send", "2", "--smtp", "gmail", "--smtp", "backup"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!((gmail.received().len(), backup.received().len()), (5, 4));
    let exported = exported_accounts(&ws, "2").await;
    assert_eq!(exported.len(), 3);
    assert!(exported.values().all(|a| a == "gmail"), "{exported:?}");
}
