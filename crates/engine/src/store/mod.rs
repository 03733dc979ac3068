//! The SQLite store: opening the file, the embedded migrations, and every query
//! the engine makes. Nothing outside this module writes SQL.
//!
//! The file is opened in WAL mode with `synchronous = FULL`: a committed
//! transaction survives `kill -9` and power loss (SPEC invariant 3), and readers
//! (the window polling counts) never block the writer.

mod accounts;
mod bounces;
mod campaigns;
mod deletion;
mod history;
mod mailboxes;
mod schedules;
mod sending;
mod state_file;
mod suppressions;
mod suspensions;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::MigrateError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

pub use accounts::{AccountRecord, CapturedSummary, HeldRate};
pub use bounces::{BounceRecord, BounceTarget, ChunkOutcome, SuppressedAddress};
pub use campaigns::{ImportWriter, NewCampaign, NewRecipient};
pub use mailboxes::StoredMailbox;
pub use sending::{AttemptOutcome, AttemptRecord, AttemptStage, QueuedRecipient, StateChange, TemplateSummary};
pub use state_file::StateFile;
pub use suppressions::{Suppression, SuppressionPage, SuppressionSource};
pub use suspensions::AccountSuspension;

/// How long a writer waits for another (the app and the CLI share the file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite has one writer at a time; a few connections let reads overlap it.
const MAX_CONNECTIONS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What diagnostics say about a database: its schema version (the newest
/// migration applied) and how many campaigns and SMTP accounts it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    pub schema_version: i64,
    pub campaigns: u64,
    pub accounts: u64,
}

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
        // SQLite would open a read-only file read-only without a word, and
        // the first change would fail halfway through a command.
        if path.exists() && !writable(path) {
            return Err(unavailable(READ_ONLY.to_owned()));
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
            // Freed pages and cells are zeroed, so text that once held a
            // secret (a reply echoing a login, before redaction existed)
            // does not linger in the file after it is overwritten or deleted.
            .pragma("secure_delete", "ON")
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

    /// Opens an existing database to read it: as [`Store::open`] does when
    /// the file and its folder can be written (so its schema is brought up to
    /// date, and a run elsewhere is seen through its lock files), otherwise
    /// read-only, so that a database on a read-only disk, in a read-only
    /// folder or in a read-only file can still be looked at. Never creates it.
    ///
    /// WAL needs its `-shm` index beside the file: in a folder where none can
    /// be made, a database closed cleanly (no `-wal` left) is opened
    /// `immutable` (nothing can be writing it: no process could make the
    /// `-wal` there either); one with a `-wal` is read through that `-wal` and
    /// its `-shm` when both are there, and refused otherwise, since reading
    /// the file alone would miss what the `-wal` holds.
    pub async fn open_to_read(path: &Path) -> Result<Store> {
        let unavailable = |reason: &str| Error::DatabaseUnavailable {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if path.is_dir() {
            return Err(unavailable("it is a folder, not a file"));
        }
        if !path.exists() {
            return Err(unavailable("there is no such file"));
        }
        if writable(path) {
            return Self::open(path).await;
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let read_only = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        match Self::connect_read_only(path, read_only.clone(), clock.clone()).await {
            Ok(store) => Ok(store),
            Err(Error::DatabaseTooNew { path }) => Err(Error::DatabaseTooNew { path }),
            Err(_) if !has_wal(path) => Self::connect_read_only(path, read_only.immutable(true), clock).await,
            Err(_) => Err(unavailable(
                "it is read-only, and its latest changes are in the -wal file beside it, which cannot be read \
                 without a -shm file that cannot be made there; open it once where it can be written",
            )),
        }
    }

    /// A read-only pool over `path`, after checking that its schema is the
    /// one this build knows (a read-only file cannot be brought up to date).
    async fn connect_read_only(path: &Path, options: SqliteConnectOptions, clock: Arc<dyn Clock>) -> Result<Store> {
        let unavailable = |reason: String| Error::DatabaseUnavailable {
            path: path.to_owned(),
            reason,
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| unavailable(describe_open_error(&e)))?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&pool)
            .await
            .map_err(|e| unavailable(describe_open_error(&e)))?;
        if applied.iter().any(|v| !MIGRATOR.iter().any(|m| m.version == *v)) {
            return Err(Error::DatabaseTooNew { path: path.to_owned() });
        }
        if MIGRATOR.iter().any(|m| !applied.contains(&m.version)) {
            return Err(unavailable(
                "it is read-only and was written by an older Mailroom; open it once where it can be written, \
                 so that it is brought up to date"
                    .to_owned(),
            ));
        }
        tracing::info!(path = %path.display(), "database opened read-only");
        Ok(Store {
            pool,
            clock,
            path: path.to_owned(),
        })
    }

    /// Whether `path` may be opened as a Mailroom database without harm: a
    /// missing or empty file (it becomes one), or a SQLite file that already
    /// holds Mailroom's schema. Another program's database or a file that is
    /// not SQLite is refused, and only read while deciding, so
    /// [`Store::open`]'s migrations never run on someone else's data.
    pub async fn check_is_mailroom_database(path: &Path) -> Result<()> {
        let not_ours = |reason: &str| Error::DatabaseUnavailable {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::unreadable(path, e)),
            Ok(meta) if meta.is_dir() => return Err(not_ours("it is a folder, not a file")),
            Ok(meta) if meta.len() == 0 => return Ok(()),
            Ok(_) => {}
        }
        let owned = path.to_owned();
        let tables = tokio::task::spawn_blocking(move || -> rusqlite::Result<i64> {
            // Without CREATE: the file exists, and a query only reads it.
            let conn = rusqlite::Connection::open_with_flags(
                &owned,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('_sqlx_migrations', 'campaigns', 'recipients')",
                [],
                |row| row.get(0),
            )
        })
        .await
        .map_err(|e| Error::Internal(format!("the database check stopped: {e}")))?;
        match tables {
            Ok(3) => Ok(()),
            Ok(_) => Err(not_ours("it is not a Mailroom database")),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::NotADatabase => {
                Err(not_ours("it is not a Mailroom database"))
            }
            Err(e) => Err(not_ours(&e.to_string())),
        }
    }

    /// The schema version and how much the file holds, for diagnostics.
    pub async fn stats(&self) -> Result<StoreStats> {
        let schema_version: i64 = sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?;
        let campaigns: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
            .fetch_one(&self.pool)
            .await?;
        let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM smtp_profiles")
            .fetch_one(&self.pool)
            .await?;
        Ok(StoreStats {
            schema_version,
            campaigns: u64::try_from(campaigns).unwrap_or_default(),
            accounts: u64::try_from(accounts).unwrap_or_default(),
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

    /// What time it is by the store's clock (Unix ms): the time every
    /// stored timestamp and schedule is compared with.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Why a database cannot be changed, said where it is opened to be changed.
const READ_ONLY: &str = "it is read-only (the file, its folder or its disk cannot be written): \
                         it can be looked at (status, recipients, export) but not changed";

/// Whether the database at `path` (which exists) can be changed: the file
/// opens for writing, and its folder takes new files (SQLite's `-wal` and
/// `-shm`), both asked of the OS itself, as SQLite will.
fn writable(path: &Path) -> bool {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::OpenOptions::new().write(true).open(path).is_ok() && tempfile::tempfile_in(folder).is_ok()
}

/// Whether a `-wal` with content lies beside the database.
fn has_wal(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

/// SQLite's "unable to open database file (code 14)" says nothing of why; the
/// usual why is permissions or a read-only location.
fn describe_open_error(err: &sqlx::Error) -> String {
    let primary =
        |db: &dyn sqlx::error::DatabaseError| db.code().and_then(|c| c.parse::<i64>().ok()).map(|code| code & 0xff);
    match err {
        // SQLITE_READONLY and its extended codes (1544: the folder).
        sqlx::Error::Database(db) if primary(db.as_ref()) == Some(8) => READ_ONLY.to_owned(),
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

#[cfg(test)]
impl Store {
    /// The pool, for tests elsewhere in the crate that set up rows no public
    /// call makes directly.
    pub(crate) fn test_pool(&self) -> &SqlitePool {
        &self.pool
    }
}
