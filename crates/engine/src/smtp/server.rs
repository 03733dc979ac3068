//! A small ESMTP server: EHLO with PIPELINING, 8BITMIME, SIZE, AUTH PLAIN/LOGIN
//! and STARTTLS. What it does with each session and message comes from a
//! [`Policy`]: the built-in sandbox captures messages; the test server in
//! `tests/` injects faults (throttling, resets, black holes, slow replies).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;

/// Longest command line accepted (RFC 5321 allows 512; extensions add more).
const MAX_COMMAND: u64 = 4096;
/// An idle client is dropped after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// What the server does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Carry on as a normal server would.
    Proceed,
    /// Answer with this reply and carry on.
    Reply(u16, String),
    /// Answer with this reply, then close the connection.
    ReplyAndClose(u16, String),
    /// Close without a word.
    Close,
    /// Reset the connection (TCP RST), as a crashing or hostile server would.
    Reset,
    /// Say nothing, ever: the client must time out.
    Silence,
    /// Wait, then do the inner action.
    Delay(Duration, Box<Action>),
    /// Answer as [`Action::Proceed`] would, one byte at a time, this long
    /// apart (a server whose answer is late however long one waits for a
    /// byte; a test server's fault).
    Trickle(Duration),
}

/// The envelope and content of one received message.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Which connection it came on (numbered from 1 per server).
    pub session: u64,
    pub peer: SocketAddr,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub authenticated_as: Option<String>,
    /// MAIL FROM carried SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
}

/// A point in the conversation where the policy may step in.
#[derive(Debug)]
pub enum Event<'a> {
    Connect {
        peer: SocketAddr,
    },
    Ehlo {
        name: &'a str,
    },
    MailFrom {
        address: &'a str,
    },
    RcptTo {
        address: &'a str,
    },
    Data,
    /// Any other command line, verbatim.
    Command {
        line: &'a str,
    },
}

/// How a server behaves. Every method has the behaviour of a plain,
/// well-behaved server as its default.
pub trait Policy: Send + Sync + 'static {
    /// Called at each [`Event`]; anything but [`Action::Proceed`] replaces the
    /// server's normal answer.
    fn on_event(&self, _session: u64, _event: &Event<'_>) -> Action {
        Action::Proceed
    }

    /// Whether these credentials may log in.
    fn authenticate(&self, _user: &str, _password: &str) -> bool {
        true
    }

    /// Whether mail is refused until the client logs in.
    fn requires_auth(&self) -> bool {
        false
    }

    /// A complete message arrived; the reply decides its fate.
    fn deliver(&self, envelope: Envelope, data: Vec<u8>) -> impl Future<Output = Action> + Send;
}

/// The server's fixed settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub hostname: String,
    pub max_message_size: usize,
    /// Offered as STARTTLS when set (or used from the first byte, below).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte, as on port 465 (needs `tls`).
    pub implicit_tls: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            hostname: "mailroom.sandbox".to_owned(),
            max_message_size: 50 * 1024 * 1024,
            tls: None,
            implicit_tls: false,
        }
    }
}

/// Accepts connections on `listener` until `shutdown` fires.
pub async fn serve<P: Policy>(
    listener: TcpListener,
    config: ServerConfig,
    policy: Arc<P>,
    shutdown: CancellationToken,
) {
    let config = Arc::new(config);
    let mut next_session = 0u64;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ignored = tcp.set_nodelay(true);
        next_session += 1;
        let session = Session {
            id: next_session,
            peer,
            config: config.clone(),
            policy: policy.clone(),
        };
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = session.run(tcp) => {}
            }
        });
    }
}

struct Session<P> {
    id: u64,
    peer: SocketAddr,
    config: Arc<ServerConfig>,
    policy: Arc<P>,
}

/// Whether the session goes on after an answer.
enum Flow {
    Continue,
    End,
    StartTls,
}

struct Transaction {
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
    smtputf8: bool,
}

impl<P: Policy> Session<P> {
    async fn run(self, tcp: TcpStream) {
        let greeting = format!("{} ESMTP Mailroom", self.config.hostname);
        let action = without_delay(self.policy.on_event(self.id, &Event::Connect { peer: self.peer })).await;
        let implicit = match (&self.config.tls, self.config.implicit_tls) {
            (Some(tls), true) => Some(tls.clone()),
            _ => None,
        };
        let mut io = match implicit {
            None => BufReader::new(Either::Left(tcp)),
            Some(tls) => match tokio::time::timeout(IDLE_TIMEOUT, TlsAcceptor::from(tls).accept(tcp)).await {
                Ok(Ok(stream)) => BufReader::new(Either::Right(Box::new(stream))),
                _ => return,
            },
        };
        if let Flow::End = answer(&mut io, action, 220, &greeting).await {
            return;
        }
        let mut state = State {
            tls: self.config.implicit_tls,
            authenticated_as: None,
            ehlo_done: false,
            transaction: Transaction {
                mail_from: None,
                rcpt_to: Vec::new(),
                smtputf8: false,
            },
        };
        loop {
            match self.conversation(&mut io, &mut state).await {
                Flow::End | Flow::Continue => return,
                Flow::StartTls => {
                    let Some(tls) = &self.config.tls else { return };
                    let Either::Left(tcp) = io.into_inner() else { return };
                    match tokio::time::timeout(IDLE_TIMEOUT, TlsAcceptor::from(tls.clone()).accept(tcp)).await {
                        Ok(Ok(stream)) => io = BufReader::new(Either::Right(Box::new(stream))),
                        _ => return,
                    }
                    state.tls = true;
                    state.ehlo_done = false;
                    state.authenticated_as = None;
                    state.transaction = Transaction {
                        mail_from: None,
                        rcpt_to: Vec::new(),
                        smtputf8: false,
                    };
                }
            }
        }
    }

    /// Reads and answers commands until the session ends or switches to TLS.
    async fn conversation<S>(&self, io: &mut BufReader<S>, state: &mut State) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin + ResetOnDrop,
    {
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            let mut limited = (&mut *io).take(MAX_COMMAND);
            let read = tokio::time::timeout(IDLE_TIMEOUT, limited.read_until(b'\n', &mut line));
            match read.await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Flow::End,
                Ok(Ok(_)) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let command = text.trim_end_matches(['\r', '\n']);
            let flow = self.command(io, state, command).await;
            if !matches!(flow, Flow::Continue) {
                return flow;
            }
        }
    }

    async fn command<S>(&self, io: &mut BufReader<S>, state: &mut State, command: &str) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin + ResetOnDrop,
    {
        let (verb, rest) = command.split_once(' ').unwrap_or((command, ""));
        let verb = verb.to_ascii_uppercase();
        let rest = rest.trim();
        match verb.as_str() {
            "EHLO" | "HELO" => self.ehlo(io, state, &verb, rest).await,
            "STARTTLS" if self.config.tls.is_some() && !state.tls => {
                let action = without_delay(self.policy.on_event(self.id, &Event::Command { line: command })).await;
                if action != Action::Proceed {
                    return answer(io, action, 220, "").await;
                }
                match reply(io, 220, "2.0.0 Ready to start TLS").await {
                    Flow::Continue => Flow::StartTls,
                    other => other,
                }
            }
            "AUTH" => {
                let action = without_delay(self.policy.on_event(self.id, &Event::Command { line: command })).await;
                if action != Action::Proceed {
                    return answer(io, action, 235, "").await;
                }
                self.auth(io, state, rest).await
            }
            "MAIL" => self.mail(io, state, rest).await,
            "RCPT" => self.rcpt(io, state, rest).await,
            "DATA" => self.data(io, state).await,
            "RSET" => {
                state.transaction.mail_from = None;
                state.transaction.rcpt_to.clear();
                reply(io, 250, "2.0.0 Ok").await
            }
            "NOOP" => reply(io, 250, "2.0.0 Ok").await,
            "VRFY" => reply(io, 252, "2.5.2 Cannot VRFY user").await,
            "QUIT" => {
                let _ignored = reply(io, 221, "2.0.0 Bye").await;
                Flow::End
            }
            "" => reply(io, 500, "5.5.2 Empty command").await,
            _ => {
                let action = without_delay(self.policy.on_event(self.id, &Event::Command { line: command })).await;
                if action != Action::Proceed {
                    return answer(io, action, 500, "").await;
                }
                reply(io, 502, "5.5.2 Command not recognised").await
            }
        }
    }

    /// EHLO (the extensions offered) or HELO; either ends a transaction.
    async fn ehlo<S>(&self, io: &mut BufReader<S>, state: &mut State, verb: &str, rest: &str) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin + ResetOnDrop,
    {
        let action = without_delay(self.policy.on_event(self.id, &Event::Ehlo { name: rest })).await;
        if action != Action::Proceed {
            return answer(io, action, 250, "").await;
        }
        state.ehlo_done = true;
        state.transaction.mail_from = None;
        state.transaction.rcpt_to.clear();
        if verb == "HELO" {
            return reply(io, 250, &self.config.hostname).await;
        }
        let mut lines = vec![
            self.config.hostname.clone(),
            "PIPELINING".to_owned(),
            "8BITMIME".to_owned(),
            "SMTPUTF8".to_owned(),
            format!("SIZE {}", self.config.max_message_size),
            "ENHANCEDSTATUSCODES".to_owned(),
            "AUTH PLAIN LOGIN".to_owned(),
        ];
        if self.config.tls.is_some() && !state.tls {
            lines.push("STARTTLS".to_owned());
        }
        lines.push("HELP".to_owned());
        reply_lines(io, 250, &lines).await
    }

    /// MAIL FROM: checks the order, the login, SIZE and SMTPUTF8, then opens
    /// a transaction.
    async fn mail<S>(&self, io: &mut BufReader<S>, state: &mut State, rest: &str) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin + ResetOnDrop,
    {
        let Some(address) = path_argument(rest, "FROM:") else {
            return reply(io, 501, "5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        let action = without_delay(self.policy.on_event(self.id, &Event::MailFrom { address: &address })).await;
        if action != Action::Proceed {
            return answer(io, action, 250, "").await;
        }
        if !state.ehlo_done {
            return reply(io, 503, "5.5.1 Say EHLO first").await;
        }
        if self.policy.requires_auth() && state.authenticated_as.is_none() {
            return reply(io, 530, "5.7.0 Authentication required").await;
        }
        if let Some(size) = size_parameter(rest)
            && size > self.config.max_message_size
        {
            return reply(io, 552, "5.3.4 Message size exceeds fixed limit").await;
        }
        let smtputf8 = has_parameter(rest, "SMTPUTF8");
        if !smtputf8 && !address.is_ascii() {
            return reply(io, 553, "5.6.7 Non-ASCII address needs SMTPUTF8").await;
        }
        state.transaction.smtputf8 = smtputf8;
        state.transaction.mail_from = Some(address);
        state.transaction.rcpt_to.clear();
        reply(io, 250, "2.1.0 Ok").await
    }

    /// RCPT TO: one more recipient for the open transaction.
    async fn rcpt<S>(&self, io: &mut BufReader<S>, state: &mut State, rest: &str) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin + ResetOnDrop,
    {
        let Some(address) = path_argument(rest, "TO:") else {
            return reply(io, 501, "5.5.4 Syntax: RCPT TO:<address>").await;
        };
        if state.transaction.mail_from.is_none() {
            return reply(io, 503, "5.5.1 Need MAIL before RCPT").await;
        }
        if !state.transaction.smtputf8 && !address.is_ascii() {
            return reply(io, 553, "5.6.7 Non-ASCII address needs SMTPUTF8").await;
        }
        let action = without_delay(self.policy.on_event(self.id, &Event::RcptTo { address: &address })).await;
        if action != Action::Proceed {
            return answer(io, action, 250, "").await;
        }
        state.transaction.rcpt_to.push(address);
        reply(io, 250, "2.1.5 Ok").await
    }

    /// DATA: reads the content (bounded by SIZE) and hands it with its
    /// envelope to the policy, whose answer is the reply.
    async fn data<S>(&self, io: &mut BufReader<S>, state: &mut State) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin + ResetOnDrop,
    {
        if state.transaction.rcpt_to.is_empty() {
            return reply(io, 554, "5.5.1 No valid recipients").await;
        }
        let action = without_delay(self.policy.on_event(self.id, &Event::Data)).await;
        if action != Action::Proceed {
            return answer(io, action, 354, "").await;
        }
        if let Flow::End = reply(io, 354, "End data with <CR><LF>.<CR><LF>").await {
            return Flow::End;
        }
        let Some(data) = read_data(io, self.config.max_message_size).await else {
            return Flow::End;
        };
        let envelope = Envelope {
            session: self.id,
            peer: self.peer,
            mail_from: state.transaction.mail_from.take().unwrap_or_default(),
            rcpt_to: std::mem::take(&mut state.transaction.rcpt_to),
            authenticated_as: state.authenticated_as.clone(),
            smtputf8: state.transaction.smtputf8,
        };
        let Ok(data) = data else {
            return reply(io, 552, "5.3.4 Message size exceeds fixed limit").await;
        };
        let action = self.policy.deliver(envelope, data).await;
        answer(io, action, 250, "2.0.0 Ok: queued").await
    }

    async fn auth<S>(&self, io: &mut BufReader<S>, state: &mut State, rest: &str) -> Flow
    where
        S: AsyncRead + AsyncWrite + Unpin + ResetOnDrop,
    {
        let (mechanism, initial) = rest.split_once(' ').unwrap_or((rest, ""));
        let credentials = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => {
                let token = if initial.is_empty() {
                    if let Flow::End = reply(io, 334, "").await {
                        return Flow::End;
                    }
                    match read_line(io).await {
                        Some(line) => line,
                        None => return Flow::End,
                    }
                } else {
                    initial.to_owned()
                };
                decode(&token).and_then(|plain| {
                    let mut parts = plain.split('\0');
                    let _authzid = parts.next()?;
                    Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
                })
            }
            "LOGIN" => {
                if let Flow::End = reply(io, 334, "VXNlcm5hbWU6").await {
                    return Flow::End;
                }
                let Some(user) = read_line(io).await else {
                    return Flow::End;
                };
                if let Flow::End = reply(io, 334, "UGFzc3dvcmQ6").await {
                    return Flow::End;
                }
                let Some(password) = read_line(io).await else {
                    return Flow::End;
                };
                decode(&user).zip(decode(&password))
            }
            _ => return reply(io, 504, "5.5.4 Unrecognised authentication mechanism").await,
        };
        match credentials {
            Some((user, password)) if self.policy.authenticate(&user, &password) => {
                state.authenticated_as = Some(user);
                reply(io, 235, "2.7.0 Authentication successful").await
            }
            Some(_) => reply(io, 535, "5.7.8 Authentication credentials invalid").await,
            None => reply(io, 501, "5.5.2 Cannot decode the credentials").await,
        }
    }
}

struct State {
    tls: bool,
    authenticated_as: Option<String>,
    ehlo_done: bool,
    transaction: Transaction,
}

fn decode(token: &str) -> Option<String> {
    BASE64
        .decode(token.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// `FROM:<a@b> SIZE=10` → `a@b`.
fn path_argument(rest: &str, prefix: &str) -> Option<String> {
    let head = rest.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let path = rest[prefix.len()..].trim_start();
    let path = path.split_whitespace().next().unwrap_or("");
    let inner = path.strip_prefix('<')?.strip_suffix('>')?;
    Some(inner.to_owned())
}

/// Whether MAIL FROM's parameters include `keyword` (no value).
fn has_parameter(rest: &str, keyword: &str) -> bool {
    rest.split_whitespace().skip(1).any(|p| p.eq_ignore_ascii_case(keyword))
}

fn size_parameter(rest: &str) -> Option<usize> {
    rest.split_whitespace()
        .skip(1)
        .find_map(|p| p.get(..5).filter(|k| k.eq_ignore_ascii_case("SIZE=")).and(p.get(5..)))
        .and_then(|n| n.parse().ok())
}

async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>) -> Option<String> {
    let mut line = Vec::new();
    match tokio::time::timeout(IDLE_TIMEOUT, (&mut *io).take(MAX_COMMAND).read_until(b'\n', &mut line)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&line).trim_end().to_owned()),
        _ => None,
    }
}

/// Reads DATA up to the lone dot, undoing dot-stuffing. `None` when the
/// client went away; `Some(Err)` when the message is over the size limit
/// (read to its end regardless, so the session stays in step).
async fn read_data<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    limit: usize,
) -> Option<Result<Vec<u8>, ()>> {
    let mut data = Vec::with_capacity(4096);
    let mut line = Vec::with_capacity(1024);
    let mut too_big = false;
    loop {
        line.clear();
        match tokio::time::timeout(IDLE_TIMEOUT, io.read_until(b'\n', &mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return None,
        }
        if line == b".\r\n" || line == b".\n" {
            return Some(if too_big { Err(()) } else { Ok(data) });
        }
        let content = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
        if data.len() + content.len() > limit {
            too_big = true;
            data.clear();
        } else if !too_big {
            data.extend_from_slice(content);
        }
    }
}

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, code: u16, text: &str) -> Flow {
    reply_lines(io, code, &[text.to_owned()]).await
}

async fn reply_lines<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, code: u16, lines: &[String]) -> Flow {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let separator = if i + 1 == lines.len() { ' ' } else { '-' };
        out.push_str(&format!("{code}{separator}{line}\r\n"));
    }
    let stream = io.get_mut();
    if stream.write_all(out.as_bytes()).await.is_err() {
        return Flow::End;
    }
    // Pipelined commands already waiting are answered together (RFC 2920 §3.2).
    if io.buffer().is_empty() && io.get_mut().flush().await.is_err() {
        return Flow::End;
    }
    Flow::Continue
}

/// Waits out any delay wrapped around `action` and returns what it wraps, so a
/// slow [`Action::Proceed`] still proceeds (MAIL FROM still opens a transaction).
async fn without_delay(action: Action) -> Action {
    let mut action = action;
    while let Action::Delay(duration, inner) = action {
        tokio::time::sleep(duration).await;
        action = *inner;
    }
    action
}

/// Carries out a policy's action; `code`/`text` is the normal answer for
/// [`Action::Proceed`].
async fn answer<S>(io: &mut BufReader<S>, action: Action, code: u16, text: &str) -> Flow
where
    S: AsyncRead + AsyncWrite + Unpin + ResetOnDrop,
{
    let mut action = action;
    loop {
        match action {
            Action::Delay(duration, inner) => {
                tokio::time::sleep(duration).await;
                action = *inner;
            }
            Action::Proceed => return reply(io, code, text).await,
            Action::Reply(code, text) => return reply(io, code, &text).await,
            Action::ReplyAndClose(code, text) => {
                let _ignored = reply(io, code, &text).await;
                let _ignored = io.get_mut().flush().await;
                return Flow::End;
            }
            Action::Close => return Flow::End,
            Action::Reset => {
                io.get_mut().reset_on_drop();
                return Flow::End;
            }
            Action::Silence => {
                std::future::pending::<()>().await;
                return Flow::End;
            }
            Action::Trickle(pause) => {
                let line = format!("{code} {text}\r\n");
                for byte in line.as_bytes() {
                    tokio::time::sleep(pause).await;
                    let stream = io.get_mut();
                    if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
                        return Flow::End;
                    }
                }
                return Flow::Continue;
            }
        }
    }
}

/// Lets [`Action::Reset`] turn the coming close into a TCP RST.
trait ResetOnDrop {
    fn reset_on_drop(&mut self);
}

fn linger_zero(tcp: &TcpStream) {
    // SO_LINGER 0 makes close() send RST instead of FIN.
    if let Err(error) = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO)) {
        tracing::debug!(%error, "cannot set SO_LINGER");
    }
}

/// A plain or encrypted connection (tokio-util's `Either` reads and writes either).
type MaybeTls = Either<TcpStream, Box<tokio_rustls::server::TlsStream<TcpStream>>>;

impl ResetOnDrop for MaybeTls {
    fn reset_on_drop(&mut self) {
        match self {
            Either::Left(tcp) => linger_zero(tcp),
            Either::Right(tls) => linger_zero(tls.get_ref().0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sizes_parse() {
        assert_eq!(path_argument("FROM:<a@b.c> SIZE=10", "FROM:").as_deref(), Some("a@b.c"));
        assert_eq!(path_argument("from: <a@b.c>", "FROM:").as_deref(), Some("a@b.c"));
        assert_eq!(path_argument("FROM:<>", "FROM:").as_deref(), Some(""));
        assert_eq!(path_argument("TO:a@b.c", "TO:"), None);
        assert_eq!(size_parameter("FROM:<a@b.c> SIZE=1234"), Some(1234));
        assert_eq!(size_parameter("FROM:<a@b.c> BODY=8BITMIME"), None);
        assert!(has_parameter("FROM:<a@b.c> SIZE=1 smtputf8", "SMTPUTF8"));
        assert!(!has_parameter("FROM:<SMTPUTF8@b.c>", "SMTPUTF8"));
    }
}
