//! The one thread that writes a run's recipient state: it commits whatever
//! changes are waiting as one transaction (group commit), then acknowledges
//! the claims, tells the dispatcher which recipients settled, and reports the
//! committed changes. Nothing is reported before it is in the file.
//!
//! A plain thread, not a task: it owns its SQLite connection
//! ([`StateFile`]) and blocks in it, so a batch costs one wake-up each way
//! instead of two per statement.
//!
//! When a batch cannot be written the run pauses (on a full disk with
//! [`Error::DiskFull`]'s reason, "free space, then resume"). Nothing of that
//! batch is in the file, so its claims are refused: those messages never go
//! out. The writer keeps going until the workers are done, refusing every
//! claim and writing what outcomes it still can: a message in flight when
//! the disk filled may yet be answered, and a recorded answer is one
//! recipient fewer left `sending` (which the next run must call uncertain).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::dispatch::Job;
use super::{CampaignEvent, Run};
use crate::error::{Error, Result};
use crate::model::RecipientStatus;
use crate::outcome::{PauseReason, RecipientReason};
use crate::store::{StateChange, StateFile};

/// Messages to the writer taken per transaction at most (a claim may carry
/// its connection's previous outcome, so up to twice as many changes).
const BATCH: usize = 4096;

/// A recipient's state change with what to report once it is committed.
#[derive(Debug)]
pub(super) struct Outcome {
    pub change: StateChange,
    pub row: u64,
    pub email: String,
    pub status: RecipientStatus,
    pub reason: Option<RecipientReason>,
    pub attempts: u32,
}

#[derive(Debug)]
enum Op {
    Claim {
        id: i64,
        version: i64,
        from: RecipientStatus,
        committed: oneshot::Sender<bool>,
        /// The connection's previous outcome, sent in the same message as
        /// the claim so that the writer cannot take it alone: sent apart,
        /// the first woke an idle writer, which committed it by itself, and
        /// the claim then waited for that sync and its own (two syncs before
        /// every content on a distant server; docs/BENCHMARKS.md).
        previous: Option<Box<Outcome>>,
    },
    // Boxed: an outcome is several times the size of a claim.
    Outcome(Box<Outcome>),
}

/// Sends changes to the writer thread.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    ops: mpsc::UnboundedSender<Op>,
}

impl Writer {
    /// Records that `job` is being sent. Returns at once: the message may be
    /// made and its envelope sent meanwhile, but nothing of its content may
    /// go out before [`PendingClaim::durable`] returns. `previous` is the
    /// outcome of this connection's last message, when the worker held it
    /// back: it goes into the same commit as the claim, so one `fsync` covers
    /// both (see [`super::worker`]).
    /// `version` is the message version it is sent.
    pub fn claim(&self, job: &Job, version: i64, previous: Option<Outcome>) -> Result<PendingClaim> {
        let (committed, ack) = oneshot::channel();
        self.ops
            .send(Op::Claim {
                id: job.recipient.id,
                version,
                from: job.from,
                committed,
                previous: previous.map(Box::new),
            })
            .map_err(|_| Error::Internal("the state writer has stopped".to_owned()))?;
        Ok(PendingClaim(ack))
    }

    /// Queues an outcome; the writer commits and reports it.
    pub fn record(&self, outcome: Outcome) -> Result<()> {
        self.ops
            .send(Op::Outcome(Box::new(outcome)))
            .map_err(|_| Error::Internal("the state writer has stopped".to_owned()))
    }
}

/// A claim on its way into the file.
#[derive(Debug)]
pub(super) struct PendingClaim(oneshot::Receiver<bool>);

/// A claim that is not in the file: the run is pausing because the file
/// cannot be written (the reason is the run's). Nothing of its message may go out.
#[derive(Debug)]
pub(super) struct Refused;

impl PendingClaim {
    /// Waits until the claim is committed.
    pub async fn durable(self) -> std::result::Result<(), Refused> {
        match self.0.await {
            Ok(true) => Ok(()),
            _ => Err(Refused),
        }
    }
}

/// Opens the run's state connection and starts the writer thread. The
/// receiver gets the thread's result once every [`Writer`] is dropped and
/// the last batch is committed.
pub(super) fn start(run: Arc<Run>) -> Result<(Writer, oneshot::Receiver<Result<()>>)> {
    let file = run.store.state_file(run.profile, run.run_id)?;
    let (ops, receiver) = mpsc::unbounded_channel();
    let (done, finished) = oneshot::channel();
    std::thread::Builder::new()
        .name("mailroom-state".to_owned())
        .spawn(move || {
            let _ignored = done.send(write(&run, file, receiver));
        })
        .map_err(|e| Error::Internal(format!("the state writer could not start: {e}")))?;
    Ok((Writer { ops }, finished))
}

fn write(run: &Run, mut file: StateFile, mut receiver: mpsc::UnboundedReceiver<Op>) -> Result<()> {
    let mut received = Vec::with_capacity(BATCH);
    let mut ops = Vec::with_capacity(BATCH);
    let mut changes = Vec::with_capacity(BATCH);
    // For the log: how well group commit shares each fsync.
    let (mut commits, mut committed) = (0_u64, 0_u64);
    let mut busy = std::time::Duration::ZERO;
    // The first error that stopped a batch; from then on claims are refused.
    let mut failed: Option<Error> = None;
    loop {
        if receiver.blocking_recv_many(&mut received, BATCH) == 0 {
            let busy_ms = u64::try_from(busy.as_millis()).unwrap_or(u64::MAX);
            tracing::info!(commits, changes = committed, busy_ms, "state writer finished");
            return match failed {
                // A full disk pauses the run with its reason; not an error of the run.
                Some(e) if e.is_disk_full() => Ok(()),
                Some(e) => Err(e),
                None => Ok(()),
            };
        }
        // A claim's previous outcome goes first, as its own op.
        for op in received.drain(..) {
            match op {
                Op::Claim {
                    id,
                    version,
                    from,
                    committed,
                    previous,
                } => {
                    if let Some(previous) = previous {
                        ops.push(Op::Outcome(previous));
                    }
                    ops.push(Op::Claim {
                        id,
                        version,
                        from,
                        committed,
                        previous: None,
                    });
                }
                outcome @ Op::Outcome(_) => ops.push(outcome),
            }
        }
        if failed.is_some() {
            refuse_claims(&mut ops);
        }
        changes.clear();
        changes.extend(ops.iter().map(|op| match op {
            Op::Claim { id, version, .. } => StateChange::Claim {
                id: *id,
                version: *version,
            },
            Op::Outcome(outcome) => outcome.change.clone(),
        }));
        let started = std::time::Instant::now();
        let mut applied = if changes.is_empty() {
            Ok(())
        } else {
            file.apply(&changes)
        };
        if let Err(e) = applied {
            // Nothing of this batch is in the file: no claim may proceed.
            // The outcomes are tried again on their own, after the log
            // starts over (on a full disk that reuses its space): those
            // recipients' claims are in the file, and an outcome not
            // recorded leaves one `sending`, for the next run to call
            // uncertain.
            let disk_full = e.is_disk_full();
            tracing::error!(error = %e, disk_full, "a batch of recipient states could not be written");
            refuse_claims(&mut ops);
            if failed.is_none() {
                let reason = if disk_full {
                    PauseReason::DiskFull
                } else {
                    PauseReason::DatabaseUnwritable { detail: e.to_string() }
                };
                run.halt_with(reason);
            }
            failed.get_or_insert(e);
            changes.clear();
            changes.extend(ops.iter().filter_map(|op| match op {
                Op::Outcome(outcome) => Some(outcome.change.clone()),
                Op::Claim { .. } => None,
            }));
            file.restart_log();
            applied = if changes.is_empty() {
                Ok(())
            } else {
                file.apply(&changes)
            };
            if let Err(again) = &applied {
                tracing::error!(error = %again, outcomes = changes.len(), "outcomes not recorded; those recipients stay sending");
            }
        }
        busy += started.elapsed();
        if applied.is_err() {
            // Not recorded: not reported, and not settled (the run is ending).
            ops.clear();
            continue;
        }
        commits += 1;
        committed += changes.len() as u64;
        let mut settled = Vec::new();
        for op in ops.drain(..) {
            match op {
                Op::Claim { from, committed, .. } => {
                    {
                        let mut counts = run.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        *counts.get_mut(from) = counts.get_mut(from).saturating_sub(1);
                        counts.sending += 1;
                    }
                    // A worker that gave up waiting is gone; its claim stays
                    // and resolves like a crash's.
                    let _ignored = committed.send(true);
                }
                Op::Outcome(outcome) => {
                    settled.push(id_of(&outcome.change));
                    {
                        let mut counts = run.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        counts.sending = counts.sending.saturating_sub(1);
                        *counts.get_mut(outcome.status) += 1;
                    }
                    run.sink.event(&CampaignEvent::Recipient {
                        row: outcome.row,
                        email: outcome.email,
                        status: outcome.status,
                        reason: outcome.reason,
                        attempts: outcome.attempts,
                    });
                }
            }
        }
        run.dispatch.settle(settled);
    }
}

/// Takes the claims out of `ops`; dropping each one's sender tells its
/// worker that the claim is not in the file (so its message must not go out).
fn refuse_claims(ops: &mut Vec<Op>) {
    ops.retain(|op| matches!(op, Op::Outcome(_)));
}

fn id_of(change: &StateChange) -> i64 {
    match change {
        StateChange::Claim { id, .. }
        | StateChange::Sent { id, .. }
        | StateChange::Retry { id, .. }
        | StateChange::Postpone { id, .. }
        | StateChange::Failed { id, .. }
        | StateChange::Unclaim { id, .. }
        | StateChange::Uncertain { id, .. } => *id,
    }
}
