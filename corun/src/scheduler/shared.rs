//! The part of a scheduler that other threads may touch: the injection queue
//! of messages (spawns, wakes, kills, queries) and the unparker.
//!
//! Protocol for cross-thread wake-ups (no lost wake-up):
//! 1. a sender pushes its message under the queue lock and sets `has_msgs`;
//! 2. it then reads `parked`; if the scheduler is parked it clears the flag
//!    and unparks the poller (one eventfd write, only when needed);
//! 3. the scheduler sets `parked` before deciding to block and reads
//!    `has_msgs` after, all `SeqCst`: either it sees the message and does
//!    not block, or the sender sees `parked` and unparks it.
//!
//! This file does not run tasks or touch the ready queue; the scheduler
//! thread drains the messages in `core`.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::reactor::Unparker;
use crate::scheduler::Stats;
use crate::sync::oneshot;
use crate::task::dump::CoreTasks;
use crate::task::protocol;
use crate::task::raw::{self, Header};
use crate::task::slab::Slab;
use crate::task::{Exit, TaskId};

/// Where a scheduler sends the answer to a query from another thread: a
/// blocked thread or an awaiting task receives it alike.
pub(crate) type Reply<T> = oneshot::Sender<T>;

/// A task pointer that travels between threads inside a message.
pub(crate) struct TaskPtr(pub(crate) NonNull<Header>);

// SAFETY: a `TaskPtr` carries one reference to the task; the receiving
// scheduler thread is the only one that touches the non-atomic parts of the
// header, and spawned futures sent this way are `Send` (see
// `Scheduler::spawn`).
unsafe impl Send for TaskPtr {}

/// A message to the scheduler thread.
pub(crate) enum Msg {
    /// A task spawned from another thread, where, and by which task (its
    /// id; 0: none); carries the registry reference.
    Spawn(TaskPtr, &'static std::panic::Location<'static>, u64),
    /// A wake from another thread; carries one reference.
    Wake(TaskPtr),
    /// Kill by id, optionally answering whether the task was alive. Sent
    /// with [`CoreShared::push_kill`], which also raises the kill flag.
    Kill(TaskId, Option<Reply<bool>>),
    /// A snapshot of all tasks.
    Tasks(Reply<CoreTasks>),
    /// The scheduler's counters.
    Stats(Reply<Stats>),
    /// Answer how task `id` ends (at once `NotFound` if it is not alive).
    WaitExit(TaskId, Reply<Exit>),
    /// Stop the loop, kill what is left.
    Shutdown,
}

struct Inject {
    msgs: Vec<Msg>,
    /// `Spawn` messages in `msgs`.
    spawns: usize,
    /// Places taken by `reserve_spawn` whose `Spawn` is not pushed yet.
    reserved: usize,
    closed: bool,
}

/// Why a spawn from another thread was refused.
pub(crate) enum Refused {
    /// The scheduler has shut down.
    Closed,
    /// The queue of spawns holds its bound.
    Full,
}

/// The cross-thread side of one scheduler core: what any thread may touch
/// (messages, the unparker, the slab its task cells come from).
pub(crate) struct CoreShared {
    inject: Mutex<Inject>,
    has_msgs: AtomicBool,
    parked: AtomicBool,
    /// Raised when a kill is sent (see [`CoreShared::kill_sent`]); on a cache
    /// line of its own, because the scheduler reads it after every poll
    /// while other threads write the queue's flags.
    kills: KillFlag,
    /// Jobs on the blocking pool that tasks of this scheduler wait for,
    /// counted only under virtual time: the clock does not jump while any
    /// runs (see `ClockHold`).
    clock_holds: std::sync::atomic::AtomicUsize,
    unparker: Unparker,
    /// The most spawns `reserve_spawn` lets wait in the queue.
    spawn_bound: usize,
    /// The memory of this scheduler's task cells (owner thread allocates;
    /// any thread may give back).
    pub(crate) slab: Slab,
}

impl CoreShared {
    pub(crate) fn new(unparker: Unparker, spawn_bound: usize) -> CoreShared {
        CoreShared {
            inject: Mutex::new(Inject {
                msgs: Vec::new(),
                spawns: 0,
                reserved: 0,
                closed: false,
            }),
            spawn_bound,
            has_msgs: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            kills: KillFlag(AtomicBool::new(false)),
            clock_holds: std::sync::atomic::AtomicUsize::new(0),
            unparker,
            slab: Slab::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inject> {
        // A panic while holding this lock cannot leave the queue
        // inconsistent (push/take only), so poisoning is ignored.
        self.inject.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a message; gives it back if the scheduler has shut down.
    pub(crate) fn push(&self, msg: Msg) -> Result<(), Msg> {
        self.push_with(msg, false)
    }

    /// Sends a message, giving back a place taken by `reserve_spawn` if
    /// `reserved`; gives the message back if the scheduler has shut down.
    fn push_with(&self, msg: Msg, reserved: bool) -> Result<(), Msg> {
        {
            let mut q = self.lock();
            if reserved {
                q.reserved = q.reserved.saturating_sub(1);
            }
            if q.closed {
                return Err(msg);
            }
            if matches!(msg, Msg::Spawn(..)) {
                q.spawns += 1;
            }
            q.msgs.push(msg);
            self.has_msgs.store(true, Ordering::SeqCst);
        }
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.unparker.unpark();
        }
        Ok(())
    }

    /// Takes a place in the bounded queue of spawns for a `push` of a
    /// `Spawn` that follows (which then does not count it again).
    pub(crate) fn reserve_spawn(&self) -> Result<(), Refused> {
        let mut q = self.lock();
        if q.closed {
            return Err(Refused::Closed);
        }
        if q.spawns + q.reserved >= self.spawn_bound {
            return Err(Refused::Full);
        }
        q.reserved += 1;
        Ok(())
    }

    /// Pushes a `Spawn` whose place `reserve_spawn` took.
    pub(crate) fn push_reserved(&self, msg: Msg) -> Result<(), Msg> {
        self.push_with(msg, true)
    }

    /// Spawns from other threads waiting in the queue now.
    pub(crate) fn queued_spawns(&self) -> usize {
        self.lock().spawns
    }

    /// True once the scheduler has shut down.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Wake from a foreign thread: queue the task unless already queued.
    pub(crate) fn wake_remote(&self, ptr: NonNull<Header>) {
        // SAFETY: the caller (a waker) holds a reference.
        let h = unsafe { raw::header(ptr) };
        if !protocol::mark_remote_queued(&h.remote_flags) {
            return;
        }
        // SAFETY: as above; the message owns the new reference.
        unsafe { raw::ref_inc(ptr) };
        if let Err(Msg::Wake(TaskPtr(ptr))) = self.push(Msg::Wake(TaskPtr(ptr))) {
            // The scheduler is gone; the task will never run again.
            // SAFETY: gives back the reference taken above.
            unsafe { raw::ref_dec(ptr) };
        }
    }

    /// Sends a kill, then raises the kill flag, so that the scheduler
    /// handles it as soon as the poll in progress returns. Gives the reply
    /// back if the scheduler has shut down.
    pub(crate) fn push_kill(&self, id: TaskId, reply: Option<Reply<bool>>) -> Result<(), ()> {
        self.push(Msg::Kill(id, reply)).map_err(|_| ())?;
        self.kills.0.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// True if a kill was sent since the last [`CoreShared::take_kill_flag`]
    /// (the scheduler then drains its messages before a polled task's
    /// outcome is settled).
    #[inline]
    pub(crate) fn kill_sent(&self) -> bool {
        self.kills.0.load(Ordering::Relaxed)
    }

    /// Raises the kill flag with no message behind it: the scheduler's own
    /// stop request, so that loops that watch only this flag after each
    /// poll (`Core::yield_alone`) end as a kill would end them.
    pub(crate) fn raise_kill_flag(&self) {
        self.kills.0.store(true, Ordering::SeqCst);
    }

    /// Lowers the kill flag; the caller drains the messages right after.
    pub(crate) fn take_kill_flag(&self) {
        self.kills.0.store(false, Ordering::SeqCst);
    }

    /// True while some job holds the virtual clock.
    pub(crate) fn clock_held(&self) -> bool {
        self.clock_holds.load(Ordering::Acquire) != 0
    }

    /// True if messages may be waiting.
    pub(crate) fn has_msgs(&self) -> bool {
        self.has_msgs.load(Ordering::SeqCst)
    }

    /// Moves all waiting messages into `out`.
    pub(crate) fn take_msgs(&self, out: &mut Vec<Msg>) {
        if !self.has_msgs() {
            return;
        }
        let mut q = self.lock();
        self.has_msgs.store(false, Ordering::SeqCst);
        std::mem::swap(&mut q.msgs, out);
        q.spawns = 0;
    }

    /// Refuses further messages and returns those still queued.
    pub(crate) fn close(&self) -> Vec<Msg> {
        let mut q = self.lock();
        q.closed = true;
        q.spawns = 0;
        self.has_msgs.store(false, Ordering::SeqCst);
        std::mem::take(&mut q.msgs)
    }

    /// Called by the scheduler before it may block. Returns false if a
    /// message arrived meanwhile (then it must not block).
    pub(crate) fn prepare_park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        !self.has_msgs.load(Ordering::SeqCst)
    }

    /// Called by the scheduler after the poller returned.
    pub(crate) fn unparked(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }
}

/// An atomic flag alone on its cache line.
#[repr(align(64))]
struct KillFlag(AtomicBool);

/// Holds a virtual clock still while a job runs outside the scheduler (the
/// blocking pool, a file write lane): made on the scheduler's thread when
/// the job is queued, dropped by the job's thread once the job's result is
/// delivered. Dropping it wakes the scheduler, which may then jump.
pub(crate) struct ClockHold(std::sync::Arc<CoreShared>);

impl ClockHold {
    /// A hold on this thread's scheduler if it runs on virtual time.
    pub(crate) fn take() -> Option<ClockHold> {
        crate::scheduler::context::with_core(|c| {
            c.is_virtual().then(|| {
                c.shared().clock_holds.fetch_add(1, Ordering::AcqRel);
                ClockHold(c.shared().clone())
            })
        })
        .flatten()
    }
}

impl Drop for ClockHold {
    fn drop(&mut self) {
        self.0.clock_holds.fetch_sub(1, Ordering::AcqRel);
        self.0.unparker.unpark();
    }
}
