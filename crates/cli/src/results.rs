//! The CLI's Results: `recipients` (filtered pages, one recipient's
//! history), `runs`, `resend-failed` (with its choices, and what it leaves
//! out) and `uncertain` (all, or chosen rows).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use mailroom_engine::english::count;
use mailroom_engine::model::{Recipient, UncertainDecision};
use mailroom_engine::results::{
    AttemptResult, LeftOutWhy, ReasonClass, RecipientHistory, RecipientQuery, ResendChoice, ResendPlan, RunRecord,
    StateFilter,
};
use mailroom_engine::{Error, Session};

use crate::output::Output;
use crate::{Access, open_session};

/// `mailroom recipients CAMPAIGN ...`.
#[derive(Debug, Args)]
pub struct RecipientsArgs {
    pub campaign: String,
    /// Only recipients in this state: pending, sending, retry_wait, sent,
    /// bounced, failed, uncertain, skipped, suppressed, cancelled.
    #[arg(long, visible_alias = "status", value_name = "STATE")]
    pub state: Option<StateFilter>,
    /// Only recipients with this kind of reason: no_such_user, smtp (another
    /// refusal), gave_up, no_answer, unrenderable, invalid_address,
    /// duplicate, suppressed, stopped, bounced, ...
    #[arg(long, value_name = "REASON")]
    pub reason: Option<ReasonClass>,
    /// Only recipients whose address or any imported value contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Page N (from 1) of --limit rows (default 100 rows a page).
    #[arg(long, value_name = "N")]
    pub page: Option<u64>,
    /// Skip this many rows first.
    #[arg(long, default_value_t = 0, conflicts_with = "page")]
    pub offset: u64,
    /// Show at most this many rows (all when not given, unless --page).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Instead of a list: the history of the recipient with this address
    /// (or on this spreadsheet row): every attempt with its time, account,
    /// stage, codes, the server's words and duration; the send's reply.
    #[arg(long, value_name = "ADDRESS|ROW", conflicts_with_all = ["state", "reason", "search", "page"])]
    pub history: Option<String>,
}

/// `mailroom recipients`.
pub async fn recipients(args: RecipientsArgs, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = open_session(db, Access::Read).await?;
    if let Some(who) = args.history {
        let history = session.recipient_history_of(&args.campaign, &who).await?;
        print_history(out, &history)?;
        return Ok(ExitCode::SUCCESS);
    }
    let id = session.resolve(&args.campaign).await?;
    let page_size = if args.page.is_some() {
        args.limit.unwrap_or(u64::from(RecipientQuery::DEFAULT_LIMIT))
    } else {
        args.limit.unwrap_or(u64::MAX)
    };
    let offset = match args.page {
        Some(page) => page.saturating_sub(1).saturating_mul(page_size),
        None => args.offset,
    };
    // Read in pages of up to 1,000, by cursor after the first.
    let mut shown: Vec<Recipient> = Vec::new();
    let mut query = RecipientQuery {
        state: args.state,
        reason: args.reason,
        search: args.search,
        offset: Some(offset),
        ..RecipientQuery::default()
    };
    loop {
        let wanted = page_size.saturating_sub(u64::try_from(shown.len()).unwrap_or(u64::MAX));
        if wanted == 0 {
            break;
        }
        query.limit = Some(u32::try_from(wanted.min(u64::from(RecipientQuery::MAX_LIMIT))).unwrap_or(1));
        let page = session.recipient_page(id, &query).await?;
        shown.extend(page.recipients);
        match page.next {
            Some(next) => {
                query.after = Some(next);
                query.offset = None;
            }
            None => break,
        }
    }
    out.recipients(&shown)?;
    Ok(ExitCode::SUCCESS)
}

fn print_history(out: &Output, history: &RecipientHistory) -> Result<(), Error> {
    out.print(history, |w| {
        let r = &history.recipient;
        writeln!(w, "Row {} {}: {}", r.row, r.email, r.status)?;
        if let Some(reason) = &r.reason {
            writeln!(w, "  reason: {reason}")?;
        }
        if history.attempts.is_empty() {
            writeln!(w, "  no attempts")?;
        }
        for (n, a) in history.attempts.iter().enumerate() {
            let result = match a.result {
                AttemptResult::Sent => "sent",
                AttemptResult::Transient => "transient",
                AttemptResult::Permanent => "permanent",
                AttemptResult::Ambiguous => "no answer",
            };
            let duration = a.duration_ms.map_or_else(|| "?".to_owned(), |ms| format!("{ms} ms"));
            writeln!(
                w,
                "  {}. {}  {:<9}  {:<5}  {}  via {}  {}",
                n + 1,
                utc(a.started_at),
                result,
                a.stage,
                [a.code.map(|c| c.to_string()), a.enhanced_code.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
                a.account.as_deref().unwrap_or("?"),
                duration
            )?;
            if let Some(text) = &a.text {
                writeln!(w, "     {text}")?;
            }
        }
        for b in &history.bounces {
            writeln!(
                w,
                "  bounce {}  {}  {}  {}",
                utc(b.bounced_at),
                b.kind,
                b.status.as_deref().unwrap_or(""),
                b.diagnostic
            )?;
        }
        Ok(())
    })
}

/// `mailroom runs CAMPAIGN`: each run with start, end, account, what it did
/// and why it ended.
pub async fn runs(campaign: &str, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let session = open_session(db, Access::Read).await?;
    let runs = session.runs(campaign).await?;
    out.print(&runs, |w| {
        if runs.is_empty() {
            writeln!(w, "No runs yet.")?;
        }
        for run in &runs {
            write_run(w, run)?;
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn write_run(w: &mut dyn Write, run: &RunRecord) -> std::io::Result<()> {
    let end = match (run.end, run.ended_at) {
        (Some(end), Some(at)) => format!("{end} {}", utc(at)),
        (Some(end), None) => end.to_string(),
        (None, _) => "running".to_owned(),
    };
    writeln!(
        w,
        "Run {} ({}) on {}: {} → {}",
        run.id,
        run.kind,
        run.account,
        utc(run.started_at),
        end
    )?;
    if let Some(c) = &run.outcome_counts {
        writeln!(
            w,
            "  {} sent, {} failed, {} uncertain, {} cancelled",
            c.sent, c.failed, c.uncertain, c.cancelled
        )?;
    }
    if let Some(reason) = &run.reason {
        writeln!(w, "  why it ended: {reason}")?;
    }
    if let Some(plan) = &run.resend {
        writeln!(w, "  resent {}{}", plan.to_send, left_out_text(plan))?;
    }
    Ok(())
}

/// `mailroom resend-failed CAMPAIGN ...`.
#[derive(Debug, Args)]
pub struct ResendArgs {
    pub campaign: String,
    /// The kinds of failure to send again (repeat, or separate with commas):
    /// no_such_user, smtp, gave_up, unrenderable, legacy. Default: every
    /// kind but no_such_user (an address that does not exist).
    #[arg(long = "reason", value_name = "REASON", value_delimiter = ',')]
    pub reasons: Vec<ReasonClass>,
    /// Also recipients whose address is on the suppression list.
    #[arg(long)]
    pub include_suppressed: bool,
    /// Also the uncertain recipients (same Message-ID, same message).
    #[arg(long)]
    pub include_uncertain: bool,
    /// Also its bounced recipients (left out unless chosen: a hard bounce
    /// is an address that does not take mail).
    #[arg(long)]
    pub include_bounced: bool,
    /// The SMTP account to resend with (default: the campaign's accounts, else
    /// the one it last ran on); repeat for several, in order (as `send --smtp`).
    #[arg(long, value_name = "NAME")]
    pub smtp: Vec<String>,
    #[arg(long, value_name = "SECONDS")]
    pub retry_base: Option<f64>,
    /// Only say what would be sent again and what left out.
    #[arg(long)]
    pub dry_run: bool,
}

/// `mailroom resend-failed`: the chosen failed recipients back to pending,
/// saying what is left out and why, then a run over exactly them.
pub async fn resend_failed(args: ResendArgs, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let choice = ResendChoice {
        reasons: (!args.reasons.is_empty()).then(|| args.reasons.clone()),
        include_suppressed: args.include_suppressed,
        include_uncertain: args.include_uncertain,
        include_bounced: args.include_bounced,
    };
    let session = Session::open(db).await?;
    let plan = if args.dry_run {
        session.resend_plan(&args.campaign, &choice).await?
    } else {
        session.requeue_for_resend(&args.campaign, &choice).await?
    };
    session.close().await;
    // With --json this is the first line of the run's JSON lines.
    out.print(
        &serde_json::json!({ "requeued": if args.dry_run { 0 } else { plan.to_send }, "plan": plan }),
        |w| {
            let verb = if args.dry_run { "Would send" } else { "Sending" };
            if plan.to_send == 0 {
                writeln!(w, "No failed recipients to send again{}.", left_out_text(&plan))
            } else {
                writeln!(
                    w,
                    "{verb} {} again{}.",
                    count(plan.to_send, "recipient", "recipients"),
                    left_out_text(&plan)
                )
            }
        },
    )?;
    if plan.to_send == 0 || args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    crate::campaign::send(&args.campaign, &args.smtp, args.retry_base, db, out).await
}

/// "; left out: 3 no such user (5.1.1), 1 on the suppression list".
fn left_out_text(plan: &ResendPlan) -> String {
    if plan.left_out.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = plan
        .left_out
        .iter()
        .map(|l| {
            let why = match l.why {
                LeftOutWhy::Reason(ReasonClass::NoSuchUser) => {
                    "no such user (5.1.x; --reason no_such_user to include)".to_owned()
                }
                LeftOutWhy::Reason(class) => format!("{class} (--reason {class} to include)"),
                LeftOutWhy::Suppressed => "on the suppression list (--include-suppressed)".to_owned(),
                LeftOutWhy::Uncertain => "uncertain (--include-uncertain)".to_owned(),
                LeftOutWhy::Bounced => "bounced (--include-bounced)".to_owned(),
            };
            format!("{} {why}", l.count)
        })
        .collect();
    format!("; left out: {}", parts.join(", "))
}

/// `mailroom uncertain CAMPAIGN --resend|--mark-sent [--row N ...]`.
pub async fn settle_uncertain(
    campaign: &str,
    rows: &[u64],
    resend: bool,
    db: &Path,
    out: &Output,
) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    let rows = (!rows.is_empty()).then_some(rows);
    let decision = if resend {
        UncertainDecision::Resend
    } else {
        UncertainDecision::MarkSent
    };
    let changed = session.settle_uncertain(campaign, rows, decision).await?;
    session.close().await;
    out.print(&serde_json::json!({ "changed": changed, "resend": resend }), |w| {
        if resend {
            writeln!(
                w,
                "{} be sent again by `mailroom resume` (same Message-ID).",
                count(changed, "uncertain recipient will", "uncertain recipients will")
            )
        } else {
            writeln!(
                w,
                "{} now counted as sent.",
                count(changed, "uncertain recipient is", "uncertain recipients are")
            )
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `ms` (Unix milliseconds) as `2025-03-14 09:26:53.120 UTC`.
fn utc(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => format!("{ms} ms"),
    }
}
