//! Turns a run's events into at most one batch per interval for a window:
//! the newest progress snapshot, every notable event, and the latest few
//! recipient events (with how many were left out), whatever the send rate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use super::{CampaignEvent, ProgressSink};

/// One delivery to the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct EventBatch {
    pub events: Vec<CampaignEvent>,
    /// Recipient events left out of this batch (their states are in the counts).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub omitted: u64,
}

#[derive(Debug, Default)]
struct Pending {
    progress: Option<CampaignEvent>,
    notable: Vec<CampaignEvent>,
    recipients: std::collections::VecDeque<CampaignEvent>,
    omitted: u64,
    finished: Option<CampaignEvent>,
}

/// A [`ProgressSink`] that batches; `forward` gets each batch on a tokio task.
#[derive(Debug)]
pub struct CoalescingSink {
    pending: Arc<Mutex<Pending>>,
    wake: Arc<Notify>,
    keep_recipients: usize,
}

impl CoalescingSink {
    /// At most one batch per `interval`, each with up to `keep_recipients`
    /// recipient events. The forwarding task ends after the `finished` event.
    pub fn start(
        interval: Duration,
        keep_recipients: usize,
        forward: impl Fn(EventBatch) + Send + 'static,
    ) -> CoalescingSink {
        let pending = Arc::new(Mutex::new(Pending::default()));
        let wake = Arc::new(Notify::new());
        let task_pending = pending.clone();
        let task_wake = wake.clone();
        tokio::spawn(async move {
            loop {
                task_wake.notified().await;
                let (batch, finished) = {
                    let mut p = lock(&task_pending);
                    let mut events = std::mem::take(&mut p.notable);
                    events.extend(p.recipients.drain(..));
                    events.extend(p.progress.take());
                    let finished = p.finished.take();
                    let done = finished.is_some();
                    events.extend(finished);
                    let batch = EventBatch {
                        events,
                        omitted: std::mem::take(&mut p.omitted),
                    };
                    (batch, done)
                };
                if !batch.events.is_empty() {
                    forward(batch);
                }
                if finished {
                    break;
                }
                // The interval starts after a delivery: bursts wait, the
                // first event of a quiet period goes at once.
                tokio::time::sleep(interval).await;
            }
        });
        CoalescingSink {
            pending,
            wake,
            keep_recipients,
        }
    }
}

impl ProgressSink for CoalescingSink {
    fn event(&self, event: &CampaignEvent) {
        let mut p = lock(&self.pending);
        match event {
            CampaignEvent::Progress { .. } => p.progress = Some(event.clone()),
            CampaignEvent::Recipient { .. } => {
                p.recipients.push_back(event.clone());
                if p.recipients.len() > self.keep_recipients {
                    p.recipients.pop_front();
                    p.omitted += 1;
                }
            }
            CampaignEvent::Finished { .. } => p.finished = Some(event.clone()),
            _ => p.notable.push(event.clone()),
        }
        drop(p);
        self.wake.notify_one();
    }
}

fn lock(pending: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::RunOutcome;
    use crate::model::{RecipientStatus, StatusCounts};

    fn sent(row: u64) -> CampaignEvent {
        CampaignEvent::Recipient {
            row,
            email: format!("r{row}@example.org"),
            status: RecipientStatus::Sent,
            reason: None,
            attempts: 1,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_events_becomes_at_most_ten_batches_a_second() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = batches.clone();
        let sink = CoalescingSink::start(Duration::from_millis(100), 5, move |b| {
            seen.lock().expect("test step").push(b);
        });
        // 20,000 recipient events over one second.
        for row in 0..20_000 {
            sink.event(&sent(row));
            if row % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        sink.event(&CampaignEvent::Finished {
            outcome: RunOutcome::Completed,
            reason: None,
            counts: StatusCounts::default(),
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let batches = batches.lock().expect("test step");
        assert!(batches.len() <= 12, "{} batches for ~1 s", batches.len());
        let delivered: u64 = batches.iter().map(|b| b.events.len() as u64).sum();
        let omitted: u64 = batches.iter().map(|b| b.omitted).sum();
        assert_eq!(delivered + omitted, 20_001, "every event is delivered or counted");
        assert!(batches.iter().all(|b| b.events.len() <= 6));
        assert!(matches!(
            batches.last().and_then(|b| b.events.last()),
            Some(CampaignEvent::Finished { .. })
        ));
    }
}
