//! A small async ESMTP client: one connection, every network step under its
//! own timeout, TCP_NODELAY on, STARTTLS and implicit TLS, AUTH PLAIN/LOGIN,
//! and messages sent with PIPELINING (RFC 2920) when the server offers it.
//!
//! Why not lettre's transport: measured here (`shared/notes/smtp-findings.md`)
//! it leaves Nagle on (a ~44 ms stall per message), sends a NOOP before every
//! message, and in async mode only its connect has a timeout. Each step is a
//! separate method so Test connection can time and judge them one by one.
//!
//! The server is not trusted to stay in step. Replies are read whole and
//! within limits ([`ReplyReader`]); each must fit the command it answers
//! (a 354 answers DATA, never RCPT); and before anything is written, every
//! reply due has been read, so a byte waiting then is a reply nobody asked
//! for (a `250` right behind the `354`, before the content). Any of these is
//! a protocol error: the connection is done (every later step fails with
//! the same failure), and nothing the server said is taken as acceptance.
//! A `421` may come unasked (a server closing an idle connection says so):
//! it ends the connection as a transient failure.
//!
//! Nothing a value carries becomes a command: every command line is checked
//! for line breaks and control characters, and for length, before it is
//! written; addresses go out with their domains in ASCII (IDNA), and with
//! SMTPUTF8 when a local part needs it. Every reply line is stripped of
//! control characters and of the login's credentials ([`Redactor`]) as it
//! is read, before a failure, a log or a database sees it.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use super::failure::{Failure, Problem, Stage};
use super::redact::Redactor;
use super::reply::{Reply, ReplyReader, Violation, cut};
use super::tls::{self, TlsSummary};
use super::{AuthMethod, Security};
use crate::address;

/// Longest command line written, without CRLF: RFC 5321 §4.5.3.1.4 has
/// servers accept 512 octets with it.
const MAX_COMMAND: usize = 510;
/// Longest AUTH line (RFC 4954 §4: 12288 octets with CRLF).
const MAX_AUTH_LINE: usize = 12_286;
/// One socket read.
const READ_CHUNK: usize = 4096;

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

    /// RFC 6531: addresses with UTF-8 local parts.
    pub fn smtputf8(&self) -> bool {
        self.has("SMTPUTF8")
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

/// What a reply answers: it decides the stage, the timeout, and which codes
/// fit (RFC 5321 §4.3.2). A reply that does not fit its command means the
/// server is out of step with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    Greeting,
    Ehlo,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Content,
    Rset,
    Quit,
}

impl Awaited {
    fn stage(self) -> Stage {
        match self {
            Awaited::Greeting => Stage::Greeting,
            Awaited::Ehlo => Stage::Ehlo,
            Awaited::StartTls => Stage::Tls,
            Awaited::Auth => Stage::Auth,
            Awaited::Mail | Awaited::Rset => Stage::Mail,
            Awaited::Rcpt => Stage::Rcpt,
            Awaited::Data | Awaited::Content => Stage::Data,
            Awaited::Quit => Stage::Quit,
        }
    }

    /// Whether a reply with `code` can answer this: any 4xx and 5xx, and
    /// the positive codes the command has.
    fn fits(self, code: u16) -> bool {
        if (400..600).contains(&code) {
            return true;
        }
        match self {
            Awaited::Greeting | Awaited::StartTls => code == 220,
            Awaited::Ehlo => code == 250,
            Awaited::Auth => code == 235 || code == 334,
            Awaited::Mail | Awaited::Rcpt | Awaited::Rset | Awaited::Content => (200..300).contains(&code),
            Awaited::Data => code == 354,
            Awaited::Quit => true,
        }
    }

    /// The command as a failure names it.
    fn command(self) -> &'static str {
        match self {
            Awaited::Greeting => "the connection",
            Awaited::Ehlo => "EHLO",
            Awaited::StartTls => "STARTTLS",
            Awaited::Auth => "AUTH",
            Awaited::Mail => "MAIL FROM",
            Awaited::Rcpt => "RCPT TO",
            Awaited::Data => "DATA",
            Awaited::Content => "the message",
            Awaited::Rset => "RSET",
            Awaited::Quit => "QUIT",
        }
    }
}

/// One open SMTP connection.
#[derive(Debug)]
pub struct Connection {
    stream: Stream,
    reader: ReplyReader,
    settings: Arc<ConnectionSettings>,
    redactor: Redactor,
    extensions: Extensions,
    tls: Option<TlsSummary>,
    local_addr: Option<SocketAddr>,
    /// The failure that left the conversation out of step (a protocol
    /// error, a timeout, a lost connection): every later step fails with it.
    broken: Option<Failure>,
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
        let redactor = Redactor::for_login(settings.username.as_deref(), settings.password.as_deref());
        Ok(Connection {
            stream,
            reader: ReplyReader::new(redactor.clone()),
            settings,
            redactor,
            extensions: Extensions::default(),
            tls,
            local_addr,
            broken: None,
        })
    }

    /// Whether the connection can carry more: no step has left it out of
    /// step with the server.
    pub fn is_usable(&self) -> bool {
        self.broken.is_none()
    }

    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    pub fn tls(&self) -> Option<&TlsSummary> {
        self.tls.as_ref()
    }

    /// Reads the 220 greeting.
    pub async fn read_greeting(&mut self) -> Result<Reply, Failure> {
        let reply = self.read_reply(Awaited::Greeting).await?;
        if reply.code == 220 {
            Ok(reply)
        } else {
            Err(Failure::from_reply(Stage::Greeting, &reply))
        }
    }

    /// EHLO (falling back to HELO for servers that do not know it).
    pub async fn ehlo(&mut self) -> Result<&Extensions, Failure> {
        let name = self.helo_name()?;
        let reply = self.command(Awaited::Ehlo, &format!("EHLO {name}")).await?;
        let reply = if reply.code == 250 {
            reply
        } else if matches!(reply.code, 500 | 502) {
            let helo = self.command(Awaited::Ehlo, &format!("HELO {name}")).await?;
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

    /// The EHLO argument: the account's name for this computer (checked,
    /// in ASCII), or our address as a literal.
    fn helo_name(&self) -> Result<String, Failure> {
        Ok(match (&self.settings.helo_name, self.local_addr) {
            (Some(name), _) if !name.trim().is_empty() => ehlo_argument(name).map_err(|problem| {
                Failure::new(
                    Stage::Ehlo,
                    Problem::InvalidValue,
                    format!("the EHLO name {} {problem}; nothing was sent", shown(name)),
                )
            })?,
            (_, Some(SocketAddr::V4(addr))) => format!("[{}]", addr.ip()),
            (_, Some(SocketAddr::V6(addr))) => format!("[IPv6:{}]", addr.ip()),
            (_, None) => "localhost".to_owned(),
        })
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
        let reply = self.command(Awaited::StartTls, "STARTTLS").await?;
        if reply.code != 220 {
            return Err(Failure::from_reply(Stage::Tls, &reply));
        }
        // Anything received before the handshake was sent in clear text and
        // could be injected by a man in the middle, to be read as a reply
        // once encrypted (CVE-2011-0411); refuse it.
        if let Err(failure) = self.ensure_quiet(Stage::Tls).await {
            return Err(match failure.problem {
                Problem::ConnectionLost => failure,
                _ => Failure::new(
                    Stage::Tls,
                    Problem::StarttlsFailed,
                    format!("before the TLS handshake, {}", failure.text),
                ),
            });
        }
        let Either::Left(tcp) = self.stream else {
            return Err(Failure::new(
                Stage::Tls,
                Problem::TlsFailed,
                "the connection is already encrypted",
            ));
        };
        let (stream, summary) = handshake(tcp, &self.settings)
            .await
            .map_err(|failure| match failure.problem {
                // Not TLS where the server agreed to start it: a broken server
                // or something in between, not a wrong choice of "TLS".
                Problem::TlsMismatch => Failure::new(
                    Stage::Tls,
                    Problem::StarttlsFailed,
                    "after agreeing to STARTTLS, the server answered in plain text, not TLS",
                ),
                _ => failure,
            })?;
        Ok(Connection {
            stream: Either::Right(Box::new(stream)),
            reader: ReplyReader::new(self.redactor.clone()),
            settings: self.settings,
            redactor: self.redactor,
            extensions: Extensions::default(),
            tls: Some(summary),
            local_addr: self.local_addr,
            broken: None,
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
            if user.contains('\0') || password.contains('\0') {
                return Err(Failure::new(
                    Stage::Auth,
                    Problem::InvalidValue,
                    "the user name or password contains a NUL character, which AUTH PLAIN cannot carry",
                ));
            }
            let token = BASE64.encode(format!("\0{user}\0{password}"));
            self.secret_command(&format!("AUTH PLAIN {token}")).await?
        } else {
            let first = self.command(Awaited::Auth, "AUTH LOGIN").await?;
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
    ///
    /// Domains go out in ASCII (IDNA); an address whose local part is not
    /// ASCII goes out with SMTPUTF8 when the server offers it, and is
    /// refused here, before anything is written, when it does not
    /// ([`Problem::Smtputf8Unavailable`]: the recipient's, or for the
    /// sender every message's).
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
        let sender = self.wire_address(Stage::Mail, "the sender address", from)?;
        let mut utf8 = sender.needs_smtputf8;
        let mut rcpts = Vec::with_capacity(recipients.len());
        for recipient in recipients {
            let recipient = self.wire_address(Stage::Rcpt, "the recipient address", recipient)?;
            utf8 |= recipient.needs_smtputf8;
            rcpts.push(checked_command(Stage::Rcpt, format!("RCPT TO:<{}>", recipient.text))?);
        }
        let mut mail = format!("MAIL FROM:<{}>", sender.text);
        if self.extensions.max_size().is_some() {
            mail.push_str(&format!(" SIZE={size}"));
        }
        if utf8 {
            mail.push_str(" SMTPUTF8");
        }
        let mail = checked_command(Stage::Mail, mail)?;
        Ok(Envelope { mail, rcpts })
    }

    /// `address` as the envelope carries it ([`address::for_wire`]), or why
    /// it cannot go: characters no command line may carry, or a UTF-8
    /// local part for a server without SMTPUTF8.
    fn wire_address(&self, stage: Stage, what: &str, address: &str) -> Result<address::WireAddress, Failure> {
        let wire = address::for_wire(address).map_err(|reason| {
            Failure::new(
                stage,
                Problem::InvalidValue,
                format!("{what} {} cannot be sent: {reason}; nothing was sent", shown(address)),
            )
        })?;
        if wire.needs_smtputf8 && !self.extensions.smtputf8() {
            return Err(Failure::new(
                stage,
                Problem::Smtputf8Unavailable,
                format!(
                    "{what} {address} has non-ASCII characters before the @, and the server does not offer SMTPUTF8"
                ),
            ));
        }
        Ok(wire)
    }

    /// Reads the replies to a pipelined envelope of `recipients` RCPTs, up
    /// to the 354. After a refusal the connection is reset with RSET.
    async fn read_envelope(&mut self, recipients: usize) -> Result<(), Failure> {
        // Read every reply even after a refusal: they were all sent. A 421
        // means the server is closing: the rest never comes.
        let mail_reply = self.read_reply(Awaited::Mail).await?;
        if mail_reply.code == 421 {
            return Err(Failure::from_reply(Stage::Mail, &mail_reply));
        }
        let mut rcpt_replies = Vec::with_capacity(recipients);
        for _ in 0..recipients {
            let reply = self.read_reply(Awaited::Rcpt).await?;
            if reply.code == 421 {
                return Err(Failure::from_reply(Stage::Rcpt, &reply));
            }
            rcpt_replies.push(reply);
        }
        let data_reply = self.read_reply(Awaited::Data).await?;
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
                let _ignored = self.read_reply(Awaited::Content).await?;
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
        let reply = self.command(Awaited::Mail, &envelope.mail).await?;
        if !reply.is_positive() {
            self.rset().await?;
            return Err(Failure::from_reply(Stage::Mail, &reply));
        }
        for rcpt in &envelope.rcpts {
            let reply = self.command(Awaited::Rcpt, rcpt).await?;
            if !reply.is_positive() {
                self.rset().await?;
                return Err(Failure::from_reply(Stage::Rcpt, &reply));
            }
        }
        let reply = self.command(Awaited::Data, "DATA").await?;
        if reply.code != 354 {
            self.rset().await?;
            return Err(Failure::from_reply(Stage::Data, &reply));
        }
        Ok(())
    }

    /// Sends the content of the transaction [`Connection::begin`] opened and
    /// returns the server's 250, or its refusal.
    ///
    /// A failure after the content went out carries
    /// [`Failure::after_content`]; one before it (a reply nobody asked for,
    /// waiting behind the 354) does not, and nothing was sent.
    pub async fn finish(&mut self, message: &[u8]) -> Result<Reply, Failure> {
        // The body and its terminator in one write (see the module docs).
        let body = dot_stuff(message);
        self.write(Stage::Data, &body).await?;
        self.content_reply().await
    }

    /// The reply to content just written: any 2xx accepts it.
    async fn content_reply(&mut self) -> Result<Reply, Failure> {
        let reply = self
            .read_reply(Awaited::Content)
            .await
            .map_err(Failure::after_content)?;
        if (200..300).contains(&reply.code) {
            Ok(reply)
        } else {
            Err(Failure::from_reply(Stage::Data, &reply).after_content())
        }
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
        let finished = self.content_reply().await;
        if finished
            .as_ref()
            .is_err_and(|f| f.code.is_none() || f.code == Some(421))
        {
            return (finished, None);
        }
        match self.read_envelope(recipients.len()).await {
            Err(failure)
                if matches!(
                    failure.problem,
                    Problem::ConnectionLost | Problem::TimedOut | Problem::NotSmtp | Problem::ProtocolError
                ) =>
            {
                (finished, None)
            }
            opened => (finished, Some(opened)),
        }
    }

    /// RSET: forget the current transaction.
    pub async fn rset(&mut self) -> Result<(), Failure> {
        let reply = self.command(Awaited::Rset, "RSET").await?;
        if reply.code == 250 {
            Ok(())
        } else {
            Err(Failure::from_reply(Stage::Mail, &reply))
        }
    }

    /// QUIT politely (unless the server is out of step); errors do not
    /// matter any more.
    pub async fn quit(mut self) {
        if self.broken.is_none() {
            let _ignored = self.command(Awaited::Quit, "QUIT").await;
        }
        let _ignored = tokio::time::timeout(self.settings.command_timeout, self.stream.shutdown()).await;
    }

    async fn command(&mut self, awaited: Awaited, line: &str) -> Result<Reply, Failure> {
        let stage = awaited.stage();
        let line = checked_command(stage, line.to_owned())?;
        self.write(stage, format!("{line}\r\n").as_bytes()).await?;
        self.read_reply(awaited).await
    }

    /// A command carrying a secret: never shown, in a failure or anywhere.
    async fn secret_command(&mut self, line: &str) -> Result<Reply, Failure> {
        if line.len() > MAX_AUTH_LINE || line.chars().any(char::is_control) {
            return Err(Failure::new(
                Stage::Auth,
                Problem::InvalidValue,
                "the login is too long, or has characters AUTH cannot carry",
            ));
        }
        self.write(Stage::Auth, format!("{line}\r\n").as_bytes()).await?;
        self.read_reply(Awaited::Auth).await
    }

    /// The failure that broke this connection, if one did.
    fn check_usable(&self) -> Result<(), Failure> {
        match &self.broken {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        }
    }

    /// Remembers a failure that leaves the conversation out of step.
    fn broke(&mut self, failure: Failure) -> Failure {
        self.broken = Some(failure.clone());
        failure
    }

    async fn write(&mut self, stage: Stage, bytes: &[u8]) -> Result<(), Failure> {
        self.ensure_quiet(stage).await?;
        let timeout = if stage == Stage::Data {
            self.settings.data_timeout
        } else {
            self.settings.command_timeout
        };
        let stream = &mut self.stream;
        let write = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Err(_) => Err(self.broke(Failure::timed_out(stage, timeout))),
            Ok(Err(e)) => Err(self.broke(Failure::lost(stage, &io_text(&e)))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Before anything is written, every reply due has been read: whatever
    /// has arrived since is a reply nobody asked for, and breaks the
    /// connection. Looks at what is buffered and at what the socket has
    /// ready, without waiting. An unasked `421` is a server closing the
    /// connection (RFC 5321 §3.8: after an idle timeout, say): transient.
    async fn ensure_quiet(&mut self, stage: Stage) -> Result<(), Failure> {
        self.check_usable()?;
        if self.reader.is_idle() {
            let mut chunk = [0u8; READ_CHUNK];
            let room = self.reader.room().min(READ_CHUNK);
            match read_ready(&mut self.stream, &mut chunk[..room]).await {
                None => return Ok(()),
                Some(Err(e)) => return Err(self.broke(Failure::lost(stage, &io_text(&e)))),
                Some(Ok(0)) => return Err(self.broke(Failure::lost(stage, "the server closed the connection"))),
                Some(Ok(n)) => {
                    self.reader.feed(&chunk[..n]);
                }
            }
        }
        // At DATA, what is about to be written is the message (or its end).
        let when = if stage == Stage::Data {
            " before the message was sent"
        } else {
            ""
        };
        let failure = match self.reader.next_reply() {
            Ok(Some(reply)) if reply.code == 421 => Failure::from_reply(stage, &reply),
            Ok(Some(reply)) => Failure::protocol(
                stage,
                format_args!("a reply nobody asked for{when}: {}", cut(&reply.to_string(), 80)),
            ),
            Ok(None) => Failure::protocol(
                stage,
                format_args!("a reply nobody asked for{when}: {}", self.reader.leftover()),
            ),
            Err(violation) => violation_failure(stage, violation),
        };
        Err(self.broke(failure))
    }

    /// Reads one complete reply to `awaited`, however many lines, under its
    /// timeout, and checks that it fits the command.
    async fn read_reply(&mut self, awaited: Awaited) -> Result<Reply, Failure> {
        self.check_usable()?;
        let stage = awaited.stage();
        let timeout = if awaited == Awaited::Content {
            self.settings.data_timeout
        } else {
            self.settings.command_timeout
        };
        let read = read_whole(&mut self.stream, &mut self.reader, stage);
        let reply = match tokio::time::timeout(timeout, read).await {
            Err(_) => Err(Failure::timed_out(stage, timeout)),
            Ok(result) => result,
        };
        match reply {
            Ok(reply) if awaited.fits(reply.code) => Ok(reply),
            Ok(reply) => Err(self.broke(Failure::protocol(
                stage,
                format_args!(
                    "a reply that does not answer {}: {}",
                    awaited.command(),
                    cut(&reply.to_string(), 80)
                ),
            ))),
            Err(failure) => Err(self.broke(failure)),
        }
    }
}

/// Reads until `reader` has a complete reply.
async fn read_whole(stream: &mut Stream, reader: &mut ReplyReader, stage: Stage) -> Result<Reply, Failure> {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match reader.next_reply() {
            Ok(Some(reply)) => return Ok(reply),
            Ok(None) => {}
            Err(violation) => return Err(violation_failure(stage, violation)),
        }
        // Never 0 while a reply is incomplete (see `ReplyReader::room`).
        let room = reader.room().clamp(1, READ_CHUNK);
        match stream.read(&mut chunk[..room]).await {
            Err(e) => return Err(Failure::lost(stage, &io_text(&e))),
            Ok(0) => return Err(Failure::lost(stage, "the server closed the connection")),
            Ok(n) => {
                reader.feed(&chunk[..n]);
            }
        }
    }
}

/// What the socket has ready right now, without waiting: `None` when
/// nothing is there.
async fn read_ready(stream: &mut Stream, buf: &mut [u8]) -> Option<std::io::Result<usize>> {
    std::future::poll_fn(|cx| {
        let mut read = ReadBuf::new(&mut *buf);
        match Pin::new(&mut *stream).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Ready(None),
            Poll::Ready(Ok(())) => Poll::Ready(Some(Ok(read.filled().len()))),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
        }
    })
    .await
}

/// A reply stream that broke the grammar or a limit: not a mail server at
/// all when the very greeting is not a reply, else a protocol error.
fn violation_failure(stage: Stage, violation: Violation) -> Failure {
    match violation {
        Violation::NotAReply(line) if stage == Stage::Greeting => {
            Failure::new(stage, Problem::NotSmtp, format!("unexpected answer: {line}"))
        }
        other => Failure::protocol(stage, other),
    }
}

/// `line` if it can be written as one command: no line break or other
/// control character (a value carrying one would start a command of its
/// own), and no longer than servers must accept. Nothing is written otherwise.
fn checked_command(stage: Stage, line: String) -> Result<String, Failure> {
    if line.chars().any(char::is_control) {
        return Err(Failure::new(
            stage,
            Problem::InvalidValue,
            format!(
                "the command {} has a line break or control character; nothing was sent",
                shown(&line)
            ),
        ));
    }
    if line.len() > MAX_COMMAND {
        return Err(Failure::new(
            stage,
            Problem::InvalidValue,
            format!(
                "the command would be {} bytes, more than the {MAX_COMMAND} servers must accept; nothing was sent",
                line.len()
            ),
        ));
    }
    Ok(line)
}

/// A value as a failure shows it: quoted, control characters escaped, cut.
fn shown(value: &str) -> String {
    format!("\"{}\"", cut(&value.escape_debug().to_string(), 80))
}

/// The EHLO argument for `name` (RFC 5321 §4.1.1.1): a host name, in ASCII
/// (IDNA), or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
/// `Err` says what is wrong with it, to follow "the EHLO name ...".
pub fn ehlo_argument(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("is empty");
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("contains a space, a line break or a control character");
    }
    if let Some(literal) = name.strip_prefix('[') {
        let inner = literal.strip_suffix(']').unwrap_or("");
        let valid = match inner.strip_prefix("IPv6:") {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
            None => inner.parse::<Ipv4Addr>().is_ok(),
        };
        return if valid {
            Ok(name.to_owned())
        } else {
            Err("is not an address literal such as [192.0.2.1] or [IPv6:2001:db8::1]")
        };
    }
    let ascii = address::ascii_domain(name).ok_or("cannot be written in ASCII (IDNA)")?;
    let valid = ascii.len() <= 253
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if valid {
        Ok(ascii.into_owned())
    } else {
        Err("is not a host name such as mail.example.com")
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
