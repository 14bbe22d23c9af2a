//! [`SlimWaker`]: a stored `Waker` in one word instead of two.
//!
//! A million sleeping tasks each leave a waker in the timer wheel, and every
//! task cell keeps a slot for whoever awaits its handle. Almost all of those
//! wakers are corun task wakers, whose data pointer alone identifies them
//! (the vtable is always the same), so they are kept as that pointer. Any
//! other waker is boxed, and the box pointer is kept with its low bit set.
//!
//! This file only stores and hands back wakers; it never wakes one and
//! knows nothing about what a task does (see `task::waker`).

use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::Waker;

use crate::task::raw::Header;
use crate::task::waker;

/// Low bit of the word: set for a boxed foreign waker.
const BOXED: usize = 1;

/// An owned `Waker` in one word: a corun task waker as its task pointer
/// (owning the reference the waker held), any other as a `Box<Waker>`
/// with the low bit set. `Option<SlimWaker>` is one word too.
pub(crate) struct SlimWaker(NonNull<()>);

// SAFETY: it stands for a `Waker`, which is `Send` and `Sync`; the task
// reference it owns is counted atomically like the waker's was.
unsafe impl Send for SlimWaker {}
// SAFETY: as above; `&SlimWaker` only allows comparisons.
unsafe impl Sync for SlimWaker {}

impl SlimWaker {
    /// Stores `w`.
    pub(crate) fn new(w: Waker) -> SlimWaker {
        if waker::is_task_waker(&w) {
            let data = ManuallyDrop::new(w).data();
            // Task wakers are made from non-null, 8-aligned header pointers
            // (see `task::waker`), so the low bit is clear.
            if let Some(p) = NonNull::new(data as *mut ()) {
                if p.as_ptr().addr() & BOXED == 0 {
                    return SlimWaker(p);
                }
            }
            // Not reachable for wakers made by `task::waker`; rebuild the
            // waker so its reference is not lost, and box it.
            // SAFETY: `data` came from a task waker we own (its drop was
            // suppressed just above), so the rebuilt waker owns its reference.
            let w = unsafe { rebuild(data) };
            return SlimWaker::boxed(w);
        }
        SlimWaker::boxed(w)
    }

    /// Stores a clone of `w`. A task waker costs one reference increment
    /// (no clone built through the vtable, no second type check).
    #[inline]
    pub(crate) fn from_ref(w: &Waker) -> SlimWaker {
        if waker::is_task_waker(w) {
            if let Some(p) = NonNull::new(w.data() as *mut Header) {
                if p.as_ptr().addr() & BOXED == 0 {
                    // SAFETY: `w` holds (or borrows) a reference to this
                    // live task; the new one is owned by the result.
                    unsafe { crate::task::raw::ref_inc(p) };
                    return SlimWaker(p.cast());
                }
            }
        }
        SlimWaker::new(w.clone())
    }

    fn boxed(w: Waker) -> SlimWaker {
        let p = Box::into_raw(Box::new(w));
        // `Box<Waker>` is at least 8-aligned: the low bit is free, and the
        // pointer is non-null. The tag goes into the address only, so the
        // word keeps the box's provenance.
        let tagged = p.cast::<()>().map_addr(|a| a | BOXED);
        SlimWaker(NonNull::new(tagged).expect("non-null box"))
    }

    /// The box behind a boxed word.
    fn boxed_ptr(&self) -> Option<*mut Waker> {
        let p = self.0.as_ptr();
        (p.addr() & BOXED != 0).then(|| p.map_addr(|a| a & !BOXED).cast())
    }

    /// Gives the `Waker` back.
    pub(crate) fn into_waker(self) -> Waker {
        let this = ManuallyDrop::new(self);
        match this.boxed_ptr() {
            // SAFETY: a boxed word was made by `boxed` from `Box::into_raw`
            // and is taken back exactly once (`self` is not dropped).
            Some(b) => *unsafe { Box::from_raw(b) },
            // SAFETY: an unboxed word is the data pointer of a task waker
            // whose reference we own and now hand to the rebuilt waker.
            None => unsafe { rebuild(this.0.as_ptr()) },
        }
    }

    /// The task and the reference this word owns, or the foreign waker:
    /// lets the scheduler queue its own tasks without building a `Waker`.
    #[inline]
    pub(crate) fn into_task(self) -> Result<NonNull<Header>, Waker> {
        let this = ManuallyDrop::new(self);
        match this.boxed_ptr() {
            // SAFETY: as in `into_waker`: taken back exactly once.
            Some(b) => Err(*unsafe { Box::from_raw(b) }),
            None => Ok(this.0.cast()),
        }
    }

    /// True if waking `w` would wake the same task as this waker.
    pub(crate) fn will_wake(&self, w: &Waker) -> bool {
        match self.boxed_ptr() {
            // SAFETY: the box lives as long as `self`.
            Some(b) => unsafe { &*b }.will_wake(w),
            None => waker::is_task_waker(w) && w.data().addr() == self.0.as_ptr().addr(),
        }
    }

    /// The task this waker wakes, if it is a corun task waker.
    pub(crate) fn task(&self) -> Option<NonNull<Header>> {
        self.boxed_ptr().is_none().then(|| self.0.cast())
    }
}

/// An owned task waker for `data`.
///
/// # Safety
/// `data` must be the data pointer of a task waker whose reference the
/// caller owns and gives up.
unsafe fn rebuild(data: *const ()) -> Waker {
    // SAFETY: `data` is a live task header pointer (the caller owns a
    // reference); `borrowed` wraps it with the task vtable, and taking it out
    // of `ManuallyDrop` makes the new waker own that reference.
    let ptr = unsafe { NonNull::new_unchecked(data as *mut Header) };
    ManuallyDrop::into_inner(waker::borrowed(ptr))
}

impl From<Waker> for SlimWaker {
    fn from(w: Waker) -> SlimWaker {
        SlimWaker::new(w)
    }
}

impl Drop for SlimWaker {
    fn drop(&mut self) {
        let w = SlimWaker(self.0).into_waker();
        drop(w);
    }
}

impl fmt::Debug for SlimWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.task() {
            Some(p) => write!(f, "SlimWaker(task {p:p})"),
            None => f.write_str("SlimWaker(foreign)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::raw::testing::{owner, poll_cell, refs, spawn};
    use crate::task::raw::{PollOutcome, ref_dec};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{RawWaker, RawWakerVTable};

    /// Wakes counted in an `Arc<AtomicUsize>`. Its vtable is a `static`,
    /// so every waker and clone of it points at one address and
    /// `Waker::will_wake` (which compares them) holds for clones. The
    /// vtables `Waker::from(Arc<_>)` makes need not share one (they differ
    /// under Miri).
    static COUNTING: RawWakerVTable =
        RawWakerVTable::new(count_clone, count_wake, count_wake_by_ref, count_drop);

    fn counting_waker(c: &Arc<AtomicUsize>) -> Waker {
        let data = Arc::into_raw(c.clone()).cast::<()>();
        // SAFETY: the functions of `COUNTING` treat `data` as the `Arc`
        // just leaked into it, each waker owning one count.
        unsafe { Waker::from_raw(RawWaker::new(data, &COUNTING)) }
    }

    unsafe fn count_clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is an `Arc<AtomicUsize>` a live waker owns a
        // count of; the clone owns a new one.
        unsafe { Arc::increment_strong_count(data.cast::<AtomicUsize>()) };
        RawWaker::new(data, &COUNTING)
    }

    unsafe fn count_wake(data: *const ()) {
        // SAFETY: the waker's count, given up once.
        let c = unsafe { Arc::from_raw(data.cast::<AtomicUsize>()) };
        c.fetch_add(1, Ordering::SeqCst);
    }

    unsafe fn count_wake_by_ref(data: *const ()) {
        // SAFETY: a live waker owns a count, so the counter is alive.
        unsafe { &*data.cast::<AtomicUsize>() }.fetch_add(1, Ordering::SeqCst);
    }

    unsafe fn count_drop(data: *const ()) {
        // SAFETY: the waker's count, given up once.
        drop(unsafe { Arc::from_raw(data.cast::<AtomicUsize>()) });
    }

    #[test]
    fn one_word_even_as_option() {
        assert_eq!(std::mem::size_of::<Option<SlimWaker>>(), 8);
    }

    #[test]
    fn foreign_wakers_round_trip_and_drop_once() {
        let c = Arc::new(AtomicUsize::new(0));
        let w = counting_waker(&c);
        let slim = SlimWaker::new(w.clone());
        assert!(slim.task().is_none());
        assert!(slim.will_wake(&w));
        assert!(!slim.will_wake(&counting_waker(&Arc::new(AtomicUsize::new(0)))));
        assert_eq!(Arc::strong_count(&c), 3);
        slim.into_waker().wake();
        assert_eq!(c.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&c), 2);
        drop(SlimWaker::new(w));
        assert_eq!(
            Arc::strong_count(&c),
            1,
            "dropping a slim waker drops the waker"
        );
        assert_eq!(c.load(Ordering::SeqCst), 1, "dropping never wakes");
    }

    #[test]
    fn task_wakers_are_stored_unboxed_and_keep_their_task_alive() {
        let owner = owner();
        let ptr = spawn(&owner, std::future::pending::<()>(), None, 1, true);
        // SAFETY: the test holds the cell's one reference until the end
        // and plays its owner thread.
        unsafe {
            let w = crate::task::waker::borrowed(ptr);
            let slim = SlimWaker::new((*w).clone());
            assert_eq!(refs(ptr), 2, "the stored waker owns a reference");
            assert_eq!(slim.task(), Some(ptr));
            assert!(slim.will_wake(&w));
            let other = spawn(&owner, std::future::pending::<()>(), None, 1, true);
            assert!(!slim.will_wake(&crate::task::waker::borrowed(other)));
            ref_dec(other);
            let back = slim.into_waker();
            assert!(back.will_wake(&w));
            drop(SlimWaker::new(back));
            assert_eq!(refs(ptr), 1, "dropping gives the reference back");
            assert!(matches!(poll_cell(ptr), PollOutcome::Pending));
            ref_dec(ptr);
        }
    }

    /// `from_ref` takes one reference of a task waker's task (or clones a
    /// foreign waker), and `into_task` hands that reference back, or the
    /// foreign waker.
    #[test]
    fn from_ref_and_into_task_move_exactly_one_reference() {
        let owner = owner();
        let ptr = spawn(&owner, std::future::pending::<()>(), None, 1, true);
        // SAFETY: the test holds the cell's one reference until the end;
        // the reference `from_ref` takes is given back by `ref_dec` once.
        unsafe {
            let w = crate::task::waker::borrowed(ptr);
            let slim = SlimWaker::from_ref(&w);
            assert_eq!(refs(ptr), 2, "the stored waker owns a reference");
            assert_eq!(slim.task(), Some(ptr));
            let task = slim.into_task().expect("a task waker");
            assert_eq!(task, ptr);
            assert_eq!(refs(ptr), 2, "into_task hands the reference over");
            ref_dec(task);
            assert_eq!(refs(ptr), 1);
            ref_dec(ptr);
        }
        let c = Arc::new(AtomicUsize::new(0));
        let w = counting_waker(&c);
        let slim = SlimWaker::from_ref(&w);
        assert_eq!(Arc::strong_count(&c), 3, "a foreign waker is cloned");
        let back = slim.into_task().expect_err("a foreign waker");
        assert!(back.will_wake(&w));
        back.wake();
        assert_eq!(c.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&c), 2);
    }
}
