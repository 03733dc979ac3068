//! The one shape of progress: work (an import, a Test connection, a campaign)
//! pushes its events into a [`Sink`], whose answer can stop the work, and
//! [`Coalescer`] turns any stream of them into at most one delivery per
//! interval for a window.
//!
//! Modelled on ripgrep's `Sink`: the work drives, the caller's sink is
//! pushed each event and answers [`Flow::Stop`] to end it. Work that waits
//! between events (a connect, a read) also watches [`Sink::stop_signal`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The shortest time between two deliveries to a window: ten a second keep
/// it live without flooding its IPC at any send rate.
pub const WINDOW_INTERVAL: Duration = Duration::from_millis(100);

/// A sink's answer to an event: whether the work goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Go,
    Stop,
}

/// Receives one piece of work's events, pushed as they happen. Called from
/// the work's tasks: keep it quick (forward to a channel, print a line).
pub trait Sink<E>: Send + Sync {
    /// One event; [`Flow::Stop`] asks the work to stop (an import is then
    /// cancelled and nothing of it saved, a Test connection ends with a
    /// cancelled step). Work that cannot stop there (a campaign, which
    /// stops through its `RunControl`) goes on.
    fn event(&self, event: &E) -> Flow;

    /// Cancelled when the sink wants the work to stop while it waits between
    /// events. By default never.
    fn stop_signal(&self) -> CancellationToken {
        CancellationToken::new()
    }
}

/// A closure is a sink that never stops the work.
impl<E, F: Fn(&E) + Send + Sync> Sink<E> for F {
    fn event(&self, event: &E) -> Flow {
        self(event);
        Flow::Go
    }
}

/// A sink that hears nothing and never stops the work.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ignore;

impl<E> Sink<E> for Ignore {
    fn event(&self, _event: &E) -> Flow {
        Flow::Go
    }
}

/// `sink`, stopped also when its token is cancelled: how the session's
/// registries (Cancel in the window, Ctrl-C in the CLI) stop an import or a
/// test that a front end's sink would let go on.
pub struct Cancellable<'a, E> {
    sink: &'a dyn Sink<E>,
    token: CancellationToken,
}

impl<'a, E> Cancellable<'a, E> {
    /// The token is a child of `sink`'s own signal, so either stops the work.
    pub fn new(sink: &'a dyn Sink<E>) -> Self {
        let token = sink.stop_signal().child_token();
        Cancellable { sink, token }
    }

    /// Cancelling this stops the work.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }
}

impl<E> std::fmt::Debug for Cancellable<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancellable")
            .field("cancelled", &self.token.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl<E> Sink<E> for Cancellable<'_, E> {
    fn event(&self, event: &E) -> Flow {
        let flow = self.sink.event(event);
        if flow == Flow::Stop || self.token.is_cancelled() {
            Flow::Stop
        } else {
            Flow::Go
        }
    }

    fn stop_signal(&self) -> CancellationToken {
        self.token.clone()
    }
}

/// What a [`Coalescer`] may do with an event when events come faster than
/// it delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A snapshot of where the work is: only the newest is delivered.
    Snapshot,
    /// One of many alike (a recipient's outcome): the newest few are
    /// delivered, the rest counted in [`Batch::omitted`].
    Sample,
    /// Always delivered, in order (a pause, a Test connection step).
    Notable,
    /// The work's last event: delivered (after everything before it), and
    /// the coalescer delivers nothing after it.
    Last,
}

/// An event type a [`Coalescer`] can batch.
pub trait Coalesce: Clone + Send + 'static {
    fn kind(&self) -> Kind;
}

/// One delivery to a window: events in the order they happened, except that
/// samples come after notable events and the snapshot after both.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Batch<E> {
    pub events: Vec<E>,
    /// Samples left out of this batch (a campaign's counts still hold them).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub omitted: u64,
}

impl<E> Default for Batch<E> {
    fn default() -> Self {
        Batch {
            events: Vec::new(),
            omitted: 0,
        }
    }
}

struct Pending<E> {
    snapshot: Option<E>,
    notable: Vec<E>,
    samples: VecDeque<E>,
    omitted: u64,
    last: Option<E>,
    /// Set when the last event was taken or the coalescer dropped: nothing
    /// is delivered after.
    done: bool,
}

impl<E> Default for Pending<E> {
    fn default() -> Self {
        Pending {
            snapshot: None,
            notable: Vec::new(),
            samples: VecDeque::new(),
            omitted: 0,
            last: None,
            done: false,
        }
    }
}

impl<E> Pending<E> {
    /// The batch due now, and whether it ends the work's deliveries.
    fn take(&mut self) -> (Batch<E>, bool) {
        let mut events = std::mem::take(&mut self.notable);
        events.extend(self.samples.drain(..));
        events.extend(self.snapshot.take());
        let last = self.last.take();
        let ends = last.is_some();
        events.extend(last);
        let batch = Batch {
            events,
            omitted: std::mem::take(&mut self.omitted),
        };
        (batch, ends)
    }
}

type Forward<E> = Box<dyn FnMut(Batch<E>) + Send>;

struct Shared<E> {
    pending: Mutex<Pending<E>>,
    /// Held while a batch is taken and forwarded, so batches go out in order
    /// whether the task or the final flush sends them.
    forward: Mutex<Forward<E>>,
    wake: Notify,
}

impl<E> Shared<E> {
    /// Takes what is pending and forwards it (if anything); whether the
    /// deliveries have ended.
    fn deliver(&self, closing: bool) -> bool {
        let mut forward = lock(&self.forward);
        let (batch, ends) = {
            let mut pending = lock(&self.pending);
            if pending.done {
                return true;
            }
            let (batch, ends) = pending.take();
            pending.done = ends || closing;
            (batch, pending.done)
        };
        if !batch.events.is_empty() || batch.omitted > 0 {
            (*forward)(batch);
        }
        ends
    }
}

/// A [`Sink`] that batches: the first event of a quiet period is delivered
/// at once, later ones wait so that at most one [`Batch`] goes out per
/// interval, holding the newest snapshot, every notable event, the newest
/// few samples and the last event. Dropping it delivers what is still
/// pending at once (so a front end hears the work's final state before its
/// result); it never stops the work.
pub struct Coalescer<E: Coalesce> {
    shared: Arc<Shared<E>>,
    keep_samples: usize,
}

impl<E: Coalesce> Coalescer<E> {
    /// At most one batch per `interval`, each with up to `keep_samples`
    /// samples; `forward` gets each batch. Needs a tokio runtime.
    pub fn start(interval: Duration, keep_samples: usize, forward: impl FnMut(Batch<E>) + Send + 'static) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            forward: Mutex::new(Box::new(forward) as Forward<E>),
            wake: Notify::new(),
        });
        let task = shared.clone();
        tokio::spawn(async move {
            loop {
                task.wake.notified().await;
                if task.deliver(false) {
                    break;
                }
                // The interval starts after a delivery: bursts wait, the
                // first event of a quiet period goes at once.
                tokio::time::sleep(interval).await;
            }
        });
        Coalescer { shared, keep_samples }
    }

    /// The coalescer for a window: at most [`WINDOW_INTERVAL`]'s ten batches
    /// a second.
    pub fn for_window(keep_samples: usize, forward: impl FnMut(Batch<E>) + Send + 'static) -> Self {
        Coalescer::start(WINDOW_INTERVAL, keep_samples, forward)
    }

    /// Delivers what is pending now and ends the deliveries (as dropping does).
    pub fn finish(self) {}
}

impl<E: Coalesce> Sink<E> for Coalescer<E> {
    fn event(&self, event: &E) -> Flow {
        let mut p = lock(&self.shared.pending);
        if p.done {
            // Nothing goes out after the last event: keep nothing either.
            return Flow::Go;
        }
        match event.kind() {
            Kind::Snapshot => p.snapshot = Some(event.clone()),
            Kind::Sample => {
                p.samples.push_back(event.clone());
                if p.samples.len() > self.keep_samples {
                    p.samples.pop_front();
                    p.omitted += 1;
                }
            }
            Kind::Notable => p.notable.push(event.clone()),
            Kind::Last => p.last = Some(event.clone()),
        }
        drop(p);
        self.shared.wake.notify_one();
        Flow::Go
    }
}

impl<E: Coalesce> Drop for Coalescer<E> {
    fn drop(&mut self) {
        self.shared.deliver(true);
        // Ends the task, which finds the deliveries done.
        self.shared.wake.notify_one();
    }
}

impl<E: Coalesce> std::fmt::Debug for Coalescer<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("keep_samples", &self.keep_samples)
            .finish_non_exhaustive()
    }
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
