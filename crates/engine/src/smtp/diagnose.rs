//! Test connection: DNS → TCP → (TLS) → greeting → EHLO → (STARTTLS → EHLO)
//! → AUTH → (a real test message), each timed, stopping at the first failure
//! with a verdict a person can act on. Cancellable at any point.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::client::{self, Connection, ConnectionSettings};
use super::failure::{Failure, Problem, Stage, describe_duration};
use super::{AuthMethod, Security};

/// How one stage went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum StageOutcome {
    Passed,
    /// Passed, with something a person should know (no encryption offered, ...).
    Warning,
    Failed,
}

/// One stage's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct StageReport {
    pub stage: Stage,
    pub outcome: StageOutcome,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub duration_ms: u64,
    /// What happened: "127.0.0.1:2525", "220 mx ESMTP", "TLSv1.3, CN=...".
    pub detail: String,
    /// On failure: what kind, the server's code, and what to try.
    pub problem: Option<Problem>,
    pub code: Option<u16>,
    pub enhanced_code: Option<String>,
    pub advice: Option<String>,
    /// EHLO only: the extensions the server advertised.
    pub extensions: Vec<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Diagnosis {
    pub host: String,
    pub port: u16,
    pub ok: bool,
    pub stages: Vec<StageReport>,
    /// The failed stage's problem, when one failed.
    pub problem: Option<Problem>,
    /// One sentence: "Everything works" or what failed and what to try.
    pub verdict: String,
}

/// A message to send as the last stage ("Send test message").
#[derive(Debug, Clone)]
pub struct TestMessage {
    pub from: String,
    pub to: String,
    /// The complete RFC 5322 message.
    pub bytes: Vec<u8>,
}

impl TestMessage {
    /// "Send test message": a short plain-text message from the account's
    /// sender to `to`, with proper MIME encoding of any non-ASCII name and
    /// the addresses' domains in ASCII (IDNA), as campaign mail has them.
    pub fn new(from_name: Option<&str>, from: &str, to: &str) -> Result<TestMessage, String> {
        let in_ascii = |mailbox: lettre::message::Mailbox, what: &str, given: &str| {
            let wire = crate::address::for_wire(mailbox.email.as_ref())
                .map_err(|e| format!("{what} {given} is not valid: {e}"))?;
            let email = wire
                .text
                .parse()
                .map_err(|e| format!("{what} {given} is not valid: {e}"))?;
            Ok::<_, String>(lettre::message::Mailbox::new(mailbox.name, email))
        };
        let from_mailbox = in_ascii(
            lettre::message::Mailbox::new(
                from_name.map(str::to_owned),
                from.parse()
                    .map_err(|e| format!("the sender address {from} is not valid: {e}"))?,
            ),
            "the sender address",
            from,
        )?;
        let to_mailbox: lettre::message::Mailbox = to
            .parse()
            .map_err(|e| format!("the test address {to} is not valid: {e}"))?;
        // The envelope takes the bare address, however it was written.
        let to_address = to_mailbox.email.to_string();
        let to_mailbox = in_ascii(to_mailbox, "the test address", to)?;
        // A fresh Message-ID per test (campaign messages get stable ones).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let domain = from_mailbox.email.domain().to_owned();
        let message = lettre::Message::builder()
            .message_id(Some(format!("<test.{nanos:x}.{}@{domain}>", std::process::id())))
            .from(from_mailbox)
            .to(to_mailbox)
            .subject("Mailroom test message")
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(
                "This is a test message from Mailroom.\r\n\r\nIf you can read it, this account can send mail.\r\n"
                    .to_owned(),
            )
            .map_err(|e| format!("cannot build the test message: {e}"))?;
        Ok(TestMessage {
            from: from.to_owned(),
            to: to_address,
            bytes: message.formatted(),
        })
    }
}

/// Runs every stage in order; `on_stage` sees each report as it completes.
pub async fn test_connection(
    settings: Arc<ConnectionSettings>,
    message: Option<TestMessage>,
    cancel: CancellationToken,
    mut on_stage: impl FnMut(&StageReport) + Send,
) -> Diagnosis {
    let mut run = Run {
        settings: settings.clone(),
        stages: Vec::new(),
        cancel,
    };
    let result = run.stages(message, &mut on_stage).await;
    let (ok, problem, verdict) = match result {
        Ok(()) => (
            true,
            None,
            "Everything works: Mailroom can send mail with this account.".to_owned(),
        ),
        Err(failure) => (
            false,
            Some(failure.problem),
            failure.advice(&settings.host, settings.port),
        ),
    };
    Diagnosis {
        host: settings.host.clone(),
        port: settings.port,
        ok,
        stages: run.stages,
        problem,
        verdict,
    }
}

struct Run {
    settings: Arc<ConnectionSettings>,
    stages: Vec<StageReport>,
    cancel: CancellationToken,
}

impl Run {
    /// Times `step`, records its report and passes its value on; a failure
    /// (or a cancel) is recorded and ends the run.
    async fn stage<T>(
        &mut self,
        stage: Stage,
        on_stage: &mut (impl FnMut(&StageReport) + Send),
        step: impl Future<Output = Result<T, Failure>>,
        describe: impl FnOnce(&T) -> (StageOutcome, String, Vec<String>),
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Failure::cancelled(stage)),
            result = step => result,
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let report = match &result {
            Ok(value) => {
                let (outcome, detail, extensions) = describe(value);
                StageReport {
                    stage,
                    outcome,
                    duration_ms,
                    detail,
                    problem: None,
                    code: None,
                    enhanced_code: None,
                    advice: None,
                    extensions,
                }
            }
            Err(failure) => StageReport {
                stage,
                outcome: StageOutcome::Failed,
                duration_ms,
                detail: failure.to_string(),
                problem: Some(failure.problem),
                code: failure.code,
                enhanced_code: failure.enhanced_code.clone(),
                advice: Some(failure.advice(&self.settings.host, self.settings.port)),
                extensions: Vec::new(),
            },
        };
        on_stage(&report);
        self.stages.push(report);
        result
    }

    async fn stages(
        &mut self,
        message: Option<TestMessage>,
        on_stage: &mut (impl FnMut(&StageReport) + Send),
    ) -> Result<(), Failure> {
        let settings = self.settings.clone();
        let addrs = self
            .stage(
                Stage::Dns,
                on_stage,
                client::resolve(&settings.host, settings.port, settings.connect_timeout),
                |addrs: &Vec<SocketAddr>| {
                    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                    (
                        StageOutcome::Passed,
                        format!("{} → {}", settings.host, shown.join(", ")),
                        Vec::new(),
                    )
                },
            )
            .await?;
        let tcp = self
            .stage(
                Stage::Connect,
                on_stage,
                client::connect_tcp(&addrs, settings.connect_timeout),
                |tcp: &tokio::net::TcpStream| {
                    let peer = tcp
                        .peer_addr()
                        .map_or_else(|_| "connected".to_owned(), |a| a.to_string());
                    (StageOutcome::Passed, format!("connected to {peer}"), Vec::new())
                },
            )
            .await?;
        let mut connection = if settings.security == Security::Tls {
            self.stage(
                Stage::Tls,
                on_stage,
                Connection::start(tcp, settings.clone()),
                |c: &Connection| (StageOutcome::Passed, describe_tls(c), Vec::new()),
            )
            .await?
        } else {
            // Plain text until STARTTLS: nothing to time yet.
            Connection::start(tcp, settings.clone()).await?
        };
        self.stage(Stage::Greeting, on_stage, connection.read_greeting(), |reply| {
            (StageOutcome::Passed, reply.to_string(), Vec::new())
        })
        .await?;
        let ehlo_outcome = |c: &super::client::Extensions| {
            // Unencrypted on loopback (the sandbox) never leaves this computer.
            let loopback = settings.host == "localhost"
                || settings
                    .host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            let warning = settings.security == Security::None && c.starttls() && !loopback;
            (
                if warning {
                    StageOutcome::Warning
                } else {
                    StageOutcome::Passed
                },
                if warning {
                    "the server offers STARTTLS, but this account is set to send unencrypted".to_owned()
                } else {
                    summarise_extensions(c)
                },
                c.keywords.clone(),
            )
        };
        self.stage(
            Stage::Ehlo,
            on_stage,
            async { connection.ehlo().await.cloned() },
            ehlo_outcome,
        )
        .await?;
        if settings.security == Security::Starttls {
            connection = self
                .stage(Stage::Tls, on_stage, connection.starttls(), |c: &Connection| {
                    (StageOutcome::Passed, describe_tls(c), Vec::new())
                })
                .await?;
            self.stage(
                Stage::Ehlo,
                on_stage,
                async { connection.ehlo().await.cloned() },
                ehlo_outcome,
            )
            .await?;
        }
        if settings.auth != AuthMethod::None && settings.username.is_some() {
            let user = settings.username.clone().unwrap_or_default();
            self.stage(Stage::Auth, on_stage, connection.authenticate(), |mechanism| {
                (
                    StageOutcome::Passed,
                    format!("logged in as {user} ({})", mechanism.unwrap_or("no login needed")),
                    Vec::new(),
                )
            })
            .await?;
        }
        if let Some(message) = message {
            let to = message.to.clone();
            self.stage(
                Stage::Data,
                on_stage,
                connection.send(&message.from, &[message.to.as_str()], &message.bytes),
                |reply| (StageOutcome::Passed, format!("sent to {to}: {reply}"), Vec::new()),
            )
            .await?;
        }
        connection.quit().await;
        Ok(())
    }
}

fn describe_tls(connection: &Connection) -> String {
    let Some(tls) = connection.tls() else {
        return "encrypted".to_owned();
    };
    let mut text = tls.protocol.clone();
    if let Some(subject) = &tls.subject {
        text.push_str(&format!(", certificate {subject}"));
    }
    if let (Some(expires), Some(days)) = (&tls.expires, tls.days_left) {
        text.push_str(&format!(", expires {expires} (in {days} days)"));
    }
    text
}

fn summarise_extensions(extensions: &super::client::Extensions) -> String {
    let mut parts = Vec::new();
    for keyword in &extensions.keywords {
        let word = keyword.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match word.as_str() {
            "SIZE" => match extensions.max_size() {
                Some(size) => parts.push(format!("SIZE {} MB", size / 1_000_000)),
                None => parts.push("SIZE".to_owned()),
            },
            "AUTH" => parts.push(format!("AUTH {}", extensions.auth_mechanisms().join(" "))),
            "" => {}
            _ => parts.push(word),
        }
    }
    if parts.is_empty() {
        "no extensions".to_owned()
    } else {
        parts.join(", ")
    }
}

/// "2.1 s" for a report line.
pub fn format_duration_ms(ms: u64) -> String {
    describe_duration(std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration_ms(12), "12 ms");
        assert_eq!(format_duration_ms(2000), "2 s");
        assert_eq!(format_duration_ms(2150), "2.1 s");
    }
}
