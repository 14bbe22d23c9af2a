//! Seeded schedules: with `Builder::seed`, the order of ready tasks and of
//! timers due at the same tick comes from the seed. On one core with
//! virtual time and no real I/O, the same seed replays the same
//! interleaving; other seeds give other interleavings; no seed is plain
//! FIFO. `CORUN_SEED` seeds a builder that was given none.
//!
//! Tests only; must not reach into corun internals. The environment is
//! process-wide, so every test here holds `ENV` while it runs a scheduler.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use corun::Builder;

static ENV: Mutex<()> = Mutex::new(());

/// (spawn index, poll number) of every step of a mixed workload: tasks
/// that yield, sleep until shared deadlines and hand values through a
/// channel.
fn trace(builder: Builder) -> Vec<(usize, usize)> {
    builder.run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (tx, mut rx) = corun::sync::mpsc::channel::<usize>(2);
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let log = log.clone();
                let tx = tx.clone();
                corun::spawn(async move {
                    for step in 0..6 {
                        log.borrow_mut().push((i, step));
                        match (i + step) % 3 {
                            0 => corun::yield_now().await,
                            // Several tasks due at the same tick.
                            1 => corun::sleep(Duration::from_millis(10 * (step as u64 + 1))).await,
                            _ => tx.send(i).await.unwrap(),
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let drain = corun::spawn(async move { while rx.recv().await.is_some() {} });
        corun::join_all(tasks).await;
        drain.await.unwrap();
        Rc::try_unwrap(log).unwrap().into_inner()
    })
}

fn seeded(seed: u64) -> Builder {
    Builder::new().seed(seed).virtual_time(true)
}

#[test]
fn the_same_seed_replays_the_same_interleaving() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    for seed in [0, 1, 17, u64::MAX] {
        let first = trace(seeded(seed));
        assert_eq!(first.len(), 12 * 6);
        assert_eq!(trace(seeded(seed)), first, "seed {seed}");
    }
}

#[test]
fn other_seeds_give_other_interleavings() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let base = trace(seeded(1));
    let differing = (2..10).filter(|&s| trace(seeded(s)) != base).count();
    assert!(
        differing >= 4,
        "only {differing} of 8 other seeds changed the order"
    );
}

#[test]
fn without_a_seed_the_order_is_first_in_first_out() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let fifo = trace(Builder::new().virtual_time(true));
    // The first round runs in spawn order.
    let first_steps: Vec<usize> = fifo
        .iter()
        .filter(|(_, s)| *s == 0)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(first_steps, (0..12).collect::<Vec<_>>());
    assert_eq!(trace(Builder::new().virtual_time(true)), fifo);
}

#[test]
fn timers_due_at_the_same_tick_wake_in_the_seed_s_order() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let order = |b: Builder| {
        b.run(async {
            let log = Rc::new(RefCell::new(Vec::new()));
            let at = corun::time::now() + Duration::from_secs(1);
            let tasks: Vec<_> = (0..16)
                .map(|i| {
                    let log = log.clone();
                    corun::spawn(async move {
                        corun::sleep_until(at).await;
                        log.borrow_mut().push(i);
                    })
                })
                .collect();
            corun::join_all(tasks).await;
            Rc::try_unwrap(log).unwrap().into_inner()
        })
    };
    let fifo = order(Builder::new().virtual_time(true));
    assert_eq!(fifo, (0..16).collect::<Vec<_>>());
    let a = order(seeded(5));
    assert_eq!(order(seeded(5)), a);
    assert_ne!(a, fifo, "seed 5 shuffles sixteen timers");
}

#[test]
fn corun_seed_seeds_a_builder_without_one_and_a_bad_value_is_a_clear_error() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let explicit = trace(seeded(42));
    // SAFETY (of the test): every test of this binary holds `ENV` while
    // it runs a scheduler, so no other thread reads the environment now.
    unsafe { std::env::set_var("CORUN_SEED", "42") };
    let from_env = trace(Builder::new().virtual_time(true));
    unsafe { std::env::set_var("CORUN_SEED", "forty-two") };
    let err = Builder::new().start().unwrap_err();
    unsafe { std::env::remove_var("CORUN_SEED") };
    assert_eq!(from_env, explicit);
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("CORUN_SEED"), "{err}");
}
