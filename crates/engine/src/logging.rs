//! Logging to a daily-rotated file in the app's log directory, shared by the
//! CLI and the desktop app (each with its own file prefix).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::EnvFilter;

/// Environment variable with a `tracing` filter (e.g. `mailroom_engine=debug`).
pub const LOG_FILTER_ENV: &str = "MAILROOM_LOG";

/// How many daily files to keep.
const KEEP_FILES: usize = 14;

/// Installs the global subscriber writing to `dir/<prefix>.<date>.log`.
/// Keep the returned guard alive for the life of the process: dropping it
/// flushes the writer. Logging is best-effort: an unwritable directory returns
/// `None` and the program carries on without a log.
pub fn init_file_logging(dir: &Path, prefix: &str) -> Option<WorkerGuard> {
    std::fs::create_dir_all(dir).ok()?;
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix(prefix)
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(dir)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env(LOG_FILTER_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}
