//! The CLI's message and sending commands: `message`, `preview`, `send`,
//! `resume` and `uncertain`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use mailroom_engine::campaign::{self, CampaignEvent, PauseReason, RunControl, RunOptions, RunOutcome};
use mailroom_engine::english::{count, is_one};
use mailroom_engine::message::{self, MessageDraft, TemplateError, TemplateProblem, Unsubscribe};
use mailroom_engine::progress::{Flow, Sink};
use mailroom_engine::{Error, ErrorKind, Session};

use crate::output::Output;
use crate::smtp::shutdown_signal;

/// Exit code of `send`/`resume` when the campaign paused (SPEC: distinct from success).
pub const EXIT_PAUSED: u8 = 3;
/// Exit code when the campaign was stopped.
pub const EXIT_STOPPED: u8 = 4;

/// `mailroom message CAMPAIGN ...`: the campaign's message.
#[derive(Debug, Args)]
pub struct MessageArgs {
    pub campaign: String,
    /// The subject; merge fields allowed (`Hello {{ first_name }}`).
    #[arg(long)]
    pub subject: String,
    /// A file with the plain-text body.
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// A file with the HTML body (a plain-text part is derived when --text is not given).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// A file attached for everyone (repeatable).
    #[arg(long = "attach", value_name = "FILE")]
    pub attachments: Vec<PathBuf>,
    /// A column naming each recipient's own file.
    #[arg(long, value_name = "COL", conflicts_with = "attach_name")]
    pub attach_column: Option<String>,
    /// Or each recipient's file name with merge fields: 'invoice-{{ code }}.pdf'.
    #[arg(long, value_name = "TEMPLATE")]
    pub attach_name: Option<String>,
    /// The folder those files are in (needed with --attach-column or
    /// --attach-name): a recipient's file is only ever taken from inside it,
    /// never from elsewhere through `..`, a full path or a link, and never
    /// one of Mailroom's own files.
    #[arg(long, value_name = "DIR")]
    pub attach_folder: Option<PathBuf>,
    /// An https unsubscribe link (merge fields allowed); enables one-click unsubscribe.
    #[arg(long, value_name = "URL")]
    pub unsubscribe_url: Option<String>,
    /// Where unsubscribe requests are mailed (default: the sender).
    #[arg(long, value_name = "ADDR")]
    pub unsubscribe_mailto: Option<String>,
    /// Send without List-Unsubscribe headers (not advised for bulk mail).
    #[arg(long, conflicts_with_all = ["unsubscribe_url", "unsubscribe_mailto"])]
    pub no_unsubscribe: bool,
}

pub async fn message(args: MessageArgs, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let read = |path: &Option<PathBuf>| -> Result<Option<String>, Error> {
        path.as_ref()
            .map(|p| {
                std::fs::read_to_string(p).map_err(|source| Error::FileUnreadable {
                    path: p.clone(),
                    source,
                })
            })
            .transpose()
    };
    let draft = MessageDraft {
        subject: args.subject,
        text: read(&args.text)?,
        html: read(&args.html)?,
        attachments: args.attachments,
        attachment_column: args.attach_column,
        attachment_name: args.attach_name,
        attachment_folder: args.attach_folder,
        unsubscribe: Unsubscribe {
            enabled: !args.no_unsubscribe,
            mailto: args.unsubscribe_mailto,
            url: args.unsubscribe_url,
        },
    };
    let session = Session::open(db).await?;
    let check = session.save_message(&args.campaign, &draft).await?;
    session.close().await;
    out.print(&check, |w| {
        writeln!(w, "Message saved for campaign \"{}\".", args.campaign)?;
        writeln!(w, "  merge fields  {}", check.fields.join(", "))?;
        if check.missing_attachment_count > 0 {
            writeln!(
                w,
                "  {} missing or cannot be attached:",
                count(
                    check.missing_attachment_count,
                    "recipient's attachment is",
                    "recipients' attachments are"
                )
            )?;
            for missing in &check.missing_attachments {
                let problem = file_problem(missing.problem.as_ref());
                writeln!(
                    w,
                    "  row {:>6}  {}  {}  ({problem})",
                    missing.row,
                    missing.email,
                    missing.path.display()
                )?;
            }
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Why a recipient's own file cannot be attached, in English: what is wrong
/// with the file, or with the file name its template made.
fn file_problem(problem: Option<&TemplateError>) -> String {
    match problem {
        None => "not there yet".to_owned(),
        Some(TemplateError {
            problem: TemplateProblem::Attachment { problem },
            ..
        }) => problem.to_string(),
        Some(other) => other.to_string(),
    }
}

/// Which recipient `preview` shows.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    First,
    Number(u64),
    /// The first whose address contains this text.
    Matching(&'a str),
}

pub async fn preview(
    campaign: &str,
    row: Row<'_>,
    account: Option<&str>,
    source: bool,
    send_to: Option<&str>,
    db: &Path,
    out: &Output,
) -> Result<ExitCode, Error> {
    // A preview only looks; a test send may start the sandbox, which
    // captures into the database.
    let access = if send_to.is_some() {
        crate::Access::Write
    } else {
        crate::Access::Read
    };
    let session = crate::open_session(db, access).await?;
    let row = match row {
        Row::First => None,
        Row::Number(row) => Some(row),
        Row::Matching(text) => Some(session.find_recipient_row(campaign, text).await?),
    };
    let rendered = match (send_to, account) {
        (Some(to), Some(account)) => {
            // Ctrl-C ends the process; nothing else cancels a test here.
            let sent = session.send_test_message(campaign, row, account, to, 0).await?;
            eprintln!("Test message sent to {to} through \"{account}\".");
            sent
        }
        _ => match session.preview_message(campaign, row, account).await? {
            message::RowPreview::Message(rendered) => rendered,
            message::RowPreview::Skipped(skipped) => {
                session.close().await;
                let json = serde_json::json!({ "skipped": &skipped });
                out.print(&json, |w| {
                    let why = skipped.reason.as_ref().map(ToString::to_string);
                    writeln!(
                        w,
                        "Row {} ({}) is skipped and gets no message: {}.",
                        skipped.row,
                        skipped.email,
                        why.as_deref().unwrap_or("skipped at import")
                    )
                })?;
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    session.close().await;
    let json = serde_json::json!({ "message": &rendered, "source": rendered.source() });
    out.print(&json, |w| {
        if source {
            return write!(w, "{}", rendered.source());
        }
        writeln!(w, "Row:        {}", rendered.row)?;
        writeln!(w, "To:         {}", rendered.to)?;
        writeln!(w, "Subject:    {}", rendered.subject)?;
        writeln!(w, "Message-ID: {}", rendered.message_id)?;
        if !rendered.attachments.is_empty() {
            writeln!(w, "Attached:   {}", rendered.attachments.join(", "))?;
        }
        writeln!(w)?;
        writeln!(w, "{}", rendered.text)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `send` and `resume`: runs until the campaign completes, pauses or stops.
/// Ctrl-C or SIGTERM pauses cleanly (in-flight messages finish). A full disk
/// pauses it too (exit 3), also when the run could not even start.
pub async fn send(
    campaign: &str,
    accounts: &[String],
    retry_base: Option<f64>,
    db: &Path,
    out: &Output,
) -> Result<ExitCode, Error> {
    // SIGXFSZ is listened for from before the database opens (see `send_in`).
    #[cfg(unix)]
    let _file_size_limit = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ));
    let session = Session::open(db).await?;
    let sent = send_in(&session, campaign, accounts, retry_base, out).await;
    session.close().await;
    sent
}

/// [`send`] in an open session (which `schedule run` shares between the
/// campaigns it starts, so runs on one account share its limits).
pub async fn send_in(
    session: &Session,
    campaign: &str,
    accounts: &[String],
    retry_base: Option<f64>,
    out: &Output,
) -> Result<ExitCode, Error> {
    // A file size limit (RLIMIT_FSIZE) that the database reaches must come
    // back from SQLite as "disk full", which pauses the campaign, and not as
    // SIGXFSZ, whose default ends the process mid-send: a listener replaces
    // that default for the life of the process.
    #[cfg(unix)]
    let _file_size_limit = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ));
    let id = session.resolve(campaign).await?;
    let control = RunControl::default();
    let on_signal = control.clone();
    let signals = tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.pause();
    });
    let mut options = RunOptions::default();
    if let Some(seconds) = retry_base.filter(|s| s.is_finite() && *s >= 0.0) {
        options.retry_base = Duration::from_secs_f64(seconds);
    }
    let json = out.is_json();
    let live = !json && std::io::stderr().is_terminal();
    let sink: Arc<dyn campaign::ProgressSink> = Arc::new(EventLines { json, live });
    // What is about to happen, before anything is sent (on stderr: stdout
    // carries the events with --json).
    let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
    if !json && let Ok(plan) = session.send_plan(id, &accounts).await {
        eprintln!("Sending {plan}.");
    }
    let report = session.send(id, &accounts, options, control, sink).await;
    signals.abort();
    let report = match report {
        Ok(report) => report,
        Err(e) if e.kind() == ErrorKind::DiskFull => {
            out.error(&e);
            return Ok(ExitCode::from(EXIT_PAUSED));
        }
        Err(e) => return Err(e),
    };
    if report.counts.uncertain > 0 && !json {
        let (them, their) = if is_one(&report.counts.uncertain) {
            ("it", "its")
        } else {
            ("them", "their")
        };
        eprintln!(
            "{} uncertain (the server may have {their} message): \
             `mailroom uncertain {campaign} --resend` sends {them} again with the same Message-ID, \
             `--mark-sent` counts {them} as sent.",
            count(report.counts.uncertain, "recipient is", "recipients are")
        );
    }
    Ok(match report.outcome {
        RunOutcome::Completed => ExitCode::SUCCESS,
        RunOutcome::Paused => ExitCode::from(EXIT_PAUSED),
        RunOutcome::Stopped => ExitCode::from(EXIT_STOPPED),
    })
}

/// A run's events on the terminal: JSON lines with `--json`, else a line
/// each (progress redrawn in place when stderr is a terminal). Pause and
/// Stop go through the run's `RunControl` (Ctrl-C), so it never stops the run.
struct EventLines {
    json: bool,
    live: bool,
}

impl Sink<CampaignEvent> for EventLines {
    fn event(&self, event: &CampaignEvent) -> Flow {
        print_event(event, self.json, self.live);
        Flow::Go
    }
}

/// One JSON line per event with `--json`; otherwise a live status line on a
/// terminal and a line per failure, pause and end.
fn print_event(event: &CampaignEvent, json: bool, live: bool) {
    if json {
        let mut stdout = std::io::stdout().lock();
        if serde_json::to_writer(&mut stdout, event).is_ok() {
            let _ = writeln!(stdout);
            let _ = stdout.flush();
        }
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = match event {
        CampaignEvent::Started {
            account,
            counts,
            uncertain_recovered,
            ..
        } => {
            let mut line = format!(
                "Sending with \"{account}\": {} to send, {} sent already.",
                counts.pending + counts.retry_wait,
                counts.sent
            );
            if *uncertain_recovered > 0 {
                line.push_str(&format!(
                    " {uncertain_recovered} were in flight when Mailroom stopped and are now uncertain (see `mailroom uncertain`)."
                ));
            }
            writeln!(err, "{line}")
        }
        CampaignEvent::Progress {
            counts,
            percent_done,
            server_wait: Some(wait),
            ..
        } if live => {
            let in_s = wait.next_try_in_ms as f64 / 1000.0;
            write!(
                err,
                "\r  {percent_done:>3} %  sent {}  failed {}  pending {}  waiting for the server: next try in {in_s:.0} s ({} of {})   ",
                counts.sent,
                counts.failed,
                counts.pending + counts.retry_wait,
                wait.attempt + 1,
                wait.of
            )
        }
        CampaignEvent::Progress {
            counts,
            percent_done,
            sent_per_second,
            eta_seconds,
            rate,
            ..
        } if live => {
            let eta = eta_seconds.map_or_else(String::new, |s| format!("  ETA {}m{:02}s", s / 60, s % 60));
            let limit = rate
                .effective
                .map_or_else(String::new, |r| format!(" (limit {r:.1}/s)"));
            write!(
                err,
                "\r  {percent_done:>3} %  sent {}  failed {}  retrying {}  pending {}  {sent_per_second:.1}/s{limit}{eta}   ",
                counts.sent, counts.failed, counts.retry_wait, counts.pending
            )
        }
        CampaignEvent::Recipient {
            row,
            email,
            status,
            reason: Some(reason),
            ..
        } => writeln!(err, "{}row {row} {email}: {} — {reason}", clear(live), status.as_str()),
        CampaignEvent::RateChanged { rate } => writeln!(
            err,
            "{}Rate now {}: {}",
            clear(live),
            rate.effective
                .map_or_else(|| "unlimited".to_owned(), |r| format!("{r:.1}/s")),
            rate.reason.as_deref().unwrap_or("back to the account's setting")
        ),
        CampaignEvent::QuotaWait { until, window, limit } => writeln!(
            err,
            "{}The account's {limit}-per-{window} quota is used up; sending resumes at {} (Unix ms {until}).",
            clear(live),
            until / 1000
        ),
        CampaignEvent::Suspended { until, rule, failure } => writeln!(
            err,
            "{}The server said {failure} (rule {rule}): the account is suspended; sending resumes {} (local time).",
            clear(live),
            campaign::schedule::describe_time(*until, &campaign::schedule::local_time_zone())
        ),
        CampaignEvent::AccountChanged { from, to, why } => writeln!(
            err,
            "{}Sending moves from account \"{from}\" to \"{to}\": {why}.",
            clear(live)
        ),
        CampaignEvent::AccountWait { account, until, reason } => writeln!(
            err,
            "{}Every account of the campaign is suspended; sending resumes on \"{account}\" {} (local time): {reason}.",
            clear(live),
            campaign::schedule::describe_time(*until, &campaign::schedule::local_time_zone())
        ),
        CampaignEvent::ConnectionsReduced {
            connections,
            rule,
            failure,
        } => writeln!(
            err,
            "{}The server said {failure} (rule {rule}): sending on {} from now on.",
            clear(live),
            count(*connections, "connection", "connections")
        ),
        CampaignEvent::WindowWait { opens_at, time_zone } => writeln!(
            err,
            "{}Outside the send windows: waiting; the next opens {} ({time_zone}).",
            clear(live),
            campaign::schedule::describe_time(*opens_at, time_zone)
        ),
        CampaignEvent::ConnectionTrouble {
            failure,
            host,
            port,
            retry_in_ms,
            attempt,
            of,
        } => writeln!(
            err,
            "{}Cannot connect (try {attempt} of {of}): {failure}. {} Trying again in {:.1} s.",
            clear(live),
            failure.advice(host, *port),
            *retry_in_ms as f64 / 1000.0
        ),
        CampaignEvent::Pausing {
            stopping,
            reason: PauseReason::ByYou,
        } => writeln!(
            err,
            "{}{}",
            clear(live),
            if *stopping {
                "stopping: the messages in flight finish, the rest is cancelled"
            } else {
                "pausing: the messages in flight finish, then the campaign waits"
            }
        ),
        CampaignEvent::Pausing { reason, .. } => writeln!(err, "{}pausing: {reason}", clear(live)),
        CampaignEvent::Finished {
            outcome,
            reason,
            counts,
        } => writeln!(
            err,
            "{}Campaign {}{}: {} sent, {} failed, {} skipped, {} cancelled, {} uncertain, {} still to send.",
            clear(live),
            outcome.as_str(),
            reason.as_ref().map_or_else(String::new, |r| format!(" ({r})")),
            counts.sent,
            counts.failed,
            counts.skipped,
            counts.cancelled,
            counts.uncertain,
            counts.pending + counts.retry_wait
        ),
        _ => Ok(()),
    };
}

fn clear(live: bool) -> &'static str {
    if live { "\r\x1b[2K" } else { "" }
}

/// `mailroom stop`: stops a paused campaign (a running one stops with
/// Ctrl-C then this, or from the window); its unsent recipients are cancelled.
pub async fn stop(campaign: &str, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    let counts = session.stop_idle(campaign).await?;
    session.close().await;
    out.print(&serde_json::json!({ "counts": counts }), |w| {
        writeln!(
            w,
            "Stopped; {} not sent {} cancelled ({} sent).",
            count(counts.cancelled, "recipient", "recipients"),
            if is_one(&counts.cancelled) { "was" } else { "were" },
            counts.sent
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `mailroom template ...`: saved messages to reuse across campaigns.
#[derive(Debug, clap::Subcommand)]
pub enum TemplateCommand {
    /// Every saved template.
    List,
    /// Save a campaign's message as a template (replacing one of that name).
    Save {
        name: String,
        #[arg(long)]
        campaign: String,
    },
    /// Give a campaign the template's message (checked against its columns).
    Apply {
        name: String,
        #[arg(long)]
        campaign: String,
    },
    /// Copy a template under a new name.
    Copy { from: String, to: String },
    /// Delete a template.
    Remove { name: String },
}

pub async fn template(command: TemplateCommand, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    match command {
        TemplateCommand::List => {
            let templates = session.templates().await?;
            out.print(&templates, |w| {
                if templates.is_empty() {
                    writeln!(
                        w,
                        "No templates yet: `mailroom template save NAME --campaign C` makes one."
                    )?;
                }
                for t in &templates {
                    writeln!(w, "{:<24} {}", t.name, t.subject)?;
                }
                Ok(())
            })?;
        }
        TemplateCommand::Save { name, campaign } => {
            session.save_template_from(&campaign, &name).await?;
            out.print(&serde_json::json!({ "saved": name }), |w| {
                writeln!(w, "Template \"{name}\" saved.")
            })?;
        }
        TemplateCommand::Apply { name, campaign } => {
            let check = session.apply_template(&name, &campaign).await?;
            out.print(&check, |w| {
                writeln!(w, "Campaign \"{campaign}\" now has the message of template \"{name}\".")
            })?;
        }
        TemplateCommand::Copy { from, to } => {
            session.copy_template(&from, &to).await?;
            out.print(&serde_json::json!({ "copied": from, "to": to }), |w| {
                writeln!(w, "Template \"{from}\" copied to \"{to}\".")
            })?;
        }
        TemplateCommand::Remove { name } => {
            session.delete_template(&name).await?;
            out.print(&serde_json::json!({ "removed": name }), |w| {
                writeln!(w, "Template \"{name}\" deleted.")
            })?;
        }
    }
    session.close().await;
    Ok(ExitCode::SUCCESS)
}
