//! Turning child results into what a person reads: per-run headline numbers,
//! medians per cell, one comfy-table per workload, JSON lines of raw runs,
//! and progress lines on stderr.
//!
//! Nothing here spawns processes or decides sizes; `main.rs` feeds it.

use std::collections::BTreeMap;
use std::io::Write;

use comfy_table::{Cell as TCell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use serde::Deserialize;
use serde_json::json;

use crate::plan::{Cell, Runtime, Workload};
use corun_bench::child::CHUNK;

/// One child's JSON line, as parsed by the parent.
#[derive(Debug, Clone, Deserialize)]
pub struct RunLine {
    /// Whether the workload validated.
    pub ok: bool,
    /// Why not, when not.
    #[serde(default)]
    pub reason: String,
    /// Measured wall time.
    #[serde(default)]
    pub secs: f64,
    /// Workload-specific numbers.
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
    /// RSS when the child started, KiB.
    #[serde(default)]
    pub rss_start_kb: f64,
    /// Peak RSS of the child, KiB.
    #[serde(default)]
    pub peak_rss_kb: f64,
}

/// The numbers of one good run.
#[derive(Debug, Clone, Copy)]
pub struct Numbers {
    /// Wall time, s.
    pub secs: f64,
    /// The workload's headline (see [`headline_name`]).
    pub headline: f64,
    /// Per-operation cost or second figure shown in the "per op" column.
    pub per_op: f64,
    /// Peak RSS, KiB.
    pub peak_kb: f64,
}

/// What became of one cell.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Median numbers plus notes (from the median run).
    Ok(Numbers, String),
    /// Failed validation, timed out or crashed, with the reason.
    Fail(String),
    /// Not applicable to this runtime.
    NotApplicable(&'static str),
    /// Not run (missing tool).
    Skip(String),
}

/// A finished cell.
pub struct Row {
    /// Which cell.
    pub cell: Cell,
    /// Its result.
    pub outcome: Outcome,
}

/// Headline label and whether higher is better, per child kind.
pub fn headline_name(kind: &str) -> (&'static str, bool) {
    match kind {
        "sleep" => ("overhead s", false),
        "spawn" => ("ns/task", false),
        "yield" => ("ns/yield", false),
        "pingpong" => ("ns/round trip", false),
        "timers-cancel" | "timers-fire" => ("ns/timer", false),
        "fileio" => ("MB/s", true),
        "urlfetch" => ("wall s", false),
        "httpd" => ("req/s", true),
        "conns" => ("B/conn", false),
        _ => ("value", false),
    }
}

/// Label of the second-figure column, per child kind; None where the
/// headline already is the per-operation cost.
fn per_op_name(kind: &str) -> Option<&'static str> {
    match kind {
        "sleep" => Some("RSS/task B"),
        "fileio" => Some("µs/write"),
        "urlfetch" => Some("µs/fetch"),
        "httpd" => Some("p99 ms"),
        "conns" => Some("µs/accept"),
        _ => None,
    }
}

/// Computes the numbers of one good run.
pub fn numbers(cell: &Cell, r: &RunLine) -> Numbers {
    let n = cell.n.max(1) as f64;
    let ns_per_op = r.secs * 1e9 / n;
    let x = |k: &str| r.extra.get(k).copied().unwrap_or(0.0);
    let (headline, per_op) = match cell.kind {
        "sleep" => (
            r.secs - cell.param as f64 / 1000.0,
            (r.peak_rss_kb - r.rss_start_kb).max(0.0) * 1024.0 / n,
        ),
        "fileio" => {
            let writes = n * cell.param as f64;
            let bytes = writes * CHUNK as f64;
            (bytes / r.secs / 1e6, r.secs * 1e6 / writes)
        }
        "urlfetch" => (r.secs, r.secs * 1e6 / n),
        "httpd" => (x("req_per_s"), x("p99_ms")),
        "conns" => (
            (x("rss_after_kb") - x("rss_before_kb")).max(0.0) * 1024.0 / n,
            r.secs * 1e6 / n,
        ),
        _ => (ns_per_op, ns_per_op),
    };
    Numbers {
        secs: r.secs,
        headline,
        per_op,
        peak_kb: r.peak_rss_kb,
    }
}

/// Notes for one good run (listen overflows, latency, …).
pub fn notes(cell: &Cell, r: &RunLine) -> String {
    let x = |k: &str| r.extra.get(k).copied().unwrap_or(0.0);
    match cell.kind {
        "urlfetch" => {
            let cap = corun_bench::common::somaxconn();
            let mut s = format!("listen overflows {}", x("listen_overflows"));
            if cell.n > cap {
                s.push_str(&format!(" (backlog capped by somaxconn={cap})"));
            }
            match x("schedulers") {
                1.0 => s.push_str("; 1 scheduler"),
                2.0 => s.push_str("; 2 schedulers"),
                _ => {}
            }
            s
        }
        "httpd" => {
            let mut s = format!("p50 {:.2} ms, {} requests", x("p50_ms"), x("requests"));
            // Which side limits the rate (see `common::WrkRun`).
            if r.extra.contains_key("wrk_busy") {
                s.push_str(&format!(
                    "; busy: server {:.0} %, wrk {:.0} %; server {:.1} µs CPU/request",
                    x("server_busy") * 100.0,
                    x("wrk_busy") * 100.0,
                    x("server_busy") / x("req_per_s").max(1.0) * 1e6
                ));
            }
            s
        }
        "pingpong" if r.extra.contains_key("mpsc_ns") => {
            format!("sync::local; sync::mpsc {:.0} ns", x("mpsc_ns"))
        }
        "conns" => format!(
            "RSS {:.1} → {:.1} MiB",
            x("rss_before_kb") / 1024.0,
            x("rss_after_kb") / 1024.0
        ),
        "spawn" | "sleep" if r.extra.contains_key("sys_s") => usage_note(x),
        _ => String::new(),
    }
}

/// The CPU time of a measured region and the kernel's share of it (for a
/// million tasks, mostly zeroing fresh pages), with its page faults.
fn usage_note(x: impl Fn(&str) -> f64) -> String {
    let (user, sys) = (x("user_s"), x("sys_s"));
    format!(
        "CPU {:.0} ms, kernel {:.0} %; {:.1}k page faults",
        (user + sys) * 1e3,
        sys / (user + sys).max(1e-9) * 100.0,
        x("minor_faults") / 1e3
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Folds the runs of one cell: any failure fails the cell; else medians.
pub fn fold(cell: &Cell, runs: &[Result<RunLine, String>]) -> Outcome {
    let mut good = Vec::new();
    for r in runs {
        match r {
            Ok(line) if line.ok => good.push(line),
            Ok(line) => return Outcome::Fail(line.reason.clone()),
            Err(e) => return Outcome::Fail(e.clone()),
        }
    }
    if good.is_empty() {
        return Outcome::Fail("no runs".into());
    }
    let nums: Vec<Numbers> = good.iter().map(|r| numbers(cell, r)).collect();
    let med = Numbers {
        secs: median(nums.iter().map(|n| n.secs).collect()),
        headline: median(nums.iter().map(|n| n.headline).collect()),
        per_op: median(nums.iter().map(|n| n.per_op).collect()),
        peak_kb: median(nums.iter().map(|n| n.peak_kb).collect()),
    };
    // Notes come from the run whose headline is closest to the median.
    let pick = nums
        .iter()
        .enumerate()
        .min_by(|a, b| {
            (a.1.headline - med.headline)
                .abs()
                .total_cmp(&(b.1.headline - med.headline).abs())
        })
        .map(|(i, _)| i)
        .unwrap_or(0);
    Outcome::Ok(med, notes(cell, good[pick]))
}

/// Formats a number with a sensible precision.
fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

fn fmt_kb(kb: f64) -> String {
    if kb >= 1024.0 {
        format!("{:.1} MiB", kb / 1024.0)
    } else {
        format!("{kb:.0} KiB")
    }
}

/// The runtime peers are compared against: corun when in the run, else the
/// first of tokio-ct or the first runtime present.
pub fn base_runtime(rows: &[Row]) -> Option<Runtime> {
    let has = |rt: Runtime| rows.iter().any(|r| r.cell.runtime == rt);
    [Runtime::Corun, Runtime::TokioCt]
        .into_iter()
        .find(|&rt| has(rt))
        .or_else(|| rows.first().map(|r| r.cell.runtime))
}

/// Renders the table of one workload.
pub fn table(workload: Workload, rows: &[Row]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let base = base_runtime(rows).unwrap_or(Runtime::Corun);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let (hl, _) = headline_name(first.cell.kind);
    let second = per_op_name(first.cell.kind);
    let mut header = vec!["case", "runtime", "median time s", hl];
    header.extend(second);
    header.extend(["peak RSS", "notes"]);
    let ratio_name = format!("{hl} ÷ {}", base.name());
    header.push(&ratio_name);
    t.set_header(header);
    for r in rows {
        let base_val = rows
            .iter()
            .find(|b| b.cell.group() == r.cell.group() && b.cell.runtime == base)
            .and_then(|b| match &b.outcome {
                Outcome::Ok(n, _) => Some(n.headline),
                _ => None,
            });
        let mut line = vec![TCell::new(r.cell.case()), TCell::new(r.cell.runtime.name())];
        match &r.outcome {
            Outcome::Ok(n, note) => {
                let ratio = match base_val {
                    Some(b) if b.abs() > f64::EPSILON => format!("{:.2}", n.headline / b),
                    _ => "—".into(),
                };
                line.extend([
                    TCell::new(fmt_num(n.secs)).set_alignment(CellAlignment::Right),
                    TCell::new(fmt_num(n.headline)).set_alignment(CellAlignment::Right),
                ]);
                if second.is_some() {
                    line.push(TCell::new(fmt_num(n.per_op)).set_alignment(CellAlignment::Right));
                }
                line.extend([
                    TCell::new(fmt_kb(n.peak_kb)).set_alignment(CellAlignment::Right),
                    TCell::new(note),
                    TCell::new(ratio).set_alignment(CellAlignment::Right),
                ]);
            }
            other => {
                let text = match other {
                    Outcome::Fail(why) => format!("FAIL: {why}"),
                    Outcome::NotApplicable(why) => why.to_string(),
                    Outcome::Skip(why) => format!("SKIP: {why}"),
                    Outcome::Ok(..) => unreachable!("handled above"),
                };
                line.push(TCell::new(text));
                let blanks = if second.is_some() { 5 } else { 4 };
                line.extend((0..blanks).map(|_| TCell::new("")));
            }
        }
        t.add_row(line);
    }
    let title = match workload {
        Workload::Timers => "timers (armed then cancelled; armed and fired)".to_string(),
        w => w.name().to_string(),
    };
    format!("\n== {title} ==\n{t}\n")
}

/// Appends one raw run to the JSON-lines sink.
pub fn json_line(
    out: &mut impl Write,
    cell: &Cell,
    run: u32,
    r: &Result<RunLine, String>,
) -> std::io::Result<()> {
    let base = json!({
        "workload": cell.workload.name(),
        "case": cell.kind,
        "n": cell.n,
        "param": cell.param,
        "runtime": cell.runtime.name(),
        "run": run,
    });
    let mut v = base;
    let obj = v.as_object_mut().expect("literal object");
    match r {
        Ok(line) if line.ok => {
            let nums = numbers(cell, line);
            obj.insert("ok".into(), json!(true));
            obj.insert("secs".into(), json!(line.secs));
            obj.insert("headline".into(), json!(nums.headline));
            obj.insert("headline_unit".into(), json!(headline_name(cell.kind).0));
            obj.insert("per_op".into(), json!(nums.per_op));
            obj.insert("peak_rss_kb".into(), json!(line.peak_rss_kb));
            obj.insert("rss_start_kb".into(), json!(line.rss_start_kb));
            obj.insert("extra".into(), json!(line.extra));
        }
        Ok(line) => {
            obj.insert("ok".into(), json!(false));
            obj.insert("reason".into(), json!(line.reason));
        }
        Err(e) => {
            obj.insert("ok".into(), json!(false));
            obj.insert("reason".into(), json!(e));
        }
    }
    writeln!(out, "{v}")?;
    out.flush()
}

/// One progress line on stderr.
pub fn progress(
    done: usize,
    total: usize,
    cell: &Cell,
    run: u32,
    runs: u32,
    r: &Result<RunLine, String>,
) {
    let what = match r {
        Ok(line) if line.ok => {
            let n = numbers(cell, line);
            format!("{} {}", fmt_num(n.headline), headline_name(cell.kind).0)
        }
        Ok(line) => format!("FAIL: {}", line.reason),
        Err(e) => format!("FAIL: {e}"),
    };
    eprintln!(
        "[{done:>3}/{total}] {:<9} {:<26} {:<8} run {run}/{runs}: {what}",
        cell.workload.name(),
        cell.case(),
        cell.runtime.name(),
    );
}
