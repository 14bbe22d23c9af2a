//! Dump details: each task's parent (the task that spawned it) and the
//! instant since which it waits, kept only when the scheduler was built
//! with `Builder::dump_details(true)`.
//!
//! The task cell has no room for them, so they live beside the task's
//! registry entry (see `registry`'s "Dump details"): one write at spawn,
//! one per poll that returns `Pending`, 16 bytes per task while it lives.
//! Without the option, nothing here runs and the registry keeps none.
//!
//! This file only records and reads; it must not poll tasks or change
//! their scheduling, and of a task's header it only sets `DUMP_DETAILS`.

use std::ptr::NonNull;
use std::time::Instant;

use super::{Core, TICK_NS};
use crate::scheduler::ticker;
use crate::task::TaskId;
use crate::task::raw::{DUMP_DETAILS, Header};

/// What the dump knows of one task beyond its header.
#[derive(Clone, Copy, Default)]
pub(crate) struct Detail {
    /// Id of the task that spawned it; 0: none (the main task of `run`, a
    /// spawn from a thread with no task).
    parent: u64,
    /// Tick of the scheduler clock at which its last poll returned (at
    /// spawn, until its first poll).
    since: u64,
}

impl Core {
    /// The id of the task this thread is polling (0 if none): the parent
    /// of a task spawned now.
    #[inline]
    pub(crate) fn parent_id(&self) -> u64 {
        // SAFETY: the task being polled is alive.
        self.current().map_or(0, |p| unsafe { p.as_ref() }.id)
    }

    /// Records a task just registered, spawned by task `parent` (0: none).
    pub(super) fn note_spawn(&self, h: &Header, parent: u64) {
        h.owner_flags.set(h.owner_flags.get() | DUMP_DETAILS);
        let since = self.now_tick();
        if let Some(d) = self.registry.borrow_mut().detail_mut(NonNull::from(h)) {
            *d = Detail { parent, since };
        }
    }

    /// Records that `h` waits from now on (a poll of it just returned
    /// `Pending`).
    pub(super) fn note_pending(&self, h: &Header) {
        // The clock was read before the batch of polls began; a real clock
        // has moved on since by what the coarse clock says (a virtual one
        // stands still while tasks run).
        let moved = if self.is_virtual() {
            0
        } else {
            ticker::now_us().saturating_sub(self.clock_us.get()) * 1000 / TICK_NS
        };
        let since = self.now_tick() + moved;
        if let Some(d) = self.registry.borrow_mut().detail_mut(NonNull::from(h)) {
            d.since = since;
        }
    }

    /// The parent and the waiting-since instant of `detail`.
    pub(super) fn read_detail(&self, detail: Detail) -> (Option<TaskId>, Instant) {
        let parent = (detail.parent != 0).then(|| TaskId::from_u64(detail.parent));
        (parent, self.instant_of(detail.since))
    }
}
