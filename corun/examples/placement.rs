//! Experiment (issue 15): round-robin against least-loaded placement of
//! `Scheduler::spawn` on 2 cores, for a fan-out of `Send` tasks of uneven
//! lengths, spawned all at once (`burst`) or kept 64 in flight by a
//! producer thread that spawns the next as one finishes (`stream`), and
//! the rule's own cost: 200 000 empty tasks spawned at once (`empty`).
//! Prints wall and CPU time, and per core the tasks and work units run.
//!
//! Run: `cargo run --release -p corun --example placement -- rr|ll burst|stream|empty`
//!
//! Only the public API (plus the hidden `Builder::least_loaded` switch).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const TASKS: u64 = 20_000;
const IN_FLIGHT: u64 = 64;
const UNIT_BYTES: usize = 4096;

static BLOCK: [u8; UNIT_BYTES] = [0x5a; UNIT_BYTES];

/// `units` × FNV-1a over the block: the task's CPU work.
fn work(seed: u64, units: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for _ in 0..units {
        for &b in std::hint::black_box(&BLOCK[..]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Task `i`'s length: 1..=8 units, and every 16th (by a fixed
/// pseudo-random draw) 32 times that.
fn units(i: u64) -> u64 {
    let r = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
    let base = 1 + r % 8;
    if (r >> 8) % 16 == 0 { base * 32 } else { base }
}

fn cpu_secs() -> f64 {
    // SAFETY: getrusage writes only the struct we pass by valid pointer.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ll = args.first().map(String::as_str) == Some("ll");
    let stream = args.get(1).map(String::as_str) == Some("stream");
    let empty = args.get(1).map(String::as_str) == Some("empty");
    let n = if empty { 200_000 } else { TASKS };
    let sched = corun::Builder::new()
        .cores(2)
        .least_loaded(ll)
        .start()
        .expect("start");
    let per_core: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let (c0, t0) = (cpu_secs(), Instant::now());
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        if stream && i >= IN_FLIGHT {
            done_rx.recv().expect("a task finished");
        }
        let (per_core, done) = (per_core.clone(), done_tx.clone());
        let u = if empty { 0 } else { units(i) };
        tasks.push(
            sched
                .spawn(async move {
                    let h = work(i, u);
                    let c = corun::core();
                    per_core[c].fetch_add(1, Ordering::Relaxed);
                    per_core[2 + c].fetch_add(u, Ordering::Relaxed);
                    let _ = done.send(());
                    h
                })
                .expect("spawn"),
        );
    }
    let ids: Vec<_> = tasks.iter().map(|t| t.id()).collect();
    sched.join_all(&ids).expect("join");
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_secs() - c0);
    let g = |k: usize| per_core[k].load(Ordering::Relaxed);
    println!(
        "{} {}: wall {wall:.3} s, cpu {cpu:.3} s, tasks per core {}/{}, units per core {}/{}",
        if ll { "least-loaded" } else { "round-robin" },
        args.get(1).map_or("burst", String::as_str),
        g(0),
        g(1),
        g(2),
        g(3)
    );
    sched.shutdown().expect("shutdown");
}
