//! The example servers and client under attack (issue 19): a request head
//! or body that trickles in, more connections than the cap, request
//! smuggling over the wire, and responses that lie about their length.
//! Each server runs as a child on 127.0.0.1 with an ephemeral port and its
//! time limits set small from the command line; every wait is bounded by
//! [`BOUND`], which is far above those limits and below the ones left at
//! their defaults, so a server that restarted a limit per byte fails here.
//! This file must NOT test the library's internals; only the examples.

mod example_harness;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use example_harness::*;

/// What a trickling client saw in the end.
#[derive(Debug, PartialEq)]
enum Trickle {
    /// The server closed the connection; what it said before closing.
    Closed(String),
    /// Still open after [`BOUND`].
    Open,
}

/// Sends `first`, then one byte of `drip` every 50 ms, until the server
/// closes the connection or [`BOUND`] passes.
fn trickle(s: &mut TcpStream, first: &[u8], drip: u8) -> Trickle {
    s.write_all(first).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut reply = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < BOUND {
        let mut buf = [0; 1024];
        match s.read(&mut buf) {
            Ok(0) => return Trickle::Closed(String::from_utf8_lossy(&reply).into_owned()),
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if s.write_all(&[drip]).is_err() {
                    return Trickle::Closed(String::from_utf8_lossy(&reply).into_owned());
                }
            }
            Err(_) => return Trickle::Closed(String::from_utf8_lossy(&reply).into_owned()),
        }
    }
    Trickle::Open
}

/// Limits small enough for a test; the idle timeout stays above [`BOUND`].
const QUICK: &[&str] = &["--port", "0", "--idle-timeout-ms", "60000"];

fn http_server(extra: &[&str]) -> Server {
    Server::example("http_server", &[QUICK, extra].concat())
}

#[test]
fn http_server_times_out_a_head_that_trickles_in() {
    let server = http_server(&["--head-timeout-ms", "300"]);
    let mut s = connect(server.addr);
    let seen = trickle(&mut s, b"GET / HTTP/1.1\r\nX-Endless: ", b'a');
    let Trickle::Closed(reply) = seen else {
        panic!("a head trickling in was never timed out");
    };
    assert!(reply.starts_with("HTTP/1.1 408 "), "{reply:?}");
}

#[test]
fn http_server_closes_a_body_below_the_minimum_rate() {
    let server = http_server(&["--head-timeout-ms", "300", "--min-body-rate", "1000"]);
    let mut s = connect(server.addr);
    let head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n";
    // The answer comes at once (the body is skipped, not used); then the
    // body, at 20 bytes/s, falls behind 1000 bytes/s.
    let seen = trickle(&mut s, head, b'b');
    let Trickle::Closed(reply) = seen else {
        panic!("a body trickling in was never cut off");
    };
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply:?}");
}

#[test]
fn http_server_evicts_the_stalest_connection_at_the_cap() {
    let server = http_server(&["--head-timeout-ms", "60000", "--max-conns", "4"]);
    // Four clients, each stalled in the middle of a head: the cap is full.
    let mut stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect(server.addr);
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    // A fifth, normal client is served at once, not queued behind them...
    let mut normal = BufReader::new(connect(server.addr));
    normal.get_mut().write_all(GET).unwrap();
    assert_eq!(read_response(&mut normal).0, 200);
    // ...because the first stalled client (accepted first) lost its slot.
    let mut buf = [0; 64];
    match stalled[0].read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the stalest connection was not closed: {other:?}"),
    }
    // The others kept theirs: finishing the head gets an answer.
    for s in &mut stalled[1..] {
        s.write_all(b"Host: t\r\n\r\n").unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        assert_eq!(read_response(&mut r).0, 200);
    }
    drop(stalled);
    let mut s = connect(server.addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
}

/// Issue 19's smuggling vectors as whole requests, each followed by a
/// request a lenient server would answer too.
const SMUGGLING: &[(&str, &str)] = &[
    (
        "differing Content-Length",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "signed Content-Length",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
    ),
    (
        "NUL in a value",
        "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n",
    ),
    ("no Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"),
    ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    (
        "Transfer-Encoding with Content-Length",
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
];

#[test]
fn http_server_answers_smuggling_with_400_and_closes() {
    let server = http_server(&[]);
    for (what, request) in SMUGGLING {
        let then = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
        let reply = request_until_close(server.addr, format!("{request}{then}").as_bytes());
        assert!(reply.starts_with("HTTP/1.1 400 "), "{what}: {reply:?}");
        assert_eq!(reply.matches("HTTP/1.1 ").count(), 1, "{what}: {reply:?}");
    }
}

/// Serves `response` to each of `n` connections, then closes each (a
/// one-shot server that says what the test wants it to).
fn lying_server(response: &'static [u8], n: usize) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().take(n) {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(BOUND));
            let mut head = Vec::new();
            let mut b = [0; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).is_ok_and(|n| n == 1) {
                head.push(b[0]);
            }
            let _ = s.write_all(response);
        }
    });
    addr
}

#[test]
fn url_fetch_reports_bodies_shorter_or_longer_than_declared() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nhello",
            "Content-Length 18446744073709551615 is too large",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551610\r\n\r\nhello",
            "Content-Length 18446744073709551610 is too large",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
            "body shorter than its Content-Length (5 of 10 bytes)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhello",
            "body longer than its Content-Length (5, declared 3)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
            "bad Content-Length",
        ),
    ];
    for &(response, reason) in cases {
        let url = format!("http://{}/", lying_server(response, 2));
        let (status, out) = run_client(
            "url_fetch",
            &["--concurrency", "2", "--requests", "2", &url],
        );
        assert!(!status.success(), "{out}");
        assert!(out.contains("successes: 0\n"), "{out}");
        assert!(out.contains(&format!("2 x {reason}\n")), "{reason}: {out}");
    }
    let url = format!(
        "http://{}/",
        lying_server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 1)
    );
    let (status, out) = run_client("url_fetch", &["--requests", "1", &url]);
    assert!(status.success(), "an honest response still counts: {out}");
}

#[test]
fn hyper_server_times_out_a_head_that_trickles_in() {
    let server = Server::example(
        "hyper_server",
        &["--port", "0", "--header-timeout-ms", "300"],
    );
    let mut s = connect(server.addr);
    let seen = trickle(&mut s, b"GET / HTTP/1.1\r\nX-Endless: ", b'a');
    assert!(
        matches!(seen, Trickle::Closed(_)),
        "a head trickling in was never timed out"
    );
}

#[test]
fn hyper_server_shuts_down_gracefully_on_sigterm() {
    sigterm_closes_idle_connections("hyper_server");
}
