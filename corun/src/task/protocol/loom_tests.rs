//! Loom models of the cross-thread protocol: each runs the real functions
//! of `task::protocol` on a flag word (and a reference count) shared by
//! two or three threads, in every interleaving and every outcome the
//! memory orderings allow. The stage and the join waker slot are loom
//! cells, so an access that the protocol does not order fails the model.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p corun --release --lib
//! loom_` (scripts/sanitize.sh loom). These tests touch no scheduler.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::Mutex;
use loom::sync::atomic::{AtomicU8, AtomicU32, AtomicUsize, Ordering};
use loom::thread;

use super::*;

/// What the stage holds in the models.
const OUTPUT: u8 = 1;
const DROPPED: u8 = 2;

/// A task cell reduced to what the protocol guards.
struct Cell {
    flags: AtomicU8,
    /// The outcome: the owner's until `COMPLETE`, then the handle's (or
    /// still the owner's when `HANDLE` was gone).
    stage: UnsafeCell<u8>,
    /// The join waker (a waker id), under `JOIN_LOCK`.
    join_waker: UnsafeCell<Option<usize>>,
    /// How many times the stage's output was dropped.
    drops: AtomicUsize,
    /// Wakes delivered to the join waker.
    woken: AtomicUsize,
}

/// Starts the owner thread of `cell`, completing the task; its result is
/// [`Cell::owner_completes`]'s.
fn spawn_owner(cell: &Arc<Cell>) -> thread::JoinHandle<bool> {
    let cell = cell.clone();
    thread::spawn(move || cell.owner_completes())
}

impl Cell {
    fn new(flags: u8) -> Arc<Cell> {
        Arc::new(Cell {
            flags: AtomicU8::new(flags),
            stage: UnsafeCell::new(0),
            join_waker: UnsafeCell::new(None),
            drops: AtomicUsize::new(0),
            woken: AtomicUsize::new(0),
        })
    }

    /// Drops the output in the stage (whoever owns the stage now).
    fn drop_output(&self) {
        self.stage.with_mut(|s| {
            // SAFETY: the caller owns the stage by the protocol; loom
            // checks that no other access races with this one.
            let s = unsafe { &mut *s };
            if *s == OUTPUT {
                *s = DROPPED;
                self.drops.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// The owner thread's end of a task that returned: writes the output,
    /// publishes it as `Core::finish` does (fast path, then the contended
    /// one), takes and wakes the join waker, drops an outcome no handle
    /// will read. Returns whether the task counts as having returned.
    fn owner_completes(&self) -> bool {
        // SAFETY: the stage is the owner's before COMPLETE.
        self.stage.with_mut(|s| unsafe { *s = OUTPUT });
        let (prev, returned) = match complete_fast(&self.flags) {
            Some(prev) => (prev, true),
            None => complete_contended(&self.flags, true, || self.drop_output()),
        };
        if prev & HANDLE == 0 {
            self.drop_output();
        } else if let Some(_waker) = take_join(&self.flags, prev, || {
            // SAFETY: JOIN_LOCK is held.
            self.join_waker.with_mut(|w| unsafe { (*w).take() })
        }) {
            self.woken.fetch_add(1, Ordering::Relaxed);
        }
        returned
    }

    /// The handle's poll: registers waker `id`; true if the output is
    /// ready to read.
    fn handle_polls(&self, id: usize) -> bool {
        if is_complete(&self.flags) {
            return true;
        }
        store_join(&self.flags, || {
            // SAFETY: JOIN_LOCK is held.
            self.join_waker.with_mut(|w| unsafe { (*w).replace(id) })
        });
        is_complete(&self.flags)
    }

    /// The handle reads the outcome (after it saw COMPLETE).
    fn handle_reads(&self) -> u8 {
        // SAFETY: the stage is the handle's after COMPLETE (acquire).
        self.stage.with(|s| unsafe { *s })
    }
}

/// Completion vs a kill sent from the handle's thread: the handle's answer
/// and the outcome always agree. `true` means the task ends killed (its
/// returned output dropped by the owner before `COMPLETE`), `false` means
/// it had completed (and the handle reads the output).
#[test]
fn loom_complete_vs_kill() {
    loom::model(|| {
        let cell = Cell::new(HANDLE);
        let owner = spawn_owner(&cell);
        let killed = send_kill(&cell.flags);
        let returned = owner.join().unwrap();
        assert_eq!(killed, !returned, "the kill answer and the outcome agree");
        assert!(is_complete(&cell.flags));
        let stage = cell.handle_reads();
        if killed {
            assert_eq!(stage, DROPPED);
            assert_eq!(cell.drops.load(Ordering::Relaxed), 1);
        } else {
            assert_eq!(stage, OUTPUT);
            assert_eq!(cell.drops.load(Ordering::Relaxed), 0);
        }
    });
}

/// Completion vs the handle registering its join waker (twice: a poll
/// that replaces the waker as well): the waker is never lost. Either the
/// handle sees `COMPLETE` on a poll and reads the output, or completion
/// takes its last waker and wakes it, and the next poll finds the output.
#[test]
fn loom_complete_vs_join_waker() {
    loom::model(|| {
        let cell = Cell::new(HANDLE);
        let owner = spawn_owner(&cell);
        let ready = cell.handle_polls(1) || cell.handle_polls(2);
        if ready {
            assert_eq!(cell.handle_reads(), OUTPUT);
        }
        owner.join().unwrap();
        let woken = cell.woken.load(Ordering::Relaxed);
        if !ready {
            // Pending twice: only a wake will poll again, so one is due.
            assert_eq!(woken, 1, "a pending handle is woken");
            assert!(cell.handle_polls(3), "the woken poll finds the output");
            assert_eq!(cell.handle_reads(), OUTPUT);
        }
        assert!(woken <= 1);
    });
}

/// Completion vs the handle's drop: exactly one side drops the output,
/// and it owns the stage when it does.
#[test]
fn loom_complete_vs_handle_drop() {
    loom::model(|| {
        let cell = Cell::new(HANDLE);
        let owner = spawn_owner(&cell);
        if release_handle(&cell.flags) {
            cell.drop_output();
        }
        owner.join().unwrap();
        assert_eq!(cell.drops.load(Ordering::Relaxed), 1);
    });
}

/// Completion vs a kill and the handle's drop right after it (three
/// parties on one word: the owner, a killing thread, the handle dropping):
/// the output is dropped exactly once and the kill answer holds.
#[test]
fn loom_complete_vs_kill_and_drop() {
    loom::model(|| {
        let cell = Cell::new(HANDLE);
        let owner = spawn_owner(&cell);
        let killer = {
            let cell = cell.clone();
            thread::spawn(move || send_kill(&cell.flags))
        };
        if release_handle(&cell.flags) {
            cell.drop_output();
        }
        let returned = owner.join().unwrap();
        let killed = killer.join().unwrap();
        assert_eq!(killed, !returned);
        assert_eq!(cell.drops.load(Ordering::Relaxed), 1);
    });
}

/// Reference counting: three holders (one of them cloning a reference
/// for a fourth use first) give theirs up on three threads; the cell is
/// freed exactly once, and every holder's last write to it happens before
/// the free reads it.
#[test]
fn loom_refs_free_once() {
    loom::model(|| {
        struct Counted {
            refs: AtomicU32,
            /// Each holder's last use of the cell.
            uses: [UnsafeCell<u8>; 3],
            frees: AtomicUsize,
        }
        let c = Arc::new(Counted {
            refs: AtomicU32::new(3),
            uses: [UnsafeCell::new(0), UnsafeCell::new(0), UnsafeCell::new(0)],
            frees: AtomicUsize::new(0),
        });
        let give_up = |c: &Counted| {
            if refs_dec(&c.refs) {
                let total: u8 = c
                    .uses
                    .iter()
                    // SAFETY: the last reference: every holder is done.
                    .map(|u| u.with(|v| unsafe { *v }))
                    .sum();
                assert_eq!(total, 3, "every use happened before the free");
                c.frees.fetch_add(1, Ordering::Relaxed);
            }
        };
        let holders: Vec<_> = (0..2)
            .map(|i| {
                let c = c.clone();
                thread::spawn(move || {
                    if i == 0 {
                        // A waker cloned from a live reference, dropped at
                        // once (its use is the holder's).
                        assert!(refs_inc(&c.refs) >= 1);
                        give_up(&c);
                    }
                    // SAFETY: each holder writes only its own slot.
                    c.uses[i].with_mut(|v| unsafe { *v = 1 });
                    give_up(&c);
                })
            })
            .collect();
        // SAFETY: as above.
        c.uses[2].with_mut(|v| unsafe { *v = 1 });
        give_up(&c);
        for h in holders {
            h.join().unwrap();
        }
        assert_eq!(c.frees.load(Ordering::Relaxed), 1);
    });
}

/// Remote wakes deduplicated by `REMOTE_QUEUED` vs the owner clearing it
/// while handling the queued `Wake`: a wake is never lost. Two foreign
/// threads each publish an event then wake; the owner handles messages as
/// they come. Once all is quiet, the last poll saw both events, and no
/// message is sent while one is queued.
#[test]
fn loom_remote_wake_not_lost() {
    loom::model(|| {
        struct Task {
            flags: AtomicU8,
            /// What the task's poll reads (two events, relaxed: only the
            /// protocol orders them).
            events: AtomicUsize,
            /// The injection queue: pending `Wake` messages.
            queue: Mutex<usize>,
        }
        impl Task {
            fn wake(&self) {
                if mark_remote_queued(&self.flags) {
                    let mut q = self.queue.lock().unwrap();
                    *q += 1;
                    assert_eq!(*q, 1, "one message per clear");
                }
            }
            /// Handles one queued `Wake` if any; the poll's view of the
            /// events.
            fn handle_one(&self) -> Option<usize> {
                {
                    let mut q = self.queue.lock().unwrap();
                    if *q == 0 {
                        return None;
                    }
                    *q -= 1;
                }
                clear_remote_queued(&self.flags);
                Some(self.events.load(Ordering::Relaxed))
            }
        }
        let t = Arc::new(Task {
            flags: AtomicU8::new(0),
            events: AtomicUsize::new(0),
            queue: Mutex::new(0),
        });
        let wakers: Vec<_> = (0..2)
            .map(|_| {
                let t = t.clone();
                thread::spawn(move || {
                    t.events.fetch_add(1, Ordering::Relaxed);
                    t.wake();
                })
            })
            .collect();
        let mut seen = 0;
        if let Some(v) = t.handle_one() {
            seen = v;
        }
        for w in wakers {
            w.join().unwrap();
        }
        while let Some(v) = t.handle_one() {
            seen = v;
        }
        assert_eq!(seen, 2, "the last poll saw every event");
    });
}
