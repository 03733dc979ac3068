//! Where Mailroom keeps its files: one per-user data directory shared by the
//! CLI and the desktop app, so both see the same campaigns.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The desktop app's identifier (also in `src-tauri/tauri.conf.json`); it
/// names the data and log directories on every OS.
pub const APP_IDENTIFIER: &str = "org.mailroom.desktop";

/// Overrides the database path for every front end (tests, portable installs).
pub const DATABASE_ENV: &str = "MAILROOM_DB";

const DATABASE_FILE: &str = "mailroom.db";

/// The per-user data directory: `~/.local/share/org.mailroom.desktop` on Linux,
/// `~/Library/Application Support/org.mailroom.desktop` on macOS,
/// `%APPDATA%\org.mailroom.desktop` on Windows.
pub fn data_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.data_dir().join(APP_IDENTIFIER))
}

/// The log directory: `logs/` under the local data directory, or
/// `~/Library/Logs/org.mailroom.desktop` on macOS (where Console.app looks).
pub fn log_dir() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new()?;
    if cfg!(target_os = "macos") {
        Some(dirs.home_dir().join("Library/Logs").join(APP_IDENTIFIER))
    } else {
        Some(dirs.data_local_dir().join(APP_IDENTIFIER).join("logs"))
    }
}

/// The database a front end should open: an explicit path wins, then
/// `$MAILROOM_DB`, then `mailroom.db` in [`data_dir`]. Fails only on a system
/// with no home folder and neither of the others.
pub fn database_path(explicit: Option<PathBuf>) -> Result<PathBuf> {
    explicit
        .or_else(|| {
            std::env::var_os(DATABASE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| data_dir().map(|dir| dir.join(DATABASE_FILE)))
        .ok_or_else(|| Error::DatabaseUnavailable {
            path: PathBuf::from("(default)"),
            reason: format!("there is no home folder to keep it in; choose a file with --db or ${DATABASE_ENV}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_wins() {
        let path = database_path(Some(PathBuf::from("/tmp/x.db"))).ok();
        assert_eq!(path, Some(PathBuf::from("/tmp/x.db")));
    }

    #[test]
    fn default_path_is_under_the_data_dir() {
        let (Some(dir), Ok(db)) = (data_dir(), database_path(None)) else {
            return; // no home directory in this environment: nothing to compare
        };
        if std::env::var_os(DATABASE_ENV).is_none() {
            assert_eq!(db, dir.join("mailroom.db"));
            assert!(dir.ends_with(APP_IDENTIFIER));
        }
    }
}
