//! A person's preferences, kept in one small JSON file in the per-user config
//! folder and shared by the desktop app and the CLI: the theme, the language,
//! how much goes into the log, and which database file to use.
//!
//! Reading never fails: a missing or damaged file means the defaults (a damaged
//! one is logged), so a bad settings file cannot keep Mailroom from starting.
//! Every change reads the file afresh, changes one thing and writes it whole
//! beside the old one before renaming it into place, so the app and the CLI
//! changing different settings at once lose neither change, and a crash
//! mid-write leaves the old file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::logging::LogLevel;
use crate::store::Store;

/// How the window looks: following the OS, or always light or dark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl std::str::FromStr for Theme {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "system" => Ok(Theme::System),
            "light" => Ok(Theme::Light),
            "dark" => Ok(Theme::Dark),
            other => Err(format!("\"{other}\" is not a theme (system, light or dark)")),
        }
    }
}

/// Everything a person can set in Settings. Unknown fields in the file are
/// ignored and missing ones take their default, so files written by older or
/// newer versions still load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Settings {
    pub theme: Theme,
    /// The window's language (`en`, `zh-CN`); none follows the OS.
    pub language: Option<String>,
    pub log_level: LogLevel,
    /// The database chosen in Settings; none is `mailroom.db` in the data
    /// folder. `--db` and `$MAILROOM_DB` still win over it.
    #[cfg_attr(feature = "ts-bindings", ts(type = "string | null"))]
    pub database: Option<PathBuf>,
}

/// The settings file: where it is, and reading and changing it.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    /// The settings file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> SettingsFile {
        SettingsFile { path: path.into() }
    }

    /// The per-user settings file ([`crate::paths::settings_path`]); none on a
    /// system without a home folder, where the defaults apply.
    pub fn default_location() -> Option<SettingsFile> {
        crate::paths::settings_path().map(SettingsFile::at)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings, or the defaults when the file is missing or cannot be
    /// read (then the log says why).
    pub fn load(&self) -> Settings {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Settings::default(),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read the settings; using the defaults");
                return Settings::default();
            }
        };
        serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!(path = %self.path.display(), error = %e, "the settings file is damaged; using the defaults");
            Settings::default()
        })
    }

    /// Reads the file, applies `change` and writes the result; returns it.
    pub fn update(&self, change: impl FnOnce(&mut Settings)) -> Result<Settings> {
        let mut settings = self.load();
        change(&mut settings);
        self.write(&settings)?;
        Ok(settings)
    }

    /// Writes `settings` beside the file and renames it into place.
    fn write(&self, settings: &Settings) -> Result<()> {
        let unwritable = |source: std::io::Error| Error::SettingsUnwritable {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(unwritable)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(unwritable)?;
        let json = serde_json::to_vec_pretty(settings).map_err(|e| Error::Internal(e.to_string()))?;
        file.write_all(&json).map_err(unwritable)?;
        file.as_file().sync_all().map_err(unwritable)?;
        file.persist(&self.path).map_err(|e| unwritable(e.error))?;
        Ok(())
    }

    /// Opens the database at `path` for good: an existing Mailroom database,
    /// or a new file, which becomes one. Anything else (another program's
    /// SQLite file, a spreadsheet) is refused before a single byte of it
    /// changes. Once open, it is recorded as the database to use from now on.
    pub async fn choose_database(&self, path: &Path) -> Result<Store> {
        Store::check_is_mailroom_database(path).await?;
        let store = Store::open(path).await?;
        self.update(|settings| settings.database = Some(path.to_owned()))?;
        tracing::info!(path = %path.display(), "database chosen in Settings");
        Ok(store)
    }

    /// Records `level` and applies it to the running program's log at once.
    pub fn set_log_level(&self, log: Option<&crate::logging::LogControl>, level: LogLevel) -> Result<Settings> {
        let settings = self.update(|settings| settings.log_level = level)?;
        if let Some(log) = log {
            log.set_level(level);
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_in(dir: &tempfile::TempDir) -> SettingsFile {
        SettingsFile::at(dir.path().join("config").join("settings.json"))
    }

    #[test]
    fn a_missing_file_gives_the_defaults() {
        let dir = tempfile::tempdir().expect("test step");
        let settings = file_in(&dir).load();
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.theme, Theme::System);
        assert_eq!(settings.log_level, LogLevel::Info);
        assert_eq!(settings.language, None);
        assert_eq!(settings.database, None);
    }

    #[test]
    fn a_change_is_kept_and_leaves_the_others_alone() {
        let dir = tempfile::tempdir().expect("test step");
        let file = file_in(&dir);
        file.update(|s| s.theme = Theme::Dark).expect("test step");
        file.update(|s| s.language = Some("zh-CN".into())).expect("test step");
        // A second reader (another process) sees both changes.
        let again = SettingsFile::at(file.path()).load();
        assert_eq!(again.theme, Theme::Dark);
        assert_eq!(again.language.as_deref(), Some("zh-CN"));
        assert_eq!(again.log_level, LogLevel::Info);
    }

    #[test]
    fn a_damaged_file_gives_the_defaults_and_the_next_change_repairs_it() {
        let dir = tempfile::tempdir().expect("test step");
        let file = file_in(&dir);
        std::fs::create_dir_all(file.path().parent().expect("test step")).expect("test step");
        std::fs::write(file.path(), "{ \"theme\": \"dark\", ").expect("test step");
        assert_eq!(file.load(), Settings::default());
        file.update(|s| s.log_level = LogLevel::Debug).expect("test step");
        assert_eq!(file.load().log_level, LogLevel::Debug);
    }

    #[test]
    fn unknown_and_missing_fields_are_tolerated() {
        let dir = tempfile::tempdir().expect("test step");
        let file = file_in(&dir);
        std::fs::create_dir_all(file.path().parent().expect("test step")).expect("test step");
        std::fs::write(file.path(), r#"{"theme":"light","window_opacity":0.5}"#).expect("test step");
        let settings = file.load();
        assert_eq!(settings.theme, Theme::Light);
        assert_eq!(settings.log_level, LogLevel::Info);
    }

    #[test]
    fn an_unwritable_place_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("test step");
        // The settings "folder" is a file: nothing can be created in it.
        let blocker = dir.path().join("config");
        std::fs::write(&blocker, "not a folder").expect("test step");
        let file = SettingsFile::at(blocker.join("settings.json"));
        let err = file.update(|s| s.theme = Theme::Dark).expect_err("refused");
        assert_eq!(err.kind(), crate::ErrorKind::SettingsUnwritable);
        assert!(err.to_string().contains("settings.json"), "{err}");
    }

    #[tokio::test]
    async fn choosing_a_new_file_creates_a_database_and_remembers_it() {
        let dir = tempfile::tempdir().expect("test step");
        let file = file_in(&dir);
        let chosen = dir.path().join("elsewhere").join("work.db");
        let store = file.choose_database(&chosen).await.expect("test step");
        assert_eq!(store.path(), chosen);
        assert!(
            store
                .accounts()
                .await
                .expect("test step")
                .iter()
                .any(|(_, a)| a.name == "Sandbox")
        );
        store.close().await;
        assert_eq!(file.load().database, Some(chosen.clone()));
        // Chosen again later, the same file opens with what it holds.
        let again = file.choose_database(&chosen).await.expect("test step");
        assert_eq!(again.path(), chosen);
    }

    #[tokio::test]
    async fn another_programs_sqlite_file_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("test step");
        let file = file_in(&dir);
        let foreign = dir.path().join("photos.db");
        {
            let conn = rusqlite::Connection::open(&foreign).expect("test step");
            conn.execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO photos (name) VALUES ('cat.jpg');")
                .expect("test step");
        }
        let before = std::fs::read(&foreign).expect("test step");
        let err = file.choose_database(&foreign).await.expect_err("refused");
        assert_eq!(err.kind(), crate::ErrorKind::DatabaseUnavailable);
        assert!(err.to_string().contains("not a Mailroom database"), "{err}");
        assert_eq!(
            std::fs::read(&foreign).expect("test step"),
            before,
            "the file was changed"
        );
        assert_eq!(file.load().database, None, "a refused file is not remembered");
    }

    #[tokio::test]
    async fn a_file_that_is_not_sqlite_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("test step");
        let file = file_in(&dir);
        let csv = dir.path().join("list.csv");
        std::fs::write(&csv, "email\nann@example.com\n").expect("test step");
        let err = file.choose_database(&csv).await.expect_err("refused");
        assert_eq!(err.kind(), crate::ErrorKind::DatabaseUnavailable);
        assert_eq!(
            std::fs::read_to_string(&csv).expect("test step"),
            "email\nann@example.com\n"
        );
        assert_eq!(file.load().database, None);
    }
}
