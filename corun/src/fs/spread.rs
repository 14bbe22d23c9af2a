//! The write lane's places: how many writes moved off the scheduler
//! thread may be in flight at once, and the buffers they carry.
//!
//! A write that could run inline (see `inline.rs`) costs kernel CPU time —
//! copying into the page cache, allocating blocks — all of it on the
//! scheduler thread. When the scheduler has other work, `placement.rs`
//! moves such a write to the write lane (`lane.rs`) if a place is free
//! here: fewer than [`limit`] moved writes in flight in the whole process
//! ([`PER_LANE`] per lane thread; none on one core). When the lane is the
//! slower side, the places stay taken and writes run inline, so the split
//! between the scheduler thread and the lane follows their speeds.
//!
//! A [`Ticket`] counts a moved write and, for a borrowed write, holds a
//! copy of its bytes (in one of a few recycled buffers; an owned write,
//! `File::write_all_owned`, sends its own vector instead); the job owns it
//! and drops it when the write is done, before the task is woken.
//!
//! This file only keeps counters and spare buffers: it must not decide
//! where a write runs (`placement.rs` does), make syscalls, touch the pool,
//! the lane, a `File`'s state, the scheduler or the reactor.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Moved writes in flight per lane thread: sixteen, so a lane thread
/// finds its next writes queued when it finishes one, even while the
/// scheduler thread is busy with a run of inline writes or a slow one.
pub(super) const PER_LANE: usize = 16;

/// Moved writes in flight now, process-wide.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Writes moved so far, process-wide.
static MOVED: AtomicU64 = AtomicU64::new(0);

/// How many writes may be moved at once.
pub(super) fn limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| limit_for(super::lane::threads()))
}

/// The bound for a lane of `lanes` threads.
pub(super) fn limit_for(lanes: usize) -> usize {
    lanes * PER_LANE
}

/// One moved write in flight, with the buffer holding its bytes; dropping
/// it frees its place and recycles the buffer.
#[derive(Debug)]
pub(super) struct Ticket {
    count: &'static AtomicUsize,
    data: Vec<u8>,
}

impl Ticket {
    /// Copies `src` into the ticket's buffer (a recycled one: only tickets
    /// of borrowed writes get a buffer).
    pub(super) fn fill(&mut self, src: &[u8]) {
        if self.data.capacity() == 0 {
            self.data = reuse();
        }
        self.data.clear();
        self.data.extend_from_slice(src);
    }

    /// The bytes to write.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.data));
        self.count.fetch_sub(1, Ordering::Release);
    }
}

/// Takes one of `limit` places counted by `count`.
fn take(count: &'static AtomicUsize, limit: usize) -> Option<Ticket> {
    count
        .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
            (n < limit).then_some(n + 1)
        })
        .ok()
        .map(|_| Ticket {
            count,
            data: Vec::new(),
        })
}

/// Buffers of finished moved writes, for the next ones. The same few
/// buffers go round, so the copy into them hits the cache (a buffer per
/// file would not: a hundred files writing 32 KiB each spread the copies
/// over 3 MiB).
static SPARE_BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Buffers kept beyond one per place.
const EXTRA_SPARE_BUFFERS: usize = 2;

fn reuse() -> Vec<u8> {
    let mut spare = SPARE_BUFFERS.lock().unwrap_or_else(|p| p.into_inner());
    spare.pop().unwrap_or_default()
}

fn recycle(mut data: Vec<u8>) {
    if data.capacity() == 0 {
        return;
    }
    data.clear();
    let mut spare = SPARE_BUFFERS.lock().unwrap_or_else(|p| p.into_inner());
    if spare.len() < limit() + EXTRA_SPARE_BUFFERS {
        spare.push(data);
    }
}

/// A ticket outside the lane's count, holding a copy of `src`: for tests
/// of the paths that carry tickets.
#[cfg(test)]
pub(super) fn test_ticket(src: &[u8]) -> Ticket {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let mut t = take(&COUNT, usize::MAX).expect("unbounded");
    t.fill(src);
    t
}

/// Whether writes can move at all: false on one core (no lane).
pub(super) fn has_lane() -> bool {
    limit() != 0
}

/// Takes one of the lane's places for a write about to move, or `None`
/// if all are taken.
pub(super) fn take_place() -> Option<Ticket> {
    let ticket = take(&IN_FLIGHT, limit());
    if ticket.is_some() {
        MOVED.fetch_add(1, Ordering::Relaxed);
    }
    ticket
}

/// How many writes that could have run inline on a scheduler thread ran
/// on another thread instead (to spread writing over the machine's cores),
/// since the process started. For tests and diagnostics.
///
/// ```
/// let before = corun::fs::spread_writes();
/// assert!(corun::fs::spread_writes() >= before);
/// ```
#[doc(hidden)]
pub fn spread_writes() -> u64 {
    MOVED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_core_never_moves() {
        assert_eq!(limit_for(super::super::lane::threads_for(1)), 0);
        // Sixteen places per lane thread: one in the works, the rest queued.
        assert_eq!(limit_for(1), 16);
        assert_eq!(limit_for(3), 48);
    }

    #[test]
    fn tickets_are_bounded_and_freed_on_drop() {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let mut a = take(&COUNT, 2).expect("first place");
        a.fill(b"abc");
        assert_eq!(a.bytes(), b"abc");
        let b = take(&COUNT, 2).expect("second place");
        assert!(take(&COUNT, 2).is_none());
        drop(a);
        assert_eq!(COUNT.load(Ordering::Acquire), 1);
        let c = take(&COUNT, 2).expect("a freed place is reused");
        drop((b, c));
        assert_eq!(COUNT.load(Ordering::Acquire), 0);
    }
}
