//! hyper 1.x serving HTTP/1 on corun, through hyper's runtime traits.
//!
//! Run:
//!
//! ```text
//! cargo run --release -p corun --example hyper_server -- --port 3000
//! curl http://127.0.0.1:3000/    # Hello from hyper on corun
//! ```
//!
//! `hyper_server [--addr IP] [--port P]` (default 127.0.0.1:3000; `--port 0`
//! picks a free port) prints `listening on ADDR` first, then answers every
//! request with `Hello from hyper on corun`. Runs until killed.
//!
//! hyper owns no runtime; corun's `hyper` feature supplies what it asks
//! for ([`corun::hyper`]): `CorunIo` (hyper's I/O traits over a corun
//! stream, yielding every 16 operations), `CorunExecutor` and `CorunTimer`.
//! So this file is only the server.
//!
//! This file is an application on corun: no `unsafe`, public API only.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use corun::hyper::{CorunExecutor, CorunIo, CorunTimer};
use corun::net::TcpListener;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::rt::Executor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello from hyper on corun",
    ))))
}

fn parse_args() -> Result<SocketAddr, String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 3000));
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {value:?}");
        match flag.as_str() {
            "--port" => addr.set_port(value.parse().map_err(|_| bad())?),
            "--addr" => addr.set_ip(value.parse().map_err(|_| bad())?),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(addr)
}

fn main() {
    let addr = parse_args().unwrap_or_else(|e| {
        eprintln!("hyper_server: {e}\nusage: hyper_server [--addr IP] [--port P]");
        std::process::exit(2);
    });
    let result = corun::run(async move {
        let listener = TcpListener::bind(addr)?;
        println!("listening on {}", listener.local_addr()?);
        let exec = CorunExecutor;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("hyper_server: accept: {e}");
                    corun::sleep(Duration::from_millis(50)).await; // never spin
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let conn = http1::Builder::new()
                .timer(CorunTimer)
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(CorunIo::new(stream), service_fn(hello));
            exec.execute(async move {
                if let Err(e) = conn.await {
                    eprintln!("hyper_server: connection: {e}");
                }
            });
        }
        #[allow(unreachable_code)]
        io::Result::Ok(())
    });
    if let Err(e) = result {
        eprintln!("hyper_server: {addr}: {e}");
        std::process::exit(1);
    }
}
