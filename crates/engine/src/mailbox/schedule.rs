//! When bounce scans run by themselves while the app is open: a minute after
//! it starts (what arrived while it was closed), then every mailbox's own
//! interval; and after each campaign on an account, 5 minutes, 1 hour and 24
//! hours after it finished (bounces come minutes to a day later). The shell
//! only starts [`run`] and tells it when a campaign finishes; the timing is
//! here, on tokio time, and tested on its paused clock.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// After a campaign finishes on an account, its mailbox is scanned this long after.
pub const AFTER_CAMPAIGN: [Duration; 3] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(24 * 60 * 60),
];

/// The first periodic scan of each mailbox, after the timer starts.
pub const FIRST_SCAN: Duration = Duration::from_secs(60);

/// Tells a running [`run`] that a campaign finished on an account.
#[derive(Debug, Clone)]
pub struct ScanTimer {
    tx: mpsc::UnboundedSender<String>,
}

impl ScanTimer {
    /// A timer handle and what [`run`] listens on.
    pub fn new() -> (ScanTimer, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ScanTimer { tx }, rx)
    }

    /// A campaign on `account` finished: scan its mailbox 5 min, 1 h and 24 h from now.
    pub fn campaign_finished(&self, account: &str) {
        // A timer that has stopped (the app is closing) has nothing to do.
        let _ = self.tx.send(account.to_owned());
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The mailboxes to scan and each one's interval (`None`: no periodic scans).
/// `None` when they cannot be read now (the database is busy or gone): the
/// timer keeps what it knew and asks again a minute later.
pub type ListMailboxes = Box<dyn Fn() -> BoxFuture<Option<Vec<(String, Option<Duration>)>>> + Send + Sync>;
/// Scans one account's mailbox (its outcome is the scanner's business).
pub type ScanOne = Box<dyn Fn(String) -> BoxFuture<()> + Send + Sync>;

/// Runs scans when they are due until `cancel`. One scan at a time; scans
/// due together for one account run once.
pub async fn run(
    mut finished: mpsc::UnboundedReceiver<String>,
    list: ListMailboxes,
    scan: ScanOne,
    cancel: CancellationToken,
) {
    let start = Instant::now();
    let mut periodic: HashMap<String, Instant> = HashMap::new();
    let mut intervals: HashMap<String, Option<Duration>> = HashMap::new();
    let mut after_campaign: Vec<(Instant, String)> = Vec::new();
    // When to read the mailboxes again because the last read failed.
    let mut list_again: Option<Instant> = None;
    if !refresh(&list, &mut intervals, &mut periodic, start + FIRST_SCAN).await {
        list_again = Some(start + FIRST_SCAN);
    }
    loop {
        let next = periodic
            .values()
            .chain(after_campaign.iter().map(|(at, _)| at))
            .chain(list_again.iter())
            .min()
            .copied();
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            message = finished.recv() => match message {
                Some(account) => {
                    let now = Instant::now();
                    after_campaign.extend(AFTER_CAMPAIGN.iter().map(|d| (now + *d, account.clone())));
                }
                None => return,
            },
            () = sleep => {
                let now = Instant::now();
                let mut due: Vec<String> = after_campaign
                    .iter()
                    .filter(|(at, _)| *at <= now)
                    .map(|(_, account)| account.clone())
                    .collect();
                after_campaign.retain(|(at, _)| *at > now);
                due.extend(periodic.iter().filter(|(_, at)| **at <= now).map(|(account, _)| account.clone()));
                due.sort();
                due.dedup();
                // Mailboxes added, removed or retimed since the last look.
                list_again = None;
                if !refresh(&list, &mut intervals, &mut periodic, now + FIRST_SCAN).await {
                    list_again = Some(now + FIRST_SCAN);
                }
                for account in due {
                    if cancel.is_cancelled() {
                        return;
                    }
                    if !intervals.contains_key(&account) {
                        continue;
                    }
                    scan(account.clone()).await;
                    // Any scan restarts the account's periodic clock.
                    match intervals.get(&account).copied().flatten() {
                        Some(every) => {
                            periodic.insert(account, Instant::now() + every);
                        }
                        None => {
                            periodic.remove(&account);
                        }
                    }
                }
            }
        }
    }
}

/// Re-reads the mailboxes: new ones get their first periodic scan at
/// `first`, removed ones are dropped, changed intervals take effect. A read
/// that failed changes nothing (a failure is not "no mailboxes"): `false`.
async fn refresh(
    list: &ListMailboxes,
    intervals: &mut HashMap<String, Option<Duration>>,
    periodic: &mut HashMap<String, Instant>,
    first: Instant,
) -> bool {
    let Some(listed) = list().await else {
        return false;
    };
    let current: HashMap<String, Option<Duration>> = listed.into_iter().collect();
    periodic.retain(|account, _| current.get(account).is_some_and(Option::is_some));
    for (account, every) in &current {
        if every.is_some() && !periodic.contains_key(account) {
            periodic.insert(account.clone(), first);
        }
    }
    *intervals = current;
    true
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Scans seen, as (account, minutes since the start).
    type Seen = Arc<Mutex<Vec<(String, u64)>>>;

    fn start(mailboxes: Vec<(String, Option<Duration>)>) -> (ScanTimer, Seen, CancellationToken) {
        let list: ListMailboxes = Box::new(move || {
            let mailboxes = mailboxes.clone();
            Box::pin(async move { Some(mailboxes) })
        });
        // A scan takes a while; the timer waits for it.
        start_listing(list, Duration::from_secs(30))
    }

    /// Runs the timer over `list`, each scan taking `scan_takes`.
    fn start_listing(list: ListMailboxes, scan_takes: Duration) -> (ScanTimer, Seen, CancellationToken) {
        let (timer, rx) = ScanTimer::new();
        let seen: Seen = Arc::default();
        let origin = Instant::now();
        let log = seen.clone();
        let scan: ScanOne = Box::new(move |account| {
            let log = log.clone();
            Box::pin(async move {
                let minutes = (Instant::now() - origin).as_secs() / 60;
                log.lock().expect("log").push((account, minutes));
                tokio::time::sleep(scan_takes).await;
            })
        });
        let cancel = CancellationToken::new();
        tokio::spawn(run(rx, list, scan, cancel.clone()));
        (timer, seen, cancel)
    }

    async fn advance(minutes: u64) {
        for _ in 0..minutes {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn periodic_scans_follow_each_mailboxs_interval() {
        let hourly = Some(Duration::from_secs(3600));
        let (_timer, seen, cancel) = start(vec![("work".into(), hourly), ("manual".into(), None)]);
        advance(3 * 60 + 5).await;
        let scans = seen.lock().expect("seen").clone();
        // A minute after the start, then an hour after each scan ended.
        assert_eq!(
            scans,
            vec![
                ("work".into(), 1),
                ("work".into(), 61),
                ("work".into(), 122),
                ("work".into(), 182)
            ]
        );
        cancel.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_list_that_cannot_be_read_keeps_the_scans_and_is_asked_again() {
        let hourly = || Some(vec![("work".to_owned(), Some(Duration::from_secs(3600)))]);
        // Readable the first time, then not for a while, then again.
        let asked = Arc::new(Mutex::new(0_u32));
        let list: ListMailboxes = Box::new(move || {
            let n = {
                let mut asked = asked.lock().expect("asked");
                *asked += 1;
                *asked
            };
            Box::pin(async move { if n == 1 || n > 3 { hourly() } else { None } })
        });
        let (_timer, seen, cancel) = start_listing(list, Duration::ZERO);
        advance(2 * 60 + 5).await;
        // The reads at minutes 1 and 61 failed: the hourly scan went on all the same.
        assert_eq!(
            seen.lock().expect("seen").clone(),
            vec![("work".into(), 1), ("work".into(), 61), ("work".into(), 121)]
        );
        cancel.cancel();

        // Unreadable from the start: asked again a minute later, then scanned.
        let first = Arc::new(Mutex::new(true));
        let list: ListMailboxes = Box::new(move || {
            let failing = std::mem::replace(&mut *first.lock().expect("first"), false);
            Box::pin(async move { if failing { None } else { hourly() } })
        });
        let (_timer, seen, cancel) = start_listing(list, Duration::ZERO);
        advance(5).await;
        assert_eq!(seen.lock().expect("seen").clone(), vec![("work".into(), 2)]);
        cancel.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_finished_campaign_is_followed_by_scans_after_5_minutes_1_hour_and_a_day() {
        let (timer, seen, cancel) = start(vec![("work".into(), None), ("other".into(), None)]);
        advance(10).await;
        timer.campaign_finished("work");
        advance(25 * 60).await;
        let scans = seen.lock().expect("seen").clone();
        assert_eq!(
            scans,
            vec![("work".into(), 15), ("work".into(), 70), ("work".into(), 24 * 60 + 10)],
            "no scan of the other account, none without a campaign"
        );
        cancel.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_without_a_mailbox_is_not_scanned_and_cancel_stops_the_timer() {
        let (timer, seen, cancel) = start(vec![]);
        timer.campaign_finished("no-mailbox");
        advance(2 * 24 * 60).await;
        assert!(seen.lock().expect("seen").is_empty());
        cancel.cancel();
        tokio::task::yield_now().await;
        timer.campaign_finished("no-mailbox");
    }
}
