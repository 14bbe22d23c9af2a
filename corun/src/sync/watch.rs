//! A watch channel: one value that senders replace and receivers look at,
//! each receiver told when it changed since it last looked. For shared
//! state that many tasks follow (a configuration, a shutdown flag), where
//! only the latest value matters.
//!
//! ```
//! use corun::sync::watch;
//!
//! corun::run(async {
//!     let (tx, mut rx) = watch::channel("starting");
//!     let follower = corun::spawn(async move {
//!         rx.changed().await.unwrap();
//!         *rx.borrow_and_update()
//!     });
//!     tx.send("running").unwrap();
//!     assert_eq!(follower.await.unwrap(), "running");
//! });
//! ```
//!
//! Rules: the value lives in a `std::sync::RwLock` (readers hold it only
//! while they look; never across an `.await`); a version counter says
//! which value a receiver saw; waiting receivers' wakers sit in a map
//! under a `std::sync::Mutex`, checked and filled under that lock so a
//! send between the check and the wait cannot be missed. This file must
//! NOT touch the scheduler.

use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::task::{Context, Poll, Waker};

use super::{lock, opaque_debug, send_error, wake_all};

struct Shared<T> {
    value: RwLock<T>,
    /// Bumped by every send, after the value is written.
    version: AtomicU64,
    /// Live receivers.
    receivers: AtomicUsize,
    waiting: Mutex<Waiting>,
}

struct Waiting {
    /// The sender is gone: no new version will come.
    closed: bool,
    /// Wakers of receivers waiting in `changed`, by receiver id.
    wakers: HashMap<u64, Waker>,
    next_id: u64,
}

/// Makes a watch channel holding `init`. Receivers start having seen it.
///
/// ```
/// let (tx, rx) = corun::sync::watch::channel(1);
/// assert_eq!(*rx.borrow(), 1);
/// tx.send(2).unwrap();
/// assert_eq!(*rx.borrow(), 2);
/// ```
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(init),
        version: AtomicU64::new(0),
        receivers: AtomicUsize::new(1),
        waiting: Mutex::new(Waiting {
            closed: false,
            wakers: HashMap::new(),
            next_id: 1,
        }),
    });
    let rx = Receiver {
        shared: shared.clone(),
        seen: 0,
        id: 0,
    };
    (Sender { shared }, rx)
}

/// The sending half: replaces the value and tells the receivers.
///
/// ```
/// let (tx, rx) = corun::sync::watch::channel(0);
/// tx.send_modify(|v| *v += 5);
/// assert_eq!(*rx.borrow(), 5);
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving half: looks at the value and waits for changes. Clone it
/// for more receivers (the clone has seen what the original saw).
///
/// ```
/// corun::run(async {
///     let (tx, mut rx) = corun::sync::watch::channel('a');
///     tx.send('b').unwrap();
///     assert!(rx.has_changed().unwrap());
///     rx.changed().await.unwrap();
///     assert!(!rx.has_changed().unwrap());
/// });
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver saw last.
    seen: u64,
    /// Key of this receiver's waker while it waits.
    id: u64,
}

/// The value, borrowed: holds a read lock, so drop it before any
/// `.await` (senders wait while it lives).
///
/// ```
/// let (_tx, rx) = corun::sync::watch::channel(String::from("x"));
/// let r: corun::sync::watch::Ref<'_, String> = rx.borrow();
/// assert_eq!(r.len(), 1);
/// ```
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, T>,
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

send_error! {
    /// A send failed: every receiver is gone; the value comes back.
    ///
    /// ```
    /// let (tx, rx) = corun::sync::watch::channel(0);
    /// drop(rx);
    /// assert_eq!(tx.send(1).unwrap_err().0, 1);
    /// ```
    "watch channel has no receivers"
}

/// The sender is gone and the receiver has seen its last value.
///
/// ```
/// corun::run(async {
///     let (tx, mut rx) = corun::sync::watch::channel(0);
///     drop(tx);
///     assert_eq!(rx.changed().await, Err(corun::sync::watch::RecvError));
/// });
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("watch channel sender dropped")
    }
}

impl std::error::Error for RecvError {}

fn read<T>(value: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // A panic while the value was written leaves the last complete write;
    // the channel must not panic because a user's closure did.
    value
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<T> Sender<T> {
    /// Replaces the value and wakes the waiting receivers; fails (giving
    /// the value back) when no receiver is left.
    ///
    /// ```
    /// let (tx, rx) = corun::sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.load(Ordering::Acquire) == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value even with no receiver left, and returns the old
    /// one.
    ///
    /// ```
    /// let (tx, _rx) = corun::sync::watch::channel(1);
    /// assert_eq!(tx.send_replace(2), 1);
    /// ```
    pub fn send_replace(&self, value: T) -> T {
        let mut old = Some(value);
        self.send_modify(|v| old = Some(std::mem::replace(v, old.take().expect("set above"))));
        old.expect("swapped in send_modify")
    }

    /// Changes the value in place and wakes the waiting receivers.
    ///
    /// ```
    /// let (tx, rx) = corun::sync::watch::channel(vec![1]);
    /// tx.send_modify(|v| v.push(2));
    /// assert_eq!(*rx.borrow(), [1, 2]);
    /// ```
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        {
            let mut v = self
                .shared
                .value
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            modify(&mut v);
        }
        self.shared.version.fetch_add(1, Ordering::AcqRel);
        let wakers: Vec<Waker> = lock(&self.shared.waiting)
            .wakers
            .drain()
            .map(|(_, w)| w)
            .collect();
        wake_all(wakers);
    }

    /// The current value.
    ///
    /// ```
    /// let (tx, _rx) = corun::sync::watch::channel(3);
    /// assert_eq!(*tx.borrow(), 3);
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: read(&self.shared.value),
        }
    }

    /// A new receiver that has seen the current value.
    ///
    /// ```
    /// corun::run(async {
    ///     let (tx, _rx) = corun::sync::watch::channel(0);
    ///     let mut late = tx.subscribe();
    ///     tx.send(1).unwrap();
    ///     late.changed().await.unwrap();
    /// });
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver::joining(&self.shared, self.shared.version.load(Ordering::Acquire))
    }

    /// How many receivers are alive.
    ///
    /// ```
    /// let (tx, rx) = corun::sync::watch::channel(());
    /// let rx2 = rx.clone();
    /// assert_eq!(tx.receiver_count(), 2);
    /// drop((rx, rx2));
    /// assert!(tx.is_closed());
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Ordering::Acquire)
    }

    /// True once every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = corun::sync::watch::channel(());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let wakers: Vec<Waker> = {
            let mut w = lock(&self.shared.waiting);
            w.closed = true;
            w.wakers.drain().map(|(_, w)| w).collect()
        };
        wake_all(wakers);
    }
}

impl<T> Receiver<T> {
    /// A new receiver of the channel `shared` (counted, with its own waiter
    /// id) that has seen version `seen`.
    fn joining(shared: &Arc<Shared<T>>, seen: u64) -> Receiver<T> {
        shared.receivers.fetch_add(1, Ordering::AcqRel);
        let id = {
            let mut w = lock(&shared.waiting);
            w.next_id += 1;
            w.next_id
        };
        Receiver {
            shared: shared.clone(),
            seen,
            id,
        }
    }

    /// The current value, without marking it seen.
    ///
    /// ```
    /// let (tx, rx) = corun::sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: read(&self.shared.value),
        }
    }

    /// The current value, marking it seen.
    ///
    /// ```
    /// let (tx, mut rx) = corun::sync::watch::channel(1);
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow_and_update(), 2);
    /// assert!(!rx.has_changed().unwrap());
    /// ```
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = read(&self.shared.value);
        // Read under the value's lock: the version matches what we show.
        self.seen = self.shared.version.load(Ordering::Acquire);
        Ref { guard }
    }

    /// Whether a value this receiver has not seen was sent; `RecvError`
    /// once the sender is gone (and then nothing new can come).
    ///
    /// ```
    /// let (tx, rx) = corun::sync::watch::channel(0);
    /// assert!(!rx.has_changed().unwrap());
    /// tx.send(1).unwrap();
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        if self.shared.version.load(Ordering::Acquire) != self.seen {
            return Ok(true);
        }
        if lock(&self.shared.waiting).closed {
            return Err(RecvError);
        }
        Ok(false)
    }

    /// Waits until a value this receiver has not seen was sent, and marks
    /// it seen (look at it with [`borrow`](Self::borrow)). Fails once the
    /// sender is gone and nothing new is left. Cancel-safe.
    ///
    /// ```
    /// corun::run(async {
    ///     let (tx, mut rx) = corun::sync::watch::channel(0);
    ///     corun::spawn(async move { tx.send(9).unwrap() });
    ///     rx.changed().await.unwrap();
    ///     assert_eq!(*rx.borrow(), 9);
    /// });
    /// ```
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        poll_fn(|cx| self.poll_changed(cx)).await
    }

    fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RecvError>> {
        let mut w = lock(&self.shared.waiting);
        let now = self.shared.version.load(Ordering::Acquire);
        if now != self.seen {
            self.seen = now;
            return Poll::Ready(Ok(()));
        }
        if w.closed {
            return Poll::Ready(Err(RecvError));
        }
        // One entry per receiver: a repeated poll refreshes it; a send or
        // the sender's drop takes them all.
        match w.wakers.get_mut(&self.id) {
            Some(old) if old.will_wake(cx.waker()) => {}
            Some(old) => *old = cx.waker().clone(),
            None => {
                w.wakers.insert(self.id, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        Receiver::joining(&self.shared, self.seen)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receivers.fetch_sub(1, Ordering::AcqRel);
        // A `changed` future dropped mid-wait left its entry; take it.
        let stale = lock(&self.shared.waiting).wakers.remove(&self.id);
        drop(stale);
    }
}

opaque_debug!(Sender => "watch::Sender", Receiver => "watch::Receiver");
