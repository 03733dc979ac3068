//! The campaign writer's own connection to the database file: it applies a
//! batch of recipient state changes as one transaction, on the calling thread.
//!
//! Why not the pool: sqlx runs each statement on its SQLite thread and hands
//! the result back to tokio, two thread wake-ups per statement. At thousands
//! of messages a second that ping-pong was half of all CPU (see
//! docs/BENCHMARKS.md). The campaign writer owns this connection on a thread
//! of its own, so a batch of any size costs one wake-up in and one out.
//! It is the same SQLite library as the pool's (one `libsqlite3-sys`), so the
//! two share file locks within the process.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use super::sending::{AttemptOutcome, AttemptRecord, StateChange};
use super::{BUSY_TIMEOUT, Store};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::outcome::RecipientReason;

/// A connection that only writes state changes; see the module doc.
#[derive(Debug)]
pub struct StateFile {
    connection: Connection,
    clock: Arc<dyn Clock>,
    profile: i64,
    /// The run (`runs.id`) whose attempts and sends this writes.
    run: i64,
}

impl Store {
    /// Opens the state writer's connection for run `run` on account
    /// `profile`. Blocking (it opens a file); call it from the writer's own thread.
    pub fn state_file(&self, profile: i64, run: i64) -> Result<StateFile> {
        StateFile::open(&self.path, self.clock.clone(), profile, run)
    }
}

impl StateFile {
    fn open(path: &Path, clock: Arc<dyn Clock>, profile: i64, run: i64) -> Result<StateFile> {
        // The pool created the file and its schema; this connection never
        // creates either, so a path that vanished is an error, not a new file.
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // The same durability as the pool (SPEC invariant 3): a commit is on
        // the disk before it returns, so before anything reports it.
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        // As the pool (store/mod.rs): freed space is zeroed.
        connection.pragma_update(None, "secure_delete", "ON")?;
        // The schema's CHECKs are `status IN (...)` lists, and SQLite builds a
        // temporary table to test each one: with them, every statement here
        // cost twice as much (a fifth of all CPU while sending). What this
        // connection writes cannot break them: statuses are literals in the
        // statements below, and an attempt's outcome and stage are closed
        // enums whose every value a store test writes with the checks on.
        // Every other connection keeps them.
        connection.pragma_update(None, "ignore_check_constraints", "ON")?;
        let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Internal(format!("the database is in {mode} mode, not WAL")));
        }
        // Statements are prepared once and reused for every batch.
        connection.set_prepared_statement_cache_capacity(16);
        Ok(StateFile {
            connection,
            clock,
            profile,
            run,
        })
    }

    /// Applies `changes` in one transaction, counting each claim as one
    /// message sent by the account in the current minute. Nothing of the
    /// batch is in the file if this fails.
    pub fn apply(&mut self, changes: &[StateChange]) -> Result<()> {
        let now = self.clock.now_ms();
        let profile = self.profile;
        let run = self.run;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut claims = 0_i64;
        for change in changes {
            match change {
                StateChange::Claim { id, version } => {
                    claims += 1;
                    tx.prepare_cached(
                        "UPDATE recipients SET status = 'sending', attempts = attempts + 1, updated_at = ?2,
                                message_version = ?3
                         WHERE id = ?1",
                    )?
                    .execute(params![id, now, version])?;
                }
                StateChange::Sent {
                    id,
                    reply,
                    note,
                    duration_ms,
                } => {
                    tx.prepare_cached(
                        "UPDATE recipients SET status = 'sent', reason = ?4, next_attempt_at = NULL,
                                sent_at = ?2, updated_at = ?2, sent_reply = ?3, sent_run = ?5, sent_ms = ?6
                         WHERE id = ?1",
                    )?
                    .execute(params![
                        id,
                        now,
                        reply,
                        note.as_ref().map(RecipientReason::to_json),
                        run,
                        duration_ms
                    ])?;
                }
                StateChange::Retry {
                    id,
                    next_attempt_at,
                    reason,
                    attempt,
                } => {
                    tx.prepare_cached(
                        "UPDATE recipients SET status = 'retry_wait', reason = ?2, next_attempt_at = ?3, updated_at = ?4,
                                unanswered = unanswered + ?5
                         WHERE id = ?1",
                    )?
                    .execute(params![id, reason.to_json(), next_attempt_at, now, unanswered(attempt)])?;
                    insert_attempt(&tx, run, *id, attempt)?;
                }
                StateChange::Postpone {
                    id,
                    next_attempt_at,
                    reason,
                    attempt,
                } => {
                    tx.prepare_cached(
                        "UPDATE recipients SET status = 'retry_wait', reason = ?2, next_attempt_at = ?3, updated_at = ?4,
                                attempts = MAX(attempts - 1, 0)
                         WHERE id = ?1",
                    )?
                    .execute(params![id, reason.to_json(), next_attempt_at, now])?;
                    insert_attempt(&tx, run, *id, attempt)?;
                }
                StateChange::Uncertain { id, reason, attempt } => {
                    tx.prepare_cached(
                        "UPDATE recipients SET status = 'uncertain', reason = ?2, next_attempt_at = NULL, updated_at = ?3,
                                unanswered = unanswered + ?4
                         WHERE id = ?1",
                    )?
                    .execute(params![id, reason.to_json(), now, unanswered(attempt)])?;
                    insert_attempt(&tx, run, *id, attempt)?;
                }
                StateChange::Failed {
                    id,
                    reason,
                    attempt,
                    suppress,
                } => {
                    tx.prepare_cached(
                        "UPDATE recipients SET status = 'failed', reason = ?2, next_attempt_at = NULL, updated_at = ?3
                         WHERE id = ?1",
                    )?
                    .execute(params![id, reason.to_json(), now])?;
                    if let Some(attempt) = attempt {
                        insert_attempt(&tx, run, *id, attempt)?;
                    }
                    if let Some(email) = suppress {
                        tx.prepare_cached(super::suppressions::INSERT_SUPPRESSION)?
                            .execute(params![
                                crate::address::dedup_key(email),
                                super::suppressions::reason_from_send(reason),
                                now,
                                "no_such_user",
                                None::<&str>
                            ])?;
                    }
                }
                StateChange::Unclaim { id, attempt } => {
                    // Never sent, so it keeps no message version: a pending
                    // recipient with one is one a person chose to send again,
                    // which a run start does not skip when its address was
                    // suppressed since (store/suppressions.rs). One whose
                    // earlier attempt went unanswered keeps it: if it goes
                    // again, it goes with the same Message-ID.
                    tx.prepare_cached(
                        "UPDATE recipients SET status = 'pending', attempts = MAX(attempts - 1, 0), updated_at = ?2,
                                message_version = CASE WHEN unanswered > 0 THEN message_version END
                         WHERE id = ?1",
                    )?
                    .execute(params![id, now])?;
                    if let Some(attempt) = attempt {
                        insert_attempt(&tx, run, *id, attempt)?;
                    }
                }
            }
        }
        if claims > 0 {
            tx.prepare_cached(
                "INSERT INTO send_counts (profile_id, minute, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT (profile_id, minute) DO UPDATE SET count = count + excluded.count",
            )?
            .execute(params![profile, now.div_euclid(60_000), claims])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Keeps the database at the pages it has (`max_page_count`), as a full
    /// disk would: a batch that needs one more fails with `SQLITE_FULL`.
    #[cfg(test)]
    pub(crate) fn stop_growing(&mut self) -> Result<()> {
        let pages: i64 = self.connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
        let _limit: i64 = self
            .connection
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |row| row.get(0))?;
        Ok(())
    }

    /// Copies the write-ahead log into the database and has the next write
    /// start it over (`wal_checkpoint(RESTART)`): on a full disk, a log that
    /// starts over reuses the space it already has instead of growing, so
    /// the outcomes still waiting (and the campaign's paused state) can be
    /// written. Whether the checkpoint completed.
    pub fn restart_log(&mut self) -> bool {
        let busy: std::result::Result<i64, _> =
            self.connection
                .query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get(0));
        matches!(busy, Ok(0))
    }
}

/// 1 when `attempt` may have delivered the message without an answer.
fn unanswered(attempt: &AttemptRecord) -> i64 {
    i64::from(attempt.outcome == AttemptOutcome::Ambiguous)
}

fn insert_attempt(tx: &rusqlite::Transaction<'_>, run: i64, recipient: i64, attempt: &AttemptRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO attempts (recipient_id, started_at, duration_ms, outcome, stage, smtp_code, enhanced_code, text, run_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        recipient,
        attempt.started_at,
        attempt.duration_ms,
        attempt.outcome.as_str(),
        attempt.stage.as_str(),
        attempt.code,
        attempt.enhanced_code,
        attempt.text,
        run
    ])?;
    Ok(())
}
