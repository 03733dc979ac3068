//! Several accounts for one campaign (issue 19): the campaign's accounts in
//! order, and moving between them. The first account that is neither
//! suspended (a provider rule, its quota: `store/suspensions.rs`, kept
//! across restarts) nor set aside in this `send` (its login failed, or its
//! server could not be used) sends. When it is suspended, cannot log in or
//! its server cannot be used, and another account can send, its run winds
//! down (messages in flight finish, nothing new starts: the same path as a
//! pause, without pausing the campaign) and `send` starts a new run on the
//! other account, so every recipient's run names the account that sent it.
//! When an earlier account's suspension ends (by time, or a person's
//! "Resume now"), or its server answers again, sending moves back to it.
//! When every account is suspended, the run waits on the one that frees
//! first (`CampaignEvent::AccountWait`). When every account is unusable
//! (the last one's server cannot be used either, or it cannot log in), the
//! campaign pauses with that account's reason, as with one account. Each
//! account keeps its own limits, connections, rules and quotas: each run is
//! built from its own settings.
//!
//! # A server that cannot be used
//!
//! "Cannot be used" is what pauses a campaign on one account: the server
//! was not reached, refused, stayed silent or failed its certificate, three
//! times before it accepted any message of the run, or for longer than the
//! account's outage limit later (`outage`), or it refused the connection in
//! a way only a person can fix (a certificate, no STARTTLS). Such an account
//! is set aside *for this `send`, in memory*, and not suspended in the
//! store, because an outage is a fact about the network now, not the
//! provider's decision about the account: a kept suspension would outlive
//! the outage (after a restart, and for every other campaign sending on the
//! account, which would wait for it though its server may be back in a
//! minute), and would show the account as suspended in the SMTP screen,
//! where nothing about it is wrong. Nor is it given a fixed time after which
//! sending moves back to find out: that would stop sending at each try (a
//! run on a server still down takes its three tries, seconds to a minute of
//! nothing sent). Instead [`probe`] tries its server in the background every
//! `RunOptions::probe_every` (a minute), one connection logged in as Test
//! connection does, while the next account keeps sending; when a connection
//! opens, sending moves back (`AccountChange::Reachable`). A failed login is
//! set aside for the `send` and not tried again: the password the run has
//! will not start working by itself.
//!
//! The worker asks two things here: [`suspend`] when a rule suspends the
//! account (the suspension is kept in the store; the recipient that drew the
//! reply is due at once when another account takes over, else when the
//! suspension ends), and [`quota_used`] when a quota makes it wait. A failed
//! login or a server that cannot be used reaches [`instead_of_pause`]
//! through `Run::halt_with`. [`watch`] runs beside the workers and reads the
//! store's suspensions every second; [`probe`] beside it tries the servers
//! of accounts set aside.

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
use crate::smtp::client::ConnectionSettings;
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

/// The first account neither suspended nor `blocked` (set aside: its login
/// failed, or its server cannot be used); when every one is suspended, the
/// one that frees first; `None` when all are blocked.
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

/// The accounts of a `send` set aside because their servers could not be
/// used, by place in the list: shared by `send` (which adds one when a run
/// hands over for it) and every run's [`probe`] (which takes one out when
/// its server answers again).
#[derive(Debug, Clone, Default)]
pub(super) struct SetAside(std::sync::Arc<Mutex<HashSet<usize>>>);

impl SetAside {
    pub(super) fn insert(&self, index: usize) {
        lock(&self.0).insert(index);
    }

    fn remove(&self, index: usize) {
        lock(&self.0).remove(&index);
    }

    /// The accounts set aside now, in the list's order.
    pub(super) fn now(&self) -> Vec<usize> {
        let mut aside: Vec<usize> = lock(&self.0).iter().copied().collect();
        aside.sort_unstable();
        aside
    }
}

/// What a run knows of the campaign's other accounts.
pub(super) struct Link {
    /// This run's account's place in the list.
    index: usize,
    /// Every account's id, in order.
    profiles: Vec<i64>,
    /// Every account's server, in order, for [`probe`].
    servers: Vec<std::sync::Arc<ConnectionSettings>>,
    /// Accounts set aside in this `send` because their login failed.
    blocked: HashSet<usize>,
    /// Accounts set aside in this `send` because their servers could not
    /// be used, until [`probe`] reaches them.
    aside: SetAside,
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
        aside: &SetAside,
        suspensions: &HashMap<i64, AccountSuspension>,
        waiting_until: Option<i64>,
    ) -> Link {
        let link = Link {
            index,
            profiles: candidates.iter().map(|c| c.profile).collect(),
            servers: candidates
                .iter()
                .map(|c| c.settings.connection_settings(c.password.clone()))
                .collect(),
            blocked: blocked.clone(),
            aside: aside.clone(),
            other_free: AtomicBool::new(false),
            waiting_until,
            kept_until: Mutex::new(waiting_until),
            handoff: Mutex::new(None),
        };
        let free = !link.free(suspensions).is_empty();
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

    /// The accounts that could send now (not this one, not set aside, not suspended).
    fn free(&self, suspensions: &HashMap<i64, AccountSuspension>) -> Vec<usize> {
        let aside = self.aside.now();
        (0..self.profiles.len())
            .filter(|&i| {
                i != self.index
                    && !self.blocked.contains(&i)
                    && !aside.contains(&i)
                    && !suspensions.contains_key(&self.profiles[i])
            })
            .collect()
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
/// log in or its server cannot be used, and another account can send, hand
/// over to it. Whether it did.
pub(super) fn instead_of_pause(run: &Run, reason: &PauseReason) -> bool {
    let Some(why) = set_aside_for(reason) else {
        return false;
    };
    if !run.failover.other_free.load(Ordering::SeqCst) {
        return false;
    }
    hand_off(run, why);
    true
}

/// Whether `reason`, a pause of the campaign, sets the account aside in
/// this `send`, and why: a failed login, or a server that cannot be used
/// (see the module's doc). Other reasons (a rule's advice, failures in a
/// row, a full disk) are the campaign's or the message's, which another
/// account would meet too.
fn set_aside_for(reason: &PauseReason) -> Option<AccountChange> {
    let unreachable = |failure: &Failure, host: &String, port: &u16| AccountChange::Unreachable {
        failure: failure.clone(),
        host: host.clone(),
        port: *port,
    };
    match reason {
        PauseReason::Server { failure, .. } if failure.stage == Stage::Auth => Some(AccountChange::AuthFailed {
            failure: failure.clone(),
        }),
        // Refused for good as the connection opened, before any envelope:
        // a certificate, TLS, a name that does not resolve, a greeting or
        // EHLO that turns this client away.
        PauseReason::Server { failure, host, port }
            if matches!(
                failure.stage,
                Stage::Dns | Stage::Connect | Stage::Tls | Stage::Greeting | Stage::Ehlo
            ) =>
        {
            Some(unreachable(failure, host, port))
        }
        PauseReason::Unreachable {
            failure, host, port, ..
        }
        | PauseReason::OutageTooLong {
            failure, host, port, ..
        } => Some(unreachable(failure, host, port)),
        _ => None,
    }
}

/// Beside the workers, every `RunOptions::probe_every`: tries the server of
/// each account set aside because it could not be used, in the list's
/// order; one that opens a connection is no longer set aside, and when it
/// comes before this run's account, sending moves back to it.
pub(super) async fn probe(run: std::sync::Arc<Run>) {
    let link = &run.failover;
    loop {
        tokio::select! {
            () = tokio::time::sleep(run.options.probe_every.max(Duration::from_millis(10))) => {}
            () = run.stopped() => return,
        }
        for index in link.aside.now() {
            let Some(server) = link.servers.get(index).cloned() else {
                continue;
            };
            let (host, port) = (server.host.clone(), server.port);
            let opened = tokio::select! {
                opened = run.connector.open(server) => opened,
                () = run.stopped() => return,
            };
            match opened {
                Ok(connection) => {
                    connection.quit().await;
                    link.aside.remove(index);
                    tracing::info!(campaign = run.campaign, %host, port, "a set-aside account's server answers again");
                    // Back to an earlier account, unless it is suspended
                    // meanwhile: then `watch` moves back when that ends.
                    // A later one may take over again from `watch`'s next look.
                    if index < link.index && !suspended_now(&run, index).await {
                        hand_off(&run, AccountChange::Reachable);
                        return;
                    }
                }
                Err(failure) => {
                    tracing::debug!(campaign = run.campaign, %host, port, %failure, "a set-aside account's server still cannot be used");
                }
            }
        }
    }
}

/// Whether the `index`-th account is suspended in the store now (when the
/// suspensions cannot be read: not, as far as the run knows).
async fn suspended_now(run: &Run, index: usize) -> bool {
    let Some(&profile) = run.failover.profiles.get(index) else {
        return false;
    };
    match run.store.account_suspensions().await {
        Ok(suspensions) => suspensions.contains_key(&profile),
        Err(error) => {
            tracing::warn!(%error, "the accounts' suspensions could not be read");
            false
        }
    }
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
    let free = link.free(suspensions);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::Problem;

    fn server(stage: Stage, problem: Problem) -> PauseReason {
        PauseReason::Server {
            failure: Failure::new(stage, problem, "as the server said"),
            host: "smtp.example.com".to_owned(),
            port: 587,
        }
    }

    #[test]
    fn a_failed_login_and_a_server_that_cannot_be_used_set_the_account_aside_and_nothing_else_does() {
        assert!(matches!(
            set_aside_for(&server(Stage::Auth, Problem::AuthFailed)),
            Some(AccountChange::AuthFailed { .. })
        ));
        // Refused for good as the connection opened: a certificate, a name.
        for (stage, problem) in [
            (Stage::Tls, Problem::CertificateInvalid),
            (Stage::Dns, Problem::DnsFailed),
            (Stage::Ehlo, Problem::StarttlsUnavailable),
        ] {
            assert!(
                matches!(
                    set_aside_for(&server(stage, problem)),
                    Some(AccountChange::Unreachable { port: 587, .. })
                ),
                "{stage:?} {problem:?}"
            );
        }
        // The bounds of `outage`, before any message and later.
        let refused = Failure::new(Stage::Connect, Problem::Refused, "connection refused");
        let unreachable = PauseReason::Unreachable {
            attempts: 3,
            failure: refused.clone(),
            host: "smtp.example.com".to_owned(),
            port: 25,
        };
        let too_long = PauseReason::OutageTooLong {
            attempts: 6,
            failure: refused.clone(),
            host: "smtp.example.com".to_owned(),
            port: 25,
            limit_ms: 600_000,
        };
        for reason in [unreachable, too_long] {
            assert_eq!(
                set_aside_for(&reason),
                Some(AccountChange::Unreachable {
                    failure: refused.clone(),
                    host: "smtp.example.com".to_owned(),
                    port: 25,
                })
            );
        }
        // The sender refused, a rule's advice, the list going bad, a full
        // disk: another account would meet them too.
        assert_eq!(set_aside_for(&server(Stage::Mail, Problem::Rejected)), None);
        assert_eq!(
            set_aside_for(&PauseReason::Rule {
                rule: "qq.content_rejected".to_owned(),
                advice: "change the message".to_owned(),
                failure: Failure::new(Stage::Data, Problem::Rejected, "content rejected"),
            }),
            None
        );
        assert_eq!(set_aside_for(&PauseReason::DiskFull), None);
        assert_eq!(set_aside_for(&PauseReason::ByYou), None);
    }

    #[test]
    fn set_aside_accounts_are_listed_in_the_lists_order_and_one_reached_leaves_it() {
        let aside = SetAside::default();
        let shared = aside.clone();
        aside.insert(2);
        aside.insert(0);
        assert_eq!(shared.now(), [0, 2]);
        shared.remove(0);
        assert_eq!(aside.now(), [2]);
    }
}
