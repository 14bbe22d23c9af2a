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
//! TaskCell<F, N> (repr(C))
//! +---------------------------------------------+
//! | Header (40 bytes): refs, flags, id, ...      |  <- a `NonNull<Header>` points here
//! +---------------------------------------------+
//! | Stage: union { F, T, JoinError }             |  which one: `Header::stage`
//! +---------------------------------------------+
//! | trailer N: () or the name (Box<str>)         |  only named tasks pay for it
//! +---------------------------------------------+
//! ```
//!
//! The header is in `header.rs`. A cell from the global allocator has one
//! more word in front of it, its scheduler ([`Boxed`]); a slab cell finds
//! its scheduler at the start of its slab chunk instead
//! ([`Header::owner_ptr`]), which keeps a million sleeping tasks a word
//! smaller each.
//!
//! # Who may touch what
//!
//! * `owner_flags`, `polls`, `wait_or_next` and the stage while the future is
//!   alive: only the owner scheduler's thread.
//! * `refs`, `remote_flags`: any thread, atomically, by the protocol tabled in
//!   `header.rs` (who sets and clears each flag, with which ordering, and
//!   who holds a reference).
//! * `join_waker`: any thread, only while holding the [`JOIN_LOCK`](super::header::JOIN_LOCK) bit.
//! * The stage (and its tag `stage`) after [`COMPLETE`](super::header::COMPLETE) is set: the holder of the `Task` handle
//!   (the owner thread never writes it again).
//!
//! The last reference frees the allocation.

use std::alloc::Layout;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::task::{Context, Poll};

pub(crate) use super::header::{
    DUMP_DETAILS, FINISHED, HANDLE, Header, JOIN_WAKER_SET, KILL_REQUESTED, LONG_POLLED, REQUEUED,
    RUNNING, SCHEDULED, SITE_INDEX, UNREGISTERED, WOKEN_OUTSIDE, header, ref_dec, ref_inc,
};
use super::header::{STAGE_DONE, STAGE_EMPTY, STAGE_FAILED, STAGE_PENDING};
use crate::scheduler::shared::CoreShared;
pub(crate) use crate::task::join::{register_join_waker, take_join_waker};
use crate::task::vtable_ref::VtableRef;
use crate::task::{JoinError, slab};

/// What a poll of the future ended with.
pub(crate) enum PollOutcome {
    /// Not done; the task waits for a wake.
    Pending,
    /// Done; the output is in the stage.
    Ready,
    /// The future panicked; its `JoinError` is in the stage.
    Panicked,
}

/// Type-erased operations of one `TaskCell<F, N>`.
pub(crate) struct Vtable {
    /// Polls the future inside `catch_unwind`; stores the outcome when done.
    pub(crate) poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> PollOutcome,
    /// Drops the future in place and stores a killed `JoinError`, even if
    /// the future's destructor panics (whose message it returns).
    pub(crate) kill: unsafe fn(NonNull<Header>) -> Option<String>,
    /// Where the stage starts, from the start of the cell: the handle reads
    /// the outcome there itself (see [`take_output`]), without a call
    /// through this table.
    pub(crate) stage_offset: usize,
    /// Drops whatever the stage holds; returns the panic message if the stage
    /// held a panic (for logging).
    pub(crate) drop_stage: unsafe fn(NonNull<Header>) -> Option<String>,
    /// Frees the allocation. The stage must be `Empty`.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// The name in the cell's trailer, if it has one.
    pub(super) name: unsafe fn(&Header) -> Option<&str>,
    /// The cell is a block of its owner's slab (else it is [`Boxed`]).
    pub(super) slab: bool,
    /// The owner stored before a [`Boxed`] cell (unused for slab cells).
    pub(super) boxed_owner: unsafe fn(&Header) -> *const CoreShared,
}

/// The future, then its output or its error; which one is alive is
/// `Header::stage`. A union rather than an enum, and the output and the
/// error apart rather than a `Result`: the tag lives in header padding, so
/// the stage is only as large as its largest member. A task returning a
/// word takes 8 bytes here, not the 16 of a `Result<u64, JoinError>`.
#[repr(C)]
union Stage<F, T> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<T>,
    error: ManuallyDrop<JoinError>,
}

/// What a cell carries after its stage: nothing, or the task's name.
trait Trailer: 'static {
    fn name(&self) -> Option<&str>;
}

impl Trailer for () {
    fn name(&self) -> Option<&str> {
        None
    }
}

impl Trailer for Box<str> {
    fn name(&self) -> Option<&str> {
        Some(self)
    }
}

/// One task allocation. Unnamed tasks (`N = ()`) pay nothing for names.
#[repr(C)]
struct TaskCell<F: Future, N> {
    header: Header,
    stage: UnsafeCell<Stage<F, F::Output>>,
    trailer: N,
}

/// A cell from the global allocator (spawned from another thread, too big
/// for the slab, or the slab could not grow), with its owner in front: a
/// slab cell needs no such word (see [`Header::owner_ptr`]).
#[repr(C)]
struct Boxed<C> {
    owner: *const CoreShared,
    cell: C,
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
    owner: &Arc<CoreShared>,
    refs: u32,
    on_owner_thread: bool,
) -> NonNull<Header> {
    match name {
        None => allocate_with(future, id, (), owner, refs, on_owner_thread),
        Some(name) => allocate_with(future, id, name, owner, refs, on_owner_thread),
    }
}

fn allocate_with<F: Future + 'static, N: Trailer>(
    future: F,
    id: u64,
    trailer: N,
    owner: &Arc<CoreShared>,
    refs: u32,
    on_owner_thread: bool,
) -> NonNull<Header> {
    let block = match Typed::<F, N>::CLASS {
        // SAFETY: the caller runs on the owner's thread (it says so), where
        // allocating from its slab is allowed; the class fits the cell; the
        // tag is always the slab's own scheduler. A slab cell holds no
        // count of its owner: the slab's own accounting keeps the owner
        // alive while the cell is (see `task::slab`).
        Some(class) if on_owner_thread => unsafe {
            owner.slab.alloc(class, Arc::as_ptr(owner).cast())
        },
        _ => None,
    };
    let vtable = match block {
        Some(_) => &Typed::<F, N>::VTABLE_SLAB,
        None => &Typed::<F, N>::VTABLE,
    };
    let cell = TaskCell {
        header: Header {
            refs: crate::loom::AtomicU32::new(refs),
            remote_flags: crate::loom::AtomicU8::new(HANDLE),
            owner_flags: Cell::new(0),
            stage: UnsafeCell::new(STAGE_PENDING),
            site: Cell::new(0),
            polls: Cell::new(0),
            vtable_ref: VtableRef::new(vtable),
            id,
            join_waker: UnsafeCell::new(None),
            wait_or_next: Cell::new(0),
        },
        stage: UnsafeCell::new(Stage {
            future: ManuallyDrop::new(future),
        }),
        trailer,
    };
    let ptr = match block {
        Some(block) => {
            let ptr = block.cast::<TaskCell<F, N>>();
            // SAFETY: the block is fresh, at least as large as the cell and
            // aligned for it (`class_of` checked the layout).
            unsafe { ptr.as_ptr().write(cell) };
            ptr
        }
        None => {
            // A boxed cell holds a strong count of its owner, given back in
            // `dealloc`.
            let owner = Arc::into_raw(owner.clone());
            let boxed = Box::into_raw(Box::new(Boxed { owner, cell }));
            // SAFETY: a field of the allocation just made; projecting from
            // the raw pointer keeps the whole allocation's provenance.
            unsafe { NonNull::new_unchecked(ptr::addr_of_mut!((*boxed).cell)) }
        }
    };
    // `Header::name` and `boxed_owner` read the trailer and the owner word
    // from a `&Header`; they find the whole allocation again through this
    // exposed provenance.
    let _ = ptr.as_ptr().expose_provenance();
    ptr.cast()
}

struct Typed<F, N>(F, N);

impl<F: Future + 'static, N: Trailer> Typed<F, N> {
    /// The slab size class of this cell, if the slab can hold it.
    const CLASS: Option<usize> = slab::class_of(Layout::new::<TaskCell<F, N>>());

    /// For cells from the global allocator.
    const VTABLE: Vtable = Vtable {
        poll: Self::poll,
        kill: Self::kill,
        stage_offset: std::mem::offset_of!(TaskCell<F, N>, stage),
        drop_stage: Self::drop_stage,
        dealloc: Self::dealloc,
        name: Self::name,
        slab: false,
        boxed_owner: Self::boxed_owner,
    };

    /// For cells from the owner's slab.
    const VTABLE_SLAB: Vtable = Vtable {
        dealloc: Self::dealloc_slab,
        slab: true,
        ..Self::VTABLE
    };

    /// Where the [`Boxed`] wrapper of the cell of `h` starts.
    fn boxed_of(h: *const Header) -> *mut Boxed<TaskCell<F, N>> {
        let addr = h.addr() - std::mem::offset_of!(Boxed<TaskCell<F, N>>, cell);
        // The allocation's provenance was exposed in `allocate_with`.
        ptr::with_exposed_provenance_mut(addr)
    }

    /// # Safety
    /// `h` is the header of a live boxed `TaskCell<F, N>`.
    unsafe fn boxed_owner(h: &Header) -> *const CoreShared {
        // SAFETY: the cell is boxed (the caller's duty), so a `Boxed`
        // starts that far before its header, and its owner word is written
        // once at allocation.
        unsafe { (*Self::boxed_of(h)).owner }
    }

    /// The stage and its tag.
    ///
    /// # Safety
    /// `ptr` must point to a live `TaskCell<F, N>`, and the caller must be
    /// the only one touching its stage (the owner thread before `COMPLETE`,
    /// or the handle after it).
    unsafe fn stage<'a>(ptr: NonNull<Header>) -> (&'a mut u8, &'a mut Stage<F, F::Output>) {
        let cell = ptr.cast::<TaskCell<F, N>>().as_ptr();
        // SAFETY: the header is the first field of the repr(C) cell, so the
        // cast recovers the cell; exclusivity is the caller's duty. The two
        // borrows cover disjoint fields.
        unsafe { (&mut *(*cell).header.stage.get(), &mut *(*cell).stage.get()) }
    }

    /// Drops the future in place, turning a panicking destructor into a
    /// payload. The stage is left logically uninitialised: the caller must
    /// write the outcome or mark it empty.
    ///
    /// # Safety
    /// As for [`Self::stage`]; the stage holds the live future.
    unsafe fn drop_future_caught(stage: &mut Stage<F, F::Output>) -> Option<Box<dyn Any + Send>> {
        // SAFETY: the future is the live field (the caller's duty); after
        // this call it is never read again. Drop glue keeps dropping the
        // remaining fields while unwinding, so a caught panic leaves nothing
        // to drop twice.
        catch_unwind(AssertUnwindSafe(|| unsafe {
            ManuallyDrop::drop(&mut stage.future)
        }))
        .err()
    }

    /// # Safety
    /// The vtable's `poll` contract: the owner thread calls it, on a task
    /// that is not `FINISHED`, whose future is therefore alive (every path
    /// that drops the future or stores an outcome marks the task `FINISHED`
    /// first or at once). No tag test here: this runs on every poll.
    unsafe fn poll(ptr: NonNull<Header>, cx: &mut Context<'_>) -> PollOutcome {
        // SAFETY: called by the owner thread while the task is not finished,
        // so nobody else touches the stage.
        let (tag, stage) = unsafe { Self::stage(ptr) };
        debug_assert_eq!(*tag, STAGE_PENDING, "poll of a finished task");
        // SAFETY: the future is alive (the contract above). It lives in a
        // heap cell that never moves until it is dropped in place, so
        // pinning it is sound.
        let future = unsafe { Pin::new_unchecked(&mut *stage.future) };
        let done = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => return PollOutcome::Pending,
            Ok(Poll::Ready(value)) => Ok(value),
            Err(payload) => Err(JoinError::panicked(payload)),
        };
        // SAFETY: the future is still alive (it was just polled) and the
        // stage is ours, as above.
        unsafe { Self::complete(tag, stage, done) }
    }

    /// The end of a poll that finished the future, or of a kill: drops it
    /// (catching a panicking destructor) and stores the outcome. Kept out of line so
    /// the pending path of `poll`, taken on every yield and wait, stays a
    /// small function with few registers to save.
    ///
    /// # Safety
    /// As for [`Self::drop_future_caught`]: `stage` holds the live future
    /// and the caller has exclusive access to it.
    #[inline(never)]
    unsafe fn complete(
        tag: &mut u8,
        stage: &mut Stage<F, F::Output>,
        done: Result<F::Output, JoinError>,
    ) -> PollOutcome {
        let outcome = match done {
            Ok(_) => PollOutcome::Ready,
            Err(_) => PollOutcome::Panicked,
        };
        // SAFETY: the future is alive and ours (the caller's duty); the
        // outcome replaces it.
        let dropped = unsafe { Self::drop_future_caught(stage) };
        let (outcome, done) = match dropped {
            None => (outcome, done),
            // The future's destructor panicked: report that panic instead.
            Some(payload) => (PollOutcome::Panicked, Err(JoinError::panicked(payload))),
        };
        match done {
            Ok(value) => {
                stage.output = ManuallyDrop::new(value);
                *tag = STAGE_DONE;
            }
            Err(error) => {
                stage.error = ManuallyDrop::new(error);
                *tag = STAGE_FAILED;
            }
        }
        outcome
    }

    /// Drops the future of a killed task and stores `Killed`. A panic of
    /// its destructor does not change the outcome (every observer sees one
    /// outcome: Killed); its message is returned for the log.
    unsafe fn kill(ptr: NonNull<Header>) -> Option<String> {
        // SAFETY: owner thread, task not finished: the stage is ours.
        let (tag, stage) = unsafe { Self::stage(ptr) };
        if *tag != STAGE_PENDING {
            return None;
        }
        *tag = STAGE_EMPTY;
        // SAFETY: the tag said the future is alive and the stage is ours;
        // it is marked gone first, so a panicking destructor cannot lead to
        // a second drop.
        let panicked = unsafe { Self::drop_future_caught(stage) };
        stage.error = ManuallyDrop::new(JoinError::killed());
        *tag = STAGE_FAILED;
        panicked.map(|p| panic_message(&*p))
    }

    /// Drops whatever the stage holds. Mostly called with an empty stage
    /// (the handle took the output, then the handle's drop and the cell's
    /// drop both come by), so that check is all that runs inline.
    #[inline]
    unsafe fn drop_stage(ptr: NonNull<Header>) -> Option<String> {
        // SAFETY: the caller has exclusive access (owner before COMPLETE,
        // or whoever decided the output is unwanted after it).
        let (tag, _) = unsafe { Self::stage(ptr) };
        if *tag == STAGE_EMPTY {
            return None;
        }
        // SAFETY: the caller's guarantee, passed on.
        unsafe { Self::drop_stage_full(ptr) }
    }

    /// [`Self::drop_stage`] for a stage that holds something.
    ///
    /// # Safety
    /// As for [`Self::stage`].
    #[inline(never)]
    unsafe fn drop_stage_full(ptr: NonNull<Header>) -> Option<String> {
        // SAFETY: exclusive access is the caller's duty.
        let (tag, stage) = unsafe { Self::stage(ptr) };
        if *tag == STAGE_PENDING {
            *tag = STAGE_EMPTY;
            // SAFETY: the future was alive; it is marked gone first, so a
            // panic in its destructor cannot lead to a second drop.
            let _ = unsafe { Self::drop_future_caught(stage) };
            return None;
        }
        // SAFETY: as above; this cell's output type is `F::Output`.
        let old = unsafe { take_output::<F::Output>(ptr) };
        let message = match &old {
            Err(e) => e.panic_payload().map(panic_message),
            Ok(_) => None,
        };
        // A panicking destructor of the output must not unwind into the
        // scheduler.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(old)));
        message
    }

    /// # Safety
    /// `h` is the header of a live `TaskCell<F, N>`.
    unsafe fn name(h: &Header) -> Option<&str> {
        // `h` may carry the provenance of the header alone; the trailer is
        // reached through the cell pointer's provenance, which `allocate_with`
        // exposed.
        let addr = (h as *const Header).addr();
        let cell = ptr::with_exposed_provenance::<TaskCell<F, N>>(addr);
        // SAFETY: the header is the first field of the repr(C) cell (the
        // caller's duty), so its address is the cell's, whose pointer was
        // exposed at allocation; the trailer is written once at allocation
        // and only dropped when the cell is freed, after every borrow of the
        // header ends.
        unsafe { (*cell).trailer.name() }
    }

    /// Drops what the cell still holds; the memory itself and the owner's
    /// accounting are left to the caller.
    ///
    /// # Safety
    /// The last reference is gone; the cell is dropped in place and must
    /// not be read again.
    #[inline]
    unsafe fn drop_cell(cell: *mut TaskCell<F, N>) {
        // The stage should be empty by now; drop whatever is left.
        // SAFETY: the last reference is gone: access is exclusive.
        let _ = unsafe { Self::drop_stage(NonNull::new_unchecked(cell.cast())) };
        // Then the name and the join waker, the only parts with drop glue
        // (the union has none, the owner is not a field). Usually there is
        // neither: then nothing more runs here.
        // SAFETY: access is exclusive, as above.
        let no_waker = unsafe { (*(*cell).header.join_waker.get()).is_none() };
        if !no_waker || std::mem::needs_drop::<N>() {
            // SAFETY: as above.
            unsafe { Self::drop_cell_parts(cell) };
        }
    }

    /// The rest of [`Self::drop_cell`]: drops the cell's fields in place
    /// without letting a panic escape. Out of line, so that the usual path
    /// of freeing a task saves no registers for the unwind guard. (Not
    /// `#[cold]`: every named task comes here.)
    ///
    /// # Safety
    /// As for [`Self::drop_cell`]; the memory itself is freed by the caller.
    #[inline(never)]
    unsafe fn drop_cell_parts(cell: *mut TaskCell<F, N>) {
        // SAFETY: the caller's guarantee.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(cell) }));
    }

    unsafe fn dealloc(ptr: NonNull<Header>) {
        let cell = ptr.cast::<TaskCell<F, N>>().as_ptr();
        // SAFETY: the last reference is gone (the vtable contract), so the
        // cell is still intact; its owner word is read before anything is
        // dropped.
        let owner = unsafe { (*cell).header.owner_ptr() };
        // SAFETY: as above.
        unsafe { Self::drop_cell(cell) };
        let boxed = Self::boxed_of(ptr.as_ptr());
        // SAFETY: the cell came from the `Box<Boxed<..>>` of `allocate_with`
        // (this vtable is only used for such cells); its contents were
        // dropped and the owner word needs no drop.
        unsafe { std::alloc::dealloc(boxed.cast(), Layout::new::<Boxed<TaskCell<F, N>>>()) };
        // SAFETY: the strong count taken for this cell in `allocate_with`,
        // given back once.
        drop(unsafe { Arc::from_raw(owner) });
    }

    unsafe fn dealloc_slab(ptr: NonNull<Header>) {
        let cell = ptr.cast::<TaskCell<F, N>>().as_ptr();
        // SAFETY: the last reference is gone (the vtable contract); the
        // owner is found before the cell is dropped.
        let owner = unsafe { (*cell).header.owner_ptr() };
        // SAFETY: as above. The owner stays alive meanwhile: this block is
        // still counted as out by its slab.
        unsafe { Self::drop_cell(cell) };
        // This vtable is only used for cells of a known class.
        let Some(class) = Self::CLASS else { return };
        let block = ptr.cast::<u8>();
        // SAFETY: the block came from `owner.slab.alloc(class)` and its
        // contents are dropped. The local list is used only on the owner's
        // thread while its scheduler runs there (`is_local`), and
        // `drop_cell` has returned, so no slab call is on this thread's
        // stack. After the last block of an orphaned slab, the slab is not
        // touched again; the count its scheduler left behind is given back.
        unsafe {
            let slab = &(*owner).slab;
            if crate::scheduler::context::is_local(owner) {
                slab.free_local(block, class);
            } else if slab.free_remote(block, class) {
                Arc::decrement_strong_count(owner);
            }
        }
    }
}

/// Moves the outcome out of the stage, leaving it empty (`Err(Killed)` if
/// there was none). The `Task<T>` handle reads its output with it, without
/// knowing the future's type; `drop_stage` takes an unread one with it.
///
/// # Safety
/// `ptr` is a live task whose output type is `T`, and the caller has
/// exclusive access to its stage (see the module docs): the owner thread
/// before `COMPLETE`, or the handle after seeing it with acquire ordering.
#[inline]
pub(crate) unsafe fn take_output<T>(ptr: NonNull<Header>) -> Result<T, JoinError> {
    // SAFETY: the task is alive and its stage is ours (the caller's duty).
    let h = unsafe { header(ptr) };
    // SAFETY: as above: the tag goes with the stage.
    let tag = unsafe { &mut *h.stage.get() };
    // SAFETY: the cell is a repr(C) `TaskCell<F, N>` whose stage, a repr(C)
    // union, starts `stage_offset` bytes in; every field of such a union
    // starts at its first byte. `ptr` is the pointer `allocate` returned
    // (handles keep it as is), whose provenance covers the whole cell.
    let stage = unsafe { ptr.as_ptr().cast::<u8>().add(h.vtable().stage_offset) };
    if *tag == STAGE_DONE {
        *tag = STAGE_EMPTY;
        // SAFETY: the output field (`T`, in a transparent `ManuallyDrop`)
        // is alive by the tag, and taken once now that the tag says empty.
        return Ok(unsafe { stage.cast::<T>().read() });
    }
    // SAFETY: as above; the tag is not `STAGE_DONE`.
    Err(unsafe { take_error(tag, stage) })
}

/// [`take_output`] of a task that did not return: its error, or `Killed`
/// for a stage already read (a handle polled after completion), rather
/// than a panic inside the runtime.
///
/// # Safety
/// `tag` and `stage` are a live task's stage tag and stage start, and the
/// caller has exclusive access to them (see [`take_output`]).
#[cold]
unsafe fn take_error(tag: &mut u8, stage: *mut u8) -> JoinError {
    if *tag != STAGE_FAILED {
        return JoinError::killed();
    }
    *tag = STAGE_EMPTY;
    // SAFETY: the error field is alive by the tag, and taken once now that
    // the tag says empty.
    unsafe { stage.cast::<JoinError>().read() }
}

/// Drops whatever the stage holds (see `Vtable::drop_stage`), without the
/// call through the vtable when the stage is already empty: the usual case
/// for a handle that has read its output.
///
/// # Safety
/// As for `Vtable::drop_stage`: `ptr` is a live task and the caller has
/// exclusive access to its stage.
#[inline]
pub(crate) unsafe fn drop_stage(ptr: NonNull<Header>) -> Option<String> {
    // SAFETY: the task is alive and its stage is ours (the caller's duty).
    let h = unsafe { header(ptr) };
    // SAFETY: as above: the tag goes with the stage.
    if unsafe { *h.stage.get() } == STAGE_EMPTY {
        return None;
    }
    // SAFETY: the caller's guarantee, passed on.
    unsafe { (h.vtable().drop_stage)(ptr) }
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

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    /// The typical sleeping task (an `Rc` and a duration captured, a
    /// `Sleep` pending) fits an 88-byte slab block: every byte more is paid
    /// once per live task.
    #[test]
    fn sleeping_task_cell_fits_88_bytes() {
        fn cell_size<F: Future>(_: &F) -> usize {
            std::mem::size_of::<TaskCell<F, ()>>()
        }
        let c = std::rc::Rc::new(Cell::new(0u64));
        let dur = std::time::Duration::from_secs(1);
        let f = async move {
            crate::sleep(dur).await;
            c.set(c.get() + 1);
        };
        assert!(cell_size(&f) <= 88, "{}", cell_size(&f));
    }

    /// A task returning a word: header plus one word for the output (or,
    /// in the same place, the one-word `JoinError`), 48 bytes; the slab's
    /// 8-byte grain serves exactly that.
    #[test]
    fn value_task_cell_is_48_bytes_and_its_slab_block_too() {
        fn layout<F: Future>(_: &F) -> Layout {
            Layout::new::<TaskCell<F, ()>>()
        }
        let l = layout(&async { 1u64 });
        assert_eq!(l.size(), 48);
        if let Some(class) = slab::class_of(l) {
            assert_eq!((class + 1) * slab::GRAIN, 48);
        }
    }
}
