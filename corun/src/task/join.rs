//! The join protocol: how a `Task` handle and the owner thread hand over
//! the waker of whoever awaits the handle.
//!
//! The waker slot lives in the task header (`raw::Header::join_waker`) and
//! is guarded by the `JOIN_LOCK` spin bit of the header's `remote` flags.
//! This file only stores, replaces and takes that waker; it never reads the
//! output (see `raw`) nor wakes anything itself.

use std::sync::atomic::Ordering;
use std::task::Waker;

use crate::task::raw::{COMPLETE, Header, JOIN_LOCK, JOIN_WAKER_SET};
use crate::task::slim_waker::SlimWaker;

/// Stores `waker` as the join waker unless the task already completed.
/// Returns true if the caller must read the output now.
pub(crate) fn register_join_waker(h: &Header, waker: &Waker) -> bool {
    if h.remote_flags.load(Ordering::Acquire) & COMPLETE != 0 {
        return true;
    }
    lock_join(h);
    // SAFETY: `JOIN_LOCK` is held, so nobody else touches the slot.
    let slot = unsafe { &mut *h.join_waker.get() };
    let old = match slot {
        Some(old) if old.will_wake(waker) => None,
        _ => slot.replace(SlimWaker::new(waker.clone())),
    };
    h.remote_flags.fetch_or(JOIN_WAKER_SET, Ordering::Relaxed);
    unlock_join(h);
    // A replaced waker is dropped outside the lock (its drop may run code).
    drop(old);
    // The owner may have completed between the first check and the store;
    // it then found (and woke) the old waker or none. Look again.
    h.remote_flags.load(Ordering::Acquire) & COMPLETE != 0
}

/// Takes the join waker (owner thread, after setting `COMPLETE`; `prev` is
/// the flag word from before that).
pub(crate) fn take_join_waker(h: &Header, prev: u8) -> Option<Waker> {
    if prev & JOIN_WAKER_SET == 0 {
        // No waker was stored before COMPLETE; a handle registering now
        // sees COMPLETE after its store and reads the output itself.
        return None;
    }
    lock_join(h);
    // SAFETY: `JOIN_LOCK` is held.
    let waker = unsafe { (*h.join_waker.get()).take() };
    unlock_join(h);
    waker.map(SlimWaker::into_waker)
}

fn lock_join(h: &Header) {
    loop {
        let prev = h.remote_flags.fetch_or(JOIN_LOCK, Ordering::Acquire);
        if prev & JOIN_LOCK == 0 {
            return;
        }
        // The other side holds it for a few instructions only.
        std::hint::spin_loop();
    }
}

fn unlock_join(h: &Header) {
    h.remote_flags.fetch_and(!JOIN_LOCK, Ordering::Release);
}
