//! `mailroom smtp …`, `mailroom captured` end to end: the real CLI binary, a
//! real database, the built-in sandbox, and a third-party SMTP server
//! (aiosmtpd, from Debian's packages) on loopback.

use std::io::Read as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailroom_e2e::{Workspace, message_args, smtp_add_local};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing started listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every file under `dir`, read as bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path, bytes));
        }
    }
    found
}

#[test]
fn a_fresh_database_has_the_sandbox_account() {
    let ws = Workspace::new();
    // The default database is made on first use (a --db path must exist).
    let run = ws.mailroom_raw(&["--json", "smtp", "list"]);
    assert!(run.success(), "{}", run.stderr);
    let accounts = run.json();
    assert_eq!(accounts[0]["name"], "Sandbox");
    assert_eq!(accounts[0]["preset"], "sandbox");
    assert_eq!(accounts[0]["host"], "127.0.0.1");
}

#[test]
fn the_password_is_never_in_the_database_logs_or_output() {
    let ws = Workspace::new();
    let secret = "Pa55-not-in-any-file";
    let run = ws.mailroom_with_stdin(
        &[
            "smtp",
            "add",
            "work",
            "--preset",
            "gmail",
            "--user",
            "me@example.com",
            "--from",
            "me@example.com",
            "--password-stdin",
        ],
        &format!("{secret}\n"),
    );
    assert!(run.success(), "{}", run.stderr);
    assert!(run.stdout.contains("password stored"), "{}", run.stdout);
    assert!(
        run.stderr.contains("No system keychain"),
        "the fallback must be announced: {}",
        run.stderr
    );

    let listed = ws.mailroom(&["--json", "smtp", "show", "work"]);
    assert_eq!(listed.json()["has_password"], true);
    assert_eq!(listed.json()["per_day"], 500, "the Gmail preset's daily limit");
    assert!(!listed.stdout.contains(secret));

    // Run a test too, so the logs have had every chance to see it.
    let _ = ws.mailroom(&["smtp", "test", "work"]);
    let files = files_under(ws.dir.path());
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(secret), "the password is in {}", path.display());
    }
    // The scan must have covered what could leak it: the database and the log.
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    assert!(names.iter().any(|n| n.ends_with("mailroom.db")), "{names:?}");
    assert!(
        names.iter().any(|n| n.contains("logs") && n.contains("mailroom-cli")),
        "no log file was scanned: {names:?}"
    );
}

/// The password and every form it travels in: base64 of it (AUTH LOGIN), of
/// `\0user\0password` (AUTH PLAIN), and the stretches of any base64 blob
/// that encode it, at each of the three alignments.
fn password_forms(user: &str, password: &str) -> Vec<String> {
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
    let mut forms = vec![
        password.to_owned(),
        encode(password.as_bytes()),
        encode(format!("\0{user}\0{password}").as_bytes()),
    ];
    for offset in 0..3 {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(password.as_bytes());
        let encoded = encode(&bytes);
        forms.push(encoded[(8 * offset).div_ceil(6)..(8 * bytes.len()) / 6].to_owned());
    }
    forms
}

#[test]
fn a_server_echoing_the_login_leaves_the_password_in_no_file_and_no_output() {
    use base64::Engine as _;
    use mailroom_e2e::raw_peer::{Heard, RawPeer, Say, ordinary};
    let user = "me@example.com";
    let password = "Pa55-echoed-by-the-server";
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let user_token = base64::engine::general_purpose::STANDARD.encode(user);
    // Every AUTH line comes back in the 535, as a careless server logs it.
    let peer = runtime.block_on(RawPeer::start(move |heard| match heard {
        Heard::Line(line) if line.starts_with("AUTH PLAIN") => Say::text(&format!("535 5.7.8 {line} rejected\r\n")),
        Heard::Line(line) if line == "AUTH LOGIN" => Say::text("334 VXNlcm5hbWU6\r\n"),
        Heard::Line(line) if *line == user_token => Say::text("334 UGFzc3dvcmQ6\r\n"),
        Heard::Line(line) if !line.contains(' ') && line.len() > 8 && !line.eq_ignore_ascii_case("QUIT") => Say::text(
            &format!("535-5.7.8 you sent {line}\r\n535 5.7.8 decoded: \0{user}\0{password}\r\n"),
        ),
        other => ordinary(other),
    }));
    let ws = Workspace::new();
    let port = peer.port().to_string();
    let mut outputs = Vec::new();
    for (name, auth) in [("plain", "plain"), ("login", "login")] {
        let add = ws.mailroom_with_stdin(
            &[
                smtp_add_local(name, &port),
                vec!["--auth", auth, "--user", user, "--from", user, "--password-stdin"],
            ]
            .concat(),
            &format!("{password}\n"),
        );
        assert!(add.success(), "{}", add.stderr);
        for args in [vec!["smtp", "test", name], vec!["--json", "smtp", "test", name]] {
            let run = ws.mailroom(&args);
            assert!(!run.success(), "the login was refused: {}", run.stdout);
            assert!(run.stdout.contains("[redacted]"), "{}", run.stdout);
            outputs.push(run);
        }
    }
    // A campaign pauses on the refusal: the reason is stored and printed.
    let list = ws.file("list.csv", "email\na@example.org\nb@example.org\n");
    let body = ws.file("body.txt", "Hello.\n");
    for args in [
        vec!["import", list.to_str().unwrap_or_default()],
        message_args("1", "Hi", &body),
    ] {
        let run = ws.mailroom(&args);
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }
    let send = ws.mailroom(&["send", "1", "--smtp", "plain"]);
    assert!(!send.success(), "the campaign pauses: {}", send.stdout);
    outputs.push(send);
    for args in [
        vec!["status", "1"],
        vec!["--json", "status", "1"],
        vec!["--json", "recipients", "1"],
    ] {
        outputs.push(ws.mailroom(&args));
    }
    let status = outputs.iter().rev().nth(1).map(|r| r.json()).unwrap_or_default();
    assert!(
        status.to_string().contains("[redacted]"),
        "the pause reason keeps the server's words, redacted: {status}"
    );
    drop(peer);
    drop(runtime);

    let forms = password_forms(user, password);
    for run in &outputs {
        for form in &forms {
            assert!(
                !run.stdout.contains(form.as_str()) && !run.stderr.contains(form.as_str()),
                "{form} in the output:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
    let files = files_under(ws.dir.path());
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for form in &forms {
            // The secret store holds the password, encrypted, by design.
            assert!(!text.contains(form.as_str()), "{form} is in {}", path.display());
        }
    }
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    assert!(names.iter().any(|n| n.ends_with("mailroom.db")), "{names:?}");
    assert!(
        names.iter().any(|n| n.contains("logs") && n.contains("mailroom-cli")),
        "no log file was scanned: {names:?}"
    );
}

#[test]
fn a_helo_name_that_would_inject_a_command_is_refused_when_the_account_is_saved() {
    let ws = Workspace::new();
    for helo in ["x\r\nRCPT TO:<evil@x>", "x\nRCPT TO:<evil@x>", "two words"] {
        let run = ws.mailroom(&[smtp_add_local("bad", "2525"), vec!["--helo", helo]].concat());
        assert!(!run.success(), "{helo:?} must be refused: {}", run.stdout);
        assert!(
            run.stderr.contains("helo_name") || run.stderr.contains("EHLO"),
            "{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains('\r'),
            "the error does not echo a raw CR: {:?}",
            run.stderr
        );
    }
    let listed = ws.mailroom(&["--json", "smtp", "list"]);
    assert!(!listed.stdout.contains("evil"), "{}", listed.stdout);
    let fine = ws.mailroom(&[smtp_add_local("good", "2525"), vec!["--helo", "bücher.de"]].concat());
    assert!(fine.success(), "{}", fine.stderr);
}

#[test]
fn test_connection_lists_the_stages_and_fails_on_a_refused_port() {
    let ws = Workspace::new();
    let port = free_port().to_string();
    let add = ws.mailroom(&smtp_add_local("nowhere", &port));
    assert!(add.success(), "{}", add.stderr);
    let run = ws.mailroom(&["--json", "smtp", "test", "nowhere"]);
    assert!(!run.success(), "a failed test must exit non-zero");
    let diagnosis = run.json();
    assert_eq!(diagnosis["ok"], false);
    assert_eq!(diagnosis["problem"], "refused");
    let stages = diagnosis["stages"].as_array().cloned().unwrap_or_default();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert_eq!(stages[0]["stage"], "dns");
    assert_eq!(stages[1]["stage"], "connect");
    assert_eq!(stages[1]["outcome"], "failed");
    // How it failed, as data: the window words the advice from it.
    assert_eq!(stages[1]["detail"]["kind"], "failed", "{:?}", stages[1]);
    assert_eq!(stages[1]["detail"]["failure"]["problem"], "refused", "{:?}", stages[1]);
    assert!(
        diagnosis.get("verdict").is_none() && stages[1].get("advice").is_none(),
        "{diagnosis}"
    );

    let human = ws.mailroom(&["smtp", "test", "nowhere"]);
    assert!(human.stdout.contains("FAIL  connect"), "{}", human.stdout);
    assert!(human.stdout.contains("Nothing is listening"), "{}", human.stdout);
    assert!(!human.stderr.contains("panicked"));
}

#[test]
fn a_test_message_through_the_sandbox_is_captured_and_readable() {
    let ws = Workspace::new();
    let port = free_port().to_string();
    let add = ws.mailroom(&["smtp", "add", "local", "--preset", "sandbox", "--port", &port]);
    assert!(add.success(), "{}", add.stderr);
    let run = ws.mailroom(&["--json", "smtp", "test", "local", "--send-to", "李雷@example.org"]);
    assert!(run.success(), "{} {}", run.stdout, run.stderr);
    assert_eq!(run.json()["ok"], true);

    let list = ws.mailroom(&["--json", "captured"]);
    let messages = list.json();
    assert_eq!(messages.as_array().map(Vec::len), Some(1));
    assert_eq!(messages[0]["subject"], "Mailroom test message");
    assert_eq!(messages[0]["rcpt_to"][0], "李雷@example.org");
    let id = messages[0]["id"].to_string();
    let one = ws.mailroom(&["--json", "captured", &id]);
    let message = one.json();
    assert!(
        message["text"]
            .as_str()
            .is_some_and(|t| t.contains("this account can send mail"))
    );
    assert!(message["html"].is_null(), "a text-only message has no HTML part");
    assert!(
        message["headers"]
            .as_array()
            .is_some_and(|h| h.iter().any(|pair| pair[0] == "Message-ID"))
    );
    let cleared = ws.mailroom(&["--json", "captured", "--clear"]);
    assert_eq!(cleared.json()["removed"], 1);
}

#[test]
fn bad_settings_are_one_line_naming_the_field() {
    let ws = Workspace::new();
    for (args, field) in [
        (vec!["smtp", "add", "x", "--host", "https://smtp.example.com"], "(host)"),
        (vec!["smtp", "add", "x", "--preset", "nope"], "(preset)"),
        (
            vec!["smtp", "add", "x", "--host", "smtp.example.com", "--auth", "plain"],
            "(username)",
        ),
        (vec!["smtp", "add", "Sandbox", "--preset", "sandbox"], "already"),
        (vec!["smtp", "test", "missing"], "no SMTP account"),
    ] {
        let run = ws.mailroom(&args);
        assert!(!run.success(), "{args:?} should fail");
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(field), "{args:?}: {}", run.stderr);
    }
    let removed = ws.mailroom(&["smtp", "remove", "Sandbox"]);
    assert!(removed.success(), "{}", removed.stderr);
    assert_eq!(ws.mailroom(&["--json", "smtp", "list"]).json(), serde_json::json!([]));
}

/// A third-party server from Debian's packages (aiosmtpd), for realism: it
/// speaks without PIPELINING, so the plain command-by-command path is used.
struct Aiosmtpd(Child);

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn test_connection_and_a_test_message_work_against_aiosmtpd() {
    let python = "/usr/bin/python3";
    let has_aiosmtpd = Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_aiosmtpd,
        "aiosmtpd is missing: scripts/setup.sh installs python3-aiosmtpd"
    );
    let port = free_port();
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Debugging", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start aiosmtpd: {e}"));
    let mut server = Aiosmtpd(child);
    wait_for_port(port);

    let ws = Workspace::new();
    let port = port.to_string();
    let add = ws.mailroom(
        &[
            smtp_add_local("aiosmtpd", &port),
            vec!["--from", "sender@example.com", "--from-name", "Zoë Brontë"],
        ]
        .concat(),
    );
    assert!(add.success(), "{}", add.stderr);
    let run = ws.mailroom(&["--json", "smtp", "test", "aiosmtpd", "--send-to", "friend@example.org"]);
    assert!(run.success(), "{} {}", run.stdout, run.stderr);
    let diagnosis = run.json();
    let ehlo = &diagnosis["stages"][3];
    assert_eq!(ehlo["stage"], "ehlo");
    assert!(
        ehlo["extensions"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == "8BITMIME")),
        "{ehlo}"
    );

    // A campaign too: without PIPELINING each claim's commit overlaps the
    // MAIL, RCPT and DATA round trips one by one, and the content follows.
    let list = ws.file("five.csv", "email,name\nann@example.org,Ann\nbo@example.org,Bo\ncy@example.org,Cy\ndi@example.org,Di\neve@example.org,Eve\n");
    let body = ws.file("body.txt", "Hello {{ name }}.\n");
    let list = list.to_string_lossy().into_owned();
    let body = body.to_string_lossy().into_owned();
    for step in [
        vec!["import", list.as_str()],
        vec!["message", "1", "--subject", "For {{ name }}", "--text", body.as_str()],
        vec!["send", "1", "--smtp", "aiosmtpd"],
    ] {
        let run = ws.mailroom(&step);
        assert!(run.success(), "{step:?}: {} {}", run.stdout, run.stderr);
    }
    let status = ws.mailroom(&["--json", "status", "1"]).json();
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["counts"]["sent"], 5, "{status}");

    // aiosmtpd's Debugging handler prints each message; stop it to read them.
    let _ = server.0.kill();
    let mut printed = String::new();
    if let Some(mut stdout) = server.0.stdout.take() {
        let _ = stdout.read_to_string(&mut printed);
    }
    assert!(printed.contains("Subject: Mailroom test message"), "{printed}");
    assert!(printed.contains("friend@example.org"), "{printed}");
    for name in ["Ann", "Bo", "Cy", "Di", "Eve"] {
        assert_eq!(
            printed.matches(&format!("Subject: For {name}\n")).count(),
            1,
            "{name} once:\n{printed}"
        );
    }
}

/// Issue 19: an account's provider rules, listed in the order they are
/// tried, with an added rule first, a removed shipped rule gone, and reset
/// back to the shipped ones; the outage limit is an account setting.
#[test]
fn an_accounts_provider_rules_are_listed_added_removed_and_reset() {
    let ws = Workspace::new();
    let added = ws.mailroom(&[
        "--json",
        "smtp",
        "add",
        "Mail",
        "--preset",
        "gmail",
        "--user",
        "me@gmail.com",
        "--from",
        "me@gmail.com",
        "--outage-limit",
        "120",
    ]);
    assert!(added.success(), "{}", added.stderr);
    assert_eq!(added.json()["outage_limit_ms"], 120_000, "{}", added.stdout);
    let ids = |listed: &serde_json::Value| -> Vec<String> {
        listed
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {listed}"))
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let listed = ws.mailroom(&["--json", "smtp", "rules", "Mail"]).json();
    let shipped = ids(&listed);
    assert_eq!(listed[0]["origin"], "provider", "{listed}");
    assert!(shipped.contains(&"gmail.daily_limit".to_owned()), "{shipped:?}");
    assert!(
        !shipped.iter().any(|id| id.starts_with("amazon_ses.")),
        "only Gmail's and the generic: {shipped:?}"
    );
    assert_eq!(shipped.last().map(String::as_str), Some("generic.sender_refused"));
    let text = ws.mailroom(&["smtp", "rules", "Mail"]);
    assert!(
        text.stdout.contains("gmail.daily_limit (provider)")
            && text.stdout.contains("https://support.google.com/a/answer/166852"),
        "{}",
        text.stdout
    );

    let mine = r#"{"id":"mine.night","codes":[451],"pattern":"night","means":"my relay rests at night","action":{"do":"retry_later","after_s":600}}"#;
    let with_mine = ws.mailroom(&["--json", "smtp", "rules", "Mail", "add", mine]);
    assert!(with_mine.success(), "{}", with_mine.stderr);
    let with_mine = with_mine.json();
    assert_eq!(
        (with_mine[0]["id"].as_str(), with_mine[0]["origin"].as_str()),
        (Some("mine.night"), Some("account"))
    );
    let bad = ws.mailroom(&[
        "smtp",
        "rules",
        "Mail",
        "add",
        r#"{"id":"x","pattern":"(","means":"","action":{"do":"retry"}}"#,
    ]);
    assert!(
        !bad.success() && bad.stderr.contains("regular expression"),
        "{}",
        bad.stderr
    );

    let removed = ws
        .mailroom(&["--json", "smtp", "rules", "Mail", "remove", "gmail.daily_limit"])
        .json();
    assert!(!ids(&removed).contains(&"gmail.daily_limit".to_owned()), "{removed}");
    let unknown = ws.mailroom(&["smtp", "rules", "Mail", "remove", "no.such.rule"]);
    assert!(!unknown.success(), "{}", unknown.stdout);

    let reset = ws.mailroom(&["--json", "smtp", "rules", "Mail", "reset"]).json();
    assert_eq!(ids(&reset), shipped);
}

/// Issue 19: the rate a throttling server let an account hold, found by its
/// last campaign, is shown by `smtp list` and `smtp show`, with its date.
#[test]
fn smtp_list_and_show_say_the_rate_that_held_and_when() {
    let ws = Workspace::new();
    let added = ws.mailroom(&["--json", "smtp", "add", "relay", "--preset", "sandbox"]);
    assert!(added.success(), "{}", added.stderr);
    assert_eq!(added.json()["held_rate"], serde_json::Value::Null);
    // As a campaign through a throttling server leaves it (3 Dec 2026, 10:00 UTC).
    let db = rusqlite::Connection::open(ws.db()).expect("test step");
    db.execute(
        "INSERT INTO held_rates (profile_id, rate, held_at)
         SELECT id, 14.2, 1796292000000 FROM smtp_profiles WHERE name = 'relay'",
        [],
    )
    .expect("test step");
    drop(db);
    let listed = ws.mailroom(&["--json", "smtp", "list"]).json();
    let relay = listed
        .as_array()
        .and_then(|all| all.iter().find(|a| a["name"] == "relay"))
        .expect("test step");
    assert_eq!(relay["held_rate"]["rate"], 14.2);
    assert_eq!(relay["held_rate"]["at"], 1_796_292_000_000_i64);
    let shown = ws.mailroom(&["smtp", "show", "relay"]);
    assert!(
        shown
            .stdout
            .contains("held 14.2/s on 3 Dec 2026 (UTC) without throttle replies"),
        "{}",
        shown.stdout
    );
    let listed = ws.mailroom(&["smtp", "list"]);
    assert!(listed.stdout.contains("held 14.2/s on 3 Dec 2026"), "{}", listed.stdout);
}

/// Issue 18: `mailroom send` says what it is about to do before it sends
/// (how many, through which account, from whom, at what pace, how long); a
/// skipped row's preview says it is skipped and why; `mailroom stop` stops
/// only a paused campaign.
#[test]
fn send_prints_its_plan_first_and_a_skipped_row_previews_as_skipped() {
    let ws = Workspace::new();
    let port = free_port().to_string();
    let add = ws.mailroom(&[
        "smtp", "add", "local", "--preset", "sandbox", "--port", &port, "--rate", "5",
    ]);
    assert!(add.success(), "{}", add.stderr);
    let list = ws.file(
        "plan.csv",
        "email,name\na@example.org,A\nnot-an-address,B\nc@example.org,C\n",
    );
    let import = ws.mailroom(&["import", list.to_str().unwrap_or_default()]);
    assert!(import.success(), "{}", import.stderr);
    let body = ws.file("body.txt", "Hello {{ name }}.\n");
    let message = ws.mailroom(&message_args("1", "Hi", &body));
    assert!(message.success(), "{}", message.stderr);

    let skipped = ws.mailroom(&["preview", "1", "--row", "3"]);
    assert!(skipped.success(), "{}", skipped.stderr);
    assert!(
        skipped
            .stdout
            .contains("Row 3 (not-an-address) is skipped and gets no message: invalid address"),
        "{}",
        skipped.stdout
    );
    let as_json = ws.mailroom(&["--json", "preview", "1", "--row", "3"]).json();
    assert_eq!(as_json["skipped"]["reason"]["kind"], "invalid_address", "{as_json}");

    let send = ws.mailroom(&["send", "1", "--smtp", "local"]);
    assert!(send.success(), "{}", send.stderr);
    assert!(
        send.stderr.lines().next().is_some_and(|first| first
            .starts_with("Sending 2 recipients through \"local\", from ")
            && first.ends_with(", at 5/s: under a minute.")),
        "the plan comes first: {}",
        send.stderr
    );
    let stop = ws.mailroom(&["stop", "1"]);
    assert!(!stop.success(), "a completed campaign is not stopped");
    assert!(
        stop.stderr.contains("only a paused campaign can be stopped"),
        "{}",
        stop.stderr
    );
}
