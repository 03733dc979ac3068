//! A small async ESMTP client: one connection, every network step under its
//! own timeout, TCP_NODELAY on, STARTTLS and implicit TLS, AUTH PLAIN/LOGIN,
//! and messages sent with PIPELINING (RFC 2920) when the server offers it.
//!
//! Why not lettre's transport: measured here (`shared/notes/smtp-findings.md`)
//! it leaves Nagle on (a ~44 ms stall per message), sends a NOOP before every
//! message, and in async mode only its connect has a timeout. Each step is a
//! separate method so Test connection can time and judge them one by one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use super::failure::{Failure, Problem, Stage};
use super::reply::{Reply, parse_line};
use super::tls::{self, TlsSummary};
use super::{AuthMethod, Security};

/// Longest reply line we accept; RFC 5321 allows 512 octets.
const MAX_LINE: u64 = 8 * 1024;
/// Most lines in one reply (an EHLO lists a few dozen at most).
const MAX_LINES: usize = 256;

/// Everything needed to open an authenticated connection.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub auth: AuthMethod,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The name we give in EHLO; default: our address as a literal, `[127.0.0.1]`.
    pub helo_name: Option<String>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub accept_invalid_certs: bool,
}

/// What the server said it supports in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub keywords: Vec<String>,
}

impl Extensions {
    fn from_ehlo(reply: &Reply) -> Extensions {
        Extensions {
            keywords: reply.lines.iter().skip(1).map(|l| l.trim().to_owned()).collect(),
        }
    }

    fn find(&self, keyword: &str) -> Option<&str> {
        self.keywords.iter().map(String::as_str).find(|k| {
            k.split_whitespace()
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case(keyword))
        })
    }

    pub fn has(&self, keyword: &str) -> bool {
        self.find(keyword).is_some()
    }

    pub fn pipelining(&self) -> bool {
        self.has("PIPELINING")
    }

    pub fn starttls(&self) -> bool {
        self.has("STARTTLS")
    }

    /// The AUTH mechanisms offered, upper-cased.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        self.find("AUTH")
            .map(|line| line.split_whitespace().skip(1).map(str::to_ascii_uppercase).collect())
            .unwrap_or_default()
    }

    /// The SIZE limit in bytes, when one is advertised (0 means none).
    pub fn max_size(&self) -> Option<u64> {
        self.find("SIZE")
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .filter(|&n| n > 0)
    }
}

/// A plain or encrypted TCP stream (tokio-util's `Either` reads and writes either).
type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// Resolves `host` (a name or an IP literal) to the addresses to try.
pub async fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, Failure> {
    let lookup = tokio::net::lookup_host((host, port));
    match tokio::time::timeout(timeout, lookup).await {
        Err(_) => Err(Failure::new(
            Stage::Dns,
            Problem::DnsFailed,
            format!(
                "no answer from DNS for {host} within {}",
                super::failure::describe_duration(timeout)
            ),
        )),
        Ok(Err(e)) => Err(Failure::new(Stage::Dns, Problem::DnsFailed, io_text(&e))),
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(Failure::new(
                    Stage::Dns,
                    Problem::DnsFailed,
                    format!("{host} has no address"),
                ))
            } else {
                Ok(addrs)
            }
        }
    }
}

/// Connects to the first address that answers, each under `timeout`.
pub async fn connect_tcp(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, Failure> {
    let mut last = Failure::new(Stage::Connect, Problem::Unreachable, "no address to connect to");
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                // Why: without it, a message's last segment waits for a delayed
                // ACK (~40 ms per message; see the module docs).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(%e, "cannot set TCP_NODELAY");
                }
                return Ok(stream);
            }
            Ok(Err(e)) => {
                let problem = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => Problem::Refused,
                    std::io::ErrorKind::TimedOut => Problem::TimedOut,
                    _ => Problem::Unreachable,
                };
                last = Failure::new(Stage::Connect, problem, format!("{addr}: {}", io_text(&e)));
            }
            Err(_) => last = Failure::timed_out(Stage::Connect, timeout),
        }
    }
    Err(last)
}

/// One open SMTP connection.
#[derive(Debug)]
pub struct Connection {
    io: BufReader<Stream>,
    settings: Arc<ConnectionSettings>,
    extensions: Extensions,
    tls: Option<TlsSummary>,
    local_addr: Option<SocketAddr>,
}

impl Connection {
    /// Opens a ready-to-send connection: every stage, in order.
    pub async fn open(settings: Arc<ConnectionSettings>) -> Result<Connection, Failure> {
        let addrs = resolve(&settings.host, settings.port, settings.connect_timeout).await?;
        let tcp = connect_tcp(&addrs, settings.connect_timeout).await?;
        let mut connection = Connection::start(tcp, settings).await?;
        connection.read_greeting().await?;
        connection.ehlo().await?;
        if connection.settings.security == Security::Starttls {
            connection = connection.starttls().await?;
            connection.ehlo().await?;
        }
        connection.authenticate().await?;
        Ok(connection)
    }

    /// Wraps a connected socket; for implicit TLS, performs the handshake first.
    pub async fn start(tcp: TcpStream, settings: Arc<ConnectionSettings>) -> Result<Connection, Failure> {
        let local_addr = tcp.local_addr().ok();
        let (stream, tls) = if settings.security == Security::Tls {
            let (stream, summary) = handshake(tcp, &settings).await?;
            (Either::Right(Box::new(stream)), Some(summary))
        } else {
            (Either::Left(tcp), None)
        };
        Ok(Connection {
            io: BufReader::new(stream),
            settings,
            extensions: Extensions::default(),
            tls,
            local_addr,
        })
    }

    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    pub fn tls(&self) -> Option<&TlsSummary> {
        self.tls.as_ref()
    }

    /// Reads the 220 greeting.
    pub async fn read_greeting(&mut self) -> Result<Reply, Failure> {
        let reply = self.read_reply(Stage::Greeting, self.settings.command_timeout).await?;
        if reply.code == 220 {
            Ok(reply)
        } else {
            Err(Failure::from_reply(Stage::Greeting, &reply))
        }
    }

    /// EHLO (falling back to HELO for servers that do not know it).
    pub async fn ehlo(&mut self) -> Result<&Extensions, Failure> {
        let name = self.helo_name();
        let reply = self.command(Stage::Ehlo, &format!("EHLO {name}")).await?;
        let reply = if reply.code == 250 {
            reply
        } else if matches!(reply.code, 500 | 502) {
            let helo = self.command(Stage::Ehlo, &format!("HELO {name}")).await?;
            if helo.code != 250 {
                return Err(Failure::from_reply(Stage::Ehlo, &helo));
            }
            helo
        } else {
            return Err(Failure::from_reply(Stage::Ehlo, &reply));
        };
        self.extensions = Extensions::from_ehlo(&reply);
        Ok(&self.extensions)
    }

    fn helo_name(&self) -> String {
        match (&self.settings.helo_name, self.local_addr) {
            (Some(name), _) if !name.trim().is_empty() => name.trim().to_owned(),
            (_, Some(SocketAddr::V4(addr))) => format!("[{}]", addr.ip()),
            (_, Some(SocketAddr::V6(addr))) => format!("[IPv6:{}]", addr.ip()),
            (_, None) => "localhost".to_owned(),
        }
    }

    /// STARTTLS: asks for it, then upgrades the stream. The caller sends EHLO again.
    pub async fn starttls(mut self) -> Result<Connection, Failure> {
        if !self.extensions.starttls() {
            return Err(Failure::new(
                Stage::Tls,
                Problem::StarttlsUnavailable,
                "the server does not offer STARTTLS",
            ));
        }
        let reply = self.command(Stage::Tls, "STARTTLS").await?;
        if reply.code != 220 {
            return Err(Failure::from_reply(Stage::Tls, &reply));
        }
        // Anything already buffered was sent before TLS started and could be
        // injected by a man in the middle (CVE-2011-0411); refuse it.
        if !self.io.buffer().is_empty() {
            return Err(Failure::new(
                Stage::Tls,
                Problem::TlsFailed,
                "the server sent data before the TLS handshake",
            ));
        }
        let Either::Left(tcp) = self.io.into_inner() else {
            return Err(Failure::new(
                Stage::Tls,
                Problem::TlsFailed,
                "the connection is already encrypted",
            ));
        };
        let (stream, summary) = handshake(tcp, &self.settings).await?;
        Ok(Connection {
            io: BufReader::new(Either::Right(Box::new(stream))),
            settings: self.settings,
            extensions: Extensions::default(),
            tls: Some(summary),
            local_addr: self.local_addr,
        })
    }

    /// Logs in when the account has a user name; a no-op otherwise.
    /// Returns the mechanism used.
    pub async fn authenticate(&mut self) -> Result<Option<&'static str>, Failure> {
        let settings = self.settings.clone();
        let (Some(user), AuthMethod::Plain | AuthMethod::Login) = (&settings.username, settings.auth) else {
            return Ok(None);
        };
        let password = settings.password.as_deref().unwrap_or("");
        let offered = self.extensions.auth_mechanisms();
        let offers = |m: &str| offered.iter().any(|o| o == m);
        // The account's choice first; the other if that is all the server offers.
        let mechanism = match settings.auth {
            AuthMethod::Login if offers("LOGIN") => "LOGIN",
            _ if offers("PLAIN") => "PLAIN",
            _ if offers("LOGIN") => "LOGIN",
            _ => {
                return Err(Failure::new(
                    Stage::Auth,
                    Problem::AuthUnsupported,
                    if offered.is_empty() {
                        "the server offers no login on this connection".to_owned()
                    } else {
                        format!("the server offers only {}", offered.join(", "))
                    },
                ));
            }
        };
        let reply = if mechanism == "PLAIN" {
            let token = BASE64.encode(format!("\0{user}\0{password}"));
            self.secret_command(&format!("AUTH PLAIN {token}")).await?
        } else {
            let first = self.command(Stage::Auth, "AUTH LOGIN").await?;
            if first.code != 334 {
                return Err(Failure::from_reply(Stage::Auth, &first));
            }
            let second = self.secret_command(&BASE64.encode(user)).await?;
            if second.code != 334 {
                return Err(Failure::from_reply(Stage::Auth, &second));
            }
            self.secret_command(&BASE64.encode(password)).await?
        };
        if reply.code == 235 {
            Ok(Some(mechanism))
        } else {
            Err(Failure::from_reply(Stage::Auth, &reply))
        }
    }

    /// Sends one message to `recipients`: [`Connection::begin`], then
    /// [`Connection::finish`]. Returns the server's final reply (250 queued)
    /// or the first refusal; after a refusal the connection is reset with
    /// RSET and stays usable.
    pub async fn send(&mut self, from: &str, recipients: &[&str], message: &[u8]) -> Result<Reply, Failure> {
        self.begin(from, recipients, message.len()).await?;
        self.finish(message).await
    }

    /// Opens a mail transaction for a message of `size` bytes: MAIL, RCPT and
    /// DATA (in one write with PIPELINING), up to the server's 354. Nothing
    /// of the message is sent yet, so the server has nothing to deliver if
    /// the caller goes no further. After a refusal the connection is reset
    /// with RSET and stays usable.
    ///
    /// A message larger than the server's advertised SIZE is refused here,
    /// before anything is written: the server would refuse it anyway, after
    /// the upload.
    pub async fn begin(&mut self, from: &str, recipients: &[&str], size: usize) -> Result<(), Failure> {
        let envelope = self.envelope(from, recipients, size)?;
        if self.extensions.pipelining() {
            self.write(Stage::Mail, envelope.pipelined().as_bytes()).await?;
            self.read_envelope(recipients.len()).await
        } else {
            self.begin_step_by_step(&envelope).await
        }
    }

    /// The MAIL and RCPT commands for a message of `size` bytes; refused
    /// before anything is written when the message is larger than the
    /// server's advertised SIZE (it would refuse it anyway, after the upload).
    fn envelope(&self, from: &str, recipients: &[&str], size: usize) -> Result<Envelope, Failure> {
        if let Some(max) = self.extensions.max_size()
            && size as u64 > max
        {
            return Err(Failure::new(
                Stage::Mail,
                Problem::MessageTooBig,
                format!(
                    "the message is {}; the server accepts at most {}",
                    describe_size(size as u64),
                    describe_size(max)
                ),
            ));
        }
        let mail = if self.extensions.max_size().is_some() {
            format!("MAIL FROM:<{from}> SIZE={size}")
        } else {
            format!("MAIL FROM:<{from}>")
        };
        let rcpts = recipients.iter().map(|r| format!("RCPT TO:<{r}>")).collect();
        Ok(Envelope { mail, rcpts })
    }

    /// Reads the replies to a pipelined envelope of `recipients` RCPTs, up
    /// to the 354. After a refusal the connection is reset with RSET.
    async fn read_envelope(&mut self, recipients: usize) -> Result<(), Failure> {
        let timeout = self.settings.command_timeout;
        // Read every reply even after a refusal: they were all sent. A 421
        // means the server is closing: the rest never comes.
        let mail_reply = self.read_reply(Stage::Mail, timeout).await?;
        if mail_reply.code == 421 {
            return Err(Failure::from_reply(Stage::Mail, &mail_reply));
        }
        let mut rcpt_replies = Vec::with_capacity(recipients);
        for _ in 0..recipients {
            let reply = self.read_reply(Stage::Rcpt, timeout).await?;
            if reply.code == 421 {
                return Err(Failure::from_reply(Stage::Rcpt, &reply));
            }
            rcpt_replies.push(reply);
        }
        let data_reply = self.read_reply(Stage::Data, timeout).await?;
        let refusal = if !mail_reply.is_positive() {
            Some(Failure::from_reply(Stage::Mail, &mail_reply))
        } else {
            rcpt_replies
                .iter()
                .find(|r| !r.is_positive())
                .map(|r| Failure::from_reply(Stage::Rcpt, r))
        };
        if let Some(refusal) = refusal {
            if data_reply.code == 354 {
                // The server accepted DATA with no valid recipient (RFC
                // 2920 §3.1 says it should not); end it without content.
                self.write(Stage::Data, b".\r\n").await?;
                let _ignored = self.read_reply(Stage::Data, timeout).await?;
            }
            self.rset().await?;
            return Err(refusal);
        }
        if data_reply.code != 354 {
            self.rset().await?;
            return Err(Failure::from_reply(Stage::Data, &data_reply));
        }
        Ok(())
    }

    /// [`Connection::begin`] without PIPELINING: each command waits for its
    /// reply.
    async fn begin_step_by_step(&mut self, envelope: &Envelope) -> Result<(), Failure> {
        let reply = self.command(Stage::Mail, &envelope.mail).await?;
        if !reply.is_positive() {
            self.rset().await?;
            return Err(Failure::from_reply(Stage::Mail, &reply));
        }
        for rcpt in &envelope.rcpts {
            let reply = self.command(Stage::Rcpt, rcpt).await?;
            if !reply.is_positive() {
                self.rset().await?;
                return Err(Failure::from_reply(Stage::Rcpt, &reply));
            }
        }
        let reply = self.command(Stage::Data, "DATA").await?;
        if reply.code != 354 {
            self.rset().await?;
            return Err(Failure::from_reply(Stage::Data, &reply));
        }
        Ok(())
    }

    /// Sends the content of the transaction [`Connection::begin`] opened and
    /// returns the server's 250, or its refusal.
    pub async fn finish(&mut self, message: &[u8]) -> Result<Reply, Failure> {
        // The body and its terminator in one write (see the module docs).
        let body = dot_stuff(message);
        self.write(Stage::Data, &body).await?;
        let reply = self.read_reply(Stage::Data, self.settings.data_timeout).await?;
        accepted_content(reply)
    }

    /// Whether [`Connection::finish_and_begin`] can be used: the server
    /// offered PIPELINING.
    pub fn can_begin_with_content(&self) -> bool {
        self.extensions.pipelining()
    }

    /// [`Connection::finish`] for the open transaction, and in the same write
    /// the envelope of the next message ([`Connection::begin`]): RFC 2920
    /// §3.1 lets message content open a group of pipelined commands. One
    /// round trip per message instead of two; nothing of the next message's
    /// content is sent.
    ///
    /// Returns this message's result and, when the server answered it, the
    /// next envelope's: `None` when the connection failed or is closing
    /// (421) before those replies, so the next message was never looked at.
    /// Needs PIPELINING ([`Connection::can_begin_with_content`]).
    pub async fn finish_and_begin(
        &mut self,
        message: &[u8],
        next: (&str, &[&str], usize),
    ) -> (Result<Reply, Failure>, Option<Result<(), Failure>>) {
        let (from, recipients, size) = next;
        let envelope = match self.envelope(from, recipients, size) {
            Ok(envelope) => envelope,
            Err(refused) => return (self.finish(message).await, Some(Err(refused))),
        };
        let mut bytes = dot_stuff(message);
        bytes.extend_from_slice(envelope.pipelined().as_bytes());
        if let Err(failure) = self.write(Stage::Data, &bytes).await {
            return (Err(failure), None);
        }
        let reply = match self.read_reply(Stage::Data, self.settings.data_timeout).await {
            Ok(reply) => reply,
            Err(failure) => return (Err(failure), None),
        };
        let finished = accepted_content(reply);
        if matches!(&finished, Err(f) if f.code == Some(421)) {
            return (finished, None);
        }
        match self.read_envelope(recipients.len()).await {
            Err(failure)
                if matches!(
                    failure.problem,
                    Problem::ConnectionLost | Problem::TimedOut | Problem::NotSmtp
                ) =>
            {
                (finished, None)
            }
            opened => (finished, Some(opened)),
        }
    }

    /// RSET: forget the current transaction.
    pub async fn rset(&mut self) -> Result<(), Failure> {
        let reply = self.command(Stage::Mail, "RSET").await?;
        if reply.code == 250 {
            Ok(())
        } else {
            Err(Failure::from_reply(Stage::Mail, &reply))
        }
    }

    /// QUIT politely; errors do not matter any more.
    pub async fn quit(mut self) {
        let _ignored = self.command(Stage::Quit, "QUIT").await;
        let _ignored = tokio::time::timeout(self.settings.command_timeout, self.io.get_mut().shutdown()).await;
    }

    async fn command(&mut self, stage: Stage, line: &str) -> Result<Reply, Failure> {
        self.write(stage, format!("{line}\r\n").as_bytes()).await?;
        self.read_reply(stage, self.settings.command_timeout).await
    }

    /// A command carrying a secret: logged by nobody, sent like any other.
    async fn secret_command(&mut self, line: &str) -> Result<Reply, Failure> {
        self.command(Stage::Auth, line).await
    }

    async fn write(&mut self, stage: Stage, bytes: &[u8]) -> Result<(), Failure> {
        let timeout = if stage == Stage::Data {
            self.settings.data_timeout
        } else {
            self.settings.command_timeout
        };
        let io = self.io.get_mut();
        let write = async {
            io.write_all(bytes).await?;
            io.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Err(_) => Err(Failure::timed_out(stage, timeout)),
            Ok(Err(e)) => Err(Failure::lost(stage, &io_text(&e))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads one complete reply, however many lines, under `timeout`.
    async fn read_reply(&mut self, stage: Stage, timeout: Duration) -> Result<Reply, Failure> {
        let io = &mut self.io;
        let read = async {
            let mut lines = Vec::new();
            let mut line = Vec::with_capacity(128);
            loop {
                line.clear();
                let n = (&mut *io).take(MAX_LINE).read_until(b'\n', &mut line).await;
                match n {
                    Err(e) => return Err(Failure::lost(stage, &io_text(&e))),
                    Ok(0) => return Err(Failure::lost(stage, "the server closed the connection")),
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&line);
                let Some(parsed) = parse_line(&text) else {
                    let shown: String = text.trim_end().chars().take(80).collect();
                    return Err(Failure::new(
                        stage,
                        Problem::NotSmtp,
                        format!("unexpected answer: {shown}"),
                    ));
                };
                let (code, more) = (parsed.code, parsed.more);
                lines.push(parsed.text.to_owned());
                if !more || lines.len() >= MAX_LINES {
                    return Ok(Reply { code, lines });
                }
            }
        };
        match tokio::time::timeout(timeout, read).await {
            Err(_) => Err(Failure::timed_out(stage, timeout)),
            Ok(result) => result,
        }
    }
}

/// A mail transaction's commands before its content, each without its CRLF.
struct Envelope {
    mail: String,
    rcpts: Vec<String>,
}

impl Envelope {
    /// MAIL, the RCPTs and DATA as one pipelined group (RFC 2920).
    fn pipelined(&self) -> String {
        let mut group = String::new();
        for line in std::iter::once(&self.mail).chain(&self.rcpts) {
            group.push_str(line);
            group.push_str("\r\n");
        }
        group.push_str("DATA\r\n");
        group
    }
}

/// The reply to a message's content: 250, or the refusal it is.
fn accepted_content(reply: Reply) -> Result<Reply, Failure> {
    if reply.code == 250 {
        Ok(reply)
    } else {
        Err(Failure::from_reply(Stage::Data, &reply))
    }
}

async fn handshake(
    tcp: TcpStream,
    settings: &ConnectionSettings,
) -> Result<(TlsStream<TcpStream>, TlsSummary), Failure> {
    let config = tls::client_config(settings.accept_invalid_certs)?;
    let name = ServerName::try_from(settings.host.clone()).map_err(|_| {
        Failure::new(
            Stage::Tls,
            Problem::TlsFailed,
            format!("{} is not a valid host name", settings.host),
        )
    })?;
    let connect = TlsConnector::from(config).connect(name, tcp);
    match tokio::time::timeout(settings.command_timeout, connect).await {
        Err(_) => Err(Failure::timed_out(Stage::Tls, settings.command_timeout)),
        Ok(Err(e)) => Err(tls::handshake_failure(&e)),
        Ok(Ok(stream)) => {
            let summary = tls::summarise(stream.get_ref().1);
            Ok((stream, summary))
        }
    }
}

/// The DATA payload: CRLF line endings, a dot doubled at the start of any
/// line (RFC 5321 §4.5.2), and the `.` terminator, as one buffer.
pub(crate) fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    // Whole lines at a time (memchr finds each end): this runs over every
    // byte of every message, and a byte-at-a-time loop showed in profiles.
    let mut rest = message;
    loop {
        if rest.first() == Some(&b'.') {
            out.push(b'.');
        }
        let Some(end) = memchr::memchr(b'\n', rest) else {
            out.extend_from_slice(rest);
            break;
        };
        let line = &rest[..end];
        out.extend_from_slice(line);
        if !line.ends_with(b"\r") {
            out.push(b'\r');
        }
        out.push(b'\n');
        rest = &rest[end + 1..];
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The system's words for a network error, without "(os error 111)".
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        std::io::ErrorKind::ConnectionReset => "connection reset by the server".to_owned(),
        std::io::ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
        std::io::ErrorKind::BrokenPipe => "the server closed the connection".to_owned(),
        std::io::ErrorKind::TimedOut => "timed out".to_owned(),
        std::io::ErrorKind::UnexpectedEof => "the server closed the connection".to_owned(),
        _ => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_owned()
        }
    }
}

/// A byte count as a person reads it: "900 KB", "12.4 MB".
pub fn describe_size(bytes: u64) -> String {
    const KB: f64 = 1000.0;
    let b = bytes as f64;
    if b < KB * KB {
        format!("{:.0} KB", (b / KB).max(1.0))
    } else {
        format!("{:.1} MB", b / (KB * KB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_terminates() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b".\nx"), b"..\r\nx\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
        assert_eq!(dot_stuff(b"\n\n.\r\r\n"), b"\r\n\r\n..\r\r\n.\r\n");
    }

    /// RFC 5321's rules a byte at a time: the reference the fast version must match.
    fn dot_stuff_bytewise(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at_line_start = true;
        let mut previous = 0u8;
        for &byte in message {
            if byte == b'\n' && previous != b'\r' {
                out.push(b'\r');
            }
            if at_line_start && byte == b'.' {
                out.push(b'.');
            }
            out.push(byte);
            at_line_start = byte == b'\n';
            previous = byte;
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    proptest::proptest! {
        #[test]
        fn dot_stuffing_matches_the_bytewise_rules(message in proptest::collection::vec(
            proptest::sample::select(vec![b'.', b'\r', b'\n', b'a', 0xE4]), 0..64)) {
            proptest::prop_assert_eq!(dot_stuff(&message), dot_stuff_bytewise(&message));
        }
    }

    #[test]
    fn extensions_are_read_from_ehlo() {
        let reply = Reply {
            code: 250,
            lines: vec![
                "mx.example.com".into(),
                "PIPELINING".into(),
                "SIZE 10240000".into(),
                "auth plain LOGIN".into(),
                "STARTTLS".into(),
            ],
        };
        let ext = Extensions::from_ehlo(&reply);
        assert!(ext.pipelining() && ext.starttls());
        assert_eq!(ext.max_size(), Some(10_240_000));
        assert_eq!(ext.auth_mechanisms(), vec!["PLAIN", "LOGIN"]);
        assert!(!ext.has("mx.example.com"));
    }
}
