//! Mailboxes: the IMAP side of a sending account, where bounces and
//! unsubscribe replies arrive. Settings (from the same presets as SMTP),
//! the connection, Test connection, the bounce scan and when it runs.
//!
//! # Layout
//! - this file: a mailbox's settings, their validation, the IMAP presets
//!   (data: `presets/imap.json`, keyed by the SMTP preset).
//! - [`failure`]: what went wrong talking to the server, and what to try.
//! - [`client`]: one IMAP connection (async-imap over our own TCP/TLS
//!   stream), every step under a timeout, every read bounded in time and size.
//! - [`diagnose`]: Test connection, DNS → TCP → TLS → greeting → LOGIN →
//!   SELECT, each step timed, cancellable.
//! - [`scan`]: the bounce scan: new messages only (by UID, under the
//!   folder's UIDVALIDITY), each notice matched to its campaign and recipient.
//! - [`manage`]: the calls front ends make (add, edit, list, remove, test, scan).
//! - [`schedule`]: when scans run by themselves (after a campaign, an hour and
//!   a day later, and periodically while the app runs).
//!
//! The password lives in the secret store ([`crate::secrets::SecretKind::Mailbox`]),
//! keyed by the SMTP account's name; never in the database.

pub mod client;
pub mod diagnose;
pub mod failure;
pub mod manage;
pub mod scan;
pub mod schedule;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use failure::{MailboxFailure, MailboxProblem, MailboxStage};

use crate::error::{Error, Result};
use crate::model::string_enum;
use crate::smtp::Security;
use crate::smtp::account::{AccountSettings, ConnectionWarning};

string_enum! {
    /// What the scan does to a notice it has recorded. Mailroom never deletes mail.
    ProcessedAction {
        /// Nothing (the default).
        Leave => "leave",
        /// Mark it read and flag it `$MailroomBounce`.
        Flag => "flag",
        /// Move it to `processed_folder`.
        Move => "move",
    }
}

/// A mailbox's settings as a person enters them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct MailboxSettings {
    pub host: String,
    pub port: u16,
    /// Implicit TLS (993), STARTTLS (143), or none (loopback only, warned).
    pub security: Security,
    pub username: String,
    /// The folder notices arrive in.
    pub folder: String,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub connect_timeout_ms: u64,
    /// How long any answer may take, and how long a read may stall.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub command_timeout_ms: u64,
    pub accept_invalid_certs: bool,
    pub processed: ProcessedAction,
    pub processed_folder: Option<String>,
    /// The soft bounce of an address, across campaigns, that suppresses it.
    pub soft_bounce_limit: u32,
    /// Scan every this many minutes while the app runs; 0: on demand and
    /// after campaigns only.
    pub scan_every_minutes: u32,
}

impl Default for MailboxSettings {
    fn default() -> Self {
        MailboxSettings {
            host: String::new(),
            port: 993,
            security: Security::Tls,
            username: String::new(),
            folder: "INBOX".to_owned(),
            connect_timeout_ms: 15_000,
            command_timeout_ms: 60_000,
            accept_invalid_certs: false,
            processed: ProcessedAction::Leave,
            processed_folder: None,
            soft_bounce_limit: 3,
            scan_every_minutes: 60,
        }
    }
}

/// Where the last scan of a mailbox got to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ScanState {
    /// The folder's UIDVALIDITY when it was last read.
    pub uid_validity: Option<u32>,
    /// Every message up to this UID has been read.
    pub last_uid: u32,
    /// Unix ms.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub last_scan_at: Option<i64>,
    /// Why the last scan stopped, when it failed.
    pub last_scan_error: Option<String>,
}

/// A stored mailbox, as front ends show it. Never carries the password.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Mailbox {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub id: i64,
    /// The SMTP account it belongs to.
    pub account: String,
    pub settings: MailboxSettings,
    pub has_password: bool,
    pub warnings: Vec<ConnectionWarning>,
    pub scan: ScanState,
}

const MAX_TIMEOUT_MS: u64 = 10 * 60 * 1000;

impl MailboxSettings {
    /// The settings a new mailbox for `account` starts from: the provider's
    /// IMAP host when its preset has one, else the SMTP host with `imap.`
    /// for `smtp.`; the same user name (or the sender address).
    pub fn for_account(account: &AccountSettings) -> MailboxSettings {
        let preset = account.preset.as_deref().and_then(preset_for);
        let host = match preset {
            Some(p) => p.host.clone(),
            None => account
                .host
                .strip_prefix("smtp.")
                .map_or_else(String::new, |rest| format!("imap.{rest}")),
        };
        MailboxSettings {
            host,
            port: preset.map_or(993, |p| p.port),
            security: preset.map_or(Security::Tls, |p| p.security),
            username: account
                .username
                .clone()
                .filter(|u| !u.is_empty())
                .or_else(|| account.from_address.clone())
                .unwrap_or_default(),
            accept_invalid_certs: account.accept_invalid_certs,
            ..MailboxSettings::default()
        }
    }

    /// Checks every field; the error names the field and says what is wrong.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field: &str, problem: &str| Error::InvalidAccount {
            field: field.to_owned(),
            problem: problem.to_owned(),
        };
        let host = self.host.trim();
        if host.is_empty() {
            return Err(invalid(
                "host",
                "enter the IMAP server's host name, e.g. imap.example.com",
            ));
        }
        if host.contains("://") || host.contains('/') || host.contains(char::is_whitespace) || host.contains('@') {
            return Err(invalid("host", "enter just the host name, e.g. imap.example.com"));
        }
        if self.port == 0 {
            return Err(invalid(
                "port",
                "choose a port between 1 and 65535 (usually 993, or 143 with STARTTLS)",
            ));
        }
        if self.username.trim().is_empty() {
            return Err(invalid(
                "username",
                "enter the mailbox's user name (usually the address)",
            ));
        }
        for (field, value) in [
            ("folder", Some(&self.folder)),
            ("processed_folder", self.processed_folder.as_ref()),
        ] {
            if let Some(value) = value
                && (value.chars().any(char::is_control) || value.len() > 200)
            {
                return Err(invalid(field, "a folder name is one line of at most 200 characters"));
            }
        }
        if self.folder.trim().is_empty() {
            return Err(invalid("folder", "name the folder notices arrive in (usually INBOX)"));
        }
        if self.processed == ProcessedAction::Move
            && self.processed_folder.as_deref().is_none_or(|f| f.trim().is_empty())
        {
            return Err(invalid(
                "processed_folder",
                "name the folder processed notices are moved to",
            ));
        }
        for (field, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("command_timeout_ms", self.command_timeout_ms),
        ] {
            if !(100..=MAX_TIMEOUT_MS).contains(&value) {
                return Err(invalid(field, "choose a timeout between 0.1 and 600 seconds"));
            }
        }
        if self.soft_bounce_limit == 0 || self.soft_bounce_limit > 100 {
            return Err(invalid("soft_bounce_limit", "choose between 1 and 100 soft bounces"));
        }
        if self.scan_every_minutes > 7 * 24 * 60 {
            return Err(invalid(
                "scan_every_minutes",
                "choose at most a week between scans (0: no timer)",
            ));
        }
        Ok(())
    }

    /// Trims text fields.
    pub fn normalised(mut self) -> MailboxSettings {
        self.host = self.host.trim().to_owned();
        self.username = self.username.trim().to_owned();
        self.folder = self.folder.trim().to_owned();
        self.processed_folder = self
            .processed_folder
            .take()
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty());
        self
    }

    /// What a person must see wherever this mailbox is shown.
    pub fn warnings(&self) -> Vec<ConnectionWarning> {
        ConnectionWarning::for_connection(self.security, &self.host, self.accept_invalid_certs)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }
}

/// An SMTP preset's mailbox (data: `presets/imap.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ImapPreset {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub note: String,
}

#[derive(Deserialize)]
struct ImapPresetFile {
    presets: HashMap<String, ImapPreset>,
}

/// The mailbox of the SMTP preset `smtp_preset`, when the provider has one.
pub fn preset_for(smtp_preset: &str) -> Option<&'static ImapPreset> {
    static PRESETS: OnceLock<HashMap<String, ImapPreset>> = OnceLock::new();
    PRESETS
        .get_or_init(|| {
            // Part of the binary and checked by a test.
            serde_json::from_str::<ImapPresetFile>(include_str!("../../presets/imap.json"))
                .map(|file| file.presets)
                .unwrap_or_default()
        })
        .get(smtp_preset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::account;

    #[test]
    fn presets_fill_the_mailbox_from_the_sending_account() {
        for id in [
            "gmail",
            "office365",
            "qq",
            "netease_163",
            "netease_126",
            "tencent_exmail",
            "zoho",
        ] {
            let preset = preset_for(id).unwrap_or_else(|| panic!("no IMAP preset for {id}"));
            assert_eq!((preset.port, preset.security), (993, Security::Tls), "{id}");
            let smtp = account::preset(id).expect("smtp preset").settings("work", None);
            let settings = MailboxSettings {
                username: "me@example.com".into(),
                ..MailboxSettings::for_account(&smtp)
            };
            assert_eq!(settings.validate().map_err(|e| e.to_string()), Ok(()), "{id}");
        }
        let qq = account::preset("qq").expect("qq").settings("qq", None);
        assert_eq!(MailboxSettings::for_account(&qq).host, "imap.qq.com");
        assert!(preset_for("sendgrid").is_none() && preset_for("sandbox").is_none());
        let custom = AccountSettings {
            host: "smtp.example.org".into(),
            username: Some("me@example.org".into()),
            ..AccountSettings::default()
        };
        let derived = MailboxSettings::for_account(&custom);
        assert_eq!(
            (derived.host.as_str(), derived.username.as_str()),
            ("imap.example.org", "me@example.org")
        );
    }

    #[test]
    fn validation_names_the_field() {
        let base = MailboxSettings {
            host: "imap.example.com".into(),
            username: "me".into(),
            ..MailboxSettings::default()
        };
        assert!(base.validate().is_ok());
        let field = |s: MailboxSettings| match s.validate() {
            Err(Error::InvalidAccount { field, .. }) => field,
            other => format!("{other:?}"),
        };
        assert_eq!(
            field(MailboxSettings {
                host: "imaps://x".into(),
                ..base.clone()
            }),
            "host"
        );
        assert_eq!(
            field(MailboxSettings {
                username: " ".into(),
                ..base.clone()
            }),
            "username"
        );
        assert_eq!(
            field(MailboxSettings {
                processed: ProcessedAction::Move,
                ..base.clone()
            }),
            "processed_folder"
        );
        assert_eq!(
            field(MailboxSettings {
                soft_bounce_limit: 0,
                ..base.clone()
            }),
            "soft_bounce_limit"
        );
        assert_eq!(
            field(MailboxSettings {
                command_timeout_ms: 10,
                ..base.clone()
            }),
            "command_timeout_ms"
        );
        assert_eq!(
            field(MailboxSettings {
                folder: "a\nb".into(),
                ..base
            }),
            "folder"
        );
    }
}
