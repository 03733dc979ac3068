//! How long a run keeps trying a server it cannot connect to, and when it
//! gives up and pauses (issue 19).
//!
//! Two situations, two bounds:
//! - **Before the server has accepted a message in this run** (a wrong
//!   port, a server that is down, a certificate that fails), waiting helps
//!   nobody: the person is looking at the window having just pressed Start.
//!   A few quick tries ([`RunOptions::first_contact_attempts`], a couple of
//!   seconds apart), then the campaign pauses with Test connection's verdict:
//!   the bound is a few connection timeouts, whatever the retry settings.
//! - **Later in a campaign** a server that was sending may be restarting or
//!   briefly unreachable: the run waits with growing pauses (the run's retry
//!   base, doubling, capped) and says so ("waiting for the server — next try
//!   in 27 s, 3rd of 6"), until the outage has lasted the account's
//!   `outage_limit_ms` (10 minutes unless set) or the run's
//!   `connect_attempts` are used up; then the campaign pauses with the reason.
//!
//! Either pause becomes a move to the campaign's next account when another
//! of its accounts can send (`failover`: the account is set aside for the
//! `send`, and its server tried again in the background). A reply that
//! refuses a connection as it opens is the rules' first (`worker`): a
//! suspension, or "fewer connections" to the only connection, is a wait,
//! not a failed try of the server.
//!
//! The policy is a pure function of the attempt and the time the outage has
//! lasted, so the bound is tested without a server (on tokio's paused clock
//! in `tests`).
//!
//! [`RunOptions::first_contact_attempts`]: super::RunOptions::first_contact_attempts

use std::time::Duration;

/// The numbers the decision rests on: the run's options and the account's limit.
#[derive(Debug, Clone)]
pub(super) struct OutagePolicy {
    /// Tries before the first accepted message (at least 1).
    pub first_contact_attempts: u32,
    /// The wait after the n-th of those tries is n × this.
    pub first_contact_wait: Duration,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Tries in a row at most, in any case.
    pub max_attempts: u32,
    /// How long an outage after the first accepted message may last.
    pub limit: Duration,
}

/// What to do after a connection attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Try again after `wait`; this was try `attempt` of (as planned now) `of`.
    Retry { wait: Duration, attempt: u32, of: u32 },
    /// Stop trying: the campaign pauses. `limit_reached`: because the
    /// outage outlasted the account's limit (else the tries ran out).
    Pause { limit_reached: bool },
}

impl OutagePolicy {
    /// After the `attempt`-th failed try in a row (1-based), `elapsed` since
    /// the outage began (the first of them failed); `reached`: the server
    /// accepted a message in this run.
    pub fn after_failure(&self, attempt: u32, elapsed: Duration, reached: bool) -> Next {
        let attempt = attempt.max(1);
        if !reached {
            let of = self.first_contact_attempts.clamp(1, self.max_attempts.max(1));
            if attempt >= of {
                return Next::Pause { limit_reached: false };
            }
            return Next::Retry {
                wait: self.first_contact_wait.saturating_mul(attempt),
                attempt,
                of,
            };
        }
        if elapsed >= self.limit {
            return Next::Pause { limit_reached: true };
        }
        if attempt >= self.max_attempts.max(1) {
            return Next::Pause { limit_reached: false };
        }
        let wait = self.wait_after(attempt).min(self.limit - elapsed);
        Next::Retry {
            wait,
            attempt,
            of: self.planned_tries(attempt, elapsed),
        }
    }

    /// The wait after try `attempt` later in a campaign: base × 2^(attempt-1), capped.
    fn wait_after(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        self.retry_base
            .saturating_mul(1 << exponent)
            .min(self.retry_cap)
            .max(Duration::from_millis(1))
    }

    /// How many tries the outage gets in all, if each fails at once: the
    /// ones made, and those whose waits still fit in the limit (the last
    /// try is made when the limit comes), never more than `max_attempts`.
    fn planned_tries(&self, attempt: u32, elapsed: Duration) -> u32 {
        let mut tries = attempt;
        let mut at = elapsed;
        while tries < self.max_attempts && at < self.limit {
            at += self.wait_after(tries).min(self.limit - at);
            tries += 1;
        }
        tries
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    fn policy() -> OutagePolicy {
        OutagePolicy {
            first_contact_attempts: 3,
            first_contact_wait: Duration::from_secs(2),
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(30 * 60),
            max_attempts: 8,
            limit: Duration::from_secs(600),
        }
    }

    /// Plays an outage on tokio's paused clock: every try takes `each_try`
    /// (a connect timeout, say) and fails; returns when the policy pauses,
    /// with the tries made, the time it took and the retries announced.
    async fn play(policy: &OutagePolicy, reached: bool, each_try: Duration) -> (u32, Duration, bool, Vec<(u32, u32)>) {
        let began = Instant::now();
        let mut attempt = 0;
        let mut announced = Vec::new();
        loop {
            tokio::time::sleep(each_try).await;
            attempt += 1;
            match policy.after_failure(attempt, began.elapsed(), reached) {
                Next::Retry { wait, attempt, of } => {
                    announced.push((attempt, of));
                    tokio::time::sleep(wait).await;
                }
                Next::Pause { limit_reached } => return (attempt, began.elapsed(), limit_reached, announced),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn before_any_message_is_accepted_a_dead_server_pauses_within_a_few_connect_timeouts() {
        // The defaults that once kept a campaign "running" for over half an
        // hour (8 tries, 30 s doubling): now 3 tries, 2 s and 4 s apart.
        let connect_timeout = Duration::from_secs(15);
        let (tries, took, limit_reached, announced) = play(&policy(), false, connect_timeout).await;
        assert_eq!(tries, 3);
        assert!(!limit_reached);
        assert_eq!(took, connect_timeout * 3 + Duration::from_secs(2 + 4));
        assert_eq!(announced, vec![(1, 3), (2, 3)]);
        // A refusing port fails at once: six seconds.
        let (_, took, _, _) = play(&policy(), false, Duration::ZERO).await;
        assert_eq!(took, Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn the_run_options_cap_the_first_tries_too() {
        let policy = OutagePolicy {
            max_attempts: 2,
            ..policy()
        };
        let (tries, _, _, announced) = play(&policy, false, Duration::ZERO).await;
        assert_eq!(tries, 2);
        assert_eq!(announced, vec![(1, 2)]);
    }

    #[tokio::test(start_paused = true)]
    async fn later_in_a_campaign_an_outage_pauses_when_it_outlasts_the_accounts_limit() {
        let (tries, took, limit_reached, announced) = play(&policy(), true, Duration::ZERO).await;
        // Tries at 0, 30, 90, 210, 450 s, and the last when the 10 minutes are up.
        assert!(limit_reached);
        assert_eq!(took, Duration::from_secs(600));
        assert_eq!(tries, 6);
        assert_eq!(
            announced.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        assert!(announced.iter().all(|(_, of)| *of == 6), "{announced:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_limit_a_slow_connect_and_the_tries_cap_bound_it_the_same_way() {
        let short = OutagePolicy {
            limit: Duration::from_secs(60),
            ..policy()
        };
        let (_, took, limit_reached, _) = play(&short, true, Duration::from_secs(15)).await;
        assert!(limit_reached);
        // The limit is checked after each try, so a try started just before
        // it may finish up to one connect timeout later.
        assert!(
            took >= Duration::from_secs(60) && took <= Duration::from_secs(75),
            "{took:?}"
        );
        let few = OutagePolicy {
            max_attempts: 3,
            ..policy()
        };
        let (tries, took, limit_reached, announced) = play(&few, true, Duration::ZERO).await;
        assert_eq!((tries, limit_reached), (3, false));
        assert_eq!(took, Duration::from_secs(90));
        assert_eq!(announced, vec![(1, 3), (2, 3)]);
    }
}
