//! SMTP accounts: the settings a person enters, their validation, and the
//! provider presets that fill them in. The password is not here: it lives in
//! the secret store ([`crate::secrets`]), keyed by the account's name.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::client::ConnectionSettings;
use super::rules::RuleEdits;
use super::{AuthMethod, Security};
use crate::address;
use crate::error::{Error, Result};
use crate::store::{AccountRecord, Store};

/// An account's settings as a person enters them (the store keeps them as
/// its own row type, `store::AccountRecord`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct AccountSettings {
    pub name: String,
    /// The preset it was made from (`gmail`, `sandbox`, ...), if any.
    pub preset: Option<String>,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub auth: AuthMethod,
    pub username: Option<String>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub helo_name: Option<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub connect_timeout_ms: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub command_timeout_ms: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub data_timeout_ms: u64,
    pub connections: u32,
    /// Messages per connection before a polite QUIT and a fresh connection.
    pub per_connection: u32,
    /// Messages per second; `None` is unthrottled.
    pub rate_per_second: Option<f64>,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    /// Attempts per recipient for transient failures.
    pub retries: u32,
    /// Accept any certificate (self-hosted servers); shown as a warning everywhere.
    pub accept_invalid_certs: bool,
    /// When a message's content went out and no answer came (a timeout or a
    /// lost connection after it), send it again on its own with the same
    /// Message-ID (at least once: the recipient may get it twice, which
    /// their history then says). Off: the recipient becomes `uncertain`
    /// and a person decides.
    pub retry_ambiguous: bool,
    /// How long a campaign waits for a server that stops answering after it
    /// accepted mail (a restart, a network outage) before it pauses. A
    /// server that cannot be reached at the start pauses the campaign
    /// within a few connection timeouts whatever this says.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub outage_limit_ms: u64,
    /// The account's changes to the shipped provider rules ([`super::rules`]).
    pub rules: RuleEdits,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            name: String::new(),
            preset: None,
            host: String::new(),
            port: 587,
            security: Security::Starttls,
            auth: AuthMethod::Plain,
            username: None,
            from_address: None,
            from_name: None,
            reply_to: None,
            helo_name: None,
            connect_timeout_ms: 15_000,
            command_timeout_ms: 30_000,
            data_timeout_ms: 120_000,
            connections: 4,
            per_connection: 100,
            rate_per_second: None,
            per_minute: None,
            per_hour: None,
            per_day: None,
            retries: 5,
            accept_invalid_certs: false,
            retry_ambiguous: false,
            outage_limit_ms: DEFAULT_OUTAGE_LIMIT_MS,
            rules: RuleEdits::default(),
        }
    }
}

/// A stored account, as front ends show it. Never carries the password.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Account {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub id: i64,
    #[serde(flatten)]
    pub settings: AccountSettings,
    /// Whether a password is kept for it in the secret store.
    pub has_password: bool,
    /// What a person must see: no encryption, certificates not checked.
    pub warnings: Vec<ConnectionWarning>,
    /// The rate its server let it hold without throttle replies, found by
    /// its last campaign (the next one starts there), and when.
    pub held_rate: Option<crate::store::HeldRate>,
    /// Suspended by a provider rule or its quota, until when and why; none
    /// when it may send ("Resume now" ends it sooner).
    pub suspension: Option<crate::store::AccountSuspension>,
}

const MAX_TIMEOUT_MS: u64 = 10 * 60 * 1000;
/// How long a campaign waits out a server's outage unless the account says otherwise.
pub const DEFAULT_OUTAGE_LIMIT_MS: u64 = 10 * 60 * 1000;
/// The longest an account may let a campaign wait out an outage: a day.
const MAX_OUTAGE_LIMIT_MS: u64 = 24 * 60 * 60 * 1000;

impl AccountSettings {
    /// Checks every field; the error names the field and says what is wrong.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field: &str, problem: String| Error::InvalidAccount {
            field: field.to_owned(),
            problem,
        };
        let name = self.name.trim();
        if name.is_empty() {
            return Err(invalid("name", "give the account a name".into()));
        }
        if name.len() > 100 || name.chars().any(char::is_control) {
            return Err(invalid("name", "use at most 100 printable characters".into()));
        }
        let host = self.host.trim();
        if host.is_empty() {
            return Err(invalid(
                "host",
                "enter the server's host name, e.g. smtp.example.com".into(),
            ));
        }
        if host.contains("://")
            || host.contains('/')
            || host.contains(char::is_whitespace)
            || host.contains(char::is_control)
            || host.contains('@')
        {
            return Err(invalid(
                "host",
                format!("\"{host}\" is not a host name: enter just the name, e.g. smtp.example.com"),
            ));
        }
        if host.contains('{') {
            return Err(invalid("host", "choose the region to complete the host name".into()));
        }
        if self.port == 0 {
            return Err(invalid(
                "port",
                "choose a port between 1 and 65535 (usually 465 or 587)".into(),
            ));
        }
        if self.auth != AuthMethod::None && self.username.as_deref().is_none_or(|u| u.trim().is_empty()) {
            return Err(invalid("username", "enter the user name, or choose no login".into()));
        }
        // Values that reach an SMTP command line: a line break in one would
        // start a command of its own (the client checks again before writing).
        if let Some(user) = &self.username
            && (user.len() > 255 || user.contains(char::is_control))
        {
            return Err(invalid(
                "username",
                "use at most 255 characters, without line breaks or control characters".into(),
            ));
        }
        if let Some(helo) = self.helo_name.as_deref().filter(|h| !h.trim().is_empty())
            && let Err(problem) = super::client::ehlo_argument(helo)
        {
            return Err(invalid(
                "helo_name",
                format!(
                    "the EHLO name {problem}: use this computer's host name, e.g. mail.example.com, or leave it empty"
                ),
            ));
        }
        for (field, value) in [("from_address", &self.from_address), ("reply_to", &self.reply_to)] {
            if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty())
                && let Err(reason) = address::validate(value)
            {
                return Err(invalid(
                    field,
                    format!("\"{value}\" is not an email address ({reason})"),
                ));
            }
        }
        if let Some(name) = &self.from_name
            && name.chars().any(char::is_control)
        {
            return Err(invalid(
                "from_name",
                "the sender name must be one line, without control characters".into(),
            ));
        }
        for (field, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("command_timeout_ms", self.command_timeout_ms),
            ("data_timeout_ms", self.data_timeout_ms),
        ] {
            if !(100..=MAX_TIMEOUT_MS).contains(&value) {
                return Err(invalid(field, "choose a timeout between 0.1 and 600 seconds".into()));
            }
        }
        if !(1_000..=MAX_OUTAGE_LIMIT_MS).contains(&self.outage_limit_ms) {
            return Err(invalid(
                "outage_limit_ms",
                "choose how long to wait for a server that is down: between 1 second and 24 hours".into(),
            ));
        }
        for rule in &self.rules.added {
            rule.validate()?;
        }
        if !(1..=64).contains(&self.connections) {
            return Err(invalid("connections", "choose between 1 and 64 connections".into()));
        }
        if self.per_connection == 0 {
            return Err(invalid(
                "per_connection",
                "send at least one message per connection".into(),
            ));
        }
        if let Some(rate) = self.rate_per_second
            && !(rate.is_finite() && rate > 0.0 && rate <= 100_000.0)
        {
            return Err(invalid(
                "rate_per_second",
                "choose a rate above 0 messages a second, or leave it empty for no limit".into(),
            ));
        }
        for (field, value) in [
            ("per_minute", self.per_minute),
            ("per_hour", self.per_hour),
            ("per_day", self.per_day),
        ] {
            if value == Some(0) {
                return Err(invalid(
                    field,
                    "a quota of 0 would never send; leave it empty for no quota".into(),
                ));
            }
        }
        if self.retries > 20 {
            return Err(invalid("retries", "choose at most 20 attempts".into()));
        }
        Ok(())
    }

    /// The warnings a person must see wherever this account is shown.
    pub fn warnings(&self) -> Vec<ConnectionWarning> {
        ConnectionWarning::for_connection(self.security, &self.host, self.accept_invalid_certs)
    }

    /// The client's view of these settings, with the password from the secret store.
    pub fn connection_settings(&self, password: Option<String>) -> Arc<ConnectionSettings> {
        Arc::new(ConnectionSettings {
            host: self.host.trim().to_owned(),
            port: self.port,
            security: self.security,
            auth: self.auth,
            username: self.username.clone().filter(|u| !u.is_empty()),
            password,
            helo_name: self.helo_name.clone(),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            command_timeout: Duration::from_millis(self.command_timeout_ms),
            data_timeout: Duration::from_millis(self.data_timeout_ms),
            accept_invalid_certs: self.accept_invalid_certs,
        })
    }

    /// Trims text fields and turns empty optional ones into `None`.
    pub fn normalised(mut self) -> AccountSettings {
        self.name = self.name.trim().to_owned();
        self.host = self.host.trim().to_owned();
        for field in [
            &mut self.username,
            &mut self.from_address,
            &mut self.from_name,
            &mut self.reply_to,
            &mut self.helo_name,
            &mut self.preset,
        ] {
            *field = field.take().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        }
        self
    }
}

/// What a person must see wherever an account or a mailbox is shown: a
/// connection others on the network could read. The window says it from
/// its catalog (`warning.` keys), the CLI from the English `Display`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum ConnectionWarning {
    /// No TLS to a server that is not this machine: the password and the
    /// mail cross the network in clear text.
    NoEncryption,
    /// The server's certificate is accepted whoever signed it.
    CertificatesNotChecked,
}

impl ConnectionWarning {
    /// The warnings for a connection to `host` with `security`, checking
    /// certificates unless `accept_invalid_certs`.
    pub fn for_connection(security: Security, host: &str, accept_invalid_certs: bool) -> Vec<ConnectionWarning> {
        let mut warnings = Vec::new();
        if security == Security::None && !is_loopback(host) {
            warnings.push(ConnectionWarning::NoEncryption);
        }
        if accept_invalid_certs {
            warnings.push(ConnectionWarning::CertificatesNotChecked);
        }
        warnings
    }
}

/// English, for the CLI.
impl std::fmt::Display for ConnectionWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectionWarning::NoEncryption => {
                "No encryption: the password and every message cross the network in clear text."
            }
            ConnectionWarning::CertificatesNotChecked => {
                "Certificates are not checked: anyone on the network path could read this mail."
            }
        })
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A provider's settings and published limits (data: `presets/smtp.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Preset {
    pub id: String,
    pub name: String,
    /// May contain `{region}`, filled from `regions`.
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub auth: AuthMethod,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub default_region: Option<String>,
    pub connections: u32,
    pub per_connection: u32,
    #[serde(default)]
    pub rate_per_second: Option<f64>,
    #[serde(default)]
    pub per_minute: Option<u32>,
    #[serde(default)]
    pub per_hour: Option<u32>,
    #[serde(default)]
    pub per_day: Option<u32>,
    /// What the provider calls the password (app password, 授权码, API key).
    #[serde(default)]
    pub password_label: Option<String>,
    pub note: String,
}

#[derive(Deserialize)]
struct PresetFile {
    presets: Vec<Preset>,
}

/// Every preset, in the order the SMTP screen lists them.
pub fn presets() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(|| {
        // The file is part of the binary and checked by a test; a broken edit
        // shows up there, never to a person.
        serde_json::from_str::<PresetFile>(include_str!("../../presets/smtp.json"))
            .map(|file| file.presets)
            .unwrap_or_default()
    })
}

/// The preset called `id`.
pub fn preset(id: &str) -> Result<&'static Preset> {
    presets()
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::InvalidAccount {
            field: "preset".to_owned(),
            problem: format!(
                "there is no preset \"{id}\" (presets: {})",
                presets().iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })
}

impl Preset {
    /// A new account's settings from this preset (`region` for `{region}` hosts).
    pub fn settings(&self, name: &str, region: Option<&str>) -> AccountSettings {
        let region = region.or(self.default_region.as_deref()).unwrap_or("");
        AccountSettings {
            name: name.to_owned(),
            preset: Some(self.id.clone()),
            host: self.host.replace("{region}", region),
            port: self.port,
            security: self.security,
            auth: self.auth,
            username: self.username.clone(),
            connections: self.connections,
            per_connection: self.per_connection,
            rate_per_second: self.rate_per_second,
            per_minute: self.per_minute,
            per_hour: self.per_hour,
            per_day: self.per_day,
            ..AccountSettings::default()
        }
    }
}

/// The row the store keeps: the settings as they are, the rule edits as JSON
/// (none without edits).
impl TryFrom<&AccountSettings> for AccountRecord {
    type Error = Error;

    fn try_from(settings: &AccountSettings) -> Result<AccountRecord> {
        let rules = (!settings.rules.is_empty())
            .then(|| serde_json::to_string(&settings.rules))
            .transpose()
            .map_err(|e| Error::Internal(format!("rules: {e}")))?;
        Ok(AccountRecord {
            name: settings.name.clone(),
            preset: settings.preset.clone(),
            host: settings.host.clone(),
            port: settings.port,
            security: settings.security,
            auth: settings.auth,
            username: settings.username.clone(),
            from_address: settings.from_address.clone(),
            from_name: settings.from_name.clone(),
            reply_to: settings.reply_to.clone(),
            helo_name: settings.helo_name.clone(),
            connect_timeout_ms: settings.connect_timeout_ms,
            command_timeout_ms: settings.command_timeout_ms,
            data_timeout_ms: settings.data_timeout_ms,
            connections: settings.connections,
            per_connection: settings.per_connection,
            rate_per_second: settings.rate_per_second,
            per_minute: settings.per_minute,
            per_hour: settings.per_hour,
            per_day: settings.per_day,
            retries: settings.retries,
            accept_invalid_certs: settings.accept_invalid_certs,
            retry_ambiguous: settings.retry_ambiguous,
            outage_limit_ms: settings.outage_limit_ms,
            rules,
        })
    }
}

/// The settings read back from the store's row; rule edits that do not
/// read are a corrupt row, as any other column that does not.
impl TryFrom<AccountRecord> for AccountSettings {
    type Error = Error;

    fn try_from(record: AccountRecord) -> Result<AccountSettings> {
        let rules = match &record.rules {
            Some(json) => serde_json::from_str(json)
                .map_err(|_| Error::Internal(format!("account {}: stored rules is not valid", record.name)))?,
            None => RuleEdits::default(),
        };
        Ok(AccountSettings {
            name: record.name,
            preset: record.preset,
            host: record.host,
            port: record.port,
            security: record.security,
            auth: record.auth,
            username: record.username,
            from_address: record.from_address,
            from_name: record.from_name,
            reply_to: record.reply_to,
            helo_name: record.helo_name,
            connect_timeout_ms: record.connect_timeout_ms,
            command_timeout_ms: record.command_timeout_ms,
            data_timeout_ms: record.data_timeout_ms,
            connections: record.connections,
            per_connection: record.per_connection,
            rate_per_second: record.rate_per_second,
            per_minute: record.per_minute,
            per_hour: record.per_hour,
            per_day: record.per_day,
            retries: record.retries,
            accept_invalid_certs: record.accept_invalid_certs,
            retry_ambiguous: record.retry_ambiguous,
            outage_limit_ms: record.outage_limit_ms,
            rules,
        })
    }
}

/// The account called `name` and its id, with its settings read from the
/// store's row.
pub async fn load(store: &Store, name: &str) -> Result<(i64, AccountSettings)> {
    let (id, record) = store.account(name).await?;
    Ok((id, record.try_into()?))
}

/// Every account and its id, by name.
pub async fn load_all(store: &Store) -> Result<Vec<(i64, AccountSettings)>> {
    let mut accounts = Vec::new();
    for (id, record) in store.accounts().await? {
        accounts.push((id, record.try_into()?));
    }
    Ok(accounts)
}

/// Stores a new account (its name must be new); its id. No validation:
/// that is [`super::manage::add_account`]'s.
pub async fn insert(store: &Store, settings: &AccountSettings) -> Result<i64> {
    store.insert_account(&settings.try_into()?).await
}

/// Replaces the stored settings of account `id` (its name may change).
pub async fn save(store: &Store, id: i64, settings: &AccountSettings) -> Result<()> {
    store.update_account(id, &settings.try_into()?).await
}

/// The sandbox account a fresh install starts with.
pub const SANDBOX_ACCOUNT: &str = "Sandbox";

#[cfg(test)]
mod tests {
    use super::super::rules::{Rule, shipped};
    use super::*;

    /// The store keeps an account as its own row type: every setting comes
    /// back as it went in, rule edits included (kept as JSON), and an
    /// account without edits stores none.
    #[tokio::test]
    async fn an_account_reads_back_from_the_store_as_it_was_saved() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("m.db")).await.expect("open");
        let plain = AccountSettings {
            name: "plain".into(),
            host: "smtp.example.com".into(),
            ..AccountSettings::default()
        };
        let record = AccountRecord::try_from(&plain).expect("record");
        assert_eq!(record.rules, None);
        let rule = shipped().first().expect("a shipped rule").clone();
        let edited = AccountSettings {
            name: "edited".into(),
            host: "smtp.example.org".into(),
            port: 465,
            security: Security::Tls,
            auth: AuthMethod::Login,
            username: Some("me@example.org".into()),
            per_day: Some(500),
            rate_per_second: Some(2.5),
            retry_ambiguous: true,
            rules: RuleEdits {
                added: vec![Rule {
                    id: "own.slow".into(),
                    ..rule.clone()
                }],
                removed: vec![rule.id.clone()],
            },
            ..AccountSettings::default()
        };
        let plain_id = insert(&store, &plain).await.expect("insert");
        let edited_id = insert(&store, &edited).await.expect("insert");
        assert_eq!(load(&store, "plain").await.expect("load"), (plain_id, plain.clone()));
        assert_eq!(load(&store, "edited").await.expect("load"), (edited_id, edited.clone()));

        let renamed = AccountSettings {
            name: "renamed".into(),
            rules: RuleEdits::default(),
            ..edited
        };
        save(&store, edited_id, &renamed).await.expect("save");
        let mut all = load_all(&store).await.expect("load all");
        // A fresh store holds the built-in sandbox too.
        all.retain(|(_, account)| account.name != SANDBOX_ACCOUNT);
        assert_eq!(all, vec![(plain_id, plain), (edited_id, renamed)]);
    }

    #[test]
    fn every_preset_loads_and_makes_valid_settings() {
        let all = presets();
        assert!(all.len() >= 14, "presets.json did not load: {}", all.len());
        for preset in all.iter().filter(|p| p.id != "custom") {
            let mut settings = preset.settings("x", None);
            if settings.auth != AuthMethod::None {
                settings.username = Some("someone@example.com".into());
            }
            assert_eq!(
                settings.validate().map_err(|e| e.to_string()),
                Ok(()),
                "preset {}",
                preset.id
            );
        }
        for id in [
            "gmail",
            "google_workspace",
            "office365",
            "amazon_ses",
            "qq",
            "netease_163",
            "netease_126",
            "tencent_exmail",
            "aliyun_enterprise",
            "zoho",
            "mailgun",
            "sendgrid",
            "brevo",
            "sandbox",
        ] {
            assert!(preset(id).is_ok(), "missing preset {id}");
        }
    }

    #[test]
    fn ses_regions_fill_the_host() {
        let ses = preset("amazon_ses").map(|p| p.settings("ses", Some("eu-west-1")).host);
        assert_eq!(ses.ok().as_deref(), Some("email-smtp.eu-west-1.amazonaws.com"));
    }

    #[test]
    fn validation_names_the_field() {
        let field_of = |s: AccountSettings| match s.validate() {
            Err(Error::InvalidAccount { field, .. }) => field,
            other => format!("{other:?}"),
        };
        let base = AccountSettings {
            name: "work".into(),
            host: "smtp.example.com".into(),
            username: Some("me".into()),
            ..AccountSettings::default()
        };
        assert_eq!(base.validate().ok(), Some(()));
        assert_eq!(
            field_of(AccountSettings {
                host: "https://smtp.example.com".into(),
                ..base.clone()
            }),
            "host"
        );
        assert_eq!(
            field_of(AccountSettings {
                port: 0,
                ..base.clone()
            }),
            "port"
        );
        assert_eq!(
            field_of(AccountSettings {
                username: None,
                ..base.clone()
            }),
            "username"
        );
        assert_eq!(
            field_of(AccountSettings {
                from_address: Some("not an address".into()),
                ..base.clone()
            }),
            "from_address"
        );
        assert_eq!(
            field_of(AccountSettings {
                rate_per_second: Some(0.0),
                ..base.clone()
            }),
            "rate_per_second"
        );
        assert_eq!(
            field_of(AccountSettings {
                per_day: Some(0),
                ..base.clone()
            }),
            "per_day"
        );
        assert_eq!(
            field_of(AccountSettings {
                connections: 0,
                ..base.clone()
            }),
            "connections"
        );
        assert_eq!(
            field_of(AccountSettings {
                command_timeout_ms: 0,
                ..base
            }),
            "command_timeout_ms"
        );
    }

    #[test]
    fn this_machine_by_any_loopback_name_is_not_the_network() {
        for host in ["localhost", "127.0.0.1", "127.0.0.2", "127.255.0.9", "::1"] {
            assert!(
                ConnectionWarning::for_connection(Security::None, host, false).is_empty(),
                "{host}"
            );
        }
        // A name that starts like an address is not one; nor is another machine.
        for host in [
            "127.0.0.1.example.org",
            "128.0.0.1",
            "mail.example.com",
            "localhost.example.org",
        ] {
            assert_eq!(
                ConnectionWarning::for_connection(Security::None, host, false),
                vec![ConnectionWarning::NoEncryption],
                "{host}"
            );
        }
        // Encrypted, nothing to warn of, wherever it goes.
        assert!(ConnectionWarning::for_connection(Security::Tls, "mail.example.com", false).is_empty());
        assert_eq!(
            ConnectionWarning::for_connection(Security::Starttls, "localhost", true),
            vec![ConnectionWarning::CertificatesNotChecked]
        );
    }

    #[test]
    fn unencrypted_remote_accounts_and_unchecked_certificates_warn() {
        let remote = AccountSettings {
            host: "mail.example.com".into(),
            security: Security::None,
            ..AccountSettings::default()
        };
        assert_eq!(remote.warnings(), vec![ConnectionWarning::NoEncryption]);
        // Data for the window, English for the CLI.
        assert_eq!(
            serde_json::to_string(&remote.warnings()).expect("warnings serialise"),
            r#"["no_encryption"]"#
        );
        assert!(remote.warnings()[0].to_string().starts_with("No encryption"));
        let local = AccountSettings {
            host: "127.0.0.1".into(),
            security: Security::None,
            ..AccountSettings::default()
        };
        assert!(local.warnings().is_empty());
        let unchecked = AccountSettings {
            accept_invalid_certs: true,
            ..local
        };
        assert_eq!(unchecked.warnings(), vec![ConnectionWarning::CertificatesNotChecked]);
    }
}
