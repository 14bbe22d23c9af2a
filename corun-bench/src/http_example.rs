//! corun's httpd cell at N cores: `corun/examples/http_server` (the
//! server corun ships, on its multi-core API) run as its own process with N
//! cores, driven by the httpd load like every httpd cell; the server's CPU
//! time comes from its `/proc/PID/stat`.
//!
//! Nothing here links corun (the server is a separate binary, built by the
//! parent next to the child binaries: `<profile dir>/examples/http_server`)
//! or prints: the child driver owns stdout.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{self, Outcome};

/// How long the server may take to say where it listens, and to shut down
/// after SIGTERM (its own grace period is 5 s).
const START_LIMIT: Duration = Duration::from_secs(15);
const STOP_LIMIT: Duration = Duration::from_secs(15);

/// The example binary: `examples/http_server` beside this child binary.
pub fn binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe.parent().ok_or("the child binary has no directory")?;
    let bin = dir.join("examples").join("http_server");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "missing {}: run through `cargo run --release -p corun-bench`, or build it with \
             `cargo build --release -p corun --example http_server`",
            bin.display()
        ))
    }
}

/// The server's flag for its core count: `--cores` where its usage text
/// offers it, else the older `--threads`.
pub fn cores_flag(usage: &str) -> &'static str {
    if usage.contains("--cores") {
        "--cores"
    } else {
        "--threads"
    }
}

/// The address in the server's first line, `listening on ADDR`.
pub fn parse_listening(line: &str) -> Option<SocketAddr> {
    line.trim()
        .strip_prefix("listening on ")?
        .trim()
        .parse()
        .ok()
}

/// The request count in the server's last line, `shutdown complete: C
/// connections, R requests served, ...`.
pub fn parse_served(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix("shutdown complete:")?;
    let part = rest.split(',').find(|p| p.contains("requests served"))?;
    part.split_whitespace().next()?.parse().ok()
}

/// User + system clock ticks of a process, from its `/proc/PID/stat`
/// (fields 14 and 15, counted after the parenthesised command name, which
/// may itself hold spaces and parentheses).
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first; utime is field 14.
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds used so far by process `pid`; 0 if it cannot be read.
fn process_cpu_s(pid: u32) -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_cpu_ticks(&s))
        .map_or(0.0, |t| t as f64 / hz)
}

/// The running example server; killed if dropped before [`Server::stop`].
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Server {
    /// Starts the server on 127.0.0.1, any port, with `cores` cores; returns
    /// it and where it listens.
    fn start(cores: usize) -> Result<(Server, SocketAddr), String> {
        let bin = binary()?;
        let help = Command::new(&bin)
            .arg("--help")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let usage = String::from_utf8_lossy(&help.stderr).to_string()
            + &String::from_utf8_lossy(&help.stdout);
        let mut child = Command::new(&bin)
            .args(["--addr", "127.0.0.1", "--port", "0"])
            .args([cores_flag(&usage), &cores.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let out = child.stdout.take().ok_or("server stdout missing")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let server = Server { child, lines };
        let first = server
            .lines
            .recv_timeout(START_LIMIT)
            .map_err(|_| "the server did not say where it listens".to_string())?;
        let addr = parse_listening(&first)
            .ok_or_else(|| format!("unexpected first line from the server: {first:?}"))?;
        Ok((server, addr))
    }

    /// SIGTERM, then the requests it says it served once it has exited.
    fn stop(mut self) -> Result<u64, String> {
        let pid = libc::pid_t::try_from(self.child.id()).map_err(|e| e.to_string())?;
        // SAFETY: kill only sends a signal to our own child, still unreaped.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(format!("SIGTERM: {}", std::io::Error::last_os_error()));
        }
        let t0 = Instant::now();
        let mut served = None;
        while served.is_none() {
            let left = STOP_LIMIT.saturating_sub(t0.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => served = parse_served(&line),
                Err(_) => break,
            }
        }
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) if st.success() => break,
                Ok(Some(st)) => return Err(format!("the server exited {st}")),
                Ok(None) if t0.elapsed() > STOP_LIMIT => {
                    return Err("the server did not exit after SIGTERM".into());
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("wait for the server: {e}")),
            }
        }
        served.ok_or_else(|| "the server exited without its shutdown line".into())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A no-op after `stop` reaped it; on error paths, never leave it behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// httpd with the example server on `cores` cores under the load for `secs` s.
/// The busy shares and CPU per request are the server process's.
pub fn run(secs: u64, cores: usize) -> Result<Outcome, String> {
    let (server, addr) = Server::start(cores)?;
    let pid = server.child.id();
    let t0 = Instant::now();
    let run = common::run_load_timing(addr, secs, || process_cpu_s(pid))?;
    let elapsed = t0.elapsed().as_secs_f64();
    let served = server.stop()?;
    if (served as f64) < run.requests {
        return Err(format!(
            "the server says it served {served} requests, the load generator counted {}",
            run.requests
        ));
    }
    Ok(run.outcome(elapsed).with("cores", cores as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cores_flag_follows_the_usage_text() {
        assert_eq!(cores_flag("  --cores N   schedulers"), "--cores");
        assert_eq!(
            cores_flag("  --threads N  schedulers, each ..."),
            "--threads"
        );
    }

    #[test]
    fn parses_the_servers_first_and_last_lines() {
        assert_eq!(
            parse_listening("listening on 127.0.0.1:40123\n"),
            Some("127.0.0.1:40123".parse().unwrap())
        );
        assert_eq!(parse_listening("listening at nowhere"), None);
        let last = "shutdown complete: 100 connections, 391234 requests served, 0 evicted";
        assert_eq!(parse_served(last), Some(391_234));
        assert_eq!(parse_served("shutdown complete: garbled"), None);
        assert_eq!(parse_served("listening on 127.0.0.1:1"), None);
    }

    #[test]
    fn reads_cpu_ticks_past_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (http (srv) x) S 1 4242 4242 0 -1 4194560 300 0 0 0 \
                    1234 56 0 0 20 0 3 0 100 1000000 200";
        assert_eq!(stat_cpu_ticks(stat), Some(1290));
        assert_eq!(stat_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn this_process_has_cpu_time_in_proc() {
        let t0 = Instant::now();
        let mut x = 0u64;
        while t0.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(process_cpu_s(std::process::id()) > 0.0);
    }
}
