//! The thread-local pointers to the scheduler running on this thread and
//! to the task it is polling.
//!
//! Everything that needs "the current scheduler" (spawn, wakes, timers, the
//! reactor, the current task) goes through the accessors here, which return
//! `None` (or false) outside a scheduler thread. This file only stores and
//! lends the pointers (and marks a yield of the task being polled); it
//! contains no scheduling logic.

use std::cell::Cell;
use std::ptr::{self, NonNull};

use super::core::Core;
use super::shared::CoreShared;
use crate::reactor::Reactor;
use crate::task::raw::{FINISHED, Header, REQUEUED, SCHEDULED};

thread_local! {
    static CORE: Cell<*const Core> = const { Cell::new(ptr::null()) };
    /// The task this thread's scheduler is polling (null between polls).
    /// Its own slot rather than a field of the core: a yield compares its
    /// waker with it in one thread-local load, without the core.
    static CURRENT: Cell<*const Header> = const { Cell::new(ptr::null()) };
}

/// Makes `core` the current scheduler of this thread until the guard drops.
pub(crate) struct Enter {
    prev: *const Core,
    prev_task: *const Header,
}

pub(crate) fn enter(core: &Core) -> Enter {
    let prev = CORE.with(|c| c.replace(core));
    let prev_task = CURRENT.with(|c| c.replace(ptr::null()));
    Enter { prev, prev_task }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CORE.with(|c| c.set(self.prev));
        CURRENT.with(|c| c.set(self.prev_task));
    }
}

/// The task this thread's scheduler is polling, if any.
#[inline]
pub(crate) fn current_task() -> Option<NonNull<Header>> {
    NonNull::new(CURRENT.with(Cell::get).cast_mut())
}

/// Records the task about to be polled (`Some`) or the end of its poll
/// (`None`). Only the scheduler of this thread calls it, around a poll.
#[inline]
pub(crate) fn set_current_task(task: Option<NonNull<Header>>) {
    CURRENT.with(|c| c.set(task.map_or(ptr::null(), |p| p.as_ptr().cast_const())));
}

/// True if a scheduler runs on this thread.
pub(crate) fn in_scheduler() -> bool {
    CORE.with(|c| !c.get().is_null())
}

/// Runs `f` with this thread's scheduler, if any.
#[inline]
pub(crate) fn with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    CORE.with(|c| {
        let p = c.get();
        // SAFETY: the pointer is set by `enter` from a live `Core` that
        // outlives the guard, and reset when the guard drops; the core is
        // only ever used from this thread.
        (!p.is_null()).then(|| f(unsafe { &*p }))
    })
}

/// Runs `f` with this thread's reactor, if a scheduler runs here.
pub(crate) fn with_reactor<R>(f: impl FnOnce(&Reactor) -> R) -> Option<R> {
    with_core(|core| f(core.reactor()))
}

/// Runs `f` with the header of the task being polled, if any.
#[inline]
pub(crate) fn with_current_task(f: impl FnOnce(&Header)) {
    if let Some(ptr) = current_task() {
        // SAFETY: the running task is alive while it is being polled.
        f(unsafe { ptr.as_ref() })
    }
}

/// True if `owner` is the scheduler of this thread.
#[inline]
pub(crate) fn is_local(owner: *const CoreShared) -> bool {
    with_core(|core| ptr::eq(owner, core.shared_ptr())).unwrap_or(false)
}

/// Schedules `ptr` on this thread's ready queue if it belongs here; false if
/// it belongs to another scheduler (or none runs here).
#[inline]
pub(crate) fn schedule_if_local(ptr: NonNull<Header>, h: &Header) -> bool {
    with_core(|core| {
        if ptr::eq(h.owner_ptr(), core.shared_ptr()) {
            core.schedule(ptr);
            true
        } else {
            false
        }
    })
    .unwrap_or(false)
}

/// Requeues the task being polled if `waker` is its own task waker (the
/// common case of `yield_now`), skipping the waker's indirect call and
/// owner check. False when it is some other waker (a combinator's, or any
/// waker off a scheduler thread), which the caller must then wake itself.
///
/// The task is marked `SCHEDULED` and `REQUEUED` now but joins the back of
/// the queue only when its poll returns (`Core::run_task` reads the flag):
/// if nothing else is ready then, it is polled again straight away, without
/// the round trip through the queue. Already `SCHEDULED` (woken during this
/// poll), it is queued already and nothing changes.
#[inline]
pub(crate) fn requeue_current(waker: &std::task::Waker) -> bool {
    let cur = CURRENT.with(Cell::get);
    // A task waker's data is never null, so no task polled means no match.
    if !ptr::eq(waker.data(), cur.cast()) || !crate::task::waker::is_task_waker(waker) {
        return false;
    }
    // SAFETY: `cur` is the task this thread is polling (set around the
    // poll by its scheduler, here): alive, and its owner flags are touched
    // by this thread only.
    let h = unsafe { &*cur };
    let l = h.owner_flags.get();
    if l & (SCHEDULED | FINISHED) == 0 {
        h.owner_flags.set(l | SCHEDULED | REQUEUED);
    }
    true
}

/// True if this thread's scheduler has other work queued: tasks ready
/// besides the one being polled, or messages from other threads (often
/// wakes). False off a scheduler thread.
pub(crate) fn others_ready() -> bool {
    with_core(|core| core.others_ready()).unwrap_or(false)
}

/// Kills task `id` if `owner` is this thread's scheduler.
pub(crate) fn kill_if_local(owner: *const CoreShared, id: crate::task::TaskId) -> Option<bool> {
    with_core(|core| ptr::eq(owner, core.shared_ptr()).then(|| core.kill(id))).flatten()
}
