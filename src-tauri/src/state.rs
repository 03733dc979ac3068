//! What the app keeps between commands: the store (opened in the background
//! as the app starts, see [`open_store_in_background`]) and the secret store
//! (opened on first use), so a problem is shown in the window rather than
//! stopping the app, and replaced when another database is chosen in
//! Settings; the sandbox once started; running connection tests; the
//! settings file and the log's level control.

use std::collections::HashMap;
use std::path::Path;

use mailroom_engine::campaign::RunControl;
use mailroom_engine::logging::LogControl;
use mailroom_engine::model::CampaignId;
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::settings::SettingsFile;
use mailroom_engine::smtp::manage;
use mailroom_engine::smtp::sandbox::Sandbox;
use mailroom_engine::{Error, Store, paths};
use tokio::sync::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct AppState {
    /// The open database (none until first used).
    store: RwLock<Option<Store>>,
    /// Where the open database's passwords are (none until first used).
    secrets: Mutex<Option<SecretStore>>,
    /// The built-in sandbox, started the first time a sandbox account is used.
    pub sandbox: Mutex<Option<Sandbox>>,
    /// Connection tests in progress, by the window's id for them, for Cancel.
    pub tests: Mutex<HashMap<u32, CancellationToken>>,
    /// Imports in progress, by the window's id for them, for Cancel.
    pub imports: Mutex<HashMap<u32, CancellationToken>>,
    /// Campaigns sending now, for Pause and Stop.
    pub runs: Mutex<HashMap<CampaignId, RunControl>>,
    /// The person's settings (none on a system without a home folder).
    pub settings: Option<SettingsFile>,
    /// The running log's level (none if the log could not be opened).
    pub log: Option<LogControl>,
    /// The bounce scan timer, told when a campaign finishes (set at start-up).
    pub scan_timer: std::sync::OnceLock<mailroom_engine::mailbox::schedule::ScanTimer>,
}

impl AppState {
    pub fn new(settings: Option<SettingsFile>, log: Option<LogControl>) -> AppState {
        AppState {
            settings,
            log,
            ..AppState::default()
        }
    }

    /// Whether a campaign is sending (when in doubt, yes: the lock is only
    /// held for a moment, and asking once too often beats losing a run).
    pub fn sending(&self) -> bool {
        self.runs.try_lock().map_or(true, |runs| !runs.is_empty())
    }

    /// Pauses every running campaign and returns once each has finished its
    /// in-flight messages and recorded them.
    pub async fn pause_all_runs(&self) {
        for control in self.runs.lock().await.values() {
            control.pause();
        }
        // Each run removes itself when its last message is recorded; a pause
        // is acknowledged within a second, and in-flight sends are bounded by
        // the account's timeouts.
        while !self.runs.lock().await.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The database (`$MAILROOM_DB`, the file chosen in Settings, or the
    /// per-user default). Cheap: clones share one connection pool.
    pub async fn store(&self) -> Result<Store, Error> {
        if let Some(store) = self.store.read().await.as_ref() {
            return Ok(store.clone());
        }
        let mut slot = self.store.write().await;
        if let Some(store) = slot.as_ref() {
            return Ok(store.clone());
        }
        let store = Store::open(&paths::database_path(None)?).await?;
        *slot = Some(store.clone());
        Ok(store)
    }

    /// Opens `path` as the database from now on (and for the next start):
    /// refused while a campaign sends from the current one. The sandbox and
    /// the password store belonged to the old file, so they start afresh.
    pub async fn choose_database(&self, path: &Path) -> Result<Store, Error> {
        let mut slot = self.store.write().await;
        if self.sending() {
            let current = slot.as_ref().map(|s| s.path().to_owned()).unwrap_or_default();
            return Err(Error::DatabaseInUse { path: current });
        }
        let settings = self.settings.as_ref().ok_or_else(|| Error::SettingsUnwritable {
            path: "(no home folder)".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "there is no home folder to keep settings in",
            ),
        })?;
        let store = settings.choose_database(path).await?;
        // Commands already running keep their clone of the old store and
        // finish on it; everything from now on uses the new one.
        *slot = Some(store.clone());
        drop(slot);
        *self.secrets.lock().await = None;
        if let Some(sandbox) = self.sandbox.lock().await.take() {
            sandbox.stop();
        }
        Ok(store)
    }

    /// Starts the app's sandbox, once, when `account` is the sandbox account,
    /// so every command uses one long-lived capture server (a sandbox started
    /// and stopped per command would leave the port briefly busy for the next).
    pub async fn keep_sandbox_for(&self, account: &str) -> Result<(), Error> {
        let store = self.store().await?;
        let (_, settings) = mailroom_engine::smtp::account::load(&store, account).await?;
        let mut sandbox = self.sandbox.lock().await;
        if sandbox.is_none() {
            *sandbox = manage::ensure_sandbox(&store, &settings).await?;
        }
        Ok(())
    }

    /// Where passwords go: the keychain, or the encrypted file beside the database.
    pub async fn secrets(&self) -> Result<SecretStore, Error> {
        let store = self.store().await?;
        let mut slot = self.secrets.lock().await;
        if let Some(secrets) = slot.as_ref() {
            return Ok(secrets.clone());
        }
        let secrets = SecretStore::open(store.path().parent().unwrap_or(Path::new("."))).await;
        *slot = Some(secrets.clone());
        Ok(secrets)
    }
}

/// Opens the store while the WebView starts, so that the first screen's
/// first question (where the database is) finds it open: creating the
/// database and running its migrations on a first start is a tenth of a
/// second or more of fsyncs, off the critical path this way. A failure is
/// only logged: the window's first command opens the store again and shows
/// the error, as it would have without this.
pub fn open_store_in_background(app: tauri::AppHandle) {
    tauri::async_runtime::spawn(async move {
        use tauri::Manager as _;
        if let Err(e) = app.state::<AppState>().store().await {
            tracing::warn!(error = %e, "the database could not be opened at start");
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use mailroom_engine::campaign::RunControl;

    use super::AppState;

    #[tokio::test]
    async fn pause_all_runs_pauses_every_run_and_returns_once_they_have_ended() {
        let state = Arc::new(AppState::default());
        assert!(!state.sending());
        let controls = [RunControl::default(), RunControl::default()];
        for (id, control) in controls.iter().enumerate() {
            state.runs.lock().await.insert(id as i64 + 1, control.clone());
        }
        assert!(state.sending());
        // Each run ends (removes itself) only after it saw its pause.
        for (id, control) in controls.iter().enumerate() {
            let (state, control) = (state.clone(), control.clone());
            tokio::spawn(async move {
                while !control.pause_requested() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
                state.runs.lock().await.remove(&(id as i64 + 1));
            });
        }
        state.pause_all_runs().await;
        assert!(controls.iter().all(RunControl::pause_requested));
        assert!(!state.sending(), "returned before every run had ended");
    }

    /// Another database chosen in Settings: refused while a campaign sends
    /// (the store stays, nothing is remembered); otherwise every later
    /// command gets the new store, and the old file's sandbox is stopped.
    #[tokio::test]
    async fn choosing_a_database_swaps_the_store_unless_a_campaign_sends() {
        use mailroom_engine::settings::SettingsFile;
        use mailroom_engine::smtp::sandbox::Sandbox;
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = SettingsFile::at(dir.path().join("settings.json"));
        let state = AppState::new(Some(settings.clone()), None);
        let (first, second) = (dir.path().join("first.db"), dir.path().join("second.db"));
        state.choose_database(&first).await.expect("the first database");
        assert_eq!(state.store().await.expect("a store").path(), first);
        let sandbox = Sandbox::start(state.store().await.expect("a store"), 0)
            .await
            .expect("a sandbox");
        *state.sandbox.lock().await = Some(sandbox.clone());

        state.runs.lock().await.insert(1, RunControl::default());
        let refused = state.choose_database(&second).await.expect_err("refused while sending");
        assert_eq!(refused.kind(), mailroom_engine::ErrorKind::DatabaseInUse);
        assert_eq!(state.store().await.expect("a store").path(), first);
        assert_eq!(settings.load().database, Some(first.clone()));
        assert!(state.sandbox.lock().await.is_some(), "the sandbox was stopped");

        state.runs.lock().await.clear();
        state.choose_database(&second).await.expect("the second database");
        assert_eq!(state.store().await.expect("a store").path(), second);
        assert_eq!(settings.load().database, Some(second.clone()));
        assert!(state.sandbox.lock().await.is_none());
        tokio::time::timeout(Duration::from_secs(5), sandbox.stopped())
            .await
            .expect("the old database's sandbox stops");
    }
}
