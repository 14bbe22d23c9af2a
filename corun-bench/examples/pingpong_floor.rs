//! The floor under the "pingpong with async-channel" note: the same two
//! tasks bouncing a `u64` over two `async_channel::bounded(1)` channels,
//! driven by the cheapest executor that can run them, beside corun, smol's
//! `LocalExecutor` and tokio's current-thread runtime running the very
//! same program.
//!
//! Modes (first argument; the second is the round-trip count):
//!
//! * `floor`: two tasks in an array, a ready queue of indices, a waker that
//!   is the task's index (clone and drop do nothing, wake pushes the index
//!   unless it is queued). What async-channel and event-listener cost by
//!   themselves.
//! * `floor-arc`: the same executor, but each waker holds an atomically
//!   counted reference, as every real runtime's wakers do (one atomic add
//!   per clone, one atomic sub per drop).
//! * `corun`, `smol`, `tokio` (current thread), `monoio`, `glommio`: the
//!   runtime's own spawn and wakers.
//!
//! Each run prints ns per round trip, wall and CPU
//! (`docs/design/waker-costs.md` has the commands and the figures).
//!
//! Run: `cargo run --release -p corun-bench --example pingpong_floor -- floor 1000000`

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::time::Instant;

/// The two tasks: `ping` sends `i` and waits for `i + 1` back, `n` times;
/// `pong` answers each ping until its channel closes. Both check what they
/// see and return their counts.
fn pair(n: u64) -> (impl Future<Output = u64>, impl Future<Output = u64>) {
    let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
    let ponger = async move {
        let mut seen = 0u64;
        while let Ok(v) = ping_rx.recv().await {
            if pong_tx.send(v + 1).await.is_err() {
                break;
            }
            seen += 1;
        }
        seen
    };
    let pinger = async move {
        let mut ok = 0u64;
        for i in 0..n {
            if ping_tx.send(i).await.is_err() {
                break;
            }
            match pong_rx.recv().await {
                Ok(v) if v == i + 1 => ok += 1,
                _ => break,
            }
        }
        ok
    };
    (ponger, pinger)
}

thread_local! {
    /// The floor executor's ready queue (task indices) and queued marks.
    static READY: RefCell<VecDeque<usize>> = const { RefCell::new(VecDeque::new()) };
    static QUEUED: [Cell<bool>; 2] = const { [Cell::new(false), Cell::new(false)] };
}

fn push_ready(i: usize) {
    QUEUED.with(|q| {
        if !q[i].replace(true) {
            READY.with(|r| r.borrow_mut().push_back(i));
        }
    });
}

/// Waker data for `floor`: the task index itself.
static PLAIN: RawWakerVTable = RawWakerVTable::new(
    |d| RawWaker::new(d, &PLAIN),
    |d| push_ready(d as usize),
    |d| push_ready(d as usize),
    |_| {},
);

/// Waker data for `floor-arc`: a pointer to the task's counter slot in
/// `COUNTS`; the index is its position.
static COUNTS: [AtomicUsize; 2] = [AtomicUsize::new(1), AtomicUsize::new(1)];

fn slot(d: *const ()) -> usize {
    (d as usize - COUNTS.as_ptr() as usize) / size_of::<AtomicUsize>()
}

static COUNTED: RawWakerVTable = RawWakerVTable::new(
    |d| {
        COUNTS[slot(d)].fetch_add(1, Ordering::Relaxed);
        RawWaker::new(d, &COUNTED)
    },
    |d| {
        push_ready(slot(d));
        COUNTS[slot(d)].fetch_sub(1, Ordering::Release);
    },
    |d| push_ready(slot(d)),
    |d| {
        COUNTS[slot(d)].fetch_sub(1, Ordering::Release);
    },
);

/// Runs both tasks to completion on the floor executor.
fn run_floor(n: u64, counted: bool) -> (u64, u64) {
    let (ponger, pinger) = pair(n);
    let mut tasks: [Pin<Box<dyn Future<Output = u64>>>; 2] = [Box::pin(ponger), Box::pin(pinger)];
    let mut out = [None, None];
    push_ready(0);
    push_ready(1);
    while let Some(i) = READY.with(|r| r.borrow_mut().pop_front()) {
        QUEUED.with(|q| q[i].set(false));
        if out[i].is_some() {
            continue;
        }
        let raw = if counted {
            RawWaker::new((&COUNTS[i] as *const AtomicUsize).cast(), &COUNTED)
        } else {
            RawWaker::new(i as *const (), &PLAIN)
        };
        // SAFETY: both vtables keep the RawWaker contract for their data
        // (an index, or a static counter slot that is never freed).
        let waker = std::mem::ManuallyDrop::new(unsafe { Waker::from_raw(raw) });
        if let std::task::Poll::Ready(v) = tasks[i].as_mut().poll(&mut Context::from_waker(&waker))
        {
            // A finished async block has dropped what it captured: the
            // pinger's end closes the ping channel, which wakes the ponger.
            out[i] = Some(v);
        }
    }
    (out[1].unwrap_or(0), out[0].unwrap_or(0))
}

fn run_corun(n: u64) -> (u64, u64) {
    corun::run(async move {
        let (ponger, pinger) = pair(n);
        let ponger = corun::spawn(ponger);
        let pinger = corun::spawn(pinger);
        let ok = pinger.await.unwrap_or(0);
        (ok, ponger.await.unwrap_or(0))
    })
}

fn run_smol(n: u64) -> (u64, u64) {
    let ex = async_executor::LocalExecutor::new();
    futures_lite::future::block_on(ex.run(async {
        let (ponger, pinger) = pair(n);
        let ponger = ex.spawn(ponger);
        let pinger = ex.spawn(pinger);
        let ok = pinger.await;
        (ok, ponger.await)
    }))
}

fn run_tokio(n: u64) -> (u64, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let (ponger, pinger) = pair(n);
        let ponger = tokio::spawn(ponger);
        let pinger = tokio::spawn(pinger);
        let ok = pinger.await.unwrap_or(0);
        (ok, ponger.await.unwrap_or(0))
    })
}

/// User plus system CPU time of this process so far: on a shared machine
/// it counts only what this program ran, not the time others held the CPU.
fn cpu_secs() -> f64 {
    // SAFETY: `getrusage` only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn run_monoio(n: u64) -> (u64, u64) {
    let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .build()
        .expect("monoio runtime");
    rt.block_on(async move {
        let (ponger, pinger) = pair(n);
        let ponger = monoio::spawn(ponger);
        let pinger = monoio::spawn(pinger);
        let ok = pinger.await;
        (ok, ponger.await)
    })
}

fn run_glommio(n: u64) -> (u64, u64) {
    let ex = glommio::LocalExecutorBuilder::default()
        .make()
        .expect("glommio executor (needs RLIMIT_MEMLOCK; see peers/glommio_rt.rs)");
    ex.run(async move {
        let (ponger, pinger) = pair(n);
        let ponger = glommio::spawn_local(ponger);
        let pinger = glommio::spawn_local(pinger);
        let ok = pinger.await;
        (ok, ponger.await)
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "floor".into());
    let n: u64 = match args.next().map(|s| s.parse()) {
        None => 1_000_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("round-trip count: {e}");
            std::process::exit(2);
        }
    };
    let t0 = Instant::now();
    let cpu0 = cpu_secs();
    let (ok, seen) = match mode.as_str() {
        "floor" => run_floor(n, false),
        "floor-arc" => run_floor(n, true),
        "corun" => run_corun(n),
        "smol" => run_smol(n),
        "tokio" => run_tokio(n),
        "monoio" => run_monoio(n),
        "glommio" => run_glommio(n),
        other => {
            eprintln!(
                "unknown mode {other:?}: floor, floor-arc, corun, smol, tokio, monoio or glommio"
            );
            std::process::exit(2);
        }
    };
    let ns = t0.elapsed().as_secs_f64() * 1e9 / n.max(1) as f64;
    let cpu_ns = (cpu_secs() - cpu0) * 1e9 / n.max(1) as f64;
    if ok != n || seen != n {
        eprintln!("{mode}: {ok} round trips and {seen} pongs of {n}");
        std::process::exit(1);
    }
    println!("{mode}: {ns:.1} ns/round trip (CPU {cpu_ns:.1} ns)");
}
