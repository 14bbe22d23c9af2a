//! The interop examples (`examples/interop_tls.rs`, `interop_ws.rs`,
//! `interop_compat.rs`) run as real processes: each is a server and a
//! client in one program on 127.0.0.1 with an ephemeral port, checks its
//! own exchange and exits 0 only if every answer was right. Here each is
//! run to its end (bounded) and its report is checked line by line, so a
//! crate update that breaks TLS, websockets or the tokio compat layers on
//! corun fails `cargo test`.
//!
//! The harness (building, bounded waits) is shared with `examples.rs`.
//! This file must NOT test the library's internals; only the examples.

mod example_harness;

use std::io::Read;
use std::process::{Command, Stdio};

use example_harness::{example, wait_bounded};

/// Runs example `name` to its end (killed past the harness bound) and
/// returns its stdout; fails the test, with its output, unless it exits 0.
fn run_example(name: &str) -> String {
    let mut child = Command::new(example(name))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    // The reports are a few lines, far below a pipe's buffer: the child
    // never blocks on them, so reading after exit is safe.
    let status = wait_bounded(&mut child);
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    match status {
        Some(s) if s.success() => out,
        Some(s) => panic!("{name} failed ({s}):\n{out}\nstderr:\n{err}"),
        None => panic!("{name} did not finish in time:\n{out}\nstderr:\n{err}"),
    }
}

/// Asserts that `out` has a line starting with each of `lines`, in order.
fn assert_lines_in_order(out: &str, lines: &[&str]) {
    let mut rest = out.lines();
    for want in lines {
        assert!(
            rest.any(|line| line.starts_with(want)),
            "no line starting with {want:?} (in this order) in:\n{out}"
        );
    }
}

#[test]
fn tls13_with_futures_rustls_and_a_self_signed_certificate() {
    let out = run_example("interop_tls");
    assert_lines_in_order(
        &out,
        &[
            "listening on 127.0.0.1:",
            "client: handshake done: TLSv1_3, TLS13_",
            "client: server says: hello from the TLS server",
            "client: 262144-byte blob echoed intact",
            "client: closed cleanly",
            "ok",
        ],
    );
    assert!(
        out.contains("server: echoed 262144 bytes, then close_notify\n"),
        "{out}"
    );
    // The certificate is checked: a client expecting another name is
    // refused, and the server sees that handshake fail.
    assert!(
        out.contains("client: `other.test` refused: invalid peer certificate: "),
        "{out}"
    );
    assert!(out.contains("server: second handshake failed: "), "{out}");
}

#[test]
fn websockets_with_async_tungstenite_text_binary_and_close() {
    let out = run_example("interop_ws");
    assert_lines_in_order(
        &out,
        &[
            "listening on 127.0.0.1:",
            "client: upgraded with HTTP 101",
            "client: server says: welcome to the corun websocket server",
            "client: text answered: echo: hello over corun",
            "client: 102400-byte binary answered, reversed",
            "client: server answered close: bye (1000)",
            "client: closed cleanly",
            "ok",
        ],
    );
    assert!(out.contains("server: client closed: bye (1000)\n"), "{out}");
}

#[test]
fn tokio_only_code_through_tokio_util_compat_and_async_compat() {
    let out = run_example("interop_compat");
    assert_lines_in_order(
        &out,
        &[
            "listening on 127.0.0.1:",
            r#"client (tokio-util Framed on corun): ["HELLO", "FRAMED WORLD"]"#,
            r#"client (tokio-only, under async-compat): ["FROM TOKIO", "SECOND LINE"]"#,
            "ok",
        ],
    );
    // The server task and the main task print concurrently: its line may
    // come before or after the second client's, never after "ok".
    let served = out.find("\nserver: both connections served\n");
    let ok = out.rfind("\nok\n");
    assert!(matches!((served, ok), (Some(s), Some(o)) if s < o), "{out}");
}
