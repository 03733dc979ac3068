//! What the app keeps between commands: the store and the secret store,
//! opened on first use so a problem is shown in the window rather than
//! stopping the app; the sandbox once started; running connection tests.

use std::collections::HashMap;
use std::path::Path;

use mailroom_engine::campaign::RunControl;
use mailroom_engine::model::CampaignId;
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::smtp::manage;
use mailroom_engine::smtp::sandbox::Sandbox;
use mailroom_engine::{Error, Store, paths};
use tokio::sync::{Mutex, OnceCell};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct AppState {
    store: OnceCell<Store>,
    secrets: OnceCell<SecretStore>,
    /// The built-in sandbox, started the first time a sandbox account is used.
    pub sandbox: Mutex<Option<Sandbox>>,
    /// Connection tests in progress, by the window's id for them, for Cancel.
    pub tests: Mutex<HashMap<u32, CancellationToken>>,
    /// Imports in progress, by the window's id for them, for Cancel.
    pub imports: Mutex<HashMap<u32, CancellationToken>>,
    /// Campaigns sending now, for Pause and Stop.
    pub runs: Mutex<HashMap<CampaignId, RunControl>>,
    /// The bounce scan timer, told when a campaign finishes (set at start-up).
    pub scan_timer: std::sync::OnceLock<mailroom_engine::mailbox::schedule::ScanTimer>,
}

impl AppState {
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

    /// The shared database (`$MAILROOM_DB` or the per-user default).
    pub async fn store(&self) -> Result<&Store, Error> {
        self.store
            .get_or_try_init(|| async { Store::open(&paths::database_path(None)?).await })
            .await
    }

    /// Starts the app's sandbox, once, when `account` is the sandbox account,
    /// so every command uses one long-lived capture server (a sandbox started
    /// and stopped per command would leave the port briefly busy for the next).
    pub async fn keep_sandbox_for(&self, account: &str) -> Result<(), Error> {
        let store = self.store().await?;
        let (_, settings) = store.account(account).await?;
        let mut sandbox = self.sandbox.lock().await;
        if sandbox.is_none() {
            *sandbox = manage::ensure_sandbox(store, &settings).await?;
        }
        Ok(())
    }

    /// Where passwords go: the keychain, or the encrypted file beside the database.
    pub async fn secrets(&self) -> Result<&SecretStore, Error> {
        let store = self.store().await?;
        Ok(self
            .secrets
            .get_or_init(|| async { SecretStore::open(store.path().parent().unwrap_or(Path::new("."))).await })
            .await)
    }
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
}
