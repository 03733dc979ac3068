//! `mailroom mailbox …` and `mailroom bounces …`: the IMAP side of SMTP
//! accounts, its Test connection, and the bounce scan.

use std::io::{Read as _, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use mailroom_engine::english::count;
use mailroom_engine::mailbox::diagnose::{MailboxDiagnosis, MailboxStageDetail};
use mailroom_engine::mailbox::manage::MailboxPassword;
use mailroom_engine::mailbox::scan::ScanReport;
use mailroom_engine::mailbox::{Mailbox, MailboxSettings, ProcessedAction};
use mailroom_engine::smtp::Security;
use mailroom_engine::{Error, Session};
use tokio_util::sync::CancellationToken;

use crate::output::Output;
use crate::progress::StageLines;

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Add the mailbox of an SMTP account (its preset fills in the server).
    Add(Box<MailboxArgs>),
    /// Change an account's mailbox.
    Edit(Box<MailboxArgs>),
    /// Every mailbox, with where its last scan got to.
    List,
    /// Remove an account's mailbox and its password (recorded bounces stay).
    Remove { account: String },
    /// Test connection: DNS, TCP, TLS, greeting, LOGIN, SELECT, one by one.
    Test { account: String },
}

#[derive(Debug, Subcommand)]
pub enum BouncesCommand {
    /// Read new messages in the mailbox (every mailbox, or one) and record bounces and unsubscribes.
    Scan {
        /// The SMTP account whose mailbox to scan (default: all).
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// The suppression list, newest first, with each entry's reason and source.
    Suppressed {
        #[arg(long, default_value_t = 1000)]
        limit: u64,
    },
}

#[derive(Debug, Args)]
pub struct MailboxArgs {
    /// The SMTP account the mailbox belongs to.
    account: String,
    #[arg(long)]
    host: Option<String>,
    #[arg(long)]
    port: Option<u16>,
    /// tls (implicit, usually 993), starttls (usually 143) or none.
    #[arg(long)]
    security: Option<Security>,
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Read the password (or app password / 授权码) from stdin.
    #[arg(long, conflicts_with = "same_password")]
    password_stdin: bool,
    /// Use the SMTP account's password.
    #[arg(long)]
    same_password: bool,
    /// The folder notices arrive in (default INBOX).
    #[arg(long)]
    folder: Option<String>,
    /// Seconds to wait for a connection.
    #[arg(long, value_name = "S")]
    connect_timeout: Option<f64>,
    /// Seconds to wait for any answer (and for a read that stalls).
    #[arg(long, value_name = "S")]
    timeout: Option<f64>,
    /// Accept any TLS certificate (self-hosted servers only).
    #[arg(long)]
    accept_invalid_certs: bool,
    /// What to do with a recorded notice in the mailbox: leave, flag or move.
    #[arg(long)]
    processed: Option<ProcessedAction>,
    /// Where `--processed move` puts notices.
    #[arg(long, value_name = "FOLDER")]
    processed_folder: Option<String>,
    /// The soft bounce of an address (across campaigns) that suppresses it.
    #[arg(long, value_name = "N")]
    soft_limit: Option<u32>,
    /// Minutes between scans while the app runs (0: none).
    #[arg(long, value_name = "MINUTES")]
    every: Option<u32>,
}

impl MailboxArgs {
    fn apply(&self, mut settings: MailboxSettings) -> Result<MailboxSettings, Error> {
        let seconds = |field: &str, s: f64| -> Result<u64, Error> {
            if s.is_finite() && s > 0.0 {
                Ok((s * 1000.0).round() as u64)
            } else {
                Err(Error::InvalidAccount {
                    field: field.to_owned(),
                    problem: "give a number of seconds above 0".to_owned(),
                })
            }
        };
        if let Some(host) = &self.host {
            settings.host.clone_from(host);
        }
        if let Some(port) = self.port {
            settings.port = port;
        }
        if let Some(security) = self.security {
            settings.security = security;
            if self.port.is_none() {
                settings.port = match security {
                    Security::Tls => 993,
                    Security::Starttls | Security::None => 143,
                };
            }
        }
        if let Some(user) = &self.user {
            settings.username.clone_from(user);
        }
        if let Some(folder) = &self.folder {
            settings.folder.clone_from(folder);
        }
        if let Some(s) = self.connect_timeout {
            settings.connect_timeout_ms = seconds("connect_timeout_ms", s)?;
        }
        if let Some(s) = self.timeout {
            settings.command_timeout_ms = seconds("command_timeout_ms", s)?;
        }
        settings.accept_invalid_certs |= self.accept_invalid_certs;
        if let Some(processed) = self.processed {
            settings.processed = processed;
        }
        if self.processed_folder.is_some() {
            settings.processed_folder.clone_from(&self.processed_folder);
        }
        if let Some(n) = self.soft_limit {
            settings.soft_bounce_limit = n;
        }
        if let Some(n) = self.every {
            settings.scan_every_minutes = n;
        }
        Ok(settings)
    }

    fn password(&self) -> Result<MailboxPassword, Error> {
        if self.same_password {
            return Ok(MailboxPassword::SameAsSmtp);
        }
        if !self.password_stdin {
            return Ok(MailboxPassword::Keep);
        }
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .map_err(|e| Error::Internal(format!("cannot read the password from stdin: {e}")))?;
        Ok(MailboxPassword::Set(password.trim_end_matches(['\r', '\n']).to_owned()))
    }
}

pub async fn mailbox(command: MailboxCommand, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    let code = match command {
        MailboxCommand::Add(args) => {
            let settings = args.apply(session.suggested_mailbox(&args.account).await?)?;
            let mailbox = session.add_mailbox(&args.account, settings, args.password()?).await?;
            out.print(&mailbox, |w| write_mailbox(w, &mailbox))?;
            ExitCode::SUCCESS
        }
        MailboxCommand::Edit(args) => {
            let current = session.mailbox(&args.account).await?;
            let settings = args.apply(current.settings)?;
            let mailbox = session
                .update_mailbox(&args.account, settings, args.password()?)
                .await?;
            out.print(&mailbox, |w| write_mailbox(w, &mailbox))?;
            ExitCode::SUCCESS
        }
        MailboxCommand::List => {
            let mailboxes = session.mailboxes().await?;
            out.print(&mailboxes, |w| {
                if mailboxes.is_empty() {
                    writeln!(
                        w,
                        "No mailboxes yet: `mailroom mailbox add ACCOUNT` adds one to an SMTP account."
                    )?;
                }
                for mailbox in &mailboxes {
                    write_mailbox(w, mailbox)?;
                }
                Ok(())
            })?;
            ExitCode::SUCCESS
        }
        MailboxCommand::Remove { account } => {
            session.remove_mailbox(&account).await?;
            out.print(&serde_json::json!({ "removed": account }), |w| {
                writeln!(w, "Removed the mailbox of \"{account}\" and its password.")
            })?;
            ExitCode::SUCCESS
        }
        MailboxCommand::Test { account } => {
            crate::cancel_test_on_ctrl_c(&session);
            let lines = StageLines { quiet: out.is_json() };
            let diagnosis = session.test_mailbox(&account, 0, &lines).await?;
            out.print(&diagnosis, |w| write_verdict(w, &diagnosis))?;
            if diagnosis.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    };
    session.close().await;
    Ok(code)
}

pub async fn bounces(command: BouncesCommand, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    let code = match command {
        BouncesCommand::Scan { account } => {
            let cancel = cancel_on_ctrl_c();
            let reports = session.scan_mailboxes(account.as_deref(), cancel, |_, _| {}).await?;
            out.print(&reports, |w| {
                if reports.is_empty() {
                    writeln!(w, "No mailboxes to scan: `mailroom mailbox add ACCOUNT` adds one.")?;
                }
                for report in &reports {
                    write_report(w, report)?;
                }
                Ok(())
            })?;
            if reports.iter().all(|r| r.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        BouncesCommand::Suppressed { limit } => {
            let list = session.suppressions("", 0, limit).await?.entries;
            out.print(&list, |w| {
                for s in &list {
                    writeln!(w, "{}  {} [{}]", s.email, s.reason, s.source)?;
                }
                Ok(())
            })?;
            ExitCode::SUCCESS
        }
    };
    session.close().await;
    Ok(code)
}

fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    cancel
}

fn write_mailbox(w: &mut dyn Write, mailbox: &Mailbox) -> std::io::Result<()> {
    let s = &mailbox.settings;
    let password = if mailbox.has_password {
        "password stored"
    } else {
        "no password"
    };
    writeln!(
        w,
        "{}  {}:{} ({}), user {} ({password}), folder {}",
        mailbox.account, s.host, s.port, s.security, s.username, s.folder
    )?;
    let scan = &mailbox.scan;
    match scan.last_scan_at {
        Some(_) => writeln!(
            w,
            "  read up to UID {} (UIDVALIDITY {}){}",
            scan.last_uid,
            scan.uid_validity.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            scan.last_scan_error
                .as_ref()
                .map(|e| format!("; last scan stopped: {e}"))
                .unwrap_or_default()
        )?,
        None => writeln!(w, "  not scanned yet")?,
    }
    for warning in &mailbox.warnings {
        writeln!(w, "  warning: {warning}")?;
    }
    Ok(())
}

/// It works, or what to try: the failed step's advice (the engine reports
/// `ok` and the failed step as data; this is the CLI's English for them).
fn write_verdict(w: &mut dyn Write, diagnosis: &MailboxDiagnosis) -> std::io::Result<()> {
    writeln!(w)?;
    if diagnosis.ok {
        return writeln!(w, "Everything works: Mailroom can read this mailbox for bounces.");
    }
    let advice = diagnosis.stages.iter().rev().find_map(|s| match &s.detail {
        MailboxStageDetail::Failed { failure } => Some(failure.advice(&diagnosis.host, diagnosis.port)),
        _ => None,
    });
    writeln!(
        w,
        "{}",
        advice
            .as_deref()
            .unwrap_or("The mailbox cannot be read yet; see the step that failed.")
    )
}

fn write_report(w: &mut dyn Write, r: &ScanReport) -> std::io::Result<()> {
    writeln!(
        w,
        "{} ({}): {}, {}: {} hard, {} soft recorded{}",
        r.account,
        r.folder,
        count(r.messages, "new message", "new messages"),
        count(r.notices, "bounce notice", "bounce notices"),
        r.hard,
        r.soft,
        if r.already_known > 0 {
            format!(", {} already recorded", r.already_known)
        } else {
            String::new()
        }
    )?;
    if r.unmatched > 0 {
        writeln!(
            w,
            "  {} about mail Mailroom did not send",
            count(r.unmatched, "notice", "notices")
        )?;
    }
    if r.unsubscribes > 0 {
        writeln!(
            w,
            "  {}",
            count(r.unsubscribes, "unsubscribe reply", "unsubscribe replies")
        )?;
    }
    if r.uid_validity_changed {
        writeln!(
            w,
            "  the folder was renumbered (new UIDVALIDITY): every message was read again"
        )?;
    }
    for s in &r.suppressed {
        writeln!(w, "  suppressed {}: {}", s.email, s.reason)?;
    }
    if let Some(failure) = &r.failure {
        writeln!(w, "  stopped at {}: {}", failure.stage, failure.text)?;
        writeln!(w, "  {}", failure.advice(&r.host, r.port))?;
    }
    Ok(())
}
