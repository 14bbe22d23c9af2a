//! The slow-poll detector and the longest poll of each task, measured on
//! the coarse clock (`scheduler::ticker`).
//!
//! A poll is measured only when the coarse clock moved by its end
//! (`Core::clock_moved`, which reads the real clock then), so a poll that
//! no tick lands in costs one relaxed load and a compare, and a task whose
//! polls are all short has no entry here. A poll at least as long as the
//! gap between ticks (2 ms at most) always has one land in it. A task with an entry
//! carries `LONG_POLLED` (in its `site` byte), so its end removes the entry
//! without a lookup for every other task.
//!
//! This file must not poll tasks or change their scheduling; it observes.

use std::time::Duration;

use super::Core;
use crate::task::raw::{Header, LONG_POLLED};

impl Core {
    /// Records a poll of `h` that lasted about `ran_us` microseconds (more
    /// than zero; from the last tick, batch start or measured poll before
    /// it to its end), and warns if it reached the slow-poll threshold.
    #[cold]
    #[inline(never)]
    pub(super) fn long_poll(&self, h: &Header, ran_us: u64) {
        h.site.set(h.site.get() | LONG_POLLED);
        {
            let mut map = self.longest.borrow_mut();
            let e = map.entry(h.id).or_insert(0);
            *e = (*e).max(ran_us);
        }
        if ran_us < self.options.slow_poll_us {
            return;
        }
        self.bump(|s| s.slow_polls += 1);
        let site = self.sites.borrow().get(h.site.get());
        let site = site.map_or_else(|| "unknown".to_string(), |l| l.to_string());
        tracing::warn!(
            task.id = h.id,
            task.name = h.name().unwrap_or("-"),
            task.spawned_at = %site,
            poll_ms = ran_us as f64 / 1000.0,
            "slow poll: task {} ({}, spawned at {}) ran {:.1} ms without reaching an await \
             that waits; every other task on this core waited that long \
             (yield with `corun::yield_now().await` inside long loops)",
            crate::task::TaskId::of(h),
            h.name().unwrap_or("unnamed"),
            site,
            ran_us as f64 / 1000.0,
        );
    }

    /// The longest measured poll of `h` (zero if none lasted a tick).
    pub(super) fn longest_poll(&self, h: &Header) -> Duration {
        if h.site.get() & LONG_POLLED == 0 {
            return Duration::ZERO;
        }
        let us = self.longest.borrow().get(&h.id).copied().unwrap_or(0);
        Duration::from_micros(us)
    }

    /// Forgets the longest poll of a task that ended.
    #[cold]
    #[inline(never)]
    pub(super) fn forget_long_poll(&self, h: &Header) {
        self.longest.borrow_mut().remove(&h.id);
    }
}
