//! The child side of one cell: raise the open-file limit, build the
//! [`Work`], run it on the chosen peer, validate what only the driver can
//! check (fileio bytes on disk), and print exactly one JSON line on stdout.
//!
//! Nothing here chooses sizes or prints tables; this is the only code in a
//! child process that writes to stdout.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::common::{self, Outcome, Work};
use crate::peers;
use crate::plan::Runtime;

/// Bytes per fileio write.
pub const CHUNK: usize = 32 * 1024;

/// Runs one cell and prints its JSON line. Returns the process exit code.
pub fn main(runtime: &str, kind: &str, n: u64, param: u64) -> i32 {
    common::raise_nofile();
    let rss_start_kb = common::current_rss_kb();
    let result = match Runtime::from_name(runtime) {
        None => Err(format!("unknown runtime {runtime}")),
        Some(rt) => build(kind, n, param).and_then(|work| run_checked(rt, work)),
    };
    let line = match result {
        Ok(o) => json!({
            "ok": true,
            "secs": o.secs,
            "extra": o.extra,
            "rss_start_kb": rss_start_kb,
            "peak_rss_kb": common::peak_rss_kb(),
        }),
        Err(reason) => json!({ "ok": false, "reason": reason }),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    0
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
        "fileio" => Work::FileIo {
            tasks: n,
            writes: param,
            chunk: CHUNK,
            dir: scratch_dir(),
        },
        "urlfetch" => Work::UrlFetch { n },
        "httpd" => Work::Httpd { secs: n },
        "conns" => Work::Conns { n },
        other => return Err(format!("unknown workload {other}")),
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
fn run_checked(rt: Runtime, work: Work) -> Result<Outcome, String> {
    if let Work::FileIo { dir, .. } = &work {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    let result = catch_unwind(AssertUnwindSafe(|| dispatch(rt, &work)))
        .unwrap_or_else(|p| Err(format!("panic: {}", panic_text(&*p))));
    if let Work::FileIo {
        tasks,
        writes,
        chunk,
        dir,
    } = &work
    {
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

fn dispatch(rt: Runtime, work: &Work) -> Result<Outcome, String> {
    match rt {
        Runtime::Thread => peers::thread::run(work),
        Runtime::TokioCt => peers::tokio_rt::run(work, false),
        Runtime::TokioMt => peers::tokio_rt::run(work, true),
        Runtime::Smol => peers::smol_rt::run(work),
        Runtime::May => peers::may_rt::run(work),
        #[cfg(feature = "corun")]
        Runtime::Corun => peers::corun_rt::run(work),
        #[cfg(not(feature = "corun"))]
        Runtime::Corun => Err("built without the `corun` cargo feature".into()),
    }
}
