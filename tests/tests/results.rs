//! Results as a person uses them (issue 18), against the scripted server:
//! a recipient's history shows every attempt (454 → 421 → 250, each with
//! its account, stage, codes, words and duration); runs are recorded with
//! their kind, account, counts and end; Resend failed leaves out "no such
//! user" and suppressed addresses unless chosen, says so, and sends exactly
//! the chosen kinds; the CLI's `recipients`, `--history`, `runs` and
//! `resend-failed` say the same.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use mailroom_e2e::fixtures::{address, campaign_with_message, local_account};
use mailroom_e2e::smtp_server::{Script, ScriptedServer};
use mailroom_e2e::{Run, Workspace, mailroom_async as cli};
use mailroom_engine::Session;
use mailroom_engine::Store;
use mailroom_engine::campaign::{self, CampaignEvent, RunControl, RunOptions, RunOutcome};
use mailroom_engine::model::RecipientStatus;
use mailroom_engine::results::{
    AttemptResult, LeftOut, LeftOutWhy, ReasonClass, ReasonCount, RecipientQuery, ResendChoice, RunEnd, RunKind,
    StateFilter,
};
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::smtp::AccountSettings;
use mailroom_engine::smtp::manage::add_account;

struct Fixture {
    ws: Arc<Workspace>,
    store: Store,
    secrets: SecretStore,
    campaign: i64,
    _secrets_dir: tempfile::TempDir,
}

/// Campaign 1 of `n` recipients in the workspace's database, with a
/// message, and account "test" on `port` (no login) shaped by `account`.
async fn fixture(n: usize, port: u16, account: impl FnOnce(&mut AccountSettings)) -> Fixture {
    let ws = Arc::new(Workspace::new());
    let store = Store::open(&ws.db()).await.expect("test step");
    let secrets_dir = tempfile::tempdir().expect("test step");
    let secrets = SecretStore::EncryptedFile {
        dir: secrets_dir.path().to_owned(),
    };
    let mut csv = String::from("email,city\n");
    for i in 0..n {
        csv.push_str(&format!("{},City {i}\n", address(i)));
    }
    let campaign =
        campaign_with_message(&store, ws.dir.path(), "list", &csv, "Hello", "Hello from {{ city }}.\n").await;
    let mut settings = AccountSettings {
        connections: 2,
        per_connection: 50,
        retries: 5,
        ..local_account("test", port)
    };
    account(&mut settings);
    add_account(&store, &secrets, settings, None).await.expect("test step");
    Fixture {
        ws,
        store,
        secrets,
        campaign,
        _secrets_dir: secrets_dir,
    }
}

async fn run(fixture: &Fixture) -> campaign::RunReport {
    let options = RunOptions {
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(100),
        ..RunOptions::default()
    };
    let sink = Arc::new(|_: &CampaignEvent| {});
    tokio::time::timeout(
        Duration::from_secs(60),
        Session::with_secrets(fixture.store.clone(), fixture.secrets.clone()).send(
            fixture.campaign,
            &["test"],
            options,
            RunControl::default(),
            sink,
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("the campaign hung"))
    .expect("run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_every_attempt_of_a_recipient_retried_through_454_421_and_250() {
    let retried = address(1);
    let server = ScriptedServer::start(Script {
        rcpt_sequence: HashMap::from([(
            retried.clone(),
            vec![
                (
                    454,
                    "4.7.0 Throttling failure: Maximum sending rate exceeded.".to_owned(),
                ),
                (421, "4.3.2 Service shutting down, try again later".to_owned()),
            ],
        )]),
        ..Script::default()
    })
    .await;
    let fixture = fixture(3, server.port(), |_| {}).await;
    let report = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert_eq!(report.counts.sent, 3);

    let row = fixture
        .store
        .row_of_address(fixture.campaign, &retried.to_uppercase())
        .await
        .expect("row")
        .expect("found, ignoring case");
    let history = fixture
        .store
        .recipient_history(fixture.campaign, row)
        .await
        .expect("history");
    assert_eq!(history.recipient.status, RecipientStatus::Sent);
    let steps: Vec<(AttemptResult, &str, Option<u16>, Option<&str>)> = history
        .attempts
        .iter()
        .map(|a| (a.result, a.stage.as_str(), a.code, a.enhanced_code.as_deref()))
        .collect();
    assert_eq!(
        steps,
        [
            (AttemptResult::Transient, "rcpt", Some(454), Some("4.7.0")),
            (AttemptResult::Transient, "rcpt", Some(421), Some("4.3.2")),
            (AttemptResult::Sent, "data", Some(250), Some("2.0.0")),
        ]
    );
    assert!(
        history.attempts[0]
            .text
            .as_deref()
            .is_some_and(|t| t.contains("Throttling failure"))
    );
    assert!(
        history.attempts[1]
            .text
            .as_deref()
            .is_some_and(|t| t.contains("shutting down"))
    );
    // The send's own line is the server's reply, verbatim.
    assert!(
        history.attempts[2]
            .text
            .as_deref()
            .is_some_and(|t| t.starts_with("250"))
    );
    for attempt in &history.attempts {
        assert_eq!(attempt.account.as_deref(), Some("test"), "{attempt:?}");
        assert!(attempt.duration_ms.is_some_and(|ms| ms >= 0), "{attempt:?}");
        assert!(attempt.run.is_some(), "{attempt:?}");
    }
    assert!(
        history.attempts.windows(2).all(|w| w[0].started_at <= w[1].started_at),
        "oldest first"
    );

    // The run: the first, on "test", completed, with what it did.
    let runs = fixture.store.runs(fixture.campaign).await.expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (runs[0].kind, runs[0].end, runs[0].account.as_str()),
        (RunKind::First, Some(RunEnd::Completed), "test")
    );
    assert!(runs[0].ended_at.is_some_and(|end| end >= runs[0].started_at));
    assert_eq!(runs[0].outcome_counts.as_ref().map(|c| c.sent), Some(3));

    // The CLI says the same.
    let out = cli(&fixture.ws, &["--json", "recipients", "1", "--history", &retried]).await;
    assert!(out.success(), "{}", out.stderr);
    let codes: Vec<u64> = out.json()["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["code"].as_u64().expect("code"))
        .collect();
    assert_eq!(codes, [454, 421, 250]);
    let out = cli(&fixture.ws, &["recipients", "1", "--history", &retried]).await;
    assert!(
        out.stdout.contains("454 4.7.0") && out.stdout.contains("via test"),
        "{}",
        out.stdout
    );
    let out = cli(&fixture.ws, &["runs", "1"]).await;
    assert!(out.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("(first) on test") && out.stdout.contains("3 sent"),
        "{}",
        out.stdout
    );
}

/// 12 recipients: 0–2 "550 5.1.1 user unknown", 3–4 "554 5.7.1" (refused,
/// not "no such user"; 4 then joins the suppression list), 5–6 "450 4.2.0"
/// until the one retry is used up, the rest sent.
async fn campaign_with_failures() -> (Fixture, ScriptedServer) {
    let server = ScriptedServer::start(Script {
        reject_recipients: (0..3).map(address).collect(),
        answer_recipients: (3..5)
            .map(|i| (address(i), (554, "5.7.1 Message refused by policy".to_owned())))
            .chain((5..7).map(|i| (address(i), (450, "4.2.0 Mailbox busy".to_owned()))))
            .collect(),
        ..Script::default()
    })
    .await;
    let fixture = fixture(12, server.port(), |a| a.retries = 1).await;
    let report = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert_eq!((report.counts.sent, report.counts.failed), (5, 7));
    // Suppressed after it failed (suppressed before, the run would have
    // skipped it): a resend must still leave it out.
    fixture
        .store
        .suppress(&address(4), "added by hand")
        .await
        .expect("suppress");
    (fixture, server)
}

fn emails_in(run: &Run) -> HashSet<String> {
    run.json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["email"].as_str().expect("email").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_failed_leaves_out_no_such_user_and_suppressed_by_default_and_sends_exactly_the_chosen() {
    let (fixture, _server) = campaign_with_failures().await;
    let store = &fixture.store;
    let id = fixture.campaign;

    // The table's filters see the kinds of failure.
    let facets = store
        .recipient_facets(id, Some(StateFilter::Failed))
        .await
        .expect("facets");
    let mut reasons = facets.reasons.clone();
    reasons.sort_by_key(|r| r.reason.as_str());
    assert_eq!(
        reasons,
        [
            ReasonCount {
                reason: ReasonClass::GaveUp,
                count: 2
            },
            ReasonCount {
                reason: ReasonClass::NoSuchUser,
                count: 3
            },
            ReasonCount {
                reason: ReasonClass::Smtp,
                count: 2
            },
        ]
    );
    let no_such_user = cli(
        &fixture.ws,
        &[
            "--json",
            "recipients",
            "1",
            "--state",
            "failed",
            "--reason",
            "no_such_user",
        ],
    )
    .await;
    assert!(no_such_user.success(), "{}", no_such_user.stderr);
    assert_eq!(emails_in(&no_such_user), (0..3).map(address).collect());

    // The default: 2 gave up + 1 refused (the other refused one is
    // suppressed); left out: the 3 unknown users and the suppressed one.
    let dry = cli(&fixture.ws, &["--json", "resend-failed", "1", "--dry-run"]).await;
    assert!(dry.success(), "{}", dry.stderr);
    let plan = &dry.json()["plan"];
    assert_eq!(plan["to_send"], 3, "{plan}");
    let human = cli(&fixture.ws, &["resend-failed", "1", "--dry-run"]).await;
    assert!(
        human
            .stdout
            .contains("Would send 3 recipients again; left out: 3 no such user")
            && human.stdout.contains("1 on the suppression list"),
        "{}",
        human.stdout
    );
    let planned = store.resend_plan(id, &ResendChoice::default()).await.expect("plan");
    assert_eq!(
        planned.left_out,
        [
            LeftOut {
                why: LeftOutWhy::Reason(ReasonClass::NoSuchUser),
                count: 3
            },
            LeftOut {
                why: LeftOutWhy::Suppressed,
                count: 1
            },
        ]
    );
    // Nothing changed by looking.
    assert_eq!(store.status_counts(id).await.expect("counts").failed, 7);

    // Exactly the chosen kinds: only those that gave up.
    let only_gave_up = ResendChoice {
        reasons: Some(vec![ReasonClass::GaveUp]),
        ..ResendChoice::default()
    };
    let plan = store.resend_plan(id, &only_gave_up).await.expect("plan");
    assert_eq!(plan.to_send, 2);
    assert_eq!(
        plan.left_out,
        [
            LeftOut {
                why: LeftOutWhy::Reason(ReasonClass::NoSuchUser),
                count: 3
            },
            LeftOut {
                why: LeftOutWhy::Reason(ReasonClass::Smtp),
                count: 2
            },
        ]
    );
    // "No such user" chosen, and the suppression list too: those 3 (whom
    // their 5.1.1 put on the list) go.
    let unknown_too = ResendChoice {
        reasons: Some(vec![ReasonClass::NoSuchUser]),
        include_suppressed: true,
        ..ResendChoice::default()
    };
    assert_eq!(store.resend_plan(id, &unknown_too).await.expect("plan").to_send, 3);
    // Chosen without the suppression list, they are still left out, as suppressed.
    let unknown_only = ResendChoice {
        reasons: Some(vec![ReasonClass::NoSuchUser]),
        ..ResendChoice::default()
    };
    let plan = store.resend_plan(id, &unknown_only).await.expect("plan");
    assert_eq!(plan.to_send, 0);
    assert!(
        plan.left_out.contains(&LeftOut {
            why: LeftOutWhy::Suppressed,
            count: 3
        }),
        "{plan:?}"
    );

    // The real thing, by default, from the CLI: a new run over exactly those 3.
    let resend = cli(&fixture.ws, &["resend-failed", "1", "--retry-base", "0.02"]).await;
    assert!(
        resend
            .stdout
            .contains("Sending 3 recipients again; left out: 3 no such user"),
        "{}",
        resend.stdout
    );
    let failed = cli(&fixture.ws, &["--json", "recipients", "1", "--state", "failed"]).await;
    assert_eq!(
        emails_in(&failed),
        (0..7).map(address).collect::<HashSet<_>>(),
        "the three resent failed again (the server still refuses them); the others were not touched"
    );
    for i in 0..3 {
        let history = cli(&fixture.ws, &["--json", "recipients", "1", "--history", &address(i)]).await;
        assert_eq!(
            history.json()["attempts"].as_array().expect("attempts").len(),
            1,
            "{} (no such user) was not sent again",
            address(i)
        );
    }
    let history = cli(&fixture.ws, &["--json", "recipients", "1", "--history", &address(4)]).await;
    assert_eq!(
        history.json()["attempts"].as_array().expect("attempts").len(),
        1,
        "suppressed: not sent again"
    );
    let history = cli(&fixture.ws, &["--json", "recipients", "1", "--history", &address(3)]).await;
    assert_eq!(
        history.json()["attempts"].as_array().expect("attempts").len(),
        2,
        "refused: sent again"
    );

    let runs = store.runs(id).await.expect("runs");
    assert_eq!(
        runs.iter().map(|r| r.kind).collect::<Vec<_>>(),
        [RunKind::First, RunKind::ResendFailed]
    );
    let resent = runs[1].resend.as_ref().expect("the resend's plan is kept with its run");
    assert_eq!(resent.to_send, 3);
    assert_eq!(resent.left_out_total(), 4);
    assert_eq!(runs[1].outcome_counts.as_ref().map(|c| c.failed), Some(3));

    // Pages by cursor, forward and back, agree with the whole list.
    let mut seen = Vec::new();
    let mut query = RecipientQuery {
        limit: Some(5),
        ..RecipientQuery::default()
    };
    loop {
        let page = store.recipient_page(id, &query).await.expect("page");
        seen.extend(page.recipients.iter().map(|r| r.row));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (2..14).collect::<Vec<u64>>());
    let last = store
        .recipient_page(
            id,
            &RecipientQuery {
                after: Some(11),
                limit: Some(5),
                ..RecipientQuery::default()
            },
        )
        .await
        .expect("page");
    let back = store
        .recipient_page(
            id,
            &RecipientQuery {
                before: last.previous,
                limit: Some(5),
                ..RecipientQuery::default()
            },
        )
        .await
        .expect("page");
    assert!(
        back.recipients.iter().all(|r| r.row < last.recipients[0].row),
        "{back:?}"
    );
    // Search by an imported column.
    let found = cli(&fixture.ws, &["--json", "recipients", "1", "--search", "city 11"]).await;
    assert_eq!(emails_in(&found), HashSet::from([address(11)]));
}
