//! What a person does with SMTP accounts — add, edit, list, remove, test —
//! as the calls both front ends make. Settings go to the store, passwords to
//! the secret store, and nothing returned here carries a password.

use super::account::{self, Account, AccountSettings};
use super::diagnose::{self, Diagnosis, StageReport, TestMessage};
use crate::error::{Error, Result};
use crate::progress::Sink;
use crate::secrets::SecretStore;
use crate::store::Store;

/// What to do with the stored password when an account is saved. The
/// window sends it as `{change: "keep" | "clear"}` or
/// `{change: "set", password}`: the only way a password travels to the engine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(tag = "change", content = "password", rename_all = "snake_case")]
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
    let id = account::insert(store, &settings).await?;
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        // The account without its password would be half-saved: undo it.
        if let Err(e) = secrets.set(&settings.name, &password).await {
            let _ignored = store.delete_account(&settings.name).await;
            return Err(e);
        }
    }
    account_view(store, secrets, id, settings, None).await
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
    let previous = account::load_all(store)
        .await?
        .into_iter()
        .find(|(existing, _)| *existing == id)
        .ok_or_else(|| Error::AccountNotFound(id.to_string()))?;
    account::save(store, id, &settings).await?;
    if (previous.1.host.as_str(), previous.1.port) != (settings.host.as_str(), settings.port) {
        // Another server: the rate the old one allowed says nothing of it.
        store.clear_held_rate(id).await?;
    }
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
    let held_rate = store.held_rate(id).await?;
    account_view(store, secrets, id, settings, held_rate).await
}

/// Every account, with whether a password is kept for it, its warnings and
/// the rate that held on it.
pub async fn list_accounts(store: &Store, secrets: &SecretStore) -> Result<Vec<Account>> {
    let held = store.held_rates().await?;
    let mut accounts = Vec::new();
    for (id, settings) in account::load_all(store).await? {
        accounts.push(account_view(store, secrets, id, settings, held.get(&id).copied()).await?);
    }
    Ok(accounts)
}

/// The account a new run or test is offered by default: the last one used
/// (the account of the campaign that ran most recently), else the built-in
/// sandbox (a fresh install), else the first by name. None when there are
/// no accounts.
pub async fn default_account(store: &Store) -> Result<Option<String>> {
    if let Some(last) = store.last_used_account().await? {
        return Ok(Some(last));
    }
    let accounts = account::load_all(store).await?;
    let sandbox = accounts.iter().find(|(_, settings)| settings.is_sandbox());
    Ok(sandbox.or(accounts.first()).map(|(_, settings)| settings.name.clone()))
}

/// One account by name.
pub async fn get_account(store: &Store, secrets: &SecretStore, name: &str) -> Result<Account> {
    let (id, settings) = account::load(store, name).await?;
    let held_rate = store.held_rate(id).await?;
    account_view(store, secrets, id, settings, held_rate).await
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
/// test message to `send_to`, each stage pushed to `on_stage` (whose stop
/// signal cancels it). A failed stage is a result, not an error:
/// errors are for a missing account or an unreadable password. Starts no
/// server: for the Sandbox account, the `Session` has started it first.
pub async fn test_account(
    store: &Store,
    secrets: &SecretStore,
    name: &str,
    send_to: Option<&str>,
    on_stage: &dyn Sink<StageReport>,
) -> Result<Diagnosis> {
    let (_, settings) = account::load(store, name).await?;
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
    Ok(diagnose::test_connection(connection, message, on_stage).await)
}

async fn account_view(
    store: &Store,
    secrets: &SecretStore,
    id: i64,
    settings: AccountSettings,
    held_rate: Option<crate::store::HeldRate>,
) -> Result<Account> {
    let has_password = secrets.get(&settings.name).await?.is_some();
    let suspension = store.account_suspensions().await?.remove(&id);
    Ok(Account {
        id,
        warnings: settings.warnings(),
        has_password,
        settings,
        held_rate,
        suspension,
    })
}

/// Ends account `name`'s suspension now ("Resume now"): campaigns send on
/// it again (a run waiting on it sees this within a second). Whether it
/// was suspended.
pub async fn resume_account(store: &Store, name: &str) -> Result<bool> {
    let (id, _) = store.account(name).await?;
    let resumed = store.clear_account_suspension(id).await?;
    if resumed {
        tracing::info!(account = name, "account resumed by hand");
    }
    Ok(resumed)
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

/// The rules that apply to account `name`, in the order they are tried:
/// its own, its provider's, the generic classes (issue 19).
pub async fn account_rules(store: &Store, name: &str) -> Result<Vec<super::rules::AppliedRule>> {
    let (_, settings) = account::load(store, name).await?;
    Ok(super::rules::applicable(settings.preset.as_deref(), &settings.rules))
}

/// A change to an account's rules.
#[derive(Debug, Clone)]
pub enum RuleChange {
    /// Adds a rule of the account's own, tried before every shipped one
    /// (replacing its own rule of the same id).
    Add(Box<super::rules::Rule>),
    /// Removes the account's own rule of this id, or stops a shipped one
    /// from applying to it.
    Remove(String),
    /// Back to the shipped rules.
    Reset,
}

/// Changes account `name`'s rules; returns the rules that now apply.
pub async fn change_rules(store: &Store, name: &str, change: RuleChange) -> Result<Vec<super::rules::AppliedRule>> {
    let (id, mut settings) = account::load(store, name).await?;
    let edits = &mut settings.rules;
    match change {
        RuleChange::Add(rule) => {
            rule.validate()?;
            edits.added.retain(|r| r.id != rule.id);
            edits.removed.retain(|r| *r != rule.id);
            edits.added.insert(0, *rule);
        }
        RuleChange::Remove(rule) => {
            let own = edits.added.len();
            edits.added.retain(|r| r.id != rule);
            if edits.added.len() == own {
                if !super::rules::shipped().iter().any(|r| r.id == rule) {
                    return Err(Error::InvalidAccount {
                        field: "rules".to_owned(),
                        problem: format!("no rule {rule:?} (see `mailroom smtp rules {name}`)"),
                    });
                }
                if !edits.removed.contains(&rule) {
                    edits.removed.push(rule);
                }
            }
        }
        RuleChange::Reset => *edits = super::rules::RuleEdits::default(),
    }
    account::save(store, id, &settings).await?;
    Ok(super::rules::applicable(settings.preset.as_deref(), &settings.rules))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::HeldRate;

    /// The window sends the password change as a tagged value: keep, clear,
    /// or set with the password (an unknown change is refused).
    #[test]
    fn a_password_change_arrives_from_the_window_as_a_tagged_value() {
        let read = |json: &str| serde_json::from_str::<PasswordChange>(json).map_err(|_| ());
        assert_eq!(read(r#"{"change":"keep"}"#), Ok(PasswordChange::Keep));
        assert_eq!(read(r#"{"change":"clear"}"#), Ok(PasswordChange::Clear));
        assert_eq!(
            read(r#"{"change":"set","password":"app-pw"}"#),
            Ok(PasswordChange::Set("app-pw".to_owned()))
        );
        assert_eq!(read(r#"{"change":"forget"}"#), Err(()));
    }

    /// Issue 19: the rate that held on an account is kept per account, replaced
    /// by the next run's, shown with its date, forgotten when the account's
    /// server changes (through `manage::update_account`) and gone with the
    /// account.
    #[tokio::test]
    async fn the_rate_that_held_is_kept_per_account_and_forgotten_with_its_server() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with_clock(&dir.path().join("m.db"), Arc::new(ManualClock::at(1_700_000_000_000)))
            .await
            .expect("open");
        let secrets = SecretStore::EncryptedFile {
            dir: dir.path().to_owned(),
        };
        let settings = |name: &str, host: &str| AccountSettings {
            name: name.to_owned(),
            host: host.to_owned(),
            from_address: Some("news@example.com".to_owned()),
            auth: crate::smtp::AuthMethod::None,
            ..AccountSettings::default()
        };
        let relay = add_account(&store, &secrets, settings("relay", "smtp.example.com"), None)
            .await
            .expect("add");
        let other = add_account(&store, &secrets, settings("other", "smtp.example.net"), None)
            .await
            .expect("add");
        assert_eq!(relay.held_rate, None);
        store.set_held_rate(relay.id, 12.5).await.expect("set");
        store.set_held_rate(relay.id, 14.2).await.expect("replace");
        let held = HeldRate {
            rate: 14.2,
            at: 1_700_000_000_000,
        };
        assert_eq!(store.held_rate(relay.id).await.expect("read"), Some(held));
        assert_eq!(held.to_string(), "14.2/s on 14 Nov 2023 (UTC)");
        let listed = list_accounts(&store, &secrets).await.expect("list");
        let by_name = |name: &str| listed.iter().find(|a| a.settings.name == name).map(|a| a.held_rate);
        assert_eq!(by_name("relay"), Some(Some(held)));
        assert_eq!(by_name("other"), Some(None));
        assert_eq!(
            get_account(&store, &secrets, "relay").await.expect("get").held_rate,
            Some(held)
        );

        // A change that keeps the server keeps what it allowed.
        let mut renamed = settings("relay 2", "smtp.example.com");
        renamed.connections = 2;
        let kept = update_account(&store, &secrets, relay.id, renamed, PasswordChange::Keep)
            .await
            .expect("update");
        assert_eq!(kept.held_rate, Some(held));
        // Another server: forgotten.
        let moved = update_account(
            &store,
            &secrets,
            relay.id,
            settings("relay 2", "smtp.example.org"),
            PasswordChange::Keep,
        )
        .await
        .expect("update");
        assert_eq!(moved.held_rate, None);
        assert_eq!(store.held_rate(relay.id).await.expect("read"), None);

        // Gone with its account.
        store.set_held_rate(other.id, 3.0).await.expect("set");
        store.delete_account("other").await.expect("delete");
        assert!(store.held_rates().await.expect("read").is_empty());
    }
}
