//! What the Results screen and `mailroom recipients`/`runs` show: a page of a
//! campaign's recipients filtered by state, reason and text; one recipient's
//! history (every attempt, the send, bounces); the runs of a campaign; and
//! the choices of a resend (which failures to send again, which to leave out
//! and why). Plain data here; the queries are `store/history.rs`.

use serde::{Deserialize, Serialize};

use crate::campaign::RunOutcome;
use crate::model::{BounceKind, Recipient, RecipientStatus, StatusCounts, string_enum};
use crate::outcome::{PauseReason, RecipientReason};

string_enum! {
    /// A state the recipients table filters by: a recipient's state, with
    /// `suppressed` (skipped because the address is on the suppression list)
    /// told apart from the other skipped rows.
    StateFilter {
        Pending => "pending",
        Sending => "sending",
        RetryWait => "retry_wait",
        Sent => "sent",
        Bounced => "bounced",
        Failed => "failed",
        Uncertain => "uncertain",
        Skipped => "skipped",
        Suppressed => "suppressed",
        Cancelled => "cancelled",
    }
}

string_enum! {
    /// What kind of reason a recipient has: a [`RecipientReason`]'s kind,
    /// with the server's permanent "no such user" (`no_such_user`: 5.1.x,
    /// 5.2.1, or a 550 saying so) told apart from its other replies
    /// (`smtp`). The store computes it from the stored reason (migration
    /// 0008), so a filter and a resend agree with what was written.
    ReasonClass {
        NoSuchUser => "no_such_user",
        Smtp => "smtp",
        GaveUp => "gave_up",
        GaveUpMaybeDelivered => "gave_up_maybe_delivered",
        NoAnswerResending => "no_answer_resending",
        NoAnswer => "no_answer",
        InFlightAtStop => "in_flight_at_stop",
        Unrenderable => "unrenderable",
        InvalidAddress => "invalid_address",
        Duplicate => "duplicate",
        Suppressed => "suppressed",
        Stopped => "stopped",
        MarkedSent => "marked_sent",
        SentMaybeTwice => "sent_maybe_twice",
        Bounced => "bounced",
        Legacy => "legacy",
    }
}

/// Which recipients of a campaign to list, and which page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RecipientQuery {
    pub state: Option<StateFilter>,
    pub reason: Option<ReasonClass>,
    /// Text the address or any imported value contains (ASCII letters in
    /// any case).
    pub search: Option<String>,
    /// The page after this cursor (a page's `next`), in file order.
    #[serde(default)]
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null", optional))]
    pub after: Option<i64>,
    /// The page before this cursor (a page's `previous`).
    #[serde(default)]
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null", optional))]
    pub before: Option<i64>,
    /// Skip this many matches first (the CLI's `--page`; the window pages by
    /// cursor, which costs the same at any depth).
    #[serde(default)]
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null", optional))]
    pub offset: Option<u64>,
    /// Rows per page (at most 1,000; default 100).
    #[serde(default)]
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null", optional))]
    pub limit: Option<u32>,
}

impl RecipientQuery {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    /// The page size asked for, within bounds.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT).clamp(1, Self::MAX_LIMIT)
    }
}

/// One recipient in a page: the row, with the cursor that pages from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RecipientPage {
    pub recipients: Vec<Recipient>,
    /// The cursor of the next page (`after`), if there are more matches.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub next: Option<i64>,
    /// The cursor of the page before (`before`), unless this is the first.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub previous: Option<i64>,
}

/// How many recipients of a campaign are in each state the table filters by,
/// and how many have each kind of reason (within `state`, when one is given).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RecipientFacets {
    pub counts: StatusCounts,
    /// Skipped because the address is on the suppression list (part of `skipped`).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub suppressed: u64,
    pub reasons: Vec<ReasonCount>,
}

/// Recipients with one kind of reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ReasonCount {
    pub reason: ReasonClass,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub count: u64,
}

/// Everything that happened to one recipient, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RecipientHistory {
    pub recipient: Recipient,
    /// Where it is now and since when (Unix ms).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub updated_at: i64,
    pub attempts: Vec<AttemptView>,
    pub bounces: Vec<BounceView>,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum AttemptResult {
    /// Accepted: the server's reply says "queued as …".
    Sent,
    /// Refused for now; retried.
    Transient,
    /// Refused for good.
    Permanent,
    /// The content went out and no answer came (or it was in flight when
    /// Mailroom stopped): the server may have it.
    Ambiguous,
}

/// One attempt to send to a recipient.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct AttemptView {
    /// Unix ms.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub started_at: i64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub duration_ms: Option<i64>,
    pub result: AttemptResult,
    /// The protocol step it ended at (connect, greeting, ehlo, tls, auth,
    /// mail, rcpt, data, render).
    pub stage: String,
    pub code: Option<u16>,
    pub enhanced_code: Option<String>,
    /// The server's words, verbatim (for a send, its whole reply line).
    pub text: Option<String>,
    /// The account it went through (its name at the time); `None` for
    /// attempts made before runs were recorded.
    pub account: Option<String>,
    /// The run it belongs to.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub run: Option<i64>,
}

/// A bounce recorded for a recipient after its send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct BounceView {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub bounced_at: i64,
    pub kind: BounceKind,
    pub status: Option<String>,
    pub diagnostic: String,
    pub reporting_mta: Option<String>,
}

string_enum! {
    /// Why a run was started.
    RunKind {
        First => "first",
        Resume => "resume",
        ResendFailed => "resend_failed",
        ResendUncertain => "resend_uncertain",
        ResendBounced => "resend_bounced",
    }
}

string_enum! {
    /// How a run ended (a run's [`RunOutcome`], or `interrupted` when its
    /// process died before it could say).
    RunEnd {
        Completed => "completed",
        Paused => "paused",
        Stopped => "stopped",
        Interrupted => "interrupted",
    }
}

impl From<RunOutcome> for RunEnd {
    fn from(outcome: RunOutcome) -> RunEnd {
        match outcome {
            RunOutcome::Completed => RunEnd::Completed,
            RunOutcome::Paused => RunEnd::Paused,
            RunOutcome::Stopped => RunEnd::Stopped,
        }
    }
}

/// One run of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RunRecord {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub id: i64,
    pub kind: RunKind,
    pub account: String,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub started_at: i64,
    /// `None` while it runs (or when its process died: `end` says so).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub ended_at: Option<i64>,
    pub end: Option<RunEnd>,
    pub reason: Option<PauseReason>,
    pub counts_at_start: StatusCounts,
    pub counts_at_end: Option<StatusCounts>,
    /// What this run did: sent, failed, uncertain and bounced during it
    /// (the change in those counts), when it has ended.
    pub outcome_counts: Option<RunCounts>,
    /// For a resend, what it sent again and what it left out.
    pub resend: Option<ResendPlan>,
}

/// What one run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RunCounts {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub sent: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub failed: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub uncertain: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub cancelled: u64,
}

impl RunCounts {
    /// What went from `start` to `end` (a resend moves failed recipients to
    /// pending before its run starts, so these are the run's own outcomes).
    pub fn between(start: &StatusCounts, end: &StatusCounts) -> RunCounts {
        RunCounts {
            sent: (end.sent + end.bounced).saturating_sub(start.sent + start.bounced),
            failed: end.failed.saturating_sub(start.failed),
            uncertain: end.uncertain.saturating_sub(start.uncertain),
            cancelled: end.cancelled.saturating_sub(start.cancelled),
        }
    }
}

/// What a person chose to send again.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ResendChoice {
    /// The kinds of failure to send again; `None`: every kind but
    /// [`ReasonClass::NoSuchUser`] (an address that does not exist takes no
    /// mail the second time either).
    pub reasons: Option<Vec<ReasonClass>>,
    /// Also failed recipients whose address is on the suppression list.
    pub include_suppressed: bool,
    /// Also the uncertain recipients (same Message-ID, same message version).
    pub include_uncertain: bool,
    /// Also the bounced recipients.
    pub include_bounced: bool,
}

impl ResendChoice {
    /// Whether failures of kind `class` are sent again.
    pub fn includes(&self, class: ReasonClass) -> bool {
        match &self.reasons {
            Some(chosen) => chosen.contains(&class),
            None => class != ReasonClass::NoSuchUser,
        }
    }
}

/// Why a recipient a resend could have sent was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "why", content = "reason", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum LeftOutWhy {
    /// A failure of a kind not chosen.
    Reason(ReasonClass),
    /// Its address is on the suppression list.
    Suppressed,
    /// Uncertain, and uncertain ones were not chosen.
    Uncertain,
    /// Bounced, and bounced ones were not chosen.
    Bounced,
}

/// Recipients left out of a resend for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct LeftOut {
    pub why: LeftOutWhy,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub count: u64,
}

/// What a resend sends again and what it leaves out: shown before (the
/// dialog, `--dry-run`) and kept with the run after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ResendPlan {
    pub choice: ResendChoice,
    /// Failed recipients by kind of failure (every one, chosen or not).
    pub failed: Vec<ReasonCount>,
    /// Of the failed recipients of a chosen kind, those whose address is suppressed.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub suppressed: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub uncertain: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub bounced: u64,
    /// How many go back to pending.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub to_send: u64,
    /// How many are left out, and why (empty when none).
    pub left_out: Vec<LeftOut>,
}

impl ResendPlan {
    /// How many are left out in all.
    pub fn left_out_total(&self) -> u64 {
        self.left_out.iter().map(|l| l.count).sum()
    }
}

/// A recipient's shown state, from the stored status and bounce.
pub(crate) fn shown_status(status: RecipientStatus, bounced: bool) -> RecipientStatus {
    match status {
        RecipientStatus::Sent if bounced => RecipientStatus::Bounced,
        other => other,
    }
}

/// The class of a reason as the store computes it, for code that holds a
/// reason in hand (tests check the two agree).
pub fn reason_class(reason: &RecipientReason) -> ReasonClass {
    match reason {
        RecipientReason::InvalidAddress { .. } => ReasonClass::InvalidAddress,
        RecipientReason::Duplicate { .. } => ReasonClass::Duplicate,
        RecipientReason::Suppressed { .. } => ReasonClass::Suppressed,
        RecipientReason::Smtp { failure, .. } if failure.is_unknown_mailbox() => ReasonClass::NoSuchUser,
        RecipientReason::Smtp { .. } => ReasonClass::Smtp,
        RecipientReason::GaveUp { .. } => ReasonClass::GaveUp,
        RecipientReason::GaveUpMaybeDelivered { .. } => ReasonClass::GaveUpMaybeDelivered,
        RecipientReason::NoAnswerResending { .. } => ReasonClass::NoAnswerResending,
        RecipientReason::NoAnswer { .. } => ReasonClass::NoAnswer,
        RecipientReason::InFlightAtStop => ReasonClass::InFlightAtStop,
        RecipientReason::Unrenderable { .. } => ReasonClass::Unrenderable,
        RecipientReason::SentMaybeTwice => ReasonClass::SentMaybeTwice,
        RecipientReason::Stopped => ReasonClass::Stopped,
        RecipientReason::MarkedSent => ReasonClass::MarkedSent,
        RecipientReason::Bounced { .. } => ReasonClass::Bounced,
        RecipientReason::Legacy { .. } => ReasonClass::Legacy,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::smtp::Stage;
    use crate::smtp::failure::Failure;
    use crate::smtp::reply::Reply;
    use crate::store::{NewCampaign, NewRecipient, StateChange, Store};

    /// The reason class the store computes (migration 0008's generated
    /// column) agrees with the engine's own reading of a failure: "no such
    /// user" is exactly what `Failure::is_unknown_mailbox` says, so the
    /// filter and the resend leave out the recipients the send suppressed.
    #[tokio::test]
    async fn the_stored_reason_class_agrees_with_the_engines_reading_of_each_reply() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with_clock(&dir.path().join("m.db"), Arc::new(ManualClock::at(1_700_000_000_000)))
            .await
            .expect("open");
        let replies = [
            (550, "5.1.1 <x@y>: Recipient address rejected: User unknown"),
            (550, "5.1.10 RESOLVER.ADR.RecipientNotFound; not found"),
            (553, "5.1.3 Bad recipient address syntax"),
            (550, "5.2.1 The email account that you tried to reach is disabled"),
            (550, "User unknown in virtual mailbox table"),
            (550, "No Such User Here"),
            (550, "mailbox does not exist"),
            (550, "5.7.1 Message rejected as spam"),
            (554, "5.7.1 Message refused by policy"),
            (552, "5.2.2 Mailbox full"),
            (554, "Transaction failed"),
            (551, "User not local; no such user"),
            (450, "4.1.1 Recipient address rejected: unverified address"),
            (421, "4.7.0 Try again later"),
        ];
        let columns = vec!["email".to_owned()];
        let mut writer = store
            .begin_import(&NewCampaign {
                name: "c",
                source_file: "/x.csv",
                columns: &columns,
                email_column: "email",
            })
            .await
            .expect("begin");
        let rows: Vec<NewRecipient> = (2..)
            .take(replies.len())
            .map(|row: u64| {
                let email = format!("u{row}@example.com");
                NewRecipient::new(row, email.clone(), &[email], RecipientStatus::Pending, None).expect("row")
            })
            .collect();
        writer.write(&rows).await.expect("write");
        let campaign = writer.commit().await.expect("commit");
        let mut ids = Vec::new();
        for row in rows.iter().map(|r| r.row) {
            let recipient = store.recipient_at(campaign, Some(row)).await.expect("read");
            ids.push(recipient.expect("imported").id);
        }

        // Each recipient fails with one reply, as a run records it.
        let mut expected: HashMap<ReasonClass, u64> = HashMap::new();
        let mut file = store.state_file(1, 0).expect("state file");
        for (id, (code, text)) in ids.iter().zip(replies) {
            let reason = RecipientReason::Smtp {
                failure: Failure::from_reply(Stage::Rcpt, &Reply::new(code, text)),
                unanswered_before: false,
            };
            *expected.entry(reason_class(&reason)).or_default() += 1;
            file.apply(&[
                StateChange::Claim { id: *id, version: 1 },
                StateChange::Failed {
                    id: *id,
                    reason,
                    attempt: None,
                    suppress: None,
                },
            ])
            .expect("apply");
        }

        let facets = store.recipient_facets(campaign, None).await.expect("facets");
        let stored: HashMap<ReasonClass, u64> = facets.reasons.iter().map(|r| (r.reason, r.count)).collect();
        assert_eq!(stored, expected);
        assert_eq!(expected.get(&ReasonClass::NoSuchUser), Some(&7), "{expected:?}");
    }
}
