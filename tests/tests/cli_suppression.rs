//! `mailroom suppression list|add|remove|import|export` and `mailroom
//! campaign delete` as a person or a script runs them: the list round-trips
//! through its export, an address suppressed after the import is never sent
//! to (and says why), and a deleted campaign leaves nothing behind.

use std::collections::HashSet;
use std::sync::Arc;

use mailroom_e2e::smtp_server::{Script, ScriptedServer};
use mailroom_e2e::{Workspace, mailroom_async as cli, message_args};

/// (email, reason, source kind) of every entry, from `suppression list --json`.
async fn listed(ws: &Arc<Workspace>) -> Vec<(String, String, String)> {
    let run = cli(ws, &["--json", "suppression", "list"]).await;
    assert!(run.success(), "{}", run.stderr);
    let mut all: Vec<(String, String, String)> = run.json()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|s| {
            (
                s["email"].as_str().unwrap_or_default().to_owned(),
                s["reason"].as_str().unwrap_or_default().to_owned(),
                s["source"]["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_is_managed_and_round_trips_through_csv_and_xlsx() {
    let ws = Arc::new(Workspace::new());
    for args in [
        vec![
            "suppression",
            "add",
            "Ann@Example.com",
            "--reason",
            "asked by phone, twice",
        ],
        vec!["suppression", "add", "li.lei@example.cn", "--reason", "退订"],
        vec!["suppression", "add", "zoe@example.fr"],
    ] {
        let run = cli(&ws, &args).await;
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }
    let again = cli(&ws, &["suppression", "add", "ann@example.com"]).await;
    assert!(
        again.stdout.contains("was already on the suppression list"),
        "{}",
        again.stdout
    );
    let bad = cli(&ws, &["--json", "suppression", "add", "not-an-address"]).await;
    assert!(!bad.success());
    assert!(bad.stderr.contains("\"kind\":\"not_an_address\""), "{}", bad.stderr);

    let search = cli(&ws, &["--json", "suppression", "list", "--search", "PHONE"])
        .await
        .json();
    assert_eq!(search["total"], 1);
    assert_eq!(search["entries"][0]["email"], "ann@example.com");
    assert_eq!(search["entries"][0]["source"]["kind"], "manual");

    let original = listed(&ws).await;
    assert_eq!(original.len(), 3);
    for name in ["list.csv", "list.xlsx"] {
        let file = ws.file(name, "");
        std::fs::remove_file(&file).expect("test step");
        let path = file.to_str().expect("test step");
        let export = cli(&ws, &["--json", "suppression", "export", "-o", path]).await;
        assert!(export.success(), "{}", export.stderr);
        assert_eq!(export.json()["written"], 3);

        let copy = Arc::new(Workspace::new());
        let check = cli(&copy, &["--json", "suppression", "import", path, "--dry-run"]).await;
        assert!(check.success(), "{}", check.stderr);
        assert_eq!(
            (check.json()["added"].as_u64(), check.json()["saved"].as_bool()),
            (Some(3), Some(false))
        );
        assert_eq!(listed(&copy).await, vec![], "a dry run adds nothing");
        let import = cli(&copy, &["--json", "suppression", "import", path]).await;
        assert!(import.success(), "{}", import.stderr);
        let copied: Vec<(String, String)> = listed(&copy).await.into_iter().map(|(e, r, _)| (e, r)).collect();
        let wanted: Vec<(String, String)> = original.iter().map(|(e, r, _)| (e.clone(), r.clone())).collect();
        assert_eq!(copied, wanted, "{name}");
        assert!(listed(&copy).await.iter().all(|(_, _, kind)| kind == "imported"));
    }

    let remove = cli(&ws, &["suppression", "remove", "ZOE@example.fr"]).await;
    assert!(remove.success(), "{}", remove.stderr);
    let missing = cli(&ws, &["--json", "suppression", "remove", "zoe@example.fr"]).await;
    assert!(
        missing.stderr.contains("\"kind\":\"not_suppressed\""),
        "{}",
        missing.stderr
    );
    assert_eq!(listed(&ws).await.len(), 2);
}

/// Suppressed before the import: skipped at import; suppressed after it:
/// skipped when the run begins; neither reaches the server, each with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppressed_address_is_skipped_at_import_and_at_send_with_its_reason() {
    let server = ScriptedServer::start(Script::default()).await;
    let ws = Arc::new(Workspace::new());
    ws.add_local_account("test", server.port(), &[]);
    let run = cli(
        &ws,
        &[
            "suppression",
            "add",
            "before@example.org",
            "--reason",
            "unsubscribed in 2025",
        ],
    )
    .await;
    assert!(run.success(), "{}", run.stderr);
    let list = ws.file(
        "list.csv",
        "email,name\nann@example.org,Ann\nbefore@example.org,Bea\nAfter@Example.org,Al\nzoe@example.org,Zoe\n",
    );
    let body = ws.file("body.txt", "Hello {{ name }}.\n");
    let import = cli(&ws, &["--json", "import", list.to_str().expect("test step")]).await;
    assert!(import.success(), "{}", import.stderr);
    assert_eq!(import.json()["suppressed"][0]["reason"], "unsubscribed in 2025");
    let run = cli(&ws, &message_args("1", "Hi", &body)).await;
    assert!(run.success(), "{}", run.stderr);
    let run = cli(
        &ws,
        &["suppression", "add", "after@example.org", "--reason", "asked by phone"],
    )
    .await;
    assert!(run.success(), "{}", run.stderr);

    let send = cli(&ws, &["send", "1", "--smtp", "test"]).await;
    assert_eq!(send.code, Some(0), "{}", send.stderr);
    let received: HashSet<String> = server
        .received()
        .iter()
        .filter(|m| !m.reset)
        .flat_map(|m| m.rcpt_to.clone())
        .collect();
    assert_eq!(
        received,
        HashSet::from(["ann@example.org".to_owned(), "zoe@example.org".to_owned()])
    );
    let skipped = cli(&ws, &["recipients", "1", "--status", "skipped"]).await;
    assert!(skipped.success(), "{}", skipped.stderr);
    assert!(
        skipped.stdout.contains("on the suppression list: unsubscribed in 2025"),
        "{}",
        skipped.stdout
    );
    assert!(
        skipped.stdout.contains("on the suppression list: asked by phone"),
        "{}",
        skipped.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_delete_asks_for_yes_and_leaves_no_rows() {
    let server = ScriptedServer::start(Script {
        reject_recipients: HashSet::from(["gone@example.org".to_owned()]),
        ..Script::default()
    })
    .await;
    let ws = Arc::new(Workspace::new());
    ws.add_local_account("test", server.port(), &[]);
    let list = ws.file("list.csv", "email\nann@example.org\ngone@example.org\n");
    let body = ws.file("body.txt", "Hello.\n");
    for args in [
        vec!["import", list.to_str().expect("test step"), "--name", "spring"],
        vec!["import", list.to_str().expect("test step"), "--name", "kept"],
        message_args("spring", "Hi", &body),
    ] {
        let run = cli(&ws, &args).await;
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }
    let send = cli(&ws, &["send", "spring", "--smtp", "test"]).await;
    assert_eq!(send.code, Some(0), "{}", send.stderr);

    // Not at a terminal and no --yes: nothing is deleted.
    let refused = cli(&ws, &["campaign", "delete", "spring"]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("add --yes"), "{}", refused.stderr);
    assert!(cli(&ws, &["status", "spring"]).await.success());

    let deleted = cli(&ws, &["--json", "campaign", "delete", "spring", "--yes"]).await;
    assert!(deleted.success(), "{}", deleted.stderr);
    assert_eq!(deleted.json()["name"], "spring");
    let gone = cli(&ws, &["--json", "status", "spring"]).await;
    assert!(
        gone.stderr.contains("\"kind\":\"campaign_not_found\""),
        "{}",
        gone.stderr
    );
    let campaigns = cli(&ws, &["--json", "campaigns"]).await.json();
    let names: Vec<&str> = campaigns
        .as_array()
        .expect("campaigns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["kept"]);

    // Straight from the file: only the kept campaign's rows are left.
    let store = mailroom_engine::Store::open(&ws.db()).await.expect("open");
    let summary = mailroom_engine::campaign::list(&store).await.expect("list");
    assert_eq!(summary.len(), 1);
    let kept = summary[0].id;
    let recipients = store.recipients(kept, None, 0, 100).await.expect("recipients");
    assert_eq!(recipients.len(), 2);
    let diagnostics = cli(&ws, &["--json", "diagnostics"]).await;
    assert!(diagnostics.success(), "{}", diagnostics.stderr);
    // The 5.1.1 it suppressed stays suppressed.
    assert_eq!(listed(&ws).await.len(), 1);
    store.close().await;
}
