//! An idle scheduler does not busy-loop: while its only task sleeps (or it
//! has no task at all), its loop makes a small constant number of turns,
//! not one per poll of a busy loop, and by default no look at the poller
//! beyond one per turn (`Stats::spin_polls` stays 0). An idle spin asked
//! for (`Builder::idle_spin`, at most 10 ms) stays inside one turn and then
//! blocks.
//!
//! Tests only; must not reach into corun internals. The sleeps here only
//! give a spinning loop time to show itself; a correct loop passes however
//! long or short they turn out to be.

mod common;

use std::time::Duration;

use common::run_watched;
use corun::Scheduler;

#[test]
fn a_scheduler_whose_only_task_sleeps_does_not_spin() {
    let (turns, parks) = run_watched("idle run", || async {
        let before = corun::stats();
        corun::sleep(Duration::from_millis(200)).await;
        let after = corun::stats();
        (after.turns - before.turns, after.parks - before.parks)
    });
    assert!(turns <= 5, "{turns} loop turns during one 200 ms sleep");
    assert!(parks <= 5, "{parks} parks during one 200 ms sleep");
}

/// By default a scheduler that runs dry blocks at once: around a 200 ms
/// sleep it calls the OS poller once per loop turn (a handful), never in a
/// spin.
#[test]
fn a_default_scheduler_blocks_without_spinning() {
    let (turns, spins, parks) = run_watched("idle run, default spin", || async {
        let before = corun::stats();
        corun::sleep(Duration::from_millis(200)).await;
        let after = corun::stats();
        (
            after.turns - before.turns,
            after.spin_polls - before.spin_polls,
            after.parks - before.parks,
        )
    });
    assert_eq!(spins, 0, "the idle spin polled the poller {spins} times");
    assert!(parks >= 1, "slept without blocking");
    assert!(
        turns <= 5,
        "{turns} calls to the poller during one 200 ms sleep"
    );
}

/// An idle spin asked for is counted: each spin looks at the poller at
/// least once before it blocks, and every such look shows in `spin_polls`.
#[test]
fn an_idle_spin_asked_for_counts_its_polls() {
    let (spins, parks) = corun::Builder::new()
        .idle_spin(Duration::from_micros(200))
        .run(async {
            let before = corun::stats();
            corun::sleep(Duration::from_millis(20)).await;
            let after = corun::stats();
            (
                after.spin_polls - before.spin_polls,
                after.parks - before.parks,
            )
        });
    assert!(parks >= 1, "slept without blocking");
    assert!(spins >= parks, "{spins} spin polls for {parks} parks");
}

/// Runs one 200 ms sleep as the only task of `sched` and shuts it down;
/// returns the loop turns and the parks it took.
fn turns_and_parks_around_a_sleep(sched: Scheduler) -> (u64, u64) {
    let t = sched
        .spawn(corun::sleep(Duration::from_millis(200)))
        .unwrap();
    let before = sched.stats().unwrap();
    sched.block_on(t).unwrap().unwrap();
    let after = sched.stats().unwrap();
    sched.shutdown().unwrap();
    (after.turns - before.turns, after.parks - before.parks)
}

#[test]
fn a_scheduler_thread_with_a_sleeping_task_does_not_spin() {
    let (turns, _) = turns_and_parks_around_a_sleep(Scheduler::start().unwrap());
    // The stats and block_on messages cost a turn or two each.
    assert!(turns <= 6, "{turns} loop turns around one 200 ms sleep");
}

#[test]
fn a_scheduler_without_tasks_stays_parked() {
    let sched = Scheduler::start().unwrap();
    let before = sched.stats().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let after = sched.stats().unwrap();
    let turns = after.turns - before.turns;
    assert!(turns <= 2, "{turns} loop turns while idle with no task");
    assert_eq!(after.polls, before.polls);
    sched.shutdown().unwrap();
}

#[test]
fn tasks_waiting_forever_leave_the_scheduler_parked() {
    let sched = Scheduler::start().unwrap();
    let (_tx, rx) = corun::sync::oneshot::channel::<()>();
    sched.spawn(rx).unwrap();
    sched.spawn(corun::sleep(Duration::MAX)).unwrap();
    sched.block_on(async {}).unwrap();
    let before = sched.stats().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let after = sched.stats().unwrap();
    let turns = after.turns - before.turns;
    assert!(
        turns <= 2,
        "{turns} loop turns while every task waits forever"
    );
    sched.shutdown().unwrap();
}

/// An idle spin asked for "forever" is cut to the 10 ms maximum: the
/// scheduler still blocks while its only task sleeps, in as few turns as
/// with the default spin.
#[test]
fn an_endless_idle_spin_is_cut_short_and_the_scheduler_still_parks() {
    let sched = corun::Builder::new()
        .idle_spin(Duration::MAX)
        .start()
        .unwrap();
    let (turns, parks) = turns_and_parks_around_a_sleep(sched);
    assert!(parks >= 1, "never blocked during the sleep");
    assert!(turns <= 6, "{turns} loop turns around one 200 ms sleep");
}

/// Without an idle spin the scheduler blocks at once and still runs what
/// it is given.
#[test]
fn a_scheduler_without_idle_spin_runs_and_parks() {
    let (v, parks) = corun::Builder::new().idle_spin(Duration::ZERO).run(async {
        let before = corun::stats().parks;
        corun::sleep(Duration::from_millis(20)).await;
        (7, corun::stats().parks - before)
    });
    assert_eq!(v, 7);
    assert!(parks >= 1, "slept without blocking");
}
