//! The last look before a recipient is claimed: a worker waits for the
//! rate and the quotas ([`Gate::wait_for_slot`]), and whatever began while
//! it waited (a pause or stop, a rule's suspension of the account, the end
//! of a send window) is checked again after every wait, so no message goes
//! out into it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::schedule::Windows;
use super::throttle::{AdaptiveRate, QuotaWait, Quotas};

/// What a worker does when a quota makes it wait: whether the run hands
/// over to another account instead (then the worker waits no more).
pub(super) type QuotaHook<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// What keeps a message from going out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blocked {
    /// The run pauses or stops.
    Halted,
    /// A rule suspended the account until then (Unix ms).
    Suspended(i64),
    /// Outside the send windows; the next opens then (Unix ms).
    WindowClosed(i64),
}

/// What a worker waits on before it may send, and what may close the door
/// while it waits. Built from the run by the worker; tests build their own.
pub(super) struct Gate<'a> {
    pub rate: &'a AdaptiveRate,
    pub quotas: &'a tokio::sync::Mutex<Quotas>,
    pub halt: &'a CancellationToken,
    /// Until when the account is suspended, if it is now.
    pub suspended_until: &'a (dyn Fn() -> Option<i64> + Send + Sync),
    pub windows: &'a Windows,
    /// The wall clock (Unix ms) the quotas, suspensions and windows read.
    pub now_ms: &'a (dyn Fn() -> i64 + Send + Sync),
    /// Told when a quota makes the worker wait; `true`: the run hands over
    /// to another account, so the message is kept back as on a halt.
    pub on_quota_wait: &'a (dyn Fn(QuotaWait) -> QuotaHook<'a> + Send + Sync),
}

impl Gate<'_> {
    /// What keeps a message from going out at this moment, if anything.
    pub fn blocked(&self) -> Option<Blocked> {
        if self.halt.is_cancelled() {
            return Some(Blocked::Halted);
        }
        if let Some(until) = (self.suspended_until)() {
            return Some(Blocked::Suspended(until));
        }
        self.windows.closed_until((self.now_ms)()).map(Blocked::WindowClosed)
    }

    /// Waits for the rate and every quota. `Ok` with when the quotas' place
    /// was taken (Unix ms); `Err` when something began meanwhile that keeps
    /// the message from going out (no quota place is then held; the rate's
    /// slot stays used, which only spaces the next message a little more).
    pub async fn wait_for_slot(&self) -> Result<i64, Blocked> {
        tokio::select! {
            () = self.rate.acquire() => {}
            () = self.halt.cancelled() => return Err(Blocked::Halted),
        }
        loop {
            // Checked after every wait, right before the place is taken
            // (nothing awaits in between).
            if let Some(blocked) = self.blocked() {
                return Err(blocked);
            }
            let now = (self.now_ms)();
            let taken = self.quotas.lock().await.take(now);
            match taken {
                Ok(()) => return Ok(now),
                Err(wait) => {
                    let until = wait.until;
                    if (self.on_quota_wait)(wait).await {
                        return Err(Blocked::Halted);
                    }
                    let for_ms = u64::try_from(until - now).unwrap_or(0).max(1);
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(for_ms)) => {}
                        () = self.halt.cancelled() => return Err(Blocked::Halted),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;
    use crate::campaign::schedule::{SendWindow, parse_local_time};

    /// A wall clock that moves with tokio's (paused) clock from `start` (Unix
    /// ms), and a suspension another task may set.
    struct World {
        start: i64,
        began: tokio::time::Instant,
        suspended: Arc<AtomicI64>,
    }

    impl World {
        fn new(start: i64) -> World {
            World {
                start,
                began: tokio::time::Instant::now(),
                suspended: Arc::new(AtomicI64::new(i64::MIN)),
            }
        }

        fn now(&self) -> i64 {
            self.start + i64::try_from(self.began.elapsed().as_millis()).expect("test step")
        }
    }

    async fn wait_for_slot(
        world: &World,
        rate: &AdaptiveRate,
        quotas: &tokio::sync::Mutex<Quotas>,
        windows: &Windows,
        halt: &CancellationToken,
    ) -> Result<i64, Blocked> {
        let now = || world.now();
        let suspended = || Some(world.suspended.load(Ordering::SeqCst)).filter(|until| *until > world.now());
        let gate = Gate {
            rate,
            quotas,
            halt,
            suspended_until: &suspended,
            windows,
            now_ms: &now,
            on_quota_wait: &|_| Box::pin(async { false }),
        };
        gate.wait_for_slot().await
    }

    #[tokio::test(start_paused = true)]
    async fn a_suspension_that_begins_while_a_worker_waits_for_the_rate_keeps_its_message_back() {
        let world = World::new(1_000_000);
        let rate = AdaptiveRate::new(Some(1.0), None);
        let quotas = tokio::sync::Mutex::new(Quotas::new(None, None, None, &[]));
        let (windows, halt) = (Windows::always(), CancellationToken::new());
        assert_eq!(
            wait_for_slot(&world, &rate, &quotas, &windows, &halt).await,
            Ok(world.now())
        );
        // The next slot is a second away; half-way there another worker's
        // reply suspends the account for an hour.
        let suspended = world.suspended.clone();
        let until = world.now() + 3_600_000;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            suspended.store(until, Ordering::SeqCst);
        });
        assert_eq!(
            wait_for_slot(&world, &rate, &quotas, &windows, &halt).await,
            Err(Blocked::Suspended(until))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_suspension_or_a_pause_that_begins_during_a_quota_wait_keeps_its_message_back() {
        let world = World::new(1_000_000);
        let rate = AdaptiveRate::new(None, None);
        // One a minute: the second message waits for the next minute.
        let quotas = tokio::sync::Mutex::new(Quotas::new(Some(1), None, None, &[]));
        let (windows, halt) = (Windows::always(), CancellationToken::new());
        let first = wait_for_slot(&world, &rate, &quotas, &windows, &halt)
            .await
            .expect("test step");
        let suspended = world.suspended.clone();
        let until = world.now() + 3_600_000;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            suspended.store(until, Ordering::SeqCst);
        });
        assert_eq!(
            wait_for_slot(&world, &rate, &quotas, &windows, &halt).await,
            Err(Blocked::Suspended(until))
        );
        // The quota place it did not take is still free once the suspension ends.
        world.suspended.store(i64::MIN, Ordering::SeqCst);
        let second = wait_for_slot(&world, &rate, &quotas, &windows, &halt)
            .await
            .expect("test step");
        assert!(second >= first + 60_000, "{first} {second}");
        // A pause during the next quota wait: nothing taken.
        let pauser = halt.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            pauser.cancel();
        });
        assert_eq!(
            wait_for_slot(&world, &rate, &quotas, &windows, &halt).await,
            Err(Blocked::Halted)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_window_that_closes_while_a_worker_waits_for_the_rate_keeps_its_message_back() {
        let zone = "Europe/Paris";
        // Friday 2026-12-04, half a second before the window closes at 17:00.
        let close = parse_local_time("2026-12-04 17:00", zone).expect("test step");
        let world = World::new(close - 500);
        let windows =
            Windows::new(&[SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")], zone).expect("test step");
        let rate = AdaptiveRate::new(Some(1.0), None);
        let quotas = tokio::sync::Mutex::new(Quotas::new(None, None, None, &[]));
        let halt = CancellationToken::new();
        assert!(wait_for_slot(&world, &rate, &quotas, &windows, &halt).await.is_ok());
        let monday = parse_local_time("2026-12-07 09:00", zone).expect("test step");
        assert_eq!(
            wait_for_slot(&world, &rate, &quotas, &windows, &halt).await,
            Err(Blocked::WindowClosed(monday))
        );
    }
}
