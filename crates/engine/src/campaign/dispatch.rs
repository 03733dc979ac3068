//! Hands recipients to workers: pending ones in file order, then retries as
//! they come due, each to one worker only.
//!
//! A recipient is "in flight" from the moment a worker takes it until the
//! writer has committed its outcome. In-flight ids are never handed out again,
//! and while any are in flight the dispatcher does not declare the campaign
//! done: an in-flight recipient may yet need a retry.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::model::{CampaignId, RecipientStatus};
use crate::store::{QueuedRecipient, Store};

/// Recipients read from the store per query.
const PAGE: i64 = 256;
/// With nothing due and nothing in flight but retries far off, look again at
/// least this often (a person may resend from the window meanwhile).
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// One recipient to send to, and the state it was taken from.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub recipient: QueuedRecipient,
    pub from: RecipientStatus,
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// The highest pending id read so far.
    cursor: i64,
    pending_exhausted: bool,
}

#[derive(Debug)]
pub(super) struct Dispatch {
    store: Store,
    campaign: CampaignId,
    queue: tokio::sync::Mutex<Queue>,
    in_flight: Mutex<HashSet<i64>>,
    settled: Notify,
}

impl Dispatch {
    pub fn new(store: Store, campaign: CampaignId) -> Dispatch {
        Dispatch {
            store,
            campaign,
            queue: tokio::sync::Mutex::new(Queue::default()),
            in_flight: Mutex::new(HashSet::new()),
            settled: Notify::new(),
        }
    }

    /// The next recipient, or `None` when the campaign has nobody left to
    /// send to (or `stop` fired).
    pub async fn next(&self, stop: &CancellationToken) -> Result<Option<Job>> {
        loop {
            if stop.is_cancelled() {
                return Ok(None);
            }
            // Registered before looking, so a settle in between is not missed.
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();

            let mut queue = self.queue.lock().await;
            if let Some(job) = queue.jobs.pop_front() {
                self.in_flight().insert(job.recipient.id);
                return Ok(Some(job));
            }
            if !queue.pending_exhausted {
                let page = self.store.pending_recipients(self.campaign, queue.cursor, PAGE).await?;
                match page.last() {
                    None => queue.pending_exhausted = true,
                    Some(last) => {
                        queue.cursor = last.id;
                        queue.jobs.extend(page.into_iter().map(|recipient| Job {
                            recipient,
                            from: RecipientStatus::Pending,
                        }));
                    }
                }
                continue;
            }
            let now = self.store.now_ms();
            let busy: HashSet<i64> = self.in_flight().clone();
            let due: Vec<QueuedRecipient> = self
                .store
                .due_retries(self.campaign, now, PAGE)
                .await?
                .into_iter()
                .filter(|r| !busy.contains(&r.id))
                .collect();
            if !due.is_empty() {
                queue.jobs.extend(due.into_iter().map(|recipient| Job {
                    recipient,
                    from: RecipientStatus::RetryWait,
                }));
                continue;
            }
            let next_retry = self.store.next_retry_at(self.campaign).await?;
            if next_retry.is_none() && busy.is_empty() {
                return Ok(None);
            }
            drop(queue);
            let wait = next_retry.map_or(IDLE_RECHECK, |at| {
                Duration::from_millis(u64::try_from(at - now).unwrap_or(0).max(1)).min(IDLE_RECHECK)
            });
            tokio::select! {
                () = &mut settled => {}
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => return Ok(None),
            }
        }
    }

    /// The next recipient if one is queued and the queue is free right now;
    /// never waits and never reads the store.
    pub fn try_next(&self) -> Option<Job> {
        let mut queue = self.queue.try_lock().ok()?;
        let job = queue.jobs.pop_front()?;
        self.in_flight().insert(job.recipient.id);
        Some(job)
    }

    /// Puts back a job that was taken but never claimed (the run is stopping).
    pub async fn give_back(&self, job: Job) {
        let id = job.recipient.id;
        self.queue.lock().await.jobs.push_front(job);
        self.settle([id]);
    }

    /// The writer committed these recipients' outcomes.
    pub fn settle(&self, ids: impl IntoIterator<Item = i64>) {
        let mut in_flight = self.in_flight();
        for id in ids {
            in_flight.remove(&id);
        }
        drop(in_flight);
        self.settled.notify_waiters();
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
