//! `smtp-sink PORT`: a fast SMTP server on 127.0.0.1 that accepts and discards
//! every message (the engine's server with a counting policy). The send
//! benchmark points Mailroom and Nodemailer at it; on SIGTERM or Ctrl-C it
//! prints how many messages it accepted.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mailroom_engine::smtp::server::{self, Action, Envelope, Policy, ServerConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
struct Discard {
    accepted: AtomicU64,
}

impl Policy for Discard {
    async fn deliver(&self, _envelope: Envelope, _data: Vec<u8>) -> Action {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        Action::Proceed
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(port)) => port,
        _ => {
            eprintln!("usage: smtp-sink PORT");
            return std::process::ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("smtp-sink: cannot listen on 127.0.0.1:{port}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let policy = Arc::new(Discard::default());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(server::serve(
        listener,
        ServerConfig::default(),
        policy.clone(),
        shutdown.clone(),
    ));
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            eprintln!("smtp-sink: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    shutdown.cancel();
    let _ = server.await;
    println!("{}", policy.accepted.load(Ordering::Relaxed));
    std::process::ExitCode::SUCCESS
}
