//! `mailroom settings` and `mailroom diagnostics`: the desktop app's Settings
//! screen from the command line (the same file, so a choice made in either
//! holds in both), and the report its "Copy diagnostics" makes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use mailroom_engine::diagnostics::Program;
use mailroom_engine::logging::LogLevel;
use mailroom_engine::settings::{SettingsFile, Theme};
use mailroom_engine::{Error, Session, paths};

use crate::output::Output;

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// The window's theme: system (follow the OS), light or dark.
    #[arg(long)]
    theme: Option<Theme>,
    /// The window's language: en, zh-CN, or system (follow the OS).
    #[arg(long, value_name = "LANG")]
    language: Option<String>,
    /// How much goes into the log: error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<LogLevel>,
    /// Use this database file from now on (an existing Mailroom database, or
    /// a new file); the app and the CLI open it when no --db is given.
    #[arg(long, value_name = "PATH", conflicts_with = "default_database")]
    database: Option<PathBuf>,
    /// Go back to the database in the per-user data folder.
    #[arg(long)]
    default_database: bool,
}

/// The settings file, or an error saying there is nowhere to keep one.
fn settings_file() -> Result<SettingsFile, Error> {
    SettingsFile::default_location().ok_or_else(|| Error::SettingsUnwritable {
        path: PathBuf::from("(no home folder)"),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "there is no home folder to keep settings in",
        ),
    })
}

/// Changes what the options say, then shows every setting.
pub async fn settings(args: SettingsArgs, out: &Output) -> Result<ExitCode, Error> {
    let file = settings_file()?;
    if let Some(theme) = args.theme {
        file.update(|s| s.theme = theme)?;
    }
    if let Some(language) = args.language {
        let language = (language != "system").then_some(language);
        file.update(|s| s.language = language)?;
    }
    if let Some(level) = args.log_level {
        file.set_log_level(None, level)?;
    }
    if let Some(path) = args.database {
        let path = std::path::absolute(&path).map_err(|source| Error::FileUnreadable {
            path: path.clone(),
            source,
        })?;
        file.choose_database(&path).await?.close().await;
    }
    if args.default_database {
        file.update(|s| s.database = None)?;
    }
    let settings = file.load();
    let in_use = paths::database_path(None).ok();
    let json = serde_json::json!({ "file": file.path(), "settings": settings, "database_in_use": in_use });
    out.print(&json, |w| {
        writeln!(w, "Theme       {}", theme_name(settings.theme))?;
        writeln!(
            w,
            "Language    {}",
            settings.language.as_deref().unwrap_or("follows the OS")
        )?;
        writeln!(w, "Log level   {}", settings.log_level)?;
        match (&settings.database, &in_use) {
            (Some(chosen), Some(used)) if chosen != used => writeln!(
                w,
                "Database    {} (chosen; {} overrides it here)",
                chosen.display(),
                used.display()
            )?,
            (Some(chosen), _) => writeln!(w, "Database    {} (chosen)", chosen.display())?,
            (None, Some(used)) => writeln!(w, "Database    {}", used.display())?,
            (None, None) => writeln!(w, "Database    none: there is no home folder")?,
        }
        writeln!(w, "Kept in     {}", file.path().display())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn theme_name(theme: Theme) -> &'static str {
    match theme {
        Theme::System => "system (follows the OS)",
        Theme::Light => "light",
        Theme::Dark => "dark",
    }
}

/// The report the app's "Copy diagnostics" makes, for the CLI's database.
pub async fn diagnostics(db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let level = SettingsFile::default_location()
        .map(|f| f.load().log_level)
        .unwrap_or_default();
    let program = Program {
        name: "mailroom (CLI)".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        webview: None,
        toolkit: None,
    };
    // The report is made also when the database cannot be opened.
    let report = match Session::open(db).await {
        Ok(session) => {
            let report = session.diagnostics(program, level).await;
            session.close().await;
            report
        }
        Err(_) => Session::diagnostics_without_session(db, program, level).await,
    };
    out.print(&report, |w| write!(w, "{}", report.to_text()))?;
    Ok(ExitCode::SUCCESS)
}
