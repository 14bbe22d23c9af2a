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
}

impl Group {
    pub(crate) fn new(cores: Vec<Arc<CoreShared>>) -> Group {
        Group {
            cores: cores.into_boxed_slice(),
            next: AtomicUsize::new(0),
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
            n => self.next.fetch_add(1, Ordering::Relaxed) % n,
        }
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
