//! Dump details: each task's parent (the task that spawned it) and the
//! instant since which it waits, kept in a side table by id only when the
//! scheduler was built with `Builder::dump_details(true)`.
//!
//! The task cell has no room for them, and a side table entry costs every
//! task a spawn-time insert, a write per poll and memory while it sleeps:
//! so without the option, nothing here runs and the table stays empty.
//!
//! This file only records and reads; it must not poll tasks, change their
//! scheduling or touch their headers.

use std::time::Instant;

use super::{Core, TICK_NS};
use crate::task::TaskId;
use crate::task::raw::Header;

/// What the dump knows of one task beyond its header.
#[derive(Clone, Copy)]
pub(super) struct Detail {
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
    pub(crate) fn parent_id(&self) -> u64 {
        // SAFETY: the task being polled is alive.
        self.current.get().map_or(0, |p| unsafe { p.as_ref() }.id)
    }

    /// Records a task just admitted, spawned by task `parent` (0: none).
    #[cold]
    #[inline(never)]
    pub(super) fn note_spawn(&self, h: &Header, parent: u64) {
        let since = self.now_tick();
        self.details
            .borrow_mut()
            .insert(h.id, Detail { parent, since });
    }

    /// Records that a poll of `h` lasting `ran_us` coarse microseconds just
    /// returned `Pending`: the task waits from now on.
    pub(super) fn note_pending(&self, h: &Header, ran_us: u64) {
        // The clock was read before the batch of polls began; a real clock
        // has moved on by at least this poll since.
        let ran = if self.is_virtual() {
            0
        } else {
            ran_us * 1000 / TICK_NS
        };
        if let Some(d) = self.details.borrow_mut().get_mut(&h.id) {
            d.since = self.now_tick() + ran;
        }
    }

    /// Forgets a task that ended.
    pub(super) fn forget_details(&self, h: &Header) {
        self.details.borrow_mut().remove(&h.id);
    }

    /// The parent of `h` and since when it waits, if recorded.
    pub(super) fn details_of(&self, h: &Header) -> (Option<TaskId>, Option<Instant>) {
        match self.details.borrow().get(&h.id) {
            Some(d) => (
                (d.parent != 0).then(|| TaskId::from_u64(d.parent)),
                Some(self.instant_of(d.since)),
            ),
            None => (None, None),
        }
    }
}
