//! `mailroom send/resume/status/uncertain` as a person or a script runs them,
//! including `kill -9` in the middle of a campaign: after resume, everyone got
//! the mail, nobody confirmed before the kill got it twice, and only the
//! recipients in flight at the kill are uncertain.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mailroom_e2e::smtp_server::{Received, Script, ScriptedServer};
use mailroom_e2e::{Workspace, mailroom_async as cli, mailroom_binary, message_args};
use mailroom_engine::Store;
use mailroom_engine::campaign;
use mailroom_engine::model::{CampaignStatus, CampaignSummary};

const CONNECTIONS: usize = 4;

/// Adds account `name`: no TLS, no login, on 127.0.0.1:`port`, with
/// [`CONNECTIONS`] connections and 5 s timeouts.
async fn add_account(ws: &Arc<Workspace>, name: &str, port: u16) {
    let ws = ws.clone();
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || {
        let connections = CONNECTIONS.to_string();
        ws.add_local_account(
            &name,
            port,
            &[
                "--connections",
                &connections,
                "--per-connection",
                "1000",
                "--connect-timeout",
                "5",
                "--timeout",
                "5",
                "--data-timeout",
                "5",
            ],
        );
    })
    .await
    .expect("test step");
}

/// A workspace with campaign 1 of `n` recipients, its message, and account
/// "test" on `port` with [`CONNECTIONS`] connections.
async fn campaign(n: usize, port: u16) -> Arc<Workspace> {
    let ws = Arc::new(Workspace::new());
    let mut csv = String::from("email,name\n");
    for i in 0..n {
        csv.push_str(&format!("r{i:05}@example.org,Person {i}\n"));
    }
    let list = ws.file("list.csv", csv);
    let body = ws.file("body.txt", "Hello {{ name }}.\n");
    add_account(&ws, "test", port).await;
    for args in [
        vec!["import", list.to_str().expect("test step")],
        message_args("1", "For {{ name }}", &body),
    ] {
        let run = cli(&ws, &args).await;
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }
    ws
}

fn accepted(received: &[Received]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in received.iter().filter(|m| !m.reset) {
        for to in &message.rcpt_to {
            *counts.entry(to.clone()).or_default() += 1;
        }
    }
    counts
}

/// Recipients by state, from `mailroom recipients --json`.
async fn by_state(ws: &Arc<Workspace>) -> HashMap<String, HashSet<String>> {
    let run = cli(ws, &["--json", "recipients", "1"]).await;
    assert!(run.success(), "{}", run.stderr);
    let mut states: HashMap<String, HashSet<String>> = HashMap::new();
    for r in run.json().as_array().expect("test step") {
        states
            .entry(r["status"].as_str().expect("test step").to_owned())
            .or_default()
            .insert(r["email"].as_str().expect("test step").to_owned());
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_prints_json_progress_and_exits_zero_only_when_completed() {
    let server = ScriptedServer::start(Script::default()).await;
    let ws = campaign(25, server.port()).await;
    let run = cli(&ws, &["--json", "send", "1", "--smtp", "test"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert_eq!(events.first().expect("test step")["type"], "started");
    let last = events.last().expect("test step");
    assert_eq!(last["type"], "finished");
    assert_eq!(last["outcome"], "completed");
    assert_eq!(last["counts"]["sent"], 25);
    let sent_lines = events
        .iter()
        .filter(|e| e["type"] == "recipient" && e["status"] == "sent")
        .count();
    assert_eq!(sent_lines, 25);
    let status = cli(&ws, &["--json", "status", "1"]).await.json();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["account"], "test");
    assert_eq!(accepted(&server.received()).len(), 25);

    // A paused campaign exits 3: a wrong port makes the account unreachable.
    let ws = campaign(3, mailroom_e2e::smtp_server::refused_port().await).await;
    let run = cli(&ws, &["send", "1", "--smtp", "test", "--retry-base", "0.01"]).await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("Campaign paused"), "{}", run.stderr);
    let status = cli(&ws, &["--json", "status", "1"]).await.json();
    assert_eq!(status["status"], "paused");
    assert!(
        status["pause_reason"]["kind"] == "unreachable" && status["pause_reason"]["failure"]["problem"] == "refused",
        "{status}"
    );
}

/// Kills `mailroom send` with SIGKILL once the server has `kill_after`
/// messages, then resumes and checks the invariants.
async fn kill_and_resume(kill_after: usize, seed: u64) {
    let n = 400;
    let server = ScriptedServer::start(Script {
        // Slow enough that the kill lands mid-campaign; a few resets (seeded)
        // add retries to the picture.
        slow_replies: Some(Duration::from_millis(2)),
        reset_after_data: Some((0.02, seed)),
        ..Script::default()
    })
    .await;
    let ws = campaign(n, server.port()).await;

    let mut command = Command::new(mailroom_binary());
    command
        .arg("--db")
        .arg(ws.db())
        .args(["--json", "send", "1", "--smtp", "test", "--retry-base", "0.05"])
        .stdout(std::fs::File::create(ws.dir.path().join("send.out")).expect("test step"))
        .stderr(Stdio::null());
    ws.isolate(&mut command);
    let mut child = command.spawn().expect("test step");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while server.received().len() < kill_after {
        assert!(tokio::time::Instant::now() < deadline, "the campaign never got going");
        if let Ok(Some(status)) = child.try_wait() {
            let out = std::fs::read_to_string(ws.dir.path().join("send.out")).unwrap_or_default();
            let tail: Vec<&str> = out.lines().rev().take(5).collect();
            panic!("mailroom ended before the kill: {status}\n{tail:#?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    child.kill().expect("test step"); // SIGKILL
    child.wait().expect("test step");
    let listed = campaign_as_the_app_lists_it(&ws).await;
    assert_eq!(
        (listed.status, listed.sent_by, listed.interrupted),
        (CampaignStatus::Paused, None, true),
        "a killed run is not shown running, and is offered for resume: nobody holds it any more"
    );
    let status = cli(&ws, &["--json", "status", "1"]).await.json();
    assert_eq!(status["status"], "paused", "{status}");
    assert!(status["pause_reason"]["kind"] == "interrupted", "{status}");

    let at_kill = by_state(&ws).await;
    let confirmed = at_kill.get("sent").cloned().unwrap_or_default();
    let in_flight = at_kill.get("sending").cloned().unwrap_or_default();
    assert!(!confirmed.is_empty(), "some were confirmed before the kill");
    assert!(
        in_flight.len() <= CONNECTIONS,
        "at most one in flight per connection, found {}",
        in_flight.len()
    );
    // Invariant 3: whatever the killed process reported as sent was already
    // committed (events are emitted after the commit, never before).
    let printed = std::fs::read_to_string(ws.dir.path().join("send.out")).expect("test step");
    let reported_sent: Vec<String> = printed
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|e| e["type"] == "recipient" && e["status"] == "sent")
        .filter_map(|e| e["email"].as_str().map(str::to_owned))
        .collect();
    assert!(!reported_sent.is_empty(), "the run reported some sends before the kill");
    for email in &reported_sent {
        assert!(
            confirmed.contains(email),
            "{email} was reported sent but is not sent in the file"
        );
    }
    let received_at_kill = accepted(&server.received());
    for email in &confirmed {
        assert!(
            received_at_kill.contains_key(email),
            "{email} is sent in the file but the server has no copy"
        );
    }

    resume_until_nothing_but_uncertain_is_left(&ws).await;
    let after = by_state(&ws).await;
    let uncertain = after.get("uncertain").cloned().unwrap_or_default();
    // A reset after the content is ambiguous too: the server may have it.
    let reset: HashSet<String> = server
        .received()
        .into_iter()
        .filter(|m| m.reset)
        .flat_map(|m| m.rcpt_to)
        .collect();
    let expected: HashSet<String> = in_flight.union(&reset).cloned().collect();
    assert_eq!(
        uncertain, expected,
        "exactly the in-flight recipients and those reset after their content are uncertain"
    );

    let received = accepted(&server.received());
    for i in 0..n {
        let email = format!("r{i:05}@example.org");
        let copies = received.get(&email).copied().unwrap_or(0);
        if uncertain.contains(&email) {
            assert!(copies <= 1, "{email}: uncertain, yet {copies} copies");
        } else {
            assert_eq!(
                copies,
                1,
                "{email}: {copies} copies (confirmed before the kill: {})",
                confirmed.contains(&email)
            );
        }
    }

    // The person decides: resend the uncertain ones (again, should a resend
    // meet a reset too). Everyone has it now.
    for _ in 0..10 {
        if by_state(&ws).await.get("uncertain").is_none_or(HashSet::is_empty) {
            break;
        }
        let settle = cli(&ws, &["uncertain", "1", "--resend"]).await;
        assert!(settle.success(), "{}", settle.stderr);
        resume_until_nothing_but_uncertain_is_left(&ws).await;
    }
    let received = accepted(&server.received());
    assert_eq!(received.len(), n, "every recipient got the mail");
    let status = cli(&ws, &["--json", "status", "1"]).await.json();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["counts"]["sent"], n);
}

/// Resumes campaign 1 until nothing is left to send: it exits 0 when it
/// completes, 3 when it pauses (uncertain recipients wait for a decision,
/// or a few ambiguous sends in a row paused it).
async fn resume_until_nothing_but_uncertain_is_left(ws: &Arc<Workspace>) {
    for _ in 0..5 {
        let run = cli(ws, &["--json", "resume", "1", "--retry-base", "0.05"]).await;
        assert!(matches!(run.code, Some(0 | 3)), "resume: {}", run.stderr);
        let status = cli(ws, &["--json", "status", "1"]).await.json();
        let left = ["pending", "sending", "retry_wait"]
            .iter()
            .map(|state| status["counts"][state].as_u64().unwrap_or(0))
            .sum::<u64>();
        if left == 0 {
            let uncertain = status["counts"]["uncertain"].as_u64().unwrap_or(0);
            assert_eq!(run.code, Some(if uncertain > 0 { 3 } else { 0 }), "{status}");
            assert_eq!(
                status["status"],
                if uncertain > 0 { "paused" } else { "completed" },
                "{status}"
            );
            return;
        }
    }
    panic!("five resumes did not send everyone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_early_in_a_campaign_loses_nothing_and_resends_nothing_confirmed() {
    kill_and_resume(20, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_midway_through_a_campaign_loses_nothing_and_resends_nothing_confirmed() {
    kill_and_resume(150, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_late_in_a_campaign_loses_nothing_and_resends_nothing_confirmed() {
    kill_and_resume(330, 23).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_saved_copied_applied_where_their_fields_exist_and_removed() {
    let ws = campaign(2, 1).await;
    let other = ws.file("other.csv", "email,company\na@example.org,ACME\n");
    assert!(
        cli(&ws, &["import", other.to_str().expect("test step")])
            .await
            .success()
    );
    let same = ws.file("same.csv", "email,name\nb@example.org,Bo\n");
    assert!(cli(&ws, &["import", same.to_str().expect("test step")]).await.success());

    let saved = cli(&ws, &["template", "save", "welcome", "--campaign", "1"]).await;
    assert!(saved.success(), "{}", saved.stderr);
    assert!(cli(&ws, &["template", "copy", "welcome", "welcome-2"]).await.success());
    let list = cli(&ws, &["--json", "template", "list"]).await.json();
    let names: Vec<&str> = list
        .as_array()
        .expect("test step")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["welcome", "welcome-2"]);
    assert_eq!(list[0]["subject"], "For {{ name }}");

    // Campaign 2 has no "name" column: the template does not fit, and says why.
    let refused = cli(&ws, &["template", "apply", "welcome", "--campaign", "2"]).await;
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("no merge field \"name\""), "{}", refused.stderr);
    let applied = cli(&ws, &["template", "apply", "welcome-2", "--campaign", "3"]).await;
    assert!(applied.success(), "{}", applied.stderr);
    let preview = cli(&ws, &["--json", "preview", "3"]).await.json();
    assert_eq!(preview["message"]["subject"], "For Bo");

    assert!(cli(&ws, &["template", "remove", "welcome"]).await.success());
    let gone = cli(&ws, &["template", "remove", "welcome"]).await;
    assert_eq!(gone.code, Some(1));
    assert!(
        gone.stderr.contains("no message template named \"welcome\""),
        "{}",
        gone.stderr
    );
}

/// The app and the CLI share one database. While one process sends a
/// campaign, another may not send it too (both would claim its recipients),
/// nor send on its account (each would keep the account's rate to itself).
/// A campaign on another account goes ahead, and the account is free again
/// when the first run ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_and_its_account_send_from_one_process_at_a_time() {
    let slow = ScriptedServer::start(Script {
        slow_replies: Some(Duration::from_millis(20)),
        ..Script::default()
    })
    .await;
    let other = ScriptedServer::start(Script::default()).await;
    let ws = campaign(120, slow.port()).await;
    add_account(&ws, "other", other.port()).await;
    let second = ws.file("second.csv", "email,name\nsecond@example.org,Second\n");
    let body = ws.file("second.txt", "Hi {{ name }}.\n");
    for args in [
        vec!["import", second.to_str().expect("test step")],
        message_args("2", "Second", &body),
    ] {
        let run = cli(&ws, &args).await;
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }

    let mut command = Command::new(mailroom_binary());
    command
        .arg("--db")
        .arg(ws.db())
        .args(["send", "1", "--smtp", "test"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    ws.isolate(&mut command);
    let mut first = command.spawn().expect("test step");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while slow.received().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the first run never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let holder = format!("(process {})", first.id());
    // The app lists it as being sent by the CLI, so it does not offer to resume it.
    let listed = campaign_as_the_app_lists_it(&ws).await;
    assert_eq!((listed.status, listed.interrupted), (CampaignStatus::Running, false));
    let sent_by = listed.sent_by.expect("the CLI is named as its sender");
    assert!(
        sent_by.starts_with("mailroom ") && sent_by.contains(&holder),
        "{sent_by}"
    );

    let same_campaign = cli(&ws, &["send", "1", "--smtp", "test"]).await;
    assert!(!same_campaign.success(), "a second run of campaign 1 must be refused");
    assert!(
        same_campaign.stderr.contains("campaign \"list\" is being sent by") && same_campaign.stderr.contains(&holder),
        "{}",
        same_campaign.stderr
    );
    let same_account = cli(&ws, &["send", "2", "--smtp", "test"]).await;
    assert!(
        !same_account.success(),
        "campaign 2 on the busy account must be refused"
    );
    assert!(
        same_account.stderr.contains("the account \"test\" is being sent by") && same_account.stderr.contains(&holder),
        "{}",
        same_account.stderr
    );
    assert!(!same_account.stderr.contains("panicked"), "{}", same_account.stderr);
    let status = cli(&ws, &["--json", "status", "2"]).await.json();
    assert_eq!(
        status["counts"]["pending"], 1,
        "the refused run claimed nothing: {status}"
    );
    assert!(
        !slow
            .received()
            .iter()
            .any(|m| m.rcpt_to.iter().any(|to| to == "second@example.org")),
        "nothing of campaign 2 went to the busy account's server"
    );

    let elsewhere = cli(&ws, &["send", "2", "--smtp", "other"]).await;
    assert!(elsewhere.success(), "another account goes ahead: {}", elsewhere.stderr);
    assert_eq!(accepted(&other.received()).get("second@example.org"), Some(&1));

    let finished = tokio::task::spawn_blocking(move || first.wait())
        .await
        .expect("test step");
    assert!(
        finished.expect("test step").success(),
        "the first run completes undisturbed"
    );
    assert_eq!(accepted(&slow.received()).len(), 120);
    assert!(
        accepted(&slow.received()).values().all(|&copies| copies == 1),
        "nobody got campaign 1 twice"
    );
    // The account is free once the first run has ended.
    for args in [
        vec!["import", second.to_str().expect("test step")],
        message_args("3", "Third", &body),
        vec!["send", "3", "--smtp", "test"],
    ] {
        let run = cli(&ws, &args).await;
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }
    assert_eq!(accepted(&slow.received()).get("second@example.org"), Some(&1));
}

/// Campaign 1 as the app's campaign list has it.
async fn campaign_as_the_app_lists_it(ws: &Arc<Workspace>) -> CampaignSummary {
    let store = Store::open(&ws.db()).await.expect("test step");
    let campaigns = campaign::list(&store).await.expect("test step");
    store.close().await;
    campaigns.into_iter().find(|c| c.id == 1).expect("campaign 1")
}

/// A free loopback port (bound, then released).
async fn free_port() -> u16 {
    mailroom_e2e::smtp_server::refused_port().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_send_arrives_as_the_preview_showed_it() {
    let ws = Arc::new(Workspace::new());
    let list = ws.file(
        "list.csv",
        "email,name,公司\nli@example.org,李雷,晨光\nbo@example.org,Bo,\n",
    );
    let html = ws.file(
        "body.html",
        "<p>Dear {{ name }} of {{ 公司 | default(\"nowhere\") }} &amp; co</p>\n",
    );
    let port = free_port().await.to_string();
    for args in [
        vec!["import", list.to_str().expect("test step")],
        vec!["smtp", "remove", "Sandbox"],
        vec![
            "smtp",
            "add",
            "Sandbox",
            "--preset",
            "sandbox",
            "--port",
            &port,
            "--from-name",
            "王小明",
        ],
        vec![
            "message",
            "1",
            "--subject",
            "你好 {{ name }}",
            "--html",
            html.to_str().expect("test step"),
            "--unsubscribe-url",
            "https://example.org/u?e={{ email | urlencode }}",
        ],
    ] {
        let run = cli(&ws, &args).await;
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }
    let preview = cli(&ws, &["--json", "preview", "1", "--row", "2", "--smtp", "Sandbox"])
        .await
        .json();
    // Finding a recipient by part of the address, ignoring case.
    let found = cli(&ws, &["--json", "preview", "1", "--find", "BO@EXAMPLE"])
        .await
        .json();
    assert_eq!(
        (found["message"]["row"].as_u64(), &found["message"]["to"]),
        (Some(3), &"bo@example.org".into())
    );
    let nobody = cli(&ws, &["preview", "1", "--find", "%"]).await;
    assert_eq!(nobody.code, Some(1), "LIKE's wildcard is searched for as text");
    assert!(
        nobody.stderr.contains("no recipient whose address contains \"%\""),
        "{}",
        nobody.stderr
    );
    let sent = cli(
        &ws,
        &[
            "--json",
            "preview",
            "1",
            "--row",
            "2",
            "--smtp",
            "Sandbox",
            "--send-to",
            "me@example.net",
        ],
    )
    .await;
    assert!(sent.success(), "{}", sent.stderr);
    let captured = cli(&ws, &["--json", "captured", "1"]).await;
    assert!(captured.success(), "{}", captured.stderr);
    let captured = captured.json();

    // Parsed back by mail-parser (the sandbox's viewer): what the preview showed.
    assert_eq!(captured["subject"], preview["message"]["subject"]);
    assert_eq!(captured["subject"], "你好 李雷");
    // The wire has CRLF line ends; the preview shows the text as written.
    let unfold = |v: &serde_json::Value| v.as_str().map(|s| s.replace("\r\n", "\n"));
    assert_eq!(unfold(&captured["html"]), unfold(&preview["message"]["html"]));
    assert_eq!(
        captured["html"].as_str().map(str::trim),
        Some("<p>Dear 李雷 of 晨光 &amp; co</p>")
    );
    assert!(
        captured["text"]
            .as_str()
            .expect("test step")
            .contains("Dear 李雷 of 晨光 & co")
    );
    assert_eq!(captured["to"][0], "me@example.net");
    assert!(
        captured["from"].as_str().expect("test step").contains("王小明"),
        "{}",
        captured["from"]
    );
    let headers: HashMap<String, String> = captured["headers"]
        .as_array()
        .expect("test step")
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap_or("").to_ascii_lowercase(),
                h[1].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        headers.get("message-id").map(|m| m.trim().trim_matches(['<', '>'])),
        Some(
            preview["message"]["message_id"]
                .as_str()
                .expect("test step")
                .trim_matches(['<', '>'])
        )
    );
    assert!(
        headers["list-unsubscribe"].contains("https://example.org/u?e=me%40example.net"),
        "{headers:?}"
    );
    assert!(headers.contains_key("list-unsubscribe-post"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_failed_is_a_new_run_over_exactly_the_failed_recipients() {
    let rejected: HashSet<String> = ["r00003@example.org", "r00007@example.org"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    // Refused by policy, not "no such user" (which a resend leaves out
    // unless chosen: tests/results.rs).
    let first = ScriptedServer::start(Script {
        answer_recipients: rejected
            .iter()
            .map(|r| (r.clone(), (554, "5.7.1 Message refused by policy".to_owned())))
            .collect(),
        ..Script::default()
    })
    .await;
    let ws = campaign(10, first.port()).await;
    let run = cli(&ws, &["send", "1", "--smtp", "test"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(by_state(&ws).await.get("failed"), Some(&rejected));

    // The same campaign on another account, whose server takes everyone.
    let second = ScriptedServer::start(Script::default()).await;
    add_account(&ws, "second", second.port()).await;
    let run = cli(&ws, &["--json", "resend-failed", "1", "--smtp", "second"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert_eq!(lines[0]["requeued"], 2);
    let last = lines.last().expect("test step");
    assert_eq!(last["outcome"], "completed");
    assert_eq!(
        (last["counts"]["sent"].as_u64(), last["counts"]["failed"].as_u64()),
        (Some(10), Some(0))
    );

    let resent: HashSet<String> = accepted(&second.received()).into_keys().collect();
    assert_eq!(
        resent, rejected,
        "exactly the failed recipients, and nobody sent before"
    );
    assert_eq!(
        accepted(&first.received()).len(),
        8,
        "the first server got nothing more"
    );
    let recipients = cli(&ws, &["--json", "recipients", "1", "--status", "sent"])
        .await
        .json();
    let r3 = recipients
        .as_array()
        .and_then(|all| all.iter().find(|r| r["email"] == "r00003@example.org"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(r3["attempts"], 1, "a fresh budget of attempts for the new run");
    let reply = r3["reply"].as_str().unwrap_or_default();
    assert!(reply.starts_with("250 "), "the server's reply is kept: {r3}");

    let again = cli(&ws, &["resend-failed", "1"]).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stdout.contains("No failed recipients"), "{}", again.stdout);
}

/// Starts `mailroom send 1 --smtp test` in the background and returns it
/// once `server` has received a first message.
async fn send_in_background(ws: &Arc<Workspace>, server: &ScriptedServer) -> std::process::Child {
    let mut command = Command::new(mailroom_binary());
    command
        .arg("--db")
        .arg(ws.db())
        .args(["send", "1", "--smtp", "test"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    ws.isolate(&mut command);
    let child = command.spawn().expect("test step");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while server.received().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the run never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child
}

/// While another process sends a campaign, its account cannot be deleted
/// and its message cannot change, each with the reason and what to do; the
/// run goes on undisturbed. (Deleting the account used to kill the run with
/// "FOREIGN KEY constraint failed", exit 1, recipients left `sending`.)
/// Once it is over, the account may go and the campaign keeps its results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sending_campaigns_account_and_message_are_refused_changes_until_it_is_done() {
    let server = ScriptedServer::start(Script {
        slow_replies: Some(Duration::from_millis(10)),
        ..Script::default()
    })
    .await;
    let ws = campaign(150, server.port()).await;
    let first = send_in_background(&ws, &server).await;
    let holder = format!("(process {})", first.id());

    let removed = cli(&ws, &["smtp", "remove", "test"]).await;
    assert_eq!(removed.code, Some(1), "{}", removed.stderr);
    assert!(
        removed
            .stderr
            .contains("the account \"test\" is sending a campaign now")
            && removed.stderr.contains(&holder)
            && removed.stderr.contains("pause the campaign first"),
        "{}",
        removed.stderr
    );
    let body = ws.file("changed.txt", "Changed {{ name }}.\n");
    let changed = cli(&ws, &message_args("1", "Changed", &body)).await;
    assert_eq!(changed.code, Some(1), "{}", changed.stderr);
    assert!(
        changed.stderr.contains("pause it first, then change its message") && changed.stderr.contains(&holder),
        "{}",
        changed.stderr
    );

    let finished = tokio::task::spawn_blocking(move || first.wait_with_output())
        .await
        .expect("test step")
        .expect("test step");
    assert_eq!(
        finished.status.code(),
        Some(0),
        "the run completes undisturbed: {}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let received = accepted(&server.received());
    assert_eq!(received.len(), 150);
    assert!(received.values().all(|&copies| copies == 1));
    assert!(
        server
            .received()
            .iter()
            .all(|m| !String::from_utf8_lossy(&m.data).contains("Subject: Changed")),
        "every recipient got the message the run started with"
    );

    let removed = cli(&ws, &["smtp", "remove", "test"]).await;
    assert!(removed.success(), "{}", removed.stderr);
    let status = cli(&ws, &["--json", "status", "1"]).await.json();
    assert_eq!(
        (status["status"].as_str(), status["counts"]["sent"].as_u64()),
        (Some("completed"), Some(150))
    );
    let recipients = cli(&ws, &["--json", "recipients", "1", "--limit", "1"]).await.json();
    assert_eq!(recipients[0]["message_version"], 1, "{recipients}");
}

/// `smtp add` and `smtp edit` set the at-least-once choice for sends that
/// got no answer after their content; `smtp show` says which it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_at_least_once_choice_is_an_account_setting_of_add_and_edit() {
    let ws = Arc::new(Workspace::new());
    let port = free_port().await;
    let ws2 = ws.clone();
    tokio::task::spawn_blocking(move || ws2.add_local_account("mta", port, &["--retry-ambiguous"]))
        .await
        .expect("test step");
    let shown = cli(&ws, &["--json", "smtp", "show", "mta"]).await.json();
    assert_eq!(shown["retry_ambiguous"], true, "{shown}");
    let human = cli(&ws, &["smtp", "show", "mta"]).await;
    assert!(human.stdout.contains("may arrive twice"), "{}", human.stdout);

    let edited = cli(
        &ws,
        &[
            "--json",
            "smtp",
            "edit",
            "mta",
            "--retry-ambiguous=false",
            "--data-timeout",
            "300",
        ],
    )
    .await;
    assert!(edited.success(), "{}", edited.stderr);
    let edited = edited.json();
    assert_eq!(
        (edited["retry_ambiguous"].as_bool(), edited["data_timeout_ms"].as_u64()),
        (Some(false), Some(300_000))
    );
    assert_eq!(edited["port"], port, "what was not given stays");
    let default = cli(&ws, &["--json", "smtp", "show", "Sandbox"]).await.json();
    assert_eq!(default["retry_ambiguous"], false, "off unless chosen");
}

/// A disk that fills mid-send: SQLite answers "disk full" (here a file size
/// limit, RLIMIT_FSIZE, on the sending process: a real refusal to grow the
/// database's log, needing no root). The campaign pauses with "disk full:
/// free space, then resume", `send` exits 3 like any pause, and `status`
/// says paused, not running. With room again, resume sends the rest:
/// nobody lost, nobody twice. (It used to exit 1 with an internal database
/// error, leaving the campaign `running`.)
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_the_campaign_and_resume_loses_nobody_and_sends_nobody_twice() {
    let n = 400;
    let server = ScriptedServer::start(Script {
        slow_replies: Some(Duration::from_millis(1)),
        ..Script::default()
    })
    .await;
    let ws = campaign(n, server.port()).await;
    let db_size = std::fs::metadata(ws.db()).expect("test step").len();
    // Room for the database as it is and a log (WAL) of some 40 frames
    // (24 + 4096 bytes each, after a 32-byte header), the limit falling
    // inside a frame: the write that crosses it is cut short, which SQLite
    // reports as SQLITE_FULL, as on a full disk.
    let frames = db_size.div_ceil(4120) + 40;
    let limit = 32 + frames * 4120 + 2_000;
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--fsize={limit}"))
        .arg(mailroom_binary())
        .arg("--db")
        .arg(ws.db())
        .args(["send", "1", "--smtp", "test"]);
    ws.isolate(&mut command);
    let run: mailroom_e2e::Run = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("test step")
        .expect("prlimit (util-linux) runs")
        .into();
    assert_eq!(run.code, Some(3), "paused, not failed: {}", run.stderr);
    assert!(
        run.stderr.contains("disk full:") && run.stderr.contains("free space, then resume"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("internal error"), "{}", run.stderr);

    let status = cli(&ws, &["--json", "status", "1"]).await.json();
    assert_eq!(status["status"], "paused", "{status}");
    assert!(status["pause_reason"]["kind"] == "disk_full", "{status}");
    let sent = status["counts"]["sent"].as_u64().unwrap_or(0);
    assert!(sent > 0 && sent < n as u64, "the disk filled mid-send: {status}");
    // Whatever the server has, the file knows of: sent (or uncertain, for
    // a person to decide), never pending, so a resume cannot send it again.
    let states = by_state(&ws).await;
    let known = |email: &String| {
        ["sent", "uncertain"]
            .iter()
            .any(|state| states.get(*state).is_some_and(|s| s.contains(email)))
    };
    for email in accepted(&server.received()).keys() {
        assert!(known(email), "the server has {email}; the file does not say so");
    }
    assert!(states.get("sending").is_none_or(HashSet::is_empty), "{states:?}");

    // Room again: resume sends the rest.
    resume_until_nothing_but_uncertain_is_left(&ws).await;
    let received = accepted(&server.received());
    assert_eq!(received.len(), n, "nobody lost");
    assert!(received.values().all(|&copies| copies == 1), "nobody twice");
    let status = cli(&ws, &["--json", "status", "1"]).await.json();
    assert_eq!(status["status"], "completed", "{status}");
}
