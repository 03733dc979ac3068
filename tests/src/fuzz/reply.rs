//! The SMTP reply reader as a fuzz target, twice over. First the engine's
//! sans-IO reader alone (`reply::parse_chunks`): the input cut at a few
//! points must parse exactly as the whole does. Then the client over a
//! socket: the input is what a server says, in turns separated by
//! [`TURN`]; the first turn is sent at once (the greeting), each later one
//! after the client has written something, so the client is driven past
//! the greeting through EHLO, the envelope and the content. Failures are
//! fine; a panic, a hang, memory past the limit or a split that changes
//! the parse is a finding.

use std::sync::Arc;
use std::time::Duration;

use mailroom_engine::smtp::client::{Connection, ConnectionSettings};
use mailroom_engine::smtp::reply::parse_chunks;
use mailroom_engine::smtp::{AuthMethod, Security};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Context;

/// Separates a server's turns in an input: what follows is sent only after
/// the client has written again.
pub const TURN: &[u8] = b"\0\0";

pub const SEEDS: &[&str] = &[
    // A pipelining server: EHLO, then MAIL+RCPT+RCPT+DATA in one turn.
    "220 mx.example.com ESMTP\r\n\x00\x00250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n\x00\x00250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n\x00\x00250 2.0.0 queued\r\n\x00\x00221 bye\r\n",
    // Step by step, one reply a turn.
    "220 hi\r\n\x00\x00250 hello\r\n\x00\x00250 ok\r\n\x00\x00550 5.1.1 no such user\r\n\x00\x00250 ok\r\n\x00\x00354 go\r\n\x00\x00250 queued\r\n",
    "220-first\r\n220-second\r\n220 last\r\n\x00\x00250 ok\r\n\x00\x00421 4.7.0 try later\r\n",
    "220 hi\r\n\x00\x00250-a\r\n250-b\r\n250 c\r\n\x00\x00250 ok\r\n\x00\x00250 ok\r\n\x00\x00250 ok\r\n\x00\x00354 go\r\n\x00\x00554 5.7.1 rejected\r\n",
    // A reply nobody asked for, right behind the 354.
    "220 hi\r\n\x00\x00250 hello\r\n\x00\x00250 ok\r\n\x00\x00250 ok\r\n\x00\x00250 ok\r\n\x00\x00354 go\r\n250 queued\r\n",
];

pub const TOKENS: &[&[u8]] = &[
    TURN,
    b"\r\n",
    b"\n",
    b"\r",
    b"220 ",
    b"250-",
    b"250 ",
    b"354 ",
    b"421 ",
    b"451 4.7.1 ",
    b"550 5.1.1 ",
    b"-",
    b" ",
    b"2.0.0 ",
    b"9",
    b"\0",
    b"\xff",
    b"SIZE 0",
    b"SIZE 99999999999999999999",
    b"AUTH PLAIN LOGIN",
    b"STARTTLS",
];

/// A listener for the fake server, made once per run.
#[derive(Debug)]
pub struct State {
    listener: tokio::net::TcpListener,
    port: u16,
}

pub fn run(context: &mut Context, input: &[u8]) -> Result<(), String> {
    splits_parse_alike(input)?;
    over_a_socket(context, input)
}

/// The reader alone: the input whole, and cut at three points derived from
/// it, must give the same replies and end the same way.
fn splits_parse_alike(input: &[u8]) -> Result<(), String> {
    let whole = parse_chunks([input]);
    if input.len() < 2 {
        return Ok(());
    }
    let seed = input
        .iter()
        .fold(7_usize, |h, &b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
    let mut cuts = [seed % input.len(), (seed / 7) % input.len(), (seed / 49) % input.len()];
    cuts.sort_unstable();
    let pieces = [
        &input[..cuts[0]],
        &input[cuts[0]..cuts[1]],
        &input[cuts[1]..cuts[2]],
        &input[cuts[2]..],
    ];
    let split = parse_chunks(pieces);
    if split.replies != whole.replies || split.end != whole.end {
        return Err(format!("cut at {cuts:?} the reader parsed differently than whole"));
    }
    Ok(())
}

fn over_a_socket(context: &mut Context, input: &[u8]) -> Result<(), String> {
    if context.reply.is_none() {
        let listener = context
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| format!("cannot listen: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        context.reply = Some(State { listener, port });
    }
    let Some(state) = context.reply.as_ref() else {
        return Err("no listener".to_owned());
    };
    let script = input.to_vec();
    let settings = Arc::new(ConnectionSettings {
        host: "127.0.0.1".to_owned(),
        port: state.port,
        security: Security::None,
        auth: AuthMethod::None,
        username: None,
        password: None,
        helo_name: Some("fuzz.example.com".to_owned()),
        // Short: a turn that ends inside a reply leaves both sides waiting
        // (the server for a command, the client for the rest of the reply)
        // until the client's timeout, which is a fine outcome, not a hang.
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_millis(100),
        data_timeout: Duration::from_millis(100),
        accept_invalid_certs: false,
    });
    let listener = &state.listener;
    context.runtime.block_on(async {
        let server = async {
            if let Ok((mut socket, _)) = listener.accept().await {
                let mut heard = [0_u8; 4096];
                for (turn, said) in turns(&script).enumerate() {
                    if turn > 0 && !matches!(socket.read(&mut heard).await, Ok(n) if n > 0) {
                        break;
                    }
                    if socket.write_all(said).await.is_err() {
                        break;
                    }
                }
                let _ = socket.shutdown().await;
                let mut sink = [0_u8; 4096];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
            }
        };
        let client = async {
            let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", settings.port)).await else {
                return;
            };
            let Ok(mut connection) = Connection::start(tcp, Arc::clone(&settings)).await else {
                return;
            };
            if connection.read_greeting().await.is_err() || connection.ehlo().await.is_err() {
                return;
            }
            let _ = connection
                .send(
                    "a@example.com",
                    &["b@example.com", "c@example.com"],
                    b"Subject: x\r\n\r\nhi\r\n",
                )
                .await;
            connection.quit().await;
        };
        tokio::join!(server, client);
    });
    Ok(())
}

/// The input's turns: the pieces between [`TURN`] markers.
fn turns(script: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(script);
    std::iter::from_fn(move || {
        let now = rest?;
        match now.windows(TURN.len()).position(|w| w == TURN) {
            Some(at) => {
                rest = Some(&now[at + TURN.len()..]);
                Some(&now[..at])
            }
            None => {
                rest = None;
                Some(now)
            }
        }
    })
}
