//! TLS 1.3 on corun with `futures-rustls`: a server and a client in one
//! program, over corun `TcpStream`s, with a self-signed certificate made at
//! start by `rcgen` (nothing to ship, nothing to install).
//!
//! Run:
//!
//! ```text
//! cargo run -p corun --example interop_tls
//! ```
//!
//! It serves on 127.0.0.1 (a free port, printed as `listening on ADDR`),
//! then a client that trusts only that certificate connects as
//! `localhost`: the server greets first, the client streams a 256 KiB
//! blob while reading the server's echo of it (full duplex on one TLS
//! stream, split in two halves), and both sides end with `close_notify`.
//! Last, a client that expects another name is refused by its own
//! certificate check. Prints what each side saw and exits 0, or 1 on any
//! mismatch or error. `tests/interop.rs` runs it.
//!
//! futures-rustls needs only `futures-io`'s `AsyncRead`/`AsyncWrite`,
//! which corun's streams implement: no adaptor. The crypto provider is the
//! one rustls' cargo features name: `ring` here (futures-rustls with
//! `default-features = false, features = ["ring"]`, the smaller build);
//! with futures-rustls' defaults (aws-lc-rs) this code is unchanged.
//!
//! This file is an application on corun: no `unsafe`, public API only.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use corun::net::{TcpListener, TcpStream};
use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use futures_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig, version};
use futures_rustls::{TlsAcceptor, TlsConnector};
use futures_util::io::{AsyncReadExt, AsyncWriteExt};

#[path = "shared/self_check.rs"]
mod self_check;
use self_check::BoxError;

const GREETING: &[u8] = b"hello from the TLS server\n";
const BLOB_LEN: usize = 256 * 1024;
/// The whole exchange must end within this; a hang is a failure.
const BOUND: Duration = Duration::from_secs(15);

fn main() -> ExitCode {
    self_check::run_demo("interop_tls", BOUND, demo())
}

async fn demo() -> Result<(), BoxError> {
    // A certificate for "localhost", signed by its own key.
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let cert: CertificateDer<'static> = made.cert.der().clone();
    let key = PrivateKeyDer::from(made.signing_key);

    let server_config = ServerConfig::builder_with_protocol_versions(&[&version::TLS13])
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    let server = corun::spawn(serve(listener, TlsAcceptor::from(Arc::new(server_config))));

    // The client trusts exactly that one certificate.
    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let client_config = ClientConfig::builder_with_protocol_versions(&[&version::TLS13])
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(client_config));

    client(&connector, addr).await?;
    match connect(&connector, addr, "other.test").await {
        Ok(_) => return Err("a client expecting `other.test` was let in".into()),
        Err(e) => println!("client: `other.test` refused: {e}"),
    }
    server.await.map_err(|e| format!("server task: {e}"))?
}

async fn connect(
    connector: &TlsConnector,
    addr: SocketAddr,
    name: &str,
) -> Result<futures_rustls::client::TlsStream<TcpStream>, BoxError> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_string())?;
    Ok(connector.connect(name, tcp).await?)
}

async fn client(connector: &TlsConnector, addr: SocketAddr) -> Result<(), BoxError> {
    let mut tls = connect(connector, addr, "localhost").await?;
    let (_, conn) = tls.get_ref();
    println!(
        "client: handshake done: {:?}, {:?}",
        conn.protocol_version().ok_or("no protocol version")?,
        conn.negotiated_cipher_suite()
            .ok_or("no cipher suite")?
            .suite()
    );

    let mut greeting = vec![0; GREETING.len()];
    tls.read_exact(&mut greeting).await?;
    print!(
        "client: server says: {}",
        String::from_utf8_lossy(&greeting)
    );

    // Write the blob and read its echo at the same time: the halves share
    // the one TLS session.
    let blob: Vec<u8> = (0..BLOB_LEN).map(|i| (i % 251) as u8).collect();
    let (mut rd, mut wr) = tls.split();
    let write = async {
        wr.write_all(&blob).await?;
        wr.flush().await
    };
    let mut echo = vec![0; BLOB_LEN];
    let read = rd.read_exact(&mut echo);
    let (w, r) = futures_util::future::join(write, read).await;
    w?;
    r?;
    if echo != blob {
        return Err("the echoed blob differs from the one sent".into());
    }
    println!("client: {BLOB_LEN}-byte blob echoed intact");

    // close_notify, then the server's own close_notify ends our reading.
    let mut tls = rd.reunite(wr)?;
    tls.close().await?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    if !rest.is_empty() {
        return Err(format!("{} unexpected bytes after the echo", rest.len()).into());
    }
    println!("client: closed cleanly");
    Ok(())
}

/// Serves two connections, one after the other: the good client (greet,
/// then echo until its close_notify) and the refused one.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor) -> Result<(), BoxError> {
    let (tcp, _) = listener.accept().await?;
    let mut tls = acceptor.accept(tcp).await?;
    tls.write_all(GREETING).await?;
    tls.flush().await?;
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            break; // the client's close_notify
        }
        tls.write_all(&buf[..n]).await?;
        tls.flush().await?; // a TLS record may wait in rustls until flushed
        total += n;
    }
    tls.close().await?;
    println!("server: echoed {total} bytes, then close_notify");

    let (tcp, _) = listener.accept().await?;
    match acceptor.accept(tcp).await {
        Ok(_) => Err("the second handshake should have failed".into()),
        Err(e) => {
            println!("server: second handshake failed: {e}");
            Ok(())
        }
    }
}
