//! SMTP: accounts and their presets, the client that talks to servers, Test
//! connection, and a small server (the built-in sandbox and the test server).
//!
//! # Layout
//!
//! - [`account`] — an account's settings, their validation, and the provider
//!   presets (data in `presets/smtp.json`).
//! - [`client`] — one connection to a server, one method per protocol step,
//!   each under a timeout.
//! - [`diagnose`] — Test connection: runs the client's steps one at a time,
//!   times them, stops at the first failure and says what to try.
//! - [`manage`] — the calls front ends make: add, edit, list, remove, test.
//! - [`reply`] and [`failure`] — what servers answer (read whole, within
//!   limits), and what a failure means for retrying (SPEC "Error taxonomy").
//! - [`redact`] — credentials taken out of whatever a server says back.
//! - [`tls`] — certificate verification, its per-account opt-out, summaries.
//! - [`server`] — an ESMTP server whose behaviour comes from a [`server::Policy`];
//!   [`sandbox`] is the capturing policy behind `mailroom sandbox`.

pub mod account;
pub mod client;
pub mod diagnose;
pub mod failure;
pub mod manage;
pub mod redact;
pub mod reply;
pub mod rules;
pub mod sandbox;
pub mod server;
pub mod tls;

pub use account::{Account, AccountSettings, Preset};
pub use failure::{Failure, FailureClass, Problem, Stage};

// Stored with each account, so they live with the store's other plain types.
pub use crate::model::{AuthMethod, Security};
