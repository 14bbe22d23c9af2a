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
use std::task::Waker;

use super::core::Core;
use super::shared::CoreShared;
use crate::reactor::Reactor;
use crate::task::raw::{FINISHED, Header, REQUEUED, SCHEDULED};

thread_local! {
    static CORE: Cell<*const Core> = const { Cell::new(ptr::null()) };
    /// The waker this thread's scheduler polls the current task with
    /// (null between polls): the task is its data. Its own slot rather
    /// than a field of the core, and the waker's address rather than the
    /// task's: a yield compares its context's waker with it, one
    /// thread-local load and one compare, without the core or the waker's
    /// vtable.
    static CURRENT: Cell<*const Waker> = const { Cell::new(ptr::null()) };
}

/// Makes `core` the current scheduler of this thread until the guard drops.
pub(crate) struct Enter {
    prev: *const Core,
    prev_task: *const Waker,
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
    let w = CURRENT.with(Cell::get);
    // SAFETY: a non-null `CURRENT` is the waker of the poll in progress
    // on this thread, which outlives the poll (`set_current_waker`).
    (!w.is_null())
        .then(|| unsafe { NonNull::new_unchecked((*w).data().cast::<Header>().cast_mut()) })
}

/// Records the waker of the task about to be polled (`Some`), or the end
/// of its poll (`None`). Only the scheduler of this thread calls it,
/// around a poll, with a task waker (`task::waker::borrowed`) that stays
/// in place until it records another (or `None`).
#[inline]
pub(crate) fn set_current_waker(waker: Option<&Waker>) {
    CURRENT.with(|c| c.set(waker.map_or(ptr::null(), ptr::from_ref)));
}

/// The waker recorded by [`set_current_waker`] (null: none), for a loop
/// that records its own for a while and then puts this one back.
#[inline]
pub(crate) fn current_waker() -> *const Waker {
    CURRENT.with(Cell::get)
}

/// Puts back a waker read with [`current_waker`] (still in place).
#[inline]
pub(crate) fn restore_current_waker(waker: *const Waker) {
    CURRENT.with(|c| c.set(waker));
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

/// Requeues the task being polled if `waker` is the very waker its
/// scheduler polls it with (the common case of `yield_now`: the task's
/// own context, passed down by every `async fn` and most combinators),
/// skipping the waker's indirect call and owner check. False for any
/// other waker (a combinator's, a clone, or any waker off a scheduler
/// thread), which the caller must then wake itself.
///
/// The task is marked `SCHEDULED` and `REQUEUED` now but joins the back of
/// the queue only when its poll returns (`Core::run_task` reads the flag):
/// if nothing else is ready then, it is polled again straight away, without
/// the round trip through the queue. Already `SCHEDULED` (woken during this
/// poll), it is queued already and nothing changes.
#[inline]
pub(crate) fn requeue_current(waker: &Waker) -> bool {
    // A waker being used is never at address null, so no task polled
    // means no match.
    if !ptr::eq(waker, CURRENT.with(Cell::get)) {
        return false;
    }
    // SAFETY: `waker` is the waker of the task this thread is polling
    // (recorded around the poll by its scheduler, here), whose data is
    // that task: alive, and its owner flags are touched by this thread
    // only.
    let h = unsafe { &*waker.data().cast::<Header>() };
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
