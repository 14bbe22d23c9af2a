//! The join protocol: how a `Task` handle and the owner thread hand over
//! the waker of whoever awaits the handle.
//!
//! The waker slot lives in the task header (`raw::Header::join_waker`) and
//! is guarded by the `JOIN_LOCK` spin bit of the header's `remote` flags.
//! This file only stores, replaces and takes that waker; it never reads the
//! output (see `raw`) nor wakes anything itself.

use std::task::Waker;

use crate::task::protocol;
use crate::task::raw::Header;
use crate::task::slim_waker::SlimWaker;

/// Stores `waker` as the join waker unless the task already completed.
/// Returns true if the caller must read the output now. The check for a
/// completed task is inline: a handle awaited after its task ended (a
/// spawn burst joined in order) makes no call.
#[inline]
pub(crate) fn register_join_waker(h: &Header, waker: &Waker) -> bool {
    if protocol::is_complete(&h.remote_flags) {
        return true;
    }
    store_join_waker(h, waker)
}

/// [`register_join_waker`] for a task not seen complete: stores the waker,
/// then looks again.
#[inline(never)]
fn store_join_waker(h: &Header, waker: &Waker) -> bool {
    let old = protocol::store_join(&h.remote_flags, || {
        // SAFETY: `JOIN_LOCK` is held, so nobody else touches the slot.
        let slot = unsafe { &mut *h.join_waker.get() };
        match slot {
            Some(old) if old.will_wake(waker) => None,
            _ => slot.replace(SlimWaker::new(waker.clone())),
        }
    });
    // A replaced waker is dropped outside the lock (its drop may run code).
    drop(old);
    // The owner may have completed between the first check and the store;
    // it then found (and woke) the old waker or none. Look again.
    protocol::is_complete(&h.remote_flags)
}

/// Takes the join waker (owner thread, after setting `COMPLETE`; `prev` is
/// the flag word from before that).
pub(crate) fn take_join_waker(h: &Header, prev: u8) -> Option<Waker> {
    let waker = protocol::take_join(&h.remote_flags, prev, || {
        // SAFETY: `JOIN_LOCK` is held.
        unsafe { (*h.join_waker.get()).take() }
    });
    waker.map(SlimWaker::into_waker)
}
