//! SMTP accounts (without their passwords, which never touch this file) and
//! the messages the built-in sandbox captured.
//!
//! An account is kept as an [`AccountRecord`], the store's own row type:
//! `smtp::account` converts its `AccountSettings` to and from it (the rule
//! edits, whose types are the SMTP layer's, travel as the column's JSON).

use serde::Serialize;

use super::Store;
use crate::error::{Error, Result};
use crate::model::{AuthMethod, Security};

/// A captured message in the sandbox's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct CapturedSummary {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub id: i64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub received_at: i64,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub subject: Option<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub size: i64,
}

/// The rate a throttling server let an account hold without throttle
/// replies, found by its last campaign: the next one starts there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct HeldRate {
    /// Messages per second.
    pub rate: f64,
    /// When it held (Unix milliseconds).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub at: i64,
}

/// "14.2/s on 3 Dec 2026 (UTC)", as the command line shows it.
impl std::fmt::Display for HeldRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}/s", self.rate)?;
        let when = time::OffsetDateTime::from_unix_timestamp(self.at.div_euclid(1000));
        match when {
            Ok(when) => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
                ];
                let month = MONTHS
                    .get(usize::from(u8::from(when.month())).saturating_sub(1))
                    .unwrap_or(&"");
                write!(f, " on {} {month} {} (UTC)", when.day(), when.year())
            }
            Err(_) => Ok(()),
        }
    }
}

/// An SMTP account's settings as the store keeps them (one `smtp_profiles`
/// row without its id): each value checked against its column's type as it
/// is read, the rule edits as the JSON the `rules` column holds (`None`
/// without edits), which `smtp::account` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    pub name: String,
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
    pub connect_timeout_ms: u64,
    pub command_timeout_ms: u64,
    pub data_timeout_ms: u64,
    pub connections: u32,
    pub per_connection: u32,
    pub rate_per_second: Option<f64>,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    pub retries: u32,
    pub accept_invalid_certs: bool,
    pub retry_ambiguous: bool,
    pub outage_limit_ms: u64,
    pub rules: Option<String>,
}

#[cfg(test)]
impl AccountRecord {
    /// An account at `host` with every other value a plain one, for the
    /// store's own tests (the defaults a person starts from are
    /// `smtp::AccountSettings`').
    pub(crate) fn for_tests(name: &str, host: &str) -> AccountRecord {
        AccountRecord {
            name: name.to_owned(),
            preset: None,
            host: host.to_owned(),
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
            outage_limit_ms: 600_000,
            rules: None,
        }
    }
}

struct AccountRow {
    id: i64,
    name: String,
    preset: Option<String>,
    host: String,
    port: i64,
    security: String,
    auth: String,
    username: Option<String>,
    from_address: Option<String>,
    from_name: Option<String>,
    reply_to: Option<String>,
    helo_name: Option<String>,
    connect_timeout_ms: i64,
    command_timeout_ms: i64,
    data_timeout_ms: i64,
    connections: i64,
    per_connection: i64,
    rate_per_second: Option<f64>,
    per_minute: Option<i64>,
    per_hour: Option<i64>,
    per_day: Option<i64>,
    retries: i64,
    accept_invalid_certs: i64,
    retry_ambiguous: i64,
    outage_limit_ms: i64,
    rules: Option<String>,
}

impl AccountRow {
    fn into_record(self) -> Result<(i64, AccountRecord)> {
        let corrupt = |what: &str| Error::Internal(format!("account {}: stored {what} is not valid", self.name));
        let int = |v: i64| u32::try_from(v).ok();
        let record = AccountRecord {
            preset: self.preset.clone(),
            host: self.host.clone(),
            port: u16::try_from(self.port).map_err(|_| corrupt("port"))?,
            security: self.security.parse::<Security>().map_err(|_| corrupt("security"))?,
            auth: self.auth.parse::<AuthMethod>().map_err(|_| corrupt("auth"))?,
            username: self.username.clone(),
            from_address: self.from_address.clone(),
            from_name: self.from_name.clone(),
            reply_to: self.reply_to.clone(),
            helo_name: self.helo_name.clone(),
            connect_timeout_ms: u64::try_from(self.connect_timeout_ms).map_err(|_| corrupt("timeout"))?,
            command_timeout_ms: u64::try_from(self.command_timeout_ms).map_err(|_| corrupt("timeout"))?,
            data_timeout_ms: u64::try_from(self.data_timeout_ms).map_err(|_| corrupt("timeout"))?,
            connections: int(self.connections).ok_or_else(|| corrupt("connections"))?,
            per_connection: int(self.per_connection).ok_or_else(|| corrupt("per_connection"))?,
            rate_per_second: self.rate_per_second,
            per_minute: self.per_minute.and_then(int),
            per_hour: self.per_hour.and_then(int),
            per_day: self.per_day.and_then(int),
            retries: int(self.retries).ok_or_else(|| corrupt("retries"))?,
            accept_invalid_certs: self.accept_invalid_certs != 0,
            retry_ambiguous: self.retry_ambiguous != 0,
            outage_limit_ms: u64::try_from(self.outage_limit_ms).map_err(|_| corrupt("outage limit"))?,
            rules: self.rules,
            name: self.name,
        };
        Ok((self.id, record))
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store {
    /// Adds an account; its name must be new.
    pub async fn insert_account(&self, settings: &AccountRecord) -> Result<i64> {
        let now = self.clock.now_ms();
        let (port, security, auth) = (
            i64::from(settings.port),
            settings.security.as_str(),
            settings.auth.as_str(),
        );
        let (connect, command, data) = timeouts(settings);
        let limits = limits(settings);
        let outage = i64::try_from(settings.outage_limit_ms).unwrap_or(i64::MAX);
        let result = sqlx::query_scalar!(
            "INSERT INTO smtp_profiles (name, preset, host, port, security, auth, username, from_address, from_name,
                 reply_to, helo_name, connect_timeout_ms, command_timeout_ms, data_timeout_ms, connections,
                 per_connection, rate_per_second, per_minute, per_hour, per_day, retries, accept_invalid_certs,
                 retry_ambiguous, outage_limit_ms, rules, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                     ?21, ?22, ?23, ?25, ?26, ?24, ?24)
             RETURNING id",
            settings.name,
            settings.preset,
            settings.host,
            port,
            security,
            auth,
            settings.username,
            settings.from_address,
            settings.from_name,
            settings.reply_to,
            settings.helo_name,
            connect,
            command,
            data,
            limits.connections,
            limits.per_connection,
            settings.rate_per_second,
            limits.per_minute,
            limits.per_hour,
            limits.per_day,
            limits.retries,
            settings.accept_invalid_certs,
            settings.retry_ambiguous,
            now,
            outage,
            settings.rules,
        )
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(id) => Ok(id),
            Err(e) if is_unique_violation(&e) => Err(Error::AccountExists(settings.name.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the settings of account `id` (its name may change).
    pub async fn update_account(&self, id: i64, settings: &AccountRecord) -> Result<()> {
        let now = self.clock.now_ms();
        let (port, security, auth) = (
            i64::from(settings.port),
            settings.security.as_str(),
            settings.auth.as_str(),
        );
        let (connect, command, data) = timeouts(settings);
        let limits = limits(settings);
        let outage = i64::try_from(settings.outage_limit_ms).unwrap_or(i64::MAX);
        let result = sqlx::query!(
            "UPDATE smtp_profiles SET name = ?2, preset = ?3, host = ?4, port = ?5, security = ?6, auth = ?7,
                 username = ?8, from_address = ?9, from_name = ?10, reply_to = ?11, helo_name = ?12,
                 connect_timeout_ms = ?13, command_timeout_ms = ?14, data_timeout_ms = ?15, connections = ?16,
                 per_connection = ?17, rate_per_second = ?18, per_minute = ?19, per_hour = ?20, per_day = ?21,
                 retries = ?22, accept_invalid_certs = ?23, retry_ambiguous = ?24, updated_at = ?25,
                 outage_limit_ms = ?26, rules = ?27
             WHERE id = ?1",
            id,
            settings.name,
            settings.preset,
            settings.host,
            port,
            security,
            auth,
            settings.username,
            settings.from_address,
            settings.from_name,
            settings.reply_to,
            settings.helo_name,
            connect,
            command,
            data,
            limits.connections,
            limits.per_connection,
            settings.rate_per_second,
            limits.per_minute,
            limits.per_hour,
            limits.per_day,
            limits.retries,
            settings.accept_invalid_certs,
            settings.retry_ambiguous,
            now,
            outage,
            settings.rules,
        )
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) if done.rows_affected() == 0 => Err(Error::AccountNotFound(id.to_string())),
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::AccountExists(settings.name.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// The rate that held on account `id` without throttle replies, and when
    /// (Unix ms), if a run learned one.
    pub async fn held_rate(&self, id: i64) -> Result<Option<HeldRate>> {
        let row = sqlx::query!("SELECT rate, held_at FROM held_rates WHERE profile_id = ?1", id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| HeldRate {
            rate: r.rate,
            at: r.held_at,
        }))
    }

    /// Every account's held rate, by account id.
    pub async fn held_rates(&self) -> Result<std::collections::HashMap<i64, HeldRate>> {
        let rows = sqlx::query!("SELECT profile_id, rate, held_at FROM held_rates")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.profile_id,
                    HeldRate {
                        rate: r.rate,
                        at: r.held_at,
                    },
                )
            })
            .collect())
    }

    /// Records the rate that held on account `id` now.
    pub async fn set_held_rate(&self, id: i64, rate: f64) -> Result<()> {
        let now = self.clock.now_ms();
        sqlx::query!(
            "INSERT INTO held_rates (profile_id, rate, held_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (profile_id) DO UPDATE SET rate = excluded.rate, held_at = excluded.held_at",
            id,
            rate,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the rate that held on account `id` (its server changed).
    pub async fn clear_held_rate(&self, id: i64) -> Result<()> {
        sqlx::query!("DELETE FROM held_rates WHERE profile_id = ?1", id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> Result<Vec<(i64, AccountRecord)>> {
        let rows = sqlx::query_as!(
            AccountRow,
            "SELECT id AS \"id!\", name, preset, host, port, security, auth, username, from_address, from_name, reply_to,
                    helo_name, connect_timeout_ms, command_timeout_ms, data_timeout_ms, connections, per_connection,
                    rate_per_second, per_minute, per_hour, per_day, retries, accept_invalid_certs, retry_ambiguous,
                    outage_limit_ms, rules
             FROM smtp_profiles ORDER BY name COLLATE NOCASE"
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AccountRow::into_record).collect()
    }

    /// The account called `name`.
    pub async fn account(&self, name: &str) -> Result<(i64, AccountRecord)> {
        let row = sqlx::query_as!(
            AccountRow,
            "SELECT id AS \"id!\", name, preset, host, port, security, auth, username, from_address, from_name, reply_to,
                    helo_name, connect_timeout_ms, command_timeout_ms, data_timeout_ms, connections, per_connection,
                    rate_per_second, per_minute, per_hour, per_day, retries, accept_invalid_certs, retry_ambiguous,
                    outage_limit_ms, rules
             FROM smtp_profiles WHERE name = ?1",
            name
        )
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| Error::AccountNotFound(name.to_owned()))?
            .into_record()
    }

    /// Deletes the account called `name`; campaigns that used it keep their results.
    pub async fn delete_account(&self, name: &str) -> Result<()> {
        let done = sqlx::query!("DELETE FROM smtp_profiles WHERE name = ?1", name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::AccountNotFound(name.to_owned()));
        }
        Ok(())
    }

    /// Keeps a message the sandbox received.
    pub async fn capture_message(
        &self,
        mail_from: &str,
        rcpt_to: &[String],
        subject: Option<&str>,
        raw: &[u8],
    ) -> Result<i64> {
        let now = self.clock.now_ms();
        let rcpt = serde_json::to_string(rcpt_to).map_err(|e| Error::Internal(format!("encoding recipients: {e}")))?;
        let size = i64::try_from(raw.len()).unwrap_or(i64::MAX);
        let id = sqlx::query_scalar!(
            "INSERT INTO sandbox_messages (received_at, mail_from, rcpt_to, subject, size, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            now,
            mail_from,
            rcpt,
            subject,
            size,
            raw
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The newest captured messages first.
    pub async fn captured_messages(&self, offset: i64, limit: i64) -> Result<Vec<CapturedSummary>> {
        let rows = sqlx::query!(
            "SELECT id AS \"id!\", received_at, mail_from, rcpt_to, subject, size FROM sandbox_messages
             ORDER BY received_at DESC, id DESC LIMIT ?1 OFFSET ?2",
            limit,
            offset
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| CapturedSummary {
                id: r.id,
                received_at: r.received_at,
                mail_from: r.mail_from,
                rcpt_to: serde_json::from_str(&r.rcpt_to).unwrap_or_default(),
                subject: r.subject,
                size: r.size,
            })
            .collect())
    }

    /// How many messages the sandbox holds.
    pub async fn captured_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar!("SELECT COUNT(*) FROM sandbox_messages")
            .fetch_one(&self.pool)
            .await?)
    }

    /// One captured message's envelope and raw bytes.
    pub async fn captured_message(&self, id: i64) -> Result<(CapturedSummary, Vec<u8>)> {
        let row = sqlx::query!(
            "SELECT id AS \"id!\", received_at, mail_from, rcpt_to, subject, size, raw FROM sandbox_messages WHERE id = ?1",
            id
        )
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::CapturedMessageNotFound(id))?;
        Ok((
            CapturedSummary {
                id: row.id,
                received_at: row.received_at,
                mail_from: row.mail_from,
                rcpt_to: serde_json::from_str(&row.rcpt_to).unwrap_or_default(),
                subject: row.subject,
                size: row.size,
            },
            row.raw,
        ))
    }

    /// Empties the sandbox.
    pub async fn clear_captured(&self) -> Result<u64> {
        Ok(sqlx::query!("DELETE FROM sandbox_messages")
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

fn timeouts(settings: &AccountRecord) -> (i64, i64, i64) {
    let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    (
        ms(settings.connect_timeout_ms),
        ms(settings.command_timeout_ms),
        ms(settings.data_timeout_ms),
    )
}

struct Limits {
    connections: i64,
    per_connection: i64,
    per_minute: Option<i64>,
    per_hour: Option<i64>,
    per_day: Option<i64>,
    retries: i64,
}

fn limits(settings: &AccountRecord) -> Limits {
    Limits {
        connections: i64::from(settings.connections),
        per_connection: i64::from(settings.per_connection),
        per_minute: settings.per_minute.map(i64::from),
        per_hour: settings.per_hour.map(i64::from),
        per_day: settings.per_day.map(i64::from),
        retries: i64::from(settings.retries),
    }
}
