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
//! - `transport` is what a worker needs from a connection (a [`Connector`]
//!   opens a `Transport`); SMTP's `Connection` is the real one, and the
//!   worker's tests (`tests`) drive it with a scripted one on paused time.
//! - `gate` is the last look before a claim: after every wait for the rate
//!   or a quota, a pause, a suspension or a closed send window keeps the
//!   message back.
//! - [`throttle`] owns the rate (an even pacer, adaptive) and the quotas.
//! - Events go to a [`crate::progress::Sink`]; `crate::progress::Coalescer`
//!   batches them for a window (≤ 10 deliveries a second at any rate).
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

pub(crate) mod failover;
pub mod plan;
pub mod schedule;
pub mod throttle;

mod awake;
mod dispatch;
mod gate;
pub(crate) mod lease;
mod meter;
mod outage;
pub(crate) mod pool;
mod send_plan;
pub(crate) mod transport;
mod worker;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::message::{CampaignIdentity, CompiledMessage, ProtectedFiles, Sender};
use crate::model::{CampaignId, CampaignStatus, CampaignSummary, RecipientStatus, StatusCounts, string_enum};
pub use crate::outcome::{AccountChange, PauseReason, QuotaWindow, RecipientReason, SuspensionReason};
use crate::secrets::SecretStore;
use crate::smtp::Failure;
use crate::store::Store;
pub use failover::{accounts, set_accounts};
pub use send_plan::{SendPlan, send_plan};
use throttle::{AdaptiveRate, Quotas, RateState};
pub(crate) use transport::Connector;

/// Receives a run's events: the engine's one progress shape
/// ([`crate::progress::Sink`]) for campaign events. A run stops through its
/// [`RunControl`], not through the sink's answer.
pub trait ProgressSink: crate::progress::Sink<CampaignEvent> {}

impl<S: crate::progress::Sink<CampaignEvent> + ?Sized> ProgressSink for S {}

/// How the coalescer treats each event: the newest progress snapshot, the
/// newest few recipient events, every other event, and the end.
impl crate::progress::Coalesce for CampaignEvent {
    fn kind(&self) -> crate::progress::Kind {
        use crate::progress::Kind;
        match self {
            CampaignEvent::Progress { .. } => Kind::Snapshot,
            CampaignEvent::Recipient { .. } => Kind::Sample,
            CampaignEvent::Finished { .. } => Kind::Last,
            _ => Kind::Notable,
        }
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
        reason: Option<RecipientReason>,
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
        /// Set while no connection can be opened: the run waits for the
        /// server, and the window shows this instead of a live rate.
        server_wait: Option<ServerWait>,
    },
    /// The effective rate changed (the server throttled, or it recovered).
    RateChanged { rate: RateState },
    /// A quota is used up; sending resumes at `until` (Unix ms).
    QuotaWait {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        until: i64,
        window: QuotaWindow,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit: u64,
    },
    /// Outside the campaign's send windows: nothing new starts until the
    /// next one opens at `opens_at` (Unix ms), read in `time_zone` (IANA).
    /// Messages in flight finish; the run resumes by itself.
    WindowWait {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        opens_at: i64,
        time_zone: String,
    },
    /// A connection to `host:port` could not be opened; it is tried again
    /// after `retry_in_ms`. Advice is the front end's, by the failure's problem.
    ConnectionTrouble {
        failure: Failure,
        host: String,
        port: u16,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        retry_in_ms: u64,
        /// This was try `attempt` (in a row) of `of` the run will make
        /// before it pauses, as planned now (see `campaign::outage`).
        attempt: u32,
        of: u32,
    },
    /// A provider rule suspended the account: nothing is sent until
    /// `until` (Unix ms); the recipient that drew the reply waits without
    /// using an attempt. `rule` names the rule, `failure` the reply.
    Suspended {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        until: i64,
        rule: String,
        failure: Failure,
    },
    /// Sending moved from account `from` to account `to` of the campaign's
    /// accounts (the next one, or back to an earlier one), for `why`:
    /// messages in flight on `from` finished; a new run sends on `to`.
    AccountChanged {
        from: String,
        to: String,
        why: AccountChange,
    },
    /// Every account the campaign may use is suspended: sending waits for
    /// `account`, the first to free, until `until` (Unix ms).
    AccountWait {
        account: String,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        until: i64,
        reason: SuspensionReason,
    },
    /// A provider rule asked for fewer connections: `connections` from now on.
    ConnectionsReduced {
        connections: u32,
        rule: String,
        failure: Failure,
    },
    /// A pause or stop was asked for (`reason` is [`PauseReason::ByYou`]),
    /// or the campaign pauses itself: in-flight messages finish, nothing
    /// new starts; when `stopping`, the rest is cancelled.
    Pausing { stopping: bool, reason: PauseReason },
    Finished {
        outcome: RunOutcome,
        reason: Option<PauseReason>,
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
    /// pauses with "cannot reach the server" (an outage later in a run
    /// also ends at the account's `outage_limit_ms`, see `outage`).
    pub connect_attempts: u32,
    /// Before the server accepted any message of this run: tries to open a
    /// connection before the campaign pauses (at most `connect_attempts`),
    /// `first_contact_wait` × n apart. A server that is not there at Start
    /// pauses the campaign within a few connection timeouts.
    pub first_contact_attempts: u32,
    pub first_contact_wait: Duration,
    /// While one of the campaign's accounts is set aside because its server
    /// could not be used (see `failover`), that server is tried this often
    /// in the background; when a connection opens, sending moves back.
    pub probe_every: Duration,
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
    /// While waiting for a send window, the wall clock is read again at
    /// least this often (tokio's clock stands still while the computer
    /// sleeps, and the system clock can be changed).
    pub window_recheck: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(30 * 60),
            connect_attempts: 8,
            first_contact_attempts: 3,
            first_contact_wait: Duration::from_secs(2),
            probe_every: Duration::from_secs(60),
            consecutive_failures: 20,
            ambiguous_in_a_row: 3,
            progress_interval: Duration::from_millis(250),
            window_recheck: Duration::from_secs(30),
        }
    }
}

/// The run waits for a server it cannot connect to: "waiting for the
/// server — next try in 27 s (3rd of 6)".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ServerWait {
    /// The next try is made this long after the snapshot.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub next_try_in_ms: u64,
    /// The last failed try was the `attempt`-th in a row, of `of` planned.
    pub attempt: u32,
    pub of: u32,
    /// How the last try failed.
    pub failure: Failure,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RunReport {
    pub outcome: RunOutcome,
    pub reason: Option<PauseReason>,
    pub counts: StatusCounts,
    /// The campaign's accounts for this send, in their order, whether or not
    /// the run needed each (whose mailboxes may see its bounces).
    pub accounts: Vec<String>,
}

/// What every task of one run shares.
struct Run {
    store: Store,
    campaign: CampaignId,
    profile: i64,
    /// This run's row in the store's `runs`.
    run_id: i64,
    account: crate::smtp::AccountSettings,
    connection: Arc<crate::smtp::client::ConnectionSettings>,
    /// Opens the workers' connections (and the probes'): SMTP, or a test's script.
    connector: Arc<dyn Connector>,
    /// Where the workers run.
    workers: pool::Placement,
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
    halt_reason: Mutex<Option<PauseReason>>,
    failures_in_a_row: AtomicU32,
    ambiguous_in_a_row: AtomicU32,
    /// Messages per connection: the account's setting, lowered to what a
    /// server that closes connections after N messages allows.
    per_connection: AtomicU32,
    /// The server accepted a message in this run: an outage from now on is
    /// waited out up to the account's limit (see `outage`).
    reached: AtomicBool,
    /// When the current outage began (the first failed connection since
    /// one last opened), on tokio's clock.
    outage_began: Mutex<Option<tokio::time::Instant>>,
    /// The account's rules (its own, its provider's, the generic classes).
    rules: crate::smtp::rules::RuleSet,
    /// Connections the workers may hold: the account's, lowered by a rule.
    connections_allowed: AtomicU32,
    /// "Fewer connections" replies in a row to the run's only connection as
    /// it opened: each waits longer (see `worker::act_on_open_rule`).
    crowded_in_a_row: AtomicU32,
    /// A rule suspended the account until then (store clock, Unix ms).
    suspended_until: Mutex<Option<i64>>,
    /// What the run waits for while no connection opens, for progress:
    /// until when (tokio's clock), and what [`ServerWait`] says besides.
    server_wait: Mutex<Option<(tokio::time::Instant, ServerWait)>>,
    sink: Arc<dyn ProgressSink>,
    /// The campaign's send windows (none: any time).
    windows: schedule::Windows,
    /// The opening last announced by a [`CampaignEvent::WindowWait`], so
    /// that N workers waiting for one window say it once.
    window_announced: AtomicI64,
    counts: Mutex<StatusCounts>,
    dispatch: dispatch::Dispatch,
    /// The campaign's other accounts, and whether this run hands over to
    /// one of them (see `failover`).
    failover: failover::Link,
}

impl Run {
    /// Whether workers should stop taking recipients.
    fn stopping(&self) -> bool {
        self.halt.is_cancelled()
    }

    async fn stopped(&self) {
        self.halt.cancelled().await;
    }

    /// Pauses the campaign for a reason that is not one recipient's (or,
    /// when the account cannot log in or its server cannot be used, and
    /// another of the campaign's accounts can send, hands over to it: see
    /// `failover`).
    fn halt_with(&self, reason: PauseReason) {
        if failover::instead_of_pause(self, &reason) {
            return;
        }
        let mut slot = self
            .halt_reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            tracing::warn!(campaign = self.campaign, %reason, "campaign pauses itself");
            self.sink.event(&CampaignEvent::Pausing {
                stopping: false,
                reason: reason.clone(),
            });
            *slot = Some(reason);
        }
        drop(slot);
        self.halt.cancel();
    }

    /// When the current outage began; a failure with none under way begins one now.
    fn outage_began(&self) -> tokio::time::Instant {
        *self
            .outage_began
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(tokio::time::Instant::now)
    }

    /// The run waits `wait` for the next try, after try `attempt` of `of` failed with `failure`.
    fn waiting_for_server(&self, wait: Duration, attempt: u32, of: u32, failure: Failure) {
        let until = tokio::time::Instant::now() + wait;
        let said = ServerWait {
            next_try_in_ms: 0,
            attempt,
            of,
            failure,
        };
        *self
            .server_wait
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((until, said));
    }

    /// A connection opened, or the run stopped trying for a while (a send
    /// window closed, a rule suspended the account): whatever outage there
    /// was is over, as far as the outage limit and the window are concerned.
    fn server_back(&self) {
        *self
            .outage_began
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        *self
            .server_wait
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// What the run waits for now, if it waits for the server.
    fn server_wait(&self) -> Option<ServerWait> {
        let waiting = self
            .server_wait
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        waiting.map(|(until, said)| ServerWait {
            next_try_in_ms: u64::try_from(until.saturating_duration_since(tokio::time::Instant::now()).as_millis())
                .unwrap_or(u64::MAX),
            ..said
        })
    }

    /// Until when a rule suspended the account, if it still is.
    fn suspended_until(&self) -> Option<i64> {
        let until = *self
            .suspended_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        until.filter(|&until| until > self.store.now_ms())
    }

    /// Suspends the account until `until` (the later of this and any
    /// suspension under way); says so once per new end.
    fn suspend(&self, until: i64, rule: &str, failure: &Failure) {
        let mut slot = self
            .suspended_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_some_and(|current| current >= until) {
            return;
        }
        *slot = Some(until);
        drop(slot);
        tracing::info!(
            campaign = self.campaign,
            until,
            rule,
            "a provider rule suspends the account"
        );
        self.sink.event(&CampaignEvent::Suspended {
            until,
            rule: rule.to_owned(),
            failure: failure.clone(),
        });
    }

    fn outage_policy(&self) -> outage::OutagePolicy {
        outage::OutagePolicy {
            first_contact_attempts: self.options.first_contact_attempts,
            first_contact_wait: self.options.first_contact_wait,
            retry_base: self.options.retry_base,
            retry_cap: self.options.retry_cap,
            max_attempts: self.options.connect_attempts,
            limit: Duration::from_millis(self.account.outage_limit_ms),
        }
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
            summary.pause_reason = Some(PauseReason::Interrupted);
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

/// Deletes a campaign and all its data (see `store/deletion.rs`). Refused
/// while a run, in this process or another, is sending it: the campaign's
/// lease is held through the delete, so no run can start meanwhile either.
/// A campaign left `running` by a run that died is not being sent, and can
/// be deleted.
pub async fn delete(store: &Store, campaign: CampaignId) -> Result<()> {
    let summary = store.campaign_summary(campaign).await?;
    let resource = lease::Resource::Campaign {
        id: campaign,
        name: &summary.name,
    };
    let lease = lease::take(store.path(), resource).map_err(|e| match e {
        Error::SendingElsewhere { holder, .. } => Error::CampaignState {
            campaign: summary.name.clone(),
            status: format!("being sent (by {holder})"),
            action: "stop it first, then delete it".to_owned(),
        },
        other => other,
    })?;
    store.delete_campaign(campaign).await?;
    drop(lease);
    tracing::info!(campaign, name = %summary.name, "campaign deleted");
    Ok(())
}

/// Stops a campaign that is not sending (paused, or interrupted by a crash):
/// every recipient not yet sent is cancelled and the campaign is stopped,
/// as Stop does during a run. Refused while a run (here or in another
/// process) sends it, which is stopped through its own control instead,
/// and for a draft (nothing to stop) or a finished campaign.
pub async fn stop_idle(store: &Store, campaign: CampaignId) -> Result<StatusCounts> {
    let summary = store.campaign_summary(campaign).await?;
    // Held while it stops: no run can start on it meanwhile.
    let _lease = lease::take(
        store.path(),
        lease::Resource::Campaign {
            id: campaign,
            name: &summary.name,
        },
    )?;
    if !matches!(summary.status, CampaignStatus::Paused | CampaignStatus::Running) {
        return Err(Error::CampaignState {
            campaign: summary.name,
            status: summary.status.as_str().to_owned(),
            action: "only a paused campaign can be stopped".to_owned(),
        });
    }
    // A killed run's in-flight recipients are uncertain, as a resume would
    // make them: whether they were sent is not known, so they are not cancelled.
    store.recover_interrupted(campaign).await?;
    store.cancel_unfinished(campaign).await?;
    // A stopped campaign sends nothing more: no schedule is left to start it.
    store.clear_schedule(campaign).await?;
    store
        .set_campaign_status(campaign, CampaignStatus::Stopped, None)
        .await?;
    store.status_counts(campaign).await
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

/// What a run uses that outlives it, owned by the
/// [`Session`](crate::session::Session) that starts it: the database, the
/// passwords, and the live limits of its accounts (shared with any other run
/// on them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Host<'a> {
    pub store: &'a Store,
    pub secrets: &'a SecretStore,
    pub limits: &'a throttle::LiveLimits,
    /// How connections are opened ([`transport::SmtpConnector`] but in tests).
    pub connector: &'a Arc<dyn Connector>,
    /// Where the workers run ([`pool::Placement::OwnThread`] but in tests).
    pub workers: pool::Placement,
}

/// Runs campaign `campaign` on its SMTP accounts until it completes, pauses
/// or stops. `accounts`, when given, become the campaign's accounts, in
/// order (the first that is not suspended sends; see `failover`); else the
/// ones it was given before, else the one it last ran on. A campaign
/// interrupted by a crash continues: its in-flight recipients become
/// `uncertain` first.
///
/// Starts no server: a run on the built-in sandbox finds it listening, started
/// by the [`Session`](crate::session::Session) that calls this.
pub(crate) async fn send(
    host: Host<'_>,
    campaign: CampaignId,
    accounts: &[&str],
    options: RunOptions,
    control: RunControl,
    sink: Arc<dyn ProgressSink>,
) -> Result<RunReport> {
    let Host {
        store,
        secrets,
        limits,
        connector,
        workers,
    } = host;
    let summary = store.campaign_summary(campaign).await?;
    let name = summary.name.clone();
    refuse_stopped(&summary)?;
    let names = failover::account_names(store, campaign, &summary, accounts).await?;
    // Every account is checked before anything is claimed: its settings,
    // its password, its sender, and the message against its sender.
    let draft = store
        .message_draft(campaign)
        .await?
        .ok_or_else(|| Error::NoMessage(name.clone()))?;
    let identity = CampaignIdentity {
        id: campaign,
        created_at: summary.created_at,
    };
    let mut candidates = check_accounts(store, secrets, &names, &summary, &draft, &identity).await?;
    // The send windows, checked before anything is claimed.
    let windows = match store.schedule(campaign).await? {
        Some(schedule) => schedule.windows()?,
        None => schedule::Windows::always(),
    };
    let _awake = awake::keep_awake(&name).await;

    // Before anything is recovered or claimed: no other process may be
    // sending this campaign (see `lease`).
    let _campaign_lease = lease::take(
        store.path(),
        lease::Resource::Campaign {
            id: campaign,
            name: &name,
        },
    )?;
    // Accounts set aside in this send: their login failed (for good), or
    // their servers cannot be used (until a probe reaches them).
    let mut blocked = std::collections::HashSet::new();
    let aside = failover::SetAside::default();
    let mut moved: Option<Moved> = None;
    let mut control_for_segment = Some(control);
    let mut announced = false;
    loop {
        let suspensions = store.account_suspensions().await?;
        let unusable: std::collections::HashSet<usize> = blocked.iter().copied().chain(aside.now()).collect();
        let Some(choice) = failover::choose(&candidates, &suspensions, &unusable) else {
            // Unreachable: an account is set aside only when another can send.
            return Err(Error::Internal(
                "no account of the campaign is left to send on".to_owned(),
            ));
        };
        let index = choice.index;
        if let Some(moved) = moved.take() {
            end_moved_run(store, campaign, &candidates, moved, index, sink.as_ref()).await?;
        }
        if let Some(suspension) = &choice.waiting {
            sink.event(&CampaignEvent::AccountWait {
                account: candidates[index].name.clone(),
                until: suspension.until,
                reason: suspension.reason.clone(),
            });
        }
        if choice.waiting.is_none() {
            // This account can send: whoever waited for a suspension (of
            // this account or another) goes now.
            store.due_after_suspension(campaign).await?;
        }
        let Some(control) = control_for_segment.take() else {
            return Err(Error::Internal("a run's control was lost between accounts".to_owned()));
        };
        let link = failover::Link::new(
            &candidates,
            index,
            &blocked,
            &aside,
            &suspensions,
            choice.waiting.as_ref().map(|s| s.until),
        );
        let first = !announced;
        announced = true;
        let checked = candidates[index].checked.take();
        let segment = Segment {
            store,
            limits,
            connector,
            workers,
            campaign,
            summary: &summary,
            draft: &draft,
            identity: &identity,
            candidate: &candidates[index],
            checked,
            windows: windows.clone(),
            options: options.clone(),
            sink: sink.clone(),
            announce_start: first,
            link,
        };
        // Boxed: a run's future is large, and `send`'s would hold it inline.
        match Box::pin(send_on(segment, control)).await? {
            Ended::Finished(report) => {
                let accounts = candidates.iter().map(|c| c.name.clone()).collect();
                return Ok(RunReport { accounts, ..report });
            }
            Ended::Moved { run_id, why, control } => {
                match why {
                    AccountChange::AuthFailed { .. } => {
                        blocked.insert(index);
                    }
                    AccountChange::Unreachable { .. } => aside.insert(index),
                    AccountChange::Suspended { .. } | AccountChange::Resumed | AccountChange::Reachable => {}
                }
                moved = Some((index, run_id, why));
                control_for_segment = Some(control);
            }
        }
    }
}

/// Checks every account a campaign may send on before anything is claimed:
/// its settings, its password, its sender, and the message against its
/// sender. The accounts as the run uses them, in order.
async fn check_accounts(
    store: &Store,
    secrets: &SecretStore,
    names: &[String],
    summary: &CampaignSummary,
    draft: &crate::message::MessageDraft,
    identity: &CampaignIdentity,
) -> Result<Vec<failover::Candidate>> {
    let mut candidates = Vec::with_capacity(names.len());
    for account in names {
        let (profile, settings) = crate::smtp::account::load(store, account).await?;
        let password = secrets.get(account).await?;
        let envelope_from = settings.sender_address().ok_or_else(|| Error::InvalidAccount {
            field: "from_address".to_owned(),
            problem: format!("set the sender address of \"{account}\" before sending"),
        })?;
        let sender = Sender {
            address: envelope_from.clone(),
            name: settings.from_name.clone(),
            reply_to: settings.reply_to.clone(),
        };
        // Checked now; the run sends the message as `begin_run` finds it
        // (the same, unless it changed in between).
        let checked = CompiledMessage::compile(
            draft,
            &summary.columns,
            &sender,
            identity.clone(),
            &ProtectedFiles::for_database(store.path()),
        )?;
        candidates.push(failover::Candidate {
            name: account.clone(),
            profile,
            settings,
            password,
            envelope_from,
            sender,
            checked: Some(checked),
        });
    }
    Ok(candidates)
}

/// A stopped campaign sends nothing more.
fn refuse_stopped(summary: &CampaignSummary) -> Result<()> {
    if summary.status == CampaignStatus::Stopped {
        return Err(Error::CampaignState {
            campaign: summary.name.clone(),
            status: "stopped".to_owned(),
            action: "a stopped campaign sends nothing more (resend its failed recipients instead)".to_owned(),
        });
    }
    Ok(())
}

/// Where a run moved from: the index of its account, its run, and why.
type Moved = (usize, i64, AccountChange);

/// Ends the run that moved off account `from` (its run `run_id`) for `why`,
/// naming account `to`, where sending goes on; says so.
async fn end_moved_run(
    store: &Store,
    campaign: CampaignId,
    candidates: &[failover::Candidate],
    (from, run_id, why): Moved,
    to: usize,
    sink: &dyn ProgressSink,
) -> Result<()> {
    let reason = PauseReason::MovedToAccount {
        account: candidates[to].name.clone(),
        why: why.clone(),
    };
    store
        .end_run(run_id, crate::results::RunEnd::Paused, Some(&reason))
        .await?;
    tracing::info!(campaign, from = %candidates[from].name, to = %candidates[to].name, %why, "sending moves to another account");
    sink.event(&CampaignEvent::AccountChanged {
        from: candidates[from].name.clone(),
        to: candidates[to].name.clone(),
        why,
    });
    Ok(())
}

/// What one run on one of the campaign's accounts needs.
struct Segment<'a> {
    store: &'a Store,
    limits: &'a throttle::LiveLimits,
    connector: &'a Arc<dyn Connector>,
    workers: pool::Placement,
    campaign: CampaignId,
    summary: &'a CampaignSummary,
    draft: &'a crate::message::MessageDraft,
    identity: &'a CampaignIdentity,
    candidate: &'a failover::Candidate,
    /// The message compiled for this account's sender at the check, if not used yet.
    checked: Option<CompiledMessage>,
    windows: schedule::Windows,
    options: RunOptions,
    sink: Arc<dyn ProgressSink>,
    /// The first run of this `send`: it says `Started`.
    announce_start: bool,
    link: failover::Link,
}

/// How a run on one account ended.
enum Ended {
    /// The campaign completed, paused or stopped.
    Finished(RunReport),
    /// Its account was set aside (`why`) for another of the campaign's:
    /// run `run_id` is still to be ended, naming the next account.
    Moved {
        run_id: i64,
        why: AccountChange,
        control: RunControl,
    },
}

/// One run (a row of `runs`) on one account of the campaign.
async fn send_on(segment: Segment<'_>, control: RunControl) -> Result<Ended> {
    let Segment {
        store,
        limits,
        connector,
        workers,
        campaign,
        summary,
        draft,
        identity,
        candidate,
        checked,
        windows,
        options,
        sink,
        announce_start,
        link,
    } = segment;
    let account = candidate.name.clone();
    let profile = candidate.profile;
    let settings = candidate.settings.clone();
    let sender = candidate.sender.clone();
    let envelope_from = candidate.envelope_from.clone();
    let limits = acquire_limits(store, limits, candidate).await?;
    let start = store
        .begin_run(campaign, profile, &account)
        .await
        .map_err(|e| disk_full_or(store, e))?;
    // A run begun by hand (Start, Resend, "send now") uses up a pending
    // scheduled start: the timer must not start the campaign again later.
    // A scheduled run took it already; its windows stay either way.
    if let Err(e) = store.take_scheduled_start(campaign).await {
        tracing::warn!(campaign, error = %e, "the pending scheduled start could not be cleared");
    }
    let uncertain_recovered = start.uncertain_recovered;
    let (version, message) = match (start.message, checked) {
        (Some((version, sent)), Some(checked)) if sent == *draft => (version, checked),
        // Changed (or gone) between the check and the start, or a later
        // account's run: compile again.
        (other, _) => match compile_for_run(store, summary, &sender, identity, other) {
            Ok(compiled) => compiled,
            Err(e) => {
                pause_for_error(store, campaign, start.run, &e).await?;
                return Err(e);
            }
        },
    };
    let counts = store.status_counts(campaign).await?;
    let connection = settings.connection_settings(candidate.password.clone());
    let suspended_until = link.waiting_until();
    let run = Arc::new(Run {
        store: store.clone(),
        campaign,
        profile,
        run_id: start.run,
        limits,
        connection,
        connector: connector.clone(),
        workers,
        envelope_from,
        version,
        message: Arc::new(message),
        older: tokio::sync::Mutex::new(HashMap::new()),
        columns: summary.columns.clone(),
        sender,
        identity: identity.clone(),
        options,
        halt: control.pause.child_token(),
        control,
        halt_reason: Mutex::new(None),
        failures_in_a_row: AtomicU32::new(0),
        ambiguous_in_a_row: AtomicU32::new(0),
        per_connection: AtomicU32::new(settings.per_connection.max(1)),
        reached: AtomicBool::new(false),
        rules: crate::smtp::rules::RuleSet::new(settings.preset.as_deref(), &settings.rules),
        connections_allowed: AtomicU32::new(settings.connections.max(1)),
        crowded_in_a_row: AtomicU32::new(0),
        suspended_until: Mutex::new(suspended_until),
        outage_began: Mutex::new(None),
        server_wait: Mutex::new(None),
        sink,
        windows,
        window_announced: AtomicI64::new(i64::MIN),
        counts: Mutex::new(counts.clone()),
        dispatch: dispatch::Dispatch::new(store.clone(), campaign),
        account: settings,
        failover: link,
    });
    tracing::info!(campaign, account = %account, uncertain_recovered, "campaign run starts");
    if announce_start {
        run.sink.event(&CampaignEvent::Started {
            campaign,
            account: account.clone(),
            counts,
            uncertain_recovered,
            rate: run.limits.rate.state(),
        });
    }

    let failure = run_workers(&run).await?;
    remember_held_rate(&run).await;

    let halted = run
        .halt_reason
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if failure.is_none()
        && halted.is_none()
        && !run.control.pause.is_cancelled()
        && let Some(why) = run.failover.handed_off()
    {
        // Nothing of this run is in flight any more: the next account's run
        // takes over (the caller ends this one, naming it).
        return Ok(Ended::Moved {
            run_id: run.run_id,
            why,
            control: run.control.clone(),
        });
    }
    let (outcome, reason) = how_it_ended(&run, halted).await?;
    let status = match outcome {
        RunOutcome::Completed => CampaignStatus::Completed,
        RunOutcome::Paused => CampaignStatus::Paused,
        RunOutcome::Stopped => CampaignStatus::Stopped,
    };
    record_end(store, campaign, status, reason.as_ref()).await?;
    if let Err(e) = store.end_run(run.run_id, outcome.into(), reason.as_ref()).await {
        // The campaign's own state is written; a run left without its end
        // reads as interrupted, which the next run also writes.
        tracing::error!(campaign, error = %e, "the end of the run could not be recorded in its history");
    }
    if let Some(error) = failure {
        return Err(error);
    }
    let counts = store.status_counts(campaign).await?;
    tracing::info!(campaign, outcome = outcome.as_str(), reason = %reason.as_ref().map(ToString::to_string).unwrap_or_default(), "campaign run ends");
    run.sink.event(&CampaignEvent::Finished {
        outcome,
        reason: reason.clone(),
        counts: counts.clone(),
    });
    Ok(Ended::Finished(RunReport {
        outcome,
        reason,
        counts,
        accounts: vec![run.account.name.clone()],
    }))
}

/// Runs `run`'s workers until each has finished, with the tasks beside them
/// (the state writer, progress, the pause's acknowledgement, the failover's
/// watch and probe); the first error met, once the writer has committed
/// everything.
async fn run_workers(run: &Arc<Run>) -> Result<Option<Error>> {
    let (writer, writer_done) = writer::start(run.clone())?;
    let progress = tokio::spawn(report_progress(run.clone()));
    let acknowledge = tokio::spawn(acknowledge_pause(run.clone()));
    let watch = tokio::spawn(failover::watch(run.clone()));
    let probe = tokio::spawn(failover::probe(run.clone()));
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
    watch.abort();
    probe.abort();
    Ok(failure)
}

/// How a run that is over ended, from what stopped it (`halted`: the reason
/// it paused itself) and, when nothing did, from the file's counts: a stop
/// cancels what is left.
async fn how_it_ended(run: &Run, halted: Option<PauseReason>) -> Result<(RunOutcome, Option<PauseReason>)> {
    Ok(if run.control.stop.is_cancelled() {
        run.store.cancel_unfinished(run.campaign).await?;
        // A stopped campaign sends nothing more: no schedule is left to start it.
        run.store.clear_schedule(run.campaign).await?;
        (RunOutcome::Stopped, None)
    } else if let Some(reason) = halted {
        (RunOutcome::Paused, Some(reason))
    } else if run.control.pause.is_cancelled() {
        (RunOutcome::Paused, Some(PauseReason::ByYou))
    } else {
        let counts = run.store.status_counts(run.campaign).await?;
        if counts.pending + counts.sending + counts.retry_wait == 0 && counts.uncertain > 0 {
            // Nothing left to send, but not done: a person decides about these.
            (
                RunOutcome::Paused,
                Some(PauseReason::Uncertain {
                    count: counts.uncertain,
                }),
            )
        } else if counts.pending + counts.sending + counts.retry_wait == 0 {
            (RunOutcome::Completed, None)
        } else {
            // The dispatcher ran dry while the file says otherwise: never
            // call that finished.
            (
                RunOutcome::Paused,
                Some(PauseReason::StillWaiting {
                    count: counts.pending + counts.retry_wait,
                }),
            )
        }
    })
}

/// The live limits (rate, quotas, and the hold on the account) a run on
/// `candidate`'s account sends under: the ones a run on it uses now, or new
/// ones that start at the rate that held last time and count the account's
/// recent sends.
async fn acquire_limits(
    store: &Store,
    limits: &throttle::LiveLimits,
    candidate: &failover::Candidate,
) -> Result<Arc<throttle::AccountLimits>> {
    let (account, profile, settings) = (&candidate.name, candidate.profile, &candidate.settings);
    // Where the server's limit was found last time: the run starts there.
    let remembered = store.held_rate(profile).await?.map(|held| held.rate);
    let (limits, first) = limits.account(profile, || {
        Ok(throttle::AccountLimits {
            sending: lease::take(
                store.path(),
                lease::Resource::Account {
                    id: profile,
                    name: account,
                },
            )?,
            rate: AdaptiveRate::new(settings.rate_per_second, remembered),
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
    Ok(limits)
}

/// The message version a run sends (as `begin_run` found it), compiled for
/// the account's `sender`.
fn compile_for_run(
    store: &Store,
    summary: &CampaignSummary,
    sender: &Sender,
    identity: &CampaignIdentity,
    message: Option<(i64, crate::message::MessageDraft)>,
) -> Result<(i64, CompiledMessage)> {
    let Some((version, sent)) = message else {
        return Err(Error::NoMessage(summary.name.clone()));
    };
    let compiled = CompiledMessage::compile(
        &sent,
        &summary.columns,
        sender,
        identity.clone(),
        &ProtectedFiles::for_database(store.path()),
    )?;
    Ok((version, compiled))
}

/// Ends run `run_id` and pauses the campaign for `error`, met before
/// anything was sent.
async fn pause_for_error(store: &Store, campaign: CampaignId, run_id: i64, error: &Error) -> Result<()> {
    let reason = PauseReason::Error {
        error: error.kind(),
        detail: error.to_string(),
    };
    store
        .end_run(run_id, crate::results::RunEnd::Paused, Some(&reason))
        .await?;
    store
        .set_campaign_status(campaign, CampaignStatus::Paused, Some(&reason))
        .await
}

/// Keeps the rate that held on the account without throttle replies, when
/// its server throttled (in this run or an earlier one), for the next run to
/// start at. A failure to write it costs only that head start: logged.
async fn remember_held_rate(run: &Run) {
    let Some(rate) = run.limits.rate.held() else {
        return;
    };
    if let Err(error) = run.store.set_held_rate(run.profile, rate).await {
        tracing::warn!(%error, "the rate that held could not be kept");
    }
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
async fn record_end(
    store: &Store,
    campaign: CampaignId,
    status: CampaignStatus,
    reason: Option<&PauseReason>,
) -> Result<()> {
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
    run.sink.event(&CampaignEvent::Pausing {
        stopping: run.control.stop.is_cancelled(),
        reason: PauseReason::ByYou,
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
            server_wait: run.server_wait(),
        });
    }
}

/// A recipient that ends `failed` feeds the "N in a row" rule; a message
/// the server accepts resets it. Transient replies are retried and do not
/// count (bursts of them are the server pacing us, not the list going bad).
fn count_failure(run: &Run, reason: &RecipientReason) {
    let in_a_row = run.failures_in_a_row.fetch_add(1, Ordering::SeqCst) + 1;
    if in_a_row >= run.options.consecutive_failures {
        run.halt_with(PauseReason::FailuresInARow {
            count: in_a_row,
            last: Box::new(reason.clone()),
        });
    }
}

/// A message whose content got no answer feeds the "ambiguous in a row"
/// rule; a definite answer to a content resets it.
fn count_ambiguous(run: &Run, failure: &crate::smtp::Failure) {
    let in_a_row = run.ambiguous_in_a_row.fetch_add(1, Ordering::SeqCst) + 1;
    if in_a_row >= run.options.ambiguous_in_a_row {
        run.halt_with(PauseReason::NoAnswerInARow {
            count: in_a_row,
            last: failure.clone(),
            resending: run.account.retry_ambiguous,
            timeout_ms: run.account.data_timeout_ms,
        });
    }
}
