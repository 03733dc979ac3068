//! What a person does with mailboxes — add, edit, list, remove, test, scan —
//! as the calls both front ends make. Settings go to the store, passwords to
//! the secret store, and nothing returned here carries a password.

use tokio_util::sync::CancellationToken;

use super::diagnose::{self, MailboxDiagnosis, MailboxStageReport};
use super::scan::{self, ScanProgress, ScanReport};
use super::{Mailbox, MailboxSettings};
use crate::error::{Error, Result};
use crate::progress::Sink;
use crate::secrets::{SecretKind, SecretStore};
use crate::store::{Store, StoredMailbox};

/// Where a mailbox's password comes from when it is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxPassword {
    /// Leave the stored one as it is (none for a new mailbox).
    Keep,
    /// This one.
    Set(String),
    /// The SMTP account's own password (an app password or 授权码 usually
    /// serves both).
    SameAsSmtp,
    /// Forget it.
    Clear,
}

/// The settings a new mailbox for `account` starts from (its preset's host).
pub async fn suggested_settings(store: &Store, account: &str) -> Result<MailboxSettings> {
    let (_, smtp) = crate::smtp::account::load(store, account).await?;
    Ok(MailboxSettings::for_account(&smtp))
}

/// Adds the mailbox of SMTP account `account`.
pub async fn add_mailbox(
    store: &Store,
    secrets: &SecretStore,
    account: &str,
    settings: MailboxSettings,
    password: MailboxPassword,
) -> Result<Mailbox> {
    let settings = settings.normalised();
    settings.validate()?;
    store.insert_mailbox(account, &settings).await?;
    if let Err(e) = apply_password(secrets, account, password).await {
        // Half-saved without its password: undo.
        let _ignored = store.delete_mailbox(account).await;
        return Err(e);
    }
    get_mailbox(store, secrets, account).await
}

/// Replaces `account`'s mailbox settings.
pub async fn update_mailbox(
    store: &Store,
    secrets: &SecretStore,
    account: &str,
    settings: MailboxSettings,
    password: MailboxPassword,
) -> Result<Mailbox> {
    let settings = settings.normalised();
    settings.validate()?;
    store.update_mailbox(account, &settings).await?;
    apply_password(secrets, account, password).await?;
    get_mailbox(store, secrets, account).await
}

async fn apply_password(secrets: &SecretStore, account: &str, password: MailboxPassword) -> Result<()> {
    match password {
        MailboxPassword::Keep => Ok(()),
        MailboxPassword::Set(password) if password.is_empty() => Ok(()),
        MailboxPassword::Set(password) => secrets.set_kind(SecretKind::Mailbox, account, &password).await,
        MailboxPassword::SameAsSmtp => match secrets.get(account).await? {
            Some(password) => secrets.set_kind(SecretKind::Mailbox, account, &password).await,
            None => Err(Error::InvalidAccount {
                field: "password".to_owned(),
                problem: format!("the SMTP account \"{account}\" has no password to use"),
            }),
        },
        MailboxPassword::Clear => secrets.delete_kind(SecretKind::Mailbox, account).await,
    }
}

/// Every mailbox.
pub async fn list_mailboxes(store: &Store, secrets: &SecretStore) -> Result<Vec<Mailbox>> {
    let mut out = Vec::new();
    for stored in store.mailboxes().await? {
        out.push(view(secrets, stored).await?);
    }
    Ok(out)
}

/// `account`'s mailbox.
pub async fn get_mailbox(store: &Store, secrets: &SecretStore, account: &str) -> Result<Mailbox> {
    view(secrets, store.mailbox(account).await?).await
}

/// Removes `account`'s mailbox and its password (recorded bounces stay).
pub async fn remove_mailbox(store: &Store, secrets: &SecretStore, account: &str) -> Result<()> {
    store.delete_mailbox(account).await?;
    secrets.delete_kind(SecretKind::Mailbox, account).await
}

/// Test connection for `account`'s mailbox, each step pushed to `on_stage`
/// (whose stop signal cancels it). A failed step is a result.
pub async fn test_mailbox(
    store: &Store,
    secrets: &SecretStore,
    account: &str,
    on_stage: &dyn Sink<MailboxStageReport>,
) -> Result<MailboxDiagnosis> {
    let mailbox = store.mailbox(account).await?;
    let password = secrets.get_kind(SecretKind::Mailbox, account).await?;
    let settings = scan::imap_settings(&mailbox, password);
    Ok(diagnose::test_connection(&settings, on_stage).await)
}

/// Scans `account`'s mailbox, or every mailbox when `None` (one report each).
pub async fn scan_mailboxes(
    store: &Store,
    secrets: &SecretStore,
    account: Option<&str>,
    cancel: CancellationToken,
    mut on_progress: impl FnMut(&str, ScanProgress) + Send,
) -> Result<Vec<ScanReport>> {
    let accounts: Vec<String> = match account {
        Some(account) => vec![store.mailbox(account).await?.account],
        None => store.mailboxes().await?.into_iter().map(|m| m.account).collect(),
    };
    let mut reports = Vec::with_capacity(accounts.len());
    for account in accounts {
        if cancel.is_cancelled() {
            break;
        }
        let name = account.clone();
        reports.push(scan::scan(store, secrets, &account, cancel.clone(), |p| on_progress(&name, p)).await?);
    }
    Ok(reports)
}

async fn view(secrets: &SecretStore, stored: StoredMailbox) -> Result<Mailbox> {
    let has_password = secrets.get_kind(SecretKind::Mailbox, &stored.account).await?.is_some();
    Ok(Mailbox {
        id: stored.id,
        warnings: stored.settings.warnings(),
        account: stored.account,
        settings: stored.settings,
        has_password,
        scan: stored.scan,
    })
}
