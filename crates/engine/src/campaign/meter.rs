//! The send rate a person sees: confirmed sends over the last few seconds.
//!
//! Sends are counted when their outcome is committed, a few milliseconds
//! after the wire, and a snapshot goes out four times a second. Counted per
//! snapshot, one commit more or less in a quarter second reads as ±4/s: an
//! account limited to 5/s showed "8.0/s" at its peak, which looks like the
//! limit failing. Over a 5 s window the same jitter is 0.2/s.

use std::collections::VecDeque;
use std::time::Duration;

/// How far back the rate looks.
const WINDOW: Duration = Duration::from_secs(5);
/// The shortest span a rate is taken over: early in a run, a second's
/// handful of sends is not yet a rate.
const FLOOR: Duration = Duration::from_secs(2);

/// Confirmed sends per second over the last [`WINDOW`].
#[derive(Debug)]
pub(super) struct SendRate {
    /// (time since the run started, sends confirmed by then), oldest first.
    samples: VecDeque<(Duration, u64)>,
}

impl SendRate {
    /// A meter for a run that starts with `sent` already confirmed.
    pub fn new(sent: u64) -> SendRate {
        SendRate {
            samples: VecDeque::from([(Duration::ZERO, sent)]),
        }
    }

    /// Records that `sent` sends were confirmed by `at`; returns the rate.
    pub fn observe(&mut self, at: Duration, sent: u64) -> f64 {
        self.samples.push_back((at, sent));
        // Keep one sample at or before the window's start, so the span is
        // the whole window once the run is that old.
        while self
            .samples
            .get(1)
            .is_some_and(|&(t, _)| at.saturating_sub(t) >= WINDOW)
        {
            self.samples.pop_front();
        }
        let (since, sent_then) = self.samples.front().copied().unwrap_or((at, sent));
        let span = at.saturating_sub(since).max(FLOOR).as_secs_f64();
        // N sends in the window are N - 1 intervals between sends: counting
        // N would read a run paced at exactly its limit as above it.
        sent.saturating_sub(sent_then).saturating_sub(1) as f64 / span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends paced at exactly 5/s, each confirmed 0-150 ms after its slot,
    /// read every 250 ms: the rate never reads above the limit, and settles
    /// within one send per window of it.
    #[test]
    fn a_paced_run_reads_at_its_pace_despite_commit_jitter() {
        let mut rng = fastrand::Rng::with_seed(7);
        let confirmed: Vec<Duration> = (0..300_u64)
            .map(|k| Duration::from_millis(k * 200 + rng.u64(0..150)))
            .collect();
        let mut meter = SendRate::new(0);
        let mut readings = Vec::new();
        for tick in 1..=240_u64 {
            let at = Duration::from_millis(tick * 250);
            let sent = confirmed.iter().filter(|&&c| c <= at).count() as u64;
            readings.push(meter.observe(at, sent));
        }
        let highest = readings.iter().copied().fold(0.0_f64, f64::max);
        assert!(highest <= 5.0 + 1e-9, "read {highest}/s at a 5/s pace");
        let settled = &readings[40..];
        assert!(
            settled.iter().all(|&r| (4.6..=5.0 + 1e-9).contains(&r)),
            "after 10 s the reading stays on 5/s: {settled:?}"
        );
    }

    #[test]
    fn a_run_that_resumes_counts_only_its_own_sends() {
        let mut meter = SendRate::new(1_000);
        assert_eq!(meter.observe(Duration::from_millis(250), 1_000), 0.0);
        let rate = meter.observe(Duration::from_secs(4), 1_041);
        assert!((rate - 10.0).abs() < 1e-9, "41 sends are 40 intervals in 4 s: {rate}");
    }
}
