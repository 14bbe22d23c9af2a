//! The cores of one `Scheduler`: the cross-thread side of each core, the
//! rule that places a task spawned from anywhere, and [`Launch`], which
//! builds a task's future on the core that will run it.
//!
//! Placement: round-robin over the cores, one relaxed counter increment
//! per spawn. It spreads a fan-out of many small tasks evenly whatever
//! their length, needs no load reading from other cores' queues, and is
//! predictable; servers that want one task per core use
//! `spawn_on_each` instead.
//!
//! This file must not touch a core's thread-local state; it only routes.
//! (The reasons: `docs/design/many-cores.md`.)

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use super::shared::CoreShared;

/// The cores of one scheduler, set once all of them have started.
pub(crate) type GroupSlot = Arc<OnceLock<Group>>;

pub(crate) struct Group {
    cores: Box<[Arc<CoreShared>]>,
    next: AtomicUsize,
    /// Experiment: place on the core with the fewest unfinished placed
    /// tasks instead of round-robin.
    least_loaded: bool,
    /// Per core, tasks placed by the rule and not yet finished (only kept
    /// when `least_loaded`).
    live: Box<[Padded]>,
}

/// A counter on a cache line of its own.
#[repr(align(64))]
#[derive(Default)]
struct Padded(AtomicUsize);

impl Group {
    pub(crate) fn new(cores: Vec<Arc<CoreShared>>, least_loaded: bool) -> Group {
        Group {
            live: (0..cores.len()).map(|_| Padded::default()).collect(),
            cores: cores.into_boxed_slice(),
            next: AtomicUsize::new(0),
            least_loaded,
        }
    }

    /// Whether placed tasks must carry a [`Counted`] guard.
    pub(crate) fn counts_load(&self) -> bool {
        self.least_loaded && self.cores.len() > 1
    }

    /// One more unfinished task on `core`, until the guard drops.
    pub(crate) fn count(slot: &GroupSlot, core: usize) -> Counted {
        if let Some(g) = slot.get() {
            g.live[core].0.fetch_add(1, Ordering::Relaxed);
        }
        Counted {
            slot: slot.clone(),
            core,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.cores.len()
    }

    /// Core `i`'s cross-thread side.
    pub(crate) fn core(&self, i: usize) -> Option<&Arc<CoreShared>> {
        self.cores.get(i)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<CoreShared>> {
        self.cores.iter()
    }

    /// The core the next task spawned without a core goes to.
    pub(crate) fn place(&self) -> usize {
        match self.cores.len() {
            1 => 0,
            n if self.least_loaded => {
                // Ties go round-robin, so an idle group fills evenly.
                let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
                (0..n)
                    .map(|k| (start + k) % n)
                    .min_by_key(|&c| self.live[c].0.load(Ordering::Relaxed))
                    .unwrap_or(start)
            }
            n => self.next.fetch_add(1, Ordering::Relaxed) % n,
        }
    }
}

/// Counts a placed task as unfinished on its core until it is dropped
/// (with the task's future: at completion, kill or shutdown).
pub(crate) struct Counted {
    slot: GroupSlot,
    core: usize,
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(g) = self.slot.get() {
            g.live[self.core].0.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A future that carries a [`Counted`] guard.
pub(crate) struct WithCount<F> {
    pub(crate) fut: Pin<Box<F>>,
    pub(crate) _count: Counted,
}

impl<F: Future> Future for WithCount<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.fut.as_mut().poll(cx)
    }
}

/// A task's future that starts as a `Send` closure and becomes the future
/// the closure returns, on the first poll: the future itself need not be
/// `Send`, because it is made on the core that polls it.
pub(crate) enum Launch<F, Fut> {
    Start(Option<F>),
    Run(Pin<Box<Fut>>),
}

// SAFETY: a `Launch` crosses threads only in its `Start` state, which holds
// an `F: Send`: it is made on the spawning thread and sent to its core, and
// only that core polls it (tasks never migrate), so the `Run` state — the
// non-`Send` future — is created, polled and dropped on that core's thread
// alone (futures are dropped on their own scheduler's thread; a spawn that
// fails drops the future, still in `Start`, on the spawning thread).
unsafe impl<F: Send, Fut> Send for Launch<F, Fut> {}

impl<F, Fut> Future for Launch<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    type Output = Fut::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        // `Launch` is `Unpin` (the future is boxed), so this is a plain
        // mutable borrow.
        let this = &mut *self;
        if let Launch::Start(f) = this {
            let make = f.take().expect("a Launch starts once");
            *this = Launch::Run(Box::pin(make()));
        }
        match this {
            Launch::Run(fut) => fut.as_mut().poll(cx),
            Launch::Start(_) => unreachable!("just started"),
        }
    }
}

impl<F, Fut> Unpin for Launch<F, Fut> {}
