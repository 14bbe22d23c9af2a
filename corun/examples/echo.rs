//! A TCP echo server and its client in one binary.
//!
//! Run:
//!
//! ```text
//! cargo run -p corun --example echo -- server --port 7000 --dump-port 7001
//! cargo run -p corun --example echo -- client 127.0.0.1:7000 hello "two words"
//! nc 127.0.0.1 7001    # the server's task dump
//! ```
//!
//! `server [--addr IP] [--port P] [--dump-port D]` (default 127.0.0.1:7000;
//! `--port 0` picks a free port) prints `listening on ADDR` first, then
//! echoes every byte on every connection, one task per connection (named
//! after the peer), until the peer closes. With `--dump-port D` it also
//! prints `task dump on ADDR` and answers every connection to ADDR
//! (127.0.0.1 only: the dump shows the server's insides) with the table of
//! [`corun::dump`], then closes it; the scheduler keeps
//! [dump details](corun::Builder::dump_details), so connections sit under
//! the acceptor that spawned them.
//! `client ADDR MESSAGE...` sends each message on one connection, reads the
//! same number of bytes back, prints them, and exits 1 if any echo differs
//! (or on any error). Runs until killed.
//!
//! This file is an application on corun: no `unsafe`, public API only.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use corun::net::{TcpListener, TcpStream};

const USAGE: &str =
    "usage: echo server [--addr IP] [--port P] [--dump-port D]\n       echo client ADDR MESSAGE...";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("server") => parse_server(&args[1..]).and_then(|(addr, dump)| {
            corun::Builder::new()
                .dump_details(dump.is_some())
                .run(server(addr, dump))
                .map_err(|e| format!("server on {addr}: {e}"))
        }),
        Some("client") if args.len() >= 3 => match args[1].parse::<SocketAddr>() {
            Ok(addr) => corun::run(client(addr, args[2..].to_vec())),
            Err(_) => Err(format!("bad address {:?} (want IP:PORT)", args[1])),
        },
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The server's address and its dump port, if any.
fn parse_server(args: &[String]) -> Result<(SocketAddr, Option<u16>), String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 7000));
    let mut dump = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {value:?}");
        match flag.as_str() {
            "--port" => addr.set_port(value.parse().map_err(|_| bad())?),
            "--addr" => addr.set_ip(value.parse().map_err(|_| bad())?),
            "--dump-port" => dump = Some(value.parse().map_err(|_| bad())?),
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    Ok((addr, dump))
}

async fn server(addr: SocketAddr, dump: Option<u16>) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);
    if let Some(port) = dump {
        let dumps = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        println!("task dump on {}", dumps.local_addr()?);
        corun::spawn_named("dump listener", serve_dumps(dumps));
    }
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                corun::spawn_named(format!("conn {peer}"), async move {
                    let _ = echo(&stream).await;
                });
            }
            Err(e) => {
                // Out of fds or an aborted handshake: pause, never spin.
                eprintln!("echo: accept: {e}");
                corun::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Answers every connection with the task dump, then closes it.
async fn serve_dumps(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // Taken now, written by a task of its own: a slow reader
                // holds up nobody.
                let table = corun::dump();
                corun::spawn_named("dump writer", async move {
                    let _ = stream.write_all(table.as_bytes()).await;
                });
            }
            Err(e) => {
                eprintln!("echo: dump accept: {e}");
                corun::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Writes back everything read until end of stream.
async fn echo(stream: &TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut reads = 0u64;
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(()),
            n => stream.write_all(&buf[..n]).await?,
        }
        reads += 1;
        if reads % 16 == 0 {
            // A peer that keeps sending keeps every read ready, and corun
            // never yields for us: let the other connections run.
            corun::yield_now().await;
        }
    }
}

async fn client(addr: SocketAddr, messages: Vec<String>) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let mut mismatches = 0;
    for msg in &messages {
        stream
            .write_all(msg.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut back = vec![0u8; msg.len()];
        stream
            .read_exact(&mut back)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let back = String::from_utf8_lossy(&back);
        println!("{back}");
        if back != msg.as_str() {
            eprintln!("echo: mismatch: sent {msg:?}, got {back:?}");
            mismatches += 1;
        }
    }
    match mismatches {
        0 => Ok(()),
        n => Err(format!("{n} of {} echoes differed", messages.len())),
    }
}
