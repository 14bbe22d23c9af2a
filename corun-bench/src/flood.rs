//! The `flood` workload's runtime-neutral parts: the client process (one
//! flooding connection that keeps its socket full, and timed bystanders that
//! each send a small message every [`PERIOD`]), its one-line report and the
//! parsing of it, the percentile arithmetic, and the server side's handle on
//! the client process ([`FloodClient`]).
//!
//! The client is plain blocking std code on OS threads, the same program for
//! every runtime under test, so that only the echo server differs between
//! cells. Each peer's echo server lives in its own module under `peers/`;
//! nothing here names a runtime, and nothing here prints except the client
//! process's report line ([`client_main`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{IO_TIMEOUT, Outcome, Usage, raise_nofile};

/// Bytes in one bystander message.
pub const MESSAGE: usize = 64;

/// How often each bystander sends a message.
pub const PERIOD: Duration = Duration::from_millis(10);

/// The flooder's write size.
const FLOOD_CHUNK: usize = 64 * 1024;

/// How long the server waits for each of the client's connections.
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Start of the report line the client prints on success.
const REPORT_TAG: &str = "flood-report";

/// What the client process measured, as carried by its report line.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodReport {
    /// Bystanders' echo latency, median, ns.
    pub p50_ns: u64,
    /// Bystanders' echo latency, 99th percentile, ns.
    pub p99_ns: u64,
    /// Bystanders' echo latency, worst, ns.
    pub max_ns: u64,
    /// Bystander messages timed (all echoed intact).
    pub samples: u64,
    /// Bytes the flooder got back before the flood window closed.
    pub window_bytes: u64,
    /// Length of the flood window, ns.
    pub window_ns: u64,
    /// Bytes the client sent on all connections (every one echoed back).
    pub sent_bytes: u64,
}

impl FloodReport {
    /// The report line (`flood-report key=value ...`), parsed by [`Self::parse`].
    pub fn to_line(&self) -> String {
        format!(
            "{REPORT_TAG} p50_ns={} p99_ns={} max_ns={} samples={} window_bytes={} window_ns={} sent_bytes={}",
            self.p50_ns,
            self.p99_ns,
            self.max_ns,
            self.samples,
            self.window_bytes,
            self.window_ns,
            self.sent_bytes
        )
    }

    /// Reads a report line. Any other line is the client's error message.
    pub fn parse(line: &str) -> Result<FloodReport, String> {
        let line = line.trim();
        let Some(rest) = line.strip_prefix(REPORT_TAG) else {
            return Err(if line.is_empty() {
                "flood client gave no report".to_string()
            } else {
                format!("flood client: {line}")
            });
        };
        let mut fields = std::collections::BTreeMap::new();
        for pair in rest.split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("bad flood report field {pair:?}"))?;
            let v: u64 = v
                .parse()
                .map_err(|_| format!("bad flood report value {pair:?}"))?;
            if fields.insert(k, v).is_some() {
                return Err(format!("flood report repeats {k:?}"));
            }
        }
        let mut get = |k: &str| {
            fields
                .remove(k)
                .ok_or_else(|| format!("flood report lacks {k:?}"))
        };
        let report = FloodReport {
            p50_ns: get("p50_ns")?,
            p99_ns: get("p99_ns")?,
            max_ns: get("max_ns")?,
            samples: get("samples")?,
            window_bytes: get("window_bytes")?,
            window_ns: get("window_ns")?,
            sent_bytes: get("sent_bytes")?,
        };
        if let Some(k) = fields.keys().next() {
            return Err(format!("flood report has unknown field {k:?}"));
        }
        if report.samples == 0 || report.window_ns == 0 {
            return Err("flood report without samples or window".into());
        }
        Ok(report)
    }

    /// The cell's outcome, after checking that the server echoed exactly
    /// what the client sent (`echoed`: bytes the server's connections
    /// wrote back). `secs` is the server's time from first accept to last
    /// connection closed, `used` the server process's CPU time meanwhile
    /// (reported as `server_busy`, 1.0 = one core kept busy: a server that
    /// got less than its core on a shared machine shows it here).
    pub fn outcome(&self, secs: f64, echoed: u64, used: Usage) -> Result<Outcome, String> {
        if echoed != self.sent_bytes {
            return Err(format!(
                "server echoed {echoed} bytes, client sent {}",
                self.sent_bytes
            ));
        }
        let window_s = self.window_ns as f64 / 1e9;
        Ok(Outcome::secs(secs)
            .with("p50_ms", self.p50_ns as f64 / 1e6)
            .with("p99_ms", self.p99_ns as f64 / 1e6)
            .with("max_ms", self.max_ns as f64 / 1e6)
            .with("samples", self.samples as f64)
            .with("flood_mb_s", self.window_bytes as f64 / window_s / 1e6)
            .with("server_busy", used.cpu_s() / secs.max(1e-9)))
    }
}

/// The `q`-quantile (0 < q ≤ 1) of `sorted` (ascending) by nearest rank:
/// the smallest value with at least `q` of the samples at or below it.
/// `None` for no samples or a `q` outside (0, 1].
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() || !(q > 0.0 && q <= 1.0) {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// The server side's handle on the client process: started with the
/// listener's address before the first accept, finished (its report read)
/// after every connection has closed.
pub struct FloodClient {
    child: Child,
    line: Option<JoinHandle<String>>,
}

impl FloodClient {
    /// Starts `<this binary> flood-client ADDR BYSTANDERS MS`.
    pub fn start(addr: SocketAddr, bystanders: u64, ms: u64) -> Result<FloodClient, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .args([
                "flood-client",
                &addr.to_string(),
                &bystanders.to_string(),
                &ms.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start flood client: {e}"))?;
        let out = child.stdout.take().ok_or("flood client stdout missing")?;
        // Read on a thread of its own: the server's scheduler must never
        // block on the client's pipe while the flood runs.
        let line = std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).take(64 * 1024).read_line(&mut line);
            line
        });
        Ok(FloodClient {
            child,
            line: Some(line),
        })
    }

    /// Waits for the client to exit and returns its report. Call once every
    /// connection has closed: the client prints only after closing them.
    pub fn finish(mut self) -> Result<FloodReport, String> {
        let line = self
            .line
            .take()
            .ok_or("flood client already finished")?
            .join()
            .map_err(|_| "flood client reader panicked")?;
        let status = self
            .child
            .wait()
            .map_err(|e| format!("flood client wait: {e}"))?;
        let report = FloodReport::parse(&line)?;
        if status.success() {
            Ok(report)
        } else {
            Err(format!("flood client exited {status}"))
        }
    }
}

impl Drop for FloodClient {
    fn drop(&mut self) {
        // Only matters on error paths: never leave the client behind.
        if self.line.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Body of a child binary's `flood-client ADDR BYSTANDERS MS` command line:
/// prints one report line (or an error line) and returns the exit code.
pub fn client_main(addr: SocketAddr, bystanders: u64, ms: u64) -> i32 {
    raise_nofile();
    let result = if bystanders == 0 || bystanders > 10_000 || ms == 0 || ms > 600_000 {
        Err(format!(
            "want 1..=10000 bystanders and 1..=600000 ms, got {bystanders} and {ms}"
        ))
    } else {
        run_client(addr, bystanders as usize, Duration::from_millis(ms))
    };
    let (line, code) = match result {
        Ok(report) => (report.to_line(), 0),
        Err(e) => (format!("error: {e}"), 1),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    code
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| s.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("timeouts: {e}"))?;
    Ok(s)
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Connects the flooder and the bystanders, floods for `window` while the
/// bystanders time their echoes, then closes everything and checks that
/// every byte came back.
fn run_client(
    addr: SocketAddr,
    bystanders: usize,
    window: Duration,
) -> Result<FloodReport, String> {
    let flood = connect(addr)?;
    let flood_reader = flood.try_clone().map_err(|e| format!("clone: {e}"))?;
    let mut bys = Vec::with_capacity(bystanders);
    for _ in 0..bystanders {
        bys.push(connect(addr)?);
    }
    // Every thread waits for the same start, far enough ahead that all of
    // them exist by then.
    let t0 =
        Instant::now() + Duration::from_millis(50) + Duration::from_micros(200) * bystanders as u32;
    let end = t0 + window;
    let writer = std::thread::spawn(move || flood_write(flood, t0, end));
    let reader = std::thread::spawn(move || flood_read(flood_reader, end));
    let mut timed = Vec::with_capacity(bystanders);
    for (i, s) in bys.into_iter().enumerate() {
        // Spread the bystanders' sends evenly over one period.
        let first = t0 + PERIOD * i as u32 / bystanders as u32;
        let handle = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || bystander(s, i as u64, first, end))
            .map_err(|e| format!("bystander thread: {e}"))?;
        timed.push(handle);
    }
    let mut samples = Vec::new();
    let mut sent = 0u64;
    let mut first_err = None;
    for (i, h) in timed.into_iter().enumerate() {
        match h.join() {
            Ok(Ok((lat, bytes))) => {
                samples.extend(lat);
                sent += bytes;
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(format!("bystander {i}: {e}"));
            }
            Err(_) => {
                first_err.get_or_insert(format!("bystander {i} panicked"));
            }
        }
    }
    let written = writer.join().map_err(|_| "flood writer panicked")?;
    let read = reader.join().map_err(|_| "flood reader panicked")?;
    if let Some(e) = first_err {
        return Err(e);
    }
    let written = written.map_err(|e| format!("flooder write: {e}"))?;
    let (window_bytes, total_read) = read.map_err(|e| format!("flooder read: {e}"))?;
    if total_read != written {
        return Err(format!(
            "flooder got {total_read} bytes back of {written} sent"
        ));
    }
    samples.sort_unstable();
    let q = |q| percentile(&samples, q).ok_or("no bystander message was timed");
    Ok(FloodReport {
        p50_ns: q(0.5)?,
        p99_ns: q(0.99)?,
        max_ns: q(1.0)?,
        samples: samples.len() as u64,
        window_bytes,
        window_ns: window.as_nanos() as u64,
        sent_bytes: sent + written,
    })
}

/// The flooder's writer: writes as fast as the socket takes it from `t0`
/// to `end` (at least one chunk), then half-closes. Returns the bytes written.
fn flood_write(mut s: TcpStream, t0: Instant, end: Instant) -> std::io::Result<u64> {
    let chunk: Vec<u8> = (0..FLOOD_CHUNK).map(|i| (i % 251) as u8).collect();
    let mut sent = 0u64;
    sleep_until(t0);
    // At least one chunk, however late this thread starts.
    loop {
        s.write_all(&chunk)?;
        sent += chunk.len() as u64;
        if Instant::now() >= end {
            break;
        }
    }
    s.shutdown(Shutdown::Write)?;
    Ok(sent)
}

/// The flooder's reader: reads the echo until the server closes. Returns
/// the bytes that arrived before `end`, and all bytes.
fn flood_read(mut s: TcpStream, end: Instant) -> std::io::Result<(u64, u64)> {
    let mut buf = vec![0u8; FLOOD_CHUNK];
    let mut total = 0u64;
    let mut in_window = None;
    loop {
        let k = s.read(&mut buf)?;
        if k == 0 {
            return Ok((in_window.unwrap_or(total), total));
        }
        if in_window.is_none() && Instant::now() >= end {
            in_window = Some(total);
        }
        total += k as u64;
    }
}

/// One bystander: from `first` until `end` (at least once), one
/// [`MESSAGE`]-byte message per [`PERIOD`] (a tick missed while waiting for an echo is skipped),
/// each echo checked and timed. Then half-closes and waits for the server
/// to close. Returns the latencies (ns) and the bytes sent.
fn bystander(
    mut s: TcpStream,
    id: u64,
    first: Instant,
    end: Instant,
) -> Result<(Vec<u64>, u64), String> {
    let mut lat = Vec::with_capacity(((end - first).as_millis() / PERIOD.as_millis() + 1) as usize);
    let mut msg = [0u8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    let mut next = first;
    let mut seq = 0u64;
    loop {
        sleep_until(next);
        // At least one message, however late this thread starts: every
        // bystander proves its connection was served.
        if seq > 0 && Instant::now() >= end {
            break;
        }
        msg[..8].copy_from_slice(&id.to_le_bytes());
        msg[8..16].copy_from_slice(&seq.to_le_bytes());
        let sent_at = Instant::now();
        s.write_all(&msg).map_err(|e| format!("write: {e}"))?;
        s.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
        lat.push(sent_at.elapsed().as_nanos() as u64);
        if back != msg {
            return Err(format!("echo of message {seq} differs"));
        }
        seq += 1;
        let now = Instant::now();
        next += PERIOD;
        while next <= now {
            next += PERIOD;
        }
    }
    s.shutdown(Shutdown::Write)
        .map_err(|e| format!("shutdown: {e}"))?;
    match s.read(&mut back) {
        Ok(0) => Ok((lat, seq * MESSAGE as u64)),
        Ok(_) => Err("bytes after the last echo".into()),
        Err(e) => Err(format!("waiting for close: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> FloodReport {
        FloodReport {
            p50_ns: 1_500_000,
            p99_ns: 2_300_000,
            max_ns: 4_000_000,
            samples: 50_000,
            window_bytes: 5_000_000_000,
            window_ns: 5_000_000_000,
            sent_bytes: 5_100_000_000,
        }
    }

    #[test]
    fn a_report_line_reads_back_as_the_same_report() {
        let r = report();
        assert_eq!(FloodReport::parse(&r.to_line()), Ok(r.clone()));
        assert_eq!(FloodReport::parse(&format!("{}\n", r.to_line())), Ok(r));
    }

    #[test]
    fn an_error_line_is_the_clients_error() {
        let e = FloodReport::parse("error: connect: refused").unwrap_err();
        assert!(e.contains("connect: refused"), "{e}");
        assert!(FloodReport::parse("").unwrap_err().contains("no report"));
    }

    #[test]
    fn a_report_with_a_missing_bad_repeated_or_unknown_field_is_rejected() {
        let line = report().to_line();
        let missing = line.replace(" samples=50000", "");
        assert!(
            FloodReport::parse(&missing)
                .unwrap_err()
                .contains("samples")
        );
        let bad = line.replace("p99_ns=2300000", "p99_ns=2.3");
        assert!(FloodReport::parse(&bad).unwrap_err().contains("p99_ns"));
        let repeated = format!("{line} p50_ns=1");
        assert!(
            FloodReport::parse(&repeated)
                .unwrap_err()
                .contains("repeats")
        );
        let unknown = format!("{line} extra=1");
        assert!(FloodReport::parse(&unknown).unwrap_err().contains("extra"));
        let no_pair = format!("{line} lonely");
        assert!(FloodReport::parse(&no_pair).is_err());
        let empty = line.replace("samples=50000", "samples=0");
        assert!(FloodReport::parse(&empty).is_err());
    }

    #[test]
    fn the_outcome_gives_milliseconds_and_megabytes_per_second() {
        let o = report()
            .outcome(5.2, 5_100_000_000, Usage::now().since())
            .unwrap();
        assert_eq!(o.secs, 5.2);
        assert_eq!(o.extra["p50_ms"], 1.5);
        assert_eq!(o.extra["p99_ms"], 2.3);
        assert_eq!(o.extra["max_ms"], 4.0);
        assert_eq!(o.extra["samples"], 50_000.0);
        assert_eq!(o.extra["flood_mb_s"], 1000.0);
    }

    #[test]
    fn the_outcome_fails_when_the_server_echoed_other_than_was_sent() {
        let e = report()
            .outcome(5.2, 5_099_999_936, Usage::now().since())
            .unwrap_err();
        assert!(e.contains("5099999936") && e.contains("5100000000"), "{e}");
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&v, 0.995), Some(100));
        assert_eq!(percentile(&v, 1.0), Some(100));
        assert_eq!(percentile(&v, 0.001), Some(1));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        let two = [10, 20];
        assert_eq!(percentile(&two, 0.5), Some(10));
        assert_eq!(percentile(&two, 0.51), Some(20));
    }

    #[test]
    fn percentiles_of_nothing_or_out_of_range_are_none() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[1, 2], 0.0), None);
        assert_eq!(percentile(&[1, 2], 1.5), None);
        assert_eq!(percentile(&[1, 2], f64::NAN), None);
    }

    #[test]
    fn the_client_process_rejects_sizes_out_of_range() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(client_main(addr, 0, 100), 1);
        assert_eq!(client_main(addr, 1, 0), 1);
    }

    #[test]
    fn a_flood_against_a_std_echo_server_reports_every_byte() {
        // A thread-per-connection echo server on an ephemeral port.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut conns = Vec::new();
            for _ in 0..3 {
                let (mut s, _) = l.accept().unwrap();
                conns.push(std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    let mut echoed = 0u64;
                    loop {
                        match s.read(&mut buf).unwrap() {
                            0 => return echoed,
                            n => {
                                s.write_all(&buf[..n]).unwrap();
                                echoed += n as u64;
                            }
                        }
                    }
                }));
            }
            conns.into_iter().map(|c| c.join().unwrap()).sum::<u64>()
        });
        let r = run_client(addr, 2, Duration::from_millis(100)).unwrap();
        let echoed = server.join().unwrap();
        assert_eq!(r.sent_bytes, echoed);
        assert!(r.samples >= 2, "every bystander times a message: {r:?}");
        assert!(r.p50_ns <= r.p99_ns && r.p99_ns <= r.max_ns, "{r:?}");
        assert!(r.window_bytes <= r.sent_bytes, "{r:?}");
        assert_eq!(r.window_ns, 100_000_000);
        let o = r.outcome(0.1, echoed, Usage::now().since()).unwrap();
        assert!(o.extra["flood_mb_s"] > 0.0);
    }
}
