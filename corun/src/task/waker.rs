//! The `Waker` of a task: a pointer to its header plus this vtable.
//!
//! A wake on the task's own scheduler thread pushes it to the local ready
//! queue (no atomic, no lock, no syscall); a wake from anywhere else goes
//! through the scheduler's injection queue (see `scheduler::shared`). This
//! file only decides which; it does not touch queues itself.

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::scheduler::context;
use crate::task::raw::{self, Header};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker that borrows the scheduler's reference instead of owning one; it
/// must not outlive the poll it is made for (`ManuallyDrop` at the caller).
pub(crate) fn borrowed(ptr: NonNull<Header>) -> std::mem::ManuallyDrop<Waker> {
    // SAFETY: the vtable functions below uphold the RawWaker contract for a
    // pointer to a live task header; the caller never drops this waker, so it
    // gives up no reference it does not own.
    std::mem::ManuallyDrop::new(unsafe {
        Waker::from_raw(RawWaker::new(ptr.as_ptr().cast(), &VTABLE))
    })
}

/// True if `w` is a corun task waker. Waking one runs no user code (it
/// only queues the task), so the scheduler may wake it while its own
/// structures are borrowed.
pub(crate) fn is_task_waker(w: &Waker) -> bool {
    std::ptr::eq(w.vtable(), &VTABLE)
}

/// Wakes `w`, a corun task waker ([`is_task_waker`]), with a direct call
/// rather than through its vtable: the local wake is then inlined at the
/// caller (a channel's send), which already saved its registers.
#[inline]
pub(crate) fn wake_task_by_ref(w: &Waker) {
    debug_assert!(is_task_waker(w));
    // SAFETY: `w` is a live task waker (the caller checked its vtable), so
    // its data is a task header it holds or borrows a reference on.
    unsafe { wake_by_ref(w.data()) }
}

fn ptr_of(data: *const ()) -> NonNull<Header> {
    // SAFETY: every RawWaker with this vtable was made from a non-null
    // task header pointer.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds (or borrows) a reference, so the
    // task is alive; the clone owns a new one.
    unsafe { raw::ref_inc(ptr_of(data)) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: this waker owns a reference; waking by reference and then
    // dropping gives it up exactly once.
    unsafe {
        wake_by_ref(data);
        raw::ref_dec(ptr_of(data));
    }
}

#[inline]
unsafe fn wake_by_ref(data: *const ()) {
    let ptr = ptr_of(data);
    // SAFETY: the waker holds or borrows a reference: the header is alive.
    let h = unsafe { raw::header(ptr) };
    if !context::schedule_if_local(ptr, h) {
        wake_remote(ptr, h);
    }
}

/// The cross-thread wake of [`wake_by_ref`], out of line so that a local
/// wake (a channel between tasks of one scheduler) sets up no frame for it.
#[inline(never)]
fn wake_remote(ptr: NonNull<Header>, h: &Header) {
    h.owner().wake_remote(ptr);
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: this waker owns exactly one reference.
    unsafe { raw::ref_dec(ptr_of(data)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::raw::testing::{owner, refs, spawn, take_wakes};
    use std::sync::Arc;

    #[test]
    fn clones_own_references_and_off_thread_wakes_queue_the_task_once() {
        let owner = owner();
        let ptr = spawn(&owner, std::future::pending::<()>(), None, 1, true);
        // SAFETY: the test holds the cell's one reference until the end;
        // every other reference belongs to a waker or a message and is
        // given back once.
        unsafe {
            let w = borrowed(ptr);
            assert!(is_task_waker(&w));
            assert!(!is_task_waker(Waker::noop()));
            assert_eq!(refs(ptr), 1, "a borrowed waker owns nothing");
            let a = (*w).clone();
            let b = a.clone();
            assert_eq!(refs(ptr), 3);
            drop(b);
            assert_eq!(refs(ptr), 2);
            // No scheduler runs on this thread: wakes go to the queue.
            a.wake_by_ref();
            w.wake_by_ref();
            std::thread::spawn(move || a.wake()).join().unwrap();
            let woken = take_wakes(&owner);
            assert_eq!(woken, vec![ptr], "queued once for three wakes");
            assert_eq!(refs(ptr), 2, "the message holds the only other one");
            raw::ref_dec(woken[0]);
            // Queued again once the scheduler took the message.
            w.wake_by_ref();
            let again = take_wakes(&owner);
            assert_eq!(again, vec![ptr]);
            raw::ref_dec(again[0]);
            assert_eq!(refs(ptr), 1);
            raw::ref_dec(ptr);
        }
    }

    #[test]
    fn a_wake_after_its_scheduler_closed_gives_its_reference_back() {
        let owner = owner();
        let ptr = spawn(&owner, std::future::pending::<()>(), None, 1, false);
        assert!(owner.close().is_empty());
        // SAFETY: as above.
        unsafe {
            let w = (*borrowed(ptr)).clone();
            assert_eq!(refs(ptr), 2);
            w.wake();
            assert_eq!(refs(ptr), 1, "nothing was queued, nothing is held");
            assert!(take_wakes(&owner).is_empty());
            raw::ref_dec(ptr);
        }
        assert_eq!(Arc::strong_count(&owner), 1, "the boxed cell is freed");
    }
}
