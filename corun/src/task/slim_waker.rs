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
                if p.as_ptr() as usize & BOXED == 0 {
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

    fn boxed(w: Waker) -> SlimWaker {
        let p = Box::into_raw(Box::new(w));
        // `Box<Waker>` is at least 8-aligned: the low bit is free, and the
        // pointer is non-null.
        SlimWaker(NonNull::new((p as usize | BOXED) as *mut ()).expect("non-null box"))
    }

    /// Gives the `Waker` back.
    pub(crate) fn into_waker(self) -> Waker {
        let word = ManuallyDrop::new(self).0.as_ptr() as usize;
        if word & BOXED != 0 {
            // SAFETY: a boxed word was made by `boxed` from `Box::into_raw`
            // and is taken back exactly once (`self` is not dropped).
            *unsafe { Box::from_raw((word & !BOXED) as *mut Waker) }
        } else {
            // SAFETY: an unboxed word is the data pointer of a task waker
            // whose reference we own and now hand to the rebuilt waker.
            unsafe { rebuild(word as *const ()) }
        }
    }

    /// True if waking `w` would wake the same task as this waker.
    pub(crate) fn will_wake(&self, w: &Waker) -> bool {
        let word = self.0.as_ptr() as usize;
        if word & BOXED != 0 {
            // SAFETY: the box lives as long as `self`.
            let stored = unsafe { &*((word & !BOXED) as *const Waker) };
            stored.will_wake(w)
        } else {
            waker::is_task_waker(w) && w.data() as usize == word
        }
    }

    /// The task this waker wakes, if it is a corun task waker.
    pub(crate) fn task(&self) -> Option<NonNull<Header>> {
        let word = self.0.as_ptr() as usize;
        (word & BOXED == 0).then(|| self.0.cast())
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn one_word_even_as_option() {
        assert_eq!(std::mem::size_of::<Option<SlimWaker>>(), 8);
    }

    #[test]
    fn foreign_wakers_round_trip_and_drop_once() {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(c.clone());
        let slim = SlimWaker::new(w.clone());
        assert!(slim.task().is_none());
        assert!(slim.will_wake(&w));
        assert_eq!(Arc::strong_count(&c), 3);
        slim.into_waker().wake();
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&c), 2);
        drop(SlimWaker::new(w));
        assert_eq!(
            Arc::strong_count(&c),
            1,
            "dropping a slim waker drops the waker"
        );
    }

    #[test]
    fn task_wakers_are_stored_unboxed_and_keep_their_task_alive() {
        let out = crate::run(async {
            let w = std::future::poll_fn(|cx| std::task::Poll::Ready(cx.waker().clone())).await;
            let slim = SlimWaker::new(w.clone());
            assert!(slim.task().is_some());
            assert!(slim.will_wake(&w));
            let back = slim.into_waker();
            assert!(back.will_wake(&w));
            drop(SlimWaker::new(back));
            7
        });
        assert_eq!(out, 7);
    }
}
