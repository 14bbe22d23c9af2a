//! tokio-only code on corun, through the two compat layers users reach
//! for: `tokio-util`'s `compat` (a corun stream seen through tokio's I/O
//! traits, so a tokio codec's `Framed` works on it) and `async-compat`
//! (a future that needs a tokio reactor, such as one using `tokio::net`
//! or `tokio::time`, run inside a corun task).
//!
//! Run:
//!
//! ```text
//! cargo run -p corun --example interop_compat
//! ```
//!
//! A corun server on 127.0.0.1 (a free port, printed as `listening on
//! ADDR`) speaks a line protocol with tokio-util's `LinesCodec` over
//! `Framed<Compat<corun::net::TcpStream>, _>`: it answers each line with
//! the line upper-cased. Two clients talk to it at the same time: a corun
//! client using the same `Framed` stack, and a client written for tokio
//! alone (`tokio::net::TcpStream`, `tokio::io::BufReader`,
//! `tokio::time::timeout`), run in a corun task under
//! `async_compat::Compat`. Prints each answer and exits 0, or 1 on any
//! mismatch or error. `tests/interop.rs` runs it.
//!
//! What each layer does: `tokio_util::compat` only converts between the
//! futures-io and tokio I/O traits (no runtime involved). tokio's own
//! sockets and timers need a tokio reactor: polled on a corun thread
//! without one they panic ("there is no reactor running"). `Compat::new`
//! enters async-compat's global tokio runtime (its reactor runs on a
//! thread of its own) while polling the future; corun's wakers work from
//! any thread, so that reactor wakes the corun task directly.
//!
//! This file is an application on corun: no `unsafe`, public API only.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use corun::net::{TcpListener, TcpStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

#[path = "shared/self_check.rs"]
mod self_check;
use self_check::BoxError;

/// A corun stream framed by a tokio codec.
type Lines = Framed<Compat<TcpStream>, LinesCodec>;

/// Longest line either side accepts: bad input gets a codec error, not an
/// ever-growing buffer.
const MAX_LINE: usize = 1024;
/// The whole exchange must end within this; a hang is a failure.
const BOUND: Duration = Duration::from_secs(15);

fn main() -> ExitCode {
    self_check::run_demo("interop_compat", BOUND, demo())
}

fn framed(stream: TcpStream) -> Lines {
    Framed::new(stream.compat(), LinesCodec::new_with_max_length(MAX_LINE))
}

async fn demo() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    let server = corun::spawn(serve(listener, 2));

    // Both clients run at once, as corun tasks.
    let framed_client = corun::spawn(framed_client(addr));
    let tokio_client = corun::spawn(async move {
        async_compat::Compat::new(tokio_only_client(addr, &["from tokio", "second line"])).await
    });
    let answers = framed_client.await??;
    println!("client (tokio-util Framed on corun): {answers:?}");
    let answers = tokio_client.await??;
    println!("client (tokio-only, under async-compat): {answers:?}");
    if answers != ["FROM TOKIO", "SECOND LINE"] {
        return Err("the tokio-only client got wrong answers".into());
    }
    server.await?
}

/// Answers every line with the line upper-cased, on `conns` connections,
/// one task each; returns once all of them have closed.
async fn serve(listener: TcpListener, conns: usize) -> Result<(), BoxError> {
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (stream, _) = listener.accept().await?;
        tasks.push(corun::spawn(async move {
            let mut lines = framed(stream);
            while let Some(line) = lines.next().await {
                lines.send(line?.to_uppercase()).await?;
            }
            Ok::<(), BoxError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    println!("server: both connections served");
    Ok(())
}

/// A corun client speaking through the same tokio codec.
async fn framed_client(addr: SocketAddr) -> Result<Vec<String>, BoxError> {
    let mut lines = framed(TcpStream::connect(addr).await?);
    let mut answers = Vec::new();
    for line in ["hello", "framed world"] {
        lines.send(line).await?;
        let answer = lines.next().await.ok_or("the server closed early")??;
        if answer != line.to_uppercase() {
            return Err(format!("asked {line:?}, got {answer:?}").into());
        }
        answers.push(answer);
    }
    Ok(answers)
}

/// Stands for a crate written for tokio alone: its socket and its timer
/// are tokio's, so it needs a tokio reactor wherever it is polled.
async fn tokio_only_client(addr: SocketAddr, lines: &[&str]) -> io::Result<Vec<String>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (rd, mut wr) = stream.into_split();
    let mut rd = tokio::io::BufReader::new(rd);
    let mut answers = Vec::new();
    for line in lines {
        wr.write_all(format!("{line}\n").as_bytes()).await?;
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(5), rd.read_line(&mut answer)).await??;
        answers.push(answer.trim_end().to_string());
    }
    Ok(answers)
}
