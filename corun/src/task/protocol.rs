//! The decisions of the cross-thread protocol (the table in `header`'s
//! module docs), as small functions over `Header::remote_flags` and
//! `Header::refs` that the real code calls and the loom models below
//! check.
//!
//! What lives here: every read-modify-write on the flag word and the
//! reference count, with its ordering, and what its result means. What
//! must not: the cell's typed parts, wakers, queues or messages; those
//! stay with the callers (`header`, `join`, `handle`,
//! `scheduler::core::ending`, `scheduler::shared`), which pass closures
//! where a step must happen inside the protocol (under the join lock, or
//! before `COMPLETE`). The atomics come from `crate::loom`, so that a
//! `--cfg loom` build runs these very functions under the model checker
//! (why and what the models cover: docs/design/loom.md).

use super::header::{COMPLETE, HANDLE, JOIN_LOCK, JOIN_WAKER_SET, KILL_SENT, REMOTE_QUEUED};
use crate::loom::{AtomicU8, AtomicU32, Ordering, fence, spin_loop};

/// True once the outcome is published: from then on the stage is the
/// handle's (acquire: it sees the outcome the owner wrote).
#[inline(always)]
pub(crate) fn is_complete(flags: &AtomicU8) -> bool {
    flags.load(Ordering::Acquire) & COMPLETE != 0
}

/// The owner's usual completion: sets `COMPLETE` in one compare-exchange
/// unless a kill was sent through the handle (or the word moved). Returns
/// the flags from before, or `None` when the caller must use
/// [`complete_contended`].
#[inline(always)]
pub(crate) fn complete_fast(flags: &AtomicU8) -> Option<u8> {
    let cur = flags.load(Ordering::Relaxed);
    if cur & KILL_SENT != 0 {
        return None;
    }
    flags
        .compare_exchange(cur, cur | COMPLETE, Ordering::AcqRel, Ordering::Relaxed)
        .ok()
}

/// Sets `COMPLETE` whatever else moves the word. If a kill was sent and
/// the task `returned`, `drop_output` runs once, before `COMPLETE` (while
/// the stage is still the owner's), and the task counts as killed, so that
/// the handle's `kill` answer holds. Returns the flags from before
/// `COMPLETE` and whether the task still counts as having returned.
#[inline]
pub(crate) fn complete_contended(
    flags: &AtomicU8,
    mut returned: bool,
    mut drop_output: impl FnMut(),
) -> (u8, bool) {
    let mut prev = flags.load(Ordering::Relaxed);
    loop {
        if prev & KILL_SENT != 0 && returned {
            drop_output();
            returned = false;
        }
        match flags.compare_exchange_weak(
            prev,
            prev | COMPLETE,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => return (prev, returned),
            Err(now) => prev = now,
        }
    }
}

/// The handle's kill from another thread: raises `KILL_SENT`. True if the
/// task had not completed, so the caller must send the `Kill` message and
/// the task will end killed.
#[inline]
pub(crate) fn send_kill(flags: &AtomicU8) -> bool {
    flags.fetch_or(KILL_SENT, Ordering::AcqRel) & COMPLETE == 0
}

/// The handle's drop: clears `HANDLE` unless `COMPLETE` is already seen.
/// True if the task had completed, so the outcome is the handle's to drop;
/// false if the owner will drop it when it completes.
#[inline]
pub(crate) fn release_handle(flags: &AtomicU8) -> bool {
    // Once `COMPLETE` is set the owner has read `HANDLE` for the last time
    // (in the same atomic step), so a handle that sees it (the usual case
    // after an `.await`) skips the read-modify-write.
    if is_complete(flags) {
        return true;
    }
    flags.fetch_and(!HANDLE, Ordering::AcqRel) & COMPLETE != 0
}

/// Runs `store` under `JOIN_LOCK` and marks `JOIN_WAKER_SET` (handle
/// thread). The caller re-checks [`is_complete`] afterwards: a completion
/// between its first check and the store took the old waker or none.
#[inline]
pub(crate) fn store_join<R>(flags: &AtomicU8, store: impl FnOnce() -> R) -> R {
    lock_join(flags);
    let r = store();
    // The unlock's release orders it.
    flags.fetch_or(JOIN_WAKER_SET, Ordering::Relaxed);
    unlock_join(flags);
    r
}

/// Runs `take` under `JOIN_LOCK` if a waker was ever stored before
/// `COMPLETE` (owner thread; `prev` is the word from before `COMPLETE`).
#[inline]
pub(crate) fn take_join<R>(
    flags: &AtomicU8,
    prev: u8,
    take: impl FnOnce() -> Option<R>,
) -> Option<R> {
    if prev & JOIN_WAKER_SET == 0 {
        // No waker was stored before COMPLETE; a handle registering now
        // sees COMPLETE after its store and reads the output itself.
        return None;
    }
    lock_join(flags);
    let r = take();
    unlock_join(flags);
    r
}

fn lock_join(flags: &AtomicU8) {
    loop {
        if flags.fetch_or(JOIN_LOCK, Ordering::Acquire) & JOIN_LOCK == 0 {
            return;
        }
        // The other side holds it for a few instructions only.
        spin_loop();
    }
}

fn unlock_join(flags: &AtomicU8) {
    flags.fetch_and(!JOIN_LOCK, Ordering::Release);
}

/// A wake from a thread other than the owner's: raises `REMOTE_QUEUED`.
/// True if it was clear, so the caller must send the one `Wake` message.
#[inline]
pub(crate) fn mark_remote_queued(flags: &AtomicU8) -> bool {
    flags.fetch_or(REMOTE_QUEUED, Ordering::AcqRel) & REMOTE_QUEUED == 0
}

/// The owner handling that `Wake` message: clears `REMOTE_QUEUED`. It must
/// come before the task is scheduled, so that a wake after the poll has
/// read its state sends a new message.
#[inline]
pub(crate) fn clear_remote_queued(flags: &AtomicU8) {
    flags.fetch_and(!REMOTE_QUEUED, Ordering::AcqRel);
}

/// Adds a reference (the caller holds one, so relaxed suffices); returns
/// the count from before.
#[inline(always)]
pub(crate) fn refs_inc(refs: &AtomicU32) -> u32 {
    refs.fetch_add(1, Ordering::Relaxed)
}

/// Drops a reference. True if it was the last: every other holder's last
/// use of the cell happens before this returns, and the caller frees it.
///
/// A count of 1 read by a holder means it is the only one, and nobody can
/// make another (a new reference is made from a held one): the last
/// reference then needs no read-modify-write. That is the usual end of a
/// task whose handle is dropped after it completed, which saves a locked
/// instruction per task (the acquire load pairs with the release
/// decrements of the holders before, as the fence below does).
#[inline(always)]
pub(crate) fn refs_dec(refs: &AtomicU32) -> bool {
    if refs.load(Ordering::Acquire) == 1 {
        return true;
    }
    if refs.fetch_sub(1, Ordering::Release) != 1 {
        return false;
    }
    // Pair with the release decrements of other threads so their last uses
    // of the cell happen before it is freed.
    fence(Ordering::Acquire);
    true
}

#[cfg(all(test, loom))]
mod loom_tests;
