//! A hyper 1.x HTTP/1 client on corun, through corun's `hyper` feature
//! ([`corun::hyper`]): connect, hand the connection to a task, send one
//! GET, print the status line and the body.
//!
//! Run (against the hyper_server example):
//!
//! ```text
//! cargo run -p corun --example hyper_server -- --port 3000 &
//! cargo run -p corun --example hyper_client -- --addr 127.0.0.1:3000 --path /
//! ```
//!
//! `hyper_client [--addr HOST:PORT] [--path P]` (default 127.0.0.1:3000,
//! `/`) prints `HTTP <status>` and then the body, and exits 0 on a 2xx
//! answer, 1 otherwise. The host may be a name: corun resolves it off the
//! scheduler thread.
//!
//! This file is an application on corun: no `unsafe`, public API only.

use std::io;

use corun::hyper::{CorunExecutor, CorunIo};
use corun::net::TcpStream;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::rt::Executor;

fn parse_args() -> Result<(String, String), String> {
    let (mut addr, mut path) = ("127.0.0.1:3000".to_string(), "/".to_string());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--path" => path = value,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok((addr, path))
}

async fn fetch(addr: &str, path: &str) -> Result<(u16, Bytes), Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = http1::handshake(CorunIo::new(stream)).await?;
    CorunExecutor.execute(async move {
        if let Err(e) = conn.await {
            eprintln!("hyper_client: connection: {e}");
        }
    });
    let req = Request::get(path)
        .header(hyper::header::HOST, addr)
        .body(Empty::<Bytes>::new())?;
    let res = sender.send_request(req).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn main() {
    let (addr, path) = parse_args().unwrap_or_else(|e| {
        eprintln!("hyper_client: {e}\nusage: hyper_client [--addr HOST:PORT] [--path P]");
        std::process::exit(2);
    });
    let target = addr.clone();
    match corun::run(async move { fetch(&target, &path).await }) {
        Ok((status, body)) => {
            println!("HTTP {status}");
            println!("{}", String::from_utf8_lossy(&body));
            let ok = (200..300).contains(&status);
            std::process::exit(if ok { 0 } else { 1 });
        }
        Err(e) => {
            eprintln!("hyper_client: {addr}: {e}");
            let _ = io::Write::flush(&mut io::stderr());
            std::process::exit(1);
        }
    }
}
