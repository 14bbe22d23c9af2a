//! Late registration: a task spawned on its scheduler's own thread enters
//! the registry only when its first poll leaves it waiting, or when
//! something needs to find the live tasks (a look-up by id, a snapshot,
//! shutdown) before that.
//!
//! Why: most tasks of a spawn burst end in their first poll, and for them
//! the registry's insert and remove were a sixth of the instructions of a
//! spawn and join and their 4 KiB pages a thousand page faults per
//! million tasks, for look-ups that never came (`docs/design/memory.md`).
//!
//! # Rules
//!
//! * An `UNREGISTERED` task is spawned on this thread (own id block, no
//!   side tables, not during shutdown), unfinished, and either in the
//!   ready queue or the task being polled: from its pop to the end of its
//!   first poll that leaves it `Pending` it is `CURRENT` (`context`), and
//!   in the gap after that poll `run_task` registers it before anything
//!   could look it up (the kill messages it reads there).
//!   While it yields to its own slot alone it stays unregistered, current
//!   or held by `run_ready` (no code runs there that looks up tasks), or
//!   queued again.
//! * `unregistered` counts them exactly; `lazy_since` is the id of the
//!   oldest (local ids only grow), so a look-up of an older id, or of
//!   another core's, is answered by the registry alone.
//! * Whoever needs every live task, or misses an id that could be an
//!   unregistered task's, registers them all first ([`Core::register_all`]):
//!   one walk of the ready queue, after which the count is zero.
//!
//! This file only moves tasks into the registry; it polls nothing and
//! changes no task's place in the queue.

use std::ptr::NonNull;
use std::sync::Arc;

use super::Core;
use crate::task::CORE_SHIFT;
use crate::task::raw::{self, Header, UNREGISTERED};

impl Core {
    /// The live task `id` of this core, registered or not.
    pub(super) fn find(&self, id: u64) -> Option<NonNull<Header>> {
        if let Some(ptr) = self.registry.borrow_mut().get(id) {
            return Some(ptr);
        }
        if self.unregistered.get() == 0
            || id < self.lazy_since.get()
            || id >> CORE_SHIFT != self.core_bits >> CORE_SHIFT
        {
            return None;
        }
        self.register_all();
        self.registry.borrow_mut().get(id)
    }

    /// Enters `ptr` in the registry if it is not there yet.
    pub(super) fn register_late(&self, ptr: NonNull<Header>) {
        // SAFETY: the caller passes a live task of this core.
        let h = unsafe { raw::header(ptr) };
        let l = h.owner_flags.get();
        if l & UNREGISTERED == 0 {
            return;
        }
        h.owner_flags.set(l & !UNREGISTERED);
        self.registry.borrow_mut().insert(ptr, true);
        self.unregistered.set(self.unregistered.get() - 1);
    }

    /// Enters every unregistered task in the registry: the one being
    /// polled, if it is, and those in the ready queue.
    pub(super) fn register_all(&self) {
        if self.unregistered.get() == 0 {
            return;
        }
        if let Some(ptr) = self.current() {
            // SAFETY: the task being polled is alive.
            let owner = unsafe { raw::header(ptr) }.owner_ptr();
            // Only this core's own: a task of another scheduler polled on
            // this thread (a nested `run`) is never this core's to enter.
            if std::ptr::eq(owner, Arc::as_ptr(&self.shared)) {
                self.register_late(ptr);
            }
        }
        let mut registry = self.registry.borrow_mut();
        let mut entered = 0;
        self.ready_mut(|q| {
            q.for_each(|ptr| {
                // SAFETY: queued tasks are alive (see `ready`).
                let h = unsafe { raw::header(ptr) };
                let l = h.owner_flags.get();
                if l & UNREGISTERED != 0 {
                    h.owner_flags.set(l & !UNREGISTERED);
                    registry.insert(ptr, true);
                    entered += 1;
                }
            });
        });
        debug_assert_eq!(
            entered,
            self.unregistered.get(),
            "an unregistered task was lost"
        );
        self.unregistered.set(0);
    }
}
