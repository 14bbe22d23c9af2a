//! Websockets on corun with `async-tungstenite`: a server and a client in
//! one program, over corun `TcpStream`s, through async-tungstenite's
//! futures-io integration (no adaptor: corun's streams implement
//! `AsyncRead`/`AsyncWrite`).
//!
//! Run:
//!
//! ```text
//! cargo run -p corun --example interop_ws
//! ```
//!
//! It serves on 127.0.0.1 (a free port, printed as `listening on ADDR`);
//! the client upgrades `ws://localhost/chat`, the server greets it with a
//! text message, then the client sends a text message (answered with an
//! echo) and a 100 KiB binary message (answered with its bytes reversed).
//! The client starts the close handshake; the server sees the close frame,
//! answers it, and both streams end. Prints what each side saw and exits
//! 0, or 1 on any mismatch or error. `tests/interop.rs` runs it.
//!
//! This file is an application on corun: no `unsafe`, public API only.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use corun::net::{TcpListener, TcpStream};
use futures_util::StreamExt;

#[path = "shared/self_check.rs"]
mod self_check;
use self_check::BoxError;

const BINARY_LEN: usize = 100 * 1024;
/// The whole exchange must end within this; a hang is a failure.
const BOUND: Duration = Duration::from_secs(15);

fn main() -> ExitCode {
    self_check::run_demo("interop_ws", BOUND, demo())
}

async fn demo() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    let server = corun::spawn(serve(listener));
    client(addr).await?;
    server.await.map_err(|e| format!("server task: {e}"))?
}

/// The next message, or an error if the stream ended or failed first.
async fn next(ws: &mut WebSocketStream<TcpStream>) -> Result<Message, BoxError> {
    Ok(ws.next().await.ok_or("the websocket ended early")??)
}

async fn client(addr: SocketAddr) -> Result<(), BoxError> {
    let tcp = TcpStream::connect(addr).await?;
    let (mut ws, response) = async_tungstenite::client_async("ws://localhost/chat", tcp).await?;
    println!("client: upgraded with HTTP {}", response.status().as_u16());

    match next(&mut ws).await? {
        Message::Text(t) => println!("client: server says: {t}"),
        other => return Err(format!("expected a greeting, got {other:?}").into()),
    }

    ws.send(Message::text("hello over corun")).await?;
    match next(&mut ws).await? {
        Message::Text(t) if t.as_str() == "echo: hello over corun" => {
            println!("client: text answered: {t}")
        }
        other => return Err(format!("bad text answer: {other:?}").into()),
    }

    let blob: Vec<u8> = (0..BINARY_LEN).map(|i| (i % 253) as u8).collect();
    ws.send(Message::binary(blob.clone())).await?;
    match next(&mut ws).await? {
        Message::Binary(b) if b.iter().eq(blob.iter().rev()) => {
            println!("client: {BINARY_LEN}-byte binary answered, reversed")
        }
        other => return Err(format!("bad binary answer ({} bytes)", other.len()).into()),
    }

    // Our close frame; the server's answering frame comes back, then the
    // stream ends.
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await?;
    match next(&mut ws).await? {
        Message::Close(Some(frame)) => println!("client: server answered close: {frame}"),
        other => return Err(format!("expected the close answer, got {other:?}").into()),
    }
    if let Some(extra) = ws.next().await {
        return Err(format!("message after the close handshake: {extra:?}").into());
    }
    println!("client: closed cleanly");
    Ok(())
}

/// Serves one connection: greet, answer text and binary messages, and
/// answer the client's close frame (async-tungstenite sends the answer
/// while we keep reading until the stream ends).
async fn serve(listener: TcpListener) -> Result<(), BoxError> {
    let (tcp, _) = listener.accept().await?;
    let mut ws = async_tungstenite::accept_async(tcp).await?;
    ws.send(Message::text("welcome to the corun websocket server"))
        .await?;
    let mut closed_by_client = false;
    while let Some(msg) = ws.next().await {
        match msg? {
            Message::Text(t) => ws.send(Message::text(format!("echo: {t}"))).await?,
            Message::Binary(b) => {
                let reversed: Vec<u8> = b.iter().rev().copied().collect();
                ws.send(Message::binary(reversed)).await?;
            }
            Message::Close(frame) => {
                let frame = frame.map_or("no frame".to_string(), |f| f.to_string());
                println!("server: client closed: {frame}");
                closed_by_client = true;
            }
            _ => {} // pings are answered by async-tungstenite itself
        }
    }
    if !closed_by_client {
        return Err("the server's stream ended without a close frame".into());
    }
    Ok(())
}
