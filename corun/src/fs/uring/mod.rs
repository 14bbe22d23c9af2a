//! An io_uring path for the writes `placement` moves off the scheduler
//! thread: opt-in (`CORUN_FS_URING=1`), measured against the write lane
//! in `docs/design/uring-files.md`.
//!
//! With the option on, a write that the placement table sends to the
//! lane ([`Route::Lane`](super::placement::Route)) is copied into its
//! ticket's buffer as before, but then pushed as an `IORING_OP_WRITE` SQE
//! on this scheduler thread's ring instead of queued for a lane thread.
//! ext4 has no non-blocking buffered write, so the kernel hands each one
//! to an io-wq worker (at most [`workers`] of them, like the lane's
//! threads): the copy into the page cache runs on another core, and the
//! scheduler thread pays one `io_uring_enter` per write instead of a lane
//! job and a wake.
//!
//! Rules:
//! * One ring per scheduler thread, made at its first write; the first
//!   failure to set one up (io_uring missing, `kernel.io_uring_disabled`,
//!   seccomp, no `IORING_FEAT_RW_CUR_POS`) turns the path off for the whole
//!   process: every write then takes the lane, as without the option.
//! * The ring's fd sits in the thread's epoll (`Reactor::watch`), so a
//!   completion ends a park; the scheduler calls [`reap`] after every park
//!   (its one hook here), which wakes the tasks whose writes finished.
//! * The ring owns every write in flight (`ring.rs`): a dropped or
//!   forgotten future leaves the bytes and the fd alive until the CQE.
//! * Off a scheduler thread (no reactor to end its parks) nothing goes to
//!   a ring.
//!
//! A `File` whose write is in flight and that then moves to another
//! scheduler thread still completes: the ring of the thread that started
//! the write reaps it at that thread's next turn (or when the thread ends).
//!
//! This module must not decide where a write runs (`placement`), nor
//! touch a `File`'s state beyond the job it is handed, nor the scheduler.

mod ring;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(super) use ring::Finish;
use ring::Ring;

use super::spread::Ticket;

thread_local! {
    /// This thread's ring, once a write made it.
    static RING: RefCell<Option<Ring>> = const { RefCell::new(None) };
    /// Whether `RING` holds a ring (read by every reap without touching
    /// `RING`, whose first access registers its destructor).
    static HAS_RING: Cell<bool> = const { Cell::new(false) };
    /// The reactor whose epoll watches this thread's ring.
    static WATCHED_BY: Cell<u64> = const { Cell::new(0) };
}

/// Set after a ring failed to set up: no thread tries again.
static UNAVAILABLE: AtomicBool = AtomicBool::new(false);
/// Writes finished through a ring, process-wide.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Whether the option is on (`CORUN_FS_URING=1`, read once).
pub(super) fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("CORUN_FS_URING").is_ok_and(|v| v == "1"))
        && !UNAVAILABLE.load(Ordering::Relaxed)
}

/// Kernel workers for a ring's writes: as many as the lane has threads
/// (one per core beyond the first), or `CORUN_FS_URING_WORKERS`.
fn workers() -> u32 {
    static N: OnceLock<u32> = OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("CORUN_FS_URING_WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(super::lane::threads().max(1) as u32)
    })
}

/// Starts writing `ticket`'s bytes at `file`'s position on this thread's
/// ring, if this thread may use one (a scheduler thread, io_uring set up);
/// otherwise gives the ticket back, untouched. `finish` is made only once
/// the write is sure to go to the ring, and runs with its outcome.
pub(super) fn write(
    file: &Arc<std::fs::File>,
    ticket: Ticket,
    finish: impl FnOnce() -> Finish,
) -> Result<(), Ticket> {
    let mut ticket = Some(ticket);
    let started = with_ring(Ring::new, |ring| {
        if let Some(t) = ticket.take() {
            ring.write(file.clone(), t, finish());
        }
    });
    match (started, ticket) {
        (_, Some(t)) => Err(t),
        _ => Ok(()),
    }
}

/// Runs `f` with this thread's ring, setting one up with `setup` first if
/// none is here yet and making sure this thread's reactor watches it.
/// `None` off a scheduler thread, where io_uring is unavailable (the first
/// failed setup says so for the whole process), or if the reactor refuses
/// the ring's fd.
fn with_ring<R>(
    setup: impl FnOnce(u32, u32) -> std::io::Result<Ring>,
    f: impl FnOnce(&mut Ring) -> R,
) -> Option<R> {
    with_ring_in(&UNAVAILABLE, setup, f)
}

/// [`with_ring`] with the process-wide "unavailable" flag passed in (the
/// tests use their own).
fn with_ring_in<R>(
    unavailable: &AtomicBool,
    setup: impl FnOnce(u32, u32) -> std::io::Result<Ring>,
    f: impl FnOnce(&mut Ring) -> R,
) -> Option<R> {
    if unavailable.load(Ordering::Relaxed) {
        return None;
    }
    let reactor = crate::scheduler::context::with_reactor(|r| r.id())?;
    RING.try_with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            let entries = (2 * super::spread::limit()).max(8) as u32;
            match setup(entries, workers()) {
                Ok(r) => {
                    *slot = Some(r);
                    HAS_RING.set(true);
                }
                Err(e) => {
                    unavailable.store(true, Ordering::Relaxed);
                    tracing::debug!(
                        error = %e,
                        "corun::fs: io_uring unavailable; file writes use the write lane"
                    );
                    return None;
                }
            }
        }
        let ring = slot.as_mut()?;
        if WATCHED_BY.get() != reactor {
            // A new scheduler on this thread (the last one's epoll is gone).
            let fd = ring.fd();
            crate::scheduler::context::with_reactor(|r| r.watch(fd))?.ok()?;
            WATCHED_BY.set(reactor);
        }
        Some(f(ring))
    })
    .ok()
    .flatten()
}

/// Reaps this thread's ring, waking the tasks whose writes finished; true
/// if any did. The scheduler calls it after every park; a thread without a
/// ring pays one thread-local load.
pub(crate) fn reap() -> bool {
    if !HAS_RING.get() {
        return false;
    }
    let done = RING
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut ring) => ring.as_mut().map_or(0, Ring::reap),
            Err(_) => 0,
        })
        .unwrap_or(0);
    if done > 0 {
        WRITES.fetch_add(done as u64, Ordering::Relaxed);
    }
    done > 0
}

/// Writes finished through an io_uring since the process started (0
/// unless `CORUN_FS_URING=1` and io_uring works here). For tests and
/// diagnostics.
///
/// ```
/// let before = corun::fs::uring_writes();
/// assert!(corun::fs::uring_writes() >= before);
/// ```
#[doc(hidden)]
pub fn uring_writes() -> u64 {
    WRITES.load(Ordering::Relaxed)
}
