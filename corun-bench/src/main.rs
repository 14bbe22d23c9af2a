//! `corun-bench`: runs every workload on corun and its peers, each run in a
//! fresh child process (this same binary, hidden `child` subcommand), and
//! prints one table per workload, JSON lines of raw runs and an SVG chart of
//! the sleep scaling curve.
//!
//! This file holds the CLI and the parent-side orchestration (spawn child,
//! read its one JSON line, enforce the wall-clock timeout, kill on expiry).
//! It must not contain workload code (`peers/`), formatting (`report.rs`)
//! or drawing (`chart.rs`).
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

mod chart;
mod child;
mod common;
mod peers;
mod plan;
mod report;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use plan::{Cell, Runtime, Workload};
use report::{Outcome, Row, RunLine};

/// Benchmarks corun against OS threads, tokio, smol and may.
#[derive(Parser, Debug)]
#[command(name = "corun-bench", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    sub: Option<Sub>,
    /// Workloads to run (default: all).
    #[arg(value_enum)]
    workloads: Vec<Workload>,
    /// Runtimes to compare, comma-separated (default: every one compiled in).
    #[arg(long, value_enum, value_delimiter = ',')]
    runtimes: Vec<Runtime>,
    /// Tiny sizes, one run each: proves the command works in seconds.
    #[arg(long)]
    quick: bool,
    /// Runs per cell, each in a fresh process; the median is reported
    /// (default 3, or 1 with --quick).
    #[arg(long)]
    runs: Option<u32>,
    /// Where to write raw results, one JSON object per run.
    #[arg(long, default_value = "target/corun-bench/results.jsonl")]
    json: PathBuf,
    /// Where to draw the sleep scaling chart (SVG).
    #[arg(long, default_value = "target/corun-bench/sleep-scaling.svg")]
    chart: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Runs one cell and prints one JSON line (internal).
    #[command(hide = true)]
    Child {
        /// Runtime name.
        runtime: String,
        /// Child-side workload kind.
        kind: String,
        /// Operation count.
        n: u64,
        /// Second parameter (sleep ms, writes per file).
        param: u64,
    },
    /// Opens N idle connections to ADDR for the conns workload (internal).
    #[command(hide = true, name = "conns-client")]
    ConnsClient {
        /// Server address.
        addr: SocketAddr,
        /// Connections to open.
        n: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.sub {
        Some(Sub::Child {
            runtime,
            kind,
            n,
            param,
        }) => ExitCode::from(child::main(&runtime, &kind, n, param) as u8),
        Some(Sub::ConnsClient { addr, n }) => {
            ExitCode::from(common::conns_client_main(addr, n) as u8)
        }
        None => parent(cli),
    }
}

/// Whether `wrk` can be started.
fn have_wrk() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Wall-clock limit for one child.
fn child_timeout(cell: &Cell, quick: bool) -> Duration {
    let base = if quick { 30 } else { 90 };
    let extra = if cell.kind == "httpd" { cell.n } else { 0 };
    Duration::from_secs(base + extra)
}

/// Runs one cell once in a fresh child process.
fn run_child(cell: &Cell, timeout: Duration) -> Result<RunLine, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args([
            "child",
            cell.runtime.name(),
            cell.kind,
            &cell.n.to_string(),
            &cell.param.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn child: {e}"))?;
    let out = child.stdout.take().ok_or("child stdout missing")?;
    let err = child.stderr.take().ok_or("child stderr missing")?;
    let out_reader = std::thread::spawn(move || {
        let mut first_json = None;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if first_json.is_none() && line.trim_start().starts_with('{') {
                first_json = Some(line);
            }
        }
        first_json
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(err).take(1 << 20).read_to_string(&mut text);
        text
    });
    let t0 = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if t0.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("wait child: {e}")),
        }
    };
    let json = out_reader.join().ok().flatten();
    let stderr = err_reader.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(format!("timeout after {} s", timeout.as_secs()));
    };
    match json {
        Some(line) => serde_json::from_str::<RunLine>(&line)
            .map_err(|e| format!("bad child output {line:?}: {e}")),
        None => {
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!("child {status}, no result; stderr: {last}"))
        }
    }
}

fn parent(cli: Cli) -> ExitCode {
    let _limits = common::ListenLimits::raise();
    let workloads: Vec<Workload> =
        if cli.workloads.is_empty() || cli.workloads.contains(&Workload::All) {
            Workload::EACH.to_vec()
        } else {
            let mut w = cli.workloads.clone();
            w.dedup();
            w
        };
    let asked: Vec<Runtime> = if cli.runtimes.is_empty() {
        Runtime::ALL.to_vec()
    } else {
        cli.runtimes.clone()
    };
    let mut runtimes = Vec::new();
    for rt in asked {
        if !rt.compiled_in() {
            eprintln!(
                "note: `{}` left out: build with `--features corun` to include it",
                rt.name()
            );
        } else if !runtimes.contains(&rt) {
            runtimes.push(rt);
        }
    }
    if runtimes.is_empty() {
        eprintln!("no runtime to run");
        return ExitCode::FAILURE;
    }
    let runs = cli.runs.unwrap_or(if cli.quick { 1 } else { 3 }).max(1);
    let wrk = have_wrk();
    if !wrk && workloads.contains(&Workload::Httpd) {
        eprintln!("SKIP httpd: install wrk (apt-get install wrk)");
    }
    let cells = plan::cells(&workloads, &runtimes, cli.quick);
    let to_run = cells
        .iter()
        .filter(|c| c.na.is_none() && (wrk || c.kind != "httpd"));
    let total = to_run.count() * runs as usize;

    if let Some(dir) = cli.json.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut sink = match std::fs::File::create(&cli.json) {
        Ok(f) => std::io::BufWriter::new(f),
        Err(e) => {
            eprintln!("cannot write {}: {e}", cli.json.display());
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "corun-bench: {} workloads × {} runtimes, {total} child runs ({} run(s) per cell){}",
        workloads.len(),
        runtimes.len(),
        runs,
        if cli.quick { ", quick sizes" } else { "" }
    );
    let started = Instant::now();
    let mut done = 0;
    let mut rows: Vec<Row> = Vec::new();
    for cell in cells {
        let outcome = if let Some(why) = cell.na {
            Outcome::NotApplicable(why)
        } else if cell.kind == "httpd" && !wrk {
            Outcome::Skip("install wrk (apt-get install wrk)".into())
        } else {
            let timeout = child_timeout(&cell, cli.quick);
            let mut results = Vec::new();
            for run in 1..=runs {
                let r = run_child(&cell, timeout);
                done += 1;
                report::progress(done, total, &cell, run, runs, &r);
                if let Err(e) = report::json_line(&mut sink, &cell, run, &r) {
                    eprintln!("cannot write {}: {e}", cli.json.display());
                }
                let failed = !matches!(&r, Ok(l) if l.ok);
                results.push(r);
                if failed {
                    // One failure fails the cell; skip its remaining runs.
                    done += (runs - run) as usize;
                    break;
                }
            }
            report::fold(&cell, &results)
        };
        rows.push(Row { cell, outcome });
    }

    let mut failed = 0;
    for &w in &workloads {
        let mine: Vec<Row> = rows
            .iter()
            .filter(|r| r.cell.workload == w)
            .map(|r| Row {
                cell: r.cell.clone(),
                outcome: r.outcome.clone(),
            })
            .collect();
        failed += mine
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
            .count();
        print!("{}", report::table(w, &mine));
    }
    match chart::draw(&rows, &cli.chart) {
        Ok(true) => println!("\nsleep scaling chart: {}", cli.chart.display()),
        Ok(false) => {}
        Err(e) => eprintln!("chart: {e}"),
    }
    println!("raw results (JSON lines): {}", cli.json.display());
    println!(
        "total wall time: {:.0} s; {failed} failed cell(s)",
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
