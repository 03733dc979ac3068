//! One sending worker: it holds one SMTP connection for up to "messages per
//! connection", takes recipients from the dispatcher, and for each waits for
//! the rate and the quotas, claims it, renders and opens the transaction
//! while the claim is committed, sends the content once it is, and
//! classifies the result by SPEC's error taxonomy.
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
use super::writer::{Outcome, PendingClaim, Writer};
use super::{CampaignEvent, Run, count_ambiguous, count_failure};
use crate::error::Result;
use crate::message::{CompiledMessage, RecipientData, RenderedMessage};
use crate::model::RecipientStatus;
use crate::smtp::client::Connection;
use crate::smtp::{Failure, FailureClass, Problem, Stage};
use crate::store::{AttemptOutcome, AttemptRecord, AttemptStage, StateChange};

/// An open connection and how many messages it carried.
struct Held {
    connection: Connection,
    sent: u32,
}

/// The next recipient, whose transaction is already open on the held
/// connection: its envelope went out in the same write as the previous
/// message's content ([`Connection::finish_and_begin`]), and `envelope` is
/// the server's answer. Its send slot (rate, quotas) is used; it is not
/// claimed yet, and nothing of its content has been sent.
struct Opened {
    job: Job,
    rendered: RenderedMessage,
    envelope: std::result::Result<(), Failure>,
    /// When its place in the quotas was taken (see [`Ahead`]).
    slot_at: i64,
}

/// A recipient taken ahead with its send slot ([`look_ahead`]): `slot_at`
/// is when (store clock, ms) its place in the quotas was taken, to return it
/// if the recipient goes back unclaimed.
struct Ahead {
    job: Job,
    rendered: RenderedMessage,
    slot_at: i64,
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
        if held.is_none() {
            hand_over(writer, finished)?;
            match open(run).await {
                Some(Ok(connection)) => {
                    connect_failures = 0;
                    held = Some(Held { connection, sent: 0 });
                }
                Some(Err(failure)) => {
                    if failure.class() == FailureClass::PermanentForCampaign {
                        run.halt_with(describe(&failure, run));
                        break;
                    }
                    connect_failures += 1;
                    if connect_failures >= run.options.connect_attempts {
                        run.halt_with(format!(
                            "the server could not be reached {connect_failures} times in a row: {}",
                            describe(&failure, run)
                        ));
                        break;
                    }
                    let wait = run.backoff(connect_failures);
                    run.sink.event(&CampaignEvent::ConnectionTrouble {
                        reason: failure.to_string(),
                        advice: failure.advice(&run.account.host, run.account.port),
                        retry_in_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    });
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = run.stopped() => break,
                    }
                    continue;
                }
                None => break,
            }
        }

        let (job, version, message, prepared) = match opened.take() {
            Some(Opened {
                job,
                rendered,
                envelope,
                ..
            }) => (job, run.version, run.message.clone(), Some((rendered, envelope))),
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
                        run.halt_with(format!(
                            "row {} may already have version {version} of the message, which cannot be made \
                             again ({e}); nothing was sent to it",
                            job.recipient.row
                        ));
                        run.dispatch.give_back(job).await;
                        break;
                    }
                };
                if !unless_waiting(wait_for_slot(run), writer, finished).await? {
                    run.dispatch.give_back(job).await;
                    break;
                }
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
        let Some((keep, outcome, next)) = send_one(run, &job, &message, current, claim, prepared).await else {
            // The claim is not in the file (the run pauses: the file cannot
            // be written), so nothing of the message went out. An envelope
            // may be open on the connection: drop it, as on a pause.
            drop(held.take());
            break;
        };
        *finished = Some(outcome);
        if let Some(next) = next {
            if keep {
                opened = Some(next);
            } else {
                give_back_with_slot(run, next.job, next.slot_at).await;
            }
        }
        if !keep {
            if let Some(old) = held.take() {
                // A connection after a failure is closed without ceremony;
                // QUIT could wait on a server that is already gone.
                drop(old);
            }
        } else if opened.is_none()
            && held
                .as_ref()
                .is_some_and(|h| h.sent >= run.per_connection.load(Ordering::SeqCst))
            && let Some(old) = held.take()
        {
            old.connection.quit().await;
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
async fn open(run: &Run) -> Option<Result<Connection, Failure>> {
    tokio::select! {
        opened = Connection::open(run.connection.clone()) => Some(opened),
        () = run.stopped() => None,
    }
}

/// Waits for the rate and every quota; `false` if the run stops meanwhile.
async fn wait_for_slot(run: &Run) -> bool {
    tokio::select! {
        () = run.limits.rate.acquire() => {}
        () = run.stopped() => return false,
    }
    loop {
        let now = run.store.now_ms();
        let taken = run.limits.quotas.lock().await.take(now);
        match taken {
            Ok(()) => return true,
            Err(wait) => {
                run.sink.event(&CampaignEvent::QuotaWait {
                    until: wait.until,
                    window: wait.window.to_owned(),
                    limit: wait.limit,
                });
                let for_ms = u64::try_from(wait.until - now).unwrap_or(0).max(1);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(for_ms)) => {}
                    () = run.stopped() => return false,
                }
            }
        }
    }
}

/// Renders `message` for one recipient whose claim is on its way into the
/// file, and sends it. Returns whether the connection is still good for the
/// next message, the outcome to record, and the next recipient when its
/// envelope went out with this content; `None` if the claim could not be
/// recorded (then nothing of the message was sent, and the run is pausing).
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
    prepared: Option<(RenderedMessage, std::result::Result<(), Failure>)>,
) -> Option<(bool, Outcome, Option<Opened>)> {
    let recipient = &job.recipient;
    let attempts = recipient.attempts + 1;
    let started_at = run.store.now_ms();
    let clock = tokio::time::Instant::now();
    // Not one byte of the content before the claim is in the file (SPEC
    // invariant 2): a crash must find this recipient `sending`. Both ways
    // wait for `durable` before the content.
    let (rendered, opened) = match prepared {
        Some((rendered, envelope)) => {
            claim.durable().await.ok()?;
            (rendered, envelope)
        }
        None => {
            let rendered = match message.render(RecipientData::from(recipient)) {
                Ok(rendered) => rendered,
                Err(problem) => {
                    let reason = format!("the message could not be made for this recipient: {problem}");
                    let attempt = AttemptRecord {
                        started_at,
                        duration_ms: 0,
                        outcome: AttemptOutcome::Permanent,
                        stage: AttemptStage::Render,
                        code: None,
                        enhanced_code: None,
                        text: problem,
                    };
                    claim.durable().await.ok()?;
                    count_failure(run, &reason);
                    return Some((true, fail(job, reason, attempt), None));
                }
            };
            let to = [recipient.email.trim()];
            let (durable, opened) = tokio::join!(
                claim.durable(),
                held.connection.begin(&run.envelope_from, &to, rendered.bytes.len())
            );
            durable.ok()?;
            (rendered, opened)
        }
    };
    let mut next = None;
    // From here on the content goes out: a failure without the server's
    // answer may leave the server with the message (ambiguous).
    let content_sent = opened.is_ok();
    let sent = match opened {
        Ok(()) => {
            // The content is what the server counts, so that is what is
            // spaced: a claim's commit can take longer for one message than
            // the next, and must not bunch them.
            run.limits.rate.before_wire().await;
            match look_ahead(run, held).await {
                Some(Ahead {
                    job,
                    rendered: next_rendered,
                    slot_at,
                }) => {
                    let to = [job.recipient.email.trim()];
                    let envelope = (run.envelope_from.as_str(), &to[..], next_rendered.bytes.len());
                    let (sent, answered) = held.connection.finish_and_begin(&rendered.bytes, envelope).await;
                    match answered {
                        Some(envelope) => {
                            next = Some(Opened {
                                job,
                                rendered: next_rendered,
                                envelope,
                                slot_at,
                            });
                        }
                        None => give_back_with_slot(run, job, slot_at).await,
                    }
                    sent
                }
                None => held.connection.finish(&rendered.bytes).await,
            }
        }
        Err(failure) => Err(failure),
    };
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    match sent {
        Ok(reply) => {
            held.sent += 1;
            run.failures_in_a_row.store(0, Ordering::SeqCst);
            run.ambiguous_in_a_row.store(0, Ordering::SeqCst);
            // An earlier attempt went unanswered: the server may have kept
            // that copy too.
            let note = (recipient.unanswered > 0).then(|| MAYBE_TWICE.to_owned());
            let sent = outcome(
                job,
                StateChange::Sent {
                    id: recipient.id,
                    reply: reply.to_string(),
                    note: note.clone(),
                },
                RecipientStatus::Sent,
                note,
                attempts,
            );
            Some((true, sent, next))
        }
        Err(failure) => {
            let ambiguous = is_ambiguous(&failure, content_sent);
            let attempt = AttemptRecord {
                started_at,
                duration_ms,
                outcome: attempt_outcome(&failure, content_sent),
                stage: attempt_stage(&failure),
                code: failure.code,
                enhanced_code: failure.enhanced_code.clone(),
                text: failure.text.clone(),
            };
            if ambiguous {
                // Nothing more is read on a connection whose last answer is
                // missing: the next reply could be this one's, late.
                return Some((false, handle_ambiguous(run, job, &failure, attempt), next));
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
            Some((
                keep,
                handle_failure(run, job, &failure, attempt, connection_limit),
                next,
            ))
        }
    }
}

/// The reason a recipient sent after an unanswered attempt keeps.
const MAYBE_TWICE: &str = "sent; an earlier attempt got no answer after its content, so this recipient may have \
     received the message more than once (same Message-ID, which most providers de-duplicate)";

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
        run.halt_with(describe(failure, run));
    }
    count_ambiguous(run, failure);
    let allowed = run.account.retries.max(1);
    if run.account.retry_ambiguous && attempts < allowed {
        let reason = format!(
            "no answer after the content was sent ({failure}); sending it again with the same Message-ID, so \
             this recipient may receive it twice"
        );
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
    let reason = format!(
        "the server may have it: no answer after the content was sent ({failure}); send it again (same \
         Message-ID) or count it as sent"
    );
    uncertain(job, reason, attempt)
}

/// `job`'s recipient may or may not have the message: a person decides.
fn uncertain(job: &Job, reason: String, attempt: AttemptRecord) -> Outcome {
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
        Ok(rendered) => Some(Ahead { job, rendered, slot_at }),
        Err(_) => {
            // Rendered again, and failed with its reason, in its own round.
            give_back_with_slot(run, job, slot_at).await;
            None
        }
    }
}

/// Classifies a failed send by the taxonomy; returns the outcome to record.
fn handle_failure(run: &Run, job: &Job, failure: &Failure, attempt: AttemptRecord, connection_limit: bool) -> Outcome {
    let recipient = &job.recipient;
    let attempts = recipient.attempts + 1;
    let reason = failure.to_string();
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
            run.halt_with(describe(failure, run));
            unclaim(job, Some(attempt))
        }
        FailureClass::PermanentForRecipient => {
            let suppress = failure.is_unknown_mailbox().then(|| recipient.email.clone());
            count_failure(run, &reason);
            let reason = if recipient.unanswered > 0 {
                format!("{reason} (an earlier attempt got no answer after its content and may have delivered it)")
            } else {
                reason
            };
            fail_with(job, reason, attempt, suppress)
        }
        FailureClass::Transient => {
            if failure.problem == Problem::Throttled
                && !connection_limit
                && let Some(rate) = run.limits.rate.throttled(&reason)
            {
                run.sink.event(&CampaignEvent::RateChanged { rate });
            }
            // A transient reply is retried, so it is not a failure of the
            // list: only recipients that end `failed` count toward "N in a
            // row" (a burst of 4xx or of resets before the content must not
            // pause the campaign).
            let allowed = run.account.retries.max(1);
            if attempts >= allowed && recipient.unanswered > 0 {
                // Given up, but an earlier attempt may have delivered it.
                uncertain(
                    job,
                    format!(
                        "gave up after {attempts} attempts (the last: {reason}); an earlier attempt got no answer \
                         after its content, so the server may have it: send it again (same Message-ID) or count \
                         it as sent"
                    ),
                    attempt,
                )
            } else if attempts >= allowed {
                let reason = format!("gave up after {attempts} attempts; the last: {reason}");
                count_failure(run, &reason);
                fail(job, reason, attempt)
            } else {
                let wait = run.backoff(attempts);
                let next_attempt_at = run.store.now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                outcome(
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
                )
            }
        }
    }
}

/// `job`'s recipient failed for good, with `reason`.
fn fail(job: &Job, reason: String, attempt: AttemptRecord) -> Outcome {
    fail_with(job, reason, attempt, None)
}

/// [`fail`], adding the address to the suppression list in the same commit
/// when `suppress` carries it.
fn fail_with(job: &Job, reason: String, attempt: AttemptRecord, suppress: Option<String>) -> Outcome {
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

fn outcome(job: &Job, change: StateChange, status: RecipientStatus, reason: Option<String>, attempts: u32) -> Outcome {
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
fn describe(failure: &Failure, run: &Run) -> String {
    format!("{failure}. {}", failure.advice(&run.account.host, run.account.port))
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
