//! The sending pool: one worker per connection, all on one thread of their
//! own that runs a single-threaded tokio runtime.
//!
//! Why not the caller's runtime: the workers spend their time waiting, on the
//! network and on the state writer's commits, and each message wakes a
//! worker two or three times. On a multi-threaded runtime many of those
//! wake-ups cross threads (an idle worker thread is unparked, others spin
//! looking for work to steal); measured on the 20,000-message benchmark that
//! was a sixth of the CPU per message (docs/BENCHMARKS.md). One thread does
//! the same work with none of that, and the app's and the CLI's runtimes are
//! left to their own tasks.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::Run;
use super::worker;
use super::writer::Writer;
use crate::error::Error;
use crate::outcome::PauseReason;

/// Where a run's workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// On a thread of their own (see the module's docs): how runs send.
    OwnThread,
    /// On the caller's runtime, so that they share its clock: the worker's
    /// tests, whose scripted transport waits on tokio's paused time.
    #[cfg(test)]
    CallersRuntime,
}

/// Runs the workers until each has finished; returns the first error one
/// met (each has also halted the run with its reason).
///
/// Dropping the returned future before it completes halts the run: the
/// workers finish the messages in hand and stop, as on a pause, instead of
/// sending on with nobody watching.
pub(super) async fn run(run: Arc<Run>, writer: Writer) -> Option<Error> {
    match run.workers {
        Placement::OwnThread => {}
        #[cfg(test)]
        Placement::CallersRuntime => {
            let halt_if_dropped = run.halt.clone().drop_guard();
            let result = join_workers(run, writer).await;
            halt_if_dropped.disarm();
            return result;
        }
    }
    let (done, finished) = oneshot::channel();
    let thread_run = run.clone();
    let spawned = std::thread::Builder::new()
        .name("mailroom-send".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ignored = done.send(Some(failed_to_start(&thread_run, &e.to_string())));
                    return;
                }
            };
            let result = runtime.block_on(join_workers(thread_run, writer));
            let _ignored = done.send(result);
            // A worker may have left a blocking task behind (a DNS lookup
            // that outlived its timeout); the run is over, do not wait for it.
            runtime.shutdown_background();
        });
    if let Err(e) = spawned {
        return Some(failed_to_start(&run, &e.to_string()));
    }
    let halt_if_dropped = run.halt.clone().drop_guard();
    let result = finished
        .await
        .unwrap_or_else(|_| Some(Error::Internal("the sending thread ended unexpectedly".to_owned())));
    halt_if_dropped.disarm();
    result
}

async fn join_workers(run: Arc<Run>, writer: Writer) -> Option<Error> {
    let mut workers = JoinSet::new();
    for index in 0..run.account.connections.max(1) {
        workers.spawn(worker::work(run.clone(), writer.clone(), index));
    }
    // The writer ends once the last worker's copy is dropped.
    drop(writer);
    let mut failure = None;
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                run.halt_with(PauseReason::Error {
                    error: e.kind(),
                    detail: e.to_string(),
                });
                failure.get_or_insert(e);
            }
            Err(e) => {
                run.halt_with(PauseReason::Internal {
                    detail: format!("a sending task failed: {e}"),
                });
                failure.get_or_insert(Error::Internal(format!("worker: {e}")));
            }
        }
    }
    failure
}

fn failed_to_start(run: &Run, problem: &str) -> Error {
    let message = format!("the sending thread could not start: {problem}");
    run.halt_with(PauseReason::Internal {
        detail: message.clone(),
    });
    Error::Internal(message)
}
