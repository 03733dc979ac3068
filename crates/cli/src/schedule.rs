//! The CLI's schedules and plans: `send --at`, `schedule list|set|clear|run`
//! and `plan`. A schedule set here is the one the app shows and runs; a
//! start time that passed with nobody there to start it is reported as
//! missed and never run silently.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use mailroom_engine::campaign::plan::in_turn;
use mailroom_engine::campaign::schedule::{ScheduleChange, ScheduledCampaign, describe_time};
use mailroom_engine::{Error, Session};
use tokio_util::sync::CancellationToken;

use crate::output::Output;
use crate::smtp::shutdown_signal;
use crate::{Access, open_session};

/// `mailroom schedule ...`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Every campaign with a schedule: its start, time zone and send windows.
    List,
    /// Set a campaign's start time and/or send windows (replacing its schedule).
    Set(ScheduleArgs),
    /// Remove a campaign's schedule (start time and windows).
    Clear { campaign: String },
    /// Wait for scheduled starts and send each campaign as it comes due;
    /// returns when none is left. Starts that passed before it ran are
    /// listed as missed and not sent.
    Run,
}

/// A schedule as given on the command line.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    pub campaign: String,
    /// When to start: "2026-12-03 09:00" (in --tz).
    #[arg(long, value_name = "DATE TIME")]
    pub at: Option<String>,
    /// The IANA time zone of --at and --window (default: this computer's).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// A send window, as "Mon-Fri 09:00-17:00"; repeat for several. Outside
    /// them nothing new is sent (the messages in flight finish).
    #[arg(long, value_name = "DAYS HH:MM-HH:MM")]
    pub window: Vec<String>,
    /// The SMTP account a scheduled start sends on (default: the campaign's
    /// accounts, else its last). Repeat for several, in order of priority
    /// (as `send --smtp`).
    #[arg(long, value_name = "NAME")]
    pub smtp: Vec<String>,
}

impl ScheduleArgs {
    /// The change these arguments ask for (the engine keeps what they leave out).
    fn change(&self) -> ScheduleChange {
        ScheduleChange {
            at: self.at.clone(),
            time_zone: self.tz.clone(),
            windows: self.window.clone(),
        }
    }

    /// The `--smtp` accounts, in order.
    fn accounts(&self) -> Vec<&str> {
        self.smtp.iter().map(String::as_str).collect()
    }
}

/// Runs a `schedule` subcommand.
pub async fn run(command: ScheduleCommand, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    match command {
        ScheduleCommand::List => {
            let session = open_session(db, Access::Read).await?;
            let all = session.schedules(session.now_ms()).await?;
            out.print(&all, |w| {
                if all.is_empty() {
                    return writeln!(w, "No campaign has a schedule.");
                }
                for scheduled in &all {
                    write_scheduled(w, scheduled)?;
                }
                Ok(())
            })?;
        }
        ScheduleCommand::Set(args) => {
            let session = open_session(db, Access::Write).await?;
            let scheduled = session
                .change_schedule(&args.campaign, &args.change(), &args.accounts())
                .await?;
            out.print(&scheduled, |w| write_scheduled(w, &scheduled))?;
        }
        ScheduleCommand::Clear { campaign } => {
            let session = open_session(db, Access::Write).await?;
            let id = session.clear_schedule(&campaign).await?;
            out.print(&serde_json::json!({ "cleared": id }), |w| {
                writeln!(w, "The schedule of campaign {campaign} is removed.")
            })?;
        }
        ScheduleCommand::Run => return run_due(db, out).await,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_scheduled(w: &mut dyn Write, scheduled: &ScheduledCampaign) -> std::io::Result<()> {
    let s = &scheduled.schedule;
    let start = s.start_at.map_or_else(
        || "no start time".to_owned(),
        |at| format!("starts {}", describe_time(at, &s.time_zone)),
    );
    let windows = if s.windows.is_empty() {
        "any time".to_owned()
    } else {
        s.windows.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    };
    let names: Vec<String> = scheduled.accounts.iter().map(|a| format!("\"{a}\"")).collect();
    let through = match names.first() {
        Some(first) => format!("; through {}", in_turn(&names, first)),
        None => String::new(),
    };
    writeln!(
        w,
        "#{} {}: {start}{} ({}); sends {windows}{through}",
        scheduled.campaign,
        scheduled.name,
        if scheduled.missed { " — MISSED" } else { "" },
        s.time_zone,
    )
}

/// `mailroom plan CAMPAIGN`.
pub async fn plan(campaign: &str, accounts: &[String], db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = open_session(db, Access::Read).await?;
    let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
    let plan = session.plan(campaign, &accounts, None).await?;
    out.print(&plan, |w| writeln!(w, "{plan}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `mailroom send CAMPAIGN --at ...`: keeps the start time in the campaign's
/// schedule (the app shows it, and runs it if this process is gone), waits
/// for it, then sends as `send` does. Ctrl-C while waiting leaves it
/// scheduled.
pub async fn send_at(args: ScheduleArgs, retry_base: Option<f64>, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    if args.at.is_none() {
        return Err(Error::InvalidSchedule {
            problem: "--at needs a date and time".to_owned(),
        });
    }
    let scheduled = session
        .change_schedule(&args.campaign, &args.change(), &args.accounts())
        .await?;
    let (id, wanted) = (scheduled.campaign, scheduled.schedule);
    let Some(at) = wanted.start_at else {
        return Err(Error::Internal("a schedule set with --at has no start time".to_owned()));
    };
    if !out.is_json() {
        eprintln!(
            "Scheduled for {} ({}); waiting. Ctrl-C leaves it scheduled (see `mailroom schedule list`).",
            describe_time(at, &wanted.time_zone),
            wanted.time_zone
        );
        print_plan(&session, id).await;
    }
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let signals = tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.cancel();
    });
    let due = session.wait_until(at, &cancel).await;
    signals.abort();
    if !due {
        session.close().await;
        if !out.is_json() {
            eprintln!("Still scheduled; nothing was sent.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(taken) = session.take_due_start(id).await? else {
        // Started, resent or stopped meanwhile (here or in the app), or
        // moved: this start is no longer pending.
        session.close().await;
        if !out.is_json() {
            eprintln!("The scheduled start was used up or changed elsewhere; nothing was sent here.");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let account = taken.or(wanted.account);
    let accounts: Vec<String> = account.into_iter().collect();
    let sent = crate::campaign::send_in(&session, &args.campaign, &accounts, retry_base, out).await;
    session.close().await;
    sent
}

/// The plan of the accounts the scheduled start sends on.
async fn print_plan(session: &Session, id: i64) {
    match session.plan(id, &[], None).await {
        Ok(plan) => eprintln!("Plan: {plan}"),
        Err(e) => eprintln!("(no plan: {e})"),
    }
}

/// `mailroom schedule run`.
async fn run_due(db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    let since = session.now_ms();
    let missed = session.missed_schedules(since).await?;
    for scheduled in &missed {
        if !out.is_json() {
            let at = scheduled.schedule.start_at.unwrap_or(since);
            eprintln!(
                "Missed: campaign {} was to start {}; not sent. Send it now with `mailroom send #{}`, or set another \
                 time with `mailroom schedule set #{} --at ...`.",
                scheduled.name,
                describe_time(at, &scheduled.schedule.time_zone),
                scheduled.campaign,
                scheduled.campaign
            );
        }
    }
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let signals = tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.cancel();
    });
    let outcome: Arc<std::sync::Mutex<Option<Error>>> = Arc::default();
    let failed = outcome.clone();
    let shared = session.clone();
    let json = out.is_json();
    let result = session
        .run_due_schedules(since, true, Arc::default(), cancel.clone(), move |campaign, account| {
            let session = shared.clone();
            let failed = failed.clone();
            async move {
                if !json {
                    eprintln!("Campaign #{campaign} starts (scheduled).");
                }
                let out = Output::new(json);
                if let Err(e) = crate::campaign::send_in(
                    &session,
                    &format!("#{campaign}"),
                    &account.into_iter().collect::<Vec<_>>(),
                    None,
                    &out,
                )
                .await
                {
                    out.error(&e);
                    failed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get_or_insert(e);
                }
            }
        })
        .await;
    signals.abort();
    session.close().await;
    result?;
    if let Some(e) = outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
        return Err(e);
    }
    if !json {
        eprintln!("No scheduled start is left.");
    }
    Ok(ExitCode::SUCCESS)
}
