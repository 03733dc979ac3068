//! Several accounts for one campaign (issue 19): the campaign's accounts in
//! order, and moving between them. The first account that is neither
//! suspended (a provider rule, its quota: `store/suspensions.rs`, kept
//! across restarts) nor set aside in this `send` (its login failed) sends.
//! When it is suspended or cannot log in and another account can send, its
//! run winds down (messages in flight finish, nothing new starts: the same
//! path as a pause, without pausing the campaign) and `send` starts a new
//! run on the other account, so every recipient's run names the account
//! that sent it. When an earlier account's suspension ends (by time, or a
//! person's "Resume now"), sending moves back to it. When every account is
//! suspended, the run waits on the one that frees first
//! (`CampaignEvent::AccountWait`). Each account keeps its own limits,
//! connections, rules and quotas: each run is built from its own settings.
//!
//! The worker asks two things here: [`suspend`] when a rule suspends the
//! account (the suspension is kept in the store; the recipient that drew the
//! reply is due at once when another account takes over, else when the
//! suspension ends), and [`quota_used`] when a quota makes it wait. A failed
//! login reaches [`instead_of_pause`] through `Run::halt_with`. [`watch`]
//! runs beside the workers and reads the store's suspensions every second.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Run;
use super::throttle::QuotaWait;
use crate::error::{Error, Result};
use crate::message::{CompiledMessage, Sender};
use crate::model::{CampaignId, CampaignSummary};
use crate::outcome::{AccountChange, PauseReason, SuspensionReason};
use crate::smtp::rules::Rule;
use crate::smtp::{AccountSettings, Failure, Stage};
use crate::store::{AccountSuspension, Store};

/// A quota wait at least this long suspends the account (kept, shown on
/// it, and a reason to move to the next account); a shorter one is waited
/// out (a per-minute quota, say). The plan (`plan.rs`) works the same rule out on paper.
pub(super) const QUOTA_SUSPENDS_AFTER_MS: i64 = 60_000;

/// How often [`watch`] reads the suspensions.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// One of the campaign's accounts, checked before anything is claimed.
pub(super) struct Candidate {
    pub name: String,
    pub profile: i64,
    pub settings: AccountSettings,
    pub password: Option<String>,
    pub envelope_from: String,
    pub sender: Sender,
    /// The message compiled for this account's sender at the check; taken
    /// by the first run on the account.
    pub checked: Option<CompiledMessage>,
}

/// The accounts a `send` uses, in order: `given` (the caller's list, which
/// then becomes the campaign's), else the campaign's list, else the
/// account it last ran on. Names given twice count once.
pub(super) async fn account_names(
    store: &Store,
    campaign: CampaignId,
    summary: &CampaignSummary,
    given: &[&str],
) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    if given.is_empty() {
        names = store.campaign_accounts(campaign).await?;
        if names.is_empty()
            && let Some(last) = store.campaign_profile(campaign).await?
        {
            names.push(last);
        }
    } else {
        for name in given {
            if !names.iter().any(|n| n == name) {
                names.push((*name).to_owned());
            }
        }
    }
    if names.is_empty() {
        return Err(Error::CampaignState {
            campaign: summary.name.clone(),
            status: summary.status.as_str().to_owned(),
            action: "choose the SMTP account to send with (--smtp NAME)".to_owned(),
        });
    }
    if !given.is_empty() {
        // A new choice replaces the campaign's list.
        set_accounts(store, campaign, given).await?;
    }
    Ok(names)
}

/// The account to send on next.
pub(super) struct Choice {
    pub index: usize,
    /// Every account is suspended: this one frees first, then.
    pub waiting: Option<AccountSuspension>,
}

/// The first account neither suspended nor `blocked`; when every one is
/// suspended, the one that frees first; `None` when all are blocked.
pub(super) fn choose(
    candidates: &[Candidate],
    suspensions: &HashMap<i64, AccountSuspension>,
    blocked: &HashSet<usize>,
) -> Option<Choice> {
    let open = |i: &usize| !blocked.contains(i);
    if let Some(index) = (0..candidates.len())
        .filter(open)
        .find(|&i| !suspensions.contains_key(&candidates[i].profile))
    {
        return Some(Choice { index, waiting: None });
    }
    (0..candidates.len())
        .filter(open)
        .filter_map(|i| suspensions.get(&candidates[i].profile).map(|s| (i, s)))
        .min_by_key(|(i, s)| (s.until, *i))
        .map(|(index, suspension)| Choice {
            index,
            waiting: Some(suspension.clone()),
        })
}

/// What a run knows of the campaign's other accounts.
pub(super) struct Link {
    /// This run's account's place in the list.
    index: usize,
    /// Every account's id, in order.
    profiles: Vec<i64>,
    /// Accounts set aside in this `send` (their login failed).
    blocked: HashSet<usize>,
    /// Another account can send right now (refreshed by [`watch`]).
    other_free: AtomicBool,
    /// The run began waiting for this account's suspension (every account
    /// was suspended): until then (store clock, Unix ms).
    waiting_until: Option<i64>,
    /// The suspension of this account the run keeps, until when, so that a
    /// person's "Resume now" (the row gone) ends it here too.
    kept_until: Mutex<Option<i64>>,
    /// Why this run hands over to another account, once it does.
    handoff: Mutex<Option<AccountChange>>,
}

impl Link {
    pub(super) fn new(
        candidates: &[Candidate],
        index: usize,
        blocked: &HashSet<usize>,
        suspensions: &HashMap<i64, AccountSuspension>,
        waiting_until: Option<i64>,
    ) -> Link {
        let link = Link {
            index,
            profiles: candidates.iter().map(|c| c.profile).collect(),
            blocked: blocked.clone(),
            other_free: AtomicBool::new(false),
            waiting_until,
            kept_until: Mutex::new(waiting_until),
            handoff: Mutex::new(None),
        };
        let free = link.free(suspensions).next().is_some();
        link.other_free.store(free, Ordering::SeqCst);
        link
    }

    /// The suspension the run starts under, if every account was suspended.
    pub(super) fn waiting_until(&self) -> Option<i64> {
        self.waiting_until
    }

    /// Why the run handed over, if it did.
    pub(super) fn handed_off(&self) -> Option<AccountChange> {
        lock(&self.handoff).clone()
    }

    /// The accounts that could send now (not this one, not blocked, not suspended).
    fn free(&self, suspensions: &HashMap<i64, AccountSuspension>) -> impl Iterator<Item = usize> + '_ {
        let suspended: HashSet<i64> = suspensions.keys().copied().collect();
        (0..self.profiles.len())
            .filter(move |&i| i != self.index && !self.blocked.contains(&i) && !suspended.contains(&self.profiles[i]))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Hands the run over to another account for `why`: the workers wind down
/// as on a pause (in-flight messages finish), and `send` goes on with the
/// next account. The first reason given is the one kept.
fn hand_off(run: &Run, why: AccountChange) {
    {
        let mut slot = lock(&run.failover.handoff);
        if slot.is_some() {
            return;
        }
        tracing::info!(campaign = run.campaign, %why, "the run hands over to another account");
        *slot = Some(why);
    }
    run.halt.cancel();
}

/// A rule suspended the run's account until `until` for `failure`: the
/// suspension is kept in the store (it outlives the process) and the run
/// waits, or hands over when another account can send. Returns when the
/// recipient that drew the reply may go again: at once when another account
/// takes over (nobody waits a day for an account that is not sending), else
/// when the suspension ends.
pub(super) async fn suspend(run: &Run, until: i64, rule: &Rule, failure: &Failure) -> i64 {
    run.suspend(until, &rule.id, failure);
    let reason = SuspensionReason::Rule {
        rule: rule.id.clone(),
        failure: failure.clone(),
    };
    keep(run, until, &reason).await;
    if run.failover.other_free.load(Ordering::SeqCst) {
        hand_off(run, AccountChange::Suspended { until, reason });
        return run.store.now_ms();
    }
    until
}

/// A quota makes the run wait (`wait`): a long wait suspends the account
/// (kept, shown on it), and hands over when another account can send.
/// Whether it handed over (the worker then stops waiting).
pub(super) async fn quota_used(run: &Run, wait: &QuotaWait) -> bool {
    if wait.until - run.store.now_ms() < QUOTA_SUSPENDS_AFTER_MS {
        return false;
    }
    let reason = SuspensionReason::Quota {
        window: wait.window,
        limit: wait.limit,
    };
    if lock(&run.failover.kept_until).is_none_or(|kept| kept < wait.until) {
        keep(run, wait.until, &reason).await;
    }
    if run.failover.other_free.load(Ordering::SeqCst) {
        hand_off(
            run,
            AccountChange::Suspended {
                until: wait.until,
                reason,
            },
        );
        return true;
    }
    false
}

/// Keeps the account's suspension in the store. A failure to write it
/// costs only its survival across a restart: logged.
async fn keep(run: &Run, until: i64, reason: &SuspensionReason) {
    // In the store first: [`watch`] takes a kept suspension missing from
    // the store for a person's "Resume now".
    match run.store.suspend_account(run.profile, until, reason).await {
        Ok(()) => *lock(&run.failover.kept_until) = Some(until),
        Err(error) => tracing::warn!(%error, "the account's suspension could not be kept"),
    }
}

/// Instead of pausing the campaign for `reason`: when the account cannot
/// log in and another account can send, hand over to it. Whether it did.
pub(super) fn instead_of_pause(run: &Run, reason: &PauseReason) -> bool {
    let PauseReason::Server { failure, .. } = reason else {
        return false;
    };
    if failure.stage != Stage::Auth || !run.failover.other_free.load(Ordering::SeqCst) {
        return false;
    }
    hand_off(
        run,
        AccountChange::AuthFailed {
            failure: failure.clone(),
        },
    );
    true
}

/// Beside the workers, every second: reads the suspensions, and hands over
/// when an earlier account is free again (back to it), or when this account
/// is suspended and another is free; ends this account's suspension in the
/// run when a person resumed it.
pub(super) async fn watch(run: std::sync::Arc<Run>) {
    loop {
        match run.store.account_suspensions().await {
            Ok(suspensions) => match look(&run, &suspensions) {
                Some(Look::HandOff(why)) => {
                    hand_off(&run, why);
                    return;
                }
                Some(Look::Resumed) => {
                    // Whoever the suspension put off goes now.
                    if let Err(error) = run.store.due_after_suspension(run.campaign).await {
                        tracing::warn!(%error, "the recipients put off could not be made due");
                    }
                    run.dispatch.settle(std::iter::empty());
                }
                None => {}
            },
            Err(error) => tracing::warn!(%error, "the accounts' suspensions could not be read"),
        }
        tokio::select! {
            () = tokio::time::sleep(WATCH_EVERY) => {}
            () = run.stopped() => return,
        }
    }
}

/// What one look at the suspensions found.
enum Look {
    /// Hand over to another account, for this reason.
    HandOff(AccountChange),
    /// A person resumed this run's account.
    Resumed,
}

/// One look at `suspensions` (see [`watch`]).
fn look(run: &Run, suspensions: &HashMap<i64, AccountSuspension>) -> Option<Look> {
    let link = &run.failover;
    let free: Vec<usize> = link.free(suspensions).collect();
    link.other_free.store(!free.is_empty(), Ordering::SeqCst);
    if free.iter().any(|&i| i < link.index) {
        return Some(Look::HandOff(AccountChange::Resumed));
    }
    let own = suspensions.get(&run.profile);
    match own {
        Some(suspension) if !free.is_empty() => Some(Look::HandOff(AccountChange::Suspended {
            until: suspension.until,
            reason: suspension.reason.clone(),
        })),
        Some(_) => None,
        None => {
            let mut kept = lock(&link.kept_until);
            let resumed = kept.is_some_and(|until| until > run.store.now_ms());
            *kept = None;
            drop(kept);
            resumed.then(|| {
                // Kept here, gone from the store before its time: a person
                // resumed the account.
                tracing::info!(campaign = run.campaign, "the account was resumed");
                *lock(&run.suspended_until) = None;
                Look::Resumed
            })
        }
    }
}

/// Makes `names` campaign `campaign`'s accounts, in order (one name or
/// none: no list; it sends on the account it is given or last ran on).
pub async fn set_accounts(store: &Store, campaign: CampaignId, names: &[&str]) -> Result<()> {
    store.campaign_summary(campaign).await?;
    let mut profiles: Vec<i64> = Vec::with_capacity(names.len());
    for name in names {
        let profile = store.account(name).await?.0;
        if !profiles.contains(&profile) {
            profiles.push(profile);
        }
    }
    store
        .set_campaign_accounts(campaign, if profiles.len() > 1 { &profiles } else { &[] })
        .await
}

/// Campaign `campaign`'s accounts in order: its list, else the account it
/// last ran on, else none.
pub async fn accounts(store: &Store, campaign: CampaignId) -> Result<Vec<String>> {
    let listed = store.campaign_accounts(campaign).await?;
    if !listed.is_empty() {
        return Ok(listed);
    }
    Ok(store.campaign_profile(campaign).await?.into_iter().collect())
}
