//! Servers that break the protocol on purpose (issue 15): replies nobody
//! asked for, replies that never end or do not fit, values that would inject
//! commands, international addresses, STARTTLS that does not start TLS. The
//! client must close the connection, take nothing as acceptance, name the
//! right stage, and never send what a server or a value smuggled in.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailroom_e2e::fixtures::{campaign_with_message, local_account};
use mailroom_e2e::raw_peer::{Heard, RawPeer, Say, ordinary};
use mailroom_engine::Session;
use mailroom_engine::campaign::{CampaignEvent, RunControl, RunOptions, RunOutcome, RunReport};
use mailroom_engine::model::{Recipient, RecipientStatus};
use mailroom_engine::progress::Ignore;
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::smtp::client::{Connection, ConnectionSettings};
use mailroom_engine::smtp::diagnose::{Diagnosis, StageOutcome, TestMessage, test_connection};
use mailroom_engine::smtp::manage::add_account;
use mailroom_engine::smtp::{AccountSettings, AuthMethod, Failure, Security, Stage};
use mailroom_engine::{Error, Store};
use tempfile::TempDir;

fn settings(port: u16) -> ConnectionSettings {
    ConnectionSettings {
        host: "127.0.0.1".to_owned(),
        port,
        security: Security::None,
        auth: AuthMethod::None,
        username: None,
        password: None,
        helo_name: None,
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(5),
        data_timeout: Duration::from_secs(5),
        accept_invalid_certs: false,
    }
}

fn message(to: &str) -> TestMessage {
    TestMessage::new(Some("Zoë"), "sender@example.com", to).unwrap_or_else(|e| panic!("{e}"))
}

async fn open(port: u16) -> Connection {
    Connection::open(Arc::new(settings(port)))
        .await
        .unwrap_or_else(|f| panic!("open: {f}"))
}

async fn send(connection: &mut Connection, to: &str) -> Result<u16, Failure> {
    let message = message(to);
    connection
        .send(&message.from, &[to], &message.bytes)
        .await
        .map(|reply| reply.code)
}

fn expect_failure(result: Result<u16, Failure>) -> Failure {
    match result {
        Ok(code) => panic!("the send should have failed, but it was taken as accepted ({code})"),
        Err(failure) => failure,
    }
}

async fn diagnose(settings: ConnectionSettings, message: Option<TestMessage>) -> Diagnosis {
    test_connection(Arc::new(settings), message, &Ignore).await
}

/// A server that answers DATA with its 354 and, at once, a 250 nobody asked
/// for; the content itself gets `content` (a 554, or a close).
fn early_250(content: Say) -> impl Fn(&Heard) -> Say + Send + Sync + 'static {
    move |heard| match heard {
        Heard::Line(line) if line == "DATA" => Say::text("354 go ahead\r\n250 2.0.0 queued\r\n"),
        Heard::Content(_) => content.clone(),
        other => ordinary(other),
    }
}

// ---- item 3: a reply that arrives when none is due -------------------------

#[tokio::test]
async fn a_250_before_the_content_is_a_protocol_error_not_an_acceptance() {
    let peer = RawPeer::start(early_250(Say::text("554 5.7.1 content refused\r\n"))).await;
    let mut connection = open(peer.port()).await;
    let failure = expect_failure(send(&mut connection, "a@example.org").await);
    assert_eq!(failure.stage, Stage::Data, "{failure}");
    assert_eq!(failure.problem.as_str(), "protocol_error", "{failure}");
    assert!(failure.text.contains("250"), "the text names what came: {failure}");
    // Nothing after the protocol error: the connection is done.
    let again = expect_failure(send(&mut connection, "b@example.org").await);
    assert_eq!(again.problem.as_str(), "protocol_error", "{again}");
    let log = peer.log();
    assert!(log.contents.is_empty(), "no content may follow the early reply");
    assert_eq!(
        log.lines.iter().filter(|l| l.starts_with("MAIL")).count(),
        1,
        "nothing more was sent on the broken connection: {:?}",
        log.lines
    );
}

#[tokio::test]
async fn test_connection_with_send_to_fails_on_an_early_250() {
    let peer = RawPeer::start(early_250(Say::text("554 5.7.1 content refused\r\n"))).await;
    let diagnosis = diagnose(settings(peer.port()), Some(message("friend@example.org"))).await;
    assert!(!diagnosis.ok, "{diagnosis:#?}");
    let failed = diagnosis.stages.last().unwrap_or_else(|| panic!("no stages"));
    assert_eq!((failed.stage, failed.outcome), (Stage::Data, StageOutcome::Failed));
    assert_eq!(diagnosis.problem.map(|p| p.as_str()), Some("protocol_error"));
    assert!(diagnosis.verdict().contains("protocol"), "{}", diagnosis.verdict());
}

#[tokio::test]
async fn bytes_after_the_last_reply_of_a_group_break_the_connection() {
    // The content's 250 comes with a second one, which would otherwise be
    // read as the answer to the next MAIL FROM.
    let peer = RawPeer::start(|heard| match heard {
        Heard::Content(_) => Say::text("250 2.0.0 queued\r\n250 2.0.0 and again\r\n"),
        other => ordinary(other),
    })
    .await;
    let mut connection = open(peer.port()).await;
    assert_eq!(send(&mut connection, "a@example.org").await.ok(), Some(250));
    let failure = expect_failure(send(&mut connection, "b@example.org").await);
    assert_eq!(failure.problem.as_str(), "protocol_error", "{failure}");
    assert_eq!(failure.stage, Stage::Mail, "{failure}");
    assert_eq!(peer.log().contents.len(), 1, "the second message never went out");
}

#[tokio::test]
async fn bytes_after_the_greeting_or_a_login_are_refused() {
    let chatty_greeting = RawPeer::start(|heard| match heard {
        Heard::Connected => Say::text("220 hi\r\n250 unasked\r\n"),
        other => ordinary(other),
    })
    .await;
    let failure = Connection::open(Arc::new(settings(chatty_greeting.port())))
        .await
        .err()
        .unwrap_or_else(|| panic!("an unasked reply after the greeting must fail"));
    assert_eq!(failure.problem.as_str(), "protocol_error", "{failure}");
    assert!(!chatty_greeting.log().lines.iter().any(|l| l.starts_with("MAIL")));

    let chatty_login = RawPeer::start(|heard| match heard {
        Heard::Line(line) if line.starts_with("AUTH") => Say::text("235 2.7.0 ok\r\n250 unasked\r\n"),
        other => ordinary(other),
    })
    .await;
    let opened = Connection::open(Arc::new(ConnectionSettings {
        auth: AuthMethod::Plain,
        username: Some("me".into()),
        password: Some("pw-1234".into()),
        ..settings(chatty_login.port())
    }))
    .await;
    // Caught at the latest before the next command is written.
    let failure = match opened {
        Err(failure) => failure,
        Ok(mut connection) => expect_failure(send(&mut connection, "a@example.org").await),
    };
    assert_eq!(failure.problem.as_str(), "protocol_error", "{failure}");
    assert!(!chatty_login.log().lines.iter().any(|l| l.starts_with("MAIL")));
}

#[tokio::test]
async fn a_campaign_against_an_early_250_sends_nobody_and_says_why() {
    for content in [
        Say::text("554 5.7.1 content refused\r\n"),
        Say::BytesAndClose(Vec::new()),
    ] {
        let peer = RawPeer::start(early_250(content)).await;
        let fixture = fixture(
            &["a", "b", "c", "d", "e"].map(|n| format!("{n}@example.org")),
            peer.port(),
        )
        .await;
        let report = run(&fixture).await;
        let sent: Vec<Recipient> = recipients(&fixture)
            .await
            .into_iter()
            .filter(|r| r.status == RecipientStatus::Sent)
            .collect();
        assert!(sent.is_empty(), "nobody's content was accepted: {sent:?}");
        assert_eq!(report.outcome, RunOutcome::Paused, "{report:?}");
        let reason = report.reason.map(|r| r.to_string()).unwrap_or_default();
        assert!(reason.contains("protocol") && reason.starts_with("data"), "{reason}");
        assert!(
            !reason.contains("sender address"),
            "the reason must not blame the sender: {reason}"
        );
    }
}

// ---- item 4: replies read whole, within limits ------------------------------

#[tokio::test]
async fn a_302_line_ehlo_is_read_whole_and_sending_works() {
    let peer = RawPeer::start(|heard| match heard {
        Heard::Line(line) if line.starts_with("EHLO") => {
            let mut reply = String::from("250-raw.test\r\n");
            for i in 0..300 {
                reply.push_str(&format!("250-X-EXTENSION-{i}\r\n"));
            }
            reply.push_str("250 PIPELINING\r\n");
            Say::text(&reply)
        }
        other => ordinary(other),
    })
    .await;
    let mut connection = open(peer.port()).await;
    assert!(
        connection.extensions().pipelining(),
        "the last line of the EHLO reply was read with it"
    );
    assert_eq!(send(&mut connection, "a@example.org").await.ok(), Some(250));
    assert_eq!(send(&mut connection, "b@example.org").await.ok(), Some(250));
    assert_eq!(peer.log().contents.len(), 2);
}

#[tokio::test]
async fn an_endless_continuation_to_the_content_is_a_protocol_error() {
    let peer = RawPeer::start(|heard| match heard {
        Heard::Content(_) => Say::Endless(format!("250-{}\r\n", "z".repeat(60)).into_bytes()),
        other => ordinary(other),
    })
    .await;
    let mut connection = open(peer.port()).await;
    let failure = expect_failure(send(&mut connection, "a@example.org").await);
    assert_eq!(
        (failure.stage, failure.problem.as_str()),
        (Stage::Data, "protocol_error"),
        "{failure}"
    );
    assert!(failure.code.is_none(), "no code was ever complete: {failure}");
    assert!(
        failure.text.len() < 1000,
        "the text stays readable: {}",
        failure.text.len()
    );
}

#[tokio::test]
async fn a_20_kb_rcpt_reply_line_fails_at_rcpt() {
    let peer = RawPeer::start(|heard| match heard {
        Heard::Line(line) if line.starts_with("RCPT") => Say::text(&format!("550 {}\r\n", "x".repeat(20_000))),
        other => ordinary(other),
    })
    .await;
    let mut connection = open(peer.port()).await;
    let failure = expect_failure(send(&mut connection, "a@example.org").await);
    assert_eq!(
        (failure.stage, failure.problem.as_str()),
        (Stage::Rcpt, "protocol_error"),
        "{failure}"
    );
    assert!(failure.text.len() < 1000, "{}", failure.text.len());
    assert!(peer.log().contents.is_empty());
}

#[tokio::test]
async fn a_greeting_that_never_ends_is_a_protocol_error_not_a_hang() {
    let peer = RawPeer::start(|heard| match heard {
        Heard::Connected => Say::Endless(b"220-still greeting\r\n".to_vec()),
        other => ordinary(other),
    })
    .await;
    let failure = Connection::open(Arc::new(ConnectionSettings {
        command_timeout: Duration::from_secs(30),
        ..settings(peer.port())
    }))
    .await
    .err()
    .unwrap_or_else(|| panic!("an endless greeting must fail"));
    assert_eq!(
        (failure.stage, failure.problem.as_str()),
        (Stage::Greeting, "protocol_error"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_reply_whose_code_changes_midway_is_a_protocol_error() {
    // "250-" then "354": the second line is not part of the first reply.
    let peer = RawPeer::start(|heard| match heard {
        Heard::Line(line) if line.starts_with("RCPT") => Say::text("250-ok\r\n354 go\r\n"),
        other => ordinary(other),
    })
    .await;
    let mut connection = open(peer.port()).await;
    let failure = expect_failure(send(&mut connection, "a@example.org").await);
    assert_eq!(failure.problem.as_str(), "protocol_error", "{failure}");
    assert!(peer.log().contents.is_empty());
}

// ---- item 16: freed database pages keep nothing ---------------------------------

#[tokio::test]
async fn text_deleted_from_the_database_leaves_no_trace_in_the_file() {
    let dir = tempfile::tempdir().expect("test step");
    let path = dir.path().join("mailroom.db");
    let store = Store::open(&path).await.expect("test step");
    let secrets = SecretStore::EncryptedFile {
        dir: dir.path().to_owned(),
    };
    // Enough rows that the account's page is written to the file.
    let marker = "Zm9vYmFyLXNlY3JldC1tYXJrZXI";
    for i in 0..20 {
        let settings = AccountSettings {
            name: format!("account {i}"),
            host: "smtp.example.com".into(),
            auth: AuthMethod::None,
            from_name: Some(format!("{marker} {i} {}", "x".repeat(200))),
            ..AccountSettings::default()
        };
        add_account(&store, &secrets, settings, None).await.expect("test step");
    }
    for i in 0..20 {
        mailroom_engine::smtp::manage::remove_account(&store, &secrets, &format!("account {i}"))
            .await
            .expect("test step");
    }
    store.close().await;
    // Into the file, as any later checkpoint would (old WAL frames are
    // overwritten as the WAL is reused; TRUNCATE empties it now).
    let checkpoint = rusqlite::Connection::open(&path).expect("test step");
    checkpoint
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("test step");
    drop(checkpoint);
    for file in ["mailroom.db", "mailroom.db-wal"] {
        let Ok(bytes) = std::fs::read(dir.path().join(file)) else {
            continue;
        };
        assert!(
            !String::from_utf8_lossy(&bytes).contains(marker),
            "deleted text is still in {file}"
        );
    }
}

// ---- item 15: nothing a value carries becomes a command ---------------------

#[tokio::test]
async fn a_helo_name_with_a_line_break_never_reaches_the_server() {
    let peer = RawPeer::start(ordinary).await;
    let failure = Connection::open(Arc::new(ConnectionSettings {
        helo_name: Some("x\r\nRCPT TO:<evil@x>".into()),
        ..settings(peer.port())
    }))
    .await
    .err()
    .unwrap_or_else(|| panic!("a HELO name with CR/LF must be refused"));
    assert_eq!(failure.stage, Stage::Ehlo, "{failure}");
    let lines = peer.log().lines;
    assert!(
        !lines.iter().any(|l| l.contains("evil") || l.starts_with("EHLO")),
        "nothing of it was written: {lines:?}"
    );
}

#[tokio::test]
async fn addresses_with_line_breaks_or_controls_are_refused_before_writing() {
    let peer = RawPeer::start(ordinary).await;
    let mut connection = open(peer.port()).await;
    let message = message("a@example.org");
    for (from, to) in [
        ("sender@example.com", "a@example.org>\r\nRCPT TO:<evil@x"),
        ("sender@example.com\r\nRCPT TO:<evil@x>", "a@example.org"),
        ("sender@example.com", "a\u{0}b@example.org"),
        ("sender@example.com", "a@example.org> NOTIFY=NEVER"),
    ] {
        let failure = connection
            .send(from, &[to], &message.bytes)
            .await
            .err()
            .unwrap_or_else(|| panic!("{to:?} from {from:?} must be refused"));
        assert!(matches!(failure.stage, Stage::Mail | Stage::Rcpt), "{failure}");
    }
    let lines = peer.log().lines;
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("evil") || l.starts_with("MAIL") || l.starts_with("RCPT")),
        "{lines:?}"
    );
    // The connection is still good for a proper address.
    assert_eq!(send(&mut connection, "fine@example.org").await.ok(), Some(250));
}

#[tokio::test]
async fn account_validation_refuses_control_characters_in_command_values() {
    let base = AccountSettings {
        name: "work".into(),
        host: "smtp.example.com".into(),
        username: Some("me".into()),
        ..AccountSettings::default()
    };
    let field_of = |settings: AccountSettings| match settings.validate() {
        Err(Error::InvalidAccount { field, .. }) => field,
        other => format!("{other:?}"),
    };
    assert_eq!(
        field_of(AccountSettings {
            helo_name: Some("x\r\nRCPT TO:<evil@x>".into()),
            ..base.clone()
        }),
        "helo_name"
    );
    assert_eq!(
        field_of(AccountSettings {
            helo_name: Some("two words".into()),
            ..base.clone()
        }),
        "helo_name"
    );
    assert_eq!(
        field_of(AccountSettings {
            username: Some("me\r\nMAIL FROM:<x@y>".into()),
            ..base.clone()
        }),
        "username"
    );
    assert_eq!(
        field_of(AccountSettings {
            from_address: Some("me@example.com\u{85}".into()),
            ..base.clone()
        }),
        "from_address"
    );
    assert_eq!(
        field_of(AccountSettings {
            from_address: Some("m\u{8d}e@example.com".into()),
            ..base.clone()
        }),
        "from_address"
    );
    assert_eq!(
        field_of(AccountSettings {
            from_name: Some("Me\u{1b}[31m".into()),
            ..base.clone()
        }),
        "from_name"
    );
    for fine in ["mail.example.com", "[192.0.2.1]", "[IPv6:2001:db8::1]", "bücher.de"] {
        assert_eq!(
            AccountSettings {
                helo_name: Some(fine.into()),
                ..base.clone()
            }
            .validate()
            .map_err(|e| e.to_string()),
            Ok(()),
            "{fine}"
        );
    }
}

// ---- item 18: international addresses ----------------------------------------

/// [`ordinary`], with SMTPUTF8 in the EHLO reply when `utf8`.
fn international(utf8: bool) -> impl Fn(&Heard) -> Say + Send + Sync + 'static {
    move |heard| match heard {
        Heard::Line(line) if line.starts_with("EHLO") && utf8 => {
            Say::text("250-raw.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
        }
        // As a real server does: raw UTF-8 without SMTPUTF8 is refused.
        Heard::Line(line) if (line.starts_with("MAIL") || line.starts_with("RCPT")) && !line.is_ascii() => {
            if utf8 && line.starts_with("MAIL") && line.ends_with(" SMTPUTF8") {
                Say::text("250 2.1.0 Ok\r\n")
            } else if utf8 && line.starts_with("RCPT") {
                Say::text("250 2.1.5 Ok\r\n")
            } else {
                Say::text("553 5.6.7 non-ASCII address without SMTPUTF8\r\n")
            }
        }
        other => ordinary(other),
    }
}

#[tokio::test]
async fn idn_domains_go_out_punycoded_in_the_envelope_and_the_headers() {
    let peer = RawPeer::start(international(false)).await;
    let fixture = fixture(
        &["user@bücher.de".to_owned(), "plain@example.org".to_owned()],
        peer.port(),
    )
    .await;
    let report = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert_eq!(report.counts.sent, 2, "{report:?}");
    let log = peer.log();
    assert!(
        log.lines.iter().any(|l| l == "RCPT TO:<user@xn--bcher-kva.de>"),
        "{:?}",
        log.lines
    );
    assert!(log.lines.iter().all(|l| l.is_ascii()), "{:?}", log.lines);
    for content in &log.contents {
        let text = String::from_utf8_lossy(content);
        let headers = text.split("\r\n\r\n").next().unwrap_or("");
        assert!(headers.is_ascii(), "headers are ASCII without SMTPUTF8: {headers}");
    }
    let to_bucher = log
        .contents
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .find(|c| c.contains("To: user@xn--bcher-kva.de"));
    assert!(to_bucher.is_some(), "the To: header is punycoded");
}

#[tokio::test]
async fn a_non_ascii_local_part_uses_smtputf8_when_offered() {
    let peer = RawPeer::start(international(true)).await;
    let fixture = fixture(&["用户@例子.广告".to_owned()], peer.port()).await;
    let report = run(&fixture).await;
    assert_eq!(report.counts.sent, 1, "{report:?}");
    let log = peer.log();
    let mail = log
        .lines
        .iter()
        .find(|l| l.starts_with("MAIL"))
        .cloned()
        .unwrap_or_default();
    assert!(mail.ends_with(" SMTPUTF8"), "{mail}");
    assert!(
        log.lines.iter().any(|l| l == "RCPT TO:<用户@xn--fsqu00a.xn--4rr70v>"),
        "the domain is punycoded, the local part is UTF-8: {:?}",
        log.lines
    );
}

#[tokio::test]
async fn a_non_ascii_local_part_without_smtputf8_fails_only_that_recipient() {
    let peer = RawPeer::start(international(false)).await;
    let fixture = fixture(
        &[
            "用户@例子.广告".to_owned(),
            "first@example.org".to_owned(),
            "second@example.org".to_owned(),
        ],
        peer.port(),
    )
    .await;
    let report = run(&fixture).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert_eq!((report.counts.sent, report.counts.failed), (2, 1), "{report:?}");
    let failed = recipients(&fixture)
        .await
        .into_iter()
        .find(|r| r.status == RecipientStatus::Failed)
        .unwrap_or_else(|| panic!("one failed"));
    assert_eq!(failed.email, "用户@例子.广告");
    let reason = failed.reason.map(|r| r.to_string()).unwrap_or_default();
    assert!(reason.contains("SMTPUTF8"), "{reason}");
    assert_eq!(failed.attempts, 1, "not retried: it is permanent");
    let log = peer.log();
    assert!(log.lines.iter().all(|l| l.is_ascii()), "{:?}", log.lines);
    assert_eq!(log.contents.len(), 2);
}

// ---- item 19: STARTTLS that does not start TLS --------------------------------

#[tokio::test]
async fn garbage_after_starttls_does_not_advise_choosing_starttls() {
    for pieces in [
        // Plain text where the handshake should be.
        vec![
            (Duration::ZERO, b"220 2.0.0 Ready to start TLS\r\n".to_vec()),
            (Duration::from_millis(100), b"this is not TLS at all\r\n".to_vec()),
        ],
        // Plain text right behind the 220, before the handshake.
        vec![(
            Duration::ZERO,
            b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n".to_vec(),
        )],
    ] {
        let peer = RawPeer::start(move |heard| match heard {
            Heard::Line(line) if line.starts_with("EHLO") => Say::text("250-raw.test\r\n250 STARTTLS\r\n"),
            Heard::Line(line) if line == "STARTTLS" => Say::Paced(pieces.clone()),
            other => ordinary(other),
        })
        .await;
        let diagnosis = diagnose(
            ConnectionSettings {
                security: Security::Starttls,
                ..settings(peer.port())
            },
            None,
        )
        .await;
        assert!(!diagnosis.ok);
        let failed = diagnosis.stages.last().unwrap_or_else(|| panic!("no stages"));
        assert_eq!(failed.stage, Stage::Tls, "{diagnosis:#?}");
        assert_eq!(diagnosis.problem.map(|p| p.as_str()), Some("starttls_failed"));
        assert!(
            !diagnosis.verdict().contains("Choose \"STARTTLS\""),
            "the account already uses STARTTLS: {}",
            diagnosis.verdict()
        );
    }
}

// ---- campaign fixture ---------------------------------------------------------

struct Fixture {
    _dir: TempDir,
    store: Store,
    secrets: SecretStore,
    campaign: i64,
}

/// A campaign to `addresses` with a short message, and account "test" on
/// loopback `port`: no TLS, no login, one connection, quick timeouts.
async fn fixture(addresses: &[String], port: u16) -> Fixture {
    let dir = tempfile::tempdir().expect("test step");
    let store = Store::open(&dir.path().join("mailroom.db")).await.expect("test step");
    let secrets = SecretStore::EncryptedFile {
        dir: dir.path().to_owned(),
    };
    let mut csv = String::from("email,name\n");
    for (i, address) in addresses.iter().enumerate() {
        csv.push_str(&format!("{address},Név {i}\n"));
    }
    let campaign = campaign_with_message(
        &store,
        dir.path(),
        "list",
        &csv,
        "Grüße, {{ name }}",
        "Hello {{ name }}.\n",
    )
    .await;
    let settings = AccountSettings {
        from_name: Some("Zoë Ñews".to_owned()),
        per_connection: 50,
        retries: 2,
        ..local_account("test", port)
    };
    add_account(&store, &secrets, settings, None).await.expect("test step");
    Fixture {
        _dir: dir,
        store,
        secrets,
        campaign,
    }
}

async fn run(fixture: &Fixture) -> RunReport {
    let events: Arc<Mutex<Vec<CampaignEvent>>> = Arc::default();
    let sink_events = events.clone();
    let sink = Arc::new(move |event: &CampaignEvent| sink_events.lock().expect("test step").push(event.clone()));
    let options = RunOptions {
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(100),
        connect_attempts: 3,
        ..RunOptions::default()
    };
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
    .unwrap_or_else(|e| panic!("run failed: {e}"))
}

async fn recipients(fixture: &Fixture) -> Vec<Recipient> {
    fixture
        .store
        .recipients(fixture.campaign, None, 0, u64::MAX)
        .await
        .expect("test step")
}
