//! The types front ends display: campaigns, recipients, per-state counts and
//! import reports, and the plain data the store keeps for the layers above it
//! (an account's security and login, a message draft). Plain data; serde for
//! the CLI's `--json` and the window.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::address::InvalidReason;
use crate::outcome::{PauseReason, RecipientReason};

/// A campaign's row id in the store.
pub type CampaignId = i64;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored in SQLite and shown in `--json` output.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} \"{other}\" (expected one of: {})",
                        stringify!($name),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

pub(crate) use string_enum;

string_enum! {
    /// Where a campaign is in its life.
    CampaignStatus {
        Draft => "draft",
        Running => "running",
        Paused => "paused",
        Completed => "completed",
        Stopped => "stopped",
    }
}

string_enum! {
    /// Where one recipient is (SPEC.md, "Recipient states").
    RecipientStatus {
        Pending => "pending",
        Sending => "sending",
        Sent => "sent",
        RetryWait => "retry_wait",
        Failed => "failed",
        Skipped => "skipped",
        Cancelled => "cancelled",
        Uncertain => "uncertain",
        /// Sent, then a delivery status notification said it did not arrive
        /// (stored as `sent` with the bounce marked; see store/bounces.rs).
        Bounced => "bounced",
    }
}

string_enum! {
    /// How the connection is encrypted.
    Security {
        /// TLS from the first byte (usually port 465).
        Tls => "tls",
        /// Plain text, then STARTTLS before anything else (usually 587);
        /// a server without STARTTLS is an error, never a silent downgrade.
        Starttls => "starttls",
        /// No encryption at all: passwords and mail travel in clear text.
        None => "none",
    }
}

string_enum! {
    /// How the account logs in.
    AuthMethod {
        Plain => "plain",
        Login => "login",
        None => "none",
    }
}

string_enum! {
    /// What a person decided about a campaign's uncertain recipients (their
    /// message went out and no answer came).
    UncertainDecision {
        /// Send them again: `pending`, with the same Message-ID and message
        /// version, which lets providers drop a duplicate.
        Resend => "resend",
        /// Count them as sent.
        MarkSent => "mark_sent",
    }
}

string_enum! {
    /// How a bounce bears on the address (issue 20): hard (5.x.x: no such
    /// user, domain gone) suppresses it at once; soft (4.x.x, mailbox full)
    /// suppresses it after the account's soft-bounce limit.
    BounceKind {
        Hard => "hard",
        Soft => "soft",
    }
}

/// How many recipients of a campaign are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct StatusCounts {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub pending: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub sending: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub sent: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub retry_wait: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub failed: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub skipped: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub cancelled: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub uncertain: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub bounced: u64,
}

impl StatusCounts {
    pub fn get_mut(&mut self, status: RecipientStatus) -> &mut u64 {
        match status {
            RecipientStatus::Pending => &mut self.pending,
            RecipientStatus::Sending => &mut self.sending,
            RecipientStatus::Sent => &mut self.sent,
            RecipientStatus::RetryWait => &mut self.retry_wait,
            RecipientStatus::Failed => &mut self.failed,
            RecipientStatus::Skipped => &mut self.skipped,
            RecipientStatus::Cancelled => &mut self.cancelled,
            RecipientStatus::Uncertain => &mut self.uncertain,
            RecipientStatus::Bounced => &mut self.bounced,
        }
    }

    /// How far sending has got, 0 to 100: the recipients with an outcome
    /// (sent, failed, cancelled, uncertain) out of those there were to send
    /// (everyone but the skipped rows). Rounded down, and 100 only when
    /// nobody is left to send, so a window never reads "100 %" while a mail
    /// is still on its way.
    pub fn percent_done(&self) -> u8 {
        let left = self.pending + self.sending + self.retry_wait;
        let done = self.sent + self.failed + self.cancelled + self.uncertain;
        let to_send = left + done;
        if left == 0 {
            return 100;
        }
        let percent = (u128::from(done) * 100 / u128::from(to_send)).min(99);
        u8::try_from(percent).unwrap_or(99)
    }

    pub fn total(&self) -> u64 {
        self.pending
            + self.sending
            + self.sent
            + self.retry_wait
            + self.failed
            + self.skipped
            + self.cancelled
            + self.uncertain
            + self.bounced
    }
}

/// A campaign with its recipient counts, as `mailroom status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct CampaignSummary {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub id: CampaignId,
    pub name: String,
    pub status: CampaignStatus,
    /// Why a paused campaign paused (a person's pause, a wrong password, ...).
    pub pause_reason: Option<PauseReason>,
    /// The SMTP account it last ran on.
    pub account: Option<String>,
    pub source_file: String,
    pub columns: Vec<String>,
    pub email_column: String,
    /// Unix milliseconds.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub created_at: i64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub total: u64,
    pub counts: StatusCounts,
    /// The other process sending it right now (the app or the CLI, as
    /// "mailroom (process 4242)"), so it is not offered for resume here.
    /// Filled by the engine's `campaign::summary` and `campaign::list`.
    pub sent_by: Option<String>,
    /// Marked running in the file, but no Mailroom is sending it (killed, or
    /// it could not record its pause on a full disk): shown as `paused`,
    /// with this set. Filled like `sent_by`.
    pub interrupted: bool,
}

/// One recipient row with the values it was imported with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Recipient {
    /// Row number as a spreadsheet shows it (the header is row 1).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub row: u64,
    pub email: String,
    pub status: RecipientStatus,
    pub reason: Option<RecipientReason>,
    /// For a sent recipient, the server's answer to the message (`250 2.0.0
    /// Ok: queued as …`): what a person quotes to the provider to trace it.
    pub reply: Option<String>,
    pub attempts: u32,
    /// For a bounced recipient, whether the bounce was hard or soft (its
    /// diagnostic is the `reason`).
    pub bounce: Option<BounceKind>,
    /// Attempts whose content may have reached the server without an answer.
    /// A `sent` recipient with any may have the message more than once (its
    /// reason says so).
    pub unanswered: u32,
    /// The version of the campaign's message it was last sent (or may have
    /// got); `None` before it was ever sent.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub message_version: Option<i64>,
    /// Every source column, in file order, with its value as imported.
    #[cfg_attr(feature = "ts-bindings", ts(type = "Record<string, string>"))]
    pub fields: IndexMap<String, String>,
}

/// A row whose address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct InvalidRow {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub row: u64,
    pub value: String,
    pub reason: InvalidReason,
}

/// A row whose address already appeared on an earlier row (the first wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct DuplicateRow {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub row: u64,
    pub email: String,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub first_row: u64,
}

/// A row whose address is on the suppression list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SuppressedRow {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub row: u64,
    pub email: String,
    /// Why the address is on the list.
    pub reason: String,
}

/// How a recipient file is read: its format and, for a text file, the
/// encoding, delimiter and reading of quotes, or for a workbook, the sheet.
/// What a preview shows and an import reports, built in one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SourceFormat {
    /// `csv`, `xlsx`, `xls`, `xlsb` or `ods`.
    pub format: String,
    /// Text files only: the encoding and delimiter it is read with.
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    /// Text files only: whether `"` is read as a character, not as quoting.
    pub literal_quotes: Option<bool>,
    /// Spreadsheets only: the sheet read.
    pub sheet: Option<String>,
}

/// How a file would be read, before anything is saved: what was detected (or
/// chosen), the sheets there are to choose from and the first rows, so the
/// person can check and change the choices while nothing is written yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ImportPreview {
    /// How the file would be read (detected, or as chosen).
    #[serde(flatten)]
    #[cfg_attr(feature = "ts-bindings", ts(flatten))]
    pub source: SourceFormat,
    /// Spreadsheets only: every sheet in the workbook.
    pub sheets: Vec<String>,
    pub columns: Vec<String>,
    pub fields: Vec<String>,
    /// `None` when no header names it and no column's values look like
    /// addresses: the person has to choose one before importing.
    pub email_column: Option<String>,
    /// The first data rows (blank rows left out).
    pub rows: Vec<Vec<String>>,
    /// The file's size, to judge how long the import will take.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub file_bytes: u64,
}

/// How far a running import has got; reported after each batch is written.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ImportProgress {
    /// Data rows read and written so far.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub rows: u64,
    /// The share of the file read, 0 to 1.
    pub fraction: f64,
}

/// What an import did: every data row is counted exactly once, as valid,
/// invalid, duplicate or suppressed (`rows == valid + invalid + duplicates + suppressed`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ImportReport {
    pub campaign: CampaignSummary,
    /// Data rows read (blank rows are not rows).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub rows: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub valid: u64,
    pub invalid: Vec<InvalidRow>,
    pub duplicates: Vec<DuplicateRow>,
    pub suppressed: Vec<SuppressedRow>,
    /// How the file was read.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts-bindings", ts(flatten))]
    pub source: SourceFormat,
    pub columns: Vec<String>,
    /// Each column's merge-field name in a message (`E-Mail Address` →
    /// `e_mail_address`), in column order.
    pub fields: Vec<String>,
    pub email_column: String,
    /// The first rows of the file, as imported, for a preview table.
    pub preview: Vec<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::StatusCounts;

    #[test]
    fn percent_done_counts_outcomes_among_those_to_send() {
        let counts = |pending, sending, sent, retry_wait, failed, skipped| StatusCounts {
            pending,
            sending,
            sent,
            retry_wait,
            failed,
            skipped,
            ..StatusCounts::default()
        };
        // Skipped rows were never to be sent: 2 of 4 sendable done.
        assert_eq!(counts(2, 0, 1, 0, 1, 6).percent_done(), 50);
        // Rounded down: 1 of 3 is 33 %.
        assert_eq!(counts(2, 0, 1, 0, 0, 0).percent_done(), 33);
        // Nearly done is not done while a mail is on its way or waits to retry.
        assert_eq!(counts(0, 1, 999, 0, 0, 0).percent_done(), 99);
        assert_eq!(counts(0, 0, 999, 1, 0, 0).percent_done(), 99);
        assert_eq!(counts(0, 0, 1000, 0, 0, 3).percent_done(), 100);
        // Nothing to send (every row skipped) is done.
        assert_eq!(counts(0, 0, 0, 0, 0, 5).percent_done(), 100);
        assert_eq!(counts(7, 0, 0, 0, 0, 0).percent_done(), 0);
        // No overflow at the largest counts.
        assert_eq!(counts(u64::MAX / 4, 0, u64::MAX / 4, 0, 0, 0).percent_done(), 50);
    }
}

/// What a person writes on the Message screen (stored per campaign as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct MessageDraft {
    pub subject: String,
    /// Plain-text body; with `html` too, the two go as multipart/alternative.
    pub text: Option<String>,
    /// HTML body; without `text`, a plain-text part is derived from it.
    pub html: Option<String>,
    /// Files attached for everyone.
    #[cfg_attr(feature = "ts-bindings", ts(type = "Array<string>"))]
    pub attachments: Vec<PathBuf>,
    /// A column naming a file per recipient, inside `attachment_folder`.
    pub attachment_column: Option<String>,
    /// Or a file name with merge fields (`invoice-{{ code }}.pdf`), inside
    /// `attachment_folder`; instead of a column.
    pub attachment_name: Option<String>,
    /// The folder each recipient's file is in; needed with a column or a
    /// file name, and a recipient's file is never taken from outside it.
    #[cfg_attr(feature = "ts-bindings", ts(type = "string | null"))]
    pub attachment_folder: Option<PathBuf>,
    pub unsubscribe: Unsubscribe,
}

/// `List-Unsubscribe` (RFC 2369) and one-click `List-Unsubscribe-Post` (RFC 8058).
/// On by default: large mailbox providers require it of bulk senders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct Unsubscribe {
    pub enabled: bool,
    /// Where unsubscribe mails go; the sender's address when empty.
    pub mailto: Option<String>,
    /// An https URL (merge fields allowed, e.g. `?e={{ email | urlencode }}`);
    /// with it, one-click unsubscribe is offered.
    pub url: Option<String>,
}

impl Default for Unsubscribe {
    fn default() -> Self {
        Unsubscribe {
            enabled: true,
            mailto: None,
            url: None,
        }
    }
}
