//! How the CLI prints: human-readable text, or JSON for scripts (`--json`).

use std::io::{self, Write};
use std::process::ExitCode;

use mailroom_engine::Error;
use mailroom_engine::english::count;
use mailroom_engine::model::{CampaignSummary, ImportPreview, ImportReport, Recipient};
use serde::Serialize;

/// Prints results on stdout and errors on stderr in the chosen format.
#[derive(Debug)]
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Reports `err` on stderr and returns the exit code for it.
    pub fn error(&self, err: &Error) -> ExitCode {
        let mut stderr = io::stderr().lock();
        let _ = if self.json {
            let body = serde_json::json!({ "error": { "kind": err.kind(), "message": err.to_string() } });
            writeln!(stderr, "{body}")
        } else {
            writeln!(stderr, "mailroom: {err}")
        };
        ExitCode::FAILURE
    }

    pub fn import_report(&self, report: &ImportReport) -> Result<(), Error> {
        self.print(report, |w| {
            let c = &report.campaign;
            writeln!(
                w,
                "Imported {} into campaign {} \"{}\" ({})",
                count(report.rows, "row", "rows"),
                c.id,
                c.name,
                c.status
            )?;
            writeln!(w, "  email column  {}", report.email_column)?;
            writeln!(w, "  valid         {}", report.valid)?;
            writeln!(w, "  invalid       {}", report.invalid.len())?;
            writeln!(w, "  duplicates    {}", report.duplicates.len())?;
            writeln!(w, "  suppressed    {}", report.suppressed.len())?;
            for row in &report.invalid {
                writeln!(w, "  row {:>6}  invalid     {:?}: {}", row.row, row.value, row.reason)?;
            }
            for row in &report.duplicates {
                writeln!(
                    w,
                    "  row {:>6}  duplicate   {} (first on row {})",
                    row.row, row.email, row.first_row
                )?;
            }
            for row in &report.suppressed {
                if row.reason.is_empty() {
                    writeln!(w, "  row {:>6}  suppressed  {}", row.row, row.email)?;
                } else {
                    writeln!(w, "  row {:>6}  suppressed  {} ({})", row.row, row.email, row.reason)?;
                }
            }
            Ok(())
        })
    }

    pub fn import_preview(&self, preview: &ImportPreview) -> Result<(), Error> {
        self.print(preview, |w| {
            writeln!(
                w,
                "Would import {} ({} bytes); nothing saved",
                preview.source.format, preview.file_bytes
            )?;
            if let Some(sheet) = &preview.source.sheet {
                writeln!(w, "  sheet         {sheet} (of: {})", preview.sheets.join(", "))?;
            }
            if let (Some(encoding), Some(delimiter)) = (&preview.source.encoding, &preview.source.delimiter) {
                writeln!(w, "  encoding      {encoding}")?;
                writeln!(w, "  delimiter     {delimiter}")?;
            }
            if preview.source.literal_quotes == Some(true) {
                writeln!(w, "  quotes        read literally")?;
            }
            match &preview.email_column {
                Some(column) => writeln!(w, "  email column  {column}")?,
                None => writeln!(w, "  email column  not found: choose one with --email-column")?,
            }
            writeln!(w, "  columns       {}", preview.columns.join(" | "))?;
            for row in &preview.rows {
                writeln!(w, "  {}", row.join(" | "))?;
            }
            Ok(())
        })
    }

    pub fn summary(&self, summary: &CampaignSummary) -> Result<(), Error> {
        self.print(summary, |w| write_summary(w, summary))
    }

    pub fn campaigns(&self, campaigns: &[CampaignSummary]) -> Result<(), Error> {
        self.print(&campaigns, |w| {
            if campaigns.is_empty() {
                writeln!(w, "No campaigns yet: `mailroom import FILE` creates one.")?;
            }
            for summary in campaigns {
                write_summary(w, summary)?;
            }
            Ok(())
        })
    }

    pub fn recipients(&self, recipients: &[Recipient]) -> Result<(), Error> {
        self.print(&recipients, |w| {
            for r in recipients {
                write!(w, "row {:>6}  {:<10}  {}", r.row, r.status.as_str(), r.email)?;
                if let Some(why) = r.reason.as_ref().map(ToString::to_string).or(r.reply.clone()) {
                    write!(w, "  ({why})")?;
                }
                writeln!(w)?;
            }
            Ok(())
        })
    }

    /// Writes `value` as JSON or through `human`; a closed pipe (`| head`) is
    /// not an error.
    pub(crate) fn print<T: Serialize + ?Sized>(
        &self,
        value: &T,
        human: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), Error> {
        let mut stdout = io::stdout().lock();
        let written = if self.json {
            serde_json::to_writer(&mut stdout, value)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(stdout))
        } else {
            human(&mut stdout)
        };
        match written.and_then(|()| stdout.flush()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                Err(Error::Internal(format!("cannot write output: {e}")))
            }
            _ => Ok(()),
        }
    }
}

fn write_summary(w: &mut dyn Write, s: &CampaignSummary) -> io::Result<()> {
    writeln!(
        w,
        "Campaign {} \"{}\": {} ({})",
        s.id,
        s.name,
        s.status,
        count(s.total, "recipient", "recipients")
    )?;
    if let Some(reason) = &s.pause_reason {
        writeln!(w, "  paused: {reason}")?;
    }
    if let Some(holder) = &s.sent_by {
        writeln!(w, "  being sent by {holder}")?;
    }
    if let Some(account) = &s.account {
        writeln!(w, "  account     {account}")?;
    }
    let c = &s.counts;
    for (label, n) in [
        ("pending", c.pending),
        ("sending", c.sending),
        ("retry_wait", c.retry_wait),
        ("sent", c.sent),
        ("failed", c.failed),
        ("skipped", c.skipped),
        ("cancelled", c.cancelled),
        ("uncertain", c.uncertain),
        ("bounced", c.bounced),
    ] {
        if n > 0 {
            writeln!(w, "  {label:<11} {n}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use mailroom_engine::model::{CampaignStatus, StatusCounts};

    use super::*;

    fn summary(total: u64) -> CampaignSummary {
        CampaignSummary {
            id: 7,
            name: "spring".to_owned(),
            status: CampaignStatus::Draft,
            pause_reason: None,
            account: None,
            source_file: "spring.csv".to_owned(),
            columns: vec!["email".to_owned()],
            email_column: "email".to_owned(),
            created_at: 0,
            total,
            counts: StatusCounts {
                pending: total,
                ..StatusCounts::default()
            },
            sent_by: None,
            interrupted: false,
        }
    }

    fn written(total: u64) -> String {
        let mut out = Vec::new();
        write_summary(&mut out, &summary(total)).expect("written to memory");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_campaign_of_one_recipient_says_recipient() {
        assert_eq!(
            written(1),
            "Campaign 7 \"spring\": draft (1 recipient)\n  pending     1\n"
        );
        assert_eq!(
            written(2),
            "Campaign 7 \"spring\": draft (2 recipients)\n  pending     2\n"
        );
        assert_eq!(written(0), "Campaign 7 \"spring\": draft (0 recipients)\n");
    }
}
