//! Mailroom's engine: everything a person can do in the window, as plain async Rust.
//!
//! The desktop shell (`src-tauri`), the CLI (`crates/cli`) and the end-to-end
//! tests (`tests/`) are all front ends over this crate. It knows nothing of
//! Tauri, windows or JSON IPC: it takes paths and options, and returns typed
//! results or a typed [`Error`].
//!
//! # Layout
//!
//! - [`session`] is the one entry point: a session opens a database and owns
//!   what lives as long as it does (the store, the secret store, the built-in
//!   sandbox, the accounts' live limits, and the campaigns, imports and tests
//!   running now). Each front end action is one call on it; nothing below it
//!   starts a server.
//! - [`store`] owns the SQLite file: opening it (WAL, foreign keys, busy
//!   timeout), the embedded migrations, and every query. Nothing else writes SQL.
//!   It persists its own types (an account is an `AccountRecord`, which
//!   `smtp::account` converts) and imports nothing from `smtp` or `message`.
//! - [`export`] writes a campaign's failed or skipped recipients to CSV.
//! - [`results`] is what happened to each recipient of a campaign: pages of
//!   recipients filtered by state, reason and text, each one's history of
//!   attempts, the runs, and what Resend failed would include or leave out.
//! - [`suppression`] is the list of addresses never written to again: added
//!   by hand, imported through [`import`], exported, honoured by every import
//!   and run.
//! - [`import`] turns a recipient file into a draft campaign: it reads the file
//!   on a blocking thread, validates each row and streams batches to the store
//!   inside one transaction, so a failed import leaves nothing behind. Its
//!   parts: `import::csv` (the CSV reader, with `import::dialect` and
//!   `import::records`), `import::sheet` (workbooks, bounded by
//!   `import::container`), `import::columns` (the email column),
//!   `import::classify` (each row's fate), `import::options` (the person's
//!   choices), `import::file`, `import::limits` and `import::guard`.
//! - [`campaign`] runs a campaign: the throttled connection pool, claiming
//!   and concluding each recipient in the store, pause/stop/resume, and the
//!   progress a caller's sink receives; also its schedule and send windows
//!   (`campaign::schedule`), the plans before Start (`campaign::plan`,
//!   `campaign::send_plan`), how long it waits for a server it cannot
//!   reach (`campaign::outage`), and what its workers need from a
//!   connection (`campaign::transport`: SMTP's, or a test's script).
//! - [`message`] is a campaign's message: the template with merge fields, its
//!   versions, attachments, and the MIME message made for each recipient.
//! - [`address`] decides whether a string is a usable email address and how two
//!   addresses compare (the duplicate rule).
//! - [`smtp`] talks SMTP: accounts and provider presets, a client with a
//!   timeout on every step, Test connection's staged diagnosis, and a small
//!   server behind the built-in sandbox (and the test server in `tests/`);
//!   `smtp::rules` says what a provider's reply means (rules as data).
//! - [`secrets`] keeps SMTP passwords in the OS keychain, or an encrypted file
//!   where there is none; never in the database.
//! - [`model`] holds the types front ends display: campaigns, recipients, counts,
//!   import reports, and the plain data the store keeps for the layers above
//!   it (an account's security and login, a message draft). They serialise with serde; with the `ts-bindings` feature
//!   they also describe themselves to TypeScript.
//! - [`progress`] is the one shape of progress: imports, Test connections and
//!   campaigns push their events into a caller's [`progress::Sink`], whose
//!   answer can stop the work, and [`progress::Coalescer`] batches any of
//!   them for a window (at most ten deliveries a second).
//! - [`outcome`] says what happened as data: why a recipient was skipped,
//!   failed or is uncertain, why a campaign paused; front ends render them.
//! - [`error`] is the one error type, with a stable [`ErrorKind`] per variant.
//! - [`english`] words a count in English ("1 recipient", "2 recipients") for
//!   everything the engine and the CLI write in English.
//! - [`bounce`] reads a message from the sender's mailbox: a delivery
//!   status notification (hard or soft, for which recipient), an automatic
//!   reply, an unsubscribe request; [`mailbox`] holds the IMAP accounts,
//!   their Test connection and the bounce scan.
//! - [`paths`], [`clock`] and [`logging`] are the cross-cutting pieces: where
//!   files live, what time it is (injectable for tests), and the rotating log
//!   (its level changeable while running).
//! - [`settings`] keeps a person's preferences (theme, language, log level,
//!   the database file) in a small file both front ends share;
//!   [`diagnostics`] is the report "copy diagnostics" makes, addresses hidden.

pub mod address;
pub mod bounce;
pub mod campaign;
pub mod clock;
pub mod diagnostics;
pub mod english;
pub mod error;
pub mod export;
pub mod import;
pub mod logging;
pub mod mailbox;
pub mod message;
pub mod model;
pub mod outcome;
pub mod paths;
pub mod progress;
pub mod results;
pub mod secrets;
pub mod session;
pub mod settings;
pub mod smtp;
pub mod store;
pub mod suppression;

pub use error::{Error, ErrorKind, Result};
pub use session::{CampaignRef, Session};
pub use store::Store;
