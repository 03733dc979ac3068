//! `mailroom suppression list|add|remove|import|export` and `mailroom
//! campaign delete`: the suppression list and deleting a campaign, each
//! one engine call.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use mailroom_engine::Error;
use mailroom_engine::english::count;
use mailroom_engine::import::{ImportChoices, ImportOptions};
use mailroom_engine::suppression::{self, SuppressionImport};

use crate::output::Output;
use crate::{Access, open_session};

#[derive(Debug, Subcommand)]
pub enum SuppressionCommand {
    /// Every suppressed address, newest first, with its reason, source and date.
    List {
        /// Only addresses or reasons containing TEXT (any case).
        #[arg(long, value_name = "TEXT", default_value = "")]
        search: String,
        /// Skip this many entries first.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Show at most this many.
        #[arg(long, default_value_t = u64::MAX)]
        limit: u64,
    },
    /// Put an address on the list: no import or run writes to it again.
    Add {
        email: String,
        /// Why (default: "added by hand").
        #[arg(long)]
        reason: Option<String>,
    },
    /// Take an address off the list.
    Remove { email: String },
    /// Add the addresses of a file (CSV, TSV, XLSX, XLS, XLSB or ODS), read as a
    /// recipient list is; a "reason" column gives each its reason.
    Import {
        file: PathBuf,
        /// The column holding addresses (found by its header or content otherwise).
        #[arg(long, value_name = "COL")]
        email_column: Option<String>,
        /// The sheet of a spreadsheet (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// The file's encoding (detected otherwise).
        #[arg(long, value_name = "LABEL")]
        encoding: Option<String>,
        /// The delimiter: , ; | or tab (detected otherwise).
        #[arg(long, value_name = "CHAR")]
        delimiter: Option<String>,
        /// Only count what an import would add; nothing changes.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the whole list to a CSV file, or a workbook when FILE ends in .xlsx.
    Export {
        #[arg(long, short, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Delete a campaign and all its data (recipients, attempts, bounces,
    /// message). Refused while it is being sent. Asks first at a terminal.
    Delete {
        campaign: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn suppression(command: SuppressionCommand, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    match command {
        SuppressionCommand::List { search, offset, limit } => {
            let session = open_session(db, Access::Read).await?;
            let page = session.suppressions(&search, offset, limit).await?;
            session.close().await;
            out.print(&page, |w| {
                for s in &page.entries {
                    writeln!(
                        w,
                        "{}  {}  [{}, {}]",
                        s.email,
                        s.reason,
                        s.source,
                        mailroom_engine::export::utc_second(s.created_at)
                    )?;
                }
                writeln!(w, "{} of {} on the list.", page.entries.len(), page.total)
            })?;
        }
        SuppressionCommand::Add { email, reason } => {
            let session = open_session(db, Access::Write).await?;
            let added = session.add_suppression(&email, reason.as_deref()).await?;
            session.close().await;
            out.print(&serde_json::json!({ "email": email.trim(), "added": added }), |w| {
                if added {
                    writeln!(w, "{} is on the suppression list.", email.trim())
                } else {
                    writeln!(w, "{} was already on the suppression list.", email.trim())
                }
            })?;
        }
        SuppressionCommand::Remove { email } => {
            let session = open_session(db, Access::Write).await?;
            session.remove_suppression(&email).await?;
            session.close().await;
            out.print(&serde_json::json!({ "email": email.trim(), "removed": true }), |w| {
                writeln!(w, "{} is no longer on the suppression list.", email.trim())
            })?;
        }
        SuppressionCommand::Import {
            file,
            email_column,
            sheet,
            encoding,
            delimiter,
            dry_run,
        } => {
            let options = ImportOptions::from(ImportChoices {
                email_column,
                sheet,
                encoding,
                delimiter,
                ..ImportChoices::default()
            });
            let mode = if dry_run {
                suppression::ImportMode::Check
            } else {
                suppression::ImportMode::Save
            };
            let session = open_session(db, Access::Write).await?;
            let report = session.import_suppressions(&file, &options, mode).await?;
            session.close().await;
            out.print(&report, |w| print_import(w, &report))?;
        }
        SuppressionCommand::Export { output } => {
            let session = open_session(db, Access::Read).await?;
            let written = session.export_suppressions(&output).await?;
            session.close().await;
            out.print(&serde_json::json!({ "written": written, "path": output }), |w| {
                writeln!(
                    w,
                    "Wrote {} to {}.",
                    count(written, "suppressed address", "suppressed addresses"),
                    output.display()
                )
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_import(w: &mut dyn Write, report: &SuppressionImport) -> std::io::Result<()> {
    let verb = if report.saved { "added" } else { "would add" };
    writeln!(w, "{}: {}", report.file, count(report.rows, "row", "rows"))?;
    writeln!(w, "  {verb:<15} {}", report.added)?;
    writeln!(w, "  already listed  {}", report.already)?;
    writeln!(w, "  duplicates      {}", report.duplicates)?;
    writeln!(w, "  invalid         {}", report.invalid.len())?;
    for row in &report.invalid {
        writeln!(w, "  row {:>6}  {}: {}", row.row, row.value, row.reason)?;
    }
    Ok(())
}

pub async fn campaign(command: CampaignCommand, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    match command {
        CampaignCommand::Delete { campaign, yes } => {
            let session = open_session(db, Access::Write).await?;
            let id = session.resolve(&campaign).await?;
            let summary = session.campaign_summary(id).await?;
            if !yes {
                let stdin = std::io::stdin();
                if out.is_json() || !stdin.is_terminal() {
                    eprintln!(
                        "mailroom: deleting campaign \"{}\" removes its {} and their history; add --yes to confirm",
                        summary.name,
                        count(summary.total, "recipient", "recipients")
                    );
                    return Ok(ExitCode::from(2));
                }
                eprint!(
                    "Delete campaign \"{}\" with its {} and their history? This cannot be undone. [y/N] ",
                    summary.name,
                    count(summary.total, "recipient", "recipients")
                );
                let mut answer = String::new();
                stdin
                    .lock()
                    .read_line(&mut answer)
                    .map_err(|e| Error::Internal(format!("cannot read the answer: {e}")))?;
                if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
                    eprintln!("Not deleted.");
                    return Ok(ExitCode::FAILURE);
                }
            }
            session.delete_campaign(id).await?;
            session.close().await;
            out.print(&serde_json::json!({ "deleted": id, "name": summary.name }), |w| {
                writeln!(w, "Deleted campaign \"{}\" and its data.", summary.name)
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
