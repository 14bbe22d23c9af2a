//! Pieces every peer shares inside a child process: the workload description
//! handed to a peer ([`Work`]), what a peer hands back ([`Outcome`]), memory
//! and file-limit probes, the peers' listener, the canned HTTP
//! bytes, the httpd load driver (the built-in generator or `wrk`) and the
//! `conns` client process.
//!
//! Nothing here knows about a particular runtime, and nothing here prints
//! tables: the parent side lives in `main.rs`/`report.rs`.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One workload at one size, as a peer receives it.
#[derive(Debug, Clone)]
pub enum Work {
    /// `n` tasks each sleep `dur`, then bump a counter.
    Sleep {
        /// Task count.
        n: u64,
        /// How long each task sleeps.
        dur: Duration,
    },
    /// Spawn `n` empty tasks and join them all.
    Spawn {
        /// Task count.
        n: u64,
    },
    /// One task yields `n` times.
    Yield {
        /// Yield count.
        n: u64,
    },
    /// Two tasks pass a token `n` round trips through capacity-1 channels.
    PingPong {
        /// Round trips.
        n: u64,
    },
    /// Arm `n` one-second timers (poll once), then drop them all.
    TimersCancel {
        /// Timer count.
        n: u64,
    },
    /// Arm `n` timers of 1..=10 ms and await them all from one task.
    TimersFire {
        /// Timer count.
        n: u64,
    },
    /// `tasks` tasks each write `writes` chunks of `chunk` bytes to a new file in `dir`.
    FileIo {
        /// Concurrent writers (one file each).
        tasks: u64,
        /// Writes per file.
        writes: u64,
        /// Bytes per write.
        chunk: usize,
        /// Scratch directory (created and removed by the child driver).
        dir: PathBuf,
    },
    /// In-process HTTP/1.0 server plus `n` concurrent fetching clients.
    UrlFetch {
        /// Client count.
        n: u64,
    },
    /// Keep-alive HTTP/1.1 server under the httpd load for `secs` seconds.
    Httpd {
        /// Load duration.
        secs: u64,
    },
    /// Hold `n` idle connections opened by a separate client process.
    Conns {
        /// Connection count.
        n: u64,
    },
    /// Echo server for a separate client process (`crate::flood`): one
    /// flooding connection and `bystanders` timed ones, for `ms` ms.
    Flood {
        /// Timed bystander connections.
        bystanders: u64,
        /// Length of the flood, ms.
        ms: u64,
    },
    /// A multi-core cell (`crate::cores`): run by corun and tokio-mt only.
    Cores(crate::cores::CoresWork),
}

/// What a peer measured. `secs` is the timed region only.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Wall time of the measured region.
    pub secs: f64,
    /// Workload-specific numbers (e.g. `rss_before_kb`, `bytes_per_conn`).
    pub extra: BTreeMap<String, f64>,
}

impl Outcome {
    /// An outcome with only a time.
    pub fn secs(secs: f64) -> Self {
        Outcome {
            secs,
            extra: BTreeMap::new(),
        }
    }

    /// Adds one named number.
    pub fn with(mut self, key: &str, v: f64) -> Self {
        self.extra.insert(key.to_string(), v);
        self
    }

    /// Adds the CPU time and page faults of the measured region
    /// (`user_s`, `sys_s`, `minor_faults`).
    pub fn with_usage(self, used: Usage) -> Self {
        self.with("user_s", used.user_s)
            .with("sys_s", used.sys_s)
            .with("minor_faults", used.minor_faults)
    }
}

/// This process's CPU time and page faults at one moment, to say how much
/// of a measured region the kernel took (for a million tasks, mostly
/// zeroing the fresh pages their memory lands on).
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    user_s: f64,
    sys_s: f64,
    minor_faults: f64,
}

impl Usage {
    /// The process's totals so far (all its threads).
    pub fn now() -> Usage {
        Usage::of(libc::RUSAGE_SELF)
    }

    /// The totals of `who` (`RUSAGE_SELF`, or `RUSAGE_CHILDREN`: the
    /// children this process has waited for); zeros if they cannot be read.
    fn of(who: libc::c_int) -> Usage {
        rusage(who).map_or(
            Usage {
                user_s: 0.0,
                sys_s: 0.0,
                minor_faults: 0.0,
            },
            |ru| Usage {
                user_s: timeval_secs(ru.ru_utime),
                sys_s: timeval_secs(ru.ru_stime),
                minor_faults: ru.ru_minflt as f64,
            },
        )
    }

    /// User plus system CPU seconds.
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }

    /// What was used between `self` and now.
    pub fn since(self) -> Usage {
        let now = Usage::now();
        Usage {
            user_s: now.user_s - self.user_s,
            sys_s: now.sys_s - self.sys_s,
            minor_faults: now.minor_faults - self.minor_faults,
        }
    }
}

fn timeval_secs(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// `getrusage(who)`, or `None` if it fails.
fn rusage(who: libc::c_int) -> Option<libc::rusage> {
    // SAFETY: rusage is plain data; zeroed is a valid value and getrusage
    // fills it through the valid pointer we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: see above; callers pass RUSAGE_SELF or RUSAGE_CHILDREN.
    (unsafe { libc::getrusage(who, &mut ru) } == 0).then_some(ru)
}

/// Checks that `got == want`, naming `what` in the error.
pub fn check(what: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got}, want {want}"))
    }
}

/// Raises the soft open-file limit to the hard limit.
pub fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass by
    // valid pointer; failure is reported through the return value.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Peak resident set size of this process image so far, in KiB: `VmHWM`
/// from `/proc/self/status`, falling back to `getrusage` where that is
/// missing.
///
/// Not `getrusage` first: Linux carries `ru_maxrss` across `execve` from
/// the memory image the process replaced, and a child spawned with
/// `vfork`/`posix_spawn` (as std's `Command` does) or `fork` starts from its
/// parent's image, so `ru_maxrss` never reads below the parent's own peak
/// RSS (the benchmark parent's ~4 MiB, or `cargo`'s ~30 MiB when run by
/// cargo). `VmHWM` is the high-water mark of this image alone, counted the
/// same way (resident file-backed plus anonymous pages).
pub fn peak_rss_kb() -> u64 {
    vm_hwm_kb().unwrap_or_else(rusage_maxrss_kb)
}

/// `VmHWM` of this process, KiB.
fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `ru_maxrss` of this process (includes the pre-exec image), KiB.
fn rusage_maxrss_kb() -> u64 {
    rusage(libc::RUSAGE_SELF).map_or(0, |ru| ru.ru_maxrss.max(0) as u64)
}

/// Current resident set size in KiB, from `/proc/self/statm`.
pub fn current_rss_kb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// System-wide count of TCP listen-queue overflows (`TcpExt ListenOverflows`).
pub fn listen_overflows() -> u64 {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = text.lines();
    while let (Some(names), Some(vals)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        for (k, v) in names.split_whitespace().zip(vals.split_whitespace()) {
            if k == "ListenOverflows" {
                return v.parse().unwrap_or(0);
            }
        }
    }
    0
}

/// The kernel's listen-queue limits as the run finds them (`somaxconn`,
/// `tcp_max_syn_backlog`), to print beside the table.
///
/// The bench never changes them: a burst that overflows a listen queue
/// at the kernel's defaults (`somaxconn` 4096) is part of what a runtime
/// is measured on, since its users run at those defaults too.
pub fn listen_limits() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path).map_or_else(|_| "?".to_string(), |s| s.trim().to_string())
    };
    format!(
        "somaxconn {}, tcp_max_syn_backlog {}",
        read("/proc/sys/net/core/somaxconn"),
        read("/proc/sys/net/ipv4/tcp_max_syn_backlog")
    )
}

/// The kernel's cap on any listen backlog (`net.core.somaxconn`).
pub fn somaxconn() -> u64 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

/// A non-blocking std listener on 127.0.0.1:0 with `backlog` (at least 1024).
pub fn listener(backlog: u64) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    sock.bind(&addr.into())?;
    let backlog = backlog.clamp(1024, i32::MAX as u64) as i32;
    sock.listen(backlog)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// The urlfetch server's whole answer.
pub const URL_RESPONSE: &[u8] =
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

/// The urlfetch client's request.
pub const URL_REQUEST: &[u8] = b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";

/// The httpd server's answer to each keep-alive request.
pub const HTTPD_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

/// True once `buf` holds a complete request head.
pub fn head_complete(buf: &[u8]) -> bool {
    buf.windows(4).any(|w| w == b"\r\n\r\n")
}

/// Checks a urlfetch response body read to EOF.
pub fn check_response(body: &[u8]) -> Result<(), String> {
    if body == URL_RESPONSE {
        Ok(())
    } else {
        Err(format!(
            "bad response ({} bytes, starts {:?})",
            body.len(),
            String::from_utf8_lossy(&body[..body.len().min(16)])
        ))
    }
}

/// Incremental keep-alive request splitter: feed bytes, get how many complete
/// request heads they finished. Requests carry no body (the load sends GETs).
#[derive(Default)]
pub struct HeadCounter {
    /// Trailing bytes of the last buffer that may start a `\r\n\r\n`.
    tail: Vec<u8>,
}

impl HeadCounter {
    /// Counts request heads completed by `data`.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        let mut joined = std::mem::take(&mut self.tail);
        joined.extend_from_slice(data);
        let mut count = 0;
        let mut start = 0;
        let mut i = 0;
        while i + 4 <= joined.len() {
            if &joined[i..i + 4] == b"\r\n\r\n" {
                count += 1;
                i += 4;
                start = i;
            } else {
                i += 1;
            }
        }
        // Keep only what could still be part of an unfinished head; cap it so
        // a garbage stream cannot grow memory.
        let rest = &joined[start..];
        let keep = rest.len().min(4096);
        self.tail = rest[rest.len() - keep..].to_vec();
        count
    }
}

/// Which load generator drives the httpd cells: the built-in one
/// (`corun-bench-load`, the default) or, as a cross-check, `wrk` (the
/// parent's `--load wrk`). The parent sets it in the child's environment.
pub const LOAD_ENV: &str = "CORUN_BENCH_LOAD";

/// The httpd load generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadGen {
    /// `corun-bench-load` (`crate::load`), beside the child binary.
    Builtin,
    /// The external `wrk` tool, with the same connections, duration and timeout.
    Wrk,
}

impl LoadGen {
    /// The generator [`LOAD_ENV`] names; built in when unset.
    pub fn from_env() -> Result<LoadGen, String> {
        match std::env::var(LOAD_ENV).as_deref() {
            Err(_) | Ok("") | Ok("builtin") => Ok(LoadGen::Builtin),
            Ok("wrk") => Ok(LoadGen::Wrk),
            Ok(other) => Err(format!("{LOAD_ENV}={other:?}: expected builtin or wrk")),
        }
    }

    /// Its name in notes and in [`LOAD_ENV`].
    pub fn name(self) -> &'static str {
        match self {
            LoadGen::Builtin => "builtin",
            LoadGen::Wrk => "wrk",
        }
    }
}

/// Keep-alive connections the httpd load opens (wrk's `-c100`).
pub const LOAD_CONNS: u32 = 100;

/// A response slower than this is a timeout (wrk's `--timeout 2s`).
pub const LOAD_TIMEOUT_MS: u64 = 2000;

/// The built-in generator's binary: `corun-bench-load` beside this
/// process's own (the child binaries and it are built together).
pub fn load_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe.parent().ok_or("this binary has no directory")?;
    let bin = dir.join("corun-bench-load");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "missing the load generator {}: run through `cargo run --release -p corun-bench`, \
             or build it with `cargo build --release -p corun-bench --bins`",
            bin.display()
        ))
    }
}

/// One httpd load run: what the generator reported, and how busy it kept
/// both sides.
///
/// The generator has one thread and this machine two cores, so the busy
/// shares say which side limits the request rate: a server below a whole
/// core while the generator is at one waits for it, and no server can go
/// faster.
pub struct LoadRun {
    /// Requests per second (the generator's count over its wall time).
    pub req_per_s: f64,
    /// Latency median, ms.
    pub p50_ms: f64,
    /// Latency 99th percentile, ms.
    pub p99_ms: f64,
    /// Requests completed.
    pub requests: f64,
    /// CPU time of the server while the load ran, as a share of the load's
    /// wall time: 1.0 is one core kept busy.
    pub server_busy: f64,
    /// The server's CPU seconds (user + system) while the load ran.
    pub server_cpu_s: f64,
    /// The generator's own CPU time as a share of its wall time.
    pub load_busy: f64,
    /// The generator's own CPU seconds (user + system).
    pub load_cpu_s: f64,
    /// Which generator ran.
    pub generator: LoadGen,
}

impl LoadRun {
    /// The httpd outcome: `elapsed` server seconds and every figure above
    /// (`load_wrk` is 1 when wrk drove it).
    pub fn outcome(&self, elapsed: f64) -> Outcome {
        Outcome::secs(elapsed)
            .with("req_per_s", self.req_per_s)
            .with("p50_ms", self.p50_ms)
            .with("p99_ms", self.p99_ms)
            .with("requests", self.requests)
            .with("server_busy", self.server_busy)
            .with("server_cpu_s", self.server_cpu_s)
            .with("load_busy", self.load_busy)
            .with("load_cpu_s", self.load_cpu_s)
            .with(
                "load_wrk",
                f64::from(u8::from(self.generator == LoadGen::Wrk)),
            )
    }
}

/// Runs the httpd load ([`LoadGen::from_env`]) against `addr` for `secs`
/// seconds; blocking. Call it from a thread of the server's process, which
/// has no other child processes: the busy shares come from this process's
/// and its children's CPU time.
pub fn run_load(addr: SocketAddr, secs: u64) -> Result<LoadRun, String> {
    run_load_timing(addr, secs, || Usage::now().cpu_s())
}

/// [`run_load`] for a server whose CPU seconds so far `server_cpu_s` reads
/// (a server in another process); the generator must be this process's
/// only child that ends meanwhile.
pub fn run_load_timing(
    addr: SocketAddr,
    secs: u64,
    server_cpu_s: impl Fn() -> f64,
) -> Result<LoadRun, String> {
    let generator = LoadGen::from_env()?;
    let mut cmd = match generator {
        LoadGen::Builtin => {
            let mut cmd = Command::new(load_binary()?);
            cmd.arg(addr.to_string())
                .arg(LOAD_CONNS.to_string())
                .arg((secs * 1000).to_string())
                .arg(LOAD_TIMEOUT_MS.to_string());
            cmd
        }
        LoadGen::Wrk => {
            let mut cmd = Command::new("wrk");
            cmd.args([
                "-t1",
                &format!("-c{LOAD_CONNS}"),
                &format!("-d{secs}s"),
                "--latency",
                "--timeout",
                &format!("{}s", LOAD_TIMEOUT_MS / 1000),
            ])
            .arg(format!("http://{addr}/"));
            cmd
        }
    };
    let (server0, load0) = (server_cpu_s(), Usage::of(libc::RUSAGE_CHILDREN));
    let t0 = std::time::Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the load generator ({}): {e}", generator.name()))?;
    let wall = t0.elapsed().as_secs_f64().max(1e-9);
    let server_cpu_s = server_cpu_s() - server0;
    let load_cpu_s = Usage::of(libc::RUSAGE_CHILDREN).cpu_s() - load0.cpu_s();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{} exited {}: {} {}",
            generator.name(),
            out.status,
            text.trim(),
            err.trim()
        ));
    }
    let (req_per_s, p50_ms, p99_ms, requests) = match generator {
        LoadGen::Builtin => parse_load(&text)?,
        LoadGen::Wrk => parse_wrk(&text)?,
    };
    Ok(LoadRun {
        req_per_s,
        p50_ms,
        p99_ms,
        requests,
        server_busy: server_cpu_s / wall,
        server_cpu_s,
        load_busy: load_cpu_s / wall,
        load_cpu_s,
        generator,
    })
}

/// Reads the built-in generator's line like [`parse_wrk`] reads wrk's
/// report: rate, p50 and p99 in ms, requests; any error, timeout or
/// non-2xx/3xx response fails the run.
pub fn parse_load(text: &str) -> Result<(f64, f64, f64, f64), String> {
    let r = crate::load::parse_line(text)?;
    if r.errors + r.timeouts + r.non2xx > 0 {
        return Err(format!(
            "load generator reported {} errors, {} timeouts, {} non-2xx/3xx responses",
            r.errors, r.timeouts, r.non2xx
        ));
    }
    if r.requests == 0 {
        return Err(format!("no request completed: {}", text.trim()));
    }
    Ok((
        r.req_per_s(),
        r.p50_us as f64 / 1000.0,
        r.p99_us as f64 / 1000.0,
        r.requests as f64,
    ))
}

/// Parses wrk's `--latency` report.
pub fn parse_wrk(text: &str) -> Result<(f64, f64, f64, f64), String> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut total = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some(v) = t.strip_prefix("50%") {
            p50 = parse_wrk_ms(v.trim());
        } else if let Some(v) = t.strip_prefix("99%") {
            p99 = parse_wrk_ms(v.trim());
        } else if t.contains("requests in") {
            total = t.split_whitespace().next().and_then(|s| s.parse().ok());
        } else if t.starts_with("Non-2xx") || !is_clean_socket_errors(t) {
            return Err(format!("wrk reported: {t}"));
        }
    }
    match (rps, p50, p99, total) {
        (Some(r), Some(a), Some(b), Some(n)) if n > 0.0 => Ok((r, a, b, n)),
        _ => Err(format!("cannot parse wrk output: {}", text.trim())),
    }
}

/// False only for a wrk "Socket errors" line that counts a non-zero error.
fn is_clean_socket_errors(line: &str) -> bool {
    !line.starts_with("Socket errors")
        || line
            .split(',')
            .all(|part| part.split_whitespace().last() == Some("0"))
}

/// Parses a wrk duration such as `612.00us`, `1.20ms`, `2.01s` into ms.
fn parse_wrk_ms(v: &str) -> Option<f64> {
    let (num, mult) = if let Some(x) = v.strip_suffix("us") {
        (x, 0.001)
    } else if let Some(x) = v.strip_suffix("ms") {
        (x, 1.0)
    } else if let Some(x) = v.strip_suffix('s') {
        (x, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * mult)
}

/// The conns client process, started by a conns server child (the same
/// child binary, `conns-client` command line).
pub struct ConnsClient {
    child: Child,
}

impl ConnsClient {
    /// Starts `<this binary> conns-client ADDR N`. It connects N times, then
    /// waits for a line on stdin before closing everything.
    pub fn start(addr: SocketAddr, n: u64) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let child = Command::new(exe)
            .args(["conns-client", &addr.to_string(), &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start conns client: {e}"))?;
        Ok(ConnsClient { child })
    }

    /// Blocks until the client says it holds all its connections.
    pub fn wait_connected(&mut self) -> Result<(), String> {
        let out = self.child.stdout.take().ok_or("client stdout missing")?;
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| format!("client: {e}"))?;
        if line.trim() == "connected" {
            Ok(())
        } else {
            Err(format!("client failed: {}", line.trim()))
        }
    }

    /// Tells the client to close all connections and waits for it to exit.
    pub fn close(mut self) -> Result<(), String> {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(b"close\n");
        }
        let st = self.child.wait().map_err(|e| format!("client wait: {e}"))?;
        if st.success() {
            Ok(())
        } else {
            Err(format!("client exited {st}"))
        }
    }
}

impl Drop for ConnsClient {
    fn drop(&mut self) {
        // Only matters on error paths: never leave the client behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Body of a child binary's `conns-client` command line: std sockets, blocking.
pub fn conns_client_main(addr: SocketAddr, n: u64) -> i32 {
    raise_nofile();
    let mut conns = Vec::with_capacity(n as usize);
    for i in 0..n {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(s) => conns.push(s),
            Err(e) => {
                println!("connect {i} of {n}: {e}");
                return 1;
            }
        }
    }
    println!("connected");
    let _ = io::stdout().flush();
    let mut line = String::new();
    let _ = io::stdin().read_line(&mut line);
    drop(conns);
    0
}

/// Settling time after the last accept before `conns` measures RSS, so that
/// every connection task has run to its first read and parked.
pub const CONNS_SETTLE: Duration = Duration::from_millis(200);

/// Deadline for socket reads/writes in blocking peers, so nothing hangs.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

#[cfg(test)]
mod tests {
    use super::*;

    /// A `wrk -t1 -c100 -d1s --latency` report, trimmed to the lines read.
    const REPORT: &str = "Running 1s test @ http://127.0.0.1:4000/
  1 threads and 100 connections
  Latency Distribution
     50%  612.00us
     75%    0.90ms
     90%    1.10ms
     99%    1.20ms
  89722 requests in 1.00s, 7.02MB read
Requests/sec:  89298.10
Transfer/sec:      6.98MB
";

    #[test]
    fn parses_rate_latencies_and_count() {
        let (rps, p50, p99, n) = parse_wrk(REPORT).unwrap();
        assert_eq!(rps, 89298.10);
        assert!((p50 - 0.612).abs() < 1e-9, "{p50}");
        assert_eq!(p99, 1.20);
        assert_eq!(n, 89722.0);
    }

    #[test]
    fn socket_errors_fail_unless_all_zero() {
        let zero = format!("{REPORT}  Socket errors: connect 0, read 0, write 0, timeout 0\n");
        assert!(parse_wrk(&zero).is_ok());
        let bad = format!("{REPORT}  Socket errors: connect 0, read 3, write 0, timeout 0\n");
        assert!(parse_wrk(&bad).unwrap_err().contains("read 3"));
        let non2xx = format!("{REPORT}  Non-2xx or 3xx responses: 5\n");
        assert!(parse_wrk(&non2xx).is_err());
    }

    #[test]
    fn a_report_without_requests_is_an_error() {
        assert!(parse_wrk("Requests/sec: 10\n").is_err());
    }

    #[test]
    fn the_builtin_line_reads_in_ms_and_fails_on_any_error() {
        let ok = "requests=89722 secs=5.000100 req_per_s=17944.04 p50_us=612 p99_us=1200 \
                  max_us=3000 errors=0 timeouts=0 non2xx=0";
        let (rps, p50, p99, n) = parse_load(ok).unwrap();
        assert!((rps - 89722.0 / 5.0001).abs() < 1e-6, "{rps}");
        assert!((p50 - 0.612).abs() < 1e-9 && (p99 - 1.2).abs() < 1e-9);
        assert_eq!(n, 89722.0);
        for bad in ["errors=1 timeouts=0", "errors=0 timeouts=1"] {
            let line = ok.replace("errors=0 timeouts=0", bad);
            assert!(parse_load(&line).is_err(), "{line}");
        }
        assert!(parse_load(&ok.replace("non2xx=0", "non2xx=4")).is_err());
        assert!(parse_load(&ok.replace("requests=89722", "requests=0")).is_err());
    }

    #[test]
    fn the_generator_is_built_in_unless_the_environment_names_wrk() {
        // Only reads: no test sets the variable.
        if std::env::var_os(LOAD_ENV).is_none() {
            assert_eq!(LoadGen::from_env(), Ok(LoadGen::Builtin));
        }
        assert_eq!(LoadGen::Wrk.name(), "wrk");
        assert_eq!(LoadGen::Builtin.name(), "builtin");
    }

    #[test]
    fn usage_counts_the_faults_of_fresh_memory() {
        let u0 = Usage::now();
        // 16 MiB, fresh from the kernel (calloc maps it untouched): one
        // fault per page at least, whatever the huge-page setting.
        let mut v = vec![0u8; 16 << 20];
        for i in (0..v.len()).step_by(4096) {
            v[i] = 1;
        }
        std::hint::black_box(&mut v);
        let used = u0.since();
        assert!(used.minor_faults >= 8.0, "{used:?}");
        assert!(used.user_s >= 0.0 && used.sys_s >= 0.0, "{used:?}");
        assert!(used.user_s + used.sys_s > 0.0, "{used:?}");
        let o = Outcome::secs(1.0).with_usage(used);
        assert_eq!(o.extra["minor_faults"], used.minor_faults);
        assert!(o.extra.contains_key("user_s") && o.extra.contains_key("sys_s"));
    }

    #[test]
    fn this_process_and_its_children_have_cpu_time() {
        // Burn a little CPU, then wait for a child that burns some too.
        let t0 = std::time::Instant::now();
        let mut x = 0u64;
        while t0.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let before = Usage::of(libc::RUSAGE_CHILDREN).cpu_s();
        let status = Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(Usage::now().cpu_s() > 0.0);
        assert!(Usage::of(libc::RUSAGE_CHILDREN).cpu_s() > before);
    }
}
