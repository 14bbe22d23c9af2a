//! The thread-local pointer to the scheduler running on this thread.
//!
//! Everything that needs "the current scheduler" (spawn, wakes, timers, the
//! reactor, the current task) goes through the accessors here, which return
//! `None` (or false) outside a scheduler thread. This file only stores and
//! lends the pointer; it contains no scheduling logic.

use std::cell::Cell;
use std::ptr::{self, NonNull};

use super::core::Core;
use super::shared::CoreShared;
use crate::reactor::Reactor;
use crate::task::raw::Header;

thread_local! {
    static CORE: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// Makes `core` the current scheduler of this thread until the guard drops.
pub(crate) struct Enter {
    prev: *const Core,
}

pub(crate) fn enter(core: &Core) -> Enter {
    let prev = CORE.with(|c| c.replace(core));
    Enter { prev }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CORE.with(|c| c.set(self.prev));
    }
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
    with_core(|core| {
        if let Some(ptr) = core.current() {
            // SAFETY: the running task is alive while it is being polled.
            f(unsafe { ptr.as_ref() })
        }
    });
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

/// Requeues the running task if `waker` is its own waker (see
/// `Core::requeue_current`); false otherwise or outside a scheduler.
#[inline]
pub(crate) fn requeue_current(waker: &std::task::Waker) -> bool {
    with_core(|core| core.requeue_current(waker)).unwrap_or(false)
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
