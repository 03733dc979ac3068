//! The types front ends display: campaigns, recipients, per-state counts and
//! import reports. Plain data; serde for the CLI's `--json` and the window.

use indexmap::IndexMap;
use serde::Serialize;

use crate::address::InvalidReason;

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
    /// How a bounce bears on the address (issue 20): hard (5.x.x: no such
    /// user, domain gone) suppresses it at once; soft (4.x.x, mailbox full)
    /// suppresses it after the account's soft-bounce limit.
    BounceKind {
        Hard => "hard",
        Soft => "soft",
    }
}

/// How many recipients of a campaign are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
    pub pause_reason: Option<String>,
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
    pub reason: Option<String>,
    /// For a sent recipient, the server's answer to the message (`250 2.0.0
    /// Ok: queued as …`): what a person quotes to the provider to trace it.
    pub reply: Option<String>,
    pub attempts: u32,
    /// For a bounced recipient, whether the bounce was hard or soft (its
    /// diagnostic is the `reason`).
    pub bounce: Option<BounceKind>,
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
}

/// How a file would be read, before anything is saved: what was detected (or
/// chosen), the sheets there are to choose from and the first rows, so the
/// person can check and change the choices while nothing is written yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ImportPreview {
    /// `csv`, `xlsx`, `xls`, `xlsb` or `ods`.
    pub format: String,
    /// Text files only: the encoding and delimiter it would be read with.
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    /// Text files only: whether `"` is read as a character, not as quoting.
    pub literal_quotes: Option<bool>,
    /// Spreadsheets only: the sheet read, and every sheet in the workbook.
    pub sheet: Option<String>,
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
    /// `csv`, `xlsx`, `xls`, `xlsb` or `ods`.
    pub format: String,
    /// Text files only: the encoding and delimiter read with.
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    /// Spreadsheets only: the sheet read.
    pub sheet: Option<String>,
    pub columns: Vec<String>,
    /// Each column's merge-field name in a message (`E-Mail Address` →
    /// `e_mail_address`), in column order.
    pub fields: Vec<String>,
    pub email_column: String,
    /// The first rows of the file, as imported, for a preview table.
    pub preview: Vec<Vec<String>>,
}
