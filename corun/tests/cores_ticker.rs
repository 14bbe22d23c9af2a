//! The coarse clock's thread (`corun-ticker`) and pinned cores: however
//! the cores are pinned, the ticker may run on every CPU the process was
//! given, not only on the CPU of the core that happened to start it.
//!
//! One test in its own binary: the ticker is process-wide and starts once,
//! so no other test may start it first. Reads `/proc/self/task`; no timing.
//! Tests only; must not reach into corun internals.

mod common;

use common::{allowed, watchdog};
use corun::Builder;

/// A `Cpus_allowed_list` value ("0-1,3") as CPU numbers.
fn parse_list(list: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

/// The CPUs of every thread of this process named `corun-ticker`.
fn ticker_cpus() -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if comm.trim() != "corun-ticker" {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap();
        let list = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .expect("a Cpus_allowed_list line");
        out.push(parse_list(list));
    }
    out
}

#[test]
fn the_ticker_keeps_the_process_cpus_when_the_cores_are_pinned() {
    let cpus = allowed();
    if cpus.len() < 2 {
        eprintln!("needs 2 CPUs, this process may use 1; nothing checked");
        return;
    }
    let cores = cpus.len().min(4);
    let want = cpus[..cores].to_vec();
    // On a thread of its own: `run` pins the calling thread while it runs.
    let (pinned, ticker) = watchdog("pinned cores and the ticker", move || {
        Builder::new().cores(cores).pin_cores(true).run(async move {
            let each: Vec<_> = (0..corun::cores())
                .map(|core| corun::spawn_on(core, || async { allowed() }).unwrap())
                .collect();
            let mut pinned = Vec::new();
            for t in each {
                pinned.push(t.await.unwrap());
            }
            (pinned, ticker_cpus())
        })
    });
    // The cores are pinned, one CPU each...
    assert_eq!(
        pinned,
        want.iter().map(|&c| vec![c]).collect::<Vec<_>>(),
        "cores' CPUs"
    );
    // ...and the one ticker kept every CPU the test thread had.
    assert_eq!(ticker, vec![cpus], "the ticker's CPUs");
}
