//! What happened, as data: why a recipient was skipped, failed, waits or is
//! uncertain ([`RecipientReason`]), and why a campaign paused
//! ([`PauseReason`]). Each is an enum with its parameters (counts, codes,
//! the server's verbatim words as a field), never a finished sentence: the
//! window renders them from its catalogs (`ui/src/lib/i18n`), in the
//! language the person reads now, and the CLI, logs and exported files from
//! the English `Display` here. The store keeps them as JSON (see
//! [`RecipientReason::to_json`]), so a campaign recorded in one language
//! reads right in the other; text stored before that (migration 0006 could
//! not read it) comes back as `Legacy`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::InvalidReason;
use crate::english::{count, is_one};
use crate::model::{BounceKind, string_enum};
use crate::smtp::Failure;
use crate::smtp::failure::describe_duration;

string_enum! {
    /// The span of a sending quota.
    QuotaWindow {
        Minute => "minute",
        Hour => "hour",
        Day => "day",
    }
}

/// Why an account is suspended (issue 19): kept with the suspension
/// (`account_suspensions`, migration 0013) and shown on the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum SuspensionReason {
    /// A provider rule (`rule`) matched the server's reply (`failure`).
    Rule { rule: String, failure: Failure },
    /// The account's own quota of `limit` messages per `window` is used up.
    Quota {
        window: QuotaWindow,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit: u64,
    },
}

/// Why a campaign's sending moved from one of its accounts to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum AccountChange {
    /// The account it sent on is suspended until `until` (Unix ms).
    Suspended {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        until: i64,
        reason: SuspensionReason,
    },
    /// The account it sent on could not log in (nothing frees that by itself).
    AuthFailed { failure: Failure },
    /// The server of the account it sent on, `host:port`, could not be
    /// used: not reached, refusing, silent, or its certificate failed
    /// (`failure`, the last try's), before any message was accepted or for
    /// longer than the account's outage limit. Its server is tried again
    /// in the background; when it answers, sending moves back
    /// ([`AccountChange::Reachable`]).
    Unreachable { failure: Failure, host: String, port: u16 },
    /// An earlier account of the list is no longer suspended: back to it.
    Resumed,
    /// The server of an earlier account of the list, set aside because it
    /// could not be reached, answers again: back to it.
    Reachable,
}

/// English, for the CLI and the log.
impl fmt::Display for SuspensionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuspensionReason::Rule { rule, failure } => write!(f, "rule {rule}: \"{}\"", failure.text),
            SuspensionReason::Quota { window, limit } => {
                write!(f, "its quota of {limit} per {} is used up", window.as_str())
            }
        }
    }
}

/// English, for the CLI and the log.
impl fmt::Display for AccountChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountChange::Suspended { until, reason } => {
                write!(
                    f,
                    "the account is suspended until {} ({reason})",
                    crate::export::utc_second(*until)
                )
            }
            AccountChange::AuthFailed { failure } => write!(f, "the account could not log in: \"{}\"", failure.text),
            AccountChange::Unreachable { failure, host, port } => {
                write!(f, "the account's server {host}:{port} could not be used: {failure}")
            }
            AccountChange::Resumed => f.write_str("an earlier account is no longer suspended"),
            AccountChange::Reachable => f.write_str("an earlier account's server can be reached again"),
        }
    }
}

/// Why a recipient is where it is: skipped at import, waiting to retry,
/// failed, uncertain, cancelled, or sent with a caveat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum RecipientReason {
    /// Skipped at import: the address cannot be used.
    InvalidAddress { problem: InvalidReason },
    /// Skipped at import: the same address is on an earlier row.
    Duplicate {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        first_row: u64,
    },
    /// Skipped (at import, or as a run began): the address is on the
    /// suppression list, for `reason` (the list's; `None` in campaigns
    /// recorded before it was kept here).
    Suppressed {
        #[serde(default)]
        reason: Option<String>,
    },
    /// The server refused it for good, or a transient failure it waits to
    /// retry. `unanswered_before`: an earlier attempt got no answer after
    /// its content, so it may have been delivered anyway.
    Smtp { failure: Failure, unanswered_before: bool },
    /// Failed after `attempts` transient failures; the last one.
    GaveUp { attempts: u32, last: Failure },
    /// Gave up after `attempts`, but an earlier attempt got no answer after
    /// its content: the server may have it (uncertain).
    GaveUpMaybeDelivered { attempts: u32, last: Failure },
    /// The content went out and no answer came: sent again with the same
    /// Message-ID (the account's at-least-once setting).
    NoAnswerResending { failure: Failure },
    /// The content went out and no answer came: a person decides.
    NoAnswer { failure: Failure },
    /// It was in flight when Mailroom stopped (closed or killed).
    InFlightAtStop,
    /// Its message could not be made (the template failed for its values):
    /// the problem, typed (none in campaigns recorded before it was kept),
    /// and in English for the log and exported files.
    Unrenderable {
        detail: String,
        #[serde(default, deserialize_with = "problem_if_readable")]
        problem: Option<crate::message::TemplateError>,
    },
    /// Sent; an earlier attempt got no answer, so it may have arrived twice.
    SentMaybeTwice,
    /// Cancelled when the campaign was stopped.
    Stopped,
    /// An uncertain recipient the person counted as sent.
    MarkedSent,
    /// Sent, then a delivery status notification came back (a bounce scan):
    /// hard or soft, its status code, the diagnostic the reporting server
    /// wrote (its words, verbatim) and which server reported it.
    Bounced {
        bounce: BounceKind,
        status: Option<String>,
        diagnostic: String,
        reporting_mta: Option<String>,
    },
    /// A reason stored as text before reasons were kept as data.
    Legacy { text: String },
}

/// A stored reason's template problem, or none when it was kept in a form
/// this version does not read (a recipient's attachment problem was English
/// text before it was data): the reason's English `detail` still says what
/// it was, and the reason itself stays readable.
fn problem_if_readable<'de, D>(stored: D) -> Result<Option<crate::message::TemplateError>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(stored)?;
    Ok(serde_json::from_value(value).ok())
}

impl RecipientReason {
    /// The form the store keeps.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"kind\":\"legacy\",\"text\":\"\"}"))
    }

    /// A stored reason: JSON, or text from before reasons were data.
    pub fn from_stored(stored: &str) -> RecipientReason {
        serde_json::from_str(stored).unwrap_or_else(|_| RecipientReason::Legacy {
            text: stored.to_owned(),
        })
    }

    /// Whether it counts toward the "failed in a row" pause: only a
    /// recipient that ends failed does.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            RecipientReason::Smtp { failure, .. }
            | RecipientReason::NoAnswerResending { failure }
            | RecipientReason::NoAnswer { failure } => Some(failure),
            RecipientReason::GaveUp { last, .. } | RecipientReason::GaveUpMaybeDelivered { last, .. } => Some(last),
            _ => None,
        }
    }

    /// The server's words with their codes ("550 5.1.1 User unknown") when a
    /// server's reply is behind it; what a send's "no such user" puts on the
    /// suppression list.
    pub fn server_words(&self) -> Option<String> {
        self.failure().map(Failure::server_words)
    }
}

/// English, for the CLI, the log and exported files.
impl fmt::Display for RecipientReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecipientReason::InvalidAddress { problem } => write!(f, "invalid address: {problem}"),
            RecipientReason::Duplicate { first_row } => write!(f, "duplicate of row {first_row}"),
            RecipientReason::Suppressed { reason: None } => f.write_str("on the suppression list"),
            RecipientReason::Suppressed { reason: Some(reason) } => write!(f, "on the suppression list: {reason}"),
            RecipientReason::Smtp {
                failure,
                unanswered_before,
            } => {
                write!(f, "{failure}")?;
                if *unanswered_before {
                    f.write_str(" (an earlier attempt got no answer after its content and may have delivered it)")?;
                }
                Ok(())
            }
            RecipientReason::GaveUp { attempts, last } => {
                let tried = count(*attempts, "attempt", "attempts");
                if is_one(attempts) {
                    write!(f, "gave up after {tried}: {last}")
                } else {
                    write!(f, "gave up after {tried}; the last: {last}")
                }
            }
            RecipientReason::GaveUpMaybeDelivered { attempts, last } => {
                if is_one(attempts) {
                    write!(
                        f,
                        "gave up after 1 attempt ({last}); it got no answer after its content"
                    )?;
                } else {
                    write!(
                        f,
                        "gave up after {attempts} attempts (the last: {last}); an earlier attempt got no answer \
                         after its content"
                    )?;
                }
                f.write_str(", so the server may have it: send it again (same Message-ID) or count it as sent")
            }
            RecipientReason::NoAnswerResending { failure } => write!(
                f,
                "no answer after the content was sent ({failure}); sending it again with the same Message-ID, so \
                 this recipient may receive it twice"
            ),
            RecipientReason::NoAnswer { failure } => write!(
                f,
                "the server may have it: no answer after the content was sent ({failure}); send it again (same \
                 Message-ID) or count it as sent"
            ),
            RecipientReason::InFlightAtStop => {
                f.write_str("in flight when Mailroom stopped: the server may or may not have accepted it")
            }
            RecipientReason::Unrenderable { detail, .. } => {
                write!(f, "the message could not be made for this recipient: {detail}")
            }
            RecipientReason::SentMaybeTwice => f.write_str(
                "sent; an earlier attempt got no answer after its content, so this recipient may have received the \
                 message more than once (same Message-ID, which most providers de-duplicate)",
            ),
            RecipientReason::Stopped => f.write_str("the campaign was stopped"),
            RecipientReason::MarkedSent => f.write_str("marked as sent by you"),
            RecipientReason::Bounced {
                bounce,
                status,
                diagnostic,
                reporting_mta,
            } => {
                write!(f, "{bounce} bounce")?;
                if let Some(status) = status {
                    write!(f, " {status}")?;
                }
                write!(f, ": {diagnostic}")?;
                if let Some(mta) = reporting_mta {
                    write!(f, " (reported by {mta})")?;
                }
                Ok(())
            }
            RecipientReason::Legacy { text } => f.write_str(text),
        }
    }
}

/// Why a campaign paused, or is pausing, when it was not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum PauseReason {
    /// The person paused it.
    ByYou,
    /// Nothing will get through until a person acts (a wrong password, a
    /// certificate, the sender refused, the shared part too big): the
    /// failure says which, and advice is the front end's, for `host:port`.
    Server { failure: Failure, host: String, port: u16 },
    /// The server could not be reached `attempts` times in a row.
    Unreachable {
        attempts: u32,
        failure: Failure,
        host: String,
        port: u16,
    },
    /// The server had accepted mail in this run, then no connection could
    /// be opened for longer than the account allows (`limit_ms`, its
    /// `outage_limit_ms`), in `attempts` tries; the last one's failure.
    OutageTooLong {
        attempts: u32,
        failure: Failure,
        host: String,
        port: u16,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit_ms: u64,
    },
    /// A provider rule (`rule`) says every message would get this reply:
    /// `advice` is the rule's, in English (the window shows it quoted).
    Rule {
        rule: String,
        advice: String,
        failure: Failure,
    },
    /// `count` recipients failed in a row; the last one's reason.
    FailuresInARow { count: u32, last: Box<RecipientReason> },
    /// `count` messages in a row got no answer after their content.
    /// `resending`: the account sends them again (they may arrive twice),
    /// else they are uncertain. The account's message timeout, to raise.
    NoAnswerInARow {
        count: u32,
        last: Failure,
        resending: bool,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        timeout_ms: u64,
    },
    /// Row `row` may already have message version `version`, which cannot
    /// be made again; nothing was sent to it.
    VersionUnavailable {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        row: u64,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        version: i64,
        detail: String,
    },
    /// The disk is full: free space, then resume.
    DiskFull,
    /// The database could not be written (not a full disk).
    DatabaseUnwritable { detail: String },
    /// Mailroom itself could not keep going (a task failed).
    Internal { detail: String },
    /// The run could not start or go on: the engine's error, by kind, with
    /// its English detail for the log (the message cannot be compiled, say).
    Error { error: crate::ErrorKind, detail: String },
    /// Nothing left to send but `count` uncertain recipients, for a person
    /// to decide.
    Uncertain {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        count: u64,
    },
    /// `count` recipients still wait (the dispatcher ran dry early).
    StillWaiting {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        count: u64,
    },
    /// `count` uncertain recipients are to be sent again: resume.
    UncertainToResend {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        count: u64,
    },
    /// `count` failed recipients are to be sent again: resume.
    FailedToResend {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        count: u64,
    },
    /// `count` bounced recipients are to be sent again (chosen by the
    /// person): resume.
    BouncedToResend {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        count: u64,
    },
    /// Marked running, but no Mailroom is sending it (closed, killed, or
    /// its pause could not be recorded on a full disk).
    Interrupted,
    /// This run's account was set aside and sending went on on `account`,
    /// the next of the campaign's accounts, in a run of its own (a run's
    /// end only: the campaign itself goes on).
    MovedToAccount { account: String, why: AccountChange },
    /// A reason stored as text before reasons were kept as data.
    Legacy { text: String },
}

impl PauseReason {
    /// The form the store keeps.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"kind\":\"legacy\",\"text\":\"\"}"))
    }

    /// A stored reason: JSON, or text from before reasons were data.
    pub fn from_stored(stored: &str) -> PauseReason {
        serde_json::from_str(stored).unwrap_or_else(|_| PauseReason::Legacy {
            text: stored.to_owned(),
        })
    }
}

/// English, for the CLI, the log and exported files.
impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PauseReason::ByYou => f.write_str("paused by you"),
            PauseReason::Server { failure, host, port } => {
                write!(f, "{failure}. {}", failure.advice(host, *port))
            }
            PauseReason::Unreachable {
                attempts,
                failure,
                host,
                port,
            } => {
                if is_one(attempts) {
                    write!(
                        f,
                        "the server could not be reached: {failure}. {}",
                        failure.advice(host, *port)
                    )
                } else {
                    write!(
                        f,
                        "the server could not be reached {attempts} times in a row: {failure}. {}",
                        failure.advice(host, *port)
                    )
                }
            }
            PauseReason::OutageTooLong {
                attempts,
                failure,
                host,
                port,
                limit_ms,
            } => write!(
                f,
                "the server could not be reached for longer than {} ({}): {failure}. {} Resume when it is back",
                describe_duration(std::time::Duration::from_millis(*limit_ms)),
                count(*attempts, "try", "tries"),
                failure.advice(host, *port)
            ),
            PauseReason::Rule { rule, advice, failure } => {
                write!(f, "{failure}. {advice} (rule {rule})")
            }
            PauseReason::FailuresInARow { count: n, last } if is_one(n) => write!(
                f,
                "a recipient failed, so the campaign paused to spare your list: {last}"
            ),
            PauseReason::FailuresInARow { count, last } => write!(
                f,
                "{count} recipients failed in a row, so the campaign paused to spare your list; the last: {last}"
            ),
            PauseReason::NoAnswerInARow {
                count,
                last,
                resending,
                timeout_ms,
            } => {
                let (what, them) = match (*resending, is_one(count)) {
                    (true, true) => ("it is sent again with the same Message-ID, and may arrive twice", "it"),
                    (true, false) => (
                        "they are sent again with the same Message-ID, and may arrive twice",
                        "them",
                    ),
                    (false, true) => ("it is marked uncertain for you to decide", "it"),
                    (false, false) => ("they are marked uncertain for you to decide", "them"),
                };
                let timeout = describe_duration(std::time::Duration::from_millis(*timeout_ms));
                if is_one(count) {
                    write!(f, "a message got no answer after its content ({last})")?;
                } else {
                    write!(
                        f,
                        "{count} messages in a row got no answer after their content (the last: {last})"
                    )?;
                }
                write!(
                    f,
                    ", so the campaign paused: the server may have {them}, and {what}. If the server is slow to \
                     accept messages, give the account a longer message timeout than {timeout}; then resume"
                )
            }
            PauseReason::VersionUnavailable { row, version, detail } => write!(
                f,
                "row {row} may already have version {version} of the message, which cannot be made again \
                 ({detail}); nothing was sent to it"
            ),
            PauseReason::DiskFull => f.write_str(
                "disk full: the database cannot grow (no space left, or a size limit reached); free space, then resume",
            ),
            PauseReason::DatabaseUnwritable { detail } => write!(f, "the database could not be written: {detail}"),
            PauseReason::Internal { detail } => write!(f, "Mailroom could not keep going: {detail}"),
            PauseReason::Error { detail, .. } => f.write_str(detail),
            PauseReason::Uncertain { count: n } if is_one(n) => f.write_str(
                "1 recipient is uncertain: the message went out and no answer came, so the server may have it. \
                 Decide for it: send it again (same Message-ID, so most providers drop a duplicate) or count it \
                 as sent",
            ),
            PauseReason::Uncertain { count } => write!(
                f,
                "{count} recipients are uncertain: their message went out and no answer came, so the server may \
                 have it. Decide for them: send them again (same Message-ID, so most providers drop a duplicate) \
                 or count them as sent"
            ),
            PauseReason::StillWaiting { count: n } => write!(
                f,
                "{} still waiting; resume to send {}",
                count(*n, "recipient is", "recipients are"),
                if is_one(n) { "it" } else { "them" }
            ),
            PauseReason::UncertainToResend { count: n } => write!(
                f,
                "{} to send again (same Message-ID); resume to send {}",
                count(*n, "uncertain recipient", "uncertain recipients"),
                if is_one(n) { "it" } else { "them" }
            ),
            PauseReason::FailedToResend { count: n } => {
                write!(
                    f,
                    "{} to send again",
                    count(*n, "failed recipient", "failed recipients")
                )
            }
            PauseReason::BouncedToResend { count: n } => {
                write!(
                    f,
                    "{} to send again",
                    count(*n, "bounced recipient", "bounced recipients")
                )
            }
            PauseReason::Interrupted => f.write_str(
                "interrupted: no Mailroom is sending it any more (it was closed or killed, or could not record its \
                 pause on a full disk); resume continues where it stopped",
            ),
            PauseReason::MovedToAccount { account, why } => {
                write!(f, "sending moved to account \"{account}\": {why}")
            }
            PauseReason::Legacy { text } => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::failure::{Problem, Stage};

    #[test]
    fn reasons_round_trip_through_their_stored_form() {
        let failure = Failure::new(Stage::Rcpt, Problem::Rejected, "5.1.1 no such user");
        let reasons = [
            RecipientReason::InvalidAddress {
                problem: InvalidReason::BadDomain,
            },
            RecipientReason::Duplicate { first_row: 3 },
            RecipientReason::GaveUp {
                attempts: 4,
                last: failure.clone(),
            },
            RecipientReason::Smtp {
                failure: failure.clone(),
                unanswered_before: true,
            },
        ];
        for reason in reasons {
            assert_eq!(RecipientReason::from_stored(&reason.to_json()), reason);
        }
        let pause = PauseReason::FailuresInARow {
            count: 20,
            last: Box::new(RecipientReason::Smtp {
                failure,
                unanswered_before: false,
            }),
        };
        assert_eq!(PauseReason::from_stored(&pause.to_json()), pause);
    }

    #[test]
    fn text_from_before_reasons_were_data_reads_as_legacy() {
        assert_eq!(
            RecipientReason::from_stored("rcpt: 550 no"),
            RecipientReason::Legacy {
                text: "rcpt: 550 no".to_owned()
            }
        );
        assert_eq!(
            PauseReason::from_stored("paused by you"),
            PauseReason::Legacy {
                text: "paused by you".to_owned()
            }
        );
    }

    #[test]
    fn an_attachment_problem_is_kept_as_data_and_one_kept_as_text_still_reads() {
        use crate::message::attach::AttachmentProblem;
        use crate::message::{TemplateError, TemplatePart, TemplateProblem};
        let problem = TemplateError {
            part: TemplatePart::Recipient,
            row: Some(3),
            line: None,
            problem: TemplateProblem::Attachment {
                problem: AttachmentProblem::TooLarge {
                    path: "/files/big.pdf".to_owned(),
                    bytes: 200 << 20,
                    limit: 100 << 20,
                },
            },
        };
        let reason = RecipientReason::Unrenderable {
            detail: problem.to_string(),
            problem: Some(problem),
        };
        assert_eq!(RecipientReason::from_stored(&reason.to_json()), reason);

        // Stored before attachment problems were data: the reason stays
        // itself, with its English detail, and only the typed problem is gone.
        let stored = r#"{"kind":"unrenderable","detail":"row 3, recipient: the attachment /files/x.pdf is not a regular file","problem":{"part":"recipient","row":3,"line":null,"problem":{"kind":"attachment","detail":"the attachment /files/x.pdf is not a regular file"}}}"#;
        assert_eq!(
            RecipientReason::from_stored(stored),
            RecipientReason::Unrenderable {
                detail: "row 3, recipient: the attachment /files/x.pdf is not a regular file".to_owned(),
                problem: None,
            }
        );
        // Older still: no problem kept at all.
        assert_eq!(
            RecipientReason::from_stored(r#"{"kind":"unrenderable","detail":"row 3, subject: undefined value"}"#),
            RecipientReason::Unrenderable {
                detail: "row 3, subject: undefined value".to_owned(),
                problem: None,
            }
        );
    }

    #[test]
    fn english_says_one_in_the_singular() {
        let failure = Failure::new(Stage::Rcpt, Problem::Rejected, "5.1.1 no such user");
        let gave_up = |attempts| RecipientReason::GaveUp {
            attempts,
            last: failure.clone(),
        };
        assert!(
            gave_up(1).to_string().starts_with("gave up after 1 attempt: "),
            "{}",
            gave_up(1)
        );
        assert!(
            gave_up(3)
                .to_string()
                .starts_with("gave up after 3 attempts; the last: "),
            "{}",
            gave_up(3)
        );
        assert_eq!(
            PauseReason::StillWaiting { count: 1 }.to_string(),
            "1 recipient is still waiting; resume to send it"
        );
        assert_eq!(
            PauseReason::StillWaiting { count: 2 }.to_string(),
            "2 recipients are still waiting; resume to send them"
        );
        assert_eq!(
            PauseReason::FailedToResend { count: 1 }.to_string(),
            "1 failed recipient to send again"
        );
        assert!(
            PauseReason::Uncertain { count: 1 }
                .to_string()
                .starts_with("1 recipient is uncertain")
        );
        assert!(
            PauseReason::Uncertain { count: 5 }
                .to_string()
                .starts_with("5 recipients are uncertain")
        );
    }

    #[test]
    fn the_stored_form_is_tagged_with_its_parameters() {
        let json = RecipientReason::InvalidAddress {
            problem: InvalidReason::BadDomain,
        }
        .to_json();
        assert_eq!(json, r#"{"kind":"invalid_address","problem":"bad_domain"}"#);
        assert_eq!(
            PauseReason::Uncertain { count: 2 }.to_json(),
            r#"{"kind":"uncertain","count":2}"#
        );
    }
}
