//! hyper 1.x on corun through the `hyper` feature alone (no glue): a hyper
//! client and a hyper server on the same scheduler, keep-alive requests,
//! a streamed body, and the header-read timeout running on corun timers.

use std::convert::Infallible;
use std::time::Duration;

use corun::hyper::{CorunExecutor, CorunIo, CorunTimer};
use corun::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::rt::Executor;
use hyper::service::service_fn;
use hyper::{Request, Response};

const BOUND: Duration = Duration::from_secs(20);

/// Echoes the request body, prefixed with the path.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_string();
    let body = req.into_body().collect().await?.to_bytes();
    let mut out = path.into_bytes();
    out.extend_from_slice(&body);
    Ok(Response::new(Full::new(Bytes::from(out))))
}

/// Serves `echo` on a fresh loopback listener; returns its address.
fn serve() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    CorunExecutor.execute(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(CorunTimer)
                .header_read_timeout(Duration::from_millis(200))
                .serve_connection(CorunIo::new(stream), service_fn(echo));
            CorunExecutor.execute(async move {
                let _ = conn.await;
            });
        }
    });
    addr
}

#[test]
fn a_hyper_client_and_server_talk_over_keep_alive() {
    corun::run(async {
        let addr = serve();
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(CorunIo::new(stream))
            .await
            .unwrap();
        CorunExecutor.execute(async move {
            let _ = conn.await;
        });
        for i in 0..3 {
            let big = vec![b'x'; 100_000 * i]; // 0, 100 KB, 200 KB bodies
            let req = Request::post(format!("/r{i}"))
                .header("host", "localhost")
                .body(Full::new(Bytes::from(big.clone())))
                .unwrap();
            let res = corun::timeout(BOUND, sender.send_request(req))
                .await
                .expect("bounded")
                .unwrap();
            assert_eq!(res.status(), 200);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let mut want = format!("/r{i}").into_bytes();
            want.extend_from_slice(&big);
            assert_eq!(body, want);
        }
    });
}

#[test]
fn the_header_read_timeout_closes_a_silent_connection() {
    corun::run(async {
        let addr = serve();
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap(); // never finished
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        loop {
            let n = corun::timeout(BOUND, stream.read(&mut buf))
                .await
                .expect("the server closed the connection by its timer")
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        // hyper answers 408 or just closes; either way the timer fired.
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    });
}

#[test]
fn a_service_may_hold_non_send_state() {
    use std::cell::Cell;
    use std::rc::Rc;
    corun::run(async {
        let hits = Rc::new(Cell::new(0));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let h = hits.clone();
        CorunExecutor.execute(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = service_fn(move |_req: Request<Incoming>| {
                let h = h.clone();
                async move {
                    h.set(h.get() + 1);
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(CorunIo::new(stream), svc)
                .await;
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(CorunIo::new(stream))
            .await
            .unwrap();
        CorunExecutor.execute(async move {
            let _ = conn.await;
        });
        let req = Request::get("/")
            .header("host", "localhost")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(hits.get(), 1);
    });
}
