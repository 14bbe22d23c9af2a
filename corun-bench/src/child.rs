//! The child side of one cell, shared by every per-runtime child binary
//! (`src/bin/corun-bench-child-*.rs`): read the cell from the command line,
//! raise the open-file limit, build the [`Work`], run it on the binary's
//! peer, validate what only the driver can check (fileio bytes on disk), and
//! print exactly one JSON line on stdout. The same binaries also serve as the
//! `conns` client process (`conns-client ADDR N`) and the `flood` client
//! process (`flood-client ADDR BYSTANDERS MS`).
//!
//! Nothing here chooses sizes or prints tables, and nothing here names a
//! runtime: the child binary hands in its runners, so it links only its own
//! peer. No clap and no serde either (the JSON line is written by hand), so
//! the child carries none of the parent's harness. This is the only code in
//! a child process that writes to stdout.

use std::fmt::Write as _;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::common::{self, Outcome, Work};
use crate::cores::CoresWork;

/// Bytes per fileio write.
pub const CHUNK: usize = 32 * 1024;

/// Runs one workload on one runtime (a peer's `run`).
pub type Runner = fn(&Work) -> Result<Outcome, String>;

/// The whole `main` of a child binary. `runners` maps the runtime names this
/// binary serves (as the parent spells them) to their runner.
///
/// Command lines: `<runtime> <kind> <n> <param>` runs one cell and prints its
/// JSON line; `conns-client <addr> <n>` is the `conns` client process;
/// `flood-client <addr> <bystanders> <ms>` is the `flood` client process.
pub fn main(runners: &[(&str, Runner)]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.as_slice() {
        [cmd, addr, n] if cmd == "conns-client" => match (addr.parse(), n.parse()) {
            (Ok(addr), Ok(n)) => common::conns_client_main(addr, n),
            _ => usage(),
        },
        [cmd, addr, n, ms] if cmd == "flood-client" => {
            match (addr.parse(), n.parse(), ms.parse()) {
                (Ok(addr), Ok(n), Ok(ms)) => crate::flood::client_main(addr, n, ms),
                _ => usage(),
            }
        }
        [runtime, kind, n, param] => match (n.parse(), param.parse()) {
            (Ok(n), Ok(param)) => {
                let runner = runners.iter().find(|(name, _)| name == runtime);
                run_cell(runner.map(|r| r.1), runtime, kind, n, param)
            }
            _ => usage(),
        },
        _ => usage(),
    };
    ExitCode::from(code as u8)
}

fn usage() -> i32 {
    eprintln!(
        "usage: <runtime> <kind> <n> <param> | conns-client <addr> <n> | \
         flood-client <addr> <bystanders> <ms> (started by corun-bench, not by hand)"
    );
    2
}

/// Runs one cell and prints its JSON line. Returns the process exit code.
fn run_cell(runner: Option<Runner>, runtime: &str, kind: &str, n: u64, param: u64) -> i32 {
    common::raise_nofile();
    let rss_start_kb = common::current_rss_kb();
    let result = match runner {
        None => Err(format!("this child binary does not run {runtime}")),
        Some(run) => build(kind, n, param).and_then(|work| run_checked(run, work)),
    };
    // Before the line is formatted: the peak is the workload's.
    let peak_rss_kb = common::peak_rss_kb();
    let line = match result {
        Ok(o) => {
            let mut extra = String::new();
            for (k, v) in &o.extra {
                let sep = if extra.is_empty() { "" } else { "," };
                let _ = write!(extra, "{sep}{}:{}", json_str(k), json_num(*v));
            }
            format!(
                "{{\"ok\":true,\"secs\":{},\"extra\":{{{extra}}},\"rss_start_kb\":{rss_start_kb},\"peak_rss_kb\":{peak_rss_kb}}}",
                json_num(o.secs),
            )
        }
        Err(reason) => format!("{{\"ok\":false,\"reason\":{}}}", json_str(&reason)),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    0
}

/// A JSON number; non-finite values become `null`, which the parent rejects
/// as a bad line instead of reading a made-up number.
fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn build(kind: &str, n: u64, param: u64) -> Result<Work, String> {
    Ok(match kind {
        "sleep" => Work::Sleep {
            n,
            dur: Duration::from_millis(param),
        },
        "spawn" => Work::Spawn { n },
        "yield" => Work::Yield { n },
        "pingpong" => Work::PingPong { n },
        "timers-cancel" => Work::TimersCancel { n },
        "timers-fire" => Work::TimersFire { n },
        // `fileio-uring` is the same program; the parent sets
        // CORUN_FS_URING=1 for it (corun's tuned row).
        "fileio" | "fileio-uring" => Work::FileIo {
            tasks: n,
            writes: param,
            chunk: CHUNK,
            dir: scratch_dir(),
        },
        // A second parameter on urlfetch and httpd is a core count.
        "urlfetch" | "urlfetch-tuned" | "httpd" | "cores" | "cores-tuned" if param > 0 => {
            Work::Cores(cores_work(kind, n, param)?)
        }
        "urlfetch" => Work::UrlFetch { n },
        "httpd" => Work::Httpd { secs: n },
        "conns" => Work::Conns { n },
        "flood" => Work::Flood {
            bystanders: n,
            ms: param,
        },
        other => return Err(format!("unknown workload {other}")),
    })
}

/// The multi-core cell `kind` of size `n` on `cores` cores.
fn cores_work(kind: &str, n: u64, cores: u64) -> Result<CoresWork, String> {
    let cores = usize::try_from(cores).map_err(|_| format!("bad core count {cores}"))?;
    Ok(match kind {
        "cores" | "cores-tuned" => CoresWork::Mix {
            tasks: n,
            rounds: crate::cores::ROUNDS,
            cores,
            tuned: kind == "cores-tuned",
        },
        "urlfetch" | "urlfetch-tuned" => CoresWork::UrlFetch {
            n,
            cores,
            tuned: kind == "urlfetch-tuned",
        },
        _ => CoresWork::Httpd { secs: n, cores },
    })
}

fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("corun-bench-{}-{nanos}", std::process::id()))
}

/// Runs the peer with panics turned into errors, plus driver-side checks.
fn run_checked(run: Runner, work: Work) -> Result<Outcome, String> {
    if let Work::FileIo { dir, .. } = &work {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    let used = common::Usage::now();
    let result = catch_unwind(AssertUnwindSafe(|| run(&work)))
        .unwrap_or_else(|p| Err(format!("panic: {}", panic_text(&*p))));
    if let Work::FileIo {
        tasks,
        writes,
        chunk,
        dir,
    } = &work
    {
        // The CPU time of the whole run (runtime start and stop included,
        // the check and the clean-up below not): CPU per MB written.
        let result = result.map(|o| o.with_usage(used.since()));
        let checked = result.and_then(|o| {
            check_files(dir, *tasks, *writes * *chunk as u64)?;
            Ok(o)
        });
        let _ = std::fs::remove_dir_all(dir);
        return checked;
    }
    result
}

fn check_files(dir: &std::path::Path, tasks: u64, want: u64) -> Result<(), String> {
    for i in 0..tasks {
        let p = dir.join(format!("f{i}"));
        let len = std::fs::metadata(&p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .len();
        if len != want {
            return Err(format!("file f{i}: {len} bytes, want {want}"));
        }
    }
    Ok(())
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".into()
    }
}
