//! The example programs (`examples/http_server.rs`, `url_fetch.rs`,
//! `echo.rs`, `hyper_server.rs`, `hyper_client.rs`, `slow_poll.rs`) run as real processes on 127.0.0.1 with
//! ephemeral ports and are driven by real clients: std sockets, the
//! examples' own clients, and curl where it is installed.
//! The harness (building, starting, bounded waits) is in `example_harness/`;
//! the attack-resistance tests are in `example_attacks.rs`. Every child is
//! killed by a guard on drop, and every wait is bounded.
//! This file must NOT test the library's internals; only the examples.

mod example_harness;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use example_harness::*;

#[test]
fn http_server_keeps_alive_and_pipelines() {
    let server = Server::example("http_server", &["--port", "0"]);
    let mut s = BufReader::new(connect(server.addr));
    for _ in 0..2 {
        s.get_mut().write_all(GET).unwrap();
        let (status, head, body) = read_response(&mut s);
        assert_eq!((status, body.as_str()), (200, "Hello, world!"));
        assert!(!head.to_ascii_lowercase().contains("connection: close"));
    }
    // Three pipelined requests in one write, answered in order.
    s.get_mut().write_all(&GET.repeat(3)).unwrap();
    for _ in 0..3 {
        assert_eq!(read_response(&mut s).0, 200);
    }
}

#[test]
fn http_server_closes_http10_and_errors() {
    let server = Server::example("http_server", &["--port", "0"]);
    let reply = request_until_close(server.addr, b"GET / HTTP/1.0\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("Hello, world!"), "{reply}");

    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
    let reply = request_until_close(server.addr, big.as_bytes());
    assert!(reply.starts_with("HTTP/1.1 413 "), "{reply}");

    let reply = request_until_close(server.addr, b"GARBAGE\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");

    // Still serving after all that.
    let mut s = BufReader::new(connect(server.addr));
    s.get_mut().write_all(GET).unwrap();
    assert_eq!(read_response(&mut s).0, 200);
}

#[test]
fn http_server_closes_idle_connections() {
    let server = Server::example("http_server", &["--port", "0", "--idle-timeout-ms", "200"]);
    let mut s = connect(server.addr);
    // Silent client: the server closes it (EOF) well within the bound.
    let mut buf = [0; 16];
    assert_eq!(s.read(&mut buf).expect("closed, not timed out"), 0);
    // A client that made one request is closed once it goes quiet, too.
    let mut s = BufReader::new(connect(server.addr));
    s.get_mut().write_all(GET).unwrap();
    assert_eq!(read_response(&mut s).0, 200);
    assert_eq!(s.read(&mut buf).expect("closed, not timed out"), 0);
}

#[test]
fn http_server_exits_cleanly_on_sigterm() {
    sigterm_closes_idle_connections("http_server");
}

#[test]
fn http_server_serves_on_every_core_of_a_multi_core_scheduler() {
    let mut server = Server::example("http_server", &["--port", "0", "--cores", "2"]);
    // Core 1 runs on a scheduler thread of its own.
    let names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", server.pid()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "corun-1"), "threads: {names:?}");
    for _ in 0..20 {
        let mut s = BufReader::new(connect(server.addr));
        s.get_mut().write_all(GET).unwrap();
        assert_eq!(read_response(&mut s).0, 200);
    }
    server.terminate_cleanly();
    // Both cores' counts are summed in the exit line.
    let out = server.stdout.text();
    assert!(out.contains("20 requests served"), "{out}");
}

#[test]
fn http_server_prints_its_task_dump_on_sigusr1() {
    let server = Server::example(
        "http_server",
        &["--port", "0", "--cores", "2", "--dump-details", "on"],
    );
    // A keep-alive connection stays, waiting for its next request.
    let mut s = BufReader::new(connect(server.addr));
    s.get_mut().write_all(GET).unwrap();
    assert_eq!(read_response(&mut s).0, 200);
    let kill = Command::new("kill")
        .args(["-USR1", &server.pid()])
        .status()
        .unwrap();
    assert!(kill.success());
    // Both cores print a table; the accept loops and the dumpers are in it.
    for core in ["on core 0 of 2", "on core 1 of 2"] {
        assert!(server.stderr.wait_for(core), "{}", server.stderr.text());
    }
    let err = server.stderr.text();
    assert_eq!(err.matches("├─ accept").count(), 2, "{err}");
    assert_eq!(err.matches("dump on SIGUSR1").count(), 2, "{err}");
    // main, then per core: the server, its accept loop and its dumper;
    // and the open connection's task on one of them.
    let tasks: usize = err
        .lines()
        .filter_map(|l| l.strip_prefix("corun dump: "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(tasks, 1 + 2 * 3 + 1, "{err}");
}

#[test]
fn http_server_survives_running_out_of_fds() {
    let bin = example("http_server");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        // A cap above the fd limit, so that accept itself runs out.
        .arg(r#"ulimit -n 32 && exec "$0" --port 0 --max-conns 100"#)
        .arg(&bin);
    let mut server = Server::start(cmd);
    let clients: Vec<TcpStream> = (0..40).map(|_| connect(server.addr)).collect();
    assert!(
        server.stderr.wait_for("out of file descriptors"),
        "the fd limit never bit: {}",
        server.stderr.text()
    );
    drop(clients);
    let mut s = BufReader::new(connect(server.addr));
    s.get_mut().write_all(GET).unwrap();
    assert_eq!(read_response(&mut s).0, 200);
    assert!(server.child.try_wait().unwrap().is_none(), "server died");
}

#[test]
fn url_fetch_counts_successes_against_http_server() {
    let server = Server::example("http_server", &["--port", "0"]);
    let url = format!("http://{}/", server.addr);
    let (status, out) = run_client(
        "url_fetch",
        &["--concurrency", "50", "--requests", "50", &url],
    );
    assert!(status.success(), "{status:?}: {out}");
    assert!(out.contains("successes: 50\n"), "{out}");
    assert!(out.contains("failures: 0\n"), "{out}");
}

#[test]
fn url_fetch_reports_failures_on_a_closed_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let (status, out) = run_client(
        "url_fetch",
        &["--concurrency", "5", "--requests", "5", &url],
    );
    assert!(!status.success(), "{out}");
    assert!(out.contains("successes: 0\n"), "{out}");
    assert!(out.contains("failures: 5\n"), "{out}");
    assert!(out.contains("connection refused"), "{out}");
}

#[test]
fn echo_round_trips() {
    let server = Server::example("echo", &["server", "--port", "0"]);
    let addr = server.addr.to_string();
    let (status, out) = run_client("echo", &["client", &addr, "hello", "corun echo"]);
    assert!(status.success(), "{out}");
    assert_eq!(out, "hello\ncorun echo\n");
    // And with a plain std client.
    let mut s = connect(server.addr);
    s.write_all(b"ping").unwrap();
    let mut back = [0; 4];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
}

#[test]
fn hyper_client_fetches_from_hyper_server() {
    let server = Server::example("hyper_server", &["--port", "0"]);
    let addr = server.addr.to_string();
    let (status, out) = run_client("hyper_client", &["--addr", &addr, "--path", "/"]);
    assert!(status.success(), "hyper_client failed: {out}");
    assert_eq!(out, "HTTP 200\nHello from hyper on corun\n");
}

#[test]
fn echo_serves_its_task_dump() {
    let server = Server::example("echo", &["server", "--port", "0", "--dump-port", "0"]);
    assert!(
        server.stdout.wait_for("task dump on "),
        "{}",
        server.stdout.text()
    );
    let text = server.stdout.text();
    let dump_addr: SocketAddr = text
        .lines()
        .find_map(|l| l.strip_prefix("task dump on "))
        .unwrap()
        .parse()
        .unwrap();
    // One connection stays open, so it shows up in the dump.
    let mut conn = connect(server.addr);
    conn.write_all(b"ping").unwrap();
    let mut back = [0; 4];
    conn.read_exact(&mut back).unwrap();
    let mut table = String::new();
    connect(dump_addr).read_to_string(&mut table).unwrap();
    assert!(table.starts_with("corun dump: "), "{table}");
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in\n{table}"))
    };
    assert!(row("main").contains("io"), "{table}");
    let me = conn.local_addr().unwrap().to_string();
    // Under `main`, which accepted it.
    let conn_row = row(&format!("conn {me}"));
    assert!(
        conn_row.starts_with("├─ conn") || conn_row.starts_with("└─ conn"),
        "{table}"
    );
    assert!(row(&format!("conn {me}")).contains("readable"), "{table}");
}

#[test]
fn hyper_server_answers() {
    let server = Server::example("hyper_server", &["--port", "0"]);
    let mut s = BufReader::new(connect(server.addr));
    for _ in 0..2 {
        s.get_mut().write_all(GET).unwrap();
        let (status, _, body) = read_response(&mut s);
        assert_eq!((status, body.as_str()), (200, "Hello from hyper on corun"));
    }
    let curl = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    if !curl.is_ok_and(|s| s.success()) {
        println!("curl is not on PATH: skipping the curl part of hyper_server_answers");
        return;
    }
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            &format!("http://{}/", server.addr),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"Hello from hyper on corun");
}

#[test]
fn http_server_answers_curl() {
    let server = Server::example("http_server", &["--port", "0"]);
    let curl = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    if !curl.is_ok_and(|s| s.success()) {
        println!("curl is not on PATH: skipping http_server_answers_curl");
        return;
    }
    let url = format!("http://{}/", server.addr);
    // Two URLs in one curl run reuse the connection (keep-alive).
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", &url, &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"Hello, world!Hello, world!");
}

#[test]
fn slow_poll_names_the_task_that_did_not_yield() {
    let (status, out) = run_client("slow_poll", &[]);
    assert!(status.success(), "{status:?}: {out}");
    let warning = out
        .lines()
        .find(|l| l.contains("WARN") && l.contains("slow poll"))
        .unwrap_or_else(|| panic!("no slow-poll warning: {out}"));
    // The task's name and spawn site, and how long it ran.
    assert!(warning.contains("(checksum, spawned at "), "{warning}");
    assert!(warning.contains("examples/slow_poll.rs:"), "{warning}");
    assert!(
        warning.contains(" ms without reaching an await"),
        "{warning}"
    );
    // It comes before the yielding version starts: the first checksum's.
    let yielding = out.find("checksum yielding").expect("second phase ran");
    assert!(out.find(warning).unwrap() < yielding, "{out}");
}
