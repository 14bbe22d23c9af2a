//! Turning child results into what a person reads: per-run headline numbers,
//! medians and spreads per cell, the ratio wording ("corun N× better"), one
//! comfy-table per workload, JSON lines of raw runs, and progress lines on
//! stderr.
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
    /// The further figures of [`more_columns`] (unused slots: 0).
    pub more: [f64; MORE],
    /// How far the runs behind these numbers spread.
    pub spread: Spread,
}

/// The range of a cell's runs: min and max of the headline and of the
/// second figure, over `runs` good runs (one run: its own values).
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    /// Good runs folded.
    pub runs: usize,
    /// Headline (min, max).
    pub headline: (f64, f64),
    /// Second figure (min, max).
    pub per_op: (f64, f64),
    /// Further figures (min, max).
    pub more: [(f64, f64); MORE],
}

/// Most further figures a table shows besides the headline and the second.
pub const MORE: usize = 2;

/// What became of one cell.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Median numbers plus notes (from the median run).
    Ok(Numbers, String),
    /// Failed validation, timed out or crashed, with the reason.
    Fail(String),
    /// Not applicable to this runtime.
    NotApplicable(&'static str),
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
        "fileio" | "fileio-uring" => ("MB/s", true),
        "urlfetch" | "urlfetch-tuned" => ("wall s", false),
        "httpd" => ("server CPU µs/request", false),
        "conns" => ("B/conn", false),
        "flood" => ("bystander p99 ms", false),
        "cores" | "cores-tuned" => ("wall s", false),
        _ => ("value", false),
    }
}

/// Label of the second-figure column, per child kind; None where the
/// headline already is the per-operation cost.
fn per_op_name(kind: &str) -> Option<&'static str> {
    match kind {
        "sleep" => Some("RSS/task B"),
        "fileio" | "fileio-uring" => Some("µs/write"),
        "urlfetch" | "urlfetch-tuned" => Some("µs/fetch"),
        "httpd" => Some("p99 ms"),
        "conns" => Some("µs/accept"),
        "flood" => Some("flooder MB/s"),
        "cores" | "cores-tuned" => Some("µs/round"),
        _ => None,
    }
}

/// Whether the second figure is a target of its own (so the table compares
/// it too), and if so whether higher is better.
fn per_op_higher_better(kind: &str) -> Option<bool> {
    match kind {
        "flood" => Some(true),
        "httpd" => Some(false),
        _ => None,
    }
}

/// Figures shown after the second one, each with its spread: (label, key of
/// the run's extra numbers). At most [`MORE`].
fn more_columns(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "httpd" => &[("req/s", "req_per_s"), ("p50 ms", "p50_ms")],
        _ => &[],
    }
}

/// The server's CPU µs (user + system) per request served while the load ran;
/// from the busy share for runs that did not record the CPU seconds.
fn cpu_us_per_request(x: impl Fn(&str) -> f64, has: impl Fn(&str) -> bool) -> f64 {
    if has("server_cpu_s") {
        x("server_cpu_s") / x("requests").max(1.0) * 1e6
    } else {
        x("server_busy") / x("req_per_s").max(1.0) * 1e6
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
        "fileio" | "fileio-uring" => {
            let writes = n * cell.param as f64;
            let bytes = writes * CHUNK as f64;
            (bytes / r.secs / 1e6, r.secs * 1e6 / writes)
        }
        "urlfetch" | "urlfetch-tuned" => (r.secs, r.secs * 1e6 / n),
        "httpd" => (
            cpu_us_per_request(x, |k| r.extra.contains_key(k)),
            x("p99_ms"),
        ),
        "conns" => (
            (x("rss_after_kb") - x("rss_before_kb")).max(0.0) * 1024.0 / n,
            r.secs * 1e6 / n,
        ),
        "flood" => (x("p99_ms"), x("flood_mb_s")),
        "cores" | "cores-tuned" => (
            r.secs,
            r.secs * 1e6 / (n * f64::from(corun_bench::cores::ROUNDS)),
        ),
        _ => (ns_per_op, ns_per_op),
    };
    let mut more = [0.0; MORE];
    for (slot, (_, key)) in more.iter_mut().zip(more_columns(cell.kind)) {
        *slot = x(key);
    }
    Numbers {
        secs: r.secs,
        headline,
        per_op,
        peak_kb: r.peak_rss_kb,
        more,
        spread: Spread {
            runs: 1,
            headline: (headline, headline),
            per_op: (per_op, per_op),
            more: more.map(|v| (v, v)),
        },
    }
}

/// Notes for one good run (latency, …); a urlfetch cell's listen
/// overflows come from every run instead (see [`overflows_note`]).
pub fn notes(cell: &Cell, r: &RunLine) -> String {
    let x = |k: &str| r.extra.get(k).copied().unwrap_or(0.0);
    match cell.kind {
        "urlfetch" | "urlfetch-tuned" => {
            let mut s = String::new();
            let cap = corun_bench::common::somaxconn();
            if cell.n > cap {
                s.push_str(&format!("; backlog capped by somaxconn={cap}"));
            }
            match x("schedulers") {
                1.0 => s.push_str("; 1 scheduler"),
                2.0 => s.push_str("; 2 schedulers"),
                _ => {}
            }
            s
        }
        "httpd" => {
            let mut s = format!("{} requests", x("requests"));
            // Which side limits the rate (see `common::LoadRun`), and what
            // the generator itself costs per request.
            if r.extra.contains_key("load_busy") {
                s.push_str(&format!(
                    "; busy: server {:.0} %, {} {:.0} % ({:.2} µs/request)",
                    x("server_busy") * 100.0,
                    if x("load_wrk") > 0.0 { "wrk" } else { "load" },
                    x("load_busy") * 100.0,
                    x("load_cpu_s") / x("requests").max(1.0) * 1e6,
                ));
            }
            s
        }
        "pingpong" if r.extra.contains_key("mpsc_ns") => format!(
            "sync::local; sync::mpsc {:.0} ns; async-channel {:.0} ns",
            x("mpsc_ns"),
            x("ac_ns")
        ),
        "pingpong" if r.extra.contains_key("ac_ns") => {
            format!("async-channel {:.0} ns", x("ac_ns"))
        }
        "flood" => format!(
            "bystanders p50 {:.2} ms, max {:.1} ms; {} echoes timed; server CPU {:.0} %",
            x("p50_ms"),
            x("max_ms"),
            x("samples"),
            x("server_busy") * 100.0
        ),
        "conns" => format!(
            "RSS {:.1} → {:.1} MiB",
            x("rss_before_kb") / 1024.0,
            x("rss_after_kb") / 1024.0
        ),
        "spawn" | "sleep" if r.extra.contains_key("sys_s") => usage_note(x),
        "fileio" | "fileio-uring" if r.extra.contains_key("sys_s") => {
            let mb = (cell.n * cell.param) as f64 * CHUNK as f64 / 1e6;
            format!(
                "CPU {:.2} ms/MB",
                (x("user_s") + x("sys_s")) * 1e3 / mb.max(1e-9)
            )
        }
        "cores" | "cores-tuned" => crate::scaling::cores_note(r.secs, &r.extra),
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

/// The (min, max) of `v`; NaN for none.
fn range(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().min_by(f64::total_cmp);
    let max = v.iter().copied().max_by(f64::total_cmp);
    (min.unwrap_or(f64::NAN), max.unwrap_or(f64::NAN))
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
    let headlines: Vec<f64> = nums.iter().map(|n| n.headline).collect();
    let per_ops: Vec<f64> = nums.iter().map(|n| n.per_op).collect();
    let mores: [Vec<f64>; MORE] = std::array::from_fn(|i| nums.iter().map(|n| n.more[i]).collect());
    let med = Numbers {
        secs: median(nums.iter().map(|n| n.secs).collect()),
        headline: median(headlines.clone()),
        per_op: median(per_ops.clone()),
        peak_kb: median(nums.iter().map(|n| n.peak_kb).collect()),
        more: std::array::from_fn(|i| median(mores[i].clone())),
        spread: Spread {
            runs: nums.len(),
            headline: range(&headlines),
            per_op: range(&per_ops),
            more: std::array::from_fn(|i| range(&mores[i])),
        },
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
    let note = notes(cell, good[pick]);
    let note = match cell.kind {
        "urlfetch" | "urlfetch-tuned" => format!("{}{note}", overflows_note(&good)),
        _ => note,
    };
    Outcome::Ok(med, note)
}

/// The listen-queue overflows of every run of a cell, in run order: one
/// overflow costs its client a SYN retransmit (a second), so a cell whose
/// median run had none may still have runs that did. The count is the
/// kernel's, system-wide (`TcpExt ListenOverflows`).
fn overflows_note(runs: &[&RunLine]) -> String {
    let each: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{:.0}",
                r.extra.get("listen_overflows").copied().unwrap_or(0.0)
            )
        })
        .collect();
    let word = if runs.len() > 1 { " (each run)" } else { "" };
    format!("listen overflows {}{word}", each.join(", "))
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

/// A median with the range of its runs: `2.31 (2.10–2.60)`; the bare
/// value for a single run.
fn fmt_spread(median: f64, (min, max): (f64, f64), runs: usize) -> String {
    if runs > 1 {
        format!("{} ({}–{})", fmt_num(median), fmt_num(min), fmt_num(max))
    } else {
        fmt_num(median)
    }
}

/// How `base` (corun) compares with a peer on one metric, in words that
/// read the same way in every table: `corun 2.50× better`, `corun 1.30×
/// worse`, `corun level` within half a percent. The factor is always ≥ 1,
/// taken the right way round for metrics where `higher_better` or lower is.
/// `—` when either value is missing, zero or negative.
pub fn ratio_words(base: &str, base_v: f64, peer_v: f64, higher_better: bool) -> String {
    let usable = |v: f64| v.is_finite() && v > 0.0;
    if !usable(base_v) || !usable(peer_v) {
        return "—".into();
    }
    // > 1 when the base is better.
    let edge = if higher_better {
        base_v / peer_v
    } else {
        peer_v / base_v
    };
    if (edge - 1.0).abs() < 0.005 {
        return format!("{base} level");
    }
    let (factor, word) = if edge > 1.0 {
        (edge, "better")
    } else {
        (1.0 / edge, "worse")
    };
    let factor = if factor >= 100.0 {
        format!("{factor:.0}")
    } else if factor >= 10.0 {
        format!("{factor:.1}")
    } else {
        format!("{factor:.2}")
    };
    format!("{base} {factor}× {word}")
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

/// Renders the table of one workload. Value cells show the median of the
/// cell's runs and, with several runs, their range; the ratio columns say
/// how the base runtime (corun) compares with each other row.
pub fn table(workload: Workload, rows: &[Row]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let kind = first.cell.kind;
    let base = base_runtime(rows).unwrap_or(Runtime::Corun);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let (hl, hl_higher_better) = headline_name(kind);
    let second = per_op_name(kind);
    let second_ratio = second.zip(per_op_higher_better(kind));
    let mut header = vec!["case".to_string(), "runtime".into(), "median time s".into()];
    header.push(hl.into());
    header.extend(second.map(String::from));
    let more = more_columns(kind);
    header.extend(more.iter().map(|(label, _)| label.to_string()));
    header.extend(["peak RSS".into(), "notes".into()]);
    header.push(format!("{} vs peer, {hl}", base.name()));
    if let Some((name, _)) = second_ratio {
        header.push(format!("{} vs peer, {name}", base.name()));
    }
    let columns = header.len();
    t.set_header(header);
    for r in rows {
        let base_nums = rows
            .iter()
            .find(|b| b.cell.group() == r.cell.group() && b.cell.runtime == base)
            .and_then(|b| match &b.outcome {
                Outcome::Ok(n, _) => Some(*n),
                _ => None,
            });
        let mut line = vec![
            TCell::new(r.cell.case()),
            TCell::new(r.cell.runtime.label()),
        ];
        match &r.outcome {
            Outcome::Ok(n, note) => {
                let words = |b: f64, v: f64, higher_better: bool| {
                    if r.cell.runtime == base {
                        "—".to_string()
                    } else {
                        ratio_words(base.name(), b, v, higher_better)
                    }
                };
                let right = |s: String| TCell::new(s).set_alignment(CellAlignment::Right);
                line.extend([
                    right(fmt_num(n.secs)),
                    right(fmt_spread(n.headline, n.spread.headline, n.spread.runs)),
                ]);
                if second.is_some() {
                    line.push(right(fmt_spread(n.per_op, n.spread.per_op, n.spread.runs)));
                }
                for i in 0..more.len() {
                    line.push(right(fmt_spread(
                        n.more[i],
                        n.spread.more[i],
                        n.spread.runs,
                    )));
                }
                line.extend([right(fmt_kb(n.peak_kb)), TCell::new(note)]);
                let b = base_nums.map_or(f64::NAN, |b| b.headline);
                line.push(right(words(b, n.headline, hl_higher_better)));
                if let Some((_, higher_better)) = second_ratio {
                    let b = base_nums.map_or(f64::NAN, |b| b.per_op);
                    line.push(right(words(b, n.per_op, higher_better)));
                }
            }
            other => {
                let text = match other {
                    Outcome::Fail(why) => format!("FAIL: {why}"),
                    Outcome::NotApplicable(why) => why.to_string(),
                    Outcome::Ok(..) => unreachable!("handled above"),
                };
                line.push(TCell::new(text));
                line.extend((line.len()..columns).map(|_| TCell::new("")));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn flood_cell(runtime: Runtime) -> Cell {
        crate::plan::cells(&[Workload::Flood], &[runtime], false).remove(0)
    }

    fn flood_run(p99_ms: f64, mb_s: f64) -> Result<RunLine, String> {
        let extra = [
            ("p50_ms", p99_ms / 2.0),
            ("p99_ms", p99_ms),
            ("max_ms", p99_ms * 2.0),
            ("samples", 50_000.0),
            ("flood_mb_s", mb_s),
        ];
        Ok(RunLine {
            ok: true,
            reason: String::new(),
            secs: 5.1,
            extra: extra.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            rss_start_kb: 2048.0,
            peak_rss_kb: 4096.0,
        })
    }

    #[test]
    fn lower_is_better_metrics_call_a_smaller_base_better() {
        assert_eq!(ratio_words("corun", 2.0, 5.0, false), "corun 2.50× better");
        assert_eq!(ratio_words("corun", 5.0, 2.0, false), "corun 2.50× worse");
    }

    #[test]
    fn higher_is_better_metrics_call_a_larger_base_better() {
        assert_eq!(
            ratio_words("corun", 900.0, 1000.0, true),
            "corun 1.11× worse"
        );
        assert_eq!(
            ratio_words("corun", 1000.0, 900.0, true),
            "corun 1.11× better"
        );
    }

    #[test]
    fn ratio_words_round_large_factors_and_call_near_equal_level() {
        assert_eq!(ratio_words("corun", 1.0, 42.0, false), "corun 42.0× better");
        assert_eq!(ratio_words("corun", 1.0, 420.0, false), "corun 420× better");
        assert_eq!(ratio_words("corun", 1.0, 1.004, false), "corun level");
        assert_eq!(
            ratio_words("tokio-ct", 1.0, 2.0, true),
            "tokio-ct 2.00× worse"
        );
    }

    #[test]
    fn ratio_words_refuse_missing_zero_or_negative_values() {
        for (b, v) in [
            (f64::NAN, 1.0),
            (1.0, 0.0),
            (-1.0, 1.0),
            (1.0, f64::INFINITY),
        ] {
            assert_eq!(ratio_words("corun", b, v, false), "—", "{b} {v}");
        }
    }

    #[test]
    fn a_spread_shows_the_range_only_for_several_runs() {
        assert_eq!(fmt_spread(2.31, (2.1, 2.6), 5), "2.310 (2.100–2.600)");
        assert_eq!(fmt_spread(2.31, (2.31, 2.31), 1), "2.310");
    }

    #[test]
    fn folding_flood_runs_gives_median_p99_and_mb_s_with_their_ranges() {
        let cell = flood_cell(Runtime::Corun);
        let runs = [
            flood_run(3.0, 900.0),
            flood_run(1.0, 1100.0),
            flood_run(2.0, 1000.0),
        ];
        let Outcome::Ok(n, note) = fold(&cell, &runs) else {
            panic!("three good runs fold to a result");
        };
        assert_eq!((n.headline, n.per_op), (2.0, 1000.0));
        assert_eq!(n.spread.runs, 3);
        assert_eq!(n.spread.headline, (1.0, 3.0));
        assert_eq!(n.spread.per_op, (900.0, 1100.0));
        assert!(note.contains("p50 1.00 ms"), "{note}");
    }

    fn httpd_run(cpu_s: f64, requests: f64, p99_ms: f64) -> Result<RunLine, String> {
        let extra = [
            ("req_per_s", requests / 5.0),
            ("p50_ms", p99_ms / 4.0),
            ("p99_ms", p99_ms),
            ("requests", requests),
            ("server_busy", cpu_s / 5.0),
            ("server_cpu_s", cpu_s),
            ("load_busy", 1.0),
            ("load_cpu_s", 2.0),
            ("load_wrk", 0.0),
        ];
        Ok(RunLine {
            ok: true,
            reason: String::new(),
            secs: 5.0,
            extra: extra.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            rss_start_kb: 2048.0,
            peak_rss_kb: 4096.0,
        })
    }

    #[test]
    fn the_httpd_table_leads_with_server_cpu_per_request_and_shows_rate_and_latency() {
        let cell = |rt| crate::plan::cells(&[Workload::Httpd], &[rt], false).remove(0);
        // 1.6 s of server CPU over 400 000 requests: 4 µs each.
        let corun = [
            httpd_run(1.6, 400_000.0, 0.8),
            httpd_run(1.8, 400_000.0, 0.6),
            httpd_run(1.5, 400_000.0, 1.0),
        ];
        let Outcome::Ok(n, note) = fold(&cell(Runtime::Corun), &corun) else {
            panic!("three good runs fold to a result");
        };
        assert!((n.headline - 4.0).abs() < 1e-9, "{}", n.headline);
        assert!((n.spread.headline.0 - 3.75).abs() < 1e-9);
        assert!((n.spread.headline.1 - 4.5).abs() < 1e-9);
        assert_eq!(n.per_op, 0.8);
        assert_eq!(n.more, [80_000.0, 0.2]);
        assert_eq!(n.spread.more[1], (0.15, 0.25));
        // 2 s of generator CPU over 400 000 requests: 5 µs each.
        assert!(
            note.contains("busy: server") && note.contains("load 100 % (5.00 µs/request)"),
            "{note}"
        );
        let rows = [
            Row {
                cell: cell(Runtime::Corun),
                outcome: fold(&cell(Runtime::Corun), &corun),
            },
            Row {
                cell: cell(Runtime::Epoll),
                outcome: fold(&cell(Runtime::Epoll), &[httpd_run(1.2, 400_000.0, 0.4)]),
            },
        ];
        let text = table(Workload::Httpd, &rows);
        let header = text.lines().find(|l| l.contains("runtime")).unwrap();
        let at = |s: &str| header.find(s).unwrap_or_else(|| panic!("{s}: {header}"));
        assert!(at("server CPU µs/request") < at("p99 ms"), "{header}");
        assert!(
            at("p99 ms") < at("req/s") && at("req/s") < at("p50 ms"),
            "{header}"
        );
        assert!(text.contains("4.000 (3.750–4.500)"), "{text}");
        assert!(
            text.contains("epoll (raw, no runtime; reference)"),
            "{text}"
        );
        // 4 µs against the reference's 3 µs; p99 0.8 against 0.4.
        assert!(text.contains("corun 1.33× worse"), "{text}");
        assert!(text.contains("corun 2.00× worse"), "{text}");
    }

    #[test]
    fn a_urlfetch_cell_shows_the_listen_overflows_of_every_run() {
        let cell = crate::plan::cells(&[Workload::Urlfetch], &[Runtime::Corun], false)
            .into_iter()
            .find(|c| c.kind == "urlfetch" && c.n == 10_000)
            .unwrap();
        let run = |secs: f64, overflows: f64| -> Result<RunLine, String> {
            Ok(RunLine {
                ok: true,
                reason: String::new(),
                secs,
                extra: [("listen_overflows", overflows), ("schedulers", 1.0)]
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                rss_start_kb: 2048.0,
                peak_rss_kb: 4096.0,
            })
        };
        // The median run (0.3 s) had none; the slow one had 5 900.
        let runs = [run(0.3, 0.0), run(1.3, 5_900.0), run(0.2, 0.0)];
        let Outcome::Ok(n, note) = fold(&cell, &runs) else {
            panic!("three good runs fold to a result");
        };
        assert_eq!(n.headline, 0.3);
        assert!(
            note.starts_with("listen overflows 0, 5900, 0 (each run)"),
            "{note}"
        );
        assert!(note.ends_with("; 1 scheduler"), "{note}");
    }

    #[test]
    fn one_failed_run_fails_the_flood_cell() {
        let cell = flood_cell(Runtime::Corun);
        let runs = [flood_run(1.0, 1.0), Err("timeout after 90 s".into())];
        assert!(matches!(fold(&cell, &runs), Outcome::Fail(why) if why.contains("timeout")));
    }

    #[test]
    fn the_flood_table_words_both_comparisons_from_corun_s_side() {
        let row = |rt, p99, mb_s| Row {
            cell: flood_cell(rt),
            outcome: fold(&flood_cell(rt), &[flood_run(p99, mb_s)]),
        };
        let rows = [
            row(Runtime::Corun, 2.0, 900.0),
            row(Runtime::TokioCt, 4.0, 1000.0),
        ];
        let text = table(Workload::Flood, &rows);
        assert!(text.contains("corun vs peer, bystander p99 ms"), "{text}");
        assert!(text.contains("corun vs peer, flooder MB/s"), "{text}");
        assert!(text.contains("corun 2.00× better"), "{text}");
        assert!(text.contains("corun 1.11× worse"), "{text}");
    }
}
