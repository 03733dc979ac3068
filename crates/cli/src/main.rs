//! `mailroom`: the command-line front end over the engine. It parses
//! arguments, calls the engine, and prints human text or `--json` on stdout;
//! errors go to stderr as one line with a non-zero exit.

mod campaign;
mod mailbox;
mod output;
mod progress;
mod results;
mod schedule;
mod settings;
mod smtp;
mod suppression;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mailroom_engine::import::{ImportChoices, ImportOptions, RecipientSource};
use mailroom_engine::model::{CampaignStatus, RecipientStatus};
use mailroom_engine::settings::SettingsFile;
use mailroom_engine::{Error, Session, paths};

use crate::output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "mailroom",
    version,
    about = "Bulk mail with nothing lost: import, send, resume.",
    after_help = "A CAMPAIGN is its exact name or its number; #7 is always campaign 7. A name that more \
                  than one campaign answers to (two imports of one file, or a campaign named \"1\" besides \
                  campaign 1) is refused with the candidates listed."
)]
struct Cli {
    /// The database file (default: the desktop app's own, in your data folder).
    /// Only `import`, `smtp add` and `sandbox` start a new one at a path given
    /// here or in $MAILROOM_DB; every other command refuses a path where
    /// there is none, so a mistyped path is not a new, empty database. A
    /// read-only database (or folder) can still be looked at: status,
    /// recipients, campaigns, export, preview, smtp list and show.
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,

    /// Machine-readable output: JSON on stdout, errors as JSON on stderr.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a recipient list (CSV, TSV, TXT, XLSX, XLS, XLSB or ODS) as a new draft campaign.
    Import {
        file: PathBuf,
        /// The column holding addresses (found by its header otherwise).
        #[arg(long, value_name = "COL")]
        email_column: Option<String>,
        /// The file's encoding: utf-8, gbk, gb18030, windows-1252, utf-16le, ... (detected otherwise).
        #[arg(long, value_name = "LABEL")]
        encoding: Option<String>,
        /// The delimiter: , ; | or tab (detected otherwise).
        #[arg(long, value_name = "CHAR")]
        delimiter: Option<String>,
        /// The campaign's name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
        /// The sheet of a spreadsheet (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// Text files: read " as a character, not as quoting (for a file
        /// with a stray quote that would otherwise swallow the rows after it).
        #[arg(long)]
        literal_quotes: bool,
        /// Only show how the file would be read (format, encoding, delimiter,
        /// sheets, email column, first rows); nothing is saved.
        #[arg(long)]
        preview: bool,
        /// A draft campaign this import replaces: its message moves to the
        /// new campaign and it is deleted. A campaign that is no longer a
        /// draft is refused (its history would be lost).
        #[arg(long, value_name = "CAMPAIGN", conflicts_with = "preview")]
        replace: Option<String>,
    },
    /// A campaign's state and its recipients counted by state.
    Status { campaign: String },
    /// Write a campaign's failed (default) or other recipients to a CSV file,
    /// or a workbook when FILE ends in .xlsx, with the reason and every
    /// imported column; either opens in Excel as is.
    Export {
        campaign: String,
        /// Recipients in this state; repeat for several (failed, skipped, cancelled, ...).
        #[arg(long, value_name = "STATE", default_value = "failed")]
        status: Vec<RecipientStatus>,
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
    },
    /// A campaign's recipients with their fields, state and reason: filtered
    /// by state, reason and text, a page at a time; or one recipient's history.
    Recipients(results::RecipientsArgs),
    /// Each run of a campaign (first send, resumes, resends): start, end,
    /// account, what it sent and failed, why it ended.
    Runs { campaign: String },
    /// Every campaign in the database, newest first.
    Campaigns,
    /// Write a campaign's message: subject, text and/or HTML body, attachments.
    Message(Box<campaign::MessageArgs>),
    /// Message templates: list, save, apply, copy, remove.
    #[command(subcommand)]
    Template(campaign::TemplateCommand),
    /// Show the message as one recipient gets it.
    Preview {
        campaign: String,
        /// The spreadsheet row (default: the first recipient).
        #[arg(long)]
        row: Option<u64>,
        /// The first recipient whose address contains TEXT (ignoring case).
        #[arg(long, value_name = "TEXT", conflicts_with = "row")]
        find: Option<String>,
        /// Use this SMTP account's sender (default: the campaign's last account).
        #[arg(long, value_name = "NAME")]
        smtp: Option<String>,
        /// Print the raw RFC 5322 source.
        #[arg(long)]
        source: bool,
        /// Also send this row's message to ADDR through --smtp's account (a test).
        #[arg(long, value_name = "ADDR", requires = "smtp")]
        send_to: Option<String>,
    },
    /// Send a campaign; an interrupted campaign continues where it stopped.
    /// Exits 0 when completed, 3 when paused, 4 when stopped. Ctrl-C pauses.
    Send {
        campaign: String,
        /// The SMTP account (default: the campaign's accounts, else the one it
        /// last ran on). Repeat for several, in order of priority: when one is
        /// suspended (a provider's limit, its quota) or cannot log in, the
        /// next sends, and sending moves back when the earlier one frees.
        #[arg(long, value_name = "NAME")]
        smtp: Vec<String>,
        /// Seconds before the first retry of a recipient (doubling after, with jitter).
        #[arg(long, value_name = "SECONDS")]
        retry_base: Option<f64>,
        /// Start at this date and time ("2026-12-03 09:00", in --tz) instead
        /// of now: kept as the campaign's schedule, waited for, then sent.
        #[arg(long, value_name = "DATE TIME")]
        at: Option<String>,
        /// The IANA time zone of --at and --window (default: this computer's).
        #[arg(long, value_name = "ZONE", requires = "at")]
        tz: Option<String>,
        /// With --at, a send window ("Mon-Fri 09:00-17:00"); repeat for several.
        #[arg(long, value_name = "DAYS HH:MM-HH:MM", requires = "at")]
        window: Vec<String>,
    },
    /// Schedules: a campaign's start time and send windows (list, set, clear),
    /// and `schedule run`, which sends scheduled campaigns as they come due.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// How a campaign's remaining recipients would go out: per day, from each
    /// account's rate and quotas, what it sent in the last day and whether
    /// it is suspended, the schedule.
    Plan {
        campaign: String,
        /// The SMTP account (default: the schedule's, else the campaign's
        /// accounts, else its last). Repeat for several, in order of
        /// priority (as `send --smtp`).
        #[arg(long, value_name = "NAME")]
        smtp: Vec<String>,
    },
    /// Continue a paused or interrupted campaign on its account.
    Resume {
        campaign: String,
        #[arg(long, value_name = "SECONDS")]
        retry_base: Option<f64>,
    },
    /// Send a campaign's failed recipients again: a new run over exactly the
    /// chosen ones. By default it leaves out "no such user" failures (5.1.x)
    /// and suppressed addresses, and says how many it left out and why.
    ResendFailed(results::ResendArgs),
    /// Stop a paused campaign: its recipients not yet sent are cancelled.
    Stop { campaign: String },
    /// Decide about recipients that were in flight when Mailroom was killed.
    Uncertain {
        campaign: String,
        /// Send them again (their Message-ID is the same, so providers drop duplicates).
        #[arg(long, required_unless_present = "mark_sent", conflicts_with = "mark_sent")]
        resend: bool,
        /// Count them as sent.
        #[arg(long)]
        mark_sent: bool,
        /// Only the recipient on this spreadsheet row (repeatable; default: all).
        #[arg(long = "row", value_name = "ROW")]
        rows: Vec<u64>,
    },
    /// SMTP accounts: add, list, show, remove, test; provider presets.
    #[command(subcommand)]
    Smtp(Box<smtp::SmtpCommand>),
    /// Mailboxes (IMAP) of SMTP accounts, for bounces and unsubscribe replies: add, edit, list, remove, test.
    #[command(subcommand)]
    Mailbox(Box<mailbox::MailboxCommand>),
    /// Bounces: scan the mailboxes now; the suppression list.
    #[command(subcommand)]
    Bounces(mailbox::BouncesCommand),
    /// The suppression list: list, add, remove, import, export.
    #[command(subcommand)]
    Suppression(suppression::SuppressionCommand),
    /// A campaign as a whole: delete it and its data.
    #[command(subcommand)]
    Campaign(suppression::CampaignCommand),
    /// Run the built-in sandbox: an SMTP server on 127.0.0.1 that captures mail.
    Sandbox {
        #[arg(long, default_value_t = mailroom_engine::smtp::sandbox::DEFAULT_PORT)]
        port: u16,
    },
    /// The desktop app's settings (theme, language, log level, database):
    /// shown, or changed with the options.
    Settings(settings::SettingsArgs),
    /// What the app's "Copy diagnostics" gives: versions, OS, the database,
    /// the logs and their latest warnings and errors (addresses hidden).
    Diagnostics,
    /// Messages the sandbox captured: the list, or one message's source.
    Captured {
        id: Option<i64>,
        /// Delete every captured message.
        #[arg(long, conflicts_with = "id")]
        clear: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = SettingsFile::default_location()
        .map(|f| f.load().log_level)
        .unwrap_or_default();
    let _log =
        paths::log_dir().and_then(|dir| mailroom_engine::logging::init_file_logging(&dir, "mailroom-cli", level));
    let out = Output::new(cli.json);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            return out.error(&Error::Internal(format!("cannot start the async runtime: {e}")));
        }
    };
    match runtime.block_on(run(cli, &out)) {
        Ok(code) => code,
        Err(e) => out.error(&e),
    }
}

/// How a command uses the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Access {
    /// Only looks: a read-only database will do.
    Read,
    /// Changes it (and creates it at the default path).
    Write,
}

/// Ctrl-C cancels the session's Test connection (the CLI runs one, id 0)
/// instead of killing the process mid-step: the report says "cancelled".
pub(crate) fn cancel_test_on_ctrl_c(session: &Session) {
    let on_ctrl_c = session.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel_test(0);
        }
    });
}

/// Opens the session on `db` for `access`. Reading opens read-only where the
/// file cannot be written; a database that does not exist yet is created (only
/// at the default path: [`run`] refuses a missing path that was given).
pub(crate) async fn open_session(db: &Path, access: Access) -> Result<Session, Error> {
    match access {
        Access::Read if db.exists() => Session::open_to_read(db).await,
        _ => Session::open(db).await,
    }
}

/// Whether `command` may run where there is no database yet: the commands
/// that put the first things in one (an import, an account, a suppressed
/// address), and those that never open it (`import --preview`, `smtp presets`).
fn runs_without_a_database(command: &Command) -> bool {
    match command {
        Command::Import { .. } => true,
        Command::Smtp(smtp) => matches!(**smtp, smtp::SmtpCommand::Add(_) | smtp::SmtpCommand::Presets),
        Command::Sandbox { .. } => true,
        Command::Suppression(command) => matches!(
            command,
            suppression::SuppressionCommand::Add { .. } | suppression::SuppressionCommand::Import { .. }
        ),
        _ => false,
    }
}

async fn run(cli: Cli, out: &Output) -> Result<ExitCode, Error> {
    // Settings need no database (they may be choosing one).
    let command = match cli.command {
        Command::Settings(args) => return settings::settings(args, out).await,
        other => other,
    };
    let chosen = cli.db.is_some() || std::env::var_os(paths::DATABASE_ENV).is_some_and(|v| !v.is_empty());
    let db = paths::database_path(cli.db)?;
    if chosen && !db.exists() && !runs_without_a_database(&command) {
        return Err(Error::DatabaseUnavailable {
            path: db,
            reason: "there is no such file; check the path (only import, smtp add, sandbox, suppression add and suppression import start a new database)"
                .to_owned(),
        });
    }
    match command {
        Command::Settings(args) => return settings::settings(args, out).await,
        Command::Diagnostics => return settings::diagnostics(&db, out).await,
        Command::Smtp(command) if matches!(*command, smtp::SmtpCommand::Presets) => return smtp::presets(out),
        Command::Smtp(command) => return smtp::run(*command, &db, out).await,
        Command::Mailbox(command) => return mailbox::mailbox(*command, &db, out).await,
        Command::Bounces(command) => return mailbox::bounces(command, &db, out).await,
        Command::Suppression(command) => return suppression::suppression(command, &db, out).await,
        Command::Campaign(command) => return suppression::campaign(command, &db, out).await,
        Command::Sandbox { port } => return smtp::serve_sandbox(&db, port, out).await,
        Command::Captured { id, clear } => return smtp::captured(&db, id, clear, out).await,
        Command::Message(args) => return campaign::message(*args, &db, out).await,
        Command::Template(command) => return campaign::template(command, &db, out).await,
        Command::Preview {
            campaign,
            row,
            find,
            smtp,
            source,
            send_to,
        } => {
            let row = match (row, find.as_deref()) {
                (Some(row), _) => campaign::Row::Number(row),
                (None, Some(text)) => campaign::Row::Matching(text),
                (None, None) => campaign::Row::First,
            };
            return campaign::preview(&campaign, row, smtp.as_deref(), source, send_to.as_deref(), &db, out).await;
        }
        Command::Send {
            campaign,
            smtp,
            retry_base,
            at: Some(at),
            tz,
            window,
        } => {
            let args = schedule::ScheduleArgs {
                campaign,
                at: Some(at),
                tz,
                window,
                smtp,
            };
            return schedule::send_at(args, retry_base, &db, out).await;
        }
        Command::Send {
            campaign,
            smtp,
            retry_base,
            at: None,
            ..
        } => return campaign::send(&campaign, &smtp, retry_base, &db, out).await,
        Command::Schedule(command) => return schedule::run(command, &db, out).await,
        Command::Plan { campaign, smtp } => return schedule::plan(&campaign, &smtp, &db, out).await,
        Command::Resume { campaign, retry_base } => {
            return campaign::send(&campaign, &[], retry_base, &db, out).await;
        }
        Command::ResendFailed(args) => return results::resend_failed(args, &db, out).await,
        Command::Stop { campaign } => return campaign::stop(&campaign, &db, out).await,
        Command::Uncertain {
            campaign, resend, rows, ..
        } => {
            return results::settle_uncertain(&campaign, &rows, resend, &db, out).await;
        }
        Command::Recipients(args) => return results::recipients(args, &db, out).await,
        Command::Runs { campaign } => return results::runs(&campaign, &db, out).await,
        Command::Import {
            file,
            email_column,
            encoding,
            delimiter,
            name,
            sheet,
            literal_quotes,
            preview,
            replace,
        } => {
            let mut options = ImportOptions {
                name,
                choices: ImportChoices {
                    email_column,
                    encoding,
                    delimiter,
                    sheet,
                    literal_quotes,
                },
                replaces: None,
            };
            if preview {
                out.import_preview(&RecipientSource::preview(&file, &options.choices).await?)
            } else {
                // Read the header before touching the database: a missing file
                // or a file without addresses must not create or change anything.
                let source = RecipientSource::open(&file, &options).await?;
                let session = Session::open(&db).await?;
                if let Some(old) = replace {
                    let old = session.resolve(&old).await?;
                    // Said before the file is read; the import checks it
                    // again in its own transaction.
                    let summary = session.campaign_summary(old).await?;
                    if summary.status != CampaignStatus::Draft {
                        return Err(Error::CampaignState {
                            campaign: summary.name,
                            status: summary.status.as_str().to_owned(),
                            action: "--replace replaces only a draft; import without it to make a new campaign"
                                .to_owned(),
                        });
                    }
                    options.replaces = Some(old);
                }
                let report = session.import_source(source, &options).await?;
                session.close().await;
                out.import_report(&report)
            }
        }
        Command::Status { campaign } => {
            let session = open_session(&db, Access::Read).await?;
            out.summary(&session.campaign_summary(&campaign).await?)
        }
        Command::Campaigns => {
            let session = open_session(&db, Access::Read).await?;
            out.campaigns(&session.campaigns().await?)
        }
        Command::Export {
            campaign,
            status,
            output,
        } => {
            let session = open_session(&db, Access::Read).await?;
            let written = session.export_recipients(&campaign, &status, &output).await?;
            out.print(&serde_json::json!({ "written": written, "path": output }), |w| {
                writeln!(
                    w,
                    "Wrote {} to {}.",
                    mailroom_engine::english::count(written, "recipient", "recipients"),
                    output.display()
                )
            })
        }
    }
    .map(|()| ExitCode::SUCCESS)
}
