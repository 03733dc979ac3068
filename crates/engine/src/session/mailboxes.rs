//! The session's calls for the sender's mailboxes (IMAP): their settings and
//! passwords, and the bounce scan.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Session;
use crate::error::Result;
use crate::mailbox::manage::{self, MailboxPassword};
use crate::mailbox::scan::{ScanProgress, ScanReport};
use crate::mailbox::{Mailbox, MailboxSettings};

impl Session {
    /// Every mailbox (never with its password).
    pub async fn mailboxes(&self) -> Result<Vec<Mailbox>> {
        manage::list_mailboxes(self.store(), self.secrets().await).await
    }

    /// How often each mailbox is scanned (`None`: by hand), read from the
    /// database alone: the background timer asks this often, and must not
    /// touch the keychain for it.
    pub async fn scan_intervals(&self) -> Result<Vec<(String, Option<Duration>)>> {
        Ok(self
            .store()
            .mailboxes()
            .await?
            .into_iter()
            .map(|m| {
                let every = m.settings.scan_every_minutes;
                (
                    m.account,
                    (every > 0).then(|| Duration::from_secs(u64::from(every) * 60)),
                )
            })
            .collect())
    }

    /// SMTP account `account`'s mailbox.
    pub async fn mailbox(&self, account: &str) -> Result<Mailbox> {
        manage::get_mailbox(self.store(), self.secrets().await, account).await
    }

    /// A new mailbox's settings for `account`, from its provider's preset.
    pub async fn suggested_mailbox(&self, account: &str) -> Result<MailboxSettings> {
        manage::suggested_settings(self.store(), account).await
    }

    /// Adds `account`'s mailbox.
    pub async fn add_mailbox(
        &self,
        account: &str,
        settings: MailboxSettings,
        password: MailboxPassword,
    ) -> Result<Mailbox> {
        manage::add_mailbox(self.store(), self.secrets().await, account, settings, password).await
    }

    /// Changes `account`'s mailbox.
    pub async fn update_mailbox(
        &self,
        account: &str,
        settings: MailboxSettings,
        password: MailboxPassword,
    ) -> Result<Mailbox> {
        manage::update_mailbox(self.store(), self.secrets().await, account, settings, password).await
    }

    /// Adds `account`'s mailbox, or changes the one it has (the window's Save).
    pub async fn save_mailbox(
        &self,
        account: &str,
        settings: MailboxSettings,
        password: MailboxPassword,
    ) -> Result<Mailbox> {
        if self.store().mailbox(account).await.is_ok() {
            self.update_mailbox(account, settings, password).await
        } else {
            self.add_mailbox(account, settings, password).await
        }
    }

    /// Removes `account`'s mailbox and its password.
    pub async fn remove_mailbox(&self, account: &str) -> Result<()> {
        manage::remove_mailbox(self.store(), self.secrets().await, account).await
    }

    /// Scans `account`'s mailbox (every mailbox when `None`) for bounces,
    /// telling `on_progress` how far it has read; `cancel` stops it.
    pub async fn scan_mailboxes(
        &self,
        account: Option<&str>,
        cancel: CancellationToken,
        on_progress: impl FnMut(&str, ScanProgress) + Send,
    ) -> Result<Vec<ScanReport>> {
        manage::scan_mailboxes(self.store(), self.secrets().await, account, cancel, on_progress).await
    }
}
