//! One IMAP connection: async-imap's protocol over our own stream, which
//! bounds every read in time (a server that stops sending mid-FETCH fails
//! within the command timeout) and in size (a server that sends more than
//! was asked for cannot fill memory). Each step is a method so Test
//! connection can time it and name the one that failed.
//!
//! DNS and TCP are the SMTP client's (`smtp/client.rs`), TLS its rustls
//! configuration (`smtp/tls.rs`): one way to reach a server, one set of
//! certificate rules and advice.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::types::Fetch;
use futures_util::StreamExt as _;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use super::failure::{MailboxFailure, MailboxProblem, MailboxStage};
use crate::smtp::Security;
use crate::smtp::tls::{self, TlsSummary};

/// Most bytes read for one command's answer: a scan asks for at most a few
/// hundred KB per message and a few hundred messages at a time.
pub const ANSWER_BUDGET: u64 = 256 * 1024 * 1024;

/// Everything needed to open a connection.
#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: Option<String>,
    pub folder: String,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub accept_invalid_certs: bool,
}

/// A TCP stream, plain or TLS, that fails a read or write waiting longer
/// than `idle` for the peer, and a read past `budget` bytes since the last
/// [`Guarded::reset_budget`].
#[derive(Debug)]
pub struct Guarded {
    inner: Either<TcpStream, Box<TlsStream<TcpStream>>>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    /// Whether the timer runs (a read or write is waiting on the peer).
    waiting: bool,
    read: u64,
    budget: u64,
}

impl Guarded {
    fn new(inner: Either<TcpStream, Box<TlsStream<TcpStream>>>, idle: Duration) -> Guarded {
        Guarded {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            waiting: false,
            read: 0,
            budget: ANSWER_BUDGET,
        }
    }

    /// Starts counting the bytes of the next answer afresh.
    pub fn reset_budget(&mut self, budget: u64) {
        self.read = 0;
        self.budget = budget;
    }

    /// Polls the stall timer: `Ready(Err)` once the peer has been silent for `idle`.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        if !self.waiting {
            self.waiting = true;
            self.timer.as_mut().reset(Instant::now() + self.idle);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the server sent nothing for {}",
                    crate::smtp::diagnose::format_duration_ms(u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX))
                ),
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.waiting = false;
                this.read += (buf.filled().len() - before) as u64;
                if this.read > this.budget {
                    return Poll::Ready(Err(std::io::Error::other(TooLarge(this.budget))));
                }
                Poll::Ready(result)
            }
            Poll::Pending => match this.stalled(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                this.waiting = false;
                Poll::Ready(result)
            }
            Poll::Pending => match this.stalled(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The error a read past the budget carries.
#[derive(Debug)]
struct TooLarge(u64);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server sent more than {} MB for one request", self.0 / 1_000_000)
    }
}

impl std::error::Error for TooLarge {}

/// A connected client before login.
pub type Client = async_imap::Client<Guarded>;
/// A logged-in session.
pub type Session = async_imap::Session<Guarded>;

/// The folder as SELECT found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub uid_validity: Option<u32>,
    pub uid_next: Option<u32>,
    pub exists: u32,
}

/// Resolves the host (DNS step).
pub async fn resolve(settings: &ImapSettings) -> Result<Vec<SocketAddr>, MailboxFailure> {
    crate::smtp::client::resolve(&settings.host, settings.port, settings.connect_timeout)
        .await
        .map_err(|f| MailboxFailure::from_smtp(MailboxStage::Dns, &f))
}

/// Connects (TCP step).
pub async fn connect(settings: &ImapSettings, addrs: &[SocketAddr]) -> Result<TcpStream, MailboxFailure> {
    crate::smtp::client::connect_tcp(addrs, settings.connect_timeout)
        .await
        .map_err(|f| MailboxFailure::from_smtp(MailboxStage::Connect, &f))
}

/// The TLS handshake, for implicit TLS and after STARTTLS.
pub async fn handshake(
    settings: &ImapSettings,
    tcp: TcpStream,
) -> Result<(TlsStream<TcpStream>, TlsSummary), MailboxFailure> {
    let config = tls::client_config(settings.accept_invalid_certs)
        .map_err(|f| MailboxFailure::from_smtp(MailboxStage::Tls, &f))?;
    let name = ServerName::try_from(settings.host.clone()).map_err(|_| {
        MailboxFailure::new(
            MailboxStage::Tls,
            MailboxProblem::TlsFailed,
            format!("{} is not a valid host name", settings.host),
        )
    })?;
    let connect = TlsConnector::from(config).connect(name, tcp);
    match tokio::time::timeout(settings.command_timeout, connect).await {
        Err(_) => Err(MailboxFailure::timed_out(MailboxStage::Tls, settings.command_timeout)),
        Ok(Err(e)) => Err(MailboxFailure::from_smtp(
            MailboxStage::Tls,
            &tls::handshake_failure(&e),
        )),
        Ok(Ok(stream)) => {
            let summary = tls::summarise(stream.get_ref().1);
            Ok((stream, summary))
        }
    }
}

/// Wraps a (plain or TLS) stream as a client.
pub fn client(settings: &ImapSettings, stream: Either<TcpStream, Box<TlsStream<TcpStream>>>) -> Client {
    async_imap::Client::new(Guarded::new(stream, settings.command_timeout))
}

/// Reads the server's greeting: `* OK …` (or `* PREAUTH`); `* BYE` or
/// anything that is not IMAP fails.
pub async fn greeting(settings: &ImapSettings, client: &mut Client) -> Result<String, MailboxFailure> {
    let stage = MailboxStage::Greeting;
    let response = match tokio::time::timeout(settings.command_timeout, client.read_response()).await {
        Err(_) => return Err(MailboxFailure::timed_out(stage, settings.command_timeout)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            return Err(MailboxFailure::timed_out(stage, settings.command_timeout));
        }
        Ok(Err(e)) => return Err(io_failure(stage, &e)),
        Ok(Ok(None)) => {
            return Err(MailboxFailure::new(
                stage,
                MailboxProblem::ConnectionLost,
                "the server closed the connection",
            ));
        }
        Ok(Ok(Some(response))) => response,
    };
    use async_imap::imap_proto::{Response, Status};
    match response.parsed() {
        Response::Data { status, outcome } => {
            let text = outcome.information.as_deref().unwrap_or("").trim().to_owned();
            match status {
                Status::Ok | Status::PreAuth => Ok(format!("* OK {text}")),
                Status::Bye | Status::No | Status::Bad => {
                    Err(MailboxFailure::new(stage, MailboxProblem::ServerError, text))
                }
            }
        }
        _ => Err(MailboxFailure::new(
            stage,
            MailboxProblem::NotImap,
            "the first line was not an IMAP greeting",
        )),
    }
}

/// STARTTLS on a plain connection, then the handshake.
pub async fn starttls(settings: &ImapSettings, mut client: Client) -> Result<(Client, TlsSummary), MailboxFailure> {
    let stage = MailboxStage::Tls;
    match tokio::time::timeout(
        settings.command_timeout,
        client.run_command_and_check_ok("STARTTLS", None),
    )
    .await
    {
        Err(_) => return Err(MailboxFailure::timed_out(stage, settings.command_timeout)),
        Ok(Err(async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text))) => {
            return Err(MailboxFailure::new(stage, MailboxProblem::StarttlsUnavailable, text));
        }
        Ok(Err(e)) => return Err(imap_failure(stage, &e)),
        Ok(Ok(())) => {}
    }
    let Either::Left(tcp) = client.into_inner().inner else {
        return Err(MailboxFailure::new(
            stage,
            MailboxProblem::TlsFailed,
            "the connection is already encrypted",
        ));
    };
    let (tls, summary) = handshake(settings, tcp).await?;
    Ok((self::client(settings, Either::Right(Box::new(tls))), summary))
}

/// LOGIN; then ID (RFC 2971) where offered, which NetEase requires before SELECT.
pub async fn login(settings: &ImapSettings, client: Client) -> Result<Session, MailboxFailure> {
    let stage = MailboxStage::Login;
    let password = settings.password.clone().unwrap_or_default();
    let login = client.login(&settings.username, &password);
    let mut session = match tokio::time::timeout(settings.command_timeout, login).await {
        Err(_) => return Err(MailboxFailure::timed_out(stage, settings.command_timeout)),
        Ok(Err((async_imap::error::Error::No(text), _))) => {
            let problem = if text.to_ascii_uppercase().contains("PRIVACYREQUIRED")
                || text.to_ascii_lowercase().contains("plaintext")
            {
                MailboxProblem::LoginDisabled
            } else {
                MailboxProblem::LoginFailed
            };
            return Err(MailboxFailure::new(stage, problem, text.trim().to_owned()));
        }
        Ok(Err((async_imap::error::Error::Bad(text), _))) => {
            return Err(MailboxFailure::new(
                stage,
                MailboxProblem::LoginDisabled,
                text.trim().to_owned(),
            ));
        }
        Ok(Err((e, _))) => return Err(imap_failure(stage, &e)),
        Ok(Ok(session)) => session,
    };
    let offers_id = tokio::time::timeout(settings.command_timeout, session.capabilities())
        .await
        .ok()
        .and_then(Result::ok)
        .is_some_and(|caps| caps.has_str("ID"));
    if offers_id {
        let id = session.id([("name", Some("Mailroom")), ("version", Some(env!("CARGO_PKG_VERSION")))]);
        // Courtesy and NetEase's requirement; a server that refuses it still serves.
        let _ = tokio::time::timeout(settings.command_timeout, id).await;
    }
    Ok(session)
}

/// SELECT the folder: its UIDVALIDITY, next UID and size.
pub async fn select(settings: &ImapSettings, session: &mut Session, folder: &str) -> Result<Selected, MailboxFailure> {
    let stage = MailboxStage::Select;
    match tokio::time::timeout(settings.command_timeout, session.select(folder)).await {
        Err(_) => Err(MailboxFailure::timed_out(stage, settings.command_timeout)),
        Ok(Err(async_imap::error::Error::No(text))) => Err(MailboxFailure::new(
            stage,
            MailboxProblem::FolderMissing,
            text.trim().to_owned(),
        )),
        Ok(Err(e)) => Err(imap_failure(stage, &e)),
        Ok(Ok(mailbox)) => Ok(Selected {
            uid_validity: mailbox.uid_validity,
            uid_next: mailbox.uid_next,
            exists: mailbox.exists,
        }),
    }
}

/// The UIDs above `after`, ascending.
pub async fn uids_after(
    settings: &ImapSettings,
    session: &mut Session,
    after: u32,
) -> Result<Vec<u32>, MailboxFailure> {
    let stage = MailboxStage::Search;
    session.get_mut().reset_budget(ANSWER_BUDGET);
    let query = format!("UID {}:*", after.saturating_add(1));
    let mut uids: Vec<u32> = match tokio::time::timeout(settings.command_timeout, session.uid_search(&query)).await {
        Err(_) => return Err(MailboxFailure::timed_out(stage, settings.command_timeout)),
        Ok(Err(e)) => return Err(imap_failure(stage, &e)),
        Ok(Ok(uids)) => uids.into_iter().collect(),
    };
    // `n:*` also matches the last message when every UID is below n.
    uids.retain(|&uid| uid > after);
    uids.sort_unstable();
    Ok(uids)
}

/// One fetched message: its UID and the bytes asked for.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    pub size: Option<u32>,
    /// The header fields, or the body, asked for.
    pub bytes: Vec<u8>,
}

/// `UID FETCH set query`, every item read within the command timeout of the
/// one before, the whole answer within `total` and `budget` bytes.
pub async fn fetch(
    session: &mut Session,
    uids: &[u32],
    query: &str,
    total: Duration,
    budget: u64,
) -> Result<Vec<Fetched>, MailboxFailure> {
    let stage = MailboxStage::Fetch;
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    session.get_mut().reset_budget(budget);
    let set = uid_set(uids);
    let work = async {
        let mut stream = session
            .uid_fetch(&set, query)
            .await
            .map_err(|e| imap_failure(stage, &e))?;
        let mut out = Vec::with_capacity(uids.len());
        while let Some(item) = stream.next().await {
            let fetch: Fetch = item.map_err(|e| imap_failure(stage, &e))?;
            let Some(uid) = fetch.uid else { continue };
            let bytes = fetch
                .header()
                .or_else(|| fetch.body())
                .or_else(|| fetch.text())
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            out.push(Fetched {
                uid,
                size: fetch.size,
                bytes,
            });
        }
        Ok::<_, MailboxFailure>(out)
    };
    match tokio::time::timeout(total, work).await {
        Err(_) => Err(MailboxFailure::timed_out(stage, total)),
        Ok(result) => result,
    }
}

/// Flags the messages read and `$MailroomBounce`.
pub async fn flag(settings: &ImapSettings, session: &mut Session, uids: &[u32]) -> Result<(), MailboxFailure> {
    let stage = MailboxStage::Store;
    if uids.is_empty() {
        return Ok(());
    }
    session.get_mut().reset_budget(ANSWER_BUDGET);
    let set = uid_set(uids);
    let work = async {
        let mut stream = session
            .uid_store(&set, "+FLAGS.SILENT (\\Seen $MailroomBounce)")
            .await
            .map_err(|e| imap_failure(stage, &e))?;
        while let Some(item) = stream.next().await {
            item.map_err(|e| imap_failure(stage, &e))?;
        }
        Ok::<_, MailboxFailure>(())
    };
    match tokio::time::timeout(settings.command_timeout, work).await {
        Err(_) => Err(MailboxFailure::timed_out(stage, settings.command_timeout)),
        Ok(result) => result,
    }
}

/// Moves the messages to `folder` (UID MOVE, RFC 6851), creating it when
/// missing. Never COPY and delete: Mailroom deletes no mail.
pub async fn move_to(
    settings: &ImapSettings,
    session: &mut Session,
    uids: &[u32],
    folder: &str,
) -> Result<(), MailboxFailure> {
    let stage = MailboxStage::Store;
    if uids.is_empty() {
        return Ok(());
    }
    session.get_mut().reset_budget(ANSWER_BUDGET);
    // Creating an existing folder fails harmlessly.
    let _ = tokio::time::timeout(settings.command_timeout, session.create(folder)).await;
    match tokio::time::timeout(settings.command_timeout, session.uid_mv(uid_set(uids), folder)).await {
        Err(_) => Err(MailboxFailure::timed_out(stage, settings.command_timeout)),
        Ok(Err(e)) => Err(imap_failure(stage, &e)),
        Ok(Ok(())) => Ok(()),
    }
}

/// LOGOUT, briefly; a server that does not answer is left.
pub async fn logout(settings: &ImapSettings, session: &mut Session) {
    let wait = settings.command_timeout.min(Duration::from_secs(2));
    let _ = tokio::time::timeout(wait, session.logout()).await;
}

/// `1:5,7,9:10` for sorted UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

fn io_failure(stage: MailboxStage, e: &std::io::Error) -> MailboxFailure {
    if e.get_ref().is_some_and(|inner| inner.is::<TooLarge>()) {
        return MailboxFailure::new(stage, MailboxProblem::TooLarge, e.to_string());
    }
    let text = e.to_string();
    match e.kind() {
        std::io::ErrorKind::TimedOut => MailboxFailure::new(stage, MailboxProblem::TimedOut, text),
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe
        | std::io::ErrorKind::ConnectionAborted => MailboxFailure::new(
            stage,
            MailboxProblem::ConnectionLost,
            "the server closed the connection",
        ),
        // async-imap reports a line it cannot parse as an error "during parsing".
        _ if text.contains("during parsing") => {
            MailboxFailure::new(stage, MailboxProblem::NotImap, "the server's answer is not IMAP")
        }
        _ => MailboxFailure::new(stage, MailboxProblem::ConnectionLost, text),
    }
}

fn imap_failure(stage: MailboxStage, e: &async_imap::error::Error) -> MailboxFailure {
    use async_imap::error::Error;
    match e {
        Error::Io(io) => io_failure(stage, io),
        Error::ConnectionLost => MailboxFailure::new(
            stage,
            MailboxProblem::ConnectionLost,
            "the server closed the connection",
        ),
        Error::No(text) | Error::Bad(text) => {
            MailboxFailure::new(stage, MailboxProblem::ServerError, text.trim().to_owned())
        }
        Error::Parse(_) => MailboxFailure::new(stage, MailboxProblem::NotImap, "the server's answer is not IMAP"),
        other => MailboxFailure::new(stage, MailboxProblem::ServerError, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(uid_set(&[]), "");
    }
}
