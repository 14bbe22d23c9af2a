//! Where the `sleep` workload's overhead goes: N tasks each sleep 1 s, and
//! each run prints when the spawning ended, when the first and the last
//! task started their sleep, when the first and the last woke (minus the
//! sleep, and how late against its own start), and when the last join
//! returned (minus the sleep). All times are µs from the first spawn.
//!
//! Run: `cargo run --release -p corun --example sleep_phases [N] [RUNS]
//! [WARM]` (defaults 10 000 tasks, 3 runs, WARM 0). With WARM 1, each run
//! first spawns, sleeps (20 ms) and joins the same N tasks on the same
//! scheduler, so the measured burst reuses task cells, timer entries and
//! registry pages instead of having the kernel back fresh pages: the
//! difference between the two is what fresh memory costs each phase. The
//! figures and what they showed are in `docs/design/timer-wheel.md`; this
//! file only measures.
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The sleep each task takes, as in the benchmark's `sleep` workload.
const SLEEP: Duration = Duration::from_secs(1);

/// The sleep of the warm-up burst (`WARM` 1).
const WARM_SLEEP: Duration = Duration::from_millis(20);

/// First and last instant something happened.
#[derive(Default)]
struct Span {
    first: Cell<Option<Instant>>,
    last: Cell<Option<Instant>>,
}

impl Span {
    fn mark(&self, at: Instant) {
        if self.first.get().is_none() {
            self.first.set(Some(at));
        }
        self.last.set(Some(at));
    }

    fn get(&self) -> (Instant, Instant) {
        let first = self.first.get().expect("every task marks");
        (first, self.last.get().expect("every task marks"))
    }
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .map_or(default, |s| s.parse().expect("a count"))
    };
    let (n, runs, warm) = (arg(1, 10_000), arg(2, 3), arg(3, 0) != 0);
    for _ in 0..runs {
        corun::run(async move {
            if warm {
                // A future of the same layout as below, so its cells come
                // from the same size class and are reused by the burst.
                let span = Rc::new(Span::default());
                let tasks: Vec<_> = (0..n)
                    .map(|_| corun::spawn(sleeper::<true>(span.clone(), span.clone(), false)))
                    .collect();
                for t in tasks {
                    t.await.expect("a sleeper ends");
                }
            }
            let starts = Rc::new(Span::default());
            let wakes = Rc::new(Span::default());
            let t0 = Instant::now();
            let mut tasks = Vec::with_capacity(n);
            for i in 0..n {
                let (starts, wakes) = (starts.clone(), wakes.clone());
                // Only the first and the last task read the clock: a
                // reading per task would add its cost to every phase.
                let marks = i == 0 || i == n - 1;
                tasks.push(corun::spawn(sleeper::<false>(starts, wakes, marks)));
            }
            let spawned = t0.elapsed();
            for t in tasks {
                t.await.expect("a sleeper ends");
            }
            let end = t0.elapsed();
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            let late = |d: Duration| us(d) - us(SLEEP);
            let (first_start, last_start) = starts.get();
            let (first_wake, last_wake) = wakes.get();
            println!(
                "spawned {:6.0} | started {:6.0} to {:6.0} | woke-1s {:6.0} (late {:5.0}) to {:6.0} (late {:5.0}) | joined-1s {:6.0}",
                us(spawned),
                us(first_start - t0),
                us(last_start - t0),
                late(first_wake - t0),
                late(first_wake - first_start),
                late(last_wake - t0),
                late(last_wake - last_start),
                late(end),
            );
        });
    }
}

/// One task of the burst: sleeps [`SLEEP`] ([`WARM_SLEEP`] in the warm-up),
/// marking when it started and woke if `marks`. The sleep is a constant,
/// not an argument, so the future holds what the benchmark's does.
async fn sleeper<const WARM: bool>(starts: Rc<Span>, wakes: Rc<Span>, marks: bool) {
    if marks {
        starts.mark(Instant::now());
    }
    corun::sleep(if WARM { WARM_SLEEP } else { SLEEP }).await;
    if marks {
        wakes.mark(Instant::now());
    }
}
