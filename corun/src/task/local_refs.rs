//! [`LocalRefs`]: task references that a scheduler's own thread gave up in
//! a same-thread wake, kept a moment so that the next same-thread clone of
//! that task's waker takes one back instead of counting a new one.
//!
//! Why: a task waiting on a channel such as `async-channel` clones its
//! waker into the channel (one atomic add on the task's count) and is
//! woken by value from the same thread (one atomic subtract), on every
//! wait. Here the subtract is deferred and the next add cancels it, so a
//! steady ping-pong does no atomic operation on the count at all
//! (`docs/design/waker-costs.md`).
//!
//! The rule that keeps it sound: every entry is one reference its task's
//! `refs` still counts, owned by this cache. The count therefore never
//! falls below the number of real holders: deferring a decrement only
//! keeps a cell alive longer, and a clone that takes an entry hands that
//! reference to the new waker. Only the owner thread touches the cache
//! (it lives in its `Core`), and it only holds tasks of that core.
//!
//! This file keeps and gives back references; it never wakes, schedules
//! or frees anything except through `raw::ref_dec`.

use std::cell::Cell;
use std::ptr::{self, NonNull};

use crate::task::raw::{self, Header};

/// Entries: a power of two. Few, because the cache only has to bridge a
/// wake and the next wait of the same task; a miss costs just the atomic
/// operation that would have been done anyway.
const SLOTS: usize = 8;

/// A direct-mapped cache of owned task references (null: empty).
pub(crate) struct LocalRefs {
    slots: [Cell<*mut Header>; SLOTS],
}

impl LocalRefs {
    pub(crate) fn new() -> LocalRefs {
        LocalRefs {
            slots: [const { Cell::new(ptr::null_mut()) }; SLOTS],
        }
    }

    /// The slot of `ptr`: the top bits of a multiplicative hash, so that
    /// cells a slab places side by side land in different slots.
    #[inline(always)]
    fn slot(&self, ptr: NonNull<Header>) -> &Cell<*mut Header> {
        let h = ptr.as_ptr().addr().wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.slots[h >> (usize::BITS - SLOTS.trailing_zeros())]
    }

    /// Keeps the caller's reference to `ptr`; the entry it displaces, if
    /// any, is released.
    ///
    /// # Safety
    /// The caller owns a reference to `ptr` and gives it up; `ptr` is a
    /// task of the core this cache belongs to, and this runs on its thread.
    #[inline(always)]
    pub(crate) unsafe fn give(&self, ptr: NonNull<Header>) {
        let old = self.slot(ptr).replace(ptr.as_ptr());
        if let Some(old) = NonNull::new(old) {
            // SAFETY: every entry is a reference the cache owns (the
            // module rule); it left the cache just above, so it is given
            // up once. Its release may run a destructor that reaches this
            // cache again: the slot already holds the new entry.
            unsafe { raw::ref_dec(old) };
        }
    }

    /// Takes back a kept reference to `ptr`, if there is one; the caller
    /// then owns it.
    #[inline(always)]
    pub(crate) fn take(&self, ptr: NonNull<Header>) -> bool {
        let slot = self.slot(ptr);
        if slot.get() == ptr.as_ptr() {
            slot.set(ptr::null_mut());
            true
        } else {
            false
        }
    }

    /// Releases every kept reference (end of a batch, shutdown). A release
    /// may free a task whose destructors give new references to the cache:
    /// those are released too before this returns.
    #[inline]
    pub(crate) fn release_all(&self) {
        // One pass of loads and ors when nothing is kept (the usual end of
        // a batch): the scheduler calls this once per batch.
        if self.slots.iter().fold(0, |any, s| any | s.get().addr()) != 0 {
            self.release_kept();
        }
    }

    #[inline(never)]
    fn release_kept(&self) {
        loop {
            let mut released = false;
            for slot in &self.slots {
                if let Some(p) = NonNull::new(slot.replace(ptr::null_mut())) {
                    released = true;
                    // SAFETY: an entry is a reference the cache owns; it
                    // left the cache just above.
                    unsafe { raw::ref_dec(p) };
                }
            }
            if !released {
                return;
            }
        }
    }
}

impl Drop for LocalRefs {
    fn drop(&mut self) {
        self.release_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::raw::testing::{owner, refs, spawn};

    #[test]
    fn kept_references_are_taken_back_once_and_released_on_drop() {
        let owner = owner();
        let a = spawn(&owner, std::future::pending::<()>(), None, 3, false);
        let b = spawn(&owner, std::future::pending::<()>(), None, 2, false);
        let cache = LocalRefs::new();
        // SAFETY: the test owns the references it gives: `a` was made
        // with three, `b` with two, and each is given up once.
        unsafe {
            cache.give(a);
            assert_eq!(refs(a), 3, "a kept reference is still counted");
            assert!(cache.take(a), "the kept reference comes back");
            assert!(!cache.take(a), "only once");
            assert_eq!(refs(a), 3, "taking it back changes no count");
            cache.give(a);
            cache.give(a);
            // The second give displaced the first (same slot): released.
            assert_eq!(refs(a), 2);
            // `b` may share `a`'s slot and displace it: either way every
            // reference is released once, by the cache's drop at the latest.
            cache.give(b);
        }
        drop(cache);
        // SAFETY: the test's own last references.
        unsafe {
            assert_eq!(refs(a), 1, "dropping the cache releases what it kept");
            assert_eq!(refs(b), 1);
            raw::ref_dec(a);
            raw::ref_dec(b);
        }
    }
}
