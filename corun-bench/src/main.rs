//! `corun-bench`: runs every workload on corun and its peers, each run in a
//! fresh child process (the runtime's own child binary, `src/bin/`; its
//! multi-core one for a multi-core cell), and
//! prints one table per workload, JSON lines of raw runs and an SVG chart of
//! the sleep scaling curve.
//!
//! This file holds the CLI and the parent-side orchestration (which cells,
//! how many runs, progress, folding). It must not contain workload code
//! (`peers/`, `child.rs`), process handling (`launch.rs`), formatting
//! (`report.rs`) or drawing (`chart.rs`).
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

mod chart;
mod launch;
mod machine;
mod plan;
mod report;
mod scaling;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

use corun_bench::common;
use launch::Children;
use plan::{Cell, Load, Runtime, Workload};
use report::{Outcome, Row};

/// Benchmarks corun against OS threads, tokio, smol, may, monoio and glommio.
#[derive(Parser, Debug)]
#[command(name = "corun-bench", version)]
struct Cli {
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
    /// (default 3, 5 for httpd and flood, or 1 with --quick).
    #[arg(long)]
    runs: Option<u32>,
    /// Where to write raw results, one JSON object per run.
    #[arg(long, default_value = "target/corun-bench/results.jsonl")]
    json: PathBuf,
    /// Where to draw the sleep scaling chart (SVG).
    #[arg(long, default_value = "target/corun-bench/sleep-scaling.svg")]
    chart: PathBuf,
    /// The load generator of the httpd cells: the built-in `corun-bench-load`
    /// (what `wrk -t1 -c100 --timeout 2s` does; needs nothing installed), or
    /// `wrk` itself as a cross-check (needs wrk installed).
    #[arg(long, value_enum, default_value_t = Load::Builtin)]
    load: Load,
}

fn main() -> ExitCode {
    parent(Cli::parse())
}

/// Whether `wrk` can be started (only `--load wrk` needs it).
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
    let extra = match cell.kind {
        "httpd" => cell.n,
        "flood" => cell.param / 1000,
        _ => 0,
    };
    Duration::from_secs(base + extra)
}

fn parent(cli: Cli) -> ExitCode {
    let workloads: Vec<Workload> =
        if cli.workloads.is_empty() || cli.workloads.contains(&Workload::All) {
            Workload::EACH.to_vec()
        } else {
            let mut w = cli.workloads.clone();
            w.dedup();
            w
        };
    if workloads.contains(&Workload::Urlfetch) {
        // Measured as found, never raised (see `common::listen_limits`).
        eprintln!("note: listen limits {}", common::listen_limits());
    }
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
    let httpd = workloads.contains(&Workload::Httpd);
    if httpd && cli.load == Load::Wrk && !have_wrk() {
        eprintln!("--load wrk: cannot start `wrk` (apt-get install wrk), or drop --load wrk");
        return ExitCode::FAILURE;
    }
    let children = match Children::prepare(&runtimes, httpd) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if httpd && runtimes.contains(&Runtime::Corun) {
        // Without it corun's httpd cell at 2 cores fails and says why.
        if let Err(e) = launch::build_http_example() {
            eprintln!("{e}");
        }
    }
    let mut cells = plan::cells(&workloads, &runtimes, cli.quick);
    for c in &mut cells {
        c.load = cli.load;
    }
    let runs_of = |c: &Cell| plan::runs(c.workload, cli.runs, cli.quick);
    let total: usize = cells
        .iter()
        .filter(|c| c.na.is_none())
        .map(|c| runs_of(c) as usize)
        .sum();

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
        "corun-bench: {} workloads × {} runtimes, {total} child runs (runs per cell: {}){}",
        workloads.len(),
        runtimes.len(),
        match cli.runs {
            Some(n) => n.max(1).to_string(),
            None if cli.quick => "1".into(),
            None => "3, 5 for httpd and flood".into(),
        },
        if cli.quick { ", quick sizes" } else { "" }
    );
    let check_start = machine::Check::measure();
    eprintln!("machine check (start): {}", check_start.describe());
    let _ = writeln!(sink, "{}", check_start.json("start"));
    let started = Instant::now();
    let mut done = 0;
    let mut rows: Vec<Row> = Vec::new();
    // The runtimes of one case take turns run by run (and each round starts
    // with the next runtime), so a noisy minute on this shared machine, or
    // the aftermath of the previous workload, hits every runtime alike
    // instead of whichever happened to run its three runs then.
    let mut rest = cells.as_slice();
    while let Some(first) = rest.first() {
        let len = rest
            .iter()
            .take_while(|c| c.workload == first.workload && c.case_index == first.case_index)
            .count();
        let (group, tail) = rest.split_at(len);
        rest = tail;
        let runs = runs_of(first);
        let mut results: Vec<Vec<Result<report::RunLine, String>>> = vec![Vec::new(); len];
        let mut live: Vec<bool> = group.iter().map(|c| c.na.is_none()).collect();
        for run in 1..=runs {
            for k in 0..len {
                let i = (k + run as usize - 1) % len;
                if !live[i] {
                    continue;
                }
                let cell = &group[i];
                let r = children.run(cell, child_timeout(cell, cli.quick));
                done += 1;
                report::progress(done, total, cell, run, runs, &r);
                if let Err(e) = report::json_line(&mut sink, cell, run, &r) {
                    eprintln!("cannot write {}: {e}", cli.json.display());
                }
                if !matches!(&r, Ok(l) if l.ok) {
                    // One failure fails the cell; skip its remaining runs.
                    done += (runs - run) as usize;
                    live[i] = false;
                }
                results[i].push(r);
            }
        }
        for (cell, results) in group.iter().zip(results) {
            let outcome = if let Some(why) = cell.na {
                Outcome::NotApplicable(why)
            } else {
                report::fold(cell, &results)
            };
            rows.push(Row {
                cell: cell.clone(),
                outcome,
            });
        }
    }

    let check_end = machine::Check::measure();
    let _ = writeln!(sink, "{}", check_end.json("end"));
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
        if w == Workload::Cores {
            print!("{}", scaling::summary(&mine));
        }
    }
    match chart::draw(&rows, &cli.chart) {
        Ok(true) => println!("\nsleep scaling chart: {}", cli.chart.display()),
        Ok(false) => {}
        Err(e) => eprintln!("chart: {e}"),
    }
    println!(
        "\nmachine check, start: {}\nmachine check, end:   {}",
        check_start.describe(),
        check_end.describe()
    );
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
