//! Test connection for a mailbox: DNS → TCP → (TLS) → greeting →
//! (STARTTLS) → LOGIN → SELECT, each step timed and reported as it
//! completes, stopping at the first failure with what to try. Cancellable at
//! any point (SMTP's is the model, `smtp/diagnose.rs`).

use std::time::Instant;

use serde::Serialize;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;

use super::client::{self, ImapSettings};
use super::failure::{MailboxFailure, MailboxProblem, MailboxStage};
use crate::progress::{Coalesce, Flow, Kind, Sink};
use crate::smtp::Security;
use crate::smtp::diagnose::{StageOutcome, describe_tls};
use crate::smtp::tls::TlsSummary;

/// One step's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct MailboxStageReport {
    pub stage: MailboxStage,
    pub outcome: StageOutcome,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub duration_ms: u64,
    /// What the step found, as data; front ends say it in their language.
    pub detail: MailboxStageDetail,
    pub problem: Option<MailboxProblem>,
}

/// What a step found, as data: names, numbers and the server's own words
/// verbatim, never a sentence (the window says it in English or Chinese, the
/// CLI through `Display`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum MailboxStageDetail {
    /// The host's name found these addresses.
    Resolved { host: String, addresses: Vec<String> },
    /// Connected (to `peer`, when the system says which).
    Connected { peer: Option<String> },
    /// Encrypted: the session and certificate.
    Encrypted { tls: TlsSummary },
    /// The server's greeting, verbatim.
    Greeting { reply: String },
    /// Logged in as `user`.
    LoggedIn { user: String },
    /// The folder is open and holds `messages` messages.
    Selected {
        folder: String,
        messages: u32,
        uid_validity: Option<u32>,
    },
    /// The step failed; the failure's text is the server's or the system's
    /// words (Mailroom's own only for the kinds that have none).
    Failed { failure: MailboxFailure },
}

/// English, for the CLI (the words it printed before the detail was data).
impl std::fmt::Display for MailboxStageDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailboxStageDetail::Resolved { host, addresses } => write!(f, "{host} → {}", addresses.join(", ")),
            MailboxStageDetail::Connected { peer } => match peer {
                Some(peer) => write!(f, "connected to {peer}"),
                None => f.write_str("connected"),
            },
            MailboxStageDetail::Encrypted { tls } => f.write_str(&describe_tls(Some(tls))),
            MailboxStageDetail::Greeting { reply } => f.write_str(reply),
            MailboxStageDetail::LoggedIn { user } => write!(f, "logged in as {user}"),
            MailboxStageDetail::Selected {
                folder,
                messages,
                uid_validity,
            } => write!(
                f,
                "{folder}: {} (UIDVALIDITY {})",
                crate::english::count(*messages, "message", "messages"),
                uid_validity.map_or_else(|| "not given".to_owned(), |v| v.to_string())
            ),
            MailboxStageDetail::Failed { failure } => f.write_str(&failure.text),
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct MailboxDiagnosis {
    pub host: String,
    pub port: u16,
    pub ok: bool,
    pub stages: Vec<MailboxStageReport>,
    pub problem: Option<MailboxProblem>,
}

/// Runs every step in order; `on_stage` is pushed each report as it
/// completes. Its stop signal cancels the step under way (which ends the
/// run as a "cancelled" step); its [`Flow::Stop`] cancels the next.
pub async fn test_connection(settings: &ImapSettings, on_stage: &dyn Sink<MailboxStageReport>) -> MailboxDiagnosis {
    let mut run = Run {
        settings,
        stages: Vec::new(),
        cancel: on_stage.stop_signal().child_token(),
    };
    let result = run.steps(on_stage).await;
    let (ok, problem) = match result {
        Ok(()) => (true, None),
        Err(failure) => (false, Some(failure.problem)),
    };
    MailboxDiagnosis {
        host: settings.host.clone(),
        port: settings.port,
        ok,
        stages: run.stages,
        problem,
    }
}

struct Run<'a> {
    settings: &'a ImapSettings,
    stages: Vec<MailboxStageReport>,
    cancel: CancellationToken,
}

impl Run<'_> {
    async fn stage<T>(
        &mut self,
        stage: MailboxStage,
        on_stage: &dyn Sink<MailboxStageReport>,
        step: impl Future<Output = Result<T, MailboxFailure>>,
        describe: impl FnOnce(&T) -> MailboxStageDetail,
    ) -> Result<T, MailboxFailure> {
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(MailboxFailure::cancelled(stage)),
            result = step => result,
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let report = match &result {
            Ok(value) => MailboxStageReport {
                stage,
                outcome: StageOutcome::Passed,
                duration_ms,
                detail: describe(value),
                problem: None,
            },
            Err(failure) => MailboxStageReport {
                stage,
                outcome: StageOutcome::Failed,
                duration_ms,
                detail: MailboxStageDetail::Failed {
                    failure: failure.clone(),
                },
                problem: Some(failure.problem),
            },
        };
        if on_stage.event(&report) == Flow::Stop {
            self.cancel.cancel();
        }
        self.stages.push(report);
        result
    }

    async fn steps(&mut self, on_stage: &dyn Sink<MailboxStageReport>) -> Result<(), MailboxFailure> {
        let settings = self.settings;
        let addrs = self
            .stage(MailboxStage::Dns, on_stage, client::resolve(settings), |addrs| {
                MailboxStageDetail::Resolved {
                    host: settings.host.clone(),
                    addresses: addrs.iter().map(|a| a.ip().to_string()).collect(),
                }
            })
            .await?;
        let tcp = self
            .stage(
                MailboxStage::Connect,
                on_stage,
                client::connect(settings, &addrs),
                |tcp| MailboxStageDetail::Connected {
                    peer: tcp.peer_addr().ok().map(|a| a.to_string()),
                },
            )
            .await?;
        let mut imap = if settings.security == Security::Tls {
            let (tls, _) = self
                .stage(
                    MailboxStage::Tls,
                    on_stage,
                    client::handshake(settings, tcp),
                    |(_, summary)| MailboxStageDetail::Encrypted { tls: summary.clone() },
                )
                .await?;
            client::client(settings, Either::Right(Box::new(tls)))
        } else {
            client::client(settings, Either::Left(tcp))
        };
        self.stage(
            MailboxStage::Greeting,
            on_stage,
            client::greeting(settings, &mut imap),
            |reply| MailboxStageDetail::Greeting { reply: reply.clone() },
        )
        .await?;
        if settings.security == Security::Starttls {
            let (upgraded, _) = self
                .stage(
                    MailboxStage::Tls,
                    on_stage,
                    client::starttls(settings, imap),
                    |(_, summary)| MailboxStageDetail::Encrypted { tls: summary.clone() },
                )
                .await?;
            imap = upgraded;
        }
        let user = settings.username.clone();
        let mut session = self
            .stage(MailboxStage::Login, on_stage, client::login(settings, imap), |_| {
                MailboxStageDetail::LoggedIn { user }
            })
            .await?;
        let folder = settings.folder.clone();
        let selected = self
            .stage(
                MailboxStage::Select,
                on_stage,
                client::select(settings, &mut session, &settings.folder),
                |selected| MailboxStageDetail::Selected {
                    folder,
                    messages: selected.exists,
                    uid_validity: selected.uid_validity,
                },
            )
            .await;
        client::logout(settings, &mut session).await;
        selected.map(|_| ())
    }
}

/// Every step is worth showing: a window gets each, in order.
impl Coalesce for MailboxStageReport {
    fn kind(&self) -> Kind {
        Kind::Notable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI prints each step's detail through `Display`: the same English
    /// as when the engine wrote the sentence itself.
    #[test]
    fn details_read_as_the_cli_printed_them() {
        let tls = TlsSummary {
            protocol: "TLSv1.3".to_owned(),
            subject: Some("CN=imap.example.com".to_owned()),
            issuer: Some("CN=Example CA".to_owned()),
            expires: Some("2027-03-01".to_owned()),
            days_left: Some(1),
        };
        let cases = [
            (
                MailboxStageDetail::Resolved {
                    host: "imap.example.com".to_owned(),
                    addresses: vec!["192.0.2.1".to_owned(), "2001:db8::1".to_owned()],
                },
                "imap.example.com → 192.0.2.1, 2001:db8::1",
            ),
            (
                MailboxStageDetail::Connected {
                    peer: Some("192.0.2.1:993".to_owned()),
                },
                "connected to 192.0.2.1:993",
            ),
            (MailboxStageDetail::Connected { peer: None }, "connected"),
            (
                MailboxStageDetail::Encrypted { tls },
                "TLSv1.3, certificate CN=imap.example.com, expires 2027-03-01 (in 1 day)",
            ),
            (
                MailboxStageDetail::Encrypted {
                    tls: TlsSummary {
                        protocol: "TLSv1.2".to_owned(),
                        subject: None,
                        issuer: None,
                        expires: None,
                        days_left: None,
                    },
                },
                "TLSv1.2",
            ),
            (
                MailboxStageDetail::Greeting {
                    reply: "* OK [CAPABILITY IMAP4rev1] Dovecot ready.".to_owned(),
                },
                "* OK [CAPABILITY IMAP4rev1] Dovecot ready.",
            ),
            (
                MailboxStageDetail::LoggedIn {
                    user: "bounces@example.com".to_owned(),
                },
                "logged in as bounces@example.com",
            ),
            (
                MailboxStageDetail::Selected {
                    folder: "INBOX".to_owned(),
                    messages: 1204,
                    uid_validity: Some(1_700_000_000),
                },
                "INBOX: 1204 messages (UIDVALIDITY 1700000000)",
            ),
            (
                MailboxStageDetail::Selected {
                    folder: "Bounces".to_owned(),
                    messages: 1,
                    uid_validity: None,
                },
                "Bounces: 1 message (UIDVALIDITY not given)",
            ),
            (
                MailboxStageDetail::Failed {
                    failure: MailboxFailure::new(
                        MailboxStage::Login,
                        MailboxProblem::LoginFailed,
                        "[AUTHENTICATIONFAILED] Authentication failed.",
                    ),
                },
                "[AUTHENTICATIONFAILED] Authentication failed.",
            ),
        ];
        for (detail, english) in cases {
            assert_eq!(detail.to_string(), english, "{detail:?}");
        }
    }

    /// The window gets data, tagged by kind: numbers as numbers, the
    /// server's words as they came.
    #[test]
    fn details_serialise_as_tagged_data() {
        let selected = MailboxStageDetail::Selected {
            folder: "INBOX".to_owned(),
            messages: 1204,
            uid_validity: None,
        };
        assert_eq!(
            serde_json::to_value(&selected).expect("serialises"),
            serde_json::json!({ "kind": "selected", "folder": "INBOX", "messages": 1204, "uid_validity": null })
        );
        let failed = MailboxStageDetail::Failed {
            failure: MailboxFailure::new(
                MailboxStage::Select,
                MailboxProblem::FolderMissing,
                "Mailbox doesn't exist: Bounces",
            ),
        };
        assert_eq!(
            serde_json::to_value(&failed).expect("serialises"),
            serde_json::json!({ "kind": "failed", "failure": { "stage": "select", "problem": "folder_missing", "text": "Mailbox doesn't exist: Bounces" } })
        );
    }
}
