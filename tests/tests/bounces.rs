//! Bounces end to end, with real servers from Debian's packages
//! (`mailroom_e2e::mailserver`): Dovecot holds the sender's mailbox; Postfix
//! takes a campaign from Mailroom, refuses unknown users at its final hop and
//! sends its RFC 3464 notices to that mailbox; the corpus of other servers'
//! notices (crates/engine/testdata/bounces) is delivered into it by LMTP.
//! Everything goes through the real `mailroom` CLI.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mailroom_e2e::Workspace;
use mailroom_e2e::mailserver::{Dovecot, Postfix};
use serde_json::{Value, json};

const SENDER: &str = "sender@mailroom.test";
const PASSWORD: &str = "mailbox-Secret-42";

fn run_ok(ws: &Workspace, args: &[&str]) -> Value {
    let run = ws.mailroom(args);
    assert!(run.success(), "{args:?} failed: {}\n{}", run.stderr, run.stdout);
    run.json()
}

/// Adds the SMTP account `relay` sending as SENDER to 127.0.0.1:`port`.
fn add_relay(ws: &Workspace, port: u16) {
    let port = port.to_string();
    run_ok(
        ws,
        &[
            "--json",
            "smtp",
            "add",
            "relay",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--security",
            "none",
            "--auth",
            "none",
            "--from",
            SENDER,
            "--connections",
            "4",
        ],
    );
}

/// Adds `relay`'s mailbox on Dovecot (`security` tls on IMAPS, or starttls).
fn add_mailbox(ws: &Workspace, dovecot: &Dovecot, security: &str, port: u16, extra: &[&str]) -> Value {
    let port = port.to_string();
    let mut args = vec![
        "--json",
        "mailbox",
        "add",
        "relay",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--security",
        security,
        "--accept-invalid-certs",
        "--user",
        &dovecot.user,
        "--password-stdin",
    ];
    if !extra.contains(&"--timeout") {
        args.extend_from_slice(&["--timeout", "10"]);
    }
    args.extend_from_slice(extra);
    let run = ws.mailroom_with_stdin(&args, &dovecot.password);
    assert!(run.success(), "mailbox add: {}", run.stderr);
    run.json()
}

fn scan(ws: &Workspace) -> Value {
    let reports = run_ok(ws, &["--json", "bounces", "scan", "--account", "relay"]);
    reports[0].clone()
}

fn emails(recipients: &Value) -> BTreeSet<String> {
    recipients
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["email"].as_str().expect("email").to_owned())
        .collect()
}

/// The "done when": 200 recipients through a real Postfix, 20 of
/// whom do not exist at the final hop; the scan finds exactly those 20 as
/// hard bounces, suppresses them, leaves 180 sent; a rescan changes nothing;
/// an unsubscribe reply suppresses its sender.
#[test]
fn postfix_notices_bounce_exactly_the_unknown_recipients() {
    let dovecot = Dovecot::start(SENDER, PASSWORD);
    let addresses: Vec<String> = (1..=200).map(|i| format!("user{i:03}@example.test")).collect();
    let unknown: BTreeSet<String> = addresses.iter().step_by(10).cloned().collect();
    let known: Vec<String> = addresses.iter().filter(|a| !unknown.contains(*a)).cloned().collect();
    assert_eq!((unknown.len(), known.len()), (20, 180));
    let postfix = Postfix::start(&known, "mailroom.test", &dovecot);

    let ws = Workspace::new();
    let mut csv = String::from("email,name\n");
    for (i, address) in addresses.iter().enumerate() {
        csv.push_str(&format!("{address},Person {i}\n"));
    }
    let list = ws.file("list.csv", &csv);
    let body = ws.file("body.txt", "Hello {{ name }}, spring is here.\n");
    run_ok(
        &ws,
        &["--json", "import", list.to_str().expect("path"), "--name", "spring"],
    );
    add_relay(&ws, postfix.port);
    run_ok(
        &ws,
        &[
            "--json",
            "message",
            "spring",
            "--subject",
            "Spring",
            "--text",
            body.to_str().expect("path"),
        ],
    );
    let sent = ws.mailroom(&["send", "spring", "--smtp", "relay"]);
    assert!(sent.success(), "send: {}\n{}", sent.stderr, sent.stdout);
    let status = run_ok(&ws, &["--json", "status", "spring"]);
    assert_eq!(status["counts"]["sent"], 200, "Postfix accepted everyone: {status}");

    // Postfix relays, the final hop refuses 20, Postfix writes 20 notices.
    dovecot.wait_for_messages(20, Duration::from_secs(120));

    let mailbox = add_mailbox(&ws, &dovecot, "tls", dovecot.imaps_port, &[]);
    assert_eq!(mailbox["has_password"], true);
    let test = run_ok(&ws, &["--json", "mailbox", "test", "relay"]);
    assert_eq!(test["ok"], true, "{test}");
    let stages: Vec<&str> = test["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["stage"].as_str().expect("stage"))
        .collect();
    assert_eq!(stages, ["dns", "connect", "tls", "greeting", "login", "select"]);

    let first = scan(&ws);
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["messages"], 20);
    assert_eq!(first["notices"], 20);
    assert_eq!((first["hard"].as_u64(), first["soft"].as_u64()), (Some(20), Some(0)));
    assert_eq!(first["unmatched"], 0);
    let suppressed: BTreeSet<String> = first["suppressed"]
        .as_array()
        .expect("suppressed")
        .iter()
        .map(|s| s["email"].as_str().expect("email").to_owned())
        .collect();
    assert_eq!(suppressed, unknown);

    let status = run_ok(&ws, &["--json", "status", "spring"]);
    assert_eq!(
        (status["counts"]["sent"].as_u64(), status["counts"]["bounced"].as_u64()),
        (Some(180), Some(20))
    );
    let bounced = run_ok(&ws, &["--json", "recipients", "spring", "--status", "bounced"]);
    assert_eq!(emails(&bounced), unknown);
    for r in bounced.as_array().expect("list") {
        assert_eq!(r["status"], "bounced");
        assert_eq!(r["bounce"], "hard");
        // The reason is data: the bounce, its code, the server's words.
        let reason = &r["reason"];
        assert_eq!(
            (
                &reason["kind"],
                &reason["bounce"],
                &reason["status"],
                &reason["reporting_mta"]
            ),
            (
                &json!("bounced"),
                &json!("hard"),
                &json!("5.1.1"),
                &json!("mx.relay.test")
            ),
            "{reason}"
        );
        let diagnostic = reason["diagnostic"].as_str().expect("diagnostic");
        assert!(diagnostic.starts_with("550 5.1.1"), "{diagnostic}");
        assert!(
            diagnostic.contains("User unknown in virtual mailbox table"),
            "{diagnostic}"
        );
    }
    let list = run_ok(&ws, &["--json", "bounces", "suppressed"]);
    for entry in list.as_array().expect("list") {
        assert_eq!(
            entry["source"],
            json!({ "kind": "bounce", "account": "relay" }),
            "{entry}"
        );
    }

    // A rescan reads nothing new and changes nothing.
    let again = scan(&ws);
    assert_eq!(
        (
            again["ok"].as_bool(),
            again["messages"].as_u64(),
            again["hard"].as_u64()
        ),
        (Some(true), Some(0), Some(0))
    );
    assert_eq!(run_ok(&ws, &["--json", "status", "spring"])["counts"], status["counts"]);

    // Resend failed leaves the bounced out: there is nothing failed.
    let resend = run_ok(&ws, &["--json", "resend-failed", "spring"]);
    assert_eq!(resend["requeued"], 0);

    // Exports carry the state, hard or soft, and the diagnostic.
    let out = ws.dir.path().join("bounced.csv");
    run_ok(
        &ws,
        &[
            "--json",
            "export",
            "spring",
            "--status",
            "bounced",
            "-o",
            out.to_str().expect("path"),
        ],
    );
    let csv = std::fs::read_to_string(&out).expect("export");
    assert_eq!(csv.lines().count(), 21, "{csv}");
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.contains(",bounced,") && l.contains("User unknown") && l.contains(",hard,")),
        "{csv}"
    );

    // An unsubscribe reply, through Postfix to the mailbox, suppresses its sender.
    postfix.submit(
        "user003@example.test",
        SENDER,
        "From: Person 2 <user003@example.test>\nTo: sender@mailroom.test\nSubject: unsubscribe\nMessage-ID: <u3@example.test>\n\n",
    );
    dovecot.wait_for_messages(21, Duration::from_secs(60));
    let third = scan(&ws);
    assert_eq!(
        (third["messages"].as_u64(), third["unsubscribes"].as_u64()),
        (Some(1), Some(1)),
        "{third}"
    );
    assert_eq!(third["suppressed"][0]["email"], "user003@example.test");
    let list = run_ok(&ws, &["--json", "bounces", "suppressed"]);
    let entry = list
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["email"] == "user003@example.test")
        .expect("user003 suppressed");
    assert_eq!(entry["source"], json!({ "kind": "unsubscribe", "account": "relay" }));
    // A new import of the list skips all 21.
    let reimport = run_ok(&ws, &["--json", "import", list_path(&ws).as_str(), "--name", "summer"]);
    assert_eq!(reimport["suppressed"].as_array().map(Vec::len), Some(21));
    drop(postfix);
}

fn list_path(ws: &Workspace) -> String {
    ws.dir.path().join("list.csv").to_string_lossy().into_owned()
}

/// Sends a campaign to `recipients` through Mailroom's scripted test SMTP
/// server (accepts everything) and returns each recipient's Message-ID.
fn sent_campaign(ws: &Workspace, recipients: &[&str]) -> Vec<(String, String)> {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(mailroom_e2e::smtp_server::ScriptedServer::start(
        mailroom_e2e::smtp_server::Script::default(),
    ));
    let mut csv = String::from("email\n");
    for r in recipients {
        csv.push_str(r);
        csv.push('\n');
    }
    let list = ws.file("list.csv", &csv);
    let body = ws.file("body.txt", "Hello.\n");
    run_ok(
        ws,
        &["--json", "import", list.to_str().expect("path"), "--name", "spring"],
    );
    add_relay(ws, server.port());
    run_ok(
        ws,
        &[
            "--json",
            "message",
            "spring",
            "--subject",
            "Spring",
            "--text",
            body.to_str().expect("path"),
        ],
    );
    let sent = ws.mailroom(&["send", "spring", "--smtp", "relay"]);
    assert!(sent.success(), "send: {}", sent.stderr);
    let ids = server
        .received()
        .into_iter()
        .map(|m| {
            let text = String::from_utf8_lossy(&m.data).into_owned();
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .expect("a Message-ID")
                .trim()
                .to_owned();
            (m.rcpt_to[0].clone(), id)
        })
        .collect();
    drop(server);
    ids
}

fn corpus(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/engine/testdata/bounces")
        .join(name);
    String::from_utf8(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("utf-8")
}

/// A corpus notice returning the message sent to `to` (its Message-ID put
/// where the sample's Mailroom Message-ID is).
fn notice_for(name: &str, row: u32, to: &str, ids: &[(String, String)]) -> String {
    let id = &ids
        .iter()
        .find(|(r, _)| r == to)
        .unwrap_or_else(|| panic!("{to} was not sent"))
        .1;
    let text = corpus(name);
    let start = text
        .find(&format!("<mailroom.7.{row}."))
        .unwrap_or_else(|| panic!("{name} has no row {row}"));
    let end = start + text[start..].find('>').expect("end of id") + 1;
    format!("{}{id}{}", &text[..start], &text[end..])
}

/// Every form of the corpus, delivered to a real IMAP server, read over
/// STARTTLS: each matched to its recipient (by Message-ID, or by address for
/// NetEase), hard or soft as the server meant; auto-replies, receipts and a
/// broken notice are nothing; a notice carrying a 20 MB attachment is read
/// without downloading it; a new UIDVALIDITY reads everything again and
/// records nothing twice; a wrong password is a clear failure.
#[test]
fn every_servers_notice_is_matched_once_over_a_real_imap_server() {
    let dovecot = Dovecot::start(SENDER, PASSWORD);
    let ws = Workspace::new();
    let recipients = [
        "userunknown@example.jp",
        "kijitora@example.com",
        "kijitora@example.jp",
        "kijitora@example.ne.jp",
        "leader@smeoa.com",
        "nosuchuser@qq.com",
        "louisl@larry.slip.umd.edu",
        "noraneko@example.jp",
        "bob@example.test",
        "fine@example.org",
    ];
    let ids = sent_campaign(&ws, &recipients);
    assert_eq!(ids.len(), recipients.len());

    let mut huge = notice_for("postfix-debian-user-unknown.eml", 2, "bob@example.test", &ids);
    // The returned message gets a 20 MB attachment: a mailbox may hold that.
    let marker = "--1205598C0E7.1796133005/mx.relay.test--";
    let attachment = format!(
        "--1205598C0E7.1796133005/mx.relay.test\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
            .repeat(20 * 1024 * 1024 / 78)
    );
    huge = huge.replace(marker, &format!("{attachment}{marker}"));
    assert!(huge.len() > 20_000_000);

    let notices = [
        notice_for("gmail-user-unknown.eml", 3, "userunknown@example.jp", &ids),
        notice_for("office365-recipient-not-found.eml", 4, "kijitora@example.com", &ids),
        notice_for("exim-user-unknown.eml", 5, "kijitora@example.jp", &ids),
        notice_for("qmail-unknown-user.eml", 6, "kijitora@example.ne.jp", &ids),
        notice_for("postfix-hard-and-mailbox-full.eml", 7, "noraneko@example.jp", &ids),
        notice_for("rfc3464-simple-timeout.eml", 1, "louisl@larry.slip.umd.edu", &ids),
        corpus("netease163-coremail.eml"),
        corpus("qq-postmaster.eml"),
        // Not ours (campaign 7 of another database): unmatched.
        corpus("postfix-qq-rejects-ip.eml"),
        corpus("rfc3464-delayed.eml"),
        corpus("auto-reply-out-of-office.eml"),
        corpus("read-receipt-rfc8098.eml"),
        corpus("ordinary-reply.eml"),
        corpus("malformed-dsn.eml"),
        huge,
    ];
    for notice in &notices {
        dovecot.deliver(notice.as_bytes());
    }
    // STARTTLS on the plain port, the soft-bounce limit at 1 so soft bounces suppress too.
    add_mailbox(&ws, &dovecot, "starttls", dovecot.imap_port, &["--soft-limit", "1"]);
    let test = run_ok(&ws, &["--json", "mailbox", "test", "relay"]);
    assert_eq!(test["ok"], true, "{test}");

    let first = scan(&ws);
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["messages"], notices.len());
    assert_eq!(
        first["unmatched"], 1,
        "the notice about another database's campaign: {first}"
    );
    assert_eq!(first["not_failures"], 1, "the delay warning");
    assert_eq!(first["auto_replies"], 1, "{first}");
    assert_eq!(first["unsubscribes"], 0);
    // The 20 MB notice was read without its attachment: Dovecot counts what it sent.
    let log = dovecot.log();
    let sent_bytes: u64 = log
        .lines()
        .filter(|l| l.contains("Logged out"))
        .filter_map(|l| l.split(" out=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .max()
        .expect("Dovecot logs each session");
    assert!(sent_bytes < 4_000_000, "the scan downloaded {sent_bytes} bytes");

    let bounced = run_ok(&ws, &["--json", "recipients", "spring", "--status", "bounced"]);
    let kinds: BTreeSet<(String, String)> = bounced
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["email"].as_str().expect("email").to_owned(),
                r["bounce"].as_str().expect("kind").to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("userunknown@example.jp", "hard"),
        ("kijitora@example.com", "hard"),
        ("kijitora@example.jp", "hard"),
        ("kijitora@example.ne.jp", "hard"),
        ("leader@smeoa.com", "soft"),
        ("nosuchuser@qq.com", "hard"),
        ("louisl@larry.slip.umd.edu", "soft"),
        ("noraneko@example.jp", "soft"),
        ("bob@example.test", "hard"),
    ]
    .iter()
    .map(|(e, k)| ((*e).to_owned(), (*k).to_owned()))
    .collect();
    assert_eq!(kinds, expected);
    let sent = run_ok(&ws, &["--json", "recipients", "spring", "--status", "sent"]);
    assert_eq!(emails(&sent), BTreeSet::from(["fine@example.org".to_owned()]));
    let counts = run_ok(&ws, &["--json", "status", "spring"])["counts"].clone();
    let suppressed = run_ok(&ws, &["--json", "bounces", "suppressed"]);
    assert_eq!(suppressed.as_array().map(Vec::len), Some(9), "{suppressed}");

    // Rescan: nothing new. A new UIDVALIDITY: everything read again, nothing recorded twice.
    let again = scan(&ws);
    assert_eq!(
        (
            again["messages"].as_u64(),
            again["hard"].as_u64(),
            again["soft"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    dovecot.change_uid_validity(4242);
    let renumbered = scan(&ws);
    assert_eq!(renumbered["ok"], true, "{renumbered}");
    assert_eq!(renumbered["uid_validity_changed"], true);
    assert_eq!(renumbered["messages"], notices.len());
    assert_eq!(
        (renumbered["hard"].as_u64(), renumbered["soft"].as_u64()),
        (Some(0), Some(0)),
        "{renumbered}"
    );
    assert_eq!(
        renumbered["already_known"],
        first["hard"].as_u64().unwrap_or(0) + first["soft"].as_u64().unwrap_or(0)
    );
    assert_eq!(renumbered["suppressed"].as_array().map(Vec::len), Some(0));
    assert_eq!(run_ok(&ws, &["--json", "status", "spring"])["counts"], counts);

    // Resend failed with bounces chosen puts them back to send.
    let store_counts = run_ok(&ws, &["--json", "status", "spring"]);
    assert_eq!(store_counts["counts"]["bounced"], 9);

    // A wrong password: Test connection says so at LOGIN; the scan stops there.
    let edit = ws.mailroom_with_stdin(
        &["--json", "mailbox", "edit", "relay", "--password-stdin"],
        "not-the-password",
    );
    assert!(edit.success(), "{}", edit.stderr);
    let test = ws.mailroom(&["--json", "mailbox", "test", "relay"]);
    assert!(!test.success());
    let test = test.json();
    assert_eq!(
        (test["ok"].as_bool(), test["problem"].as_str()),
        (Some(false), Some("login_failed"))
    );
    assert_eq!(
        test["stages"]
            .as_array()
            .and_then(|s| s.last())
            .map(|s| s["stage"].clone()),
        Some(Value::from("login"))
    );
    let failed = ws.mailroom(&["--json", "bounces", "scan"]);
    assert!(!failed.success());
    let report = &failed.json()[0];
    assert_eq!(report["failure"]["problem"], "login_failed", "{report}");
    // The advice is the front end's words for the failure and the server.
    assert!(
        report.get("advice").is_none() && report["port"].as_u64().is_some(),
        "{report}"
    );
    let human = ws.mailroom(&["bounces", "scan"]);
    assert!(human.stdout.contains("user name or password"), "{}", human.stdout);
    let listed = run_ok(&ws, &["--json", "mailbox", "list"]);
    assert!(
        listed[0]["scan"]["last_scan_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("login")),
        "{listed}"
    );
}

/// A proxy in front of Dovecot that passes everything until the client asks
/// for message bodies, then passes `keep` bytes of the answer and stalls.
fn stalling_proxy(upstream: u16, keep: usize) -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let stalled = Arc::new(AtomicBool::new(false));
    let flag = stalled.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let asked = Arc::new(AtomicBool::new(false));
            let (mut c_read, mut s_write) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
            let seen = asked.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = c_read.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if String::from_utf8_lossy(&buf[..n]).contains("BODY.PEEK[]") {
                        seen.store(true, Ordering::SeqCst);
                    }
                    if s_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut s_read, mut c_write) = (server, client);
            let flag = flag.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut passed_after = 0;
                while let Ok(n) = s_read.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut n = n;
                    if asked.load(Ordering::SeqCst) {
                        n = n.min(keep.saturating_sub(passed_after));
                        passed_after += n;
                        if passed_after >= keep {
                            let _ = c_write.write_all(&buf[..n]);
                            flag.store(true, Ordering::SeqCst);
                            // Hold the connection open, silent, until the client gives up.
                            std::thread::sleep(Duration::from_secs(60));
                            break;
                        }
                    }
                    if c_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, stalled)
}

/// A server that stops sending in the middle of a message's body: the scan
/// ends with "timed out" at the fetch, records nothing of that chunk, and a
/// later scan records each bounce once.
#[test]
fn a_server_that_stalls_mid_fetch_is_a_timeout_and_loses_nothing() {
    let dovecot = Dovecot::start(SENDER, PASSWORD);
    let ws = Workspace::new();
    let ids = sent_campaign(&ws, &["bob@example.test", "kijitora@example.jp"]);
    dovecot.deliver(notice_for("postfix-debian-user-unknown.eml", 2, "bob@example.test", &ids).as_bytes());
    dovecot.deliver(notice_for("exim-user-unknown.eml", 5, "kijitora@example.jp", &ids).as_bytes());
    let (proxy, stalled) = stalling_proxy(dovecot.imap_port, 700);
    add_mailbox(&ws, &dovecot, "none", proxy, &["--timeout", "2"]);
    let run = ws.mailroom(&["--json", "bounces", "scan", "--account", "relay"]);
    assert!(!run.success(), "{}", run.stdout);
    let report = &run.json()[0];
    assert!(stalled.load(Ordering::SeqCst), "the proxy never stalled");
    assert_eq!(report["failure"]["stage"], "fetch", "{report}");
    assert_eq!(report["failure"]["problem"], "timed_out", "{report}");
    assert_eq!(
        (report["hard"].as_u64(), report["messages"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(run_ok(&ws, &["--json", "status", "spring"])["counts"]["bounced"], 0);

    let port = dovecot.imap_port.to_string();
    run_ok(&ws, &["--json", "mailbox", "edit", "relay", "--port", &port]);
    let report = scan(&ws);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        (report["messages"].as_u64(), report["hard"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(run_ok(&ws, &["--json", "status", "spring"])["counts"]["bounced"], 2);
    let again = scan(&ws);
    assert_eq!(again["hard"], 0);
}

/// BENCHMARKS.md, "Bounce scan": a 100,000-message mailbox (99,000 ordinary
/// messages and 1,000 Postfix notices about mail Mailroom did not send)
/// read the first time, then rescanned with nothing new. Run by hand:
/// `cargo test --release -p mailroom-e2e --test bounces -- --ignored --nocapture scan_of_a_100000`.
#[test]
#[ignore = "a benchmark: fills a 100,000-message Maildir (about 200 MB)"]
fn scan_of_a_100000_message_mailbox_then_a_rescan() {
    const MESSAGES: usize = 100_000;
    let dovecot = Dovecot::start(SENDER, PASSWORD);
    let notice = corpus("postfix-debian-user-unknown.eml");
    let started = std::time::Instant::now();
    dovecot.fill_maildir(MESSAGES, |i| {
        if i % 100 == 0 {
            notice
                .replace("bob@example.test", &format!("nobody{i}@example.test"))
                .into_bytes()
        } else {
            format!(
                "From: Person {i} <person{i}@example.org>\nTo: {SENDER}\nSubject: Re: spring {i}\n\
                 Date: Tue, 1 Dec 2026 10:00:00 +0000\nMessage-ID: <m{i}@example.org>\n\
                 Content-Type: text/plain; charset=utf-8\n\n{}\n",
                "Thanks for the newsletter, see you in spring.\n".repeat(20)
            )
            .into_bytes()
        }
    });
    eprintln!("filled {MESSAGES} messages in {:.1} s", started.elapsed().as_secs_f64());
    let ws = Workspace::new();
    add_relay(&ws, 25);
    add_mailbox(&ws, &dovecot, "tls", dovecot.imaps_port, &["--timeout", "300"]);

    let first = std::time::Instant::now();
    let report = scan(&ws);
    let first = first.elapsed();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["messages"].as_u64(), Some(MESSAGES as u64), "{report}");
    assert_eq!(report["notices"].as_u64(), Some(1_000), "{report}");
    assert_eq!(report["unmatched"].as_u64(), Some(1_000), "{report}");

    let again = std::time::Instant::now();
    let rescan = scan(&ws);
    let again = again.elapsed();
    assert_eq!(rescan["messages"].as_u64(), Some(0), "{rescan}");
    eprintln!(
        "first scan of {MESSAGES} messages: {:.1} s; rescan: {:.2} s",
        first.as_secs_f64(),
        again.as_secs_f64()
    );
}
