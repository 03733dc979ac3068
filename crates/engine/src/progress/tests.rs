//! The coalescer on tokio's paused clock, for each kind of work's events,
//! and the stop answers of [`Cancellable`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::campaign::throttle::RateState;
use crate::campaign::{CampaignEvent, PauseReason, RunOutcome};
use crate::model::{ImportProgress, RecipientStatus, StatusCounts};
use crate::smtp::Stage;
use crate::smtp::diagnose::{StageDetail, StageOutcome, StageReport};

const TENTH: Duration = Duration::from_millis(100);

/// Each delivery with when it came (since the start).
type Deliveries<E> = Arc<Mutex<Vec<(Duration, Batch<E>)>>>;

fn recorder<E: Coalesce>(keep: usize) -> (Coalescer<E>, Deliveries<E>) {
    let seen: Deliveries<E> = Arc::default();
    let into = seen.clone();
    let start = Instant::now();
    let coalescer = Coalescer::start(TENTH, keep, move |batch| {
        into.lock().expect("test step").push((start.elapsed(), batch));
    });
    (coalescer, seen)
}

fn taken<E: Clone>(seen: &Deliveries<E>) -> Vec<(Duration, Batch<E>)> {
    seen.lock().expect("test step").clone()
}

/// No two deliveries closer than the interval, except the flush when the
/// work ends.
fn assert_spaced<E>(deliveries: &[(Duration, Batch<E>)]) {
    let times: Vec<Duration> = deliveries.iter().map(|(at, _)| *at).collect();
    for pair in times.windows(2).take(times.len().saturating_sub(2)) {
        assert!(pair[1] - pair[0] >= TENTH, "deliveries at {times:?}");
    }
}

fn sent(row: u64) -> CampaignEvent {
    CampaignEvent::Recipient {
        row,
        email: format!("r{row}@example.org"),
        status: RecipientStatus::Sent,
        reason: None,
        attempts: 1,
    }
}

fn finished() -> CampaignEvent {
    CampaignEvent::Finished {
        outcome: RunOutcome::Completed,
        reason: None,
        counts: StatusCounts::default(),
    }
}

fn step(rows: u64) -> ImportProgress {
    ImportProgress {
        rows,
        fraction: rows as f64 / 10_000.0,
    }
}

fn stage(stage: Stage) -> StageReport {
    StageReport {
        stage,
        outcome: StageOutcome::Passed,
        duration_ms: 1,
        detail: StageDetail::Connected { peer: None },
        problem: None,
        code: None,
        enhanced_code: None,
        extensions: Vec::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_campaign_events_becomes_at_most_ten_batches_a_second() {
    let (sink, seen) = recorder(5);
    // 20,000 recipient events over one second.
    for row in 0..20_000 {
        sink.event(&sent(row));
        if row % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    sink.event(&finished());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let batches = taken(&seen);
    assert!(batches.len() <= 12, "{} batches for ~1 s", batches.len());
    assert_spaced(&batches);
    let delivered: u64 = batches.iter().map(|(_, b)| b.events.len() as u64).sum();
    let omitted: u64 = batches.iter().map(|(_, b)| b.omitted).sum();
    assert_eq!(delivered + omitted, 20_001, "every event is delivered or counted");
    assert!(batches.iter().all(|(_, b)| b.events.len() <= 6));
    assert_eq!(batches.last().and_then(|(_, b)| b.events.last()), Some(&finished()));
}

#[tokio::test(start_paused = true)]
async fn notable_campaign_events_all_arrive_in_order_with_the_newest_snapshot_last() {
    let (sink, seen) = recorder(2);
    sink.event(&sent(1));
    tokio::task::yield_now().await;
    // A burst while the first delivery's interval runs.
    let progress = |elapsed_ms| CampaignEvent::Progress {
        counts: StatusCounts::default(),
        percent_done: 0,
        sent_per_second: 0.0,
        rate: RateState {
            configured: None,
            effective: None,
            reason: None,
        },
        eta_seconds: None,
        elapsed_ms,
        server_wait: None,
    };
    let paused = CampaignEvent::Pausing {
        stopping: false,
        reason: PauseReason::ByYou,
    };
    sink.event(&progress(10));
    sink.event(&paused);
    sink.event(&sent(2));
    sink.event(&progress(20));
    sink.event(&finished());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Nothing after the last event.
    sink.event(&sent(3));
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(sink);
    let batches = taken(&seen);
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert_eq!(batches[0].0, Duration::ZERO, "the first event goes at once");
    assert_eq!(batches[0].1.events, vec![sent(1)]);
    assert_eq!(batches[1].0, TENTH);
    assert_eq!(
        batches[1].1.events,
        vec![paused, sent(2), progress(20), finished()],
        "notable, samples, the newest snapshot, the last"
    );
}

#[tokio::test(start_paused = true)]
async fn import_progress_comes_at_most_ten_times_a_second_and_its_final_step_always() {
    let (sink, seen) = recorder(0);
    // A step every millisecond for a second and a half.
    for rows in 1..=1_500 {
        sink.event(&step(rows));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    sink.event(&step(1_501));
    // The import returns: its final step is delivered before the result.
    sink.finish();
    let batches = taken(&seen);
    assert!(batches.len() <= 17, "{} deliveries for 1.5 s", batches.len());
    assert_spaced(&batches);
    assert!(batches.iter().all(|(_, b)| b.events.len() == 1 && b.omitted == 0));
    assert_eq!(batches[0].1.events, vec![step(1)], "the first step goes at once");
    assert_eq!(batches.last().map(|(_, b)| b.events.clone()), Some(vec![step(1_501)]));
    let rows: Vec<u64> = batches.iter().map(|(_, b)| b.events[0].rows).collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]), "newest each time: {rows:?}");
}

#[tokio::test(start_paused = true)]
async fn every_test_connection_step_arrives_in_order() {
    let (sink, seen) = recorder(0);
    // DNS and the connect finish within a millisecond; the greeting later.
    sink.event(&stage(Stage::Dns));
    tokio::task::yield_now().await;
    sink.event(&stage(Stage::Connect));
    sink.event(&stage(Stage::Tls));
    tokio::time::sleep(Duration::from_millis(450)).await;
    sink.event(&stage(Stage::Greeting));
    tokio::task::yield_now().await;
    sink.event(&stage(Stage::Ehlo));
    sink.event(&stage(Stage::Auth));
    sink.finish();
    let batches = taken(&seen);
    let stages: Vec<Stage> = batches
        .iter()
        .flat_map(|(_, b)| b.events.iter().map(|s| s.stage))
        .collect();
    assert_eq!(
        stages,
        vec![
            Stage::Dns,
            Stage::Connect,
            Stage::Tls,
            Stage::Greeting,
            Stage::Ehlo,
            Stage::Auth
        ]
    );
    let times: Vec<Duration> = batches.iter().map(|(at, _)| *at).collect();
    assert_eq!(
        times,
        vec![
            Duration::ZERO,
            TENTH,
            Duration::from_millis(450),
            Duration::from_millis(450)
        ],
        "the first of a quiet period at once, a burst after the interval, the rest when the test ends"
    );
}

#[test]
fn a_cancellable_sink_stops_when_cancelled_or_when_the_inner_sink_says_so() {
    let quiet = |_: &u32| {};
    let sink = Cancellable::new(&quiet);
    assert_eq!(sink.event(&1), Flow::Go);
    sink.token().cancel();
    assert_eq!(sink.event(&2), Flow::Stop);
    assert!(sink.stop_signal().is_cancelled());

    struct StopAtThree(CancellationToken);
    impl Sink<u32> for StopAtThree {
        fn event(&self, event: &u32) -> Flow {
            if *event >= 3 { Flow::Stop } else { Flow::Go }
        }
        fn stop_signal(&self) -> CancellationToken {
            self.0.clone()
        }
    }
    let inner = StopAtThree(CancellationToken::new());
    let sink = Cancellable::new(&inner);
    assert_eq!(sink.event(&2), Flow::Go);
    assert_eq!(sink.event(&3), Flow::Stop);
    assert!(!sink.stop_signal().is_cancelled());
    inner.0.cancel();
    assert!(
        sink.stop_signal().is_cancelled(),
        "the inner sink's signal stops the work too"
    );
}
