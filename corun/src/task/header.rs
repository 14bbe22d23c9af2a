//! The task header: the fixed front of every task cell, its flags, and
//! the reference count.
//!
//! What lives here: the [`Header`] layout and who may touch which field
//! (see `raw`'s module docs), the `owner_flags`/`remote_flags` bits, the stage tag
//! values, finding a task's scheduler from its header, and `ref_inc` /
//! `ref_dec`. What must not: the typed parts of a cell (future, output,
//! trailer), allocation and the vtable's functions (`raw`), and anything
//! about queues or scheduling.
//!
//! # The cross-thread protocol
//!
//! The owner thread is the thread of the scheduler core the task belongs
//! to; the handle thread is wherever the `Task` handle is (any thread,
//! the owner's included). Every bit of `remote_flags` and the reference count,
//! in one table (`fetch_or`/`fetch_and` are the read-modify-writes on
//! `remote`):
//!
//! | state | set by (thread, call, ordering) | cleared by (thread, call, ordering) | read by, and why it is safe |
//! |---|---|---|---|
//! | [`REMOTE_QUEUED`] | any thread but the owner's: `CoreShared::wake_remote`, `fetch_or` AcqRel, before it sends the one `Wake` message | owner: handling that `Wake` message (`core::handle`), `fetch_and` AcqRel, *before* scheduling the task | the waker that set it: a wake that finds it set sends nothing, since the queued message will schedule the task; clearing before scheduling means a later wake is never lost |
//! | [`COMPLETE`] | owner: `Core::finish` / `complete_contended`, compare-exchange AcqRel, after writing the outcome into the stage | never | handle thread, Acquire (`is_finished`, awaiting, `Drop`, `kill`): it sees the outcome written; from then on the stage is the handle's and the owner never touches it |
//! | [`JOIN_LOCK`] | whoever touches `join_waker`: the handle thread storing (`join::register_join_waker`) or the owner taking it at completion (`take_join_waker`); spin with `fetch_or` Acquire | the same thread, `fetch_and` Release | nobody else: it is a lock; held for a store or a take only, never across a wake or a drop of a waker |
//! | [`HANDLE`] | allocation (`raw::allocate`: the initial value, published with the task) | handle thread: `Task::drop`, `fetch_and` AcqRel, unless it already saw `COMPLETE` | owner: in the same compare-exchange that sets `COMPLETE` (so exactly one side drops the outcome): clear means nobody will read it, so the owner drops it and logs a panic |
//! | [`JOIN_WAKER_SET`] | handle thread, under `JOIN_LOCK`, `fetch_or` Relaxed (the lock's release orders it) | never | owner: in the `COMPLETE` compare-exchange; clear means no waker was ever stored, so completion skips the lock (a handle storing later sees `COMPLETE` on its re-check) |
//! | [`KILL_SENT`] | a thread other than the owner's: `Task::kill`, `fetch_or` AcqRel, *before* sending the `Kill` message; a kill that finds `COMPLETE` answers false and sends nothing | never | owner: when setting `COMPLETE` (compare-exchange, retried while the word moves): if set, a task that returned is reported `Killed` and its output dropped, so the handle's `true` always holds |
//! | `refs` | [`ref_inc`]: any thread already holding a reference, Relaxed (the new reference is created from a live one) | [`ref_dec`]: the holder giving it up, Release; the last one fences Acquire, then frees the cell | holders: the registry (owner thread, from admission until the task has finished *and* left the ready queue; a `Spawn` message carries this one until admission), the `Task` handle, every `Waker`, and every `Wake` message; the ready queue holds none |
//!
//! Every read-modify-write of this table is a function of
//! `task::protocol`, which the real code calls, and the loom models in
//! `task/protocol/loom_tests.rs` run those functions in every interleaving
//! the orderings allow (`scripts/sanitize.sh loom`): `COMPLETE` against
//! `KILL_SENT` (the kill answer and the outcome agree), against the
//! `JOIN_LOCK`/`JOIN_WAKER_SET` registration (the waker is never lost),
//! against clearing `HANDLE` (the outcome is dropped exactly once), and
//! against a kill and a drop at once; `refs` (the cell is freed exactly
//! once, after every holder's last use); `REMOTE_QUEUED` (no wake is lost
//! to the dedup). A change to a row changes `task::protocol`, and the
//! models with it.
//!
//! The owner-thread flags of `owner_flags` need no table: only the owner thread
//! touches them, with plain loads and stores.

use std::cell::{Cell, UnsafeCell};
use std::ptr::{self, NonNull};

use super::protocol;
use super::raw::Vtable;
use super::slim_waker::SlimWaker;
use super::vtable_ref::VtableRef;
use super::{Waiting, slab};
use crate::scheduler::shared::CoreShared;

// ---- `owner_flags`: owner thread only -------------------------------------

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
/// The task is not in its scheduler's registry: spawned on the
/// scheduler's own thread and not yet past its first poll, it is in the
/// ready queue or being polled. A task that ends in its first poll never
/// enters the registry; one that waits enters it then, and a look-up by
/// id or a walk over the live tasks first enters every such task
/// (`scheduler::core`, "Late registration").
pub(crate) const UNREGISTERED: u8 = 1 << 4;
/// The scheduler keeps dump details for this task (set when it is
/// admitted, never cleared): a poll that returns `Pending` notes since
/// when it waits. A bit here, so that the common end of a poll tests the
/// flags it has already loaded, not an option.
pub(crate) const DUMP_DETAILS: u8 = 1 << 5;
/// A look at the reactor (I/O, messages; not timers) queued this task: before
/// its poll the scheduler sets the other ready tasks aside, so that what it
/// spawns or wakes runs next (`docs/design/io-first.md`). Set while it is
/// `SCHEDULED`, cleared when it is popped.
pub(crate) const WOKEN_OUTSIDE: u8 = 1 << 6;
/// The task yielded to its own slot during the poll in progress
/// (`context::requeue_current`): it is `SCHEDULED` but not queued yet. Set
/// only while `RUNNING`; the scheduler clears it when the poll returns and
/// queues the task, or polls it again at once if nothing else is ready.
pub(crate) const REQUEUED: u8 = 1 << 7;

// ---- `remote_flags`: any thread, atomic (the module docs' table) ---------

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
/// A kill was sent from another thread through the task's handle before
/// the task completed: the owner then reports it killed even if it
/// returned (it checks this bit and sets `COMPLETE` in one
/// compare-exchange), so the handle's `kill` answer always holds.
pub(crate) const KILL_SENT: u8 = 1 << 5;

// ---- `site`: owner thread only --------------------------------------------

/// The bits of `Header::site` holding the spawn site's index.
pub(crate) const SITE_INDEX: u8 = 0x7f;
/// In `Header::site`: a poll of this task lasted at least one coarse-clock
/// tick, so the scheduler keeps its longest poll in a side table until the
/// task ends. (Here rather than in `owner_flags`, whose bits the polling
/// loop tests together; this one is read once, when the task ends.)
pub(crate) const LONG_POLLED: u8 = 0x80;

/// `Header::stage`: the future is alive in the stage.
pub(super) const STAGE_PENDING: u8 = 0;
/// `Header::stage`: the future's output is in the stage.
pub(super) const STAGE_DONE: u8 = 1;
/// `Header::stage`: nothing is left in the stage.
pub(super) const STAGE_EMPTY: u8 = 2;
/// `Header::stage`: the task failed (panicked or was killed); its
/// `JoinError` is in the stage.
pub(super) const STAGE_FAILED: u8 = 3;

/// The fixed-size front of every task allocation.
#[repr(C)]
pub(crate) struct Header {
    /// Reference count (who holds one: the module docs' table).
    pub(crate) refs: crate::loom::AtomicU32,
    /// Cross-thread flags, any thread, atomically: `REMOTE_QUEUED`,
    /// `COMPLETE`, `JOIN_LOCK`, `HANDLE`, `JOIN_WAKER_SET`, `KILL_SENT`
    /// (who sets and clears each: the module docs' table).
    pub(crate) remote_flags: crate::loom::AtomicU8,
    /// Owner-thread flags: `SCHEDULED`, `RUNNING`, `FINISHED`,
    /// `KILL_REQUESTED`, `UNREGISTERED`, `DUMP_DETAILS`, `WOKEN_OUTSIDE`,
    /// `REQUEUED`.
    pub(crate) owner_flags: Cell<u8>,
    /// What the stage union holds (`STAGE_*`). Same access rules as the
    /// stage itself (see the module docs).
    pub(super) stage: UnsafeCell<u8>,
    /// Where the task was spawned: an index into its scheduler's table of
    /// spawn sites (`0`: unknown) in the low seven bits ([`SITE_INDEX`]),
    /// and [`LONG_POLLED`] in the top bit. Owner thread only; it fills the
    /// byte the layout would otherwise pad, so it costs no memory.
    pub(crate) site: Cell<u8>,
    /// How many times the future was polled (for `tasks()` snapshots).
    /// Saturates rather than wraps: zero means never polled, which is how a
    /// turn tells a task another thread spawned here from a woken one.
    pub(crate) polls: Cell<u32>,
    /// Operations on the typed cell, named in four bytes (see
    /// [`Header::vtable`]).
    pub(crate) vtable_ref: VtableRef,
    /// The task id; never reused.
    pub(crate) id: u64,
    /// Who awaits the `Task` handle. Guarded by `JOIN_LOCK`. One word: a
    /// task awaiting a task is stored as its pointer.
    pub(in crate::task) join_waker: UnsafeCell<Option<SlimWaker>>,
    /// What the task last said it waits for (for `tasks()` snapshots),
    /// packed in one word (see [`Waiting::pack`]); while the task is
    /// `SCHEDULED`, the ready queue's link instead (see
    /// `scheduler::core::ready`). The two uses never overlap: a snapshot
    /// reports a scheduled task as ready without reading this word,
    /// [`Header::set_waiting`] leaves it alone while the task is scheduled,
    /// and the scheduler resets it when it polls the task.
    pub(super) wait_or_next: Cell<u64>,
}

impl Header {
    /// Operations on the typed cell.
    #[inline(always)]
    pub(crate) fn vtable(&self) -> &'static Vtable {
        self.vtable_ref.get()
    }

    /// The scheduler the task belongs to (for wakes from other threads and
    /// "is it ours" checks). It is not a header field: a slab cell finds it
    /// at the start of its slab chunk (and the slab's accounting keeps it
    /// alive, see `task::slab`), a boxed cell in the word before the cell,
    /// which owns one strong count of it (see `raw::Boxed`).
    #[inline]
    pub(crate) fn owner_ptr(&self) -> *const CoreShared {
        let me: *const Header = self;
        if self.vtable().slab {
            // SAFETY: a slab vtable means the cell is a block of its owner's
            // slab, which lives as long as the cell's count of the owner;
            // the owner was the tag of every chunk of that slab.
            unsafe { slab::chunk_tag(me.cast()) }.cast()
        } else {
            // SAFETY: the vtable belongs to this boxed cell's type.
            unsafe { (self.vtable().boxed_owner)(self) }
        }
    }

    /// [`Header::owner_ptr`] as a reference.
    #[inline]
    pub(crate) fn owner(&self) -> &CoreShared {
        // SAFETY: the owner outlives the cell (the cell's count, or its
        // slab's accounting), and the cell outlives every borrow of its
        // header.
        unsafe { &*self.owner_ptr() }
    }

    /// The name given at spawn.
    pub(crate) fn name(&self) -> Option<&str> {
        // SAFETY: `self` is the header at the start of a live task cell
        // (headers only exist inside cells), and the vtable belongs to that
        // cell's type, so it reads the trailer of this very allocation. The
        // name is written once at allocation and lives as long as the cell,
        // which outlives the borrow of `self`.
        unsafe { (self.vtable().name)(self) }
    }

    /// Records what the task waits for (owner thread). Ignored while the
    /// task is `SCHEDULED`: the word is the ready queue's then, and the
    /// task counts as ready anyway (say, a `select` whose first branch woke
    /// the task before its second registered a socket).
    #[inline]
    pub(crate) fn set_waiting(&self, w: Waiting) {
        if self.owner_flags.get() & SCHEDULED == 0 {
            self.wait_or_next.set(w.pack());
        }
    }

    /// Forgets what the task waited for: it is about to be polled (owner
    /// thread, task no longer `SCHEDULED`).
    #[inline]
    pub(crate) fn clear_waiting(&self) {
        self.wait_or_next.set(Waiting::Nothing.pack());
    }

    /// What the task last said it waits for (owner thread). Meaningless
    /// while the task is `SCHEDULED`.
    pub(crate) fn waiting(&self) -> Waiting {
        debug_assert_eq!(self.owner_flags.get() & SCHEDULED, 0);
        Waiting::unpack(self.wait_or_next.get())
    }

    /// The next task in the ready queue (owner thread, task `SCHEDULED`
    /// and queued; see `scheduler::core::ready`).
    #[inline]
    pub(crate) fn ready_next(&self) -> *mut Header {
        ptr::with_exposed_provenance_mut(self.wait_or_next.get() as usize)
    }

    /// Links `next` behind this task in the ready queue (owner thread, task
    /// `SCHEDULED` and queued).
    #[inline]
    pub(crate) fn set_ready_next(&self, next: NonNull<Header>) {
        self.wait_or_next
            .set(next.as_ptr().expose_provenance() as u64);
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
    let old = protocol::refs_inc(&unsafe { header(ptr) }.refs);
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
    if !protocol::refs_dec(&h.refs) {
        return;
    }
    // SAFETY: that was the last reference.
    unsafe { (h.vtable().dealloc)(ptr) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million sleeping tasks each carry one header: keep it at 40 bytes.
    #[test]
    fn header_stays_small() {
        assert!(
            std::mem::size_of::<Header>() <= 40,
            "{}",
            std::mem::size_of::<Header>()
        );
    }
}
