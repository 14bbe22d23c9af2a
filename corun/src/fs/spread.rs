//! Spreading small buffered writes over the machine's cores.
//!
//! A write that could run inline (see `inline.rs`) costs kernel CPU time —
//! copying into the page cache, allocating blocks — and inline all of it is
//! spent on the scheduler thread, so many tasks writing files keep one core
//! busy while the others idle. This module decides, per inline-able write,
//! whether to hand it to the write lane (`lane.rs`, one thread per core)
//! instead, so the scheduler thread and lane threads copy in
//! parallel. Handing a write over only pays when the scheduler has other
//! work meanwhile; for a lone writer it only adds a round trip between
//! threads. So a write moves only when:
//!
//! * **the lane has room**: fewer than [`limit`] moved writes are in
//!   flight in the whole process ([`PER_LANE`] per lane thread; on one
//!   core there is no lane and nothing moves);
//! * **this thread is writing steadily**: its previous inline-able write
//!   was less than [`WINDOW`] ago (a lone write stays inline);
//! * **moving paid last time for this file**: when a moved write
//!   completes, the file's [`Writer`] checks whether this thread made other
//!   inline-able writes meanwhile (it had other writers to run). If not,
//!   the file's next [`BACKOFF`] writes stay inline, so a single sequential
//!   writer pays for one round trip between threads in that many writes.
//!   The backoff does not grow: a moved write makes its task yield, which
//!   lets the scheduler take in tasks that became ready meanwhile (new
//!   writers), and a long inline run would keep them waiting.
//!
//! A [`Ticket`] counts a moved write and holds a copy of its bytes (in one
//! of a few recycled buffers); the job owns it and drops it when the write
//! is done, before the task is woken.
//!
//! This file only keeps counters and spare buffers: it must not make
//! syscalls, touch the pool, the lane, a `File`'s state, the scheduler or
//! the reactor.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Moved writes in flight per lane thread: two, so a lane thread finds its
/// next write queued when it finishes one.
pub(super) const PER_LANE: usize = 2;
/// A write this soon after the thread's previous one is part of a stream.
pub(super) const WINDOW: Duration = Duration::from_millis(1);
/// Writes of a file kept inline after a moved one bought nothing.
pub(super) const BACKOFF: u32 = 32;

/// Moved writes in flight now, process-wide.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Writes moved so far, process-wide.
static MOVED: AtomicU64 = AtomicU64::new(0);

/// What one thread remembers about its writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Local {
    /// When its last inline-able write was decided.
    last: Option<Instant>,
    /// Inline-able writes it has seen.
    seq: u64,
}

thread_local! {
    static LOCAL: Cell<Local> = const { Cell::new(Local { last: None, seq: 0 }) };
}

/// What one file remembers about its moved writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Writer {
    /// The thread's write count when the write in flight was moved.
    trial: Option<u64>,
    /// Writes still to keep inline after a fruitless move.
    backoff: u32,
}

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
    /// Copies `src` into the ticket's buffer.
    pub(super) fn fill(&mut self, src: &[u8]) {
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
            data: reuse(),
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

/// The decision for one inline-able write at `now`, given whether a place
/// is free (`room`, asked only when needed). Returns whether to move it.
pub(super) fn decide(
    l: &mut Local,
    w: &mut Writer,
    now: Instant,
    room: impl FnOnce() -> bool,
) -> bool {
    l.seq = l.seq.wrapping_add(1);
    let steady = l
        .last
        .is_some_and(|t| now.saturating_duration_since(t) < WINDOW);
    l.last = Some(now);
    if !steady {
        return false;
    }
    if w.backoff > 0 {
        w.backoff -= 1;
        return false;
    }
    if !room() {
        return false;
    }
    w.trial = Some(l.seq);
    true
}

/// Takes in a finished moved write: did the thread write anything else
/// meanwhile? If not, the next writes stay inline.
pub(super) fn judge(l: &Local, w: &mut Writer) {
    if w.trial.take() == Some(l.seq) {
        w.backoff = BACKOFF;
    }
}

impl Writer {
    /// Decides where an inline-able write of this file runs: `Some` —
    /// moved, holding its place; `None` — inline.
    pub(super) fn offload(&mut self) -> Option<Ticket> {
        let limit = limit();
        if limit == 0 {
            return None;
        }
        let now = Instant::now();
        let mut ticket = None;
        LOCAL.with(|c| {
            let mut l = c.get();
            decide(&mut l, self, now, || {
                ticket = take(&IN_FLIGHT, limit);
                ticket.is_some()
            });
            c.set(l);
        });
        if ticket.is_some() {
            MOVED.fetch_add(1, Ordering::Relaxed);
        }
        ticket
    }

    /// Reports that the operation in flight finished (judges it if it was
    /// a moved write).
    pub(super) fn finished(&mut self) {
        if self.trial.is_some() {
            LOCAL.with(|c| judge(&c.get(), self));
        }
    }
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
        assert_eq!(limit_for(1), PER_LANE);
        assert_eq!(limit_for(4), 4 * PER_LANE);
    }

    #[test]
    fn lone_writes_stay_inline_and_streams_move() {
        let t0 = Instant::now();
        let (mut l, mut w) = (Local::default(), Writer::default());
        // The first write, and one long after, stay inline.
        assert!(!decide(&mut l, &mut w, t0, || true));
        assert!(!decide(&mut l, &mut w, t0 + WINDOW * 3, || true));
        // A write soon after the previous one moves, if there is room.
        let soon = t0 + WINDOW * 3 + WINDOW / 4;
        assert!(!decide(&mut l, &mut w, soon, || false));
        assert_eq!(w.trial, None);
        assert!(decide(&mut l, &mut w, soon, || true));
        assert_eq!(w.trial, Some(l.seq));
    }

    #[test]
    fn a_fruitless_move_keeps_the_next_writes_inline() {
        let t0 = Instant::now();
        let (mut l, mut w) = (Local::default(), Writer::default());
        decide(&mut l, &mut w, t0, || true);
        assert!(decide(&mut l, &mut w, t0, || true));
        // Nothing else was written meanwhile: the next writes stay inline.
        judge(&l, &mut w);
        assert_eq!(w.trial, None);
        for _ in 0..BACKOFF {
            assert!(!decide(&mut l, &mut w, t0, || true));
        }
        assert!(decide(&mut l, &mut w, t0, || true));
        // Another file wrote while this one was away: no backoff.
        let mut other = Writer::default();
        assert!(!decide(&mut l, &mut other, t0, || false));
        judge(&l, &mut w);
        assert_eq!(w, Writer::default());
        assert!(decide(&mut l, &mut w, t0, || true));
        // Judging a file with no moved write changes nothing.
        judge(&l, &mut other);
        assert_eq!(other, Writer::default());
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
