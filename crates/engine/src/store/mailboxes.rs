//! Mailboxes (the IMAP side of SMTP accounts, without their passwords) and
//! where each one's bounce scan got to.

use super::Store;
use crate::error::{Error, Result};
use crate::mailbox::{MailboxSettings, ProcessedAction, ScanState};
use crate::model::Security;

/// A stored mailbox: its id, its SMTP account's name, settings and scan state.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMailbox {
    pub id: i64,
    pub account: String,
    pub settings: MailboxSettings,
    pub scan: ScanState,
}

struct MailboxRow {
    id: i64,
    account: String,
    host: String,
    port: i64,
    security: String,
    username: String,
    folder: String,
    connect_timeout_ms: i64,
    command_timeout_ms: i64,
    accept_invalid_certs: i64,
    processed: String,
    processed_folder: Option<String>,
    soft_bounce_limit: i64,
    scan_every_minutes: i64,
    uid_validity: Option<i64>,
    last_uid: i64,
    last_scan_at: Option<i64>,
    last_scan_error: Option<String>,
}

impl MailboxRow {
    fn into_stored(self) -> Result<StoredMailbox> {
        let corrupt = |what: &str| Error::Internal(format!("mailbox of {}: stored {what} is not valid", self.account));
        let settings = MailboxSettings {
            host: self.host.clone(),
            port: u16::try_from(self.port).map_err(|_| corrupt("port"))?,
            security: self.security.parse::<Security>().map_err(|_| corrupt("security"))?,
            username: self.username.clone(),
            folder: self.folder.clone(),
            connect_timeout_ms: u64::try_from(self.connect_timeout_ms).map_err(|_| corrupt("timeout"))?,
            command_timeout_ms: u64::try_from(self.command_timeout_ms).map_err(|_| corrupt("timeout"))?,
            accept_invalid_certs: self.accept_invalid_certs != 0,
            processed: self
                .processed
                .parse::<ProcessedAction>()
                .map_err(|_| corrupt("processed"))?,
            processed_folder: self.processed_folder.clone(),
            soft_bounce_limit: u32::try_from(self.soft_bounce_limit).map_err(|_| corrupt("soft_bounce_limit"))?,
            scan_every_minutes: u32::try_from(self.scan_every_minutes).map_err(|_| corrupt("scan_every_minutes"))?,
        };
        Ok(StoredMailbox {
            id: self.id,
            account: self.account,
            settings,
            scan: ScanState {
                uid_validity: self.uid_validity.and_then(|v| u32::try_from(v).ok()),
                last_uid: u32::try_from(self.last_uid).unwrap_or(0),
                last_scan_at: self.last_scan_at,
                last_scan_error: self.last_scan_error,
            },
        })
    }
}

impl Store {
    /// Adds the mailbox of SMTP account `account`; an account has one at most.
    pub async fn insert_mailbox(&self, account: &str, settings: &MailboxSettings) -> Result<i64> {
        let (profile, _) = self.account(account).await?;
        let now = self.now_ms();
        let (port, security, processed) = (
            i64::from(settings.port),
            settings.security.as_str(),
            settings.processed.as_str(),
        );
        let (connect, command) = (ms(settings.connect_timeout_ms), ms(settings.command_timeout_ms));
        let (soft, every) = (
            i64::from(settings.soft_bounce_limit),
            i64::from(settings.scan_every_minutes),
        );
        let result = sqlx::query_scalar!(
            r#"INSERT INTO mailboxes (profile_id, host, port, security, username, folder, connect_timeout_ms,
                 command_timeout_ms, accept_invalid_certs, processed, processed_folder, soft_bounce_limit,
                 scan_every_minutes, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)
             RETURNING id AS "id!""#,
            profile,
            settings.host,
            port,
            security,
            settings.username,
            settings.folder,
            connect,
            command,
            settings.accept_invalid_certs,
            processed,
            settings.processed_folder,
            soft,
            every,
            now,
        )
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(id) => Ok(id),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(Error::MailboxExists(account.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the settings of `account`'s mailbox. A new host, user or
    /// folder is another mailbox: where the last scan stopped is forgotten.
    pub async fn update_mailbox(&self, account: &str, settings: &MailboxSettings) -> Result<()> {
        let current = self.mailbox(account).await?;
        let moved = current.settings.host != settings.host
            || current.settings.port != settings.port
            || current.settings.username != settings.username
            || current.settings.folder != settings.folder;
        let now = self.now_ms();
        let (port, security, processed) = (
            i64::from(settings.port),
            settings.security.as_str(),
            settings.processed.as_str(),
        );
        let (connect, command) = (ms(settings.connect_timeout_ms), ms(settings.command_timeout_ms));
        let (soft, every) = (
            i64::from(settings.soft_bounce_limit),
            i64::from(settings.scan_every_minutes),
        );
        sqlx::query!(
            "UPDATE mailboxes SET host = ?2, port = ?3, security = ?4, username = ?5, folder = ?6,
                 connect_timeout_ms = ?7, command_timeout_ms = ?8, accept_invalid_certs = ?9, processed = ?10,
                 processed_folder = ?11, soft_bounce_limit = ?12, scan_every_minutes = ?13, updated_at = ?14,
                 uid_validity = CASE WHEN ?15 THEN NULL ELSE uid_validity END,
                 last_uid = CASE WHEN ?15 THEN 0 ELSE last_uid END
             WHERE id = ?1",
            current.id,
            settings.host,
            port,
            security,
            settings.username,
            settings.folder,
            connect,
            command,
            settings.accept_invalid_certs,
            processed,
            settings.processed_folder,
            soft,
            every,
            now,
            moved,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every mailbox, by account name.
    pub async fn mailboxes(&self) -> Result<Vec<StoredMailbox>> {
        let rows = sqlx::query_as!(
            MailboxRow,
            r#"SELECT m.id AS "id!", p.name AS account, m.host, m.port, m.security, m.username, m.folder,
                      m.connect_timeout_ms, m.command_timeout_ms, m.accept_invalid_certs, m.processed,
                      m.processed_folder, m.soft_bounce_limit, m.scan_every_minutes, m.uid_validity, m.last_uid,
                      m.last_scan_at, m.last_scan_error
               FROM mailboxes m JOIN smtp_profiles p ON p.id = m.profile_id
               ORDER BY p.name COLLATE NOCASE"#
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MailboxRow::into_stored).collect()
    }

    /// The mailbox of SMTP account `account`.
    pub async fn mailbox(&self, account: &str) -> Result<StoredMailbox> {
        let row = sqlx::query_as!(
            MailboxRow,
            r#"SELECT m.id AS "id!", p.name AS account, m.host, m.port, m.security, m.username, m.folder,
                      m.connect_timeout_ms, m.command_timeout_ms, m.accept_invalid_certs, m.processed,
                      m.processed_folder, m.soft_bounce_limit, m.scan_every_minutes, m.uid_validity, m.last_uid,
                      m.last_scan_at, m.last_scan_error
               FROM mailboxes m JOIN smtp_profiles p ON p.id = m.profile_id
               WHERE p.name = ?1"#,
            account
        )
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| Error::MailboxNotFound(account.to_owned()))?
            .into_stored()
    }

    /// Deletes `account`'s mailbox (its recorded bounces stay).
    pub async fn delete_mailbox(&self, account: &str) -> Result<()> {
        let mailbox = self.mailbox(account).await?;
        sqlx::query!("DELETE FROM mailboxes WHERE id = ?1", mailbox.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records how a scan ended: when, and why it stopped if it failed.
    pub async fn finish_scan(&self, mailbox: i64, error: Option<&str>) -> Result<()> {
        let now = self.now_ms();
        sqlx::query!(
            "UPDATE mailboxes SET last_scan_at = ?2, last_scan_error = ?3 WHERE id = ?1",
            mailbox,
            now,
            error
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
