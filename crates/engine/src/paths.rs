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

/// The settings file ([`crate::settings`]): `settings.json` in the per-user
/// config folder (`~/.config/org.mailroom.desktop` on Linux,
/// `~/Library/Application Support/org.mailroom.desktop` on macOS,
/// `%APPDATA%\org.mailroom.desktop` on Windows), beside the window's
/// remembered size and position.
pub fn settings_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.config_dir().join(APP_IDENTIFIER).join(SETTINGS_FILE))
}

const SETTINGS_FILE: &str = "settings.json";

/// The database a front end should open: an explicit path wins, then
/// `$MAILROOM_DB`, then the file chosen in Settings, then `mailroom.db` in
/// [`data_dir`]. Fails only on a system with no home folder and none of the
/// others.
pub fn database_path(explicit: Option<PathBuf>) -> Result<PathBuf> {
    first_database_of(
        explicit,
        || {
            std::env::var_os(DATABASE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        },
        || crate::settings::SettingsFile::default_location().and_then(|file| file.load().database),
        default_database_path,
    )
}

/// The order [`database_path`] asks in; each later source is only looked at
/// when the ones before it gave nothing.
fn first_database_of(
    explicit: Option<PathBuf>,
    env: impl FnOnce() -> Option<PathBuf>,
    chosen: impl FnOnce() -> Option<PathBuf>,
    default: impl FnOnce() -> Option<PathBuf>,
) -> Result<PathBuf> {
    explicit
        .or_else(env)
        .or_else(chosen)
        .or_else(default)
        .ok_or_else(|| Error::DatabaseUnavailable {
            path: PathBuf::from("(default)"),
            reason: format!("there is no home folder to keep it in; choose a file with --db or ${DATABASE_ENV}"),
        })
}

/// `mailroom.db` in [`data_dir`]: the database when none is chosen.
pub fn default_database_path() -> Option<PathBuf> {
    data_dir().map(|dir| dir.join(DATABASE_FILE))
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
        let Some(db) = default_database_path() else {
            return; // no home directory in this environment: nothing to compare
        };
        assert!(
            db.ends_with(format!("{APP_IDENTIFIER}/mailroom.db")),
            "{}",
            db.display()
        );
    }

    #[test]
    fn the_environment_beats_the_settings_which_beat_the_default() {
        let path = |p: &str| Some(PathBuf::from(p));
        let first = |explicit, env, chosen, default| first_database_of(explicit, || env, || chosen, || default).ok();
        let all = first(path("/a.db"), path("/env.db"), path("/chosen.db"), path("/default.db"));
        assert_eq!(all, path("/a.db"));
        let no_explicit = first(None, path("/env.db"), path("/chosen.db"), path("/default.db"));
        assert_eq!(no_explicit, path("/env.db"));
        assert_eq!(
            first(None, None, path("/chosen.db"), path("/default.db")),
            path("/chosen.db")
        );
        assert_eq!(first(None, None, None, path("/default.db")), path("/default.db"));
        assert_eq!(first(None, None, None, None), None);
    }
}
