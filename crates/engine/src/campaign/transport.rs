//! What a campaign worker needs from a mail connection, as two traits: a
//! [`Connector`] opens a [`Transport`] through an account's settings, and a
//! transport carries transactions (an envelope, then its content, the next
//! envelope riding with the content when the server pipelines).
//!
//! The real ones are SMTP's ([`SmtpConnector`], and
//! [`Connection`](crate::smtp::client::Connection) as a transport). The
//! worker knows only these traits, so its claiming, pipelining and give-back
//! are tested against a scripted in-memory transport on tokio's paused clock
//! (`campaign/tests.rs`), with no socket.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::smtp::Failure;
use crate::smtp::client::{Connection, ConnectionSettings};
use crate::smtp::reply::Reply;

/// The envelope of one message: its MAIL FROM, its RCPT TOs, and the size of
/// its content (refused before anything is written when the server's SIZE
/// is smaller).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'a> {
    pub from: &'a str,
    pub to: &'a [&'a str],
    pub size: usize,
}

/// What a content sent with the next envelope came to
/// ([`Transport::finish_and_begin`]).
#[derive(Debug)]
pub(crate) struct FinishedAndBegun {
    /// The server's answer to the content.
    pub finished: Result<Reply, Failure>,
    /// Its answer to the next envelope; `None` when the connection failed or
    /// is closing before that answer, so the next message was never looked at.
    pub next: Option<Result<(), Failure>>,
}

/// One open connection that carries messages, one transaction at a time.
/// Dropping it ends it without ceremony (an open transaction is dropped by
/// the server, nothing delivered).
pub(crate) trait Transport: Send + Sync {
    /// Opens a transaction: MAIL and RCPT (and DATA, up to the 354).
    /// A refused MAIL or RCPT (not 421) leaves the connection usable.
    fn begin<'a>(&'a mut self, envelope: Envelope<'a>) -> BoxFuture<'a, Result<(), Failure>>;

    /// Sends the open transaction's content and reads the server's answer.
    fn finish<'a>(&'a mut self, content: &'a [u8]) -> BoxFuture<'a, Result<Reply, Failure>>;

    /// Whether [`Transport::finish_and_begin`] can be used: the server pipelines.
    fn can_begin_with_content(&self) -> bool;

    /// [`Transport::finish`], and in the same write the next message's
    /// envelope ([`Transport::begin`]); nothing of the next content is sent.
    fn finish_and_begin<'a>(&'a mut self, content: &'a [u8], next: Envelope<'a>) -> BoxFuture<'a, FinishedAndBegun>;

    /// Says goodbye (QUIT) and closes; errors do not matter any more.
    fn quit(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Opens connections ready to send (greeted, secured, logged in).
pub(crate) trait Connector: Send + Sync + fmt::Debug {
    fn open(&self, settings: Arc<ConnectionSettings>) -> BoxFuture<'static, Result<Box<dyn Transport>, Failure>>;
}

/// The real connector: SMTP over TCP (and TLS), as the account says.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SmtpConnector;

impl Connector for SmtpConnector {
    fn open(&self, settings: Arc<ConnectionSettings>) -> BoxFuture<'static, Result<Box<dyn Transport>, Failure>> {
        Box::pin(async move {
            let connection = Connection::open(settings).await?;
            Ok(Box::new(connection) as Box<dyn Transport>)
        })
    }
}

impl Transport for Connection {
    fn begin<'a>(&'a mut self, envelope: Envelope<'a>) -> BoxFuture<'a, Result<(), Failure>> {
        Box::pin(Connection::begin(self, envelope.from, envelope.to, envelope.size))
    }

    fn finish<'a>(&'a mut self, content: &'a [u8]) -> BoxFuture<'a, Result<Reply, Failure>> {
        Box::pin(Connection::finish(self, content))
    }

    fn can_begin_with_content(&self) -> bool {
        Connection::can_begin_with_content(self)
    }

    fn finish_and_begin<'a>(&'a mut self, content: &'a [u8], next: Envelope<'a>) -> BoxFuture<'a, FinishedAndBegun> {
        Box::pin(async move {
            let (finished, next) = Connection::finish_and_begin(self, content, (next.from, next.to, next.size)).await;
            FinishedAndBegun { finished, next }
        })
    }

    fn quit(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(Connection::quit(*self))
    }
}
