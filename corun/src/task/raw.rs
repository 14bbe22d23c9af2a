//! The task cell: one heap allocation holding a header, the future, and
//! later its output.
//!
//! This file owns the memory layout and the type-erased vtable of a task. It
//! knows nothing of queues, timers or I/O: the scheduler decides *when* to
//! poll, kill or free a task; this file only knows *how*.
//!
//! # Layout
//!
//! ```text
//! Cell<F, T> (repr(C))
//! +---------------------------------------------+
//! | Header (72 bytes): refs, flags, id, ...      |  <- a `NonNull<Header>` points here
//! +---------------------------------------------+
//! | Stage<F, T>: Pending(F) | Done(Result) | Empty |
//! +---------------------------------------------+
//! ```
//!
//! # Who may touch what
//!
//! * `local`, `polls`, `waiting` and the stage while the future is
//!   alive: only the owner scheduler's thread.
//! * `refs`, `remote`: any thread, atomically.
//! * `join_waker`: any thread, only while holding the [`JOIN_LOCK`] bit.
//! * The stage after [`COMPLETE`] is set: the holder of the `Task` handle
//!   (the owner thread never writes it again).
//!
//! # Reference counting
//!
//! `refs` counts: the registry entry (from spawn until the task has finished
//! *and* left the local ready queue), the `Task` handle, every `Waker`, and
//! every message in the injection queue that carries the task. The local ready
//! queue does not hold its own reference: a task in it is always alive because
//! the registry reference is only released after the task is popped (see
//! `scheduler::core`). The last reference frees the allocation.

use std::alloc::Layout;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering, fence};
use std::task::{Context, Poll, Waker};

use crate::scheduler::shared::Shared;
use crate::task::{JoinError, Waiting, slab};

// ---- `local` flags: owner thread only ------------------------------------

/// The task is in its scheduler's local ready queue. Set by a local wake,
/// cleared when the scheduler pops the task.
pub(crate) const SCHEDULED: u8 = 1 << 0;
/// The scheduler is inside this task's `poll` right now.
pub(crate) const RUNNING: u8 = 1 << 1;
/// The future has been dropped (completed, panicked or killed). Wakes are
/// ignored from now on.
pub(crate) const FINISHED: u8 = 1 << 2;
/// `kill` was called while the task was running (it killed itself, or a
/// future it polls did): the future is dropped as soon as `poll` returns.
pub(crate) const KILL_REQUESTED: u8 = 1 << 3;

// ---- `remote` flags: any thread, atomic ----------------------------------

/// A `Wake` message for this task sits in the injection queue; further
/// cross-thread wakes need not send another.
pub(crate) const REMOTE_QUEUED: u8 = 1 << 0;
/// The outcome (output, `Killed` or `Panicked`) is in the stage. Set with
/// release ordering by the owner thread, read with acquire by the handle.
pub(crate) const COMPLETE: u8 = 1 << 1;
/// Spin bit guarding `join_waker`; held only for a store or a take.
pub(crate) const JOIN_LOCK: u8 = 1 << 2;
/// A `Task` handle exists. When it is gone at completion, the owner thread
/// drops the output itself (and logs a panic, since nobody will see it).
pub(crate) const HANDLE: u8 = 1 << 3;
/// A join waker was stored (set under `JOIN_LOCK`). Lets completion skip
/// the lock when nobody awaited the handle before the task ended.
pub(crate) const JOIN_WAKER_SET: u8 = 1 << 4;

/// What a poll of the future ended with.
pub(crate) enum PollOutcome {
    /// Not done; the task waits for a wake.
    Pending,
    /// Done; the output is in the stage.
    Ready,
    /// The future panicked; `Err(Panicked)` is in the stage.
    Panicked,
}

/// Type-erased operations of one `Cell<F, T>`.
pub(crate) struct Vtable {
    /// Polls the future inside `catch_unwind`; stores the outcome when done.
    pub(crate) poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> PollOutcome,
    /// Drops the future in place (catching a panicking destructor) and stores
    /// `Err(Killed)`.
    pub(crate) kill: unsafe fn(NonNull<Header>),
    /// Moves the outcome out into `*mut Poll<Result<T, JoinError>>`.
    pub(crate) read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Drops whatever the stage holds; returns the panic message if the stage
    /// held a panic (for logging).
    pub(crate) drop_stage: unsafe fn(NonNull<Header>) -> Option<String>,
    /// Frees the allocation. The stage must be `Empty`.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
}

/// The fixed-size front of every task allocation.
#[repr(C)]
pub(crate) struct Header {
    /// Reference count (see the module docs).
    pub(crate) refs: AtomicU32,
    /// Cross-thread flags: `REMOTE_QUEUED`, `COMPLETE`, `JOIN_LOCK`, `HANDLE`.
    pub(crate) remote: AtomicU8,
    /// Owner-thread flags: `SCHEDULED`, `RUNNING`, `FINISHED`, `KILL_REQUESTED`.
    pub(crate) local: Cell<u8>,
    /// How many times the future was polled (for `tasks()` snapshots).
    pub(crate) polls: Cell<u32>,
    /// Index in the owner's registry (`NO_SLOT` until admitted). Written
    /// once by the owner thread; read by handles for kill-by-id hints.
    pub(crate) slot: AtomicU32,
    /// Operations on the typed cell.
    pub(crate) vtable: &'static Vtable,
    /// The task id; never reused.
    pub(crate) id: u64,
    /// The scheduler the task belongs to, for wakes from other threads.
    /// Taken out by hand when the cell is freed (`Typed::drop_cell`): it
    /// may own the memory the cell lives in.
    pub(crate) owner: ManuallyDrop<Arc<Shared>>,
    /// The name given at spawn (boxed twice to keep the header one word
    /// smaller: most tasks have no name).
    name: Option<Box<Box<str>>>,
    /// Who awaits the `Task` handle. Guarded by `JOIN_LOCK`.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
    /// What the task last said it waits for (for `tasks()` snapshots),
    /// packed in one word (see [`Waiting::pack`]).
    waiting: Cell<u64>,
}

impl Header {
    /// The name given at spawn.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|b| &**b)
    }

    /// Records what the task waits for (owner thread).
    pub(crate) fn set_waiting(&self, w: Waiting) {
        self.waiting.set(w.pack());
    }

    /// What the task last said it waits for (owner thread).
    pub(crate) fn waiting(&self) -> Waiting {
        Waiting::unpack(self.waiting.get())
    }
}

/// Where a task's future is in its life.
enum Stage<F, T> {
    /// Not finished; the future is alive.
    Pending(F),
    /// Finished; the outcome waits for the handle.
    Done(Result<T, JoinError>),
    /// Nothing left (output taken or dropped).
    Empty,
}

#[repr(C)]
struct TaskCell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F, F::Output>>,
}

/// Allocates a task cell for `future`. The new task has `refs` references
/// (the caller decides who owns them) and the `HANDLE` flag set.
///
/// `on_owner_thread` says the caller runs on `owner`'s scheduler thread:
/// then the cell comes from that scheduler's slab (see `task::slab`) when
/// its size allows; otherwise, from the global allocator.
pub(crate) fn allocate<F: Future + 'static>(
    future: F,
    id: u64,
    name: Option<Box<str>>,
    owner: Arc<Shared>,
    refs: u32,
    on_owner_thread: bool,
) -> NonNull<Header> {
    let block = match Typed::<F>::CLASS {
        // SAFETY: the caller runs on the owner's thread (it says so), where
        // allocating from its slab is allowed; the class fits the cell.
        Some(class) if on_owner_thread => unsafe { owner.slab.alloc(class) },
        _ => None,
    };
    let vtable = match block {
        Some(_) => &Typed::<F>::VTABLE_SLAB,
        None => &Typed::<F>::VTABLE,
    };
    let cell = TaskCell {
        header: Header {
            refs: AtomicU32::new(refs),
            remote: AtomicU8::new(HANDLE),
            local: Cell::new(0),
            polls: Cell::new(0),
            vtable,
            id,
            slot: AtomicU32::new(crate::scheduler::registry::NO_SLOT),
            owner: ManuallyDrop::new(owner),
            name: name.map(Box::new),
            join_waker: UnsafeCell::new(None),
            waiting: Cell::new(0),
        },
        stage: UnsafeCell::new(Stage::Pending(future)),
    };
    match block {
        Some(block) => {
            let ptr = block.cast::<TaskCell<F>>();
            // SAFETY: the block is fresh, at least as large as the cell and
            // aligned for it (`class_of` checked the layout).
            unsafe { ptr.as_ptr().write(cell) };
            ptr.cast()
        }
        None => NonNull::from(Box::leak(Box::new(cell))).cast(),
    }
}

struct Typed<F>(F);

impl<F: Future + 'static> Typed<F> {
    /// The slab size class of this cell, if the slab can hold it.
    const CLASS: Option<usize> = slab::class_of(Layout::new::<TaskCell<F>>());

    /// For cells from the global allocator.
    const VTABLE: Vtable = Vtable {
        poll: Self::poll,
        kill: Self::kill,
        read_output: Self::read_output,
        drop_stage: Self::drop_stage,
        dealloc: Self::dealloc,
    };

    /// For cells from the owner's slab.
    const VTABLE_SLAB: Vtable = Vtable {
        dealloc: Self::dealloc_slab,
        ..Self::VTABLE
    };

    /// # Safety
    /// `ptr` must point to a live `TaskCell<F>`, and the caller must be the
    /// only one touching its stage (the owner thread before `COMPLETE`, or
    /// the handle after it).
    unsafe fn stage<'a>(ptr: NonNull<Header>) -> &'a mut Stage<F, F::Output> {
        // SAFETY: the header is the first field of the repr(C) cell, so the
        // cast recovers the cell; exclusivity is the caller's duty.
        unsafe { &mut *ptr.cast::<TaskCell<F>>().as_ref().stage.get() }
    }

    /// Drops the stage in place, turning a panicking destructor into a
    /// payload. The stage is left logically uninitialised: the caller must
    /// write a new one.
    ///
    /// # Safety
    /// As for [`Self::stage`]; the caller writes the stage right after.
    unsafe fn drop_in_place_caught(stage: &mut Stage<F, F::Output>) -> Option<Box<dyn Any + Send>> {
        let p: *mut Stage<F, F::Output> = stage;
        // SAFETY: `p` is valid and initialised; after this call the caller
        // overwrites it with `ptr::write`, never reading the dropped value.
        // Drop glue keeps dropping the remaining fields while unwinding, so
        // a caught panic leaves nothing to drop twice.
        catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(p) })).err()
    }

    unsafe fn poll(ptr: NonNull<Header>, cx: &mut Context<'_>) -> PollOutcome {
        // SAFETY: called by the owner thread while the task is not finished,
        // so the stage is `Pending` and nobody else touches it.
        let stage = unsafe { Self::stage(ptr) };
        let Stage::Pending(future) = stage else {
            return PollOutcome::Ready;
        };
        // SAFETY: the future lives in a heap cell that never moves until it
        // is dropped in place, so pinning it is sound.
        let future = unsafe { Pin::new_unchecked(future) };
        let result = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
        let (outcome, done) = match result {
            Ok(Poll::Pending) => return PollOutcome::Pending,
            Ok(Poll::Ready(value)) => (PollOutcome::Ready, Ok(value)),
            Err(payload) => (PollOutcome::Panicked, Err(JoinError::Panicked(payload))),
        };
        // SAFETY: the stage is ours (see above); it is rewritten just below.
        let dropped = unsafe { Self::drop_in_place_caught(stage) };
        let (outcome, done) = match dropped {
            None => (outcome, done),
            // The future's destructor panicked: report that panic instead.
            Some(payload) => (PollOutcome::Panicked, Err(JoinError::Panicked(payload))),
        };
        // SAFETY: the old stage was dropped in place above.
        unsafe { ptr::write(stage, Stage::Done(done)) };
        outcome
    }

    unsafe fn kill(ptr: NonNull<Header>) {
        // SAFETY: owner thread, task not finished: the stage is ours.
        let stage = unsafe { Self::stage(ptr) };
        if !matches!(stage, Stage::Pending(_)) {
            return;
        }
        // SAFETY: rewritten right below.
        let dropped = unsafe { Self::drop_in_place_caught(stage) };
        let done = match dropped {
            None => Err(JoinError::Killed),
            Some(payload) => Err(JoinError::Panicked(payload)),
        };
        // SAFETY: the old stage was dropped in place above.
        unsafe { ptr::write(stage, Stage::Done(done)) };
    }

    unsafe fn read_output(ptr: NonNull<Header>, dst: *mut ()) {
        // SAFETY: only the handle calls this, after it saw `COMPLETE` with
        // acquire ordering; the owner thread no longer touches the stage.
        let stage = unsafe { Self::stage(ptr) };
        let out = match std::mem::replace(stage, Stage::Empty) {
            Stage::Done(result) => result,
            // Read twice (a handle polled after completion): report killed
            // rather than panicking inside the runtime.
            _ => Err(JoinError::Killed),
        };
        let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
        // SAFETY: the caller passes a valid, writable `Poll<Result<T, _>>`
        // whose old value it does not need dropped (it is `Pending`).
        unsafe { *dst = Poll::Ready(out) };
    }

    unsafe fn drop_stage(ptr: NonNull<Header>) -> Option<String> {
        // SAFETY: the caller has exclusive access (owner before COMPLETE,
        // or whoever decided the output is unwanted after it).
        let stage = unsafe { Self::stage(ptr) };
        let old = std::mem::replace(stage, Stage::Empty);
        let message = match &old {
            Stage::Done(Err(JoinError::Panicked(payload))) => Some(panic_message(payload.as_ref())),
            _ => None,
        };
        // A panicking destructor of the output must not unwind into the
        // scheduler.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(old)));
        message
    }

    /// Drops what the cell still holds except its owner reference, which
    /// it hands back (the owner's slab may hold the cell's memory).
    ///
    /// # Safety
    /// The last reference is gone; the cell is dropped in place and must
    /// not be read again.
    unsafe fn drop_cell(cell: *mut TaskCell<F>) -> Arc<Shared> {
        // SAFETY: nobody else can reach the cell; the owner is taken once
        // and the `ManuallyDrop` field is never dropped by the glue below.
        let owner = unsafe { ManuallyDrop::take(&mut (*cell).header.owner) };
        // The stage should be empty by now; drop whatever is left (name,
        // join waker, stage) without letting a panic escape.
        // SAFETY: as above; the memory itself is freed by the caller.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(cell) }));
        owner
    }

    unsafe fn dealloc(ptr: NonNull<Header>) {
        let cell = ptr.cast::<TaskCell<F>>().as_ptr();
        // SAFETY: the last reference is gone (the vtable contract).
        let owner = unsafe { Self::drop_cell(cell) };
        // SAFETY: the cell came from `Box::new` in `allocate` (this vtable
        // is only used for such cells) and its contents were dropped above.
        unsafe { std::alloc::dealloc(cell.cast(), Layout::new::<TaskCell<F>>()) };
        drop(owner);
    }

    unsafe fn dealloc_slab(ptr: NonNull<Header>) {
        let cell = ptr.cast::<TaskCell<F>>().as_ptr();
        // SAFETY: the last reference is gone (the vtable contract).
        let owner = unsafe { Self::drop_cell(cell) };
        // This vtable is only used for cells of a known class.
        let Some(class) = Self::CLASS else { return };
        let block = ptr.cast::<u8>();
        // SAFETY: the block came from `owner.slab.alloc(class)` and its
        // contents are dropped; `owner` keeps the slab alive until after
        // the block is back. The local list is used only on the owner's
        // thread, and `drop_cell` has returned, so no slab call is on the
        // stack of this thread.
        unsafe {
            if crate::scheduler::context::is_local(&owner) {
                owner.slab.free_local(block, class);
            } else {
                owner.slab.free_remote(block, class);
            }
        }
        drop(owner);
    }
}

/// The text of a panic payload, for logs.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Borrowed access to a header.
///
/// # Safety
/// `ptr` must point to a live task (the caller holds a reference, directly
/// or through the registry).
#[inline]
pub(crate) unsafe fn header<'a>(ptr: NonNull<Header>) -> &'a Header {
    // SAFETY: guaranteed by the caller.
    unsafe { ptr.as_ref() }
}

/// Adds a reference.
///
/// # Safety
/// `ptr` must point to a live task on which the caller holds a reference.
#[inline]
pub(crate) unsafe fn ref_inc(ptr: NonNull<Header>) {
    // SAFETY: the caller holds a reference, so the header is alive.
    let old = unsafe { header(ptr) }.refs.fetch_add(1, Ordering::Relaxed);
    if old > i32::MAX as u32 {
        // Overflowing the count would lead to a use-after-free; like `Arc`,
        // stop the process instead.
        std::process::abort();
    }
}

/// Drops a reference, freeing the task when it was the last.
///
/// # Safety
/// The caller must own the reference it gives up.
#[inline]
pub(crate) unsafe fn ref_dec(ptr: NonNull<Header>) {
    // SAFETY: the caller still owns a reference, so the header is alive.
    let h = unsafe { header(ptr) };
    if h.refs.fetch_sub(1, Ordering::Release) != 1 {
        return;
    }
    // Pair with the release decrements of other threads so their last uses
    // of the cell happen before it is freed.
    fence(Ordering::Acquire);
    // SAFETY: that was the last reference.
    unsafe { (h.vtable.dealloc)(ptr) };
}

/// Stores `waker` as the join waker unless the task already completed.
/// Returns true if the caller must read the output now.
pub(crate) fn register_join_waker(h: &Header, waker: &Waker) -> bool {
    if h.remote.load(Ordering::Acquire) & COMPLETE != 0 {
        return true;
    }
    lock_join(h);
    // SAFETY: `JOIN_LOCK` is held, so nobody else touches the slot.
    let slot = unsafe { &mut *h.join_waker.get() };
    match slot {
        Some(old) if old.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
    h.remote.fetch_or(JOIN_WAKER_SET, Ordering::Relaxed);
    unlock_join(h);
    // The owner may have completed between the first check and the store;
    // it then found (and woke) the old waker or none. Look again.
    h.remote.load(Ordering::Acquire) & COMPLETE != 0
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
    waker
}

fn lock_join(h: &Header) {
    loop {
        let prev = h.remote.fetch_or(JOIN_LOCK, Ordering::Acquire);
        if prev & JOIN_LOCK == 0 {
            return;
        }
        // The other side holds it for a few instructions only.
        std::hint::spin_loop();
    }
}

fn unlock_join(h: &Header) {
    h.remote.fetch_and(!JOIN_LOCK, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million sleeping tasks each carry one header: keep it at 72 bytes.
    #[test]
    fn header_stays_small() {
        assert!(
            std::mem::size_of::<Header>() <= 72,
            "{}",
            std::mem::size_of::<Header>()
        );
    }

    #[test]
    fn waiting_packs_and_unpacks() {
        use crate::io::Interest;
        for w in [
            Waiting::Nothing,
            Waiting::Sleep(123_456),
            Waiting::SleepForever,
            Waiting::Fd(7, Interest::Read),
            Waiting::Fd(i32::MAX, Interest::Write),
        ] {
            assert_eq!(Waiting::unpack(w.pack()), w);
        }
        let id = crate::task::TaskId::from_u64(42);
        assert_eq!(Waiting::unpack(Waiting::Task(id).pack()), Waiting::Task(id));
    }
}
