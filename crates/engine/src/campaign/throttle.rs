//! How fast a campaign may send: the account's rate, or the rate a
//! throttling server allows, found by probing and held just below it (see
//! [`AdaptiveRate`]), and its per-minute, per-hour and per-day quotas, which
//! count what the account already sent.
//!
//! The rate is a pacer with an absolute schedule: slot k is `start + k × period`,
//! so messages are spaced evenly rather than sent in bursts, and a timer that
//! wakes a millisecond late does not push every later slot back. (governor's
//! GCRA, tried first, restarts its schedule from each late arrival: at 12/s it
//! drifted 0.8% slow, close to SPEC's ±1%.) The period is 0.5% longer than
//! 1/rate, so a message sent a little after its slot still leaves every 1 s
//! window within the limit.
//!
//! Quotas are sliding windows, not token buckets: "500 a day" must hold in
//! every 24 hours, which a bucket of 500 refilling over a day does not promise
//! (it allows 500 plus a day's refill).
//!
//! An account's rate and quotas are one per session ([`LiveLimits`]):
//! two campaigns sending on one account at once share them, so together
//! they keep the account's limits.
//!
//! Time is tokio's, so tests run this on a paused clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::outcome::QuotaWindow;

/// The lowest rate adaptive throttling goes down to, in messages per second.
const MIN_RATE: f64 = 0.2;
/// A reply cuts the rate that drew it to this share (when the rule that
/// recognised the reply names no factor of its own): just below it.
const DECREASE: f64 = 0.95;
/// How far back the messages the server accepted are counted to estimate
/// what it allows: long enough to average over several of a fixed-window
/// limiter's windows (each lets a burst through).
const ESTIMATE_HORIZON: Duration = Duration::from_secs(10);
/// The shortest time that count is spread over. Two seconds, so that a
/// fixed one-second window counted in whole seconds (Postfix's anvil holds
/// a window from second S through S + 1) is seen whole even when the run
/// met it in its first moments.
const ESTIMATE_WINDOW: Duration = Duration::from_secs(2);
/// After a run's first reply, nothing goes out for this long, so the
/// server's window can drain: a fixed-window limiter answers every message
/// until its window ends, whatever the rate. Doubled while the window stays
/// closed; later replies pause as long as proved needed
/// ([`AdaptiveRate::first_pause`]).
const COOLDOWN: Duration = Duration::from_secs(1);
const MAX_COOLDOWN: Duration = Duration::from_secs(64);
/// The shortest pause: a sliding window admits again about one period
/// after it refused, so a few periods are enough (and never less than
/// this, whatever the rate).
const MIN_COOLDOWN: Duration = Duration::from_millis(100);
const MIN_COOLDOWN_PERIODS: u32 = 3;
/// How long the rate holds without a reply before it rises a step (half
/// as long while far below the memory).
const INCREASE_INTERVAL: Duration = Duration::from_secs(2);
/// A step up while far below the memory (under [`FAR_BELOW`] of it): fast,
/// so a cut too deep costs little.
const INCREASE: f64 = 1.15;
const FAR_BELOW: f64 = 0.9;
/// A step up near the memory: slow, so the rate that draws the next reply
/// is at most this much above what the server allows.
const CREEP: f64 = 1.015;
/// The rate holds at this share of the lowest rate that drew a reply.
const MEMORY_MARGIN: f64 = 0.97;
/// Held that long at the memory without a reply, the rate probes above it
/// (a server's limit may have risen) by [`PROBE_STEP`].
const PROBE_AFTER: Duration = Duration::from_secs(60);
const PROBE_STEP: f64 = 1.02;
/// A rate that ran this long without a throttle reply held: the next run
/// on the account starts there.
const HOLD_PROOF: Duration = Duration::from_secs(10);
/// How far back the measured send rate looks.
const MEASURE_WINDOW: Duration = Duration::from_secs(2);

/// Stretches the period so a slightly late send cannot crowd a 1 s window.
pub(crate) const PERIOD_MARGIN: f64 = 1.005;

/// Evenly spaced send slots at one rate.
#[derive(Debug)]
struct Pacer {
    period: Duration,
    next: Option<Instant>,
}

impl Pacer {
    fn new(rate: f64) -> Pacer {
        Pacer {
            period: Duration::from_secs_f64(PERIOD_MARGIN / rate.max(MIN_RATE)),
            next: None,
        }
    }

    /// Takes the slot if it has come, or says how long until it does.
    fn check(&mut self, now: Instant) -> Option<Duration> {
        match self.next {
            Some(slot) if now < slot => Some(slot - now),
            // Idle for more than a period: start a new schedule from now
            // rather than catching up in a burst.
            Some(slot) if now < slot + self.period => {
                self.next = Some(slot + self.period);
                None
            }
            _ => {
                self.next = Some(now + self.period);
                None
            }
        }
    }
}

/// What the rate is now, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RateState {
    /// The account's setting; `None` is unthrottled.
    pub configured: Option<f64>,
    /// What the campaign sends at now; `None` is unthrottled.
    pub effective: Option<f64>,
    /// Why it is lower than configured (the server's throttling reply).
    pub reason: Option<String>,
}

#[derive(Debug)]
struct RateInner {
    effective: Option<f64>,
    pacer: Option<Pacer>,
    /// When the rate last changed (a cut, a step up, a longer pause).
    changed_at: Instant,
    reason: Option<String>,
    /// Slots taken in the last [`MEASURE_WINDOW`]: the send rate of a run
    /// with no rate of its own.
    recent: VecDeque<Instant>,
    /// When each message the server accepted went out, over the last
    /// [`ESTIMATE_HORIZON`].
    accepted: VecDeque<Instant>,
    /// The memory: the lowest rate that drew a throttle reply. The rate
    /// holds just below it, and probes above it only now and then.
    too_fast: Option<f64>,
    /// The complaint being waited out, if any.
    episode: Option<Episode>,
    /// The highest rate that ran [`HOLD_PROOF`] without a reply.
    held: Option<f64>,
    /// The rates in force since the last reply, each from when it began
    /// (only the one in force [`HOLD_PROOF`] ago and those after it).
    history: VecDeque<(Instant, f64)>,
    /// When the last message's content went on the wire (or is reserved to).
    last_on_wire: Option<Instant>,
    /// The shortest first pause worth trying: twice the longest that was
    /// not enough (a fixed window still closed after it), at most
    /// [`COOLDOWN`].
    cooldown_floor: Duration,
}

/// One complaint from the server, and the pause that answers it.
#[derive(Debug, Clone, Copy)]
struct Episode {
    /// Nothing goes out before this.
    resume_at: Instant,
    cooldown: Duration,
    /// The pause it began with; `cooldown` is longer when that was not
    /// enough.
    first: Duration,
    /// Whether a message sent since `resume_at` was accepted: the server's
    /// window has opened again, so the next reply is a new complaint (the
    /// rate is still too high), not the old window still closed.
    reopened: bool,
}

/// The live send rate of one account, found by probing when the server
/// throttles.
///
/// A throttle reply cuts the rate to just below the rate that drew it, or
/// to what the server accepted lately ([`ESTIMATE_HORIZON`]) when that
/// is lower (a run far above the server's rate learns it from one reply),
/// and pauses sending so the server's window drains: a [`COOLDOWN`] at the
/// first reply, shorter at the next ones while a short pause proves
/// enough ([`AdaptiveRate::first_pause`]).
/// Replies to messages sent before the pause are echoes of the same
/// complaint; a reply to the first messages after it, before any was
/// accepted, means a fixed window is still closed: the pause doubles and
/// the rate stays. The rate that drew the reply is remembered; without
/// replies the rate rises by [`INCREASE`] every half [`INCREASE_INTERVAL`]
/// far below the memory and by [`CREEP`] every interval near it, up to [`MEMORY_MARGIN`] of it,
/// then holds there, probing a [`PROBE_STEP`] above after [`PROBE_AFTER`].
#[derive(Debug)]
pub struct AdaptiveRate {
    configured: Option<f64>,
    inner: Mutex<RateInner>,
}

/// The rate a run on an account starts at: the one it held last time
/// (`remembered`) when that is lower than the setting (`configured`), else
/// the setting; `None`: no limit. The plans before Start use it too, so
/// they plan with the rate the run will send at.
pub fn starting_rate(configured: Option<f64>, remembered: Option<f64>) -> Option<f64> {
    let configured = configured.filter(|r| r.is_finite() && *r > 0.0);
    remembered_below(configured, remembered).or(configured)
}

/// `remembered`, when it is a usable rate below `configured`.
fn remembered_below(configured: Option<f64>, remembered: Option<f64>) -> Option<f64> {
    remembered
        .filter(|r| r.is_finite() && *r >= MIN_RATE)
        .filter(|r| configured.is_none_or(|c| *r < c))
}

impl AdaptiveRate {
    /// A rate at the account's setting, or at `remembered` (the rate that
    /// held on this account last time, [`AdaptiveRate::held`]) when that is
    /// lower: a run starts where the server's limit was found, not above it.
    pub fn new(configured: Option<f64>, remembered: Option<f64>) -> AdaptiveRate {
        let configured = configured.filter(|r| r.is_finite() && *r > 0.0);
        let remembered = remembered_below(configured, remembered);
        let effective = remembered.or(configured);
        AdaptiveRate {
            configured,
            inner: Mutex::new(RateInner {
                effective,
                pacer: effective.map(Pacer::new),
                changed_at: Instant::now(),
                reason: None,
                recent: VecDeque::new(),
                accepted: VecDeque::new(),
                // Held just below the memory, as if it had been found now.
                too_fast: remembered.map(|r| r / MEMORY_MARGIN),
                episode: None,
                held: remembered,
                history: effective.map(|r| (Instant::now(), r)).into_iter().collect(),
                last_on_wire: None,
                cooldown_floor: Duration::ZERO,
            }),
        }
    }

    /// Waits for the next send slot; `None` when it is now.
    /// Returns how long to wait before asking again, or `None` to go now.
    pub fn check(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.adapt(&mut inner, now);
        let wait = inner.pacer.as_mut().and_then(|pacer| pacer.check(now));
        if wait.is_none() {
            inner.recent.push_back(now);
            while inner
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) > MEASURE_WINDOW)
            {
                inner.recent.pop_front();
            }
        }
        wait
    }

    /// Waits until a message may go.
    pub async fn acquire(&self) {
        while let Some(wait) = self.check() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Waits until the last message's content went out at least a period
    /// ago, and reserves the wire for this one's. Called right before the
    /// content, once the transaction is open and the claim committed: the
    /// rate itself ([`AdaptiveRate::acquire`]) spaced the claims, so this
    /// wait is short, and it keeps the jitter of the steps in between from
    /// bunching messages at the server.
    pub async fn before_wire(&self) {
        let at = {
            let mut inner = self.lock();
            let Some(period) = inner.pacer.as_ref().map(|p| p.period) else {
                return;
            };
            let now = Instant::now();
            let at = inner.last_on_wire.map_or(now, |last| (last + period).max(now));
            inner.last_on_wire = Some(at);
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// The server accepted a message that went out at `sent_at`.
    pub fn accepted(&self, sent_at: Instant) {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(episode) = inner.episode.as_mut()
            && sent_at >= episode.resume_at
        {
            episode.reopened = true;
        }
        inner.accepted.push_back(sent_at);
        while inner
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) > ESTIMATE_HORIZON)
        {
            inner.accepted.pop_front();
        }
    }

    /// The server said "slow down" to a message that went out at
    /// `sent_at`; `factor` (0 to 1), when the reply's rule names one, is
    /// the share of the rate to go on at. Returns the new state when the
    /// rate changed.
    pub fn throttled(&self, reason: &str, factor: Option<f64>, sent_at: Instant) -> Option<RateState> {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(episode) = inner.episode {
            if sent_at < episode.resume_at {
                // Sent before the pause began: the same complaint again.
                return None;
            }
            if !episode.reopened {
                // Nothing got through since the pause: the server's window
                // is still closed (a fixed window, longer than the pause).
                // Wait longer; the rate was not the problem.
                let cooldown = (episode.cooldown * 2).min(MAX_COOLDOWN);
                inner.cooldown_floor = inner.cooldown_floor.max((episode.first * 2).min(COOLDOWN));
                inner.episode = Some(Episode {
                    resume_at: now + cooldown,
                    cooldown,
                    reopened: false,
                    ..episode
                });
                Self::hold_until(&mut inner, now + cooldown);
                inner.changed_at = now;
                return None;
            }
        }
        let sending = inner.effective.unwrap_or_else(|| Self::measured(&inner, now));
        let share = factor
            .filter(|f| f.is_finite() && *f > 0.0 && *f < 1.0)
            .unwrap_or(DECREASE);
        // What the server let through lately is what it allows, seen from
        // here: far above its rate, one reply is enough to find it.
        let accepted: Vec<Instant> = inner
            .accepted
            .iter()
            .copied()
            .filter(|t| now.duration_since(*t) <= ESTIMATE_HORIZON)
            .collect();
        let span = accepted
            .first()
            .map_or(ESTIMATE_WINDOW, |first| now.duration_since(*first))
            .clamp(ESTIMATE_WINDOW, ESTIMATE_HORIZON);
        // The whole horizon also holds the climb since an earlier reply:
        // taken alone, it would cut a rate just above the limit far below
        // it. What the last window let through is the better figure then.
        let lately = accepted
            .iter()
            .filter(|t| now.duration_since(**t) <= ESTIMATE_WINDOW)
            .count();
        let estimate = (accepted.len() as f64 / span.as_secs_f64()).max(lately as f64 / ESTIMATE_WINDOW.as_secs_f64());
        let mut lowered = sending * share;
        if estimate >= MIN_RATE {
            lowered = lowered.min(estimate);
        }
        let lowered = lowered.max(MIN_RATE);
        // A run that meets the limit in its first moments learns more than
        // "its full speed was too fast": the server refused after taking
        // `accepted` in under two seconds, and no provider counts in windows
        // shorter than a second, so it allows at most that many a second.
        // Remembered as the rate that drew the reply, the climb back stops
        // just below it instead of overshooting into another reply.
        // (A run paced near the limit took about its own rate: the lower
        // of the two is what it remembers, as before.) Only while nothing
        // is known of the server: a run that starts at a rate that held
        // and meets a window others filled (a resume, another client on
        // the account) would otherwise remember a fraction of it for good.
        let unknown = inner.too_fast.is_none() && inner.held.is_none();
        let drew = match (inner.episode, accepted.first()) {
            (None, Some(first)) if unknown && now.duration_since(*first) < ESTIMATE_WINDOW => {
                let at_most =
                    accepted.len() as f64 / now.duration_since(*first).max(Duration::from_secs(1)).as_secs_f64();
                sending.min(at_most.max(lowered))
            }
            _ => sending,
        };
        inner.too_fast = Some(inner.too_fast.map_or(drew, |t| t.min(drew)));
        inner.held = inner.held.filter(|held| *held < sending);
        inner.history = VecDeque::from([(now, lowered)]);
        inner.effective = Some(lowered);
        inner.pacer = Some(self.repace(&inner, lowered));
        let cooldown = Self::first_pause(&inner, lowered);
        inner.episode = Some(Episode {
            resume_at: now + cooldown,
            cooldown,
            first: cooldown,
            reopened: false,
        });
        Self::hold_until(&mut inner, now + cooldown);
        inner.changed_at = now;
        inner.reason = Some(reason.to_owned());
        Some(self.state_of(&inner))
    }

    /// How long sending pauses after a new complaint, at the new `rate`.
    /// The first complaint of a run pauses [`COOLDOWN`], long enough for
    /// a fixed one-second window to end. When the last complaint's first
    /// pause was enough (the server accepted the first message after it),
    /// the next is half as long, down to a few periods: a sliding window
    /// (SES's per-second rate, the scripted 454) admits again about one
    /// period after it refused, and a whole second of silence at every
    /// reply would cost a tenth of a minute's campaign. A fixed window
    /// still closed after a shorter pause ([`Self::throttled`] doubles it)
    /// sets the floor, so that server pays that extra reply once (or again,
    /// if twice that is still too short).
    fn first_pause(inner: &RateInner, rate: f64) -> Duration {
        let shortest = Duration::from_secs_f64(f64::from(MIN_COOLDOWN_PERIODS) / rate.max(MIN_RATE))
            .max(MIN_COOLDOWN)
            .max(inner.cooldown_floor);
        match inner.episode {
            None => COOLDOWN,
            Some(last) if last.cooldown == last.first => (last.first / 2).max(shortest).min(COOLDOWN),
            // It took a longer pause (a window of several seconds, or
            // Postfix's default minute): start one step below what worked.
            Some(last) => (last.cooldown / 2).max(last.first).max(shortest),
        }
    }

    /// The rate slots were taken at over the last [`MEASURE_WINDOW`] (or
    /// since the first of them, when sending began more recently: a run
    /// that met the server's limit in its first moments was sending at its
    /// full speed, not at what it managed in a whole window).
    fn measured(inner: &RateInner, now: Instant) -> f64 {
        let span = inner
            .recent
            .front()
            .map_or(MEASURE_WINDOW, |first| now.duration_since(*first))
            .clamp(Duration::from_millis(250), MEASURE_WINDOW);
        (inner.recent.len() as f64 / span.as_secs_f64()).max(MIN_RATE * 2.0)
    }

    /// How long a recipient the server throttled waits before it is tried
    /// again: until sending resumes (at least [`MIN_COOLDOWN`]). Its own
    /// backoff (tens of seconds) would hold the end of a campaign back; the
    /// rate is what was wrong.
    pub fn retry_after(&self) -> Duration {
        let now = Instant::now();
        let inner = self.lock();
        inner
            .episode
            .map_or(COOLDOWN, |e| e.resume_at.saturating_duration_since(now))
            .max(MIN_COOLDOWN)
    }

    /// The highest rate that held without a throttle reply, when the
    /// server has throttled this account (now or on an earlier run): what
    /// the next run starts at. `None` when nothing was learned.
    pub fn held(&self) -> Option<f64> {
        let inner = self.lock();
        inner.too_fast.and(inner.held)
    }

    pub fn state(&self) -> RateState {
        let inner = self.lock();
        self.state_of(&inner)
    }

    fn state_of(&self, inner: &RateInner) -> RateState {
        RateState {
            configured: self.configured,
            effective: inner.effective,
            reason: inner.reason.clone(),
        }
    }

    /// The rate without a reply for a while: rises toward the memory, holds
    /// just below it, probes above it now and then.
    fn adapt(&self, inner: &mut RateInner, now: Instant) {
        let Some(effective) = inner.effective else {
            return;
        };
        if inner.episode.is_some_and(|e| now < e.resume_at) {
            return;
        }
        // The rate in force HOLD_PROOF ago drew no reply since: it held.
        while inner
            .history
            .get(1)
            .is_some_and(|(since, _)| now.duration_since(*since) >= HOLD_PROOF)
        {
            inner.history.pop_front();
        }
        if let Some(&(since, rate)) = inner.history.front()
            && now.duration_since(since) >= HOLD_PROOF
        {
            inner.held = Some(inner.held.map_or(rate, |h| h.max(rate)));
        }
        let quiet = now.duration_since(inner.changed_at);
        if quiet < INCREASE_INTERVAL / 2 {
            return;
        }
        let cap = |too_fast: Option<f64>| match (self.configured, too_fast) {
            (Some(c), Some(t)) => Some(c.min(t * MEMORY_MARGIN)),
            (c, None) => c,
            (None, t) => t.map(|t| t * MEMORY_MARGIN),
        };
        let Some(mut limit) = cap(inner.too_fast) else {
            return;
        };
        if effective >= limit * 0.999 {
            if inner.too_fast.is_none() || quiet < PROBE_AFTER {
                return;
            }
            // Held at the memory for a long while: the server may allow
            // more now. Probe a step above it.
            inner.too_fast = inner.too_fast.map(|t| t * PROBE_STEP);
            limit = cap(inner.too_fast).unwrap_or(limit);
            if limit <= effective {
                return;
            }
        }
        // Far below, a step every half interval: the first reply of a run
        // that began above the limit may have found only half of it (see
        // ESTIMATE_WINDOW), and a minute's campaign should not spend a
        // fifth of itself climbing back.
        let far_below = effective < limit * FAR_BELOW;
        if !far_below && quiet < INCREASE_INTERVAL {
            return;
        }
        let step = if far_below { INCREASE } else { CREEP };
        let mut raised = (effective * step).min(limit);
        if self.configured.is_some_and(|c| raised >= c * 0.999) {
            // Back to the setting: nothing to remember.
            raised = self.configured.unwrap_or(raised);
            inner.too_fast = None;
            inner.reason = None;
        }
        inner.effective = Some(raised);
        inner.pacer = Some(self.repace(inner, raised));
        inner.history.push_back((now, raised));
        inner.changed_at = now;
    }

    /// No slot before `at`.
    fn hold_until(inner: &mut RateInner, at: Instant) {
        if let Some(pacer) = inner.pacer.as_mut() {
            pacer.next = Some(pacer.next.map_or(at, |next| next.max(at)));
        }
    }

    /// A pacer at `rate` that keeps the old one's next slot: a change of
    /// rate never lets a message out early.
    fn repace(&self, inner: &RateInner, rate: f64) -> Pacer {
        let mut pacer = Pacer::new(rate);
        pacer.next = inner.pacer.as_ref().and_then(|p| p.next);
        pacer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RateInner> {
        // A panic while holding this lock leaves plain numbers behind; use them.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One sliding-window quota: at most `limit` messages in any `window`.
#[derive(Debug)]
struct Window {
    name: QuotaWindow,
    seconds: i64,
    limit: u64,
    /// (Unix second, messages in it), oldest first.
    buckets: VecDeque<(i64, u64)>,
    sum: u64,
}

/// When a quota lets the next message go.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaWait {
    /// Unix milliseconds.
    pub until: i64,
    pub window: QuotaWindow,
    pub limit: u64,
}

/// The account's quotas, seeded with what it already sent.
#[derive(Debug)]
pub struct Quotas {
    windows: Vec<Window>,
}

impl Quotas {
    /// `sent` is (Unix minute, count) from the store; each minute counts as if
    /// sent in its last second, so a restart never lets more through.
    pub fn new(per_minute: Option<u32>, per_hour: Option<u32>, per_day: Option<u32>, sent: &[(i64, u64)]) -> Quotas {
        let windows = [
            (QuotaWindow::Minute, 60, per_minute),
            (QuotaWindow::Hour, 3_600, per_hour),
            (QuotaWindow::Day, 86_400, per_day),
        ]
        .into_iter()
        .filter_map(|(name, seconds, limit)| {
            let limit = u64::from(limit?);
            let buckets: VecDeque<(i64, u64)> = sent.iter().map(|(minute, n)| (minute * 60 + 59, *n)).collect();
            let sum = buckets.iter().map(|(_, n)| n).sum();
            Some(Window {
                name,
                seconds,
                limit,
                buckets,
                sum,
            })
        })
        .collect();
        Quotas { windows }
    }

    /// The longest window, in minutes: how far back the store must be read.
    pub const LOOKBACK_MINUTES: i64 = 24 * 60 + 1;

    /// Takes one message at `now_ms`, or says until when every window is full.
    pub fn take(&mut self, now_ms: i64) -> Result<(), QuotaWait> {
        let now = now_ms.div_euclid(1000);
        let mut wait: Option<QuotaWait> = None;
        for window in &mut self.windows {
            // A message in second s may still be inside the window while the
            // current second is at most s + seconds: keep its bucket until then.
            while let Some(&(second, n)) = window.buckets.front() {
                if second >= now - window.seconds {
                    break;
                }
                window.sum -= n;
                window.buckets.pop_front();
            }
            if window.sum >= window.limit {
                let oldest = window.buckets.front().map_or(now, |(s, _)| *s);
                let until = (oldest + window.seconds + 1) * 1000;
                if wait.as_ref().is_none_or(|w| until > w.until) {
                    wait = Some(QuotaWait {
                        until,
                        window: window.name,
                        limit: window.limit,
                    });
                }
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        for window in &mut self.windows {
            match window.buckets.back_mut() {
                Some((second, n)) if *second == now => *n += 1,
                _ => window.buckets.push_back((now, 1)),
            }
            window.sum += 1;
        }
        Ok(())
    }

    /// Returns a message [`Quotas::take`] counted at `taken_at_ms`, which was
    /// never sent (its recipient went back to the queue unclaimed). It comes
    /// off the second it was counted in, so it leaves each window's count
    /// exactly as if it had never been taken.
    pub fn give_back(&mut self, taken_at_ms: i64) {
        let taken = taken_at_ms.div_euclid(1000);
        for window in &mut self.windows {
            let Some(index) = window.buckets.iter().rposition(|(second, _)| *second == taken) else {
                // Already out of the window: nothing left to return.
                continue;
            };
            if let Some((_, n)) = window.buckets.get_mut(index)
                && *n > 0
            {
                *n -= 1;
                window.sum -= 1;
                if *n == 0 {
                    window.buckets.remove(index);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_rate_spaces_messages_evenly_and_never_exceeds_it_in_any_second() {
        let rate = AdaptiveRate::new(Some(12.0), None);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..120 {
            rate.acquire().await;
            rate.before_wire().await;
            times.push(start.elapsed());
        }
        // 120 messages at 12/s: the last goes at (120 - 1) / 12 s.
        let last = times.last().copied().unwrap_or_default();
        let expected = 119.0 / 12.0 * PERIOD_MARGIN;
        // The wire gate adds nothing when sends keep to their slots.
        assert!(
            (last.as_secs_f64() - expected).abs() < 0.002,
            "{last:?}, expected {expected}"
        );
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| u.saturating_sub(*t) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 12, "{in_window} messages in the second after {t:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_reply_cuts_the_rate_just_below_and_pauses_and_its_echoes_change_nothing() {
        let rate = AdaptiveRate::new(Some(10.0), None);
        rate.acquire().await;
        let sent = Instant::now();
        let state = rate.throttled("454 Throttling failure", None, sent).expect("test step");
        // Nothing accepted yet to estimate from: just below the rate that drew it.
        assert_eq!(state.effective, Some(10.0 * DECREASE));
        assert_eq!(state.reason.as_deref(), Some("454 Throttling failure"));
        // Messages that went out before the pause say the same thing again.
        assert_eq!(rate.throttled("again", None, sent), None);
        // Nothing goes out during the pause.
        assert_eq!(rate.check(), Some(COOLDOWN));
        assert_eq!(rate.retry_after(), COOLDOWN);
        tokio::time::advance(COOLDOWN).await;
        assert_eq!(rate.check(), None);
        // A rule's own factor is followed. (Accepted since: the server's
        // window opened again, at a rate above the cut.)
        for _ in 0..10 {
            rate.acquire().await;
            rate.accepted(Instant::now());
        }
        let before = rate.state().effective.expect("test step");
        let state = rate
            .throttled("slow down", Some(0.5), Instant::now())
            .expect("test step");
        assert_eq!(state.effective, Some(before * 0.5));
    }

    #[tokio::test(start_paused = true)]
    async fn far_above_the_servers_rate_one_reply_finds_it_from_what_was_accepted() {
        let rate = AdaptiveRate::new(Some(100.0), None);
        // 30 accepted in the last two seconds: the server allows 15/s.
        for _ in 0..30 {
            rate.acquire().await;
            rate.accepted(Instant::now());
        }
        let state = rate.throttled("450 4.7.1 Error: too much mail", None, Instant::now());
        assert_eq!(state.and_then(|s| s.effective), Some(15.0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_still_closed_after_the_pause_doubles_it_and_keeps_the_rate() {
        let rate = AdaptiveRate::new(Some(10.0), None);
        rate.acquire().await;
        rate.throttled("450", None, Instant::now()).expect("test step");
        tokio::time::advance(COOLDOWN).await;
        rate.acquire().await;
        // The first message after the pause is refused too, nothing accepted.
        assert_eq!(rate.throttled("450", None, Instant::now()), None);
        assert_eq!(rate.state().effective, Some(10.0 * DECREASE));
        assert_eq!(rate.check(), Some(COOLDOWN * 2));
        tokio::time::advance(COOLDOWN * 2).await;
        rate.acquire().await;
        assert_eq!(rate.throttled("450", None, Instant::now()), None);
        assert_eq!(rate.check(), Some(COOLDOWN * 4));
    }

    /// A reply, its pause waited out, and two seconds of messages accepted
    /// after it (so what the server took says it allows the rate).
    async fn complain_and_reopen(rate: &AdaptiveRate) -> Duration {
        rate.acquire().await;
        rate.throttled("454 Throttling failure", None, Instant::now())
            .expect("a new complaint");
        let pause = rate.check().expect("a pause");
        tokio::time::advance(pause).await;
        let reopened = Instant::now();
        while reopened.elapsed() < ESTIMATE_WINDOW {
            rate.acquire().await;
            rate.accepted(Instant::now());
        }
        pause
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_that_was_enough_is_halved_at_the_next_reply_down_to_a_few_periods() {
        let mut pauses = Vec::new();
        let fast = AdaptiveRate::new(Some(100.0), None);
        for _ in 0..6 {
            pauses.push(complain_and_reopen(&fast).await);
        }
        assert_eq!(pauses, [1000, 500, 250, 125, 100, 100].map(Duration::from_millis));
        // Never shorter than three periods at the rate it goes on at.
        let slow = AdaptiveRate::new(Some(5.0), None);
        let mut pauses = Vec::new();
        for _ in 0..4 {
            pauses.push(complain_and_reopen(&slow).await);
        }
        // The rate only went down from 5/s: three periods are at least 0.6 s.
        let three_periods = Duration::from_millis(600);
        assert_eq!(pauses[0], COOLDOWN);
        assert!(
            pauses[1..].iter().all(|p| *p >= three_periods && *p < COOLDOWN),
            "{pauses:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_still_closed_after_a_shorter_pause_keeps_later_pauses_long_enough() {
        let rate = AdaptiveRate::new(Some(10.0), None);
        assert_eq!(complain_and_reopen(&rate).await, COOLDOWN);
        // The next complaint pauses half as long: too short for this
        // server, whose window is still closed after it.
        rate.acquire().await;
        rate.throttled("450 4.7.1", None, Instant::now()).expect("test step");
        assert_eq!(rate.check(), Some(COOLDOWN / 2));
        tokio::time::advance(COOLDOWN / 2).await;
        rate.acquire().await;
        assert_eq!(rate.throttled("450 4.7.1", None, Instant::now()), None);
        assert_eq!(rate.check(), Some(COOLDOWN));
        tokio::time::advance(COOLDOWN).await;
        rate.acquire().await;
        rate.accepted(Instant::now());
        // From now on a complaint pauses as long as was needed, not less.
        for _ in 0..3 {
            assert_eq!(complain_and_reopen(&rate).await, COOLDOWN);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_reply_far_above_remembers_what_the_server_took_per_second() {
        // Unthrottled: 15 taken in the first 100 ms, then a reply.
        let rate = AdaptiveRate::new(None, None);
        for _ in 0..15 {
            rate.acquire().await;
            rate.accepted(Instant::now());
            tokio::time::advance(Duration::from_millis(7)).await;
        }
        rate.throttled("454 Throttling failure", None, Instant::now())
            .expect("test step");
        // It climbs back to just below 15/s, not past it.
        let mut highest: f64 = 0.0;
        for _ in 0..40 {
            tokio::time::advance(INCREASE_INTERVAL / 2).await;
            rate.acquire().await;
            highest = highest.max(rate.state().effective.expect("test step"));
        }
        assert!((highest - 15.0 * MEMORY_MARGIN).abs() < 1e-9, "{highest}");

        // Paced near the limit, an early reply finds about the rate itself.
        let rate = AdaptiveRate::new(Some(16.0), None);
        for _ in 0..20 {
            rate.acquire().await;
            rate.accepted(Instant::now());
        }
        rate.throttled("454 Throttling failure", None, Instant::now())
            .expect("test step");
        let mut highest: f64 = 0.0;
        // 40 s: climbing back, not yet probing above.
        for _ in 0..20 {
            tokio::time::advance(INCREASE_INTERVAL).await;
            rate.acquire().await;
            highest = highest.max(rate.state().effective.expect("test step"));
        }
        assert!((highest - 16.0 * MEMORY_MARGIN).abs() < 1e-9, "{highest}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_at_a_rate_that_held_keeps_it_when_others_filled_the_window() {
        // Started at 14.2/s, the rate that held last time; the server's
        // window already holds other messages: refused after 3 in 0.2 s.
        let rate = AdaptiveRate::new(None, Some(14.2));
        for _ in 0..3 {
            rate.acquire().await;
            rate.accepted(Instant::now());
        }
        rate.throttled("454 Throttling failure", None, Instant::now())
            .expect("test step");
        // Cut for now, but the memory is still the rate that held, not 3/s.
        for _ in 0..40 {
            tokio::time::advance(INCREASE_INTERVAL / 2).await;
            rate.acquire().await;
        }
        let effective = rate.state().effective.expect("test step");
        assert!((effective - 14.2 * MEMORY_MARGIN).abs() < 1e-9, "{effective}");
    }

    #[tokio::test(start_paused = true)]
    async fn far_below_the_memory_the_rate_climbs_every_second() {
        let rate = AdaptiveRate::new(Some(40.0), None);
        rate.acquire().await;
        rate.throttled("454", Some(0.25), Instant::now()).expect("test step");
        // 10/s, far below the memory's 40 × 0.97: a step up each second.
        assert_eq!(rate.state().effective, Some(10.0));
        let mut seen = Vec::new();
        for _ in 0..3 {
            tokio::time::advance(INCREASE_INTERVAL / 2).await;
            rate.acquire().await;
            seen.push(rate.state().effective.expect("test step"));
        }
        let expected = [10.0 * INCREASE, 10.0 * INCREASE * INCREASE, 10.0 * INCREASE.powi(3)];
        assert!(seen.iter().zip(expected).all(|(s, e)| (s - e).abs() < 1e-9), "{seen:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_rises_back_to_just_below_the_memory_holds_then_probes() {
        let rate = AdaptiveRate::new(Some(40.0), None);
        rate.acquire().await;
        // A rule halves 40 first.
        rate.throttled("454", Some(0.5), Instant::now()).expect("test step");
        for _ in 0..30 {
            rate.acquire().await;
            rate.accepted(Instant::now());
        }
        // 30 accepted in the last two seconds: what the server took is
        // lower than just below the rate that drew the reply.
        let drew = rate.state().effective.expect("test step");
        let state = rate.throttled("454", None, Instant::now()).expect("test step");
        assert_eq!(state.effective, Some(15.0));
        let memory = drew * MEMORY_MARGIN;
        let mut seen = Vec::new();
        for _ in 0..30 {
            tokio::time::advance(INCREASE_INTERVAL).await;
            rate.acquire().await;
            seen.push(rate.state().effective.expect("test step"));
        }
        assert!(seen.iter().all(|r| *r <= memory + 1e-9), "{seen:?}");
        assert!((seen[10] - memory).abs() < 0.05, "{seen:?}");
        // What held (for HOLD_PROOF without a reply) is what the next run
        // starts at.
        let held = rate.held().expect("test step");
        assert!((held - seen[25]).abs() < 1e-9, "{held} {seen:?}");
        // Held at the memory without a reply for PROBE_AFTER: one step above.
        tokio::time::advance(PROBE_AFTER).await;
        rate.acquire().await;
        let probed = rate.state().effective.expect("test step");
        assert!(probed > memory && probed <= memory * PROBE_STEP + 1e-9, "{probed}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_starts_at_the_rate_that_held_last_time() {
        let rate = AdaptiveRate::new(Some(40.0), Some(14.2));
        assert_eq!(rate.state().effective, Some(14.2));
        assert_eq!(rate.held(), Some(14.2));
        // It holds there rather than climbing back to the setting.
        for _ in 0..10 {
            tokio::time::advance(INCREASE_INTERVAL).await;
            rate.acquire().await;
        }
        assert_eq!(rate.state().effective, Some(14.2));
        // A remembered rate above the setting is the setting.
        assert_eq!(AdaptiveRate::new(Some(10.0), Some(14.2)).state().effective, Some(10.0));
        assert_eq!(AdaptiveRate::new(Some(10.0), Some(14.2)).held(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unthrottled_campaign_learns_the_rate_from_the_first_reply() {
        let rate = AdaptiveRate::new(None, None);
        for _ in 0..40 {
            rate.acquire().await;
            rate.accepted(Instant::now());
            tokio::time::advance(Duration::from_millis(50)).await;
        }
        // 40 sends in 2 s, all accepted: 20/s measured and allowed, so just below.
        let state = rate
            .throttled("421 4.7.0 slow down", None, Instant::now())
            .expect("test step");
        let effective = state.effective.expect("test step");
        assert!((18.5..=19.5).contains(&effective), "{effective}");
        assert_eq!(state.configured, None);
    }

    /// A server's rate limit, as the simulation below meets it.
    trait Limiter {
        /// Whether a message (its MAIL) arriving at `now` is accepted.
        fn admit(&mut self, now: Instant) -> bool;
        /// Messages per second it allows over a long run.
        fn allowed(&self) -> f64;
    }

    /// At most `n` accepted in any second (the scripted test server's 454).
    struct Sliding {
        n: usize,
        recent: VecDeque<Instant>,
    }

    impl Limiter for Sliding {
        fn admit(&mut self, now: Instant) -> bool {
            while self
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                self.recent.pop_front();
            }
            let ok = self.recent.len() < self.n;
            if ok {
                self.recent.push_back(now);
            }
            ok
        }
        fn allowed(&self) -> f64 {
            self.n as f64
        }
    }

    /// Postfix's anvil: a window opened by the first request in whole
    /// second S, counting every request (refused ones too) until the first
    /// one after second S + unit; more than `limit` in it are refused.
    struct Anvil {
        limit: u32,
        unit: u64,
        epoch: Instant,
        start: Option<u64>,
        count: u32,
    }

    impl Limiter for Anvil {
        fn admit(&mut self, now: Instant) -> bool {
            // The server's clock is not aligned to ours.
            let second = (now.duration_since(self.epoch).as_secs_f64() + 0.37) as u64;
            if self.start.is_none_or(|s| s + self.unit < second) {
                self.start = Some(second);
                self.count = 0;
            }
            self.count += 1;
            self.count <= self.limit
        }
        fn allowed(&self) -> f64 {
            f64::from(self.limit) / (self.unit + 1) as f64
        }
    }

    /// What one simulated campaign did.
    #[derive(Debug)]
    struct Simulated {
        seconds: f64,
        throttled: usize,
        /// The time at exactly the allowed rate.
        ideal_seconds: f64,
        achieved_share: f64,
    }

    /// Sends `messages` through `limiter` as a run does: each message at
    /// its slot, its answer `latency` later, a throttled one tried again
    /// after [`AdaptiveRate::retry_after`] once the rest are sent. A send
    /// takes at least 2 ms (a connection's own pace).
    async fn simulate(rate: Arc<AdaptiveRate>, limiter: impl Limiter + Send + 'static, messages: usize) -> Simulated {
        simulate_with_jitter(rate, limiter, messages, Duration::ZERO, usize::MAX).await
    }

    /// [`simulate`], each message reaching the server up to `jitter` after
    /// its slot (seeded): a busy machine's scheduling, several connections'
    /// own steps between the slot and the MAIL command; at most
    /// `connections` messages waiting for their answers at once.
    async fn simulate_with_jitter(
        rate: Arc<AdaptiveRate>,
        limiter: impl Limiter + Send + 'static,
        messages: usize,
        jitter: Duration,
        connections: usize,
    ) -> Simulated {
        let latency = Duration::from_millis(30);
        let mut random = fastrand::Rng::with_seed(19);
        let allowed = limiter.allowed();
        let limiter = Arc::new(Mutex::new(limiter));
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, Instant)>();
        let mut pending = messages;
        let mut retries: VecDeque<Instant> = VecDeque::new();
        let (mut delivered, mut throttled, mut in_flight) = (0, 0, 0);
        let mut last = start;
        let mut last_seen = None;
        while delivered < messages {
            while let Ok((ok, at)) = rx.try_recv() {
                in_flight -= 1;
                if ok {
                    delivered += 1;
                    last = at;
                } else {
                    throttled += 1;
                    retries.push_back(Instant::now() + rate.retry_after());
                }
            }
            let due = pending > 0 || retries.front().is_some_and(|t| *t <= Instant::now());
            if in_flight >= connections {
                // Every connection waits for its answer.
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            if !due {
                if delivered + in_flight == messages || in_flight > 0 || retries.is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                } else if let Some(at) = retries.front() {
                    tokio::time::sleep_until(*at).await;
                }
                continue;
            }
            rate.acquire().await;
            // MAILROOM_SIM_TRACE=1 prints each change of rate.
            if std::env::var_os("MAILROOM_SIM_TRACE").is_some() {
                let effective = rate.state().effective;
                if effective != last_seen {
                    eprintln!(
                        "{:>8.3} s  {effective:?}/s  delivered {delivered}  throttled {throttled}",
                        start.elapsed().as_secs_f64()
                    );
                    last_seen = effective;
                }
            }
            if pending > 0 {
                pending -= 1;
            } else {
                retries.pop_front();
            }
            let sent_at = Instant::now();
            let late = jitter.mul_f64(random.f64());
            in_flight += 1;
            let (rate, tx, limiter) = (Arc::clone(&rate), tx.clone(), Arc::clone(&limiter));
            tokio::spawn(async move {
                tokio::time::sleep(late).await;
                let ok = limiter.lock().expect("test step").admit(Instant::now());
                tokio::time::sleep(latency).await;
                if ok {
                    rate.accepted(sent_at);
                } else {
                    rate.throttled("450 4.7.1 Error: too much mail", None, sent_at);
                }
                let _ = tx.send((ok, Instant::now()));
            });
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let seconds = last.duration_since(start).as_secs_f64();
        Simulated {
            seconds,
            throttled,
            ideal_seconds: messages as f64 / allowed,
            achieved_share: messages as f64 / seconds / allowed,
        }
    }

    fn assert_uses_the_allowance(what: &str, sim: &Simulated, messages: usize) {
        eprintln!("{what}: {sim:?}");
        assert!(sim.achieved_share >= 0.90, "{what}: {sim:?}");
        // The last message may go at the very end of the last window.
        assert!(
            sim.seconds >= sim.ideal_seconds - 2.0,
            "{what}: faster than allowed: {sim:?}"
        );
        assert!(
            sim.throttled as f64 <= 0.02 * messages as f64,
            "{what}: too many throttle replies: {sim:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn against_a_sliding_limit_the_rate_found_uses_the_allowance() {
        for (n, configured) in [(15, Some(40.0)), (100, None), (5, None), (15, None), (40, Some(100.0))] {
            let messages = (n * 97).max(1_450);
            let limiter = Sliding {
                n,
                recent: VecDeque::new(),
            };
            let sim = simulate(Arc::new(AdaptiveRate::new(configured, None)), limiter, messages).await;
            assert_uses_the_allowance(&format!("{n}/s sliding, configured {configured:?}"), &sim, messages);
        }
    }

    /// The benchmark's case (docs/BENCHMARKS.md, issue 19): one-minute
    /// campaigns, where the start weighs more, with each message's MAIL
    /// reaching the server up to 30 ms late, as through four connections on
    /// a loaded two-core machine.
    #[tokio::test(start_paused = true)]
    async fn over_a_minute_with_late_sends_the_rate_found_uses_the_allowance() {
        let mut runs = Vec::new();
        for n in [5, 15, 50] {
            let messages = n * 60;
            let limiter = Sliding {
                n,
                recent: VecDeque::new(),
            };
            let rate = Arc::new(AdaptiveRate::new(None, None));
            let sim = simulate_with_jitter(rate, limiter, messages, Duration::from_millis(30), 4).await;
            eprintln!("{n}/s: {sim:?}");
            runs.push((n, messages, sim));
        }
        for (n, messages, sim) in &runs {
            assert_uses_the_allowance(&format!("{n}/s sliding, one minute, 30 ms late"), sim, *messages);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn against_postfix_anvil_the_rate_found_uses_the_allowance() {
        for (limit, unit, configured) in [(30, 1, None), (30, 1, Some(50.0)), (10, 1, None), (80, 1, None)] {
            let limiter = Anvil {
                limit,
                unit,
                epoch: Instant::now(),
                start: None,
                count: 0,
            };
            let messages = ((limiter.allowed() * 97.0) as usize).max(1_450);
            let sim = simulate(Arc::new(AdaptiveRate::new(configured, None)), limiter, messages).await;
            assert_uses_the_allowance(
                &format!("anvil {limit} per {unit} s, configured {configured:?}"),
                &sim,
                messages,
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_starts_at_the_remembered_rate_draws_almost_no_replies() {
        let first = Arc::new(AdaptiveRate::new(None, None));
        let limiter = || Anvil {
            limit: 30,
            unit: 1,
            epoch: Instant::now(),
            start: None,
            count: 0,
        };
        let sim = simulate(Arc::clone(&first), limiter(), 1_450).await;
        assert_uses_the_allowance("first run", &sim, 1_450);
        let held = first.held().expect("test step");
        // Paced at `held`, the run sends at held / PERIOD_MARGIN: within 15/s.
        assert!((13.5..=15.0).contains(&(held / PERIOD_MARGIN)), "{held}");
        tokio::time::advance(Duration::from_secs(60)).await;
        let second = simulate(Arc::new(AdaptiveRate::new(None, Some(held))), limiter(), 1_450).await;
        assert_uses_the_allowance("second run", &second, 1_450);
        assert!(second.throttled <= sim.throttled, "{second:?} vs {sim:?}");
    }

    #[test]
    fn a_daily_quota_holds_across_a_restart_and_says_when_it_reopens() {
        let minute = 1_000_000_i64;
        // 480 already sent 10 minutes ago, by an earlier run.
        let mut quotas = Quotas::new(None, None, Some(500), &[(minute - 10, 480)]);
        let now = minute * 60_000;
        for _ in 0..20 {
            assert_eq!(quotas.take(now), Ok(()));
        }
        let wait = quotas.take(now).expect_err("the test expects an error");
        assert_eq!(wait.window, QuotaWindow::Day);
        assert_eq!(wait.limit, 500);
        // The 480 count as sent at the end of their minute; they leave the
        // window a day after that.
        assert_eq!(wait.until, ((minute - 10) * 60 + 59 + 86_400 + 1) * 1000);
        assert!(quotas.take(wait.until - 1000).is_err());
        assert_eq!(quotas.take(wait.until), Ok(()));
    }

    #[test]
    fn a_message_given_back_frees_its_place_in_every_window() {
        let mut quotas = Quotas::new(Some(3), None, Some(10), &[]);
        let now = 1_700_000_000_000_i64;
        for _ in 0..3 {
            assert_eq!(quotas.take(now), Ok(()));
        }
        assert_eq!(quotas.take(now).map_err(|w| w.window), Err(QuotaWindow::Minute));
        quotas.give_back(now);
        assert_eq!(quotas.take(now + 1000), Ok(()));
        assert_eq!(quotas.take(now + 1000).map_err(|w| w.window), Err(QuotaWindow::Minute));
        // Given back with nothing counted then: nothing to free, nothing breaks.
        let mut empty = Quotas::new(Some(1), None, None, &[]);
        empty.give_back(now);
        assert_eq!(empty.take(now), Ok(()));
        assert!(empty.take(now).is_err());
    }

    /// The place returned is the one taken, not the newest: otherwise the
    /// window would drop the returned message's second as if it still held
    /// a message, and let one too many through once that second left it.
    #[test]
    fn a_message_given_back_leaves_from_the_second_it_was_taken_in() {
        let mut quotas = Quotas::new(Some(2), None, None, &[]);
        let s0 = 1_700_000_000_i64;
        assert_eq!(quotas.take(s0 * 1000), Ok(())); // taken ahead, then returned
        assert_eq!(quotas.take((s0 + 1) * 1000), Ok(())); // sent
        quotas.give_back(s0 * 1000);
        assert_eq!(quotas.take((s0 + 2) * 1000), Ok(())); // sent
        assert!(quotas.take((s0 + 2) * 1000).is_err(), "two sent in the minute");
        // Second s0 has left the window; the two sent have not.
        assert!(
            quotas.take((s0 + 61) * 1000).is_err(),
            "still two sent in the last minute"
        );
        assert_eq!(quotas.take((s0 + 62) * 1000), Ok(()));
    }

    #[test]
    fn a_per_minute_quota_is_a_sliding_window() {
        let mut quotas = Quotas::new(Some(3), None, None, &[]);
        let t0 = 1_700_000_000_000_i64;
        assert!(quotas.take(t0).is_ok());
        assert!(quotas.take(t0 + 20_000).is_ok());
        assert!(quotas.take(t0 + 40_000).is_ok());
        let wait = quotas.take(t0 + 50_000).expect_err("the test expects an error");
        assert_eq!(wait.until, (t0 / 1000 + 61) * 1000);
        assert!(quotas.take(wait.until).is_ok());
        // Never more than 3 in any 60 s.
        assert!(quotas.take(wait.until + 1).is_err());
    }
}

/// One account's live limits, shared by every run on it in this process.
#[derive(Debug)]
pub struct AccountLimits {
    pub rate: AdaptiveRate,
    pub quotas: tokio::sync::Mutex<Quotas>,
    /// This process's hold on the account: no other process sends on it
    /// while any run here does. Released with the last run's limits.
    pub sending: super::lease::Lease,
}

/// The live limits of a session's accounts: one [`AccountLimits`] per
/// account while any run on it holds them, so campaigns sending on one
/// account at once share its rate and quotas. Owned by the
/// [`Session`](crate::session::Session) (one per open database) and passed
/// down to the runs.
#[derive(Debug, Default)]
pub struct LiveLimits {
    /// Accounts with a run in progress, by account id.
    live: Mutex<HashMap<i64, Weak<AccountLimits>>>,
}

impl LiveLimits {
    /// The limits of account `profile`: the ones a run on it is using now,
    /// or new ones from `make` when none is (then `true`). (A run that joins
    /// takes the limits as they are, even if the account's settings changed since.)
    pub fn account(
        &self,
        profile: i64,
        make: impl FnOnce() -> crate::error::Result<AccountLimits>,
    ) -> crate::error::Result<(Arc<AccountLimits>, bool)> {
        let mut live = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        live.retain(|_, limits| limits.strong_count() > 0);
        if let Some(limits) = live.get(&profile).and_then(Weak::upgrade) {
            return Ok((limits, false));
        }
        let limits = Arc::new(make()?);
        live.insert(profile, Arc::downgrade(&limits));
        Ok((limits, true))
    }
}
