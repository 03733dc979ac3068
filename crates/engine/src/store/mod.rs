//! The SQLite store: opening the file, the embedded migrations, and every query
//! the engine makes. Nothing outside this module writes SQL.
//!
//! The file is opened in WAL mode with `synchronous = FULL`: a committed
//! transaction survives `kill -9` and power loss (SPEC invariant 3), and readers
//! (the window polling counts) never block the writer.

mod accounts;
mod bounces;
mod campaigns;
mod mailboxes;
mod sending;
mod state_file;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::MigrateError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

pub use accounts::CapturedSummary;
pub use bounces::{BounceRecord, BounceTarget, ChunkOutcome, SuppressedAddress, Suppression};
pub use campaigns::{ImportWriter, NewCampaign, NewRecipient};
pub use mailboxes::StoredMailbox;
pub use sending::{AttemptOutcome, AttemptRecord, AttemptStage, QueuedRecipient, StateChange, TemplateSummary};
pub use state_file::StateFile;

/// How long a writer waits for another (the app and the CLI share the file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite has one writer at a time; a few connections let reads overlap it.
const MAX_CONNECTIONS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// An open Mailroom database. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date.
    pub async fn open(path: &Path) -> Result<Store> {
        Self::open_with_clock(path, Arc::new(SystemClock)).await
    }

    /// [`Store::open`] with an injected clock, for tests of time-stamped state.
    pub async fn open_with_clock(path: &Path, clock: Arc<dyn Clock>) -> Result<Store> {
        let unavailable = |reason: String| Error::DatabaseUnavailable {
            path: path.to_owned(),
            reason,
        };
        if path.is_dir() {
            return Err(unavailable("it is a folder, not a file".to_owned()));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| unavailable(format!("cannot create the folder {}: {e}", parent.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| unavailable(describe_open_error(&e)))?;
        MIGRATOR.run(&pool).await.map_err(|e| match e {
            MigrateError::VersionMissing(_) => Error::DatabaseTooNew { path: path.to_owned() },
            other => unavailable(other.to_string()),
        })?;
        tracing::info!(path = %path.display(), "database opened");
        Ok(Store {
            pool,
            clock,
            path: path.to_owned(),
        })
    }

    /// The file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's own check of the whole file: `["ok"]`, or what is wrong.
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Closes the pool, checkpointing the WAL; the file is complete afterwards.
    pub async fn close(self) {
        self.pool.close().await;
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// SQLite's "unable to open database file (code 14)" says nothing of why; the
/// usual why is permissions or a read-only location.
fn describe_open_error(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("14") => {
            "the location is not writable (check the path and its permissions)".to_owned()
        }
        sqlx::Error::Database(db) if db.code().as_deref() == Some("26") => {
            "the file is not a Mailroom database".to_owned()
        }
        sqlx::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
