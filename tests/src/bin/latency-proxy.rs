//! `latency-proxy LISTEN_PORT TARGET_PORT ONE_WAY_MS`: a TCP relay on
//! 127.0.0.1 that delivers every chunk, each way, `ONE_WAY_MS` after it
//! arrived, in order. It puts a distant server's round trip in front of the
//! local sink, for benchmarks that measure what round trips cost (this
//! machine has no `netem`).
//!
//! Plain threads that sleep until each chunk is due, not tokio's timer:
//! tokio rounds every sleep up to its next millisecond tick, which made a
//! 20 ms round trip 22.3 ms here and held every client below a limit it was
//! measured against. A thread's sleep ends within tens of microseconds.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn arg(index: usize) -> Option<u64> {
    std::env::args().nth(index)?.parse().ok()
}

fn main() -> std::process::ExitCode {
    let (Some(listen), Some(target), Some(one_way)) = (arg(1), arg(2), arg(3)) else {
        eprintln!("usage: latency-proxy LISTEN_PORT TARGET_PORT ONE_WAY_MS");
        return std::process::ExitCode::FAILURE;
    };
    let (Ok(listen), Ok(target)) = (u16::try_from(listen), u16::try_from(target)) else {
        eprintln!("latency-proxy: ports are 1 to 65535");
        return std::process::ExitCode::FAILURE;
    };
    let delay = Duration::from_millis(one_way);
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, listen)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("latency-proxy: cannot listen on 127.0.0.1:{listen}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, target)) else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(client_back), Ok(server_back)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        relay(client, server, delay);
        relay(server_back, client_back, delay);
    }
    std::process::ExitCode::SUCCESS
}

/// Copies `from` to `to` on two threads, each chunk `delay` after it was
/// read. Reading goes on meanwhile, so the delay adds latency, not a limit
/// on throughput.
fn relay(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (chunks, pending) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buffer = vec![0_u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 || chunks.send((Instant::now() + delay, buffer[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        while let Ok((due, chunk)) = pending.recv() {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
