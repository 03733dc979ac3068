//! Test connection against the scripted test server, one fault at a time:
//! each must fail at the right stage with the right advice, and nothing may
//! hang. Also the built-in sandbox and a third-party server (aiosmtpd).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mailroom_e2e::smtp_server::{Script, ScriptedServer, refused_port};
use mailroom_engine::progress::{Cancellable, Ignore};
use mailroom_engine::smtp::client::{Connection, ConnectionSettings};
use mailroom_engine::smtp::diagnose::{
    Diagnosis, StageDetail, StageOutcome, StageReport, TestMessage, test_connection,
};
use mailroom_engine::smtp::{AuthMethod, FailureClass, Problem, Security, Stage};

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

async fn diagnose(settings: ConnectionSettings, message: Option<TestMessage>) -> Diagnosis {
    test_connection(Arc::new(settings), message, &Ignore).await
}

/// The stage that failed, and its problem.
fn failed_at(diagnosis: &Diagnosis) -> (Stage, Problem) {
    let failed = diagnosis
        .stages
        .iter()
        .find(|s| s.outcome == StageOutcome::Failed)
        .unwrap_or_else(|| panic!("no stage failed: {diagnosis:#?}"));
    assert!(!diagnosis.ok);
    assert_eq!(
        Some(failed),
        diagnosis.stages.last(),
        "the run must stop at the first failure"
    );
    (
        failed.stage,
        failed.problem.unwrap_or_else(|| panic!("failed without a problem")),
    )
}

fn test_message(to: &str) -> TestMessage {
    TestMessage::new(Some("Zoë 李雷"), "sender@example.com", to).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_healthy_starttls_server_with_login_passes_every_stage() {
    let server = ScriptedServer::start(Script {
        starttls: true,
        credentials: Some(("user@example.com".into(), "app-password".into())),
        ..Script::default()
    })
    .await;
    let diagnosis = diagnose(
        ConnectionSettings {
            security: Security::Starttls,
            auth: AuthMethod::Plain,
            username: Some("user@example.com".into()),
            password: Some("app-password".into()),
            accept_invalid_certs: true,
            ..settings(server.port())
        },
        Some(test_message("friend@example.org")),
    )
    .await;
    assert!(diagnosis.ok, "{diagnosis:#?}");
    let stages: Vec<Stage> = diagnosis.stages.iter().map(|s| s.stage).collect();
    assert_eq!(
        stages,
        [
            Stage::Dns,
            Stage::Connect,
            Stage::Greeting,
            Stage::Ehlo,
            Stage::Tls,
            Stage::Ehlo,
            Stage::Auth,
            Stage::Data
        ]
    );
    let first_ehlo = &diagnosis.stages[3];
    assert!(
        first_ehlo.extensions.iter().any(|e| e == "PIPELINING"),
        "{first_ehlo:?}"
    );
    assert!(first_ehlo.extensions.iter().any(|e| e == "STARTTLS"));
    let tls = &diagnosis.stages[4];
    // The session as data: the window says it in its language.
    let StageDetail::Encrypted { tls: Some(session) } = &tls.detail else {
        panic!("no TLS session in {:?}", tls.detail);
    };
    assert!(session.protocol.starts_with("TLSv1."), "{session:?}");
    assert!(session.expires.is_some() && session.days_left.is_some(), "{session:?}");
    assert!(tls.detail.to_string().contains("expires"), "{}", tls.detail);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, ["friend@example.org"]);
    let text = String::from_utf8_lossy(&received[0].data);
    assert!(text.contains("Subject: Mailroom test message"), "{text}");
    // The non-ASCII display name travels MIME-encoded, never raw.
    assert!(text.contains("From: =?utf-8?"), "{text}");
}

#[tokio::test]
async fn implicit_tls_passes_and_starts_with_the_handshake() {
    let server = ScriptedServer::start(Script {
        implicit_tls: true,
        ..Script::default()
    })
    .await;
    let diagnosis = diagnose(
        ConnectionSettings {
            security: Security::Tls,
            accept_invalid_certs: true,
            ..settings(server.port())
        },
        None,
    )
    .await;
    assert!(diagnosis.ok, "{diagnosis:#?}");
    assert_eq!(diagnosis.stages[2].stage, Stage::Tls);
}

#[tokio::test]
async fn refused_says_nothing_listens_and_names_the_ports() {
    let port = refused_port().await;
    let diagnosis = diagnose(settings(port), None).await;
    assert_eq!(failed_at(&diagnosis), (Stage::Connect, Problem::Refused));
    assert!(
        diagnosis.verdict().contains(&format!("127.0.0.1:{port}")),
        "{}",
        diagnosis.verdict()
    );
    assert!(diagnosis.verdict().contains("465") && diagnosis.verdict().contains("587"));
}

#[tokio::test]
async fn a_black_hole_times_out_at_the_greeting_with_tls_advice() {
    let server = ScriptedServer::start(Script {
        black_hole: true,
        ..Script::default()
    })
    .await;
    let diagnosis = diagnose(
        ConnectionSettings {
            command_timeout: Duration::from_millis(300),
            ..settings(server.port())
        },
        None,
    )
    .await;
    assert_eq!(failed_at(&diagnosis), (Stage::Greeting, Problem::NoGreeting));
    assert!(diagnosis.verdict().contains("implicit TLS"), "{}", diagnosis.verdict());
}

#[tokio::test]
async fn starttls_on_an_implicit_tls_port_hears_no_greeting() {
    let server = ScriptedServer::start(Script {
        implicit_tls: true,
        ..Script::default()
    })
    .await;
    let diagnosis = diagnose(
        ConnectionSettings {
            security: Security::Starttls,
            command_timeout: Duration::from_millis(300),
            ..settings(server.port())
        },
        None,
    )
    .await;
    assert_eq!(failed_at(&diagnosis), (Stage::Greeting, Problem::NoGreeting));
}

#[tokio::test]
async fn implicit_tls_on_a_plain_port_is_a_tls_mismatch() {
    let server = ScriptedServer::start(Script::default()).await;
    let diagnosis = diagnose(
        ConnectionSettings {
            security: Security::Tls,
            ..settings(server.port())
        },
        None,
    )
    .await;
    assert_eq!(failed_at(&diagnosis), (Stage::Tls, Problem::TlsMismatch));
    assert!(diagnosis.verdict().contains("STARTTLS"), "{}", diagnosis.verdict());
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused_unless_the_account_opts_in() {
    let server = ScriptedServer::start(Script {
        starttls: true,
        ..Script::default()
    })
    .await;
    let strict = diagnose(
        ConnectionSettings {
            security: Security::Starttls,
            ..settings(server.port())
        },
        None,
    )
    .await;
    assert_eq!(failed_at(&strict), (Stage::Tls, Problem::CertificateInvalid));
    assert!(
        strict.verdict().contains("Accept invalid certificate"),
        "{}",
        strict.verdict()
    );
}

#[tokio::test]
async fn starttls_required_but_not_offered_fails_instead_of_downgrading() {
    let server = ScriptedServer::start(Script::default()).await;
    let diagnosis = diagnose(
        ConnectionSettings {
            security: Security::Starttls,
            ..settings(server.port())
        },
        None,
    )
    .await;
    assert_eq!(failed_at(&diagnosis), (Stage::Tls, Problem::StarttlsUnavailable));
}

#[tokio::test]
async fn a_wrong_password_is_535_at_auth_with_provider_advice() {
    let server = ScriptedServer::start(Script {
        credentials: Some(("me".into(), "right".into())),
        ..Script::default()
    })
    .await;
    for auth in [AuthMethod::Plain, AuthMethod::Login] {
        let diagnosis = diagnose(
            ConnectionSettings {
                auth,
                username: Some("me".into()),
                password: Some("wrong".into()),
                ..settings(server.port())
            },
            None,
        )
        .await;
        assert_eq!(failed_at(&diagnosis), (Stage::Auth, Problem::AuthFailed), "{auth}");
        let auth_stage = diagnosis.stages.last().unwrap_or_else(|| panic!("no stages"));
        assert_eq!(auth_stage.code, Some(535));
        assert_eq!(auth_stage.enhanced_code.as_deref(), Some("5.7.8"));
    }
}

#[tokio::test]
async fn mail_without_login_is_530_auth_required() {
    let server = ScriptedServer::start(Script {
        credentials: Some(("me".into(), "right".into())),
        ..Script::default()
    })
    .await;
    let diagnosis = diagnose(settings(server.port()), Some(test_message("a@example.org"))).await;
    assert_eq!(failed_at(&diagnosis), (Stage::Data, Problem::AuthRequired));
    assert!(diagnosis.verdict().contains("login"), "{}", diagnosis.verdict());
}

#[tokio::test]
async fn slow_replies_beyond_the_timeout_fail_with_a_timeout() {
    let server = ScriptedServer::start(Script {
        slow_replies: Some(Duration::from_millis(600)),
        ..Script::default()
    })
    .await;
    let diagnosis = diagnose(
        ConnectionSettings {
            command_timeout: Duration::from_millis(200),
            ..settings(server.port())
        },
        None,
    )
    .await;
    assert_eq!(failed_at(&diagnosis), (Stage::Greeting, Problem::NoGreeting));
}

#[tokio::test]
async fn a_rejected_recipient_is_permanent_for_that_recipient_only() {
    let server = ScriptedServer::start(Script {
        reject_recipients: HashSet::from(["gone@example.org".to_owned()]),
        ..Script::default()
    })
    .await;
    let diagnosis = diagnose(settings(server.port()), Some(test_message("gone@example.org"))).await;
    assert_eq!(failed_at(&diagnosis), (Stage::Data, Problem::Rejected));
    assert!(server.received().is_empty());

    // The same connection stays usable after the refusal (RSET).
    let mut connection = Connection::open(Arc::new(settings(server.port())))
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let message = test_message("gone@example.org");
    let refusal = connection
        .send(&message.from, &["gone@example.org"], &message.bytes)
        .await
        .err()
        .unwrap_or_else(|| panic!("the recipient should be refused"));
    assert_eq!((refusal.stage, refusal.code), (Stage::Rcpt, Some(550)));
    assert_eq!(refusal.class(), FailureClass::PermanentForRecipient);
    let accepted = connection
        .send(&message.from, &["fine@example.org"], &message.bytes)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(accepted.code, 250);
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn throttling_and_closing_servers_give_transient_failures() {
    let server = ScriptedServer::start(Script {
        throttle_above_per_second: Some(2),
        ..Script::default()
    })
    .await;
    let mut connection = Connection::open(Arc::new(settings(server.port())))
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let message = test_message("a@example.org");
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(connection.send(&message.from, &["a@example.org"], &message.bytes).await);
    }
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
    let throttled = outcomes[2]
        .clone()
        .err()
        .unwrap_or_else(|| panic!("the third should be throttled"));
    assert_eq!((throttled.problem, throttled.code), (Problem::Throttled, Some(454)));
    assert_eq!(throttled.class(), FailureClass::Transient);

    let closing = ScriptedServer::start(Script {
        close_after_messages: Some(1),
        ..Script::default()
    })
    .await;
    let mut connection = Connection::open(Arc::new(settings(closing.port())))
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    assert!(
        connection
            .send(&message.from, &["a@example.org"], &message.bytes)
            .await
            .is_ok()
    );
    let closed = connection
        .send(&message.from, &["b@example.org"], &message.bytes)
        .await
        .err()
        .unwrap_or_else(|| panic!("the second message should meet a 421"));
    assert_eq!(closed.code, Some(421), "{closed}");
    assert_eq!(closed.class(), FailureClass::Transient);
}

#[tokio::test]
async fn a_reset_after_data_is_a_lost_connection_and_transient() {
    let server = ScriptedServer::start(Script {
        reset_after_data: Some((1.0, 7)),
        ..Script::default()
    })
    .await;
    let mut connection = Connection::open(Arc::new(settings(server.port())))
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let message = test_message("a@example.org");
    let failure = connection
        .send(&message.from, &["a@example.org"], &message.bytes)
        .await
        .err()
        .unwrap_or_else(|| panic!("the reset should fail the send"));
    assert_eq!((failure.stage, failure.problem), (Stage::Data, Problem::ConnectionLost));
    assert_eq!(failure.class(), FailureClass::Transient);
    assert!(server.received().iter().all(|r| r.reset));
}

#[tokio::test]
async fn dns_failure_is_reported_at_the_dns_stage() {
    let diagnosis = diagnose(
        ConnectionSettings {
            host: "no-such-host.invalid".to_owned(),
            connect_timeout: Duration::from_secs(3),
            ..settings(25)
        },
        None,
    )
    .await;
    assert_eq!(failed_at(&diagnosis), (Stage::Dns, Problem::DnsFailed));
    assert!(diagnosis.verdict().contains("no-such-host.invalid"));
}

/// Cancel answers at once, even while a connect would wait a minute. The
/// clock is tokio's paused clock: it only moves when every task waits, so the
/// figure below is the time the diagnosis took as the runtime counts it.
#[tokio::test(start_paused = true)]
async fn cancel_ends_a_stalled_test_within_a_second() {
    let server = ScriptedServer::start(Script {
        black_hole: true,
        ..Script::default()
    })
    .await;
    // The window's Cancel: the session's token on a sink that would go on.
    let quiet = |_: &StageReport| {};
    let sink = Cancellable::new(&quiet);
    let cancel = sink.token();
    let slow = ConnectionSettings {
        connect_timeout: Duration::from_secs(60),
        command_timeout: Duration::from_secs(60),
        ..settings(server.port())
    };
    let started = tokio::time::Instant::now();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        canceller.cancel();
    });
    let diagnosis = test_connection(Arc::new(slow), None, &sink).await;
    let elapsed = started.elapsed();
    assert_eq!(failed_at(&diagnosis).1, Problem::Cancelled);
    assert!(elapsed < Duration::from_secs(1), "cancel took {elapsed:?}");
}

/// Reads lines from a raw test peer until one is the command `last`, within 5 s; a
/// client that waits for a reply the peer withholds fails here, not hangs.
async fn lines_until(reader: &mut tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>, last: &str) -> Vec<String> {
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await;
        match read {
            Ok(Ok(n)) if n > 0 => {}
            other => panic!("waiting for {last:?} after {lines:?}: {other:?}"),
        }
        let line = line.trim_end().to_owned();
        let done = line == last || line.starts_with(&format!("{last} "));
        lines.push(line);
        if done {
            return lines;
        }
    }
}

/// RFC 2920 lets content open a pipelined group: the next envelope travels
/// with the previous message's content, before its 250. The peer here
/// withholds that 250 until the next envelope has arrived, so a client that
/// waited for it would fail. The answers are sorted out right: the first
/// message's 250, then the second recipient's 550 (and RSET after it).
#[tokio::test]
async fn the_next_envelope_goes_out_with_the_content_before_its_reply() {
    use tokio::io::AsyncWriteExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let peer = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        let (read, mut write) = socket.into_split();
        let mut reader = tokio::io::BufReader::new(read);
        write.write_all(b"220 raw peer\r\n").await.expect("greet");
        lines_until(&mut reader, "EHLO").await;
        write
            .write_all(b"250-raw peer\r\n250 PIPELINING\r\n")
            .await
            .expect("ehlo");
        let first = lines_until(&mut reader, "DATA").await;
        write
            .write_all(b"250 ok\r\n250 ok\r\n354 go on\r\n")
            .await
            .expect("354");
        let content = lines_until(&mut reader, ".").await;
        // No 250 yet: the next envelope must come without it.
        let second = lines_until(&mut reader, "DATA").await;
        write
            .write_all(b"250 2.0.0 queued as 1\r\n250 ok\r\n550 5.1.1 no such user\r\n554 no valid recipients\r\n")
            .await
            .expect("replies");
        let reset = lines_until(&mut reader, "RSET").await;
        write.write_all(b"250 reset\r\n").await.expect("rset");
        (first, content, second, reset)
    });
    let mut connection = Connection::open(Arc::new(ConnectionSettings {
        helo_name: Some("client.test".to_owned()),
        ..settings(port)
    }))
    .await
    .unwrap_or_else(|f| panic!("{f}"));
    assert!(connection.can_begin_with_content());
    let message = test_message("one@example.org");
    connection
        .begin(&message.from, &["one@example.org"], message.bytes.len())
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let (first, second) = connection
        .finish_and_begin(
            &message.bytes,
            (&message.from, &["gone@example.org"], message.bytes.len()),
        )
        .await;
    let first = first.unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(
        (first.code, first.lines.join(" ")),
        (250, "2.0.0 queued as 1".to_owned())
    );
    let refusal = second
        .unwrap_or_else(|| panic!("the second envelope was answered"))
        .err()
        .unwrap_or_else(|| panic!("the second recipient should be refused"));
    assert_eq!((refusal.stage, refusal.code), (Stage::Rcpt, Some(550)));
    let (first, content, second, reset) = peer.await.expect("peer");
    assert_eq!(
        first,
        [
            "MAIL FROM:<".to_owned() + &message.from + ">",
            "RCPT TO:<one@example.org>".to_owned(),
            "DATA".to_owned()
        ]
    );
    assert!(
        content.len() > 3,
        "the content came before the next envelope: {content:?}"
    );
    assert_eq!(
        second,
        [
            "MAIL FROM:<".to_owned() + &message.from + ">",
            "RCPT TO:<gone@example.org>".to_owned(),
            "DATA".to_owned()
        ]
    );
    assert_eq!(reset, ["RSET"]);
}
