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
use crate::smtp::Security;
use crate::smtp::diagnose::StageOutcome;
use crate::smtp::tls::TlsSummary;

/// One step's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct MailboxStageReport {
    pub stage: MailboxStage,
    pub outcome: StageOutcome,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub duration_ms: u64,
    /// What happened: "imap.example.com → 192.0.2.1", "* OK Dovecot ready",
    /// "INBOX: 1,204 messages".
    pub detail: String,
    pub problem: Option<MailboxProblem>,
    pub advice: Option<String>,
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
    /// One sentence: it works, or what failed and what to try.
    pub verdict: String,
}

/// Runs every step in order; `on_stage` sees each report as it completes.
pub async fn test_connection(
    settings: &ImapSettings,
    cancel: CancellationToken,
    mut on_stage: impl FnMut(&MailboxStageReport) + Send,
) -> MailboxDiagnosis {
    let mut run = Run {
        settings,
        stages: Vec::new(),
        cancel,
    };
    let result = run.steps(&mut on_stage).await;
    let (ok, problem, verdict) = match result {
        Ok(()) => (
            true,
            None,
            "Everything works: Mailroom can read this mailbox for bounces.".to_owned(),
        ),
        Err(failure) => (
            false,
            Some(failure.problem),
            failure.advice(&settings.host, settings.port),
        ),
    };
    MailboxDiagnosis {
        host: settings.host.clone(),
        port: settings.port,
        ok,
        stages: run.stages,
        problem,
        verdict,
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
        on_stage: &mut (impl FnMut(&MailboxStageReport) + Send),
        step: impl Future<Output = Result<T, MailboxFailure>>,
        describe: impl FnOnce(&T) -> String,
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
                advice: None,
            },
            Err(failure) => MailboxStageReport {
                stage,
                outcome: StageOutcome::Failed,
                duration_ms,
                detail: failure.text.clone(),
                problem: Some(failure.problem),
                advice: Some(failure.advice(&self.settings.host, self.settings.port)),
            },
        };
        on_stage(&report);
        self.stages.push(report);
        result
    }

    async fn steps(&mut self, on_stage: &mut (impl FnMut(&MailboxStageReport) + Send)) -> Result<(), MailboxFailure> {
        let settings = self.settings;
        let addrs = self
            .stage(MailboxStage::Dns, on_stage, client::resolve(settings), |addrs| {
                let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                format!("{} → {}", settings.host, shown.join(", "))
            })
            .await?;
        let tcp = self
            .stage(
                MailboxStage::Connect,
                on_stage,
                client::connect(settings, &addrs),
                |tcp| {
                    tcp.peer_addr()
                        .map_or_else(|_| "connected".to_owned(), |a| format!("connected to {a}"))
                },
            )
            .await?;
        let mut imap = if settings.security == Security::Tls {
            let (tls, _) = self
                .stage(
                    MailboxStage::Tls,
                    on_stage,
                    client::handshake(settings, tcp),
                    |(_, summary)| describe_tls(summary),
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
            Clone::clone,
        )
        .await?;
        if settings.security == Security::Starttls {
            let (upgraded, _) = self
                .stage(
                    MailboxStage::Tls,
                    on_stage,
                    client::starttls(settings, imap),
                    |(_, summary)| describe_tls(summary),
                )
                .await?;
            imap = upgraded;
        }
        let user = settings.username.clone();
        let mut session = self
            .stage(MailboxStage::Login, on_stage, client::login(settings, imap), |_| {
                format!("logged in as {user}")
            })
            .await?;
        let folder = settings.folder.clone();
        let selected = self
            .stage(
                MailboxStage::Select,
                on_stage,
                client::select(settings, &mut session, &settings.folder),
                |selected| {
                    format!(
                        "{folder}: {} (UIDVALIDITY {})",
                        crate::english::count(selected.exists, "message", "messages"),
                        selected
                            .uid_validity
                            .map_or_else(|| "not given".to_owned(), |v| v.to_string())
                    )
                },
            )
            .await;
        client::logout(settings, &mut session).await;
        selected.map(|_| ())
    }
}

fn describe_tls(summary: &TlsSummary) -> String {
    let mut text = summary.protocol.clone();
    if let Some(subject) = &summary.subject {
        text.push_str(&format!(", certificate {subject}"));
    }
    if let (Some(expires), Some(days)) = (&summary.expires, summary.days_left) {
        text.push_str(&format!(
            ", expires {expires} (in {})",
            crate::english::count(days, "day", "days")
        ));
    }
    text
}
