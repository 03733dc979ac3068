//! A raw SMTP peer for hostile-server tests: a loopback listener whose every
//! answer is bytes a test chooses, written exactly as given (early replies,
//! replies that never end, lines of any length, garbage), so a test can
//! produce what no well-behaved server (the engine's, or
//! [`crate::smtp_server`]) would. It records every command line and every
//! message content it received, so a test can check what reached it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// What the peer heard, handed to the test's script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A client connected: time for the greeting.
    Connected,
    /// One command line, without its CRLF.
    Line(String),
    /// A message's content, up to (not including) the terminating dot.
    Content(Vec<u8>),
}

/// What the peer does in answer.
#[derive(Debug, Clone)]
pub enum Say {
    /// Write these bytes (nothing, when empty) and read on.
    Bytes(Vec<u8>),
    /// Write each piece after its pause, then read on.
    Paced(Vec<(Duration, Vec<u8>)>),
    /// Write these bytes over and over until the client goes away.
    Endless(Vec<u8>),
    /// Write these bytes and close the connection.
    BytesAndClose(Vec<u8>),
}

impl Say {
    /// `Say::Bytes` from text.
    pub fn text(text: &str) -> Say {
        Say::Bytes(text.as_bytes().to_vec())
    }
}

/// Everything the peer received, across connections.
#[derive(Debug, Clone, Default)]
pub struct PeerLog {
    pub connections: usize,
    /// Every command line, in order, without CRLF.
    pub lines: Vec<String>,
    /// Every message content (dot-stuffing undone).
    pub contents: Vec<Vec<u8>>,
}

type Script = dyn Fn(&Heard) -> Say + Send + Sync;

/// A running raw peer; stopped when dropped.
#[derive(Debug)]
pub struct RawPeer {
    pub addr: SocketAddr,
    log: Arc<Mutex<PeerLog>>,
    shutdown: CancellationToken,
}

impl RawPeer {
    /// Starts the peer on a free loopback port. `script` answers each thing
    /// heard. After a `DATA` line answered with bytes starting `354`, the
    /// lines that follow are read as content up to the lone dot.
    pub async fn start(script: impl Fn(&Heard) -> Say + Send + Sync + 'static) -> RawPeer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("cannot bind the raw peer: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("raw peer address: {e}"));
        let log = Arc::new(Mutex::new(PeerLog::default()));
        let shutdown = CancellationToken::new();
        let script: Arc<Script> = Arc::new(script);
        let (accept_log, accept_shutdown) = (log.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = accept_shutdown.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((tcp, _)) = accepted else { continue };
                let (log, script, shutdown) = (accept_log.clone(), script.clone(), accept_shutdown.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = session(tcp, &*script, &log) => {}
                    }
                });
            }
        });
        RawPeer { addr, log, shutdown }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What the peer received so far.
    pub fn log(&self) -> PeerLog {
        lock(&self.log).clone()
    }
}

impl Drop for RawPeer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the session goes on after saying something.
async fn say(io: &mut BufReader<TcpStream>, said: Say) -> bool {
    let stream = io.get_mut();
    match said {
        Say::Bytes(bytes) => bytes.is_empty() || stream.write_all(&bytes).await.is_ok(),
        Say::Paced(pieces) => {
            for (pause, bytes) in pieces {
                tokio::time::sleep(pause).await;
                if stream.write_all(&bytes).await.is_err() {
                    return false;
                }
            }
            true
        }
        Say::Endless(bytes) => {
            while stream.write_all(&bytes).await.is_ok() {}
            false
        }
        Say::BytesAndClose(bytes) => {
            let _ignored = stream.write_all(&bytes).await;
            let _ignored = stream.shutdown().await;
            false
        }
    }
}

async fn session(tcp: TcpStream, script: &Script, log: &Mutex<PeerLog>) {
    lock(log).connections += 1;
    let mut io = BufReader::new(tcp);
    if !say(&mut io, script(&Heard::Connected)).await {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match io.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned();
        lock(log).lines.push(text.clone());
        let answer = script(&Heard::Line(text.clone()));
        let opens_content =
            text.eq_ignore_ascii_case("DATA") && matches!(&answer, Say::Bytes(b) if b.starts_with(b"354"));
        if !say(&mut io, answer).await {
            return;
        }
        if opens_content {
            let Some(content) = read_content(&mut io).await else {
                return;
            };
            lock(log).contents.push(content.clone());
            if !say(&mut io, script(&Heard::Content(content))).await {
                return;
            }
        }
    }
}

/// Content up to the lone dot, dot-stuffing undone; `None` if the client left.
async fn read_content(io: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut content = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match io.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if line == b".\r\n" {
            return Some(content);
        }
        content.extend_from_slice(
            line.strip_prefix(b".")
                .filter(|_| line.starts_with(b".."))
                .unwrap_or(&line),
        );
    }
}

/// The answers of a plain, well-behaved server, for scripts that change one.
pub fn ordinary(heard: &Heard) -> Say {
    match heard {
        Heard::Connected => Say::text("220 raw.test ESMTP\r\n"),
        Heard::Line(line) => {
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" => Say::text("250-raw.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250 AUTH PLAIN LOGIN\r\n"),
                "HELO" => Say::text("250 raw.test\r\n"),
                "MAIL" | "RCPT" | "RSET" | "NOOP" => Say::text("250 2.0.0 Ok\r\n"),
                "DATA" => Say::text("354 End data with <CR><LF>.<CR><LF>\r\n"),
                "QUIT" => Say::BytesAndClose(b"221 2.0.0 Bye\r\n".to_vec()),
                "AUTH" => Say::text("235 2.7.0 Authentication successful\r\n"),
                _ => Say::text("502 5.5.2 Command not recognised\r\n"),
            }
        }
        Heard::Content(_) => Say::text("250 2.0.0 Ok: queued\r\n"),
    }
}
