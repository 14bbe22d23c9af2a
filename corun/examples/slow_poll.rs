//! A task that forgets to yield, and the detector that names it.
//!
//! corun switches tasks only at awaits. `checksum` below hashes a 64 MiB
//! buffer in one poll: while it runs, no other task of its core runs (the
//! heartbeat task here, a server's connections in real life). corun times
//! every poll on its coarse clock at no cost per poll; a poll longer than
//! [`corun::Builder::slow_poll`] (10 ms by default) is reported as a
//! `tracing` warning naming the task's id, name, spawn site and how long
//! it ran, and counted in `corun::stats().slow_polls`.
//! `checksum_yielding` is the fix: the same loop with a `yield_now()`
//! every 64 KiB; it raises no warning and the heartbeat keeps its beat.
//!
//! Run: `cargo run --release -p corun --example slow_poll`
//! (the warnings go to stdout, after the lines they explain).
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Bytes hashed by each checksum.
const DATA: usize = 64 << 20;
/// Bytes hashed between two yields in the fixed version.
const CHUNK: usize = 64 << 10;

/// FNV-1a over `bytes`, continuing from `h`: a serial loop, one byte per
/// step, so it takes tens of ms over the whole buffer.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The bug: the whole buffer in one poll.
async fn checksum(data: Rc<Vec<u8>>) -> u64 {
    fnv(FNV_START, &data)
}

/// The fix: the same hash, yielding every [`CHUNK`] bytes so the other
/// tasks of the core run in between.
async fn checksum_yielding(data: Rc<Vec<u8>>) -> u64 {
    let mut h = FNV_START;
    for chunk in data.chunks(CHUNK) {
        h = fnv(h, chunk);
        corun::yield_now().await;
    }
    h
}

/// Runs the task `start` spawns beside a heartbeat that sleeps 1 ms in a
/// loop; returns the task's output and the heartbeat's longest gap
/// between two beats while it ran.
async fn with_heartbeat(start: impl FnOnce() -> corun::Task<u64>) -> (u64, Duration) {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    let heartbeat = corun::spawn_named("heartbeat", async move {
        let mut last = Instant::now();
        let mut longest = Duration::ZERO;
        while !d.get() {
            corun::sleep(Duration::from_millis(1)).await;
            longest = longest.max(last.elapsed());
            last = Instant::now();
        }
        longest
    });
    // The heartbeat takes its first beat's timer before the job starts.
    corun::yield_now().await;
    let out = start().await.expect("the checksum does not panic");
    done.set(true);
    let longest = heartbeat.await.expect("the heartbeat does not panic");
    (out, longest)
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_target(false)
        .init();
    // Filled before the scheduler starts: touching 64 MiB of fresh memory
    // would itself be a slow poll.
    let data = Rc::new(vec![0x5a_u8; DATA]);
    let _data = corun::run(async move {
        println!("checksum without a yield, beside a 1 ms heartbeat:");
        let d = data.clone();
        let (slow, gap) = with_heartbeat(|| corun::spawn_named("checksum", checksum(d))).await;
        println!("  heartbeat's longest gap: {:.1} ms", ms(gap));

        println!("checksum yielding every {} KiB:", CHUNK >> 10);
        // The data outlives both tasks: freeing 64 MiB takes milliseconds
        // too, in whichever poll drops the last reference.
        let d = data.clone();
        let (fast, gap) =
            with_heartbeat(|| corun::spawn_named("checksum_yielding", checksum_yielding(d))).await;
        println!("  heartbeat's longest gap: {:.1} ms", ms(gap));

        assert_eq!(slow, fast, "both versions hash the same bytes");
        println!("slow polls counted: {}", corun::stats().slow_polls);
        data
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
