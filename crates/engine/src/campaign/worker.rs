//! One sending worker: it holds one connection (a
//! [`Transport`](super::transport::Transport): SMTP, or a test's script) for
//! up to "messages per connection", takes recipients from the dispatcher,
//! and for each waits for the rate and the quotas, claims it, renders and
//! opens the transaction while the claim is committed, sends the content
//! once it is, and classifies the result by SPEC's error taxonomy.
//!
//! A message's outcome is held back until the next claim and committed with
//! it: one `fsync` instead of two per message, and a crash still leaves at
//! most one recipient per connection `sending` (the claim and the previous
//! outcome are in the same transaction). The held outcome is handed over
//! alone before anything that may wait (the next recipient, the rate, a
//! quota, a connection), so a slow step never delays a report.
//!
//! When the server pipelines and the next recipient and its send slot are at
//! hand, that recipient's envelope goes out in the same write as this
//! message's content, and the server answers both at once: one round trip
//! per message instead of two. The next recipient is claimed only after
//! that answer, with this message's outcome, so still one commit per
//! message and one uncertain recipient per connection at most.
//!
//! Once a message's content has gone out, only the server's answer says
//! what became of it. Without one (a timeout, a lost connection, an answer
//! that is not SMTP) the send is *ambiguous*: the server may have it. The
//! recipient is then never failed and never silently sent again: it becomes
//! `uncertain` for a person to decide, or, with the account's
//! `retry_ambiguous`, waits to be sent again with the same Message-ID and
//! message version, its history saying it may get it twice.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use super::dispatch::Job;
use super::gate::{Blocked, Gate};
use super::outage::Next;
use super::transport::{Envelope, FinishedAndBegun, Transport};
use super::writer::{Outcome, PendingClaim, Refused, Writer};
use super::{CampaignEvent, Run, count_ambiguous, count_failure};
use crate::error::Result;
use crate::message::{CompiledMessage, RecipientData, RenderedMessage};
use crate::model::RecipientStatus;
use crate::outcome::{PauseReason, RecipientReason};
use crate::smtp::reply::Reply;
use crate::smtp::rules::{Rule, RuleAction};
use crate::smtp::{Failure, FailureClass, Problem, Stage};
use crate::store::{AttemptOutcome, AttemptRecord, AttemptStage, StateChange};

/// An open connection and how many messages it carried.
struct Held {
    connection: Box<dyn Transport>,
    sent: u32,
}

/// The next recipient, whose transaction is already open on the held
/// connection: its envelope went out in the same write as the previous
/// message's content ([`Transport::finish_and_begin`]), and `envelope` is
/// the server's answer. Its send slot (rate, quotas) is used; it is not
/// claimed yet, and nothing of its content has been sent.
struct Opened {
    job: Job,
    rendered: RenderedMessage,
    envelope: std::result::Result<(), Failure>,
    /// When its place in the quotas was taken (see [`Ahead`]).
    slot_at: i64,
    /// When its rate slot was taken, right before its envelope went out
    /// with the previous content: what the server's rate limit counted.
    sent_at: tokio::time::Instant,
}

/// A recipient taken ahead with its send slot ([`look_ahead`]): `slot_at`
/// is when (store clock, ms) its place in the quotas was taken, to return it
/// if the recipient goes back unclaimed.
struct Ahead {
    job: Job,
    rendered: RenderedMessage,
    slot_at: i64,
    sent_at: tokio::time::Instant,
}

pub(super) async fn work(run: Arc<Run>, writer: Writer, index: u32) -> Result<()> {
    let mut finished = None;
    let worked = send_all(&run, &writer, index, &mut finished).await;
    // Whatever ended the loop, the last outcome is recorded.
    hand_over(&writer, &mut finished)?;
    worked
}

/// The worker's loop; `finished` is the outcome held for the next claim.
async fn send_all(run: &Run, writer: &Writer, index: u32, finished: &mut Option<Outcome>) -> Result<()> {
    let mut held: Option<Held> = None;
    // The next recipient, when its envelope went out with the last content.
    // Only ever set while `held` is the connection it is open on.
    let mut opened: Option<Opened> = None;
    let mut connect_failures = 0_u32;
    // Workers start a little apart so N connections do not open in one burst.
    tokio::time::sleep(Duration::from_millis(u64::from(index) * 20)).await;
    loop {
        if run.stopping() {
            break;
        }
        // A rule asked for fewer connections: the highest-numbered workers leave.
        if index >= run.connections_allowed.load(Ordering::SeqCst) {
            break;
        }
        if let Some(until) = run.suspended_until() {
            // A rule suspended the account: nothing goes out until then, and
            // no connection is held open meanwhile.
            hand_over(writer, finished)?;
            if let Some(Opened { job, slot_at, .. }) = opened.take() {
                give_back_with_slot(run, job, slot_at).await;
                drop(held.take());
            }
            if let Some(old) = held.take() {
                old.connection.quit().await;
            }
            // Not trying the server meanwhile: an outage before the wait is
            // not one after it (its clock would pause the run at once), and
            // the window shows the suspension, not "waiting for the server".
            run.server_back();
            connect_failures = 0;
            if !wait_until(run, until).await {
                break;
            }
            continue;
        }
        // Outside the campaign's send windows nothing new starts: the
        // connection is closed (hours idle would lose it anyway) and the
        // worker sleeps until the next window opens. A recipient whose
        // envelope already went out with the last content (the window
        // closed while that content was answered) goes back unclaimed, its
        // transaction dropped with the connection.
        if run.windows.closed_until(run.store.now_ms()).is_some() {
            hand_over(writer, finished)?;
            if let Some(Opened { job, slot_at, .. }) = opened.take() {
                give_back_with_slot(run, job, slot_at).await;
            }
            drop(held.take());
            // As for a suspension: the outage clock does not run while the
            // window is closed.
            run.server_back();
            connect_failures = 0;
            if !wait_for_window(run).await {
                break;
            }
            continue;
        }
        if held.is_none() {
            hand_over(writer, finished)?;
            match open(run).await {
                Some(Ok(connection)) => {
                    connect_failures = 0;
                    run.crowded_in_a_row.store(0, Ordering::SeqCst);
                    run.server_back();
                    held = Some(Held { connection, sent: 0 });
                }
                Some(Err(failure)) => {
                    // A reply that refused the connection (at the greeting,
                    // EHLO or AUTH) is the rules' first: the server is there
                    // and said what it wants.
                    let failure = match run.rules.decide(&failure) {
                        Some(rule) => {
                            let failure = Failure {
                                rule: Some(rule.id.clone()),
                                ..failure
                            };
                            match act_on_open_rule(run, rule, &failure).await {
                                OpenRule::Waits => {
                                    connect_failures = 0;
                                    continue;
                                }
                                OpenRule::Paused => break,
                                OpenRule::AsUsual => failure,
                            }
                        }
                        None => failure,
                    };
                    if failure.class() == FailureClass::PermanentForCampaign {
                        run.halt_with(server_pause(&failure, run));
                        break;
                    }
                    connect_failures += 1;
                    let elapsed = run.outage_began().elapsed();
                    let reached = run.reached.load(Ordering::SeqCst);
                    match run.outage_policy().after_failure(connect_failures, elapsed, reached) {
                        Next::Pause { limit_reached } => {
                            run.halt_with(if limit_reached {
                                PauseReason::OutageTooLong {
                                    attempts: connect_failures,
                                    failure,
                                    host: run.account.host.clone(),
                                    port: run.account.port,
                                    limit_ms: run.account.outage_limit_ms,
                                }
                            } else {
                                PauseReason::Unreachable {
                                    attempts: connect_failures,
                                    failure,
                                    host: run.account.host.clone(),
                                    port: run.account.port,
                                }
                            });
                            break;
                        }
                        Next::Retry { wait, attempt, of } => {
                            let retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                            run.waiting_for_server(wait, attempt, of, failure.clone());
                            run.sink.event(&CampaignEvent::ConnectionTrouble {
                                failure,
                                host: run.account.host.clone(),
                                port: run.account.port,
                                retry_in_ms,
                                attempt,
                                of,
                            });
                            tokio::select! {
                                () = tokio::time::sleep(wait) => {}
                                () = run.stopped() => break,
                            }
                            continue;
                        }
                    }
                }
                None => break,
            }
        }

        let (job, version, message, prepared) = match opened.take() {
            Some(Opened {
                job,
                rendered,
                envelope,
                sent_at,
                ..
            }) => (
                job,
                run.version,
                run.message.clone(),
                Some(Begun {
                    rendered,
                    envelope,
                    sent_at,
                }),
            ),
            None => {
                let Some(job) = unless_waiting(run.dispatch.next(&run.halt), writer, finished).await?? else {
                    break;
                };
                // The version it must get: the one the server may already
                // have, if an attempt went unanswered; else this run's.
                let version = job.recipient.version_to_send(run.version);
                let message = match unless_waiting(run.message_for(version), writer, finished).await? {
                    Ok(message) => message,
                    Err(e) => {
                        run.halt_with(PauseReason::VersionUnavailable {
                            row: job.recipient.row,
                            version,
                            detail: e.to_string(),
                        });
                        run.dispatch.give_back(job).await;
                        break;
                    }
                };
                // A pause, a suspension or the end of a window that began
                // while this waited (for a retry to come due, for the rate
                // or a quota) keeps it back: not claimed, so it goes back,
                // and the top of the loop stops or waits as it says.
                let Ok(_) = unless_waiting(wait_for_slot(run), writer, finished).await? else {
                    run.dispatch.give_back(job).await;
                    continue;
                };
                (job, version, message, None)
            }
        };
        let claim = writer.claim(&job, version, finished.take())?;
        let Some(current) = held.as_mut() else {
            // Unreachable: a connection is opened above. Keep the recipient safe anyway.
            if claim.durable().await.is_ok() {
                writer.record(unclaim(&job, None))?;
            }
            continue;
        };
        let Ok(Attempted {
            outcome,
            connection,
            next,
        }) = send_one(run, &job, &message, current, claim, prepared).await
        else {
            // The claim is not in the file (the run pauses: the file cannot
            // be written), so nothing of the message went out. An envelope
            // may be open on the connection: drop it, as on a pause.
            drop(held.take());
            break;
        };
        *finished = Some(outcome);
        if let Some(next) = next {
            match connection {
                Afterwards::Reusable => opened = Some(next),
                Afterwards::Closes => give_back_with_slot(run, next.job, next.slot_at).await,
            }
        }
        match connection {
            Afterwards::Closes => {
                // A connection after a failure is closed without ceremony;
                // QUIT could wait on a server that is already gone.
                drop(held.take());
            }
            Afterwards::Reusable => {
                if opened.is_none()
                    && held
                        .as_ref()
                        .is_some_and(|h| h.sent >= run.per_connection.load(Ordering::SeqCst))
                    && let Some(old) = held.take()
                {
                    old.connection.quit().await;
                }
            }
        }
    }
    if let Some(Opened { job, slot_at, .. }) = opened.take() {
        // Its transaction is open and the server waits for content: QUIT
        // now would be taken for the message. Dropping the connection ends
        // the transaction with nothing delivered.
        give_back_with_slot(run, job, slot_at).await;
        drop(held.take());
    }
    if let Some(old) = held.take() {
        old.connection.quit().await;
    }
    Ok(())
}

/// Puts a recipient taken with its send slot ([`look_ahead`]) but never
/// claimed back in the queue, and its place in the quotas (taken at
/// `slot_at`) with it. The rate's slot stays used: that only spaces the next
/// message a little more.
async fn give_back_with_slot(run: &Run, job: Job, slot_at: i64) {
    run.limits.quotas.lock().await.give_back(slot_at);
    run.dispatch.give_back(job).await;
}

/// Awaits `future`; if it is not ready at once, first hands the held outcome
/// to the writer, so that it is committed and reported while this waits.
async fn unless_waiting<F: Future>(future: F, writer: &Writer, finished: &mut Option<Outcome>) -> Result<F::Output> {
    let mut future = std::pin::pin!(future);
    let polled = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    match polled {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => {
            hand_over(writer, finished)?;
            Ok(future.await)
        }
    }
}

/// Gives the held outcome, if any, to the writer on its own.
fn hand_over(writer: &Writer, finished: &mut Option<Outcome>) -> Result<()> {
    match finished.take() {
        Some(outcome) => writer.record(outcome),
        None => Ok(()),
    }
}

/// Opens a connection, unless the run stops first (`None`).
async fn open(run: &Run) -> Option<Result<Box<dyn Transport>, Failure>> {
    tokio::select! {
        opened = run.connector.open(run.connection.clone()) => Some(opened),
        () = run.stopped() => None,
    }
}

/// Waits until the campaign's send window is open; `false` if the run stops
/// meanwhile. The wall clock is read again at least every
/// `RunOptions::window_recheck`: tokio's clock stands still while the
/// computer sleeps, and a person may change the system clock or zone.
async fn wait_for_window(run: &Run) -> bool {
    loop {
        let now = run.store.now_ms();
        let Some(opens_at) = run.windows.closed_until(now) else {
            return true;
        };
        if run.window_announced.swap(opens_at, Ordering::SeqCst) != opens_at {
            tracing::info!(campaign = run.campaign, opens_at, "waiting for the send window");
            run.sink.event(&CampaignEvent::WindowWait {
                opens_at,
                time_zone: run.windows.zone_name().to_owned(),
            });
        }
        let for_ms = u64::try_from(opens_at - now).unwrap_or(0).max(1);
        let nap = Duration::from_millis(for_ms).min(run.options.window_recheck);
        tokio::select! {
            () = tokio::time::sleep(nap) => {}
            () = run.stopped() => return false,
        }
    }
}

/// Waits for the rate and every quota; when the quotas' place was taken
/// (store clock, ms), or what began meanwhile that keeps the message back
/// (a pause, a suspension, a closed window: see [`Gate`]).
async fn wait_for_slot(run: &Run) -> std::result::Result<i64, Blocked> {
    let now = || run.store.now_ms();
    let suspended = || run.suspended_until();
    // A long quota wait suspends the account (kept), and hands over to
    // another of the campaign's accounts when one can send (see `failover`).
    let on_quota_wait = |wait: super::throttle::QuotaWait| -> super::gate::QuotaHook<'_> {
        Box::pin(async move {
            if super::failover::quota_used(run, &wait).await {
                return true;
            }
            run.sink.event(&CampaignEvent::QuotaWait {
                until: wait.until,
                window: wait.window,
                limit: wait.limit,
            });
            false
        })
    };
    let gate = Gate {
        rate: &run.limits.rate,
        quotas: &run.limits.quotas,
        halt: &run.halt,
        suspended_until: &suspended,
        windows: &run.windows,
        now_ms: &now,
        on_quota_wait: &on_quota_wait,
    };
    gate.wait_for_slot().await
}

/// What sending one message came to ([`send_one`]).
struct Attempted {
    /// The recipient's outcome, to record (with the next claim).
    outcome: Outcome,
    /// Whether the connection can carry the next message.
    connection: Afterwards,
    /// The next recipient, when its envelope went out with this content.
    next: Option<Opened>,
}

/// What becomes of the connection after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Afterwards {
    /// It is in step with the server and may carry the next message.
    Reusable,
    /// It is lost, closing, out of step, or a rule wants it closed.
    Closes,
}

/// A message whose envelope is open, or was refused, on the held
/// connection: the content follows once the claim is in the file.
struct Begun {
    rendered: RenderedMessage,
    /// The server's answer to the envelope.
    envelope: std::result::Result<(), Failure>,
    /// When its rate slot was taken: what the server's rate limit counted.
    sent_at: tokio::time::Instant,
}

/// When a message's attempt began (store clock, ms), how long it took, and
/// when its rate slot was taken (what the server's rate limit counted).
#[derive(Debug, Clone, Copy)]
struct Timing {
    started_at: i64,
    duration_ms: i64,
    sent_at: tokio::time::Instant,
}

/// Renders `message` for one recipient whose claim is on its way into the
/// file, and sends it: [`begin`] (render, envelope) → [`transmit`] (the
/// content, with the next envelope when it can ride along) → [`conclude`]
/// (the outcome). `Err` if the claim could not be recorded: then nothing
/// of the message was sent, and the run is pausing.
///
/// The claim's commit (a disk sync) runs while the message is made and its
/// envelope (MAIL, RCPT, DATA) goes out; only the content waits for it (and
/// for its place on the wire, see
/// [`AdaptiveRate::before_wire`](super::throttle::AdaptiveRate::before_wire)).
/// `prepared` is the message and the envelope's answer when the envelope
/// already went out ([`Opened`]). A crash before the content leaves the
/// server an empty transaction, which it drops, and the recipient `pending`.
async fn send_one(
    run: &Run,
    job: &Job,
    message: &CompiledMessage,
    held: &mut Held,
    claim: PendingClaim,
    prepared: Option<Begun>,
) -> std::result::Result<Attempted, Refused> {
    let started_at = run.store.now_ms();
    let clock = tokio::time::Instant::now();
    // Not one byte of the content before the claim is in the file (SPEC
    // invariant 2): a crash must find this recipient `sending`. Both ways
    // wait for `durable` before the content.
    let begun = match prepared {
        Some(begun) => {
            claim.durable().await?;
            begun
        }
        None => match begin(run, job, message, held, claim, started_at, clock).await? {
            Ok(begun) => begun,
            Err(unrenderable) => return Ok(unrenderable),
        },
    };
    let Begun {
        rendered,
        envelope,
        sent_at,
    } = begun;
    // From here on the content goes out: a failure without the server's
    // answer may leave the server with the message (ambiguous).
    let content_sent = envelope.is_ok();
    let (answer, next) = match envelope {
        Ok(()) => transmit(run, held, &rendered).await,
        Err(failure) => (Err(failure), None),
    };
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let timing = Timing {
        started_at,
        duration_ms,
        sent_at,
    };
    let (outcome, connection) = conclude(run, job, held, answer, content_sent, timing).await;
    Ok(Attempted {
        outcome,
        connection,
        next,
    })
}

/// Renders the message for `job` and opens its transaction on the held
/// connection while its claim commits; waits for the commit. `Ok(Err(_))`
/// when the message cannot be made for this recipient: it fails (nothing
/// was sent, and the connection is untouched).
async fn begin(
    run: &Run,
    job: &Job,
    message: &CompiledMessage,
    held: &mut Held,
    claim: PendingClaim,
    started_at: i64,
    clock: tokio::time::Instant,
) -> std::result::Result<std::result::Result<Begun, Attempted>, Refused> {
    let recipient = &job.recipient;
    let rendered = match message.render(RecipientData::from(recipient)) {
        Ok(rendered) => rendered,
        Err(problem) => {
            // The row is the recipient's own, shown beside it.
            let problem = crate::message::TemplateError { row: None, ..problem };
            let reason = RecipientReason::Unrenderable {
                detail: problem.to_string(),
                problem: Some(problem.clone()),
            };
            let attempt = AttemptRecord {
                started_at,
                duration_ms: 0,
                outcome: AttemptOutcome::Permanent,
                stage: AttemptStage::Render,
                code: None,
                enhanced_code: None,
                text: problem.to_string(),
            };
            claim.durable().await?;
            count_failure(run, &reason);
            return Ok(Err(Attempted {
                outcome: fail(job, reason, attempt),
                connection: Afterwards::Reusable,
                next: None,
            }));
        }
    };
    let to = [recipient.email.trim()];
    let envelope = Envelope {
        from: &run.envelope_from,
        to: &to,
        size: rendered.bytes.len(),
    };
    let (durable, envelope) = tokio::join!(claim.durable(), held.connection.begin(envelope));
    durable?;
    Ok(Ok(Begun {
        rendered,
        envelope,
        sent_at: clock,
    }))
}

/// Sends the open transaction's content, paced by the rate, and with it the
/// envelope of this connection's next recipient when one can ride along
/// ([`look_ahead`]). Returns the server's answer to the content, and the
/// next recipient when its envelope was answered (one taken ahead whose
/// envelope got no answer goes back, with its quota slot).
async fn transmit(
    run: &Run,
    held: &mut Held,
    rendered: &RenderedMessage,
) -> (std::result::Result<Reply, Failure>, Option<Opened>) {
    // The content is what the server counts, so that is what is
    // spaced: a claim's commit can take longer for one message than
    // the next, and must not bunch them.
    run.limits.rate.before_wire().await;
    let Some(Ahead {
        job,
        rendered: next_rendered,
        slot_at,
        sent_at,
    }) = look_ahead(run, held).await
    else {
        return (held.connection.finish(&rendered.bytes).await, None);
    };
    let to = [job.recipient.email.trim()];
    let envelope = Envelope {
        from: &run.envelope_from,
        to: &to,
        size: next_rendered.bytes.len(),
    };
    let FinishedAndBegun { finished, next } = held.connection.finish_and_begin(&rendered.bytes, envelope).await;
    match next {
        Some(envelope) => (
            finished,
            Some(Opened {
                job,
                rendered: next_rendered,
                envelope,
                slot_at,
                sent_at,
            }),
        ),
        None => {
            give_back_with_slot(run, job, slot_at).await;
            (finished, None)
        }
    }
}

/// The outcome of a message from the server's answer to it (or the failure
/// before it), and whether its connection carries on.
async fn conclude(
    run: &Run,
    job: &Job,
    held: &mut Held,
    answer: std::result::Result<Reply, Failure>,
    content_sent: bool,
    timing: Timing,
) -> (Outcome, Afterwards) {
    let Timing {
        started_at,
        duration_ms,
        sent_at,
    } = timing;
    let recipient = &job.recipient;
    let attempts = recipient.attempts + 1;
    let failure = match answer {
        Ok(reply) => {
            run.limits.rate.accepted(sent_at);
            held.sent += 1;
            // From now on an outage is waited out (up to the account's limit):
            // this server does accept this run's mail.
            run.reached.store(true, Ordering::SeqCst);
            run.failures_in_a_row.store(0, Ordering::SeqCst);
            run.ambiguous_in_a_row.store(0, Ordering::SeqCst);
            // An earlier attempt went unanswered: the server may have kept
            // that copy too.
            let note = (recipient.unanswered > 0).then_some(RecipientReason::SentMaybeTwice);
            let sent = outcome(
                job,
                StateChange::Sent {
                    id: recipient.id,
                    reply: reply.to_string(),
                    note: note.clone(),
                    duration_ms,
                },
                RecipientStatus::Sent,
                note,
                attempts,
            );
            return (sent, Afterwards::Reusable);
        }
        Err(failure) => failure,
    };
    let attempt = AttemptRecord {
        started_at,
        duration_ms,
        outcome: attempt_outcome(&failure, content_sent),
        stage: attempt_stage(&failure),
        code: failure.code,
        enhanced_code: failure.enhanced_code.clone(),
        text: failure.text.clone(),
    };
    if is_ambiguous(&failure, content_sent) {
        // Nothing more is read on a connection whose last answer is
        // missing: the next reply could be this one's, late.
        return (handle_ambiguous(run, job, &failure, attempt), Afterwards::Closes);
    }
    if content_sent {
        // The server answered the content: it is not adrift.
        run.ambiguous_in_a_row.store(0, Ordering::SeqCst);
    }
    let keep = connection_survives(&failure);
    // "421 too many messages" on a connection that already carried
    // some is a per-connection limit, not a rate: open fresh
    // connections sooner instead of slowing down.
    let connection_limit = failure.code == Some(421) && failure.stage == Stage::Mail && held.sent > 0;
    if connection_limit {
        let previous = run.per_connection.fetch_min(held.sent, Ordering::SeqCst);
        if held.sent < previous {
            tracing::info!(
                messages = held.sent,
                "the server limits messages per connection; following it"
            );
        }
    }
    let decided = handle_failure(run, job, &failure, attempt, connection_limit, sent_at).await;
    let connection = if keep && !decided.close {
        Afterwards::Reusable
    } else {
        Afterwards::Closes
    };
    (decided.outcome, connection)
}

/// The content went out and no answer came: the server may have the
/// message. By default the recipient is `uncertain`, for a person to
/// decide; with the account's `retry_ambiguous` it is sent again (same
/// Message-ID, same message version) while it has attempts left. Never
/// `failed`.
fn handle_ambiguous(run: &Run, job: &Job, failure: &Failure, attempt: AttemptRecord) -> Outcome {
    let recipient = &job.recipient;
    let attempts = recipient.attempts + 1;
    if failure.class() == FailureClass::PermanentForCampaign {
        // An answer that is not SMTP: nothing more is sent to this server
        // until a person looks.
        run.halt_with(server_pause(failure, run));
    }
    count_ambiguous(run, failure);
    let allowed = run.account.retries.max(1);
    if run.account.retry_ambiguous && attempts < allowed {
        let reason = RecipientReason::NoAnswerResending {
            failure: failure.clone(),
        };
        let wait = run.backoff(attempts);
        let next_attempt_at = run.store.now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
        return outcome(
            job,
            StateChange::Retry {
                id: recipient.id,
                next_attempt_at,
                reason: reason.clone(),
                attempt,
            },
            RecipientStatus::RetryWait,
            Some(reason),
            attempts,
        );
    }
    let reason = RecipientReason::NoAnswer {
        failure: failure.clone(),
    };
    uncertain(job, reason, attempt)
}

/// `job`'s recipient may or may not have the message: a person decides.
fn uncertain(job: &Job, reason: RecipientReason, attempt: AttemptRecord) -> Outcome {
    outcome(
        job,
        StateChange::Uncertain {
            id: job.recipient.id,
            reason: reason.clone(),
            attempt,
        },
        RecipientStatus::Uncertain,
        Some(reason),
        job.recipient.attempts + 1,
    )
}

/// Takes this connection's next recipient, when it can travel with the
/// content about to be sent: the server pipelines, the connection may carry
/// one more message, a recipient is queued and its send slot (rate and
/// quotas) is free right now, and its message renders. Anything that would
/// wait leaves it to the next round, which waits as usual.
async fn look_ahead(run: &Run, held: &Held) -> Option<Ahead> {
    if !held.connection.can_begin_with_content()
        || run.stopping()
        || held.sent.saturating_add(2) > run.per_connection.load(Ordering::SeqCst)
        || run.windows.closed_until(run.store.now_ms()).is_some()
    {
        return None;
    }
    let job = run.dispatch.try_next()?;
    if job.recipient.version_to_send(run.version) != run.version {
        // It must get an earlier version, which may need loading: its own round.
        run.dispatch.give_back(job).await;
        return None;
    }
    let slot_at = run.store.now_ms();
    let slot = run.limits.rate.check().is_none() && run.limits.quotas.lock().await.take(slot_at).is_ok();
    if !slot {
        // No quota place was taken (a rate slot may have been: see
        // `give_back_with_slot`).
        run.dispatch.give_back(job).await;
        return None;
    }
    match run.message.render(RecipientData::from(&job.recipient)) {
        Ok(rendered) => Some(Ahead {
            job,
            rendered,
            slot_at,
            sent_at: tokio::time::Instant::now(),
        }),
        Err(_) => {
            // Rendered again, and failed with its reason, in its own round.
            give_back_with_slot(run, job, slot_at).await;
            None
        }
    }
}

/// What a failed send comes to: the outcome to record, and whether the
/// connection must close (a rule suspended the account or took a connection).
struct Decided {
    outcome: Outcome,
    close: bool,
}

impl From<Outcome> for Decided {
    fn from(outcome: Outcome) -> Decided {
        Decided { outcome, close: false }
    }
}

/// Waits until `until` on the store's clock, a second at a time (so a
/// clock set forward is seen at once); `false` if the run stops meanwhile.
async fn wait_until(run: &Run, until: i64) -> bool {
    loop {
        let left = until - run.store.now_ms();
        // A person may resume the account sooner (see `failover`).
        if left <= 0 || run.suspended_until().is_none() {
            return true;
        }
        let step = Duration::from_millis(u64::try_from(left).unwrap_or(1).clamp(1, 1_000));
        tokio::select! {
            () = tokio::time::sleep(step) => {}
            () = run.stopped() => return false,
        }
    }
}

/// Decides a failed send: by the account's rules when one matches the
/// server's reply (the failure then names it), else by the taxonomy.
/// `sent_at` is when this message's sending began (the throttle tells a
/// reply to it from the echoes of one it already acted on).
async fn handle_failure(
    run: &Run,
    job: &Job,
    failure: &Failure,
    attempt: AttemptRecord,
    connection_limit: bool,
    sent_at: tokio::time::Instant,
) -> Decided {
    if !connection_limit && let Some(rule) = run.rules.decide(failure) {
        let failure = Failure {
            rule: Some(rule.id.clone()),
            ..failure.clone()
        };
        return act_on_rule(run, job, &failure, attempt, rule, sent_at).await;
    }
    by_taxonomy(run, job, failure, attempt, connection_limit, sent_at).into()
}

/// Does what `rule` says about `failure` (which names it).
async fn act_on_rule(
    run: &Run,
    job: &Job,
    failure: &Failure,
    attempt: AttemptRecord,
    rule: &Rule,
    sent_at: tokio::time::Instant,
) -> Decided {
    let recipient = &job.recipient;
    let now = run.store.now_ms();
    let suspend_until = match &rule.action {
        RuleAction::Fail { suppress } => {
            let reason = RecipientReason::Smtp {
                failure: failure.clone(),
                unanswered_before: recipient.unanswered > 0,
            };
            count_failure(run, &reason);
            let suppress = suppress.then(|| recipient.email.clone());
            return fail_with(job, reason, attempt, suppress).into();
        }
        RuleAction::Pause { advice } => {
            run.halt_with(if advice.is_empty() {
                server_pause(failure, run)
            } else {
                PauseReason::Rule {
                    rule: rule.id.clone(),
                    advice: advice.clone(),
                    failure: failure.clone(),
                }
            });
            return unclaim(job, Some(attempt)).into();
        }
        RuleAction::Retry => return retry_or_give_up(run, job, failure, attempt, Wait::Backoff).into(),
        RuleAction::SlowDown { factor } => {
            // How much slower, and how the rate recovers, is the throttle's
            // business (campaign::throttle: it finds the rate the server
            // allows); the rule says it is a rate, and may name a share.
            if let Some(rate) = run.limits.rate.throttled(&server_words(failure), *factor, sent_at) {
                run.sink.event(&CampaignEvent::RateChanged { rate });
            }
            return retry_or_give_up(run, job, failure, attempt, Wait::UntilSendingResumes).into();
        }
        RuleAction::FewerConnections => {
            take_a_connection(run, rule, failure);
            now
        }
        RuleAction::Suspend { .. }
        | RuleAction::RetryLater { .. }
        | RuleAction::SuspendUntil { .. }
        | RuleAction::SuspendWindow { .. } => suspension_end(run, &rule.action, now).await.unwrap_or(now),
    };
    // A suspension of the account is kept, and may move sending to another
    // of the campaign's accounts: then this recipient goes again at once.
    let next_attempt_at = if suspend_until <= now {
        suspend_until
    } else if matches!(
        rule.action,
        RuleAction::Suspend { .. } | RuleAction::SuspendUntil { .. } | RuleAction::SuspendWindow { .. }
    ) {
        super::failover::suspend(run, suspend_until, rule, failure).await
    } else {
        run.suspend(suspend_until, &rule.id, failure);
        suspend_until
    };
    // The account waits, not this recipient: no attempt is used.
    let reason = RecipientReason::Smtp {
        failure: failure.clone(),
        unanswered_before: false,
    };
    Decided {
        outcome: outcome(
            job,
            StateChange::Postpone {
                id: recipient.id,
                next_attempt_at,
                reason: reason.clone(),
                attempt,
            },
            RecipientStatus::RetryWait,
            Some(reason),
            recipient.attempts,
        ),
        close: true,
    }
}

/// What a rule about a refused connection came to.
enum OpenRule {
    /// The account waits (a suspension) or a connection was taken away:
    /// not a failed try of the server, which is there and answered.
    Waits,
    /// The campaign pauses.
    Paused,
    /// Nothing of the account's changed beyond the rate: the failure is
    /// a failed try of the server as any other.
    AsUsual,
}

/// Does what `rule` says about `failure`, a reply that refused a connection
/// as it opened (no recipient is involved yet).
async fn act_on_open_rule(run: &Run, rule: &Rule, failure: &Failure) -> OpenRule {
    match &rule.action {
        RuleAction::Pause { advice } => {
            run.halt_with(if advice.is_empty() {
                server_pause(failure, run)
            } else {
                PauseReason::Rule {
                    rule: rule.id.clone(),
                    advice: advice.clone(),
                    failure: failure.clone(),
                }
            });
            OpenRule::Paused
        }
        RuleAction::FewerConnections => {
            if !take_a_connection(run, rule, failure) {
                // Down to one already: the account's connections are taken
                // elsewhere (another program sending on it). The server is
                // there and answered, so this is no failed try of it (three
                // of those would pause the campaign as unreachable): the
                // account waits, longer each time in a row, and tries again.
                let in_a_row = run.crowded_in_a_row.fetch_add(1, Ordering::SeqCst) + 1;
                let wait = i64::try_from(run.backoff(in_a_row).as_millis()).unwrap_or(i64::MAX / 2);
                run.suspend(run.store.now_ms().saturating_add(wait.max(1)), &rule.id, failure);
                return OpenRule::Waits;
            }
            // This worker leaves if it is now one too many (the top of its
            // loop); one that stays gives the server a moment first.
            let wait = run.backoff(1);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = run.stopped() => {}
            }
            OpenRule::Waits
        }
        RuleAction::Suspend { .. }
        | RuleAction::RetryLater { .. }
        | RuleAction::SuspendUntil { .. }
        | RuleAction::SuspendWindow { .. } => {
            let now = run.store.now_ms();
            match suspension_end(run, &rule.action, now).await {
                Some(until) if until > now => {
                    run.suspend(until, &rule.id, failure);
                    OpenRule::Waits
                }
                _ => OpenRule::AsUsual,
            }
        }
        RuleAction::SlowDown { factor } => {
            if let Some(rate) = run
                .limits
                .rate
                .throttled(&server_words(failure), *factor, tokio::time::Instant::now())
            {
                run.sink.event(&CampaignEvent::RateChanged { rate });
            }
            OpenRule::AsUsual
        }
        // Retry the connection as usual; "fail the recipient" has no
        // recipient here.
        RuleAction::Retry | RuleAction::Fail { .. } => OpenRule::AsUsual,
    }
}

/// One connection fewer for the run, as a rule asked; says so. `false`
/// when it was down to one already.
fn take_a_connection(run: &Run, rule: &Rule, failure: &Failure) -> bool {
    let before = run
        .connections_allowed
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_sub(1).max(1)))
        .unwrap_or(1);
    if before > 1 {
        run.sink.event(&CampaignEvent::ConnectionsReduced {
            connections: before - 1,
            rule: rule.id.clone(),
            failure: failure.clone(),
        });
    }
    before > 1
}

/// Until when a suspending rule's `action` holds the account from `now`
/// (Unix ms); `None` for an action that does not suspend.
async fn suspension_end(run: &Run, action: &RuleAction, now: i64) -> Option<i64> {
    let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    Some(match action {
        RuleAction::Suspend { for_s } => now.saturating_add(secs(*for_s)),
        RuleAction::RetryLater { after_s } => now.saturating_add(secs(*after_s)),
        RuleAction::SuspendUntil { time, time_zone } => {
            crate::smtp::rules::next_clock_time(time, time_zone, now).unwrap_or_else(|| now.saturating_add(3_600_000))
        }
        RuleAction::SuspendWindow { window_s } => window_frees(run, now, secs(*window_s)).await,
        _ => return None,
    })
}

/// When a rolling quota of `window_ms` frees up again: the oldest send of
/// the account inside the window leaves it (nothing recorded: a whole window).
async fn window_frees(run: &Run, now: i64, window_ms: i64) -> i64 {
    let since_minute = (now - window_ms).div_euclid(60_000);
    let oldest = match run.store.send_counts(run.profile, since_minute).await {
        Ok(counts) => counts.iter().find(|(_, n)| *n > 0).map(|(minute, _)| *minute),
        Err(e) => {
            tracing::warn!(error = %e, "the account's sends could not be read; waiting a whole window");
            None
        }
    };
    match oldest {
        // The minute's sends may be at its end: leave after the whole minute.
        Some(minute) => ((minute + 1) * 60_000 + window_ms).max(now + 1_000),
        None => now + window_ms,
    }
}

/// Classifies a failed send by the taxonomy; returns the outcome to record.
fn by_taxonomy(
    run: &Run,
    job: &Job,
    failure: &Failure,
    attempt: AttemptRecord,
    connection_limit: bool,
    sent_at: tokio::time::Instant,
) -> Outcome {
    let recipient = &job.recipient;
    let mut class = failure.class();
    // Too big without a file of its own: the shared part is too big, and every
    // message would be refused the same way. That is for a person to fix, not
    // a reason to fail the whole list one by one.
    let own_file = run.message.recipient_attachment(&RecipientData::from(recipient));
    if failure.problem == Problem::MessageTooBig && !matches!(own_file, Ok(Some(_))) {
        class = FailureClass::PermanentForCampaign;
    }
    match class {
        FailureClass::PermanentForCampaign => {
            run.halt_with(server_pause(failure, run));
            unclaim(job, Some(attempt))
        }
        FailureClass::PermanentForRecipient => {
            let suppress = failure.is_unknown_mailbox().then(|| recipient.email.clone());
            let reason = RecipientReason::Smtp {
                failure: failure.clone(),
                unanswered_before: recipient.unanswered > 0,
            };
            count_failure(run, &reason);
            fail_with(job, reason, attempt, suppress)
        }
        FailureClass::Transient => {
            let throttled = failure.problem == Problem::Throttled && !connection_limit;
            if throttled && let Some(rate) = run.limits.rate.throttled(&server_words(failure), None, sent_at) {
                run.sink.event(&CampaignEvent::RateChanged { rate });
            }
            let wait = if throttled {
                Wait::UntilSendingResumes
            } else {
                Wait::Backoff
            };
            retry_or_give_up(run, job, failure, attempt, wait)
        }
    }
}

/// When a transient failure's recipient goes again.
#[derive(Clone, Copy)]
enum Wait {
    /// After the recipient's own backoff.
    Backoff,
    /// Once sending resumes after a throttle reply: the rate was what the
    /// server refused, and the rate has changed. Its own backoff would hold
    /// the end of the campaign back.
    UntilSendingResumes,
}

/// A transient failure: retried later while the recipient has attempts left.
fn retry_or_give_up(run: &Run, job: &Job, failure: &Failure, attempt: AttemptRecord, wait: Wait) -> Outcome {
    let recipient = &job.recipient;
    let attempts = recipient.attempts + 1;
    // A transient reply is retried, so it is not a failure of the
    // list: only recipients that end `failed` count toward "N in a
    // row" (a burst of 4xx or of resets before the content must not
    // pause the campaign).
    let allowed = run.account.retries.max(1);
    if attempts >= allowed && recipient.unanswered > 0 {
        // Given up, but an earlier attempt may have delivered it.
        uncertain(
            job,
            RecipientReason::GaveUpMaybeDelivered {
                attempts,
                last: failure.clone(),
            },
            attempt,
        )
    } else if attempts >= allowed {
        let reason = RecipientReason::GaveUp {
            attempts,
            last: failure.clone(),
        };
        count_failure(run, &reason);
        fail(job, reason, attempt)
    } else {
        let wait = match wait {
            Wait::Backoff => run.backoff(attempts),
            Wait::UntilSendingResumes => run.limits.rate.retry_after(),
        };
        let next_attempt_at = run.store.now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
        outcome(
            job,
            StateChange::Retry {
                id: recipient.id,
                next_attempt_at,
                reason: RecipientReason::Smtp {
                    failure: failure.clone(),
                    unanswered_before: false,
                },
                attempt,
            },
            RecipientStatus::RetryWait,
            Some(RecipientReason::Smtp {
                failure: failure.clone(),
                unanswered_before: false,
            }),
            attempts,
        )
    }
}

/// `job`'s recipient failed for good, with `reason`.
fn fail(job: &Job, reason: RecipientReason, attempt: AttemptRecord) -> Outcome {
    fail_with(job, reason, attempt, None)
}

/// [`fail`], adding the address to the suppression list in the same commit
/// when `suppress` carries it.
fn fail_with(job: &Job, reason: RecipientReason, attempt: AttemptRecord, suppress: Option<String>) -> Outcome {
    outcome(
        job,
        StateChange::Failed {
            id: job.recipient.id,
            reason: reason.clone(),
            attempt: Some(attempt),
            suppress,
        },
        RecipientStatus::Failed,
        Some(reason),
        job.recipient.attempts + 1,
    )
}

/// Back to pending without counting the attempt.
fn unclaim(job: &Job, attempt: Option<AttemptRecord>) -> Outcome {
    outcome(
        job,
        StateChange::Unclaim {
            id: job.recipient.id,
            attempt,
        },
        RecipientStatus::Pending,
        None,
        job.recipient.attempts,
    )
}

fn outcome(
    job: &Job,
    change: StateChange,
    status: RecipientStatus,
    reason: Option<RecipientReason>,
    attempts: u32,
) -> Outcome {
    Outcome {
        change,
        row: job.recipient.row,
        email: job.recipient.email.clone(),
        status,
        reason,
        attempts,
    }
}

/// A reply to MAIL or RCPT (not 421) leaves the connection usable: the client
/// sent RSET. Anything else (lost, timed out, closing) needs a fresh one.
fn connection_survives(failure: &Failure) -> bool {
    failure.code.is_some_and(|code| code != 421)
        && !matches!(failure.problem, Problem::ConnectionLost | Problem::TimedOut)
}

/// Whether the server may have the message: its content went out (`content_sent`)
/// and no answer to it came: a timeout, a lost or closed connection, or an
/// answer that is not SMTP, at any point after the content began to go out.
/// Before that (waiting for the 354, say) the server has nothing to
/// deliver; after an answer it said what it did.
/// The client marks failures after the content itself too (a reply that
/// broke the protocol once the content was out: [`Failure::is_ambiguous`]).
fn is_ambiguous(failure: &Failure, content_sent: bool) -> bool {
    (content_sent && failure.code.is_none()) || failure.is_ambiguous()
}

/// How an attempt ended (see [`is_ambiguous`]).
fn attempt_outcome(failure: &Failure, content_sent: bool) -> AttemptOutcome {
    if is_ambiguous(failure, content_sent) {
        return AttemptOutcome::Ambiguous;
    }
    match failure.class() {
        FailureClass::Transient => AttemptOutcome::Transient,
        _ => AttemptOutcome::Permanent,
    }
}

/// The attempts table's stage for a failure's.
fn attempt_stage(failure: &Failure) -> AttemptStage {
    match failure.stage {
        Stage::Dns | Stage::Connect => AttemptStage::Connect,
        Stage::Tls => AttemptStage::Tls,
        Stage::Greeting => AttemptStage::Greeting,
        Stage::Ehlo => AttemptStage::Ehlo,
        Stage::Auth => AttemptStage::Auth,
        Stage::Mail => AttemptStage::Mail,
        Stage::Rcpt => AttemptStage::Rcpt,
        Stage::Data | Stage::Quit => AttemptStage::Data,
    }
}

/// A failure with the advice a person can act on.
/// What the server said, as it said it ("454 4.7.0 Throttling failure"):
/// the reason a throttled rate shows, quoted by the front ends.
fn server_words(failure: &Failure) -> String {
    let code = failure.code.map(|code| code.to_string());
    [code, failure.enhanced_code.clone(), Some(failure.text.clone())]
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pause for a failure nothing gets past until a person acts.
fn server_pause(failure: &Failure, run: &Run) -> PauseReason {
    PauseReason::Server {
        failure: failure.clone(),
        host: run.account.host.clone(),
        port: run.account.port,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_a_connection_lost_after_the_content_is_ambiguous() {
        let lost = Failure::lost(Stage::Data, "connection reset by peer");
        let silent = Failure::timed_out(Stage::Data, Duration::from_secs(30));
        assert_eq!(attempt_outcome(&lost, true), AttemptOutcome::Ambiguous);
        assert_eq!(attempt_outcome(&silent, true), AttemptOutcome::Ambiguous);
        // Lost while waiting for the 354: nothing of the message was sent.
        assert_eq!(attempt_outcome(&lost, false), AttemptOutcome::Transient);
        assert_eq!(attempt_outcome(&silent, false), AttemptOutcome::Transient);
        // A reply is never ambiguous: the server said what it did.
        let refused = Failure::new(Stage::Data, Problem::Rejected, "554 5.7.1 content rejected");
        let refused = Failure {
            code: Some(554),
            ..refused
        };
        assert_eq!(attempt_outcome(&refused, true), AttemptOutcome::Permanent);
        let lost_at_rcpt = Failure::lost(Stage::Rcpt, "connection reset by peer");
        assert_eq!(attempt_outcome(&lost_at_rcpt, false), AttemptOutcome::Transient);
        // An answer that is not SMTP after the content says nothing of it either.
        let garbled = Failure::new(Stage::Data, Problem::NotSmtp, "unexpected answer: HTTP/1.1 400");
        assert!(is_ambiguous(&garbled, true));
        assert_eq!(attempt_outcome(&garbled, true), AttemptOutcome::Ambiguous);
        assert_eq!(attempt_outcome(&garbled, false), AttemptOutcome::Permanent);
    }
}
