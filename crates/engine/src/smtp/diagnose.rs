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
use super::tls::TlsSummary;
use super::{AuthMethod, Security};
use crate::progress::{Coalesce, Flow, Kind, Sink};

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
    /// What happened, as data: the addresses found, the peer, the TLS
    /// session, the server's greeting, its extensions, the login, or the
    /// failure. Its `Display` is the CLI's English.
    pub detail: StageDetail,
    /// On failure: what kind, the server's code, and what to try.
    pub problem: Option<Problem>,
    pub code: Option<u16>,
    pub enhanced_code: Option<String>,
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
}

impl Diagnosis {
    /// How the stage that failed failed, when one did.
    pub fn failure(&self) -> Option<&Failure> {
        self.stages.iter().rev().find_map(|stage| match &stage.detail {
            StageDetail::Failed { failure } => Some(failure),
            _ => None,
        })
    }

    /// One English sentence for the CLI: "Everything works", or what failed
    /// and what to try (the window says it from `ok` and `problem`).
    pub fn verdict(&self) -> String {
        match self.failure() {
            _ if self.ok => "Everything works: Mailroom can send mail with this account.".to_owned(),
            Some(failure) => failure.advice(&self.host, self.port),
            None => "The test stopped before it finished.".to_owned(),
        }
    }
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

/// Runs every stage in order; `on_stage` is pushed each report as it
/// completes. Its stop signal cancels the stage under way (which ends the
/// run as a "cancelled" stage); its [`Flow::Stop`] cancels the next.
pub async fn test_connection(
    settings: Arc<ConnectionSettings>,
    message: Option<TestMessage>,
    on_stage: &dyn Sink<StageReport>,
) -> Diagnosis {
    let mut run = Run {
        settings: settings.clone(),
        stages: Vec::new(),
        cancel: on_stage.stop_signal().child_token(),
    };
    let result = run.stages(message, on_stage).await;
    let (ok, problem) = match result {
        Ok(()) => (true, None),
        Err(failure) => (false, Some(failure.problem)),
    };
    Diagnosis {
        host: settings.host.clone(),
        port: settings.port,
        ok,
        stages: run.stages,
        problem,
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
        on_stage: &dyn Sink<StageReport>,
        step: impl Future<Output = Result<T, Failure>>,
        describe: impl FnOnce(&T) -> (StageOutcome, StageDetail, Vec<String>),
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
                    extensions,
                }
            }
            Err(failure) => StageReport {
                stage,
                outcome: StageOutcome::Failed,
                duration_ms,
                detail: StageDetail::Failed {
                    failure: failure.clone(),
                },
                problem: Some(failure.problem),
                code: failure.code,
                enhanced_code: failure.enhanced_code.clone(),
                extensions: Vec::new(),
            },
        };
        if on_stage.event(&report) == Flow::Stop {
            self.cancel.cancel();
        }
        self.stages.push(report);
        result
    }

    async fn stages(&mut self, message: Option<TestMessage>, on_stage: &dyn Sink<StageReport>) -> Result<(), Failure> {
        let settings = self.settings.clone();
        let addrs = self
            .stage(
                Stage::Dns,
                on_stage,
                client::resolve(&settings.host, settings.port, settings.connect_timeout),
                |addrs: &Vec<SocketAddr>| {
                    let addresses: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                    (
                        StageOutcome::Passed,
                        StageDetail::Resolved {
                            host: settings.host.clone(),
                            addresses,
                        },
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
                    let peer = tcp.peer_addr().ok().map(|a| a.to_string());
                    (StageOutcome::Passed, StageDetail::Connected { peer }, Vec::new())
                },
            )
            .await?;
        let mut connection = if settings.security == Security::Tls {
            self.stage(
                Stage::Tls,
                on_stage,
                Connection::start(tcp, settings.clone()),
                |c: &Connection| {
                    (
                        StageOutcome::Passed,
                        StageDetail::Encrypted { tls: c.tls().cloned() },
                        Vec::new(),
                    )
                },
            )
            .await?
        } else {
            // Plain text until STARTTLS: nothing to time yet.
            Connection::start(tcp, settings.clone()).await?
        };
        self.stage(Stage::Greeting, on_stage, connection.read_greeting(), |reply| {
            (
                StageOutcome::Passed,
                StageDetail::Greeting {
                    reply: reply.to_string(),
                },
                Vec::new(),
            )
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
                    StageDetail::StarttlsUnused
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
                    (
                        StageOutcome::Passed,
                        StageDetail::Encrypted { tls: c.tls().cloned() },
                        Vec::new(),
                    )
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
                    StageDetail::LoggedIn {
                        user,
                        mechanism: mechanism.map(str::to_owned),
                    },
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
                |reply| {
                    (
                        StageOutcome::Passed,
                        StageDetail::Sent {
                            to,
                            reply: reply.to_string(),
                        },
                        Vec::new(),
                    )
                },
            )
            .await?;
        }
        connection.quit().await;
        Ok(())
    }
}

/// What a stage found, as data; front ends say it in their language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum StageDetail {
    /// The host's name found these addresses.
    Resolved { host: String, addresses: Vec<String> },
    /// Connected (to `peer`, when the system says which).
    Connected { peer: Option<String> },
    /// Encrypted; the session and certificate, when known.
    Encrypted { tls: Option<TlsSummary> },
    /// The server's greeting, verbatim.
    Greeting { reply: String },
    /// The extensions the server offers: keywords (with AUTH's
    /// mechanisms), and SIZE's limit in bytes apart, for the front end to format.
    Extensions {
        keywords: Vec<String>,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
        max_size: Option<u64>,
    },
    /// The server offers STARTTLS, but the account sends unencrypted.
    StarttlsUnused,
    /// Logged in as `user` with `mechanism` (none: no login was needed).
    LoggedIn { user: String, mechanism: Option<String> },
    /// The test message went to `to`; the server's answer, verbatim.
    Sent { to: String, reply: String },
    /// The stage failed.
    Failed { failure: Failure },
}

/// English, for the CLI.
impl std::fmt::Display for StageDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StageDetail::Resolved { host, addresses } => write!(f, "{host} → {}", addresses.join(", ")),
            StageDetail::Connected { peer } => match peer {
                Some(peer) => write!(f, "connected to {peer}"),
                None => f.write_str("connected"),
            },
            StageDetail::Encrypted { tls } => f.write_str(&describe_tls(tls.as_ref())),
            StageDetail::Greeting { reply } => f.write_str(reply),
            StageDetail::Extensions { keywords, max_size } => {
                let mut parts = keywords.clone();
                if let Some(size) = max_size {
                    parts.push(format!("SIZE {} MB", size / 1_000_000));
                }
                if parts.is_empty() {
                    f.write_str("no extensions")
                } else {
                    f.write_str(&parts.join(", "))
                }
            }
            StageDetail::StarttlsUnused => {
                f.write_str("the server offers STARTTLS, but this account is set to send unencrypted")
            }
            StageDetail::LoggedIn { user, mechanism } => write!(
                f,
                "logged in as {user} ({})",
                mechanism.as_deref().unwrap_or("no login needed")
            ),
            StageDetail::Sent { to, reply } => write!(f, "sent to {to}: {reply}"),
            StageDetail::Failed { failure } => write!(f, "{failure}"),
        }
    }
}

pub(crate) fn describe_tls(tls: Option<&TlsSummary>) -> String {
    let Some(tls) = tls else {
        return "encrypted".to_owned();
    };
    let mut text = tls.protocol.clone();
    if let Some(subject) = &tls.subject {
        text.push_str(&format!(", certificate {subject}"));
    }
    if let (Some(expires), Some(days)) = (&tls.expires, tls.days_left) {
        text.push_str(&format!(
            ", expires {expires} (in {})",
            crate::english::count(days, "day", "days")
        ));
    }
    text
}

fn summarise_extensions(extensions: &super::client::Extensions) -> StageDetail {
    let mut keywords = Vec::new();
    let mut max_size = None;
    for keyword in &extensions.keywords {
        let word = keyword.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        match word.as_str() {
            "SIZE" => match extensions.max_size() {
                Some(size) => max_size = Some(size),
                None => keywords.push("SIZE".to_owned()),
            },
            "AUTH" => keywords.push(format!("AUTH {}", extensions.auth_mechanisms().join(" "))),
            "" => {}
            _ => keywords.push(word),
        }
    }
    StageDetail::Extensions { keywords, max_size }
}

/// "2.1 s" for a report line.
pub fn format_duration_ms(ms: u64) -> String {
    describe_duration(std::time::Duration::from_millis(ms))
}

/// Every step is worth showing: a window gets each, in order.
impl Coalesce for StageReport {
    fn kind(&self) -> Kind {
        Kind::Notable
    }
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
