//! How fast a campaign may send: the account's rate, lowered while the server
//! throttles (multiplicative decrease, additive recovery), and its per-minute,
//! per-hour and per-day quotas, which count what the account already sent.
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
//! An account's rate and quotas are one per process ([`account_limits`]):
//! two campaigns sending on one account at once share them, so together
//! they keep the account's limits.
//!
//! Time is tokio's, so tests run this on a paused clock.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::outcome::QuotaWindow;

/// The lowest rate adaptive throttling goes down to, in messages per second.
const MIN_RATE: f64 = 0.2;
/// How long the rate holds after a change before it recovers a step.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(10);
/// Each recovery step adds this share of the rate to recover to.
const RECOVERY_STEP: f64 = 0.1;
/// How far back the measured send rate looks.
const MEASURE_WINDOW: Duration = Duration::from_secs(2);

/// Stretches the period so a slightly late send cannot crowd a 1 s window.
const PERIOD_MARGIN: f64 = 1.005;

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
    /// The rate to recover to: the configured rate, or (unthrottled) what was
    /// measured when the server first complained.
    ceiling: Option<f64>,
    pacer: Option<Pacer>,
    changed_at: Instant,
    reason: Option<String>,
    recent: VecDeque<Instant>,
    /// When the last message's content went on the wire (or is reserved to).
    last_on_wire: Option<Instant>,
}

/// The live send rate of one run.
#[derive(Debug)]
pub struct AdaptiveRate {
    configured: Option<f64>,
    inner: Mutex<RateInner>,
}

impl AdaptiveRate {
    pub fn new(configured: Option<f64>) -> AdaptiveRate {
        let configured = configured.filter(|r| r.is_finite() && *r > 0.0);
        AdaptiveRate {
            configured,
            inner: Mutex::new(RateInner {
                effective: configured,
                ceiling: configured,
                pacer: configured.map(Pacer::new),
                changed_at: Instant::now(),
                reason: None,
                recent: VecDeque::new(),
                last_on_wire: None,
            }),
        }
    }

    /// Waits for the next send slot; `None` when it is now.
    /// Returns how long to wait before asking again, or `None` to go now.
    pub fn check(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.recover(&mut inner, now);
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

    /// The server said "slow down": halve the rate (never below [`MIN_RATE`]).
    /// Returns the new state when the rate changed.
    pub fn throttled(&self, reason: &str) -> Option<RateState> {
        let now = Instant::now();
        let mut inner = self.lock();
        // Several connections hear the same complaint at once; one halving
        // per complaint burst is enough.
        if inner.reason.is_some() && now.duration_since(inner.changed_at) < Duration::from_secs(1) {
            return None;
        }
        let measured = inner.recent.len() as f64 / MEASURE_WINDOW.as_secs_f64();
        let current = inner.effective.unwrap_or(measured.max(MIN_RATE * 2.0));
        if inner.ceiling.is_none() {
            inner.ceiling = Some(current);
        }
        let lowered = (current / 2.0).max(MIN_RATE);
        inner.effective = Some(lowered);
        inner.pacer = Some(self.repace(&inner, lowered));
        inner.changed_at = now;
        inner.reason = Some(reason.to_owned());
        Some(self.state_of(&inner))
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

    /// Additive recovery: a step up every [`RECOVERY_INTERVAL`] without complaint.
    fn recover(&self, inner: &mut RateInner, now: Instant) {
        let (Some(effective), Some(ceiling)) = (inner.effective, inner.ceiling) else {
            return;
        };
        if inner.reason.is_none() || now.duration_since(inner.changed_at) < RECOVERY_INTERVAL {
            return;
        }
        let raised = effective + ceiling * RECOVERY_STEP;
        if raised >= ceiling {
            inner.effective = self.configured;
            inner.ceiling = self.configured;
            inner.pacer = self.configured.map(|r| self.repace(inner, r));
            inner.reason = None;
        } else {
            inner.effective = Some(raised);
            inner.pacer = Some(self.repace(inner, raised));
        }
        inner.changed_at = now;
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
        let rate = AdaptiveRate::new(Some(12.0));
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
    async fn throttling_halves_the_rate_and_it_recovers_step_by_step() {
        let rate = AdaptiveRate::new(Some(10.0));
        rate.acquire().await;
        let state = rate.throttled("454 Throttling failure").expect("test step");
        assert_eq!(state.effective, Some(5.0));
        assert_eq!(state.reason.as_deref(), Some("454 Throttling failure"));
        assert_eq!(
            rate.throttled("again at once"),
            None,
            "one halving per burst of complaints"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(rate.throttled("later").expect("test step").effective, Some(2.5));
        for expected in [3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5] {
            tokio::time::advance(RECOVERY_INTERVAL).await;
            rate.acquire().await;
            let effective = rate.state().effective.expect("test step");
            assert!((effective - expected).abs() < 1e-9, "{effective} != {expected}");
        }
        tokio::time::advance(RECOVERY_INTERVAL).await;
        rate.acquire().await;
        assert_eq!(
            rate.state(),
            RateState {
                configured: Some(10.0),
                effective: Some(10.0),
                reason: None
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unthrottled_campaign_drops_to_half_what_it_measured() {
        let rate = AdaptiveRate::new(None);
        for _ in 0..40 {
            rate.acquire().await;
            tokio::time::advance(Duration::from_millis(50)).await;
        }
        // 40 sends in 2 s: 20/s measured, so 10/s.
        let state = rate.throttled("421 4.7.0 slow down").expect("test step");
        let effective = state.effective.expect("test step");
        assert!((9.0..=10.5).contains(&effective), "{effective}");
        // Recovering back up to the measured ceiling lifts the limit entirely.
        for _ in 0..12 {
            tokio::time::advance(RECOVERY_INTERVAL).await;
            rate.acquire().await;
        }
        assert_eq!(rate.state().effective, None);
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

/// The limits of account `profile` in database `db`: the ones a run on it is
/// using now, or new ones from `make` when none is (then `true`). (A run that joins takes
/// the limits as they are, even if the account's settings changed since.)
pub fn account_limits(
    db: &Path,
    profile: i64,
    make: impl FnOnce() -> crate::error::Result<AccountLimits>,
) -> crate::error::Result<(Arc<AccountLimits>, bool)> {
    /// Accounts with a run in progress, by (database file, account id).
    type Live = HashMap<(PathBuf, i64), Weak<AccountLimits>>;
    static LIVE: LazyLock<Mutex<Live>> = LazyLock::new(Mutex::default);
    let mut live = LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    live.retain(|_, limits| limits.strong_count() > 0);
    let key = (db.to_owned(), profile);
    if let Some(limits) = live.get(&key).and_then(Weak::upgrade) {
        return Ok((limits, false));
    }
    let limits = Arc::new(make()?);
    live.insert(key, Arc::downgrade(&limits));
    Ok((limits, true))
}
