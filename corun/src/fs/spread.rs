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
//! This file only keeps counters and spare buffers and copies into them
//! (streaming long copies past the cache): it must not decide
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
    /// of borrowed writes get a buffer), with streaming stores from
    /// [`STREAM_FROM`] bytes up (see [`copy_streaming`]).
    pub(super) fn fill(&mut self, src: &[u8]) {
        if self.data.capacity() == 0 {
            self.data = reuse();
        }
        if src.len() >= STREAM_FROM {
            copy_streaming(&mut self.data, src);
        } else {
            self.data.clear();
            self.data.extend_from_slice(src);
        }
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

/// Copies from this many bytes up use streaming stores ([`copy_streaming`]);
/// shorter ones are a plain copy (a few cache lines ping-pong cheaply).
pub(super) const STREAM_FROM: usize = 4096;

/// Replaces `dst`'s contents with `src`, writing with non-temporal
/// (streaming) stores on x86_64, a plain copy elsewhere.
///
/// Rule: the scheduler thread's copy into a ticket buffer must not pull
/// the buffer's lines into its own cache. The buffer was last read by a
/// lane thread on the other core and is next read by one: a cached copy
/// makes every line cross between the cores twice (taken for writing
/// here, then fetched dirty by the lane), and with the two threads on two
/// cores a 32 KiB copy took about 15 µs instead of 1 µs. Streaming stores
/// skip both (`docs/design/write-placement.md`, "The copy streams").
fn copy_streaming(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.reserve(src.len());
    // SAFETY: after `clear` and `reserve`, the vector's buffer is valid for
    // writes of `src.len()` bytes and does not overlap `src` (a shared
    // borrow cannot alias a vector we borrow mutably); `stream` writes all
    // of them, so they are initialised before `set_len`.
    unsafe {
        stream(dst.as_mut_ptr(), src);
        dst.set_len(src.len());
    }
}

/// Writes `src` to `d` with streaming stores (x86_64; a plain copy
/// elsewhere), any alignment of `d`.
///
/// # Safety
/// `d` must be valid for writes of `src.len()` bytes and not overlap `src`.
unsafe fn stream(d: *mut u8, src: &[u8]) {
    let n = src.len();
    let s = src.as_ptr();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
        // Bytes before the first 16-byte aligned destination address.
        let head = d.align_offset(16).min(n);
        // SAFETY: the caller gives `d..d + n` valid for writes and apart
        // from `s..s + n`. Every read is inside `s..s + n` and every write
        // inside `d..d + n`: the head copies `head <= n` bytes, the loop
        // runs while 16 bytes remain (`i + 16 <= n`), the tail copies the
        // remaining `n - i`. The streaming stores go to `d + i` with
        // `i - head` a multiple of 16, so they are 16-byte aligned as
        // `_mm_stream_si128` requires; the loads are unaligned ones. SSE2
        // is part of the x86_64 baseline. The `sfence` orders the (weakly
        // ordered) streaming stores before every later store, so the lane
        // thread that takes the buffer through the lane's lock sees them.
        unsafe {
            std::ptr::copy_nonoverlapping(s, d, head);
            let mut i = head;
            while i + 16 <= n {
                let v = _mm_loadu_si128(s.add(i).cast::<__m128i>());
                _mm_stream_si128(d.add(i).cast::<__m128i>(), v);
                i += 16;
            }
            std::ptr::copy_nonoverlapping(s.add(i), d.add(i), n - i);
            _mm_sfence();
        }
    }
    // SAFETY: as the caller promises: `d` valid for `n` bytes, apart from `s`.
    #[cfg(not(target_arch = "x86_64"))]
    unsafe {
        std::ptr::copy_nonoverlapping(s, d, n)
    };
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

/// Buffers of finished moved writes, for the next ones: the same few
/// buffers go round, already allocated and mapped (a fresh buffer per
/// write would pay the allocator and, on these VMs, slow fresh memory).
/// Long copies into them stream past the cache ([`copy_streaming`]).
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
    fn the_streaming_copy_is_exact_at_every_length_and_alignment() {
        let src: Vec<u8> = (0..STREAM_FROM * 3 + 77)
            .map(|i| (i * 7 + 3) as u8)
            .collect();
        // Destinations at every offset from 16-byte alignment, reused (so
        // longer old contents must not survive a shorter copy).
        let mut dst = Vec::new();
        for start in 0..17 {
            for len in [
                0,
                1,
                15,
                16,
                17,
                31,
                4095,
                4096,
                4097,
                8191,
                STREAM_FROM * 3,
            ] {
                let s = &src[start..start + len];
                copy_streaming(&mut dst, s);
                assert_eq!(dst, s, "start {start} len {len}");
            }
        }
        // Every alignment of the destination: exact bytes, and nothing
        // written outside them.
        let mut area = vec![0xEEu8; STREAM_FROM * 2 + 64];
        for skew in 0..17 {
            for len in [0, 1, 15, 16, 17, 33, STREAM_FROM + 5] {
                area.fill(0xEE);
                // SAFETY: `skew + len` is within `area`, which does not
                // overlap `src`.
                unsafe { stream(area.as_mut_ptr().add(skew), &src[..len]) };
                assert_eq!(
                    &area[skew..skew + len],
                    &src[..len],
                    "skew {skew} len {len}"
                );
                assert!(area[..skew].iter().all(|&b| b == 0xEE));
                assert!(area[skew + len..].iter().all(|&b| b == 0xEE));
            }
        }
        // Through a ticket, both below and above the threshold.
        for len in [STREAM_FROM - 1, STREAM_FROM, 32 * 1024] {
            let t = test_ticket(&src[..len.min(src.len())]);
            assert_eq!(t.bytes(), &src[..len.min(src.len())]);
        }
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
