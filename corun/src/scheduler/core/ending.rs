//! How a task ends: its outcome published and its waiters woken
//! (`finish`), a kill (`kill`), and the scheduler's shutdown, which kills
//! what is left. The poll that completes a task is in `mod.rs`; this file
//! polls no future itself (shutdown's last `run_ready` only pops tasks
//! that have ended), and it releases a task's registry reference only by
//! the lifetime rules of the core's module docs.

use std::ptr::NonNull;

use super::Core;
use crate::scheduler::shared::Msg;
use crate::task::protocol;
use crate::task::raw::{
    self, FINISHED, HANDLE, Header, JOIN_WAKER_SET, KILL_REQUESTED, LONG_POLLED, RUNNING, SCHEDULED,
};
use crate::task::{Exit, TaskId};
use crate::time::wheel::Wheel;

impl Core {
    /// Kills task `id`. False if no such task is alive here.
    pub(crate) fn kill(&self, id: TaskId) -> bool {
        let Some(ptr) = self.find(id.id) else {
            return false;
        };
        // SAFETY: the registry keeps it alive.
        let h = unsafe { raw::header(ptr) };
        let l = h.owner_flags.get();
        if l & RUNNING != 0 {
            // It is on the stack right now (killing itself): end it when its
            // poll returns.
            h.owner_flags.set(l | KILL_REQUESTED);
            return true;
        }
        self.registry.borrow_mut().remove(ptr);
        self.kill_removed(ptr);
        true
    }

    /// Drops the future of a task just removed from the registry.
    pub(super) fn kill_removed(&self, ptr: NonNull<Header>) {
        // SAFETY: the caller took over the registry reference.
        let h = unsafe { raw::header(ptr) };
        h.owner_flags.set(h.owner_flags.get() | FINISHED);
        // User destructors run here; no core borrow is held.
        // SAFETY: owner thread, task not complete.
        let panicked = unsafe { (h.vtable().kill)(ptr) };
        if let Some(msg) = panicked {
            tracing::error!(
                task.id = h.id,
                task.name = h.name(),
                "killed task's destructor panicked (the task still counts as killed): {msg}"
            );
        }
        self.finish(ptr, Exit::Killed);
    }

    /// Publishes the outcome, wakes whoever waits, releases the registry
    /// reference. The task is already out of the registry and `FINISHED`.
    #[inline(always)]
    pub(super) fn finish(&self, ptr: NonNull<Header>, exit: Exit) {
        // SAFETY: we hold the registry reference until the end.
        let h = unsafe { raw::header(ptr) };
        let (prev, exit) = match protocol::complete_fast(&h.remote_flags) {
            Some(prev) => (prev, exit),
            None => self.complete_contended(ptr, exit),
        };
        // The usual end of a joined task: it returned, its handle has not
        // awaited it yet, nobody waits for its id and nothing is logged.
        // That only counts; the rest is out of line, so that this path
        // saves and restores few registers.
        let plain = matches!(exit, Exit::Completed)
            && prev & (HANDLE | JOIN_WAKER_SET) == HANDLE
            && self.id_waiters.borrow().is_empty()
            && self.remote_waiters.borrow().is_empty()
            && !self.options.measure_busy_time
            && !tracing::level_enabled!(tracing::Level::TRACE);
        if plain {
            self.bump(|s| s.completed += 1);
        } else {
            self.finish_rest(ptr, exit, prev);
        }
        if h.site.get() & LONG_POLLED != 0 {
            self.forget_long_poll(h);
        }
        if h.owner_flags.get() & SCHEDULED == 0 {
            // SAFETY: the registry reference, no longer needed.
            unsafe { raw::ref_dec(ptr) };
        }
    }

    /// Sets `COMPLETE` when the flags moved under [`Core::finish`] or a
    /// kill was sent through the handle: a task killed that way before it
    /// completed reports `Killed`, as for a local kill during its last
    /// poll. Returns the flags from before `COMPLETE` and the outcome.
    #[inline(never)]
    fn complete_contended(&self, ptr: NonNull<Header>, exit: Exit) -> (u8, Exit) {
        // SAFETY: the caller holds the registry reference.
        let h = unsafe { raw::header(ptr) };
        let returned = exit == Exit::Completed;
        let (prev, still_returned) =
            protocol::complete_contended(&h.remote_flags, returned, || {
                // SAFETY: owner thread, before COMPLETE (the protocol calls this
                // before it sets the flag).
                unsafe { (h.vtable().drop_stage)(ptr) };
            });
        if returned && !still_returned {
            (prev, Exit::Killed)
        } else {
            (prev, exit)
        }
    }

    /// The rest of [`Core::finish`]: drops an outcome nobody will read,
    /// wakes the handle's and the id waiters, counts and logs. `prev` is
    /// the flag word from before `COMPLETE`.
    #[inline(never)]
    fn finish_rest(&self, ptr: NonNull<Header>, exit: Exit, prev: u8) {
        // SAFETY: the caller holds the registry reference.
        let h = unsafe { raw::header(ptr) };
        let mut panic_msg = None;
        if prev & HANDLE == 0 {
            // Nobody will read the outcome: drop it here, on this thread.
            // SAFETY: no handle exists, so the stage is ours.
            panic_msg = unsafe { (h.vtable().drop_stage)(ptr) };
        } else if let Some(w) = raw::take_join_waker(h, prev) {
            w.wake();
        }
        match exit {
            Exit::Completed => {
                self.bump(|s| s.completed += 1);
                tracing::trace!(task.id = h.id, task.name = h.name(), "complete");
            }
            Exit::Killed => {
                self.bump(|s| s.killed += 1);
                tracing::debug!(task.id = h.id, task.name = h.name(), "killed");
            }
            _ => {
                self.bump(|s| s.panicked += 1);
                match &panic_msg {
                    Some(msg) => tracing::error!(
                        task.id = h.id,
                        task.name = h.name(),
                        "detached task panicked: {msg}"
                    ),
                    None => tracing::warn!(task.id = h.id, task.name = h.name(), "task panicked"),
                }
            }
        }
        let waiters = if self.id_waiters.borrow().is_empty() {
            None
        } else {
            self.id_waiters.borrow_mut().remove(&h.id)
        };
        let remote = if self.remote_waiters.borrow().is_empty() {
            None
        } else {
            self.remote_waiters.borrow_mut().remove(&h.id)
        };
        for reply in remote.into_iter().flatten() {
            let _ = reply.send(exit);
        }
        if self.options.measure_busy_time {
            self.busy_ns.borrow_mut().remove(&h.id);
        }
        if let Some(waiters) = waiters {
            let mut exits = self.exits.borrow_mut();
            for (key, _) in &waiters {
                exits.insert(*key, exit);
            }
            drop(exits);
            for (_, w) in waiters {
                w.wake();
            }
        }
    }

    /// Kills every task (their destructors run here, on this thread),
    /// refuses new messages and frees what the queues still hold.
    pub(crate) fn shutdown(&self) {
        self.closing.set(true);
        for msg in self.shared.close() {
            match msg {
                Msg::Shutdown => {}
                other => self.handle(other),
            }
        }
        loop {
            self.register_all();
            let ids: Vec<TaskId> = self
                .registry
                .borrow()
                .iter()
                .map(|p| {
                    // SAFETY: registered tasks are alive.
                    TaskId::of(unsafe { raw::header(p) })
                })
                .collect();
            if ids.is_empty() {
                break;
            }
            for id in ids {
                self.kill(id);
            }
        }
        // Only finished tasks are left in the queue; popping releases them.
        while self.run_ready(usize::MAX).0 > 0 {}
        // Timers and waiters hold wakers; drop them while this core is still
        // the current one (their drops may reach back into it).
        let waiters = std::mem::take(&mut *self.id_waiters.borrow_mut());
        drop(waiters);
        let remote = std::mem::take(&mut *self.remote_waiters.borrow_mut());
        drop(remote);
        let wheel = std::mem::replace(&mut *self.wheel.borrow_mut(), Wheel::new());
        drop(wheel);
    }
}
