//! `latency-proxy LISTEN_PORT TARGET_PORT ONE_WAY_MS`: a TCP relay on
//! 127.0.0.1 that delivers every chunk, each way, `ONE_WAY_MS` after it
//! arrived, in order. It puts a distant server's round trip in front of the
//! local sink, for benchmarks that measure what round trips cost (this
//! machine has no `netem`).

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

fn arg(index: usize) -> Option<u64> {
    std::env::args().nth(index)?.parse().ok()
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (Some(listen), Some(target), Some(one_way)) = (arg(1), arg(2), arg(3)) else {
        eprintln!("usage: latency-proxy LISTEN_PORT TARGET_PORT ONE_WAY_MS");
        return std::process::ExitCode::FAILURE;
    };
    let (Ok(listen), Ok(target)) = (u16::try_from(listen), u16::try_from(target)) else {
        eprintln!("latency-proxy: ports are 1 to 65535");
        return std::process::ExitCode::FAILURE;
    };
    let delay = Duration::from_millis(one_way);
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, listen)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("latency-proxy: cannot listen on 127.0.0.1:{listen}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, target)).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::join!(
                relay(client_read, server_write, delay),
                relay(server_read, client_write, delay)
            );
        });
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read. Reading goes
/// on meanwhile, so the delay adds latency, not a limit on throughput.
async fn relay(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (chunks, mut pending) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buffer = vec![0_u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buffer).await {
            if n == 0 || chunks.send((Instant::now() + delay, buffer[..n].to_vec())).is_err() {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = pending.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
