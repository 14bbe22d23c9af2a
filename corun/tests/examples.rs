//! The example programs (`examples/http_server.rs`, `url_fetch.rs`,
//! `echo.rs`, `hyper_server.rs`) run as real processes on 127.0.0.1 with
//! ephemeral ports and are driven by real clients: std sockets, the
//! examples' own clients, and curl where it is installed.
//!
//! The binaries are the ones cargo builds for `cargo test`
//! (`target/<profile>/examples/`); when missing (e.g. `cargo test --test
//! examples` alone), they are built once with `cargo build --examples`.
//! Every child is killed by a guard on drop, and every wait is bounded.
//! This file must NOT test the library's internals; only the examples.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Upper bound for anything a test waits on.
const BOUND: Duration = Duration::from_secs(20);

/// Path of the example binary `name`, building the examples once if needed.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        BUILT.get_or_init(|| {
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args(["build", "-q", "-p", "corun", "--examples"]);
            if profile_dir.ends_with("release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("run cargo build --examples");
            assert!(status.success(), "cargo build --examples failed");
        });
    }
    assert!(path.exists(), "no example binary at {}", path.display());
    path
}

/// Lines a child printed so far on one stream (collected by a thread).
#[derive(Clone, Default)]
struct Output(Arc<Mutex<String>>);

impl Output {
    fn collect(
        stream: impl Read + Send + 'static,
        first_line: Option<std::sync::mpsc::Sender<String>>,
    ) -> Output {
        let out = Output::default();
        let o = out.clone();
        std::thread::spawn(move || {
            let mut first_line = first_line;
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if let Some(tx) = first_line.take() {
                    let _ = tx.send(line.clone());
                }
                let mut s = o.0.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        out
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits (bounded) until the text contains `needle`.
    fn wait_for(&self, needle: &str) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < BOUND {
            if self.text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// A running example server; killed (and reaped) when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Output,
    stderr: Output,
}

impl Server {
    /// Starts `cmd` (stdout/stderr piped) and reads its `listening on ADDR`.
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn example");
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = Output::collect(child.stdout.take().unwrap(), Some(tx));
        let stderr = Output::collect(child.stderr.take().unwrap(), None);
        let mut server = Server {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            stdout,
            stderr,
        };
        let line = rx
            .recv_timeout(BOUND)
            .unwrap_or_else(|_| panic!("no `listening on` line; stderr: {}", server.stderr.text()));
        let addr = line.strip_prefix("listening on ").expect("listening line");
        server.addr = addr.parse().expect("address in listening line");
        server
    }

    fn example(name: &str, args: &[&str]) -> Server {
        let mut cmd = Command::new(example(name));
        cmd.args(args);
        Server::start(cmd)
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn wait_exit(&mut self) -> Option<ExitStatus> {
        wait_bounded(&mut self.child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit, at most [`BOUND`] (then kills it: `None`).
fn wait_bounded(child: &mut Child) -> Option<ExitStatus> {
    let t0 = Instant::now();
    while t0.elapsed() < BOUND {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Runs a client example to completion: (exit status, stdout).
fn run_client(name: &str, args: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn client");
    let out = Output::collect(child.stdout.take().unwrap(), None);
    let status = wait_bounded(&mut child).unwrap_or_else(|| panic!("{name} did not finish"));
    // The collector thread sees EOF right after exit; wait for it briefly.
    let t0 = Instant::now();
    while out.text().is_empty() && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    (status, out.text())
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, BOUND).expect("connect");
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_write_timeout(Some(BOUND)).unwrap();
    s
}

/// Reads one response: (status, headers text, body).
fn read_response(r: &mut impl BufRead) -> (u16, String, String) {
    let mut head = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            r.read_line(&mut line).expect("read head") > 0,
            "EOF in head: {head:?}"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let len = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .expect("content-length");
    let mut body = vec![0; len];
    r.read_exact(&mut body).expect("read body");
    (status, head, String::from_utf8(body).unwrap())
}

/// Sends `request`, reads to EOF (the server must close): the whole reply.
fn request_until_close(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)
        .expect("server closes within the bound");
    String::from_utf8_lossy(&reply).into_owned()
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

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
    let mut server = Server::example("http_server", &["--port", "0"]);
    let mut idle = BufReader::new(connect(server.addr));
    idle.get_mut().write_all(GET).unwrap();
    assert_eq!(read_response(&mut idle).0, 200);
    let kill = Command::new("kill")
        .args(["-TERM", &server.pid()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = server.wait_exit().expect("server exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        server.stdout.wait_for("shutdown complete"),
        "{}",
        server.stdout.text()
    );
    // The idle keep-alive connection was closed, not left hanging.
    let mut buf = [0; 16];
    assert_eq!(idle.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn http_server_survives_running_out_of_fds() {
    let bin = example("http_server");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n 32 && exec "$0" --port 0"#)
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
