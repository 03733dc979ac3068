//! The engine's error type: one variant per thing that can go wrong, each
//! displayed as one sentence a person can act on, with a stable [`ErrorKind`].

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Shorthand for results whose error is the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the engine can fail with. `Display` is the message shown to a
/// person (CLI stderr, the window); [`Error::kind`] is what code matches on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {}", .path.display(), describe_io(.source))]
    FileUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{} is empty: it has no header row", .path.display())]
    EmptyFile { path: PathBuf },

    #[error(
        "{} has no email column (its columns are: {}); name the column \"email\" or choose it with --email-column",
        .path.display(), list_excerpt(.columns)
    )]
    NoEmailColumn { path: PathBuf, columns: Vec<String> },

    #[error("{} has no column named \"{}\" (its columns are: {})", .path.display(), .wanted, list_excerpt(.columns))]
    UnknownColumn {
        path: PathBuf,
        wanted: String,
        columns: Vec<String>,
    },

    #[error("{}, row {}: {}", .path.display(), .row, .problem)]
    MalformedFile { path: PathBuf, row: u64, problem: String },

    #[error(
        "\"{label}\" is not an encoding Mailroom knows (try utf-8, gbk, gb18030, windows-1252, utf-16le, shift_jis)"
    )]
    UnknownEncoding { label: String },

    #[error("\"{given}\" cannot be a delimiter (use , ; | or tab)")]
    BadDelimiter { given: String },

    #[error(
        "{} is not a text list or a spreadsheet Mailroom reads (if it is a spreadsheet, give it its .xlsx, .xls or .ods extension)",
        .path.display()
    )]
    UnsupportedFormat { path: PathBuf },

    #[error("{} cannot be read as a spreadsheet: {}", .path.display(), .reason)]
    BadSpreadsheet { path: PathBuf, reason: String },

    #[error("{} has no sheet named \"{}\" (its sheets are: {})", .path.display(), .wanted, list_excerpt(.sheets))]
    SheetNotFound {
        path: PathBuf,
        wanted: String,
        sheets: Vec<String>,
    },

    /// A quoted value that never closes, or closes only after many lines: a
    /// stray quote that would otherwise swallow the rows after it.
    #[error(
        "{}, row {}, column {}: the quoted value starting \"{}\" {}; a quote is probably missing its partner: fix it in the file, or read quotes literally",
        .path.display(), .row, .column, .start, .how
    )]
    UnclosedQuote {
        path: PathBuf,
        row: u64,
        column: u64,
        /// The value's first characters.
        start: String,
        /// "runs to the end of the file", "runs over more than 1,000 lines", ...
        how: String,
    },

    #[error(
        "{} mixes text encodings: {} {} UTF-8 but {} {} not ({}); save the file in one encoding (\"CSV UTF-8\" in Excel) and import it again",
        .path.display(), rows_text(.utf8_rows), if .utf8_rows.len() == 1 { "is" } else { "are" },
        rows_text(.other_rows), if .other_rows.len() == 1 { "is" } else { "are" }, .other
    )]
    MixedEncodings {
        path: PathBuf,
        /// A few rows whose text is UTF-8.
        utf8_rows: Vec<u64>,
        /// A few rows whose text is not.
        other_rows: Vec<u64>,
        /// What the other rows are read as ("windows-1252", "not UTF-8").
        other: String,
    },

    /// Past one of the import's limits (docs/ARCHITECTURE.md, "Import limits").
    #[error("{}{}: {}", .path.display(), .place, .problem)]
    FileTooLarge {
        path: PathBuf,
        /// ", row 5, column C", or empty for the whole file.
        place: String,
        problem: String,
    },

    /// A file whose structure its parser could not follow (a truncated or
    /// corrupted spreadsheet); `detail` is for the log and the curious.
    #[error("{} is damaged and cannot be read ({})", .path.display(), .detail)]
    DamagedFile { path: PathBuf, detail: String },

    /// A choice that does not apply to this kind of file (a sheet for a CSV,
    /// an encoding for a spreadsheet).
    #[error("{}: {}", .path.display(), .problem)]
    ChoiceNotApplicable { path: PathBuf, problem: String },

    #[error("{} has a header row but no recipients", .path.display())]
    NoRecipients { path: PathBuf },

    #[error("the import of {} was cancelled; nothing was saved", .path.display())]
    ImportCancelled { path: PathBuf },

    #[error("cannot open the database {}: {}", .path.display(), .reason)]
    DatabaseUnavailable { path: PathBuf, reason: String },

    #[error("the database {} was written by a newer version of Mailroom; update Mailroom to open it", .path.display())]
    DatabaseTooNew { path: PathBuf },

    #[error("no campaign {0}")]
    CampaignNotFound(String),

    #[error(
        "\"{reference}\" could mean more than one campaign: {}; name one by its number, as #{}",
        .candidates.join("; "),
        .candidates.first().and_then(|c| c.strip_prefix('#')).and_then(|c| c.split(' ').next()).unwrap_or("1")
    )]
    AmbiguousCampaign { reference: String, candidates: Vec<String> },

    #[error("{problem} ({field})")]
    InvalidAccount { field: String, problem: String },

    #[error("there is already an SMTP account named \"{0}\"")]
    AccountExists(String),

    #[error("no SMTP account named \"{0}\" (see `mailroom smtp list`)")]
    AccountNotFound(String),

    #[error("cannot keep the password: {0}")]
    SecretStore(String),

    #[error(
        "the account \"{0}\" has no mailbox yet (add one with `mailroom mailbox add {0}`, or on the Mailbox screen)"
    )]
    MailboxNotFound(String),

    #[error("the account \"{0}\" already has a mailbox (change it with `mailroom mailbox edit`)")]
    MailboxExists(String),

    #[error("the sandbox cannot listen on 127.0.0.1:{port}: {reason}")]
    SandboxUnavailable { port: u16, reason: String },

    #[error("the sandbox has no message {0}")]
    CapturedMessageNotFound(i64),

    /// A message's template cannot be compiled, or made for a row: typed,
    /// for front ends to say in their language ([`Error::template`]).
    #[error("{0}")]
    Template(#[from] crate::message::TemplateError),

    #[error("campaign {0} has no message yet (write one on the Message screen or with `mailroom message`)")]
    NoMessage(String),

    /// A file for everyone that cannot be attached: typed, for front ends to
    /// say in their language ([`Error::attachment`]).
    #[error("{problem}")]
    AttachmentUnreadable {
        problem: crate::message::attach::AttachmentProblem,
    },

    #[error("the test message was not sent: {0}")]
    TestSendFailed(String),

    #[error("no message template named \"{0}\"")]
    TemplateNotFound(String),

    #[error("campaign {campaign} has no row {row}")]
    RowNotFound { campaign: String, row: u64 },

    #[error("cannot write {}: {}", .path.display(), describe_io(.source))]
    ExportFailed {
        path: std::path::PathBuf,
        source: std::io::Error,
    },

    #[error("\"{address}\" cannot go on the suppression list: {problem}")]
    NotAnAddress {
        address: String,
        problem: crate::address::InvalidReason,
    },

    #[error("{0} is not on the suppression list")]
    NotSuppressed(String),

    #[error("campaign {campaign} has no recipient whose address contains \"{query}\"")]
    NoRecipientMatches { campaign: String, query: String },

    #[error("campaign {campaign} is {status}; {action}")]
    CampaignState {
        campaign: String,
        status: String,
        action: String,
    },

    #[error(
        "{what} is being sent by {holder}. One Mailroom sends a campaign, or on an account, at a time, \
         so nobody gets a mail twice and the account's limits hold: wait for that run to finish, or pause it there"
    )]
    SendingElsewhere { what: String, holder: String },

    #[error(
        "disk full: {} cannot grow (no space left, or a size limit reached); free space, then resume",
        .path.display()
    )]
    DiskFull { path: PathBuf },

    #[error(
        "the account \"{account}\" is sending a campaign now (in {holder}); pause the campaign first, \
         then delete the account"
    )]
    AccountInUse { account: String, holder: String },

    #[error("cannot save the settings in {}: {}", .path.display(), describe_io(.source))]
    SettingsUnwritable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("a campaign is sending from the database {}; pause it before choosing another file", .path.display())]
    DatabaseInUse { path: PathBuf },

    #[error("the schedule cannot be used: {problem}")]
    InvalidSchedule { problem: String },

    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// From the campaign writer's own connection ([`crate::store::StateFile`]).
    #[error("database error: {0}")]
    StateFile(#[from] rusqlite::Error),

    #[error("internal error: {0}")]
    Internal(String),
}

/// A stable, serialisable name for each kind of [`Error`]; front ends choose
/// their translated message by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum ErrorKind {
    FileUnreadable,
    EmptyFile,
    NoEmailColumn,
    UnknownColumn,
    MalformedFile,
    UnknownEncoding,
    BadDelimiter,
    NoRecipients,
    ImportCancelled,
    UnsupportedFormat,
    BadSpreadsheet,
    SheetNotFound,
    UnclosedQuote,
    MixedEncodings,
    FileTooLarge,
    DamagedFile,
    ChoiceNotApplicable,
    DatabaseUnavailable,
    DatabaseTooNew,
    CampaignNotFound,
    AmbiguousCampaign,
    InvalidAccount,
    AccountExists,
    AccountNotFound,
    SecretStore,
    MailboxNotFound,
    MailboxExists,
    SandboxUnavailable,
    CapturedMessageNotFound,
    Template,
    NoMessage,
    AttachmentUnreadable,
    TestSendFailed,
    TemplateNotFound,
    RowNotFound,
    ExportFailed,
    NotAnAddress,
    NotSuppressed,
    CampaignState,
    SendingElsewhere,
    DiskFull,
    AccountInUse,
    SettingsUnwritable,
    DatabaseInUse,
    InvalidSchedule,
    Database,
    Internal,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::FileUnreadable { .. } => ErrorKind::FileUnreadable,
            Error::EmptyFile { .. } => ErrorKind::EmptyFile,
            Error::NoEmailColumn { .. } => ErrorKind::NoEmailColumn,
            Error::UnknownColumn { .. } => ErrorKind::UnknownColumn,
            Error::MalformedFile { .. } => ErrorKind::MalformedFile,
            Error::UnknownEncoding { .. } => ErrorKind::UnknownEncoding,
            Error::BadDelimiter { .. } => ErrorKind::BadDelimiter,
            Error::NoRecipients { .. } => ErrorKind::NoRecipients,
            Error::ImportCancelled { .. } => ErrorKind::ImportCancelled,
            Error::UnsupportedFormat { .. } => ErrorKind::UnsupportedFormat,
            Error::BadSpreadsheet { .. } => ErrorKind::BadSpreadsheet,
            Error::SheetNotFound { .. } => ErrorKind::SheetNotFound,
            Error::UnclosedQuote { .. } => ErrorKind::UnclosedQuote,
            Error::MixedEncodings { .. } => ErrorKind::MixedEncodings,
            Error::FileTooLarge { .. } => ErrorKind::FileTooLarge,
            Error::DamagedFile { .. } => ErrorKind::DamagedFile,
            Error::ChoiceNotApplicable { .. } => ErrorKind::ChoiceNotApplicable,
            Error::DatabaseUnavailable { .. } => ErrorKind::DatabaseUnavailable,
            Error::DatabaseTooNew { .. } => ErrorKind::DatabaseTooNew,
            Error::CampaignNotFound(_) => ErrorKind::CampaignNotFound,
            Error::AmbiguousCampaign { .. } => ErrorKind::AmbiguousCampaign,
            Error::InvalidAccount { .. } => ErrorKind::InvalidAccount,
            Error::AccountExists(_) => ErrorKind::AccountExists,
            Error::AccountNotFound(_) => ErrorKind::AccountNotFound,
            Error::SecretStore(_) => ErrorKind::SecretStore,
            Error::MailboxNotFound(_) => ErrorKind::MailboxNotFound,
            Error::MailboxExists(_) => ErrorKind::MailboxExists,
            Error::SandboxUnavailable { .. } => ErrorKind::SandboxUnavailable,
            Error::CapturedMessageNotFound(_) => ErrorKind::CapturedMessageNotFound,
            Error::Template(_) => ErrorKind::Template,
            Error::NoMessage(_) => ErrorKind::NoMessage,
            Error::AttachmentUnreadable { .. } => ErrorKind::AttachmentUnreadable,
            Error::TestSendFailed(_) => ErrorKind::TestSendFailed,
            Error::TemplateNotFound(_) => ErrorKind::TemplateNotFound,
            Error::RowNotFound { .. } | Error::NoRecipientMatches { .. } => ErrorKind::RowNotFound,
            Error::ExportFailed { .. } => ErrorKind::ExportFailed,
            Error::NotAnAddress { .. } => ErrorKind::NotAnAddress,
            Error::NotSuppressed(_) => ErrorKind::NotSuppressed,
            Error::CampaignState { .. } => ErrorKind::CampaignState,
            Error::SendingElsewhere { .. } => ErrorKind::SendingElsewhere,
            Error::DiskFull { .. } => ErrorKind::DiskFull,
            Error::AccountInUse { .. } => ErrorKind::AccountInUse,
            Error::SettingsUnwritable { .. } => ErrorKind::SettingsUnwritable,
            Error::DatabaseInUse { .. } => ErrorKind::DatabaseInUse,
            Error::InvalidSchedule { .. } => ErrorKind::InvalidSchedule,
            Error::Database(_) | Error::StateFile(_) => ErrorKind::Database,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether SQLite could not make the database grow, from either
    /// connection. The campaign runner pauses on it ([`Error::DiskFull`])
    /// instead of failing.
    ///
    /// SQLite says `SQLITE_FULL` for a full disk (ENOSPC), but a quota
    /// (EDQUOT), a file size limit (EFBIG, RLIMIT_FSIZE) and the ENOSPC some
    /// file systems report only when syncing come back as a failed write or
    /// sync (`SQLITE_IOERR_WRITE`, `SQLITE_IOERR_FSYNC`); SQLite keeps the
    /// errno to itself. Those are counted too: a failing disk would read as
    /// full, and pausing is right for it as well.
    pub fn is_disk_full(&self) -> bool {
        use rusqlite::ffi::{SQLITE_FULL, SQLITE_IOERR_FSYNC, SQLITE_IOERR_WRITE};
        let full = |code: i32| [SQLITE_FULL, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC].contains(&code);
        match self {
            Error::DiskFull { .. } => true,
            Error::Database(sqlx::Error::Database(db)) => db.code().and_then(|c| c.parse().ok()).is_some_and(full),
            Error::StateFile(rusqlite::Error::SqliteFailure(failure, _)) => full(failure.extended_code),
            _ => false,
        }
    }

    /// The typed template problem, for a front end to say in its own
    /// language (the window gets it beside `{kind, message}`).
    pub fn template(&self) -> Option<&crate::message::TemplateError> {
        match self {
            Error::Template(problem) => Some(problem),
            _ => None,
        }
    }

    /// The typed attachment problem, for a front end to say in its own
    /// language (the window gets it beside `{kind, message}`).
    pub fn attachment(&self) -> Option<&crate::message::attach::AttachmentProblem> {
        match self {
            Error::AttachmentUnreadable { problem } => Some(problem),
            _ => None,
        }
    }

    pub(crate) fn unreadable(path: &Path, source: io::Error) -> Self {
        Error::FileUnreadable {
            path: path.to_owned(),
            source,
        }
    }
}

/// A list of names from a file (columns, sheets), cut to its first few so a
/// header of 16,000 columns does not become a 200 KB sentence.
fn list_excerpt(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let shown: Vec<String> = names.iter().take(SHOWN).map(|n| crate::import::excerpt(n)).collect();
    match names.len() {
        n if n > SHOWN => format!("{}, … ({n} in all)", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// "row 4", "rows 4, 9", "rows 4, 9, 12, …" for a few row numbers.
fn rows_text(rows: &[u64]) -> String {
    let list: Vec<String> = rows.iter().map(u64::to_string).collect();
    match rows.len() {
        1 => format!("row {}", list.join(", ")),
        _ => format!("rows {}", list.join(", ")),
    }
}

/// `io::Error`'s own text ends in "(os error 2)"; people need the cause only.
fn describe_io(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::IsADirectory => "it is a folder, not a file".to_owned(),
        _ => err.to_string(),
    }
}
