//! What a person does with SMTP accounts — add, edit, list, remove, test —
//! as the calls both front ends make. Settings go to the store, passwords to
//! the secret store, and nothing returned here carries a password.

use tokio_util::sync::CancellationToken;

use super::account::{Account, AccountSettings};
use super::diagnose::{self, Diagnosis, StageReport, TestMessage};
use super::sandbox::Sandbox;
use crate::error::{Error, Result};
use crate::secrets::SecretStore;
use crate::store::Store;

/// What to do with the stored password when an account is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordChange {
    Keep,
    Set(String),
    Clear,
}

impl PasswordChange {
    /// The password for a new account: only `Set` gives one.
    pub fn into_new(self) -> Option<String> {
        match self {
            PasswordChange::Set(password) => Some(password),
            PasswordChange::Keep | PasswordChange::Clear => None,
        }
    }
}

/// Adds an account after validating it; its password goes to `secrets`.
pub async fn add_account(
    store: &Store,
    secrets: &SecretStore,
    settings: AccountSettings,
    password: Option<String>,
) -> Result<Account> {
    let settings = settings.normalised();
    settings.validate()?;
    let id = store.insert_account(&settings).await?;
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        // The account without its password would be half-saved: undo it.
        if let Err(e) = secrets.set(&settings.name, &password).await {
            let _ignored = store.delete_account(&settings.name).await;
            return Err(e);
        }
    }
    account_view(secrets, id, settings).await
}

/// Replaces account `id`'s settings; a rename carries the password along.
pub async fn update_account(
    store: &Store,
    secrets: &SecretStore,
    id: i64,
    settings: AccountSettings,
    password: PasswordChange,
) -> Result<Account> {
    let settings = settings.normalised();
    settings.validate()?;
    let previous = store
        .accounts()
        .await?
        .into_iter()
        .find(|(existing, _)| *existing == id)
        .ok_or_else(|| Error::AccountNotFound(id.to_string()))?;
    store.update_account(id, &settings).await?;
    secrets.rename(&previous.1.name, &settings.name).await?;
    // The account's mailbox (bounce scan) password follows its name too.
    secrets
        .rename_kind(crate::secrets::SecretKind::Mailbox, &previous.1.name, &settings.name)
        .await?;
    match password {
        PasswordChange::Keep => {}
        PasswordChange::Set(password) => secrets.set(&settings.name, &password).await?,
        PasswordChange::Clear => secrets.delete(&settings.name).await?,
    }
    account_view(secrets, id, settings).await
}

/// Every account, with whether a password is kept for it and its warnings.
pub async fn list_accounts(store: &Store, secrets: &SecretStore) -> Result<Vec<Account>> {
    let mut accounts = Vec::new();
    for (id, settings) in store.accounts().await? {
        accounts.push(account_view(secrets, id, settings).await?);
    }
    Ok(accounts)
}

/// One account by name.
pub async fn get_account(store: &Store, secrets: &SecretStore, name: &str) -> Result<Account> {
    let (id, settings) = store.account(name).await?;
    account_view(secrets, id, settings).await
}

/// Removes an account, its password and its mailbox's; refused while a run
/// (in this process or another) sends on it. Campaigns that ran on it keep
/// their results and ask for an account when they are resumed.
pub async fn remove_account(store: &Store, secrets: &SecretStore, name: &str) -> Result<()> {
    let (id, _) = store.account(name).await?;
    // Held until the account is gone: no run can start on it meanwhile.
    let _idle = crate::campaign::hold_idle_account(store, id, name)?;
    store.delete_account(name).await?;
    secrets.delete(name).await?;
    // Its mailbox went with it (ON DELETE CASCADE); so does that password.
    secrets.delete_kind(crate::secrets::SecretKind::Mailbox, name).await
}

/// Runs Test connection for the account called `name`, optionally sending a
/// test message to `send_to`. A failed stage is a result, not an error:
/// errors are for a missing account or an unreadable password.
pub async fn test_account(
    store: &Store,
    secrets: &SecretStore,
    name: &str,
    send_to: Option<&str>,
    cancel: CancellationToken,
    on_stage: impl FnMut(&StageReport) + Send,
) -> Result<Diagnosis> {
    let (_, settings) = store.account(name).await?;
    let password = secrets.get(name).await?;
    let message = match send_to.map(str::trim).filter(|to| !to.is_empty()) {
        None => None,
        Some(to) => {
            let from = settings.sender_address().ok_or_else(|| Error::InvalidAccount {
                field: "from_address".to_owned(),
                problem: "set the sender address before sending a test message".to_owned(),
            })?;
            Some(
                TestMessage::new(settings.from_name.as_deref(), &from, to).map_err(|problem| {
                    Error::InvalidAccount {
                        field: "send_to".to_owned(),
                        problem,
                    }
                })?,
            )
        }
    };
    let connection = settings.connection_settings(password);
    Ok(diagnose::test_connection(connection, message, cancel, on_stage).await)
}

/// Starts the built-in sandbox when `settings` point at it and nothing else
/// already listens there. `Ok(None)` when it is not a sandbox account or a
/// sandbox (another Mailroom) already runs on that port.
pub async fn ensure_sandbox(store: &Store, settings: &AccountSettings) -> Result<Option<Sandbox>> {
    if !settings.is_sandbox() {
        return Ok(None);
    }
    match Sandbox::start(store.clone(), settings.port).await {
        Ok(sandbox) => Ok(Some(sandbox)),
        Err(Error::SandboxUnavailable { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn account_view(secrets: &SecretStore, id: i64, settings: AccountSettings) -> Result<Account> {
    let has_password = secrets.get(&settings.name).await?.is_some();
    Ok(Account {
        id,
        warnings: settings.warnings(),
        has_password,
        settings,
    })
}

impl AccountSettings {
    /// The address mail is sent from: the sender address, else a login that
    /// is an address, else (the sandbox only) a placeholder.
    pub fn sender_address(&self) -> Option<String> {
        self.from_address
            .clone()
            .filter(|a| !a.trim().is_empty())
            .or_else(|| self.username.clone().filter(|u| u.contains('@')))
            .or_else(|| self.is_sandbox().then(|| "sender@sandbox.mailroom.local".to_owned()))
    }

    /// Whether this account is the built-in sandbox on this computer.
    pub fn is_sandbox(&self) -> bool {
        self.preset.as_deref() == Some("sandbox") && matches!(self.host.as_str(), "127.0.0.1" | "localhost")
    }
}
