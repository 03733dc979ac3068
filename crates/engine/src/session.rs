//! The engine session: one open database and everything that lives as long as it does — the store,
//! the secret store, the built-in sandbox, the accounts' live limits, and the campaigns, imports and
//! Test connections running now. Both front ends open one and make one call on it per action.
//!
//! Nothing below the session starts a server: an action on a Sandbox account
//! has the session start the sandbox first (once, kept until the session
//! closes), and `campaign::send`, Test connection and "send a test" find it
//! listening. The account limits are the session's too: runs on one account
//! in one session share them (`campaign::throttle::LiveLimits`).
//!
//! Running work is registered here, so Pause, Stop and Cancel reach it from
//! another call: a campaign by its id (a second run of a campaign already
//! running in this session is refused), an import or a test by the id its
//! front end gave it. A registration ends when the work does, also when its
//! caller drops it halfway.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::campaign::throttle::LiveLimits;
use crate::campaign::{self, ProgressSink, RunControl, RunOptions, RunReport};
use crate::diagnostics::{self, Diagnostics, Program, Sources};
use crate::error::{Error, Result};
use crate::logging::LogLevel;
use crate::model::CampaignId;
use crate::secrets::SecretStore;
use crate::smtp::AccountSettings;
use crate::smtp::sandbox::Sandbox;
use crate::store::Store;

mod actions;
mod mailboxes;
mod schedules;

pub use actions::CampaignRef;

/// One open database and what runs on it. Clones share it; the sandbox stops
/// when the last clone is dropped, or at [`Session::close`].
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    /// Where this database's passwords are, located on first use (asking for
    /// the keychain can take a moment, and most actions need no password).
    secrets: OnceCell<SecretStore>,
    /// The built-in sandboxes this session started, by port.
    sandboxes: tokio::sync::Mutex<HashMap<u16, Sandbox>>,
    /// The live rate and quotas of each account a run sends on.
    limits: LiveLimits,
    /// How runs open their connections: SMTP.
    connector: Arc<dyn campaign::Connector>,
    /// Campaigns sending now, for Pause and Stop.
    runs: Registry<CampaignId, RunControl>,
    /// Imports in progress, by their front end's id, for Cancel.
    imports: Registry<u32, CancellationToken>,
    /// Test connections and test messages in progress, by their front end's id, for Cancel.
    tests: Registry<u32, CancellationToken>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for sandbox in self.sandboxes.get_mut().values() {
            sandbox.stop();
        }
    }
}

impl Session {
    /// Opens (creating it if need be) the database at `path`.
    pub async fn open(path: &Path) -> Result<Session> {
        Ok(Session::new(Store::open(path).await?))
    }

    /// Opens the database at `path` to look at it: read-only when it cannot
    /// be written (see [`Store::open_to_read`]).
    pub async fn open_to_read(path: &Path) -> Result<Session> {
        Ok(Session::new(Store::open_to_read(path).await?))
    }

    /// A session over an open store; its passwords are beside its file.
    pub fn new(store: Store) -> Session {
        Session::with(store, OnceCell::new())
    }

    /// A session over an open store whose passwords are in `secrets`.
    pub fn with_secrets(store: Store, secrets: SecretStore) -> Session {
        Session::with(store, OnceCell::new_with(Some(secrets)))
    }

    fn with(store: Store, secrets: OnceCell<SecretStore>) -> Session {
        Session {
            inner: Arc::new(Inner {
                store,
                secrets,
                sandboxes: tokio::sync::Mutex::default(),
                limits: LiveLimits::default(),
                connector: Arc::new(campaign::transport::SmtpConnector),
                runs: Registry::default(),
                imports: Registry::default(),
                tests: Registry::default(),
            }),
        }
    }

    /// The database. Cheap: clones share one connection pool.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The database's file.
    pub fn path(&self) -> &Path {
        self.inner.store.path()
    }

    /// Where passwords go: the keychain, or the encrypted file beside the database.
    pub async fn secrets(&self) -> &SecretStore {
        self.inner
            .secrets
            .get_or_init(|| Session::secrets_for(self.path()))
            .await
    }

    /// Where the passwords of the database at `db` are: the keychain, or the
    /// encrypted file beside it. (For a report made when the database itself
    /// cannot be opened; a session locates its own.)
    pub async fn secrets_for(db: &Path) -> SecretStore {
        SecretStore::open(db.parent().unwrap_or(Path::new("."))).await
    }

    /// The report "Copy diagnostics" makes, by `program`, for this session's
    /// database, passwords and logs.
    pub async fn diagnostics(&self, program: Program, log_level: LogLevel) -> Diagnostics {
        let log_dir = crate::paths::log_dir();
        diagnostics::collect(Sources {
            program,
            database: self.path(),
            store: Some(self.store()),
            log_dir: log_dir.as_deref(),
            log_level,
            secrets: Some(self.secrets().await),
        })
        .await
    }

    /// [`Session::diagnostics`] for the database at `db` that could not be
    /// opened (the report says why).
    pub async fn diagnostics_without_session(db: &Path, program: Program, log_level: LogLevel) -> Diagnostics {
        let log_dir = crate::paths::log_dir();
        let secrets = Session::secrets_for(db).await;
        diagnostics::collect(Sources {
            program,
            database: db,
            store: None,
            log_dir: log_dir.as_deref(),
            log_level,
            secrets: Some(&secrets),
        })
        .await
    }

    /// Stops the sandbox and closes the database (the WAL checkpointed), after
    /// the calls still running on clones of this session have let go of it.
    pub async fn close(self) {
        self.stop_sandboxes().await;
        self.inner.store.clone().close().await;
    }

    /// Whether a campaign is sending in this session (when in doubt, yes:
    /// the registry is locked only for a moment, and asking once too often
    /// beats losing a run).
    pub fn sending(&self) -> bool {
        self.inner.runs.try_is_empty().is_none_or(|empty| !empty)
    }

    /// The campaigns sending in this session now.
    pub fn running(&self) -> Vec<CampaignId> {
        let mut ids = self.inner.runs.keys();
        ids.sort_unstable();
        ids
    }

    /// The addresses of the sandboxes this session keeps listening.
    pub async fn sandbox_addresses(&self) -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = self.inner.sandboxes.lock().await.values().map(|s| s.addr).collect();
        addrs.sort();
        addrs
    }

    /// Starts the built-in sandbox on `port` (0: a free one) for this session's
    /// life, as `mailroom sandbox` does; its address.
    pub async fn start_sandbox(&self, port: u16) -> Result<SocketAddr> {
        let mut sandboxes = self.inner.sandboxes.lock().await;
        if let Some(sandbox) = sandboxes.get(&port) {
            return Ok(sandbox.addr);
        }
        let sandbox = Sandbox::start(self.store().clone(), port).await?;
        let addr = sandbox.addr;
        sandboxes.insert(addr.port(), sandbox);
        Ok(addr)
    }

    /// Has the sandbox listen when `settings` are the built-in Sandbox
    /// account's, once per port for the session's life (a sandbox started
    /// and stopped per action would leave the port briefly busy for the
    /// next). When another program (another Mailroom's sandbox) already
    /// listens there, it is left to answer.
    async fn sandbox_for(&self, settings: &AccountSettings) -> Result<()> {
        if !settings.is_sandbox() {
            return Ok(());
        }
        let mut sandboxes = self.inner.sandboxes.lock().await;
        if sandboxes.contains_key(&settings.port) {
            return Ok(());
        }
        match Sandbox::start(self.store().clone(), settings.port).await {
            Ok(sandbox) => {
                sandboxes.insert(settings.port, sandbox);
                Ok(())
            }
            Err(Error::SandboxUnavailable { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// [`Session::sandbox_for`] the account called `name`.
    async fn sandbox_for_account(&self, name: &str) -> Result<()> {
        let (_, settings) = crate::smtp::account::load(self.store(), name).await?;
        self.sandbox_for(&settings).await
    }

    /// Stops the sandboxes this session started, leaving the database open
    /// for the calls still running on it (as when the app moves to another
    /// database file).
    pub async fn stop_sandboxes(&self) {
        for (_, sandbox) in self.inner.sandboxes.lock().await.drain() {
            sandbox.stop();
        }
    }

    /// Runs campaign `campaign` until it completes, pauses or stops (see
    /// `campaign::send`): on `accounts` in order when given, else its own.
    /// `control` pauses and stops it, as [`Session::pause`] and
    /// [`Session::stop`] do. Refused while the campaign is running in this
    /// session already.
    pub async fn send(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        accounts: &[&str],
        options: RunOptions,
        control: RunControl,
        sink: Arc<dyn ProgressSink>,
    ) -> Result<RunReport> {
        let id = self.resolve(campaign).await?;
        let Some(_running) = self.inner.runs.claim(id, control.clone()) else {
            let summary = self.store().campaign_summary(id).await?;
            return Err(Error::SendingElsewhere {
                what: format!("campaign \"{}\"", summary.name),
                holder: campaign::lease::holder(),
            });
        };
        let names = if accounts.is_empty() {
            campaign::accounts(self.store(), id).await?
        } else {
            accounts.iter().map(|&name| name.to_owned()).collect()
        };
        for name in &names {
            self.sandbox_for_account(name).await?;
        }
        let host = campaign::Host {
            store: self.store(),
            secrets: self.secrets().await,
            limits: &self.inner.limits,
            connector: &self.inner.connector,
            workers: campaign::pool::Placement::OwnThread,
        };
        campaign::send(host, id, accounts, options, control, sink).await
    }

    /// Pauses campaign `campaign` if it is sending in this session (in-flight
    /// messages finish); whether it was.
    pub fn pause(&self, campaign: CampaignId) -> bool {
        self.inner.runs.with(&campaign, RunControl::pause).is_some()
    }

    /// Pauses every campaign sending in this session and returns once each
    /// has finished its in-flight messages and recorded them.
    pub async fn pause_all(&self) {
        self.inner.runs.each(RunControl::pause);
        // Each run leaves the registry when its last message is recorded; a
        // pause is acknowledged within a second, and in-flight sends are
        // bounded by the account's timeouts.
        while self.inner.runs.try_is_empty() != Some(true) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Cancels the import its front end calls `import`; nothing of it is saved.
    pub fn cancel_import(&self, import: u32) {
        self.inner.imports.with(&import, CancellationToken::cancel);
    }

    /// Cancels the Test connection or test message its front end calls `test`.
    pub fn cancel_test(&self, test: u32) {
        self.inner.tests.with(&test, CancellationToken::cancel);
    }
}

/// Work running now, by key, with what reaches it (a pause control, a
/// cancel token). An entry lives as long as the [`Registered`] guard its
/// registration returned.
#[derive(Debug)]
struct Registry<K, V> {
    /// Each entry with the serial of its registration, so a guard removes
    /// only its own entry, not one that replaced it.
    entries: Arc<Mutex<HashMap<K, (u64, V)>>>,
    serial: AtomicU64,
}

impl<K, V> Default for Registry<K, V> {
    fn default() -> Self {
        Registry {
            entries: Arc::default(),
            serial: AtomicU64::new(0),
        }
    }
}

impl<K: Eq + Hash + Clone, V> Registry<K, V> {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<K, (u64, V)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `value` under `key` unless something is registered there.
    fn claim(&self, key: K, value: V) -> Option<Registered<K, V>> {
        let mut entries = self.entries();
        if entries.contains_key(&key) {
            return None;
        }
        Some(self.put(&mut entries, key, value))
    }

    /// Registers `value` under `key`, in place of what was there.
    fn insert(&self, key: K, value: V) -> Registered<K, V> {
        let mut entries = self.entries();
        self.put(&mut entries, key, value)
    }

    fn put(&self, entries: &mut HashMap<K, (u64, V)>, key: K, value: V) -> Registered<K, V> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        entries.insert(key.clone(), (serial, value));
        Registered {
            entries: Arc::clone(&self.entries),
            key,
            serial,
        }
    }

    /// Calls `f` on what is registered under `key`, if anything.
    fn with<R>(&self, key: &K, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.entries().get(key).map(|(_, value)| f(value))
    }

    fn keys(&self) -> Vec<K> {
        self.entries().keys().cloned().collect()
    }

    fn each(&self, f: impl Fn(&V)) {
        for (_, value) in self.entries().values() {
            f(value);
        }
    }

    /// Whether nothing is registered; `None` when the registry is busy this instant.
    fn try_is_empty(&self) -> Option<bool> {
        match self.entries.try_lock() {
            Ok(entries) => Some(entries.is_empty()),
            Err(std::sync::TryLockError::Poisoned(entries)) => Some(entries.into_inner().is_empty()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// A registration; dropping it ends it.
#[derive(Debug)]
struct Registered<K: Eq + Hash, V> {
    entries: Arc<Mutex<HashMap<K, (u64, V)>>>,
    key: K,
    serial: u64,
}

impl<K: Eq + Hash, V> Drop for Registered<K, V> {
    fn drop(&mut self) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.get(&self.key).is_some_and(|(serial, _)| *serial == self.serial) {
            entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests;
