//! The SMTP reply reader as a fuzz target. The input is everything a server
//! says on a connection (it then closes its side); the engine's client reads
//! the greeting, sends EHLO and a message, reading each reply as it would
//! from a real server. Failures are fine; a panic, a hang or memory past the
//! limit is a finding.
//!
//! Kept small and apart: the reply reading is being rewritten (issue 15,
//! item 4); this file is the one to adapt to its new API.

use std::sync::Arc;
use std::time::Duration;

use mailroom_engine::smtp::client::{Connection, ConnectionSettings};
use mailroom_engine::smtp::{AuthMethod, Security};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Context;

pub const SEEDS: &[&str] = &[
    "220 mx.example.com ESMTP\r\n250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n250 2.0.0 queued\r\n221 bye\r\n",
    "220 hi\r\n250 hello\r\n250 ok\r\n550 5.1.1 no such user\r\n",
    "220-first\r\n220-second\r\n220 last\r\n250 ok\r\n421 4.7.0 try later\r\n",
    "220 hi\r\n250-a\r\n250-b\r\n250 c\r\n250 ok\r\n250 ok\r\n354 go\r\n554 5.7.1 rejected\r\n",
];

pub const TOKENS: &[&[u8]] = &[
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
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(5),
        data_timeout: Duration::from_secs(5),
        accept_invalid_certs: false,
    });
    let listener = &state.listener;
    context.runtime.block_on(async {
        let server = async {
            if let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(&script).await;
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
