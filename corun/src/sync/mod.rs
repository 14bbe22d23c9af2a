//! Synchronisation between tasks: channels, notification and permits.
//!
//! Everything here is built on `std` only (plus `futures-core` for the
//! `Stream` impls of the channel receivers): plain [`std::sync::Mutex`]es
//! (`RefCell`s for [`local`]) and [`std::task::Waker`]s. This module must
//! NOT touch the scheduler, the reactor or timers; the only coupling to the
//! runtime is the `Waker` each future is polled with, so every type works
//! across schedulers (and with any other executor), and every type but
//! [`local`]'s also across threads.
//!
//! # Layout
//!
//! - [`mpsc`]: bounded and unbounded multi-producer, single-consumer channels
//!   over a ring buffer (the state machine itself is in `chan.rs`, the
//!   ends are written once for both flavours in `ends.rs`).
//! - [`local`]: the same channels for tasks of one scheduler (`!Send` ends,
//!   no lock and no atomic instruction per message).
//! - [`oneshot`]: a single value from one task to another.
//! - [`broadcast`]: every value to every receiver, from a ring of the
//!   last few (a receiver that falls behind is told how much it lost).
//! - [`watch`]: one value that receivers follow, told when it changed.
//! - [`Notify`] and [`Event`] (in `notify.rs`, `event.rs`): wake-ups without data; `Event`
//!   latches like Python's `threading.Event`.
//! - [`Semaphore`] (in `semaphore.rs`): counted permits with FIFO waking.
//! - [`Mutex`] and [`RwLock`] (in `mutex.rs`, `rwlock.rs`, over the FIFO
//!   reader-writer core in `raw_lock.rs`): locks whose guards may be held
//!   across `.await`s.
//!
//! # Protocol shared by every waiting future
//!
//! - State lives behind one `std::sync::Mutex` per object (a `RefCell` in
//!   [`local`]; no `.await` ever happens while it is held). The uncontended
//!   path of every operation is one lock/unlock.
//! - Wakers are called after the lock is released. The one exception is a
//!   corun task waker, which only queues its task and runs no user code:
//!   the channels wake their receiver's in place.
//! - Waiters queue in a `WaitQueue` in FIFO order. A waiter that is granted
//!   something (a channel slot, a permit, a notification) is removed from the
//!   queue by the granter; a future finds out that it was granted by no
//!   longer being in the queue.
//! - A future dropped while queued removes itself; one dropped after being
//!   granted but before it used the grant hands the grant on, so
//!   cancellation loses no value, slot, permit or notification.
//!
//! ```
//! use corun::sync::{mpsc, oneshot};
//!
//! corun::run(async {
//!     let (tx, mut rx) = mpsc::channel::<u32>(8);
//!     let (done_tx, done_rx) = oneshot::channel();
//!     corun::spawn(async move {
//!         let mut sum = 0;
//!         while let Some(v) = rx.recv().await {
//!             sum += v;
//!         }
//!         let _ = done_tx.send(sum);
//!     });
//!     for i in 1..=10 {
//!         tx.send(i).await.unwrap();
//!     }
//!     drop(tx);
//!     assert_eq!(done_rx.await, Ok(55));
//! });
//! ```

pub mod broadcast;
mod chan;
mod ends;
mod event;
pub mod local;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod raw_lock;
mod rwlock;
mod semaphore;
pub mod watch;

pub use event::{Event, EventWait};
pub use mutex::{Mutex, MutexGuard};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Acquire, AcquireError, Permit, Semaphore, TryAcquireError};

use std::collections::VecDeque;
use std::sync::PoisonError;
use std::task::Waker;

/// Defines a channel's `SendError<T>(pub T)`, the value handed back when
/// nobody can receive it: `Debug` hides the value (so `T` need not be
/// `Debug`) and `Display` says `$msg`. The docs come from the call site.
macro_rules! send_error {
    ($(#[$doc:meta])* $msg:literal) => {
        $(#[$doc])*
        #[derive(PartialEq, Eq, Clone, Copy)]
        pub struct SendError<T>(pub T);

        impl<T> std::fmt::Debug for SendError<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("SendError(..)")
            }
        }

        impl<T> std::fmt::Display for SendError<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($msg)
            }
        }

        impl<T> std::error::Error for SendError<T> {}
    };
}
pub(crate) use send_error;

/// `Debug` for channel ends generic over `T` that print only their name
/// (`$name { .. }`), so `T` need not be `Debug`.
macro_rules! opaque_debug {
    ($($ty:ident => $name:literal),* $(,)?) => {$(
        impl<T> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!($name, " { .. }"))
            }
        }
    )*};
}
pub(crate) use opaque_debug;

/// Locks `m`, ignoring poisoning: every critical section in this module
/// leaves the state consistent before calling anything that can panic (a
/// user's `Waker::clone`), so a poisoned lock still guards valid data, and
/// the runtime must not panic because some other thread did.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Stores `waker` in `slot`, cloning only if the stored one would not wake
/// the same task (so a task re-polled by the same scheduler costs no clone).
#[inline]
pub(crate) fn store_waker(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => replace_waker(slot, waker),
    }
}

/// The store of [`store_waker`], out of line: a waiter polled again by the
/// same task keeps its waker, so the clone (and the old waker's drop) is
/// the rare path.
#[inline(never)]
fn replace_waker(slot: &mut Option<Waker>, waker: &Waker) {
    *slot = Some(waker.clone());
}

/// One queued waiter: its id (increasing in queue order) and its waker
/// (`None` after [`WaitQueue::take_wakers`] or when registered without one).
struct Waiter {
    id: u64,
    waker: Option<Waker>,
}

/// FIFO queue of waiting futures, identified by increasing ids so that a
/// future can find (binary search) and remove itself in `O(log n)` plus the
/// shift. Storage is one `VecDeque` that grows to the largest number of
/// simultaneous waiters and is then reused: no allocation per wait.
pub(crate) struct WaitQueue {
    entries: VecDeque<Waiter>,
    next_id: u64,
}

impl WaitQueue {
    /// An empty queue (no allocation).
    pub(crate) const fn new() -> Self {
        WaitQueue {
            entries: VecDeque::new(),
            next_id: 0,
        }
    }

    /// True if nobody waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a waiter at the back and returns its id.
    pub(crate) fn push(&mut self, waker: Option<&Waker>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push_back(Waiter {
            id,
            waker: waker.cloned(),
        });
        id
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&id, |w| w.id).ok()
    }

    /// If `id` is still queued, refreshes its waker and returns true;
    /// false means it was granted (popped) meanwhile.
    pub(crate) fn update(&mut self, id: u64, waker: &Waker) -> bool {
        match self.position(id) {
            Some(i) => {
                store_waker(&mut self.entries[i].waker, waker);
                true
            }
            None => false,
        }
    }

    /// Removes `id` if still queued; returns whether it was.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        match self.position(id) {
            Some(i) => {
                self.entries.remove(i);
                true
            }
            None => false,
        }
    }

    /// Pops the oldest waiter (granting it) and returns its waker to call
    /// after unlocking. `None` if the queue is empty or the waiter has no
    /// waker yet; either way, check [`is_empty`](Self::is_empty) first.
    pub(crate) fn pop_front(&mut self) -> Option<(u64, Option<Waker>)> {
        self.entries.pop_front().map(|w| (w.id, w.waker))
    }

    /// Takes every waiter's waker, leaving the waiters queued (used on
    /// close: the futures then see the closed flag and remove themselves).
    pub(crate) fn take_wakers(&mut self) -> Vec<Waker> {
        self.entries
            .iter_mut()
            .filter_map(|w| w.waker.take())
            .collect()
    }

    /// Removes every waiter and returns their wakers.
    pub(crate) fn drain(&mut self) -> Vec<Waker> {
        self.entries.drain(..).filter_map(|w| w.waker).collect()
    }
}

/// Calls every waker in `wakers` (outside any lock).
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    for w in wakers {
        w.wake();
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Std-only helpers for the unit tests: a counting waker, single polls,
    //! and a thread-parking `block_on`.
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    /// Counts how often it was woken.
    #[derive(Default)]
    pub struct Counter(AtomicUsize);

    impl Counter {
        pub fn get(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The loop count for a cross-thread test that runs `native` rounds
    /// natively. Under Miri, which interprets every step, a fiftieth (at
    /// least 10): its scheduler preempts threads at random points, so a
    /// few hundred rounds already interleave the two sides in many ways.
    pub fn rounds(native: usize) -> usize {
        if cfg!(miri) {
            (native / 50).max(10)
        } else {
            native
        }
    }

    /// A fresh counting waker and its counter.
    pub fn counting() -> (Waker, Arc<Counter>) {
        let c = Arc::new(Counter::default());
        (Waker::from(c.clone()), c)
    }

    /// Polls `f` once with `w`.
    pub fn poll<F: Future + Unpin>(f: &mut F, w: &Waker) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(w))
    }

    /// Runs `f` on this thread, parking while it is pending.
    pub(crate) use crate::scheduler::blocking::block_on_thread as block_on;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn every_type_is_send_and_sync_for_send_payloads() {
        send_sync::<mpsc::Sender<String>>();
        send_sync::<mpsc::UnboundedSender<String>>();
        send_sync::<mpsc::Receiver<String>>();
        send_sync::<mpsc::SendFuture<'static, String>>();
        send_sync::<mpsc::RecvFuture<'static, String>>();
        send_sync::<oneshot::Sender<String>>();
        send_sync::<oneshot::Receiver<String>>();
        send_sync::<Notify>();
        send_sync::<Notified<'static>>();
        send_sync::<Event>();
        send_sync::<EventWait<'static>>();
        send_sync::<Semaphore>();
        send_sync::<Acquire<'static>>();
        send_sync::<Permit<'static>>();
        send_sync::<broadcast::Sender<String>>();
        send_sync::<broadcast::Receiver<String>>();
        send_sync::<watch::Sender<String>>();
        send_sync::<watch::Receiver<String>>();
        send_sync::<Mutex<String>>();
        send_sync::<MutexGuard<'static, String>>();
        send_sync::<RwLock<String>>();
        send_sync::<RwLockReadGuard<'static, String>>();
        send_sync::<RwLockWriteGuard<'static, String>>();
    }

    #[test]
    fn wait_queue_finds_and_removes_by_id_in_fifo_order() {
        let mut q = WaitQueue::new();
        let ids: Vec<u64> = (0..5).map(|_| q.push(None)).collect();
        assert!(q.remove(ids[2]));
        assert!(!q.remove(ids[2]));
        assert_eq!(q.pop_front().map(|(id, _)| id), Some(ids[0]));
        assert!(!q.update(ids[0], Waker::noop()));
        assert!(q.update(ids[3], Waker::noop()));
        assert_eq!(q.take_wakers().len(), 1);
        assert_eq!(q.drain().len(), 0);
        assert!(q.is_empty());
    }
}
