//! Logging to a daily-rotated file in the app's log directory, shared by the
//! CLI and the desktop app (each with its own file prefix), at a level a
//! person chooses in Settings and can change while the program runs.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Environment variable with a `tracing` filter (e.g. `mailroom_engine=debug`);
/// when set, it wins over the level in Settings until the level is changed.
pub const LOG_FILTER_ENV: &str = "MAILROOM_LOG";

/// How many daily files to keep.
const KEEP_FILES: usize = 14;

/// Mailroom's own code, whose detail the level opens up; other libraries
/// never log below `info`, so `debug` does not bury Mailroom's lines under
/// the WebView's and the database driver's.
const OWN_TARGETS: &[&str] = &["mailroom_engine", "mailroom_app", "mailroom"];

/// How much goes into the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub const ALL: &'static [LogLevel] = &[
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// The `tracing` filter for this level.
    fn filter(self) -> EnvFilter {
        let directives = if self <= LogLevel::Info {
            self.as_str().to_owned()
        } else {
            let own: Vec<String> = OWN_TARGETS.iter().map(|t| format!("{t}={}", self.as_str())).collect();
            format!("info,{}", own.join(","))
        };
        EnvFilter::new(directives)
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        LogLevel::ALL
            .iter()
            .copied()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("\"{s}\" is not a log level (error, warn, info, debug, trace)"))
    }
}

/// Changes the running program's log level.
#[derive(Clone)]
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl std::fmt::Debug for LogControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogControl").finish_non_exhaustive()
    }
}

impl LogControl {
    /// From now on, log at `level` (this replaces a `MAILROOM_LOG` filter).
    pub fn set_level(&self, level: LogLevel) {
        match self.handle.reload(level.filter()) {
            Ok(()) => tracing::info!(%level, "log level changed"),
            // Only if the subscriber is gone, when nothing is logged anyway.
            Err(e) => eprintln!("Mailroom could not change the log level: {e}"),
        }
    }
}

/// The filter layer and its control: `$MAILROOM_LOG` when set, else `level`.
fn reloadable_filter(level: LogLevel) -> (reload::Layer<EnvFilter, Registry>, LogControl) {
    let filter = EnvFilter::try_from_env(LOG_FILTER_ENV).unwrap_or_else(|_| level.filter());
    let (layer, handle) = reload::Layer::new(filter);
    (layer, LogControl { handle })
}

/// The running log: keep it alive for the life of the process (dropping it
/// flushes the writer).
#[derive(Debug)]
pub struct Logging {
    _guard: WorkerGuard,
    pub control: LogControl,
}

/// Installs the global subscriber writing to `dir/<prefix>.<date>.log` at
/// `level`. Logging is best-effort: an unwritable directory returns `None`
/// and the program carries on without a log.
pub fn init_file_logging(dir: &Path, prefix: &str, level: LogLevel) -> Option<Logging> {
    std::fs::create_dir_all(dir).ok()?;
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix(prefix)
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(dir)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let (filter, control) = reloadable_filter(level);
    Registry::default()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false))
        .try_init()
        .ok()?;
    Some(Logging { _guard: guard, control })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Log lines kept in memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("test step").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    #[test]
    fn the_level_changes_while_the_program_runs() {
        let lines = Lines::default();
        let (filter, control) = reloadable_filter(LogLevel::Info);
        let subscriber = Registry::default().with(filter).with(
            tracing_subscriber::fmt::layer()
                .with_writer(lines.clone())
                .with_ansi(false),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("hidden at info");
            tracing::info!("shown at info");
            control.set_level(LogLevel::Debug);
            tracing::debug!("shown at debug");
            tracing::debug!(target: "sqlx::query", "another library's detail");
            control.set_level(LogLevel::Error);
            tracing::warn!("hidden at error");
            tracing::error!("shown at error");
        });
        let text = String::from_utf8(lines.0.lock().expect("test step").clone()).expect("test step");
        assert!(text.contains("shown at info"), "{text}");
        assert!(text.contains("shown at debug"), "{text}");
        assert!(text.contains("shown at error"), "{text}");
        assert!(!text.contains("hidden at"), "{text}");
        assert!(!text.contains("another library's detail"), "{text}");
    }

    #[test]
    fn levels_read_as_people_write_them() {
        assert_eq!("DEBUG".parse::<LogLevel>(), Ok(LogLevel::Debug));
        assert!("verbose".parse::<LogLevel>().is_err());
        for level in LogLevel::ALL {
            assert_eq!(level.as_str().parse::<LogLevel>(), Ok(*level));
        }
    }
}
