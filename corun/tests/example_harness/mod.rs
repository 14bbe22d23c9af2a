//! Running the example programs as child processes for the example tests
//! (`examples.rs`, `example_attacks.rs`, `interop.rs`): building them once,
//! reading their `listening on ADDR` line, bounded waits, a guard that
//! kills the child, and a minimal HTTP/1.1 response reader.
//!
//! The binaries are the ones cargo builds for `cargo test`
//! (`target/<profile>/examples/`); when missing (e.g. `cargo test --test
//! examples` alone), they are built once with `cargo build --examples`.
//! This module must NOT assert anything about the examples' behaviour
//! (that belongs in the test files) beyond what its helpers need to work.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Upper bound for anything a test waits on.
pub const BOUND: Duration = Duration::from_secs(20);

/// Path of the example binary `name`, building the examples once if needed.
pub fn example(name: &str) -> PathBuf {
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
pub struct Output(Arc<Mutex<String>>);

impl Output {
    pub fn collect(
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

    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits (bounded) until the text contains `needle`.
    pub fn wait_for(&self, needle: &str) -> bool {
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
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Output,
    pub stderr: Output,
}

impl Server {
    /// Starts `cmd` (stdout/stderr piped) and reads its `listening on ADDR`.
    pub fn start(mut cmd: Command) -> Server {
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

    pub fn example(name: &str, args: &[&str]) -> Server {
        let mut cmd = Command::new(example(name));
        cmd.args(args);
        Server::start(cmd)
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    pub fn wait_exit(&mut self) -> Option<ExitStatus> {
        wait_bounded(&mut self.child)
    }

    /// Sends SIGTERM; the server must exit 0 within [`BOUND`] after
    /// printing `shutdown complete`.
    pub fn terminate_cleanly(&mut self) {
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = self.wait_exit().expect("server exits after SIGTERM");
        assert!(status.success(), "exit status {status:?}");
        assert!(
            self.stdout.wait_for("shutdown complete"),
            "{}",
            self.stdout.text()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit, at most [`BOUND`] (then kills it: `None`).
pub fn wait_bounded(child: &mut Child) -> Option<ExitStatus> {
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
pub fn run_client(name: &str, args: &[&str]) -> (ExitStatus, String) {
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

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, BOUND).expect("connect");
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_write_timeout(Some(BOUND)).unwrap();
    s
}

/// Reads one response: (status, headers text, body).
pub fn read_response(r: &mut impl BufRead) -> (u16, String, String) {
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
pub fn request_until_close(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)
        .expect("server closes within the bound");
    String::from_utf8_lossy(&reply).into_owned()
}

pub const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// Starts example server `name`, leaves one keep-alive connection idle
/// after a request, and checks that SIGTERM makes the server exit 0 and
/// close that connection rather than leave it hanging.
pub fn sigterm_closes_idle_connections(name: &str) {
    let mut server = Server::example(name, &["--port", "0"]);
    let mut idle = BufReader::new(connect(server.addr));
    idle.get_mut().write_all(GET).unwrap();
    assert_eq!(read_response(&mut idle).0, 200);
    server.terminate_cleanly();
    let mut buf = [0; 16];
    assert_eq!(idle.read(&mut buf).unwrap_or(0), 0);
}
