//! The floor under the `spawn` row: what touching the memory of a million
//! spawned and joined tasks costs on this machine, with no runtime at all.
//!
//! Any runtime running the spawn workload must hold, per task, the user's
//! handle (8 bytes in the `Vec` of handles), the task itself (corun's
//! smallest cell is 64 bytes: a 48-byte header and the 16-byte
//! `Result<u64, JoinError>` it finishes with), and the joined result
//! (16 bytes in the `Vec` that `join_all` returns): 88 bytes, all of them
//! fresh pages. This program writes exactly that, once in small pages and
//! once with the cells and results in transparent huge pages (as corun
//! asks for them), and prints the time per task: the median of 5 passes
//! each, every pass in a fresh process like the benchmark's.
//!
//! Run: `cargo run --release -p corun-bench --example spawn_floor`

use std::time::Instant;

const TASKS: usize = 1_000_000;
/// The smallest task cell corun makes for `async { 1u64 }`.
const CELL_WORDS: usize = 8;

/// Advises huge pages for the 2 MiB-aligned part of a vector's buffer.
fn advise_huge<T>(v: &mut Vec<T>) {
    const HUGE: usize = 2 << 20;
    let start = (v.as_mut_ptr() as usize).next_multiple_of(HUGE);
    let end = (v.as_mut_ptr() as usize + v.capacity() * size_of::<T>()) & !(HUGE - 1);
    if end > start {
        // SAFETY: the range lies inside the vector's own buffer and is page
        // aligned; MADV_HUGEPAGE never changes the contents.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

/// One "spawn and join a million tasks" pass over fresh memory; ns/task.
fn pass(huge: bool) -> f64 {
    let t0 = Instant::now();
    let mut handles: Vec<usize> = Vec::with_capacity(TASKS);
    let mut cells: Vec<[u64; CELL_WORDS]> = Vec::with_capacity(TASKS);
    if huge {
        advise_huge(&mut cells);
    }
    for i in 0..TASKS {
        let mut cell = [0u64; CELL_WORDS];
        cell[CELL_WORDS - 1] = i as u64;
        cells.push(cell);
        handles.push(i);
    }
    let mut results: Vec<(u64, u64)> = Vec::with_capacity(TASKS);
    if huge {
        advise_huge(&mut results);
    }
    for &h in &handles {
        results.push((cells[h][CELL_WORDS - 1], 0));
    }
    let ns = t0.elapsed().as_nanos() as f64 / TASKS as f64;
    let sum: u64 = results.iter().map(|r| r.0).sum();
    assert_eq!(sum, (TASKS as u64 - 1) * TASKS as u64 / 2);
    ns
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs one pass in a fresh process (as the benchmark runs each cell), so
/// that every pass touches memory the process never had.
fn fresh_pass(mode: &str) -> f64 {
    let me = std::env::current_exe().expect("own path");
    let out = std::process::Command::new(me)
        .arg(mode)
        .output()
        .expect("start a pass");
    assert!(out.status.success(), "pass failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("ns/task")
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("small") => return println!("{}", pass(false)),
        Some("huge") => return println!("{}", pass(true)),
        Some(other) => panic!("unknown mode {other:?} (small, huge or none)"),
        None => {}
    }
    let (mut small, mut huge) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        small.push(fresh_pass("small"));
        huge.push(fresh_pass("huge"));
    }
    let bytes = 8 + CELL_WORDS * 8 + 16;
    println!("{bytes} bytes per task, no runtime, fresh process per pass, median of 5 (ns/task):");
    println!(
        "  small pages: {:.1}   (runs: {small:.1?})",
        median(small.clone())
    );
    println!(
        "  huge pages:  {:.1}   (runs: {huge:.1?})",
        median(huge.clone())
    );
}
