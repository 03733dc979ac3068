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
    /// Campaigns sending now, for Pause and Stop.
    pub runs: Mutex<HashMap<CampaignId, RunControl>>,
}

impl AppState {
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
