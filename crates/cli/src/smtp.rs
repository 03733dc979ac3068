//! `mailroom smtp …`, `mailroom sandbox` and `mailroom captured`: SMTP
//! accounts, Test connection, and the built-in capture server.

use std::io::{Read as _, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use mailroom_engine::english::count;
use mailroom_engine::smtp::account::{self, Account, AccountSettings};
use mailroom_engine::smtp::diagnose::Diagnosis;
use mailroom_engine::smtp::manage;
use mailroom_engine::smtp::sandbox;
use mailroom_engine::smtp::{AuthMethod, Security};
use mailroom_engine::{Error, Session};

use crate::output::Output;
use crate::progress::StageLines;

#[derive(Debug, Subcommand)]
pub enum SmtpCommand {
    /// Add an account (from a provider preset, or from scratch).
    Add(Box<AddArgs>),
    /// Change an account's settings: only the options given change
    /// (--preset starts again from the preset's). A running campaign keeps
    /// the settings it started with.
    Edit(Box<AddArgs>),
    /// Every account, with its warnings.
    List,
    /// One account's settings.
    Show { name: String },
    /// Delete an account and its stored password.
    Remove { name: String },
    /// End the account's suspension now (a provider's limit or its quota
    /// suspended it): campaigns send on it again.
    Resume { name: String },
    /// Test connection: DNS, TCP, TLS, greeting, EHLO, AUTH, one by one.
    Test {
        name: String,
        /// Also send a real test message to this address.
        #[arg(long, value_name = "ADDR")]
        send_to: Option<String>,
    },
    /// The provider presets and their published limits.
    Presets,
    /// What the server's replies mean for this account and what a campaign
    /// does about them: the account's own rules, its provider's, the
    /// generic classes, in the order they are tried.
    Rules {
        name: String,
        #[command(subcommand)]
        action: Option<RulesAction>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// The rules that apply, in order (the default).
    List,
    /// Add a rule of the account's own, tried first: a JSON object as in
    /// `--json smtp rules NAME` (id, codes, enhanced, pattern, means, action).
    Add {
        /// The rule, as JSON.
        #[arg(value_name = "JSON")]
        rule: String,
    },
    /// Remove the account's own rule, or stop a shipped rule applying to it.
    Remove { id: String },
    /// Back to the shipped rules.
    Reset,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    name: String,
    /// Start from a provider preset (see `mailroom smtp presets`).
    #[arg(long)]
    preset: Option<String>,
    /// The region, for presets whose host has one (Amazon SES).
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    host: Option<String>,
    #[arg(long)]
    port: Option<u16>,
    /// tls (implicit, usually 465), starttls (usually 587) or none.
    #[arg(long)]
    security: Option<Security>,
    /// plain, login or none (default: plain when --user is given).
    #[arg(long)]
    auth: Option<AuthMethod>,
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Read the password (or app password / authorisation code) from stdin.
    #[arg(long)]
    password_stdin: bool,
    /// The sender address.
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
    #[arg(long, value_name = "NAME")]
    from_name: Option<String>,
    #[arg(long, value_name = "ADDR")]
    reply_to: Option<String>,
    /// The name given in EHLO (default: this computer's address).
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    #[arg(long, value_name = "N")]
    connections: Option<u32>,
    /// Messages per connection before reconnecting.
    #[arg(long, value_name = "N")]
    per_connection: Option<u32>,
    /// Messages per second.
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    #[arg(long, value_name = "N")]
    per_minute: Option<u32>,
    #[arg(long, value_name = "N")]
    per_hour: Option<u32>,
    #[arg(long, value_name = "N")]
    per_day: Option<u32>,
    /// Seconds to wait for a connection.
    #[arg(long, value_name = "S")]
    connect_timeout: Option<f64>,
    /// Seconds to wait for any reply.
    #[arg(long, value_name = "S")]
    timeout: Option<f64>,
    /// Seconds to wait for the reply to a message's content.
    #[arg(long, value_name = "S")]
    data_timeout: Option<f64>,
    /// Attempts per recipient for temporary failures.
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// Accept any TLS certificate (self-hosted servers only).
    #[arg(long)]
    accept_invalid_certs: bool,
    /// When a message's content went out and no answer came (the server may
    /// have it): true sends it again on its own with the same Message-ID (at
    /// least once: the recipient may get it twice, and its history says so);
    /// false (the default) marks the recipient uncertain for you to decide.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    retry_ambiguous: Option<bool>,
    /// Seconds a campaign waits for a server that went away after it
    /// accepted mail, before it pauses (default 600). A server that cannot
    /// be reached at the start pauses the campaign within a few connection
    /// timeouts whatever this says.
    #[arg(long, value_name = "S")]
    outage_limit: Option<f64>,
}

impl AddArgs {
    /// A new account's settings: the preset's, or the defaults, with the options given.
    fn settings(self) -> Result<AccountSettings, Error> {
        let base = match &self.preset {
            Some(id) => account::preset(id)?.settings(&self.name, self.region.as_deref()),
            None => AccountSettings {
                name: self.name.clone(),
                ..AccountSettings::default()
            },
        };
        self.apply(base, true)
    }

    /// An existing account's settings `current`, with the options given
    /// (from the preset's again with --preset).
    fn edited(self, current: AccountSettings) -> Result<AccountSettings, Error> {
        let base = match &self.preset {
            Some(id) => account::preset(id)?.settings(&self.name, self.region.as_deref()),
            None => current,
        };
        self.apply(base, false)
    }

    /// `base` with every option given; `new` for an account being added
    /// (no login unless a user is given).
    fn apply(self, base: AccountSettings, new: bool) -> Result<AccountSettings, Error> {
        let mut settings = base;
        let seconds = |field: &str, s: f64| -> Result<u64, Error> {
            if s.is_finite() && s > 0.0 {
                Ok((s * 1000.0).round() as u64)
            } else {
                Err(Error::InvalidAccount {
                    field: field.to_owned(),
                    problem: "give a number of seconds above 0".to_owned(),
                })
            }
        };
        if let Some(host) = self.host {
            settings.host = host;
        }
        if let Some(port) = self.port {
            settings.port = port;
        }
        if let Some(security) = self.security {
            settings.security = security;
        }
        if self.user.is_some() {
            settings.username = self.user;
        }
        settings.auth = match (self.auth, &settings.username) {
            (Some(auth), _) => auth,
            (None, None) if new && self.preset.is_none() => AuthMethod::None,
            (None, _) => settings.auth,
        };
        settings.from_address = self.from.or(settings.from_address);
        settings.from_name = self.from_name.or(settings.from_name);
        settings.reply_to = self.reply_to.or(settings.reply_to);
        settings.helo_name = self.helo.or(settings.helo_name);
        settings.connections = self.connections.unwrap_or(settings.connections);
        settings.per_connection = self.per_connection.unwrap_or(settings.per_connection);
        settings.rate_per_second = self.rate.or(settings.rate_per_second);
        settings.per_minute = self.per_minute.or(settings.per_minute);
        settings.per_hour = self.per_hour.or(settings.per_hour);
        settings.per_day = self.per_day.or(settings.per_day);
        settings.retries = self.retries.unwrap_or(settings.retries);
        settings.accept_invalid_certs |= self.accept_invalid_certs;
        if let Some(retry) = self.retry_ambiguous {
            settings.retry_ambiguous = retry;
        }
        if let Some(s) = self.connect_timeout {
            settings.connect_timeout_ms = seconds("connect_timeout_ms", s)?;
        }
        if let Some(s) = self.timeout {
            settings.command_timeout_ms = seconds("command_timeout_ms", s)?;
        }
        if let Some(s) = self.data_timeout {
            settings.data_timeout_ms = seconds("data_timeout_ms", s)?;
        }
        if let Some(s) = self.outage_limit {
            settings.outage_limit_ms = seconds("outage_limit_ms", s)?;
        }
        Ok(settings)
    }
}

/// The password given on stdin, without its line end.
fn read_password() -> Result<String, Error> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| Error::Internal(format!("cannot read the password from stdin: {e}")))?;
    Ok(password.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn run(command: SmtpCommand, db: &Path, out: &Output) -> Result<ExitCode, Error> {
    let access = match command {
        SmtpCommand::List
        | SmtpCommand::Show { .. }
        | SmtpCommand::Rules {
            action: None | Some(RulesAction::List),
            ..
        } => crate::Access::Read,
        _ => crate::Access::Write,
    };
    let session = crate::open_session(db, access).await?;
    match command {
        SmtpCommand::Add(args) => {
            let password = if args.password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let account = session.add_account((*args).settings()?, password).await?;
            if let Some(notice) = session.secret_store_notice().await.filter(|_| account.has_password) {
                eprintln!("mailroom: note: {notice}");
            }
            out.print(&account, |w| write_account(w, &account))?;
        }
        SmtpCommand::Edit(args) => {
            let (id, current) = session.account_settings(&args.name).await?;
            let password = if args.password_stdin {
                manage::PasswordChange::Set(read_password()?)
            } else {
                manage::PasswordChange::Keep
            };
            let settings = (*args).edited(current)?;
            let account = session.update_account(id, settings, password).await?;
            out.print(&account, |w| write_account(w, &account))?;
        }
        SmtpCommand::List => {
            let accounts = session.accounts().await?;
            out.print(&accounts, |w| {
                for account in &accounts {
                    write_account(w, account)?;
                }
                Ok(())
            })?;
        }
        SmtpCommand::Show { name } => {
            let account = session.account(&name).await?;
            out.print(&account, |w| write_account(w, &account))?;
        }
        SmtpCommand::Remove { name } => {
            session.remove_account(&name).await?;
            out.print(&serde_json::json!({ "removed": name }), |w| {
                writeln!(w, "Removed the account \"{name}\" and its password.")
            })?;
        }
        SmtpCommand::Resume { name } => {
            let resumed = session.resume_account(&name).await?;
            out.print(&serde_json::json!({ "account": name, "resumed": resumed }), |w| {
                if resumed {
                    writeln!(
                        w,
                        "The account \"{name}\" is no longer suspended; campaigns send on it again."
                    )
                } else {
                    writeln!(w, "The account \"{name}\" was not suspended.")
                }
            })?;
        }
        SmtpCommand::Presets => {
            presets(out)?;
        }
        SmtpCommand::Rules { name, action } => {
            let applied = match action.unwrap_or(RulesAction::List) {
                RulesAction::List => session.account_rules(&name).await?,
                RulesAction::Add { rule } => {
                    let rule = serde_json::from_str(&rule).map_err(|e| Error::InvalidAccount {
                        field: "rules".to_owned(),
                        problem: format!("the rule is not valid JSON for a rule: {e}"),
                    })?;
                    session
                        .change_rules(&name, manage::RuleChange::Add(Box::new(rule)))
                        .await?
                }
                RulesAction::Remove { id } => session.change_rules(&name, manage::RuleChange::Remove(id)).await?,
                RulesAction::Reset => session.change_rules(&name, manage::RuleChange::Reset).await?,
            };
            out.print(&applied, |w| write_rules(w, &applied))?;
        }
        SmtpCommand::Test { name, send_to } => {
            crate::cancel_test_on_ctrl_c(&session);
            let lines = StageLines { quiet: out.is_json() };
            let diagnosis = session.test_account(&name, send_to.as_deref(), 0, &lines).await?;
            out.print(&diagnosis, |w| write_verdict(w, &diagnosis))?;
            if !diagnosis.ok {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    session.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `mailroom smtp presets`: needs no database.
pub fn presets(out: &Output) -> Result<ExitCode, Error> {
    let presets = account::presets();
    out.print(presets, |w| {
        for p in presets {
            writeln!(w, "{:<18} {} — {}:{} ({})", p.id, p.name, p.host, p.port, p.security)?;
            writeln!(w, "{:<18} {}", "", p.note)?;
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn write_account(w: &mut dyn Write, account: &Account) -> std::io::Result<()> {
    let s = &account.settings;
    writeln!(
        w,
        "{}  {}:{} ({}, login: {})",
        s.name, s.host, s.port, s.security, s.auth
    )?;
    if let Some(user) = &s.username {
        let password = if account.has_password {
            "password stored"
        } else {
            "no password"
        };
        writeln!(w, "  user {user} ({password})")?;
    }
    if let Some(from) = &s.from_address {
        writeln!(
            w,
            "  from {}{from}",
            s.from_name.as_ref().map(|n| format!("{n} ")).unwrap_or_default()
        )?;
    }
    let mut limits = vec![
        count(s.connections, "connection", "connections").to_string(),
        format!("{} per connection", s.per_connection),
    ];
    if let Some(rate) = s.rate_per_second {
        limits.push(format!("{rate}/s"));
    }
    for (n, unit) in [(s.per_minute, "minute"), (s.per_hour, "hour"), (s.per_day, "day")] {
        if let Some(n) = n {
            limits.push(format!("{n}/{unit}"));
        }
    }
    writeln!(w, "  limits {}", limits.join(", "))?;
    writeln!(
        w,
        "  waits {} for a server that went away mid-campaign, then pauses",
        mailroom_engine::smtp::diagnose::format_duration_ms(s.outage_limit_ms)
    )?;
    if let Some(suspension) = &account.suspension {
        writeln!(
            w,
            "  suspended until {} (local time): {}; `mailroom smtp resume {}` ends it now",
            mailroom_engine::campaign::schedule::describe_time(
                suspension.until,
                &mailroom_engine::campaign::schedule::local_time_zone()
            ),
            suspension.reason,
            s.name
        )?;
    }
    if let Some(held) = &account.held_rate {
        // Found by the last campaign on a throttling server: the next starts there.
        writeln!(
            w,
            "  held {held} without throttle replies; the next campaign starts there"
        )?;
    }
    if s.retry_ambiguous {
        writeln!(
            w,
            "  a message that got no answer after its content is sent again (same Message-ID; may arrive twice)"
        )?;
    }
    for warning in &account.warnings {
        writeln!(w, "  warning: {warning}")?;
    }
    Ok(())
}

/// The rules in the order they are tried: id, where from, what they match and do.
fn write_rules(w: &mut dyn Write, rules: &[mailroom_engine::smtp::rules::AppliedRule]) -> std::io::Result<()> {
    for applied in rules {
        let rule = &applied.rule;
        let mut matches = Vec::new();
        if !rule.stages.is_empty() {
            matches.push(rule.stages.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("/"));
        }
        if !rule.codes.is_empty() {
            matches.push(rule.codes.iter().map(u16::to_string).collect::<Vec<_>>().join("/"));
        } else if let Some(class) = rule.class {
            matches.push(format!("{class}xx"));
        }
        if let Some(enhanced) = &rule.enhanced {
            matches.push(enhanced.clone());
        }
        if let Some(pattern) = &rule.pattern {
            matches.push(format!("/{pattern}/"));
        }
        let origin = match applied.origin {
            mailroom_engine::smtp::rules::RuleOrigin::Account => "account",
            mailroom_engine::smtp::rules::RuleOrigin::Provider => "provider",
            mailroom_engine::smtp::rules::RuleOrigin::Generic => "generic",
        };
        writeln!(w, "{} ({origin}): {} → {:?}", rule.id, matches.join(" "), rule.action)?;
        writeln!(w, "  {}", rule.means)?;
        if !rule.source.is_empty() {
            writeln!(w, "  source: {}", rule.source)?;
        }
    }
    Ok(())
}

fn write_verdict(w: &mut dyn Write, diagnosis: &Diagnosis) -> std::io::Result<()> {
    writeln!(w)?;
    writeln!(w, "{}", diagnosis.verdict())
}

/// `mailroom sandbox`: serves until Ctrl-C or SIGTERM.
pub async fn serve_sandbox(db: &Path, port: u16, out: &Output) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    let addr = session.start_sandbox(port).await?;
    out.print(&serde_json::json!({ "listening": addr.to_string() }), |w| {
        writeln!(
            w,
            "Sandbox listening on {addr} (STARTTLS offered, any login accepted). Ctrl-C stops it."
        )?;
        writeln!(w, "Captured mail: `mailroom captured` or the app's Sandbox screen.")
    })?;
    shutdown_signal().await;
    session.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `mailroom captured [ID] [--clear]`.
pub async fn captured(db: &Path, id: Option<i64>, clear: bool, out: &Output) -> Result<ExitCode, Error> {
    let session = Session::open(db).await?;
    if clear {
        let removed = session.clear_captured().await?;
        out.print(&serde_json::json!({ "removed": removed }), |w| {
            writeln!(
                w,
                "Removed {}.",
                count(removed, "captured message", "captured messages")
            )
        })?;
    } else if let Some(id) = id {
        let message = session.captured_message(id).await?;
        out.print(&message, |w| w.write_all(message.source.as_bytes()))?;
    } else {
        let messages = session.captured_messages(0, 1000).await?;
        out.print(&messages, |w| {
            if messages.is_empty() {
                writeln!(
                    w,
                    "The sandbox has captured nothing yet (it listens on 127.0.0.1:{} while running).",
                    sandbox::DEFAULT_PORT
                )?;
            }
            for m in &messages {
                writeln!(
                    w,
                    "{:>5}  {:<28} → {:<28} {}",
                    m.id,
                    m.mail_from,
                    m.rcpt_to.join(", "),
                    m.subject.as_deref().unwrap_or("(no subject)")
                )?;
            }
            Ok(())
        })?;
    }
    session.close().await;
    Ok(ExitCode::SUCCESS)
}
