//! The terminal's side of the engine's progress sinks: each Test connection
//! step as a line (none with `--json`, which prints only the diagnosis), and
//! a campaign's events as lines or JSON (`campaign.rs`).

use std::fmt::Display;
use std::io::Write;

use mailroom_engine::mailbox::diagnose::MailboxStageReport;
use mailroom_engine::progress::{Flow, Sink};
use mailroom_engine::smtp::diagnose::{StageOutcome, StageReport, format_duration_ms};

/// Prints each Test connection step as it completes. It never stops the
/// test: Ctrl-C does, through the session (`cancel_test_on_ctrl_c`).
#[derive(Debug, Clone, Copy)]
pub struct StageLines {
    /// `--json`: the steps are in the diagnosis printed at the end.
    pub quiet: bool,
}

impl Sink<StageReport> for StageLines {
    fn event(&self, stage: &StageReport) -> Flow {
        if !self.quiet {
            print_stage(stage.outcome, stage.stage.as_str(), stage.duration_ms, &stage.detail);
        }
        Flow::Go
    }
}

impl Sink<MailboxStageReport> for StageLines {
    fn event(&self, stage: &MailboxStageReport) -> Flow {
        if !self.quiet {
            print_stage(stage.outcome, stage.stage.as_str(), stage.duration_ms, &stage.detail);
        }
        Flow::Go
    }
}

/// `ok    dns         12 ms  example.org resolved to …`
fn print_stage(outcome: StageOutcome, stage: &str, duration_ms: u64, detail: &dyn Display) {
    let mark = match outcome {
        StageOutcome::Passed => "ok  ",
        StageOutcome::Warning => "warn",
        StageOutcome::Failed => "FAIL",
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "{mark}  {stage:<8} {:>7}  {detail}",
        format_duration_ms(duration_ms)
    );
    let _ = stdout.flush();
}
