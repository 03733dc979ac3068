//! The campaign runner: sends a campaign's message to its recipients over a
//! throttled pool of SMTP connections, keeps every recipient's fate in the
//! store, and reports progress through a caller-supplied [`ProgressSink`].
//!
//! # Layout
//!
//! - [`send`] checks everything that can be checked before the first message
//!   (the account, its password, the message against the columns), recovers a
//!   run that never finished, starts the workers and decides how the run ended.
//! - `dispatch` hands out recipients: pending ones in file order, then retries
//!   as they come due. It knows which are in flight, so none goes out twice.
//! - `writer` is the only task that writes recipient state. It commits every
//!   batch of changes in one transaction and only then reports them, so the
//!   window never shows a state the file does not have (SPEC invariant 3).
//! - `pool` runs one worker per connection, on a thread of their own (a
//!   single-threaded tokio runtime: the workers mostly wait).
//! - `worker` holds one SMTP connection and sends on it: wait for the rate and
//!   the quotas, claim the recipient (durably), render, send, classify. With a
//!   pipelining server the next envelope rides with the current content.
//! - [`throttle`] owns the rate (an even pacer, adaptive) and the quotas.
//! - [`coalesce`] batches events for a window: ≤ 10 deliveries a second at any rate.
//! - `awake` keeps the computer from sleeping while a run sends.
//!
//! # Invariants
//!
//! - A recipient is `sending` in the file before its message goes out; after a
//!   crash exactly those become `uncertain`, at most one per connection.
//! - A recipient the server accepted is `sent` and is never picked again.
//! - A send whose content went out without an answer is *ambiguous*: the
//!   recipient becomes `uncertain` (a person decides), or with the account's
//!   `retry_ambiguous` it is sent again with the same Message-ID and message
//!   version, and its history says it may have it twice. Never `failed`,
//!   never silently retried. Several in a row pause the campaign.
//! - The campaign is `completed` only when no recipient is pending, sending,
//!   waiting to retry or uncertain; otherwise the run ends `paused` (with a
//!   reason) or `stopped`.
//! - Failures that are not a recipient's (a wrong password, a server that
//!   cannot be reached, a full disk) pause the campaign; nobody is marked
//!   failed for them. Only recipients that end `failed` count toward "N
//!   failures in a row"; transient replies do not.
//! - Every recipient's record names the message version it was sent; a
//!   running campaign's message cannot be changed (pause it first).

pub mod coalesce;
pub mod throttle;

mod awake;
mod dispatch;
mod lease;
mod meter;
mod pool;
mod worker;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::message::{CampaignIdentity, CompiledMessage, ProtectedFiles, Sender};
use crate::model::{CampaignId, CampaignStatus, CampaignSummary, RecipientStatus, StatusCounts, string_enum};
use crate::secrets::SecretStore;
use crate::smtp::manage::ensure_sandbox;
use crate::store::Store;
use throttle::{AdaptiveRate, Quotas, RateState};

/// Receives a run's events. Called from the runner's tasks: keep it quick
/// (forward to a channel, print a line).
pub trait ProgressSink: Send + Sync {
    fn event(&self, event: &CampaignEvent);
}

impl<F: Fn(&CampaignEvent) + Send + Sync> ProgressSink for F {
    fn event(&self, event: &CampaignEvent) {
        self(event);
    }
}

string_enum! {
    /// How a run ended.
    RunOutcome {
        Completed => "completed",
        Paused => "paused",
        Stopped => "stopped",
    }
}

/// What a run reports. Recipient events are sent only after their state is committed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum CampaignEvent {
    Started {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        campaign: CampaignId,
        account: String,
        counts: StatusCounts,
        /// Recipients that were in flight when an earlier run was killed.
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        uncertain_recovered: u64,
        rate: RateState,
    },
    /// One recipient changed state (sent, failed, waiting to retry).
    Recipient {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        row: u64,
        email: String,
        status: RecipientStatus,
        reason: Option<String>,
        attempts: u32,
    },
    /// A periodic snapshot.
    Progress {
        counts: StatusCounts,
        /// [`StatusCounts::percent_done`], for the taskbar and the window title.
        percent_done: u8,
        /// Messages accepted per second, over the last interval.
        sent_per_second: f64,
        rate: RateState,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
        eta_seconds: Option<u64>,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        elapsed_ms: u64,
    },
    /// The effective rate changed (the server throttled, or it recovered).
    RateChanged { rate: RateState },
    /// A quota is used up; sending resumes at `until` (Unix ms).
    QuotaWait {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        until: i64,
        window: String,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit: u64,
    },
    /// A connection could not be opened; it is tried again after `retry_in_ms`.
    ConnectionTrouble {
        reason: String,
        advice: String,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        retry_in_ms: u64,
    },
    /// A pause or stop was asked for: in-flight messages finish, nothing new starts.
    Pausing { reason: String },
    Finished {
        outcome: RunOutcome,
        reason: Option<String>,
        counts: StatusCounts,
    },
}

/// Pause and stop, from any task (a button, Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    pause: CancellationToken,
    stop: CancellationToken,
}

impl RunControl {
    /// Finish the messages in flight and end the run `paused`.
    pub fn pause(&self) {
        self.pause.cancel();
    }

    /// Whether a pause (or a stop) was asked for.
    pub fn pause_requested(&self) -> bool {
        self.pause.is_cancelled()
    }

    /// Like pause, then every recipient not yet sent or failed is `cancelled`.
    pub fn stop(&self) {
        self.stop.cancel();
        self.pause.cancel();
    }
}

/// Knobs that are not account settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The first retry waits about this long; each next one twice as long.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Failed attempts to open a connection, in a row, before the campaign
    /// pauses with "cannot reach the server".
    pub connect_attempts: u32,
    /// Recipients failing for good in a row (different recipients, each
    /// ending `failed`) before the campaign pauses. Transient replies do not
    /// count: they are retried.
    pub consecutive_failures: u32,
    /// Messages in a row whose content got no answer (ambiguous) before the
    /// campaign pauses. 3: a healthy server answers every message, and one
    /// or two lost connections happen; three in a row are a pattern (a
    /// message timeout shorter than the server needs, a frozen server), and
    /// each one is a recipient a person must decide about (or, retried, one
    /// who may get the mail twice), so the run stops there, with the
    /// messages already in flight on other connections the only others.
    pub ambiguous_in_a_row: u32,
    pub progress_interval: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(30 * 60),
            connect_attempts: 8,
            consecutive_failures: 20,
            ambiguous_in_a_row: 3,
            progress_interval: Duration::from_millis(250),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RunReport {
    pub outcome: RunOutcome,
    pub reason: Option<String>,
    pub counts: StatusCounts,
}

/// What every task of one run shares.
struct Run {
    store: Store,
    campaign: CampaignId,
    profile: i64,
    account: crate::smtp::AccountSettings,
    connection: Arc<crate::smtp::client::ConnectionSettings>,
    envelope_from: String,
    /// The message version this run sends, compiled.
    version: i64,
    message: Arc<CompiledMessage>,
    /// Earlier versions a recipient must get again (see
    /// [`QueuedRecipient::version_to_send`](crate::store::QueuedRecipient::version_to_send)),
    /// compiled on first use.
    older: tokio::sync::Mutex<HashMap<i64, Arc<CompiledMessage>>>,
    /// What a message is compiled against.
    columns: Vec<String>,
    sender: Sender,
    identity: CampaignIdentity,
    options: RunOptions,
    /// The account's rate and quotas, shared with any other run on it.
    limits: Arc<throttle::AccountLimits>,
    control: RunControl,
    /// Cancelled when the run must wind down: a child of the person's pause,
    /// also cancelled when the campaign pauses for a reason of its own.
    halt: CancellationToken,
    halt_reason: Mutex<Option<String>>,
    failures_in_a_row: AtomicU32,
    ambiguous_in_a_row: AtomicU32,
    /// Messages per connection: the account's setting, lowered to what a
    /// server that closes connections after N messages allows.
    per_connection: AtomicU32,
    sink: Arc<dyn ProgressSink>,
    counts: Mutex<StatusCounts>,
    dispatch: dispatch::Dispatch,
}

impl Run {
    /// Whether workers should stop taking recipients.
    fn stopping(&self) -> bool {
        self.halt.is_cancelled()
    }

    async fn stopped(&self) {
        self.halt.cancelled().await;
    }

    /// Pauses the campaign for a reason that is not one recipient's.
    fn halt_with(&self, reason: String) {
        let mut slot = self
            .halt_reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            tracing::warn!(campaign = self.campaign, %reason, "campaign pauses itself");
            self.sink.event(&CampaignEvent::Pausing { reason: reason.clone() });
            *slot = Some(reason);
        }
        drop(slot);
        self.halt.cancel();
    }

    fn counts(&self) -> StatusCounts {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Version `version` of the message, compiled: this run's, or an
    /// earlier one kept in the store.
    async fn message_for(&self, version: i64) -> Result<Arc<CompiledMessage>> {
        if version == self.version {
            return Ok(self.message.clone());
        }
        let mut older = self.older.lock().await;
        if let Some(message) = older.get(&version) {
            return Ok(message.clone());
        }
        let draft = self
            .store
            .message_version(self.campaign, version)
            .await?
            .ok_or_else(|| Error::Internal(format!("version {version} of the campaign's message is not kept")))?;
        let message = Arc::new(CompiledMessage::compile(
            &draft,
            &self.columns,
            &self.sender,
            self.identity.clone(),
            &ProtectedFiles::for_database(self.store.path()),
        )?);
        older.insert(version, message.clone());
        Ok(message)
    }

    /// Exponential backoff with jitter for the `attempt`-th failure (1-based):
    /// between half and all of base × 2^(attempt-1), capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self
            .options
            .retry_base
            .saturating_mul(1 << exponent)
            .min(self.options.retry_cap);
        full.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// A campaign's summary, saying which other process is sending it right now.
pub async fn summary(store: &Store, campaign: CampaignId) -> Result<CampaignSummary> {
    let mut summary = store.campaign_summary(campaign).await?;
    note_sender(store, &mut summary);
    Ok(summary)
}

/// Every campaign, newest first, each saying which other process is sending
/// it right now.
pub async fn list(store: &Store) -> Result<Vec<CampaignSummary>> {
    let mut campaigns = store.list_campaigns().await?;
    for summary in &mut campaigns {
        note_sender(store, summary);
    }
    Ok(campaigns)
}

/// Why a campaign marked running that no Mailroom is sending is shown paused.
pub const INTERRUPTED: &str = "interrupted: no Mailroom is sending it any more (it was closed or killed, \
     or could not record its pause on a full disk); resume continues where it stopped";

/// For a campaign marked running: fills `sent_by` with the holder of its
/// lease, unless that is this process (whose own runs the caller knows
/// about); and when nobody holds it, says what is true: it is not running
/// but paused, interrupted. (The file says running when a run was killed,
/// or could not write its end on a full disk; the next run writes over it.)
fn note_sender(store: &Store, summary: &mut CampaignSummary) {
    if summary.status != CampaignStatus::Running {
        return;
    }
    let resource = lease::Resource::Campaign {
        id: summary.id,
        name: &summary.name,
    };
    match lease::holder_of(store.path(), resource) {
        Some(holder) => summary.sent_by = Some(holder).filter(|holder| *holder != lease::holder()),
        None => {
            summary.status = CampaignStatus::Paused;
            summary.interrupted = true;
            summary.pause_reason = Some(INTERRUPTED.to_owned());
        }
    }
}

/// Refuses to change the message of a campaign another run is sending
/// right now: "pause it first". (A change that slips in as a run starts is
/// still safe: it becomes the next version, see `Store::save_message_draft`.)
pub async fn refuse_while_sending(store: &Store, campaign: CampaignId, change: &str) -> Result<()> {
    let summary = store.campaign_summary(campaign).await?;
    if summary.status != CampaignStatus::Running {
        return Ok(());
    }
    let resource = lease::Resource::Campaign {
        id: campaign,
        name: &summary.name,
    };
    match lease::holder_of(store.path(), resource) {
        None => Ok(()),
        Some(holder) => Err(Error::CampaignState {
            campaign: summary.name,
            status: format!("being sent (by {holder})"),
            action: format!(
                "pause it first, then {change}: every recipient of a run gets the message the run started with"
            ),
        }),
    }
}

/// Holds account `name` (id `profile`) so that no run can start on it, for
/// as long as the returned lease lives; refused while a run (in this
/// process or another) is sending on it. Deleting an account takes it
/// first: a run never loses its account (and its send counts) mid-send.
pub fn hold_idle_account(store: &Store, profile: i64, name: &str) -> Result<impl std::fmt::Debug + use<>> {
    lease::take(store.path(), lease::Resource::Account { id: profile, name }).map_err(|e| match e {
        Error::SendingElsewhere { holder, .. } => Error::AccountInUse {
            account: name.to_owned(),
            holder,
        },
        other => other,
    })
}

/// Runs campaign `campaign` on SMTP account `account` (or the one it last
/// ran on) until it completes, pauses or stops. A campaign interrupted by a
/// crash continues: its in-flight recipients become `uncertain` first.
pub async fn send(
    store: &Store,
    secrets: &SecretStore,
    campaign: CampaignId,
    account: Option<&str>,
    options: RunOptions,
    control: RunControl,
    sink: Arc<dyn ProgressSink>,
) -> Result<RunReport> {
    let summary = store.campaign_summary(campaign).await?;
    let name = summary.name.clone();
    if summary.status == CampaignStatus::Stopped {
        return Err(Error::CampaignState {
            campaign: name,
            status: "stopped".to_owned(),
            action: "a stopped campaign sends nothing more (resend its failed recipients instead)".to_owned(),
        });
    }
    let account = match account {
        Some(account) => account.to_owned(),
        None => store
            .campaign_profile(campaign)
            .await?
            .ok_or_else(|| Error::CampaignState {
                campaign: name.clone(),
                status: summary.status.as_str().to_owned(),
                action: "choose the SMTP account to send with (--smtp NAME)".to_owned(),
            })?,
    };
    let (profile, settings) = store.account(&account).await?;
    let password = secrets.get(&account).await?;
    let draft = store
        .message_draft(campaign)
        .await?
        .ok_or_else(|| Error::NoMessage(name.clone()))?;
    let envelope_from = settings.sender_address().ok_or_else(|| Error::InvalidAccount {
        field: "from_address".to_owned(),
        problem: format!("set the sender address of \"{account}\" before sending"),
    })?;
    let sender = Sender {
        address: envelope_from.clone(),
        name: settings.from_name.clone(),
        reply_to: settings.reply_to.clone(),
    };
    let identity = CampaignIdentity {
        id: campaign,
        created_at: summary.created_at,
    };
    // Checked now, before anything is claimed; the run sends the message as
    // `begin_run` finds it (the same, unless it changed in between).
    let checked = CompiledMessage::compile(
        &draft,
        &summary.columns,
        &sender,
        identity.clone(),
        &ProtectedFiles::for_database(store.path()),
    )?;
    // Keeps the built-in sandbox listening for the run when nothing else does.
    let _sandbox = ensure_sandbox(store, &settings).await?;
    let _awake = awake::keep_awake(&name).await;

    // Before anything is recovered or claimed: no other process may be
    // sending this campaign, or on this account (see `lease`).
    let _campaign_lease = lease::take(
        store.path(),
        lease::Resource::Campaign {
            id: campaign,
            name: &name,
        },
    )?;
    let (limits, first) = throttle::account_limits(store.path(), profile, || {
        Ok(throttle::AccountLimits {
            sending: lease::take(
                store.path(),
                lease::Resource::Account {
                    id: profile,
                    name: &account,
                },
            )?,
            rate: AdaptiveRate::new(settings.rate_per_second),
            quotas: tokio::sync::Mutex::new(Quotas::new(
                settings.per_minute,
                settings.per_hour,
                settings.per_day,
                &[],
            )),
        })
    })?;
    if first {
        // Counted only now that the account is ours: a process that sent on
        // it until a moment ago has committed every one of its sends.
        let mut quotas = limits.quotas.lock().await;
        let sent_before = store
            .send_counts(profile, store.now_ms().div_euclid(60_000) - Quotas::LOOKBACK_MINUTES)
            .await?;
        *quotas = Quotas::new(settings.per_minute, settings.per_hour, settings.per_day, &sent_before);
    }
    let start = store
        .begin_run(campaign, profile, &account)
        .await
        .map_err(|e| disk_full_or(store, e))?;
    let uncertain_recovered = start.uncertain_recovered;
    let (version, message) = match start.message {
        Some((version, sent)) if sent == draft => (version, checked),
        other => {
            // Changed (or gone) between the check and the start: check again.
            let compiled = match other {
                Some((version, sent)) => CompiledMessage::compile(
                    &sent,
                    &summary.columns,
                    &sender,
                    identity.clone(),
                    &ProtectedFiles::for_database(store.path()),
                )
                .map(|m| (version, m)),
                None => Err(Error::NoMessage(name.clone())),
            };
            match compiled {
                Ok(compiled) => compiled,
                Err(e) => {
                    store
                        .set_campaign_status(campaign, CampaignStatus::Paused, Some(&e.to_string()))
                        .await?;
                    return Err(e);
                }
            }
        }
    };
    let counts = store.status_counts(campaign).await?;
    let connection = settings.connection_settings(password);
    let run = Arc::new(Run {
        store: store.clone(),
        campaign,
        profile,
        limits,
        connection,
        envelope_from,
        version,
        message: Arc::new(message),
        older: tokio::sync::Mutex::new(HashMap::new()),
        columns: summary.columns.clone(),
        sender,
        identity,
        options,
        halt: control.pause.child_token(),
        control,
        halt_reason: Mutex::new(None),
        failures_in_a_row: AtomicU32::new(0),
        ambiguous_in_a_row: AtomicU32::new(0),
        per_connection: AtomicU32::new(settings.per_connection.max(1)),
        sink,
        counts: Mutex::new(counts.clone()),
        dispatch: dispatch::Dispatch::new(store.clone(), campaign),
        account: settings,
    });
    tracing::info!(campaign, account = %account, uncertain_recovered, "campaign run starts");
    run.sink.event(&CampaignEvent::Started {
        campaign,
        account: account.clone(),
        counts,
        uncertain_recovered,
        rate: run.limits.rate.state(),
    });

    let (writer, writer_done) = writer::start(run.clone())?;
    let progress = tokio::spawn(report_progress(run.clone()));
    let acknowledge = tokio::spawn(acknowledge_pause(run.clone()));
    let mut failure = pool::run(run.clone(), writer).await;
    // Every worker is gone, so the writer's channel is closed: it drains and ends.
    match writer_done.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            failure.get_or_insert(e);
        }
        Err(e) => {
            failure.get_or_insert(Error::Internal(format!("writer: {e}")));
        }
    }
    progress.abort();
    acknowledge.abort();

    let halted = run
        .halt_reason
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let (outcome, reason) = if run.control.stop.is_cancelled() {
        store.cancel_unfinished(campaign).await?;
        (RunOutcome::Stopped, None)
    } else if let Some(reason) = halted {
        (RunOutcome::Paused, Some(reason))
    } else if run.control.pause.is_cancelled() {
        (RunOutcome::Paused, Some("paused by you".to_owned()))
    } else {
        let counts = store.status_counts(campaign).await?;
        if counts.pending + counts.sending + counts.retry_wait == 0 && counts.uncertain > 0 {
            // Nothing left to send, but not done: a person decides about these.
            (RunOutcome::Paused, Some(uncertain_left(counts.uncertain)))
        } else if counts.pending + counts.sending + counts.retry_wait == 0 {
            (RunOutcome::Completed, None)
        } else {
            // The dispatcher ran dry while the file says otherwise: never
            // call that finished.
            (
                RunOutcome::Paused,
                Some(format!(
                    "{} recipients are still waiting; resume to send them",
                    counts.pending + counts.retry_wait
                )),
            )
        }
    };
    let status = match outcome {
        RunOutcome::Completed => CampaignStatus::Completed,
        RunOutcome::Paused => CampaignStatus::Paused,
        RunOutcome::Stopped => CampaignStatus::Stopped,
    };
    record_end(store, campaign, status, reason.as_deref()).await?;
    if let Some(error) = failure {
        return Err(error);
    }
    let counts = store.status_counts(campaign).await?;
    tracing::info!(campaign, outcome = outcome.as_str(), ?reason, "campaign run ends");
    run.sink.event(&CampaignEvent::Finished {
        outcome,
        reason: reason.clone(),
        counts: counts.clone(),
    });
    Ok(RunReport {
        outcome,
        reason,
        counts,
    })
}

/// Why a run that has nothing left to send is paused, not completed.
fn uncertain_left(uncertain: u64) -> String {
    format!(
        "{uncertain} recipients are uncertain: their message went out and no answer came, so the server may \
         have it. Decide for them: send them again (same Message-ID, so most providers drop a duplicate) or \
         count them as sent"
    )
}

/// A database error that is a full disk, as [`Error::DiskFull`].
fn disk_full_or(store: &Store, error: Error) -> Error {
    if error.is_disk_full() {
        Error::DiskFull {
            path: store.path().to_owned(),
        }
    } else {
        error
    }
}

/// Writes how the run ended. On a full disk, once more after the log
/// starts over (reusing its space, see `Store::restart_log`); if even that
/// fails, the run still ends as it did: nobody holds the campaign's lease
/// any more, so `summary` and `list` show it paused (interrupted), not
/// running, and the next run writes over it.
async fn record_end(store: &Store, campaign: CampaignId, status: CampaignStatus, reason: Option<&str>) -> Result<()> {
    match store.set_campaign_status(campaign, status, reason).await {
        Err(e) if e.is_disk_full() => {
            store.restart_log().await;
            if let Err(again) = store.set_campaign_status(campaign, status, reason).await {
                tracing::error!(campaign, error = %again, "the end of the run could not be recorded (disk full)");
            }
            Ok(())
        }
        other => other,
    }
}

/// Says at once that a pause was heard; the run ends when in-flight messages are done.
async fn acknowledge_pause(run: Arc<Run>) {
    run.control.pause.cancelled().await;
    let reason = if run.control.stop.is_cancelled() {
        "stopping: the messages in flight finish, the rest is cancelled"
    } else {
        "pausing: the messages in flight finish, then the campaign waits"
    };
    run.sink.event(&CampaignEvent::Pausing {
        reason: reason.to_owned(),
    });
}

/// A snapshot every `progress_interval`: counts, rate, ETA.
async fn report_progress(run: Arc<Run>) {
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(run.options.progress_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut meter = meter::SendRate::new(run.counts().sent);
    loop {
        ticker.tick().await;
        let now = tokio::time::Instant::now();
        let counts = run.counts();
        let sent_per_second = meter.observe(now.duration_since(started), counts.sent);
        let remaining = counts.pending + counts.retry_wait + counts.sending;
        let eta_seconds = (sent_per_second > 0.0).then(|| (remaining as f64 / sent_per_second).ceil() as u64);
        run.sink.event(&CampaignEvent::Progress {
            percent_done: counts.percent_done(),
            counts,
            sent_per_second: (sent_per_second * 10.0).round() / 10.0,
            rate: run.limits.rate.state(),
            eta_seconds,
            elapsed_ms: u64::try_from(now.duration_since(started).as_millis()).unwrap_or(u64::MAX),
        });
    }
}

/// A recipient that ends `failed` feeds the "N in a row" rule; a message
/// the server accepts resets it. Transient replies are retried and do not
/// count (bursts of them are the server pacing us, not the list going bad).
fn count_failure(run: &Run, reason: &str) {
    let in_a_row = run.failures_in_a_row.fetch_add(1, Ordering::SeqCst) + 1;
    if in_a_row >= run.options.consecutive_failures {
        run.halt_with(format!(
            "{in_a_row} recipients failed in a row, so the campaign paused to spare your list; the last: {reason}"
        ));
    }
}

/// A message whose content got no answer feeds the "ambiguous in a row"
/// rule; a definite answer to a content resets it.
fn count_ambiguous(run: &Run, failure: &crate::smtp::Failure) {
    let in_a_row = run.ambiguous_in_a_row.fetch_add(1, Ordering::SeqCst) + 1;
    if in_a_row >= run.options.ambiguous_in_a_row {
        let what = if run.account.retry_ambiguous {
            "they are sent again with the same Message-ID, and may arrive twice"
        } else {
            "they are marked uncertain for you to decide"
        };
        run.halt_with(format!(
            "{in_a_row} messages in a row got no answer after their content (the last: {failure}), so the \
             campaign paused: the server may have them, and {what}. If the server is slow to accept messages, \
             give the account a longer message timeout than {}; then resume",
            crate::smtp::failure::describe_duration(Duration::from_millis(run.account.data_timeout_ms))
        ));
    }
}
