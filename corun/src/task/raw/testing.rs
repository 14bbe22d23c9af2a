//! Task cells without a scheduler: a test harness that plays the owner
//! thread by hand (allocate, poll, complete, kill, drop references), and
//! the tests of the cell's life cycle built on it.
//!
//! Nothing here runs a scheduler loop, an OS poller or the ticker thread,
//! so these tests run under Miri (`scripts/sanitize.sh miri`), which checks
//! every pointer step of the cell, its slab block, its wakers and its join
//! handle. What they must not do: depend on scheduling order or timing.
//! The wakers and slim wakers have their own tests (in their files) on the
//! same harness.

use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::{Header, PollOutcome, header, ref_dec};
use crate::scheduler::shared::{CoreShared, Msg, TaskPtr};
use crate::sync::test_util::{counting, poll};
use crate::task::Task;
use crate::task::header::COMPLETE;

/// A scheduler's shared state with no scheduler: the owner of the cells a
/// test makes. Its reactor is dropped at once; only the unparker is kept
/// (and never used: nobody parks).
pub(crate) fn owner() -> Arc<CoreShared> {
    let reactor = crate::reactor::Reactor::new().expect("a reactor");
    Arc::new(CoreShared::new(reactor.unparker(), usize::MAX))
}

/// A new cell for `future` owned by `owner`, with `refs` references and
/// its `HANDLE` flag set; from the slab if `slab` (this thread then acts
/// as the owner thread), else from the global allocator.
pub(crate) fn spawn<F: Future + 'static>(
    owner: &Arc<CoreShared>,
    future: F,
    name: Option<&str>,
    refs: u32,
    slab: bool,
) -> NonNull<Header> {
    super::allocate(future, 7, name.map(Into::into), owner, refs, slab)
}

/// Polls the cell once, as its scheduler would, with a waker that borrows
/// the caller's reference.
///
/// # Safety
/// `ptr` is a live cell the caller holds a reference to, not yet finished,
/// polled only from this thread.
pub(in crate::task) unsafe fn poll_cell(ptr: NonNull<Header>) -> PollOutcome {
    let w = crate::task::waker::borrowed(ptr);
    let mut cx = Context::from_waker(&w);
    // SAFETY: the caller's guarantee.
    unsafe { (header(ptr).vtable().poll)(ptr, &mut cx) }
}

/// Publishes the outcome and wakes whoever awaits the handle, as the
/// scheduler does when a task ends.
///
/// # Safety
/// `ptr` is a live cell the caller holds a reference to, whose future has
/// ended (its outcome is in the stage).
pub(in crate::task) unsafe fn complete(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference.
    let h = unsafe { header(ptr) };
    let prev = h.remote_flags.fetch_or(COMPLETE, Ordering::AcqRel);
    if let Some(w) = super::take_join_waker(h, prev) {
        w.wake();
    }
}

/// Takes the wake messages queued on `owner` (each carries a reference)
/// and clears the tasks' `REMOTE_QUEUED`, as the scheduler does when it
/// drains them. Returns the tasks, with their references.
pub(in crate::task) fn take_wakes(owner: &CoreShared) -> Vec<NonNull<Header>> {
    let mut msgs = Vec::new();
    owner.take_msgs(&mut msgs);
    msgs.into_iter()
        .map(|m| match m {
            Msg::Wake(TaskPtr(p)) => {
                // SAFETY: the message carries a reference.
                let h = unsafe { header(p) };
                crate::task::protocol::clear_remote_queued(&h.remote_flags);
                p
            }
            _ => panic!("only wakes are sent in these tests"),
        })
        .collect()
}

/// The reference count of a live cell.
///
/// # Safety
/// The caller holds a reference.
pub(in crate::task) unsafe fn refs(ptr: NonNull<Header>) -> u32 {
    // SAFETY: the caller's guarantee.
    unsafe { header(ptr) }.refs.load(Ordering::SeqCst)
}

/// Counts drops of the values it is cloned into.
#[derive(Clone, Default)]
pub(in crate::task) struct Drops(Arc<AtomicUsize>);

/// One value counted by [`Drops`]; panics in `drop` if told to.
pub(in crate::task) struct Counted {
    drops: Drops,
    panic_on_drop: bool,
}

impl Drops {
    pub(in crate::task) fn value(&self) -> Counted {
        Counted {
            drops: self.clone(),
            panic_on_drop: false,
        }
    }

    fn panicking(&self) -> Counted {
        Counted {
            drops: self.clone(),
            panic_on_drop: true,
        }
    }

    pub(in crate::task) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.0.fetch_add(1, Ordering::SeqCst);
        if self.panic_on_drop {
            panic!("destructor panics");
        }
    }
}

/// Pending until its waker (kept in `slot`) has been woken once, then
/// ready with `output`; holds `held` meanwhile.
pub(in crate::task) struct WaitOnce<T> {
    slot: Arc<Mutex<Option<Waker>>>,
    output: Option<T>,
    _held: Option<Counted>,
    polled: bool,
}

impl<T> WaitOnce<T> {
    pub(in crate::task) fn new(
        output: T,
        held: Option<Counted>,
    ) -> (WaitOnce<T>, Arc<Mutex<Option<Waker>>>) {
        let slot = Arc::new(Mutex::new(None));
        let f = WaitOnce {
            slot: slot.clone(),
            output: Some(output),
            _held: held,
            polled: false,
        };
        (f, slot)
    }
}

impl<T> Unpin for WaitOnce<T> {}

impl<T> Future for WaitOnce<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.polled {
            return Poll::Ready(self.output.take().expect("polled after ready"));
        }
        self.polled = true;
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_slab_cell_runs_to_its_output_and_its_block_is_reused() {
    // (Any panic below leaks the cell: the test holds raw references.)
    let owner = owner();
    let drops = Drops::default();
    let (f, slot) = WaitOnce::new(String::from("done"), Some(drops.value()));
    // The registry's reference and the handle's.
    let ptr = spawn(&owner, f, None, 2, true);
    // SAFETY: the test holds both references of the cell throughout and
    // plays its owner thread; every reference is given back once.
    unsafe {
        // A small cell comes from the slab, unless the build sends every
        // cell to the global allocator (`corun_no_slab`, for ASan).
        assert_eq!(header(ptr).vtable().slab, !cfg!(corun_no_slab));
        assert_eq!(header(ptr).owner_ptr(), Arc::as_ptr(&owner));
        assert!(matches!(poll_cell(ptr), PollOutcome::Pending));
        assert_eq!(refs(ptr), 3, "the stored waker owns a reference");
        // Woken from another thread, twice: one message, one reference.
        let w = slot.lock().unwrap().take().unwrap();
        let w2 = w.clone();
        std::thread::spawn(move || {
            w2.wake_by_ref();
            w2.wake();
        })
        .join()
        .unwrap();
        drop(w);
        let woken = take_wakes(&owner);
        assert_eq!(woken, vec![ptr], "one wake message for two wakes");
        assert_eq!(refs(ptr), 3, "the message owns a reference");
        ref_dec(woken[0]);
        assert!(matches!(poll_cell(ptr), PollOutcome::Ready));
        assert_eq!(drops.get(), 1, "the future is dropped when it ends");
        complete(ptr);
        let mut task = Task::<String>::from_raw(ptr);
        let (hw, woke) = counting();
        let out = poll(&mut task, &hw);
        assert!(matches!(&out, Poll::Ready(Ok(s)) if s == "done"), "{out:?}");
        assert_eq!(woke.get(), 0);
        drop(task);
        // The registry's reference, last: the cell is freed.
        ref_dec(ptr);
    }
    assert_eq!(drops.get(), 1, "dropped once");
    // The freed block (given back from off the owner's scheduler) serves
    // the next cell of the same size.
    let (f, _slot) = WaitOnce::new(String::new(), Some(drops.value()));
    let again = spawn(&owner, f, None, 1, true);
    if !cfg!(corun_no_slab) {
        assert_eq!(again, ptr, "the block is reused");
    }
    // SAFETY: the only reference, given back once; the future was never
    // polled, so the cell drops it.
    unsafe { ref_dec(again) };
    assert_eq!(drops.get(), 2);
}

#[test]
fn a_boxed_named_cell_holds_its_owner_until_its_last_reference_goes() {
    let owner = owner();
    let (f, slot) = WaitOnce::new(5u8, None);
    let ptr = spawn(&owner, f, Some("worker"), 2, false);
    assert_eq!(
        Arc::strong_count(&owner),
        2,
        "a boxed cell counts its owner"
    );
    // SAFETY: as in the test above.
    unsafe {
        let h = header(ptr);
        assert!(!h.vtable().slab);
        assert_eq!(h.owner_ptr(), Arc::as_ptr(&owner));
        assert_eq!(h.name(), Some("worker"));
        assert!(matches!(poll_cell(ptr), PollOutcome::Pending));
        // The handle awaits the task before it ends: its waker is stored.
        let mut task = Task::<u8>::from_raw(ptr);
        let (hw, woke) = counting();
        assert!(poll(&mut task, &hw).is_pending());
        slot.lock().unwrap().take().unwrap().wake_by_ref();
        for p in take_wakes(&owner) {
            ref_dec(p);
        }
        assert!(matches!(poll_cell(ptr), PollOutcome::Ready));
        complete(ptr);
        assert_eq!(woke.get(), 1, "completion wakes the handle's waker");
        assert!(matches!(poll(&mut task, &hw), Poll::Ready(Ok(5))));
        // The registry's reference first, the handle's last (on another
        // thread): the cell, its name and its owner count go with it.
        ref_dec(ptr);
        std::thread::spawn(move || drop(task)).join().unwrap();
    }
    assert_eq!(
        Arc::strong_count(&owner),
        1,
        "the owner count is given back"
    );
}

#[test]
fn a_killed_task_reports_killed_even_if_its_destructor_panics() {
    let owner = owner();
    for slab in [true, false] {
        let drops = Drops::default();
        let (f, _slot) = WaitOnce::new(1u32, Some(drops.panicking()));
        let ptr = spawn(&owner, f, None, 2, slab);
        // SAFETY: as in the tests above.
        unsafe {
            assert!(matches!(poll_cell(ptr), PollOutcome::Pending));
            let msg = (header(ptr).vtable().kill)(ptr);
            assert_eq!(msg.as_deref(), Some("destructor panics"));
            assert_eq!(drops.get(), 1);
            assert_eq!((header(ptr).vtable().kill)(ptr), None, "killed once");
            complete(ptr);
            let mut task = Task::<u32>::from_raw(ptr);
            let (hw, _) = counting();
            match poll(&mut task, &hw) {
                Poll::Ready(Err(e)) => assert!(e.is_killed(), "{e:?}"),
                other => panic!("expected Killed, got {other:?}"),
            }
            drop(task);
            ref_dec(ptr);
        }
        assert_eq!(drops.get(), 1, "the future is dropped exactly once");
    }
}

#[test]
fn a_panicking_poll_stores_the_panic_and_drops_the_future() {
    let owner = owner();
    let drops = Drops::default();
    let held = drops.value();
    let f = async move {
        let _held = held;
        panic!("boom");
    };
    let ptr = spawn(&owner, f, None, 2, true);
    // SAFETY: as in the tests above.
    unsafe {
        assert!(matches!(poll_cell(ptr), PollOutcome::Panicked));
        assert_eq!(drops.get(), 1);
        complete(ptr);
        let mut task = Task::<()>::from_raw(ptr);
        let (hw, _) = counting();
        let Poll::Ready(Err(e)) = poll(&mut task, &hw) else {
            panic!("expected a panic")
        };
        assert_eq!(
            e.panic_payload().and_then(|p| p.downcast_ref()),
            Some(&"boom")
        );
        drop(task);
        ref_dec(ptr);
    }
}

#[test]
fn an_unread_output_and_a_stored_join_waker_go_with_the_cell() {
    let owner = owner();
    let drops = Drops::default();
    let (f, slot) = WaitOnce::new(drops.value(), None);
    let ptr = spawn(&owner, f, Some("unread"), 2, true);
    let (hw, woke) = counting();
    // SAFETY: as in the tests above.
    unsafe {
        assert!(matches!(poll_cell(ptr), PollOutcome::Pending));
        // A join waker is stored, and never taken: the task ends without
        // `complete` (as when a scheduler is torn down).
        assert!(!super::register_join_waker(header(ptr), &hw));
        drop(slot.lock().unwrap().take());
        assert!(matches!(poll_cell(ptr), PollOutcome::Ready));
        assert_eq!(drops.get(), 0, "the output is alive in the stage");
        ref_dec(ptr);
        ref_dec(ptr);
    }
    assert_eq!(drops.get(), 1, "the unread output is dropped with the cell");
    assert_eq!(woke.get(), 0);
    assert_eq!(Arc::strong_count(&woke), 2, "the stored waker is dropped");
}

#[test]
fn references_given_back_on_many_threads_free_the_cell_once() {
    let owner = owner();
    let drops = Drops::default();
    let (f, slot) = WaitOnce::new((), Some(drops.value()));
    let ptr = spawn(&owner, f, None, 1, true);
    // SAFETY: the test's reference is given back last; each thread owns
    // the wakers it drops.
    unsafe {
        assert!(matches!(poll_cell(ptr), PollOutcome::Pending));
        let w = slot.lock().unwrap().take().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || {
                    let more = w.clone();
                    drop(w);
                    more.wake();
                })
            })
            .collect();
        drop(w);
        for t in threads {
            t.join().unwrap();
        }
        for p in take_wakes(&owner) {
            ref_dec(p);
        }
        assert_eq!(refs(ptr), 1, "every other reference was given back");
        assert_eq!(drops.get(), 0);
        ref_dec(ptr);
    }
    assert_eq!(drops.get(), 1, "the never-finished future is dropped once");
}
