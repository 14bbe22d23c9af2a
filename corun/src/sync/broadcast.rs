//! A broadcast channel: every receiver gets every value sent after it
//! subscribed, from a ring of the last `capacity` values. A receiver that
//! falls more than `capacity` values behind loses the oldest ones and is
//! told how many ([`RecvError::Lagged`]); senders never wait.
//!
//! ```
//! use corun::sync::broadcast;
//!
//! corun::run(async {
//!     let (tx, mut a) = broadcast::channel(16);
//!     let mut b = tx.subscribe();
//!     tx.send("hello").unwrap();
//!     assert_eq!(a.recv().await, Ok("hello"));
//!     assert_eq!(b.recv().await, Ok("hello"));
//! });
//! ```
//!
//! Rules: one `std::sync::Mutex` guards the ring, the counts and the
//! waiting receivers' wakers (never held across an `.await`; wakers are
//! called after it is released). Values carry increasing sequence
//! numbers; a receiver keeps the number of the next value it wants. A
//! value stays in the ring (and is cloned for each receiver) until
//! `capacity` newer ones push it out. This file must NOT touch the
//! scheduler.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::{lock, opaque_debug, send_error, wake_all};

struct State<T> {
    /// The last values, oldest first; `ring[0]` has sequence `head`.
    ring: VecDeque<T>,
    head: u64,
    capacity: usize,
    senders: usize,
    receivers: usize,
    /// Wakers of receivers waiting for a value, by receiver id.
    waiting: HashMap<u64, Waker>,
    next_id: u64,
}

impl<T> State<T> {
    /// Sequence number the next sent value gets.
    fn tail(&self) -> u64 {
        self.head + self.ring.len() as u64
    }

    fn new_receiver(&mut self) -> (u64, u64) {
        self.receivers += 1;
        self.next_id += 1;
        (self.next_id, self.tail())
    }
}

/// Makes a broadcast channel keeping the last `capacity` values (at least
/// 1) for receivers that are behind.
///
/// ```
/// let (tx, mut rx) = corun::sync::broadcast::channel::<u8>(4);
/// tx.send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let mut state = State {
        ring: VecDeque::with_capacity(capacity.max(1)),
        head: 0,
        capacity: capacity.max(1),
        senders: 1,
        receivers: 0,
        waiting: HashMap::new(),
        next_id: 0,
    };
    let (id, next) = state.new_receiver();
    let shared = Arc::new(Mutex::new(state));
    let rx = Receiver {
        shared: shared.clone(),
        id,
        next,
        ended: false,
    };
    (Sender { shared }, rx)
}

/// The sending half; clone it for more senders.
///
/// ```
/// let (tx, mut rx) = corun::sync::broadcast::channel(2);
/// let tx2 = tx.clone();
/// tx2.send('x').unwrap();
/// assert_eq!(rx.try_recv(), Ok('x'));
/// ```
pub struct Sender<T> {
    shared: Arc<Mutex<State<T>>>,
}

/// A receiving half: sees every value sent after it was made (unless it
/// lags more than the capacity behind).
///
/// ```
/// corun::run(async {
///     let (tx, mut rx) = corun::sync::broadcast::channel(2);
///     corun::spawn(async move { tx.send(5).unwrap() });
///     assert_eq!(rx.recv().await, Ok(5));
/// });
/// ```
pub struct Receiver<T> {
    shared: Arc<Mutex<State<T>>>,
    id: u64,
    /// Sequence number of the next value this receiver wants.
    next: u64,
    /// A receive reported `Closed`: a terminated `FusedStream`.
    ended: bool,
}

send_error! {
    /// A send failed: no receiver is left; the value comes back.
    ///
    /// ```
    /// let (tx, rx) = corun::sync::broadcast::channel(1);
    /// drop(rx);
    /// assert_eq!(tx.send(3).unwrap_err().0, 3);
    /// ```
    "broadcast channel has no receivers"
}

/// Why a receive gave no value.
///
/// ```
/// use corun::sync::broadcast::{self, RecvError};
/// corun::run(async {
///     let (tx, mut rx) = broadcast::channel(1);
///     tx.send(1).unwrap();
///     tx.send(2).unwrap(); // pushes 1 out
///     assert_eq!(rx.recv().await, Err(RecvError::Lagged(1)));
///     assert_eq!(rx.recv().await, Ok(2));
///     drop(tx);
///     assert_eq!(rx.recv().await, Err(RecvError::Closed));
/// });
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum RecvError {
    /// Every sender is gone and this receiver has had every value.
    Closed,
    /// This receiver fell behind: that many values were pushed out of the
    /// ring before it got them. The next receive gives the oldest kept one.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("broadcast channel closed"),
            RecvError::Lagged(n) => write!(f, "broadcast receiver lagged behind by {n} values"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::try_recv`] gave no value.
///
/// ```
/// use corun::sync::broadcast::{self, TryRecvError};
/// let (tx, mut rx) = broadcast::channel::<u8>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// No new value now.
    Empty,
    /// As [`RecvError::Closed`].
    Closed,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("broadcast channel empty"),
            TryRecvError::Closed => f.write_str("broadcast channel closed"),
            TryRecvError::Lagged(n) => write!(f, "broadcast receiver lagged behind by {n} values"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl<T> Sender<T> {
    /// Sends `value` to every receiver alive now; returns how many. Never
    /// waits: when the ring is full, its oldest value is dropped (receivers
    /// that had not got it see [`RecvError::Lagged`]). Fails, giving the
    /// value back, when no receiver is alive.
    ///
    /// ```
    /// let (tx, _rx) = corun::sync::broadcast::channel(8);
    /// let _rx2 = tx.subscribe();
    /// assert_eq!(tx.send("to both").unwrap(), 2);
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let (receivers, wakers, pushed_out) = {
            let mut st = lock(&self.shared);
            if st.receivers == 0 {
                return Err(SendError(value));
            }
            st.ring.push_back(value);
            let pushed_out = if st.ring.len() > st.capacity {
                st.head += 1;
                st.ring.pop_front()
            } else {
                None
            };
            let wakers: Vec<Waker> = st.waiting.drain().map(|(_, w)| w).collect();
            (st.receivers, wakers, pushed_out)
        };
        // Dropped and woken outside the lock: both may run user code.
        drop(pushed_out);
        wake_all(wakers);
        Ok(receivers)
    }

    /// A new receiver that gets every value sent from now on.
    ///
    /// ```
    /// let (tx, _rx) = corun::sync::broadcast::channel(2);
    /// tx.send(1).unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(late.try_recv(), Ok(2));
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver::joining(&self.shared)
    }

    /// How many receivers are alive.
    ///
    /// ```
    /// let (tx, rx) = corun::sync::broadcast::channel::<()>(1);
    /// assert_eq!(tx.receiver_count(), 1);
    /// drop(rx);
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared).receivers
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        lock(&self.shared).senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let wakers: Vec<Waker> = {
            let mut st = lock(&self.shared);
            st.senders -= 1;
            if st.senders > 0 {
                return;
            }
            st.waiting.drain().map(|(_, w)| w).collect()
        };
        wake_all(wakers);
    }
}

impl<T: Clone> Receiver<T> {
    /// Waits for the next value (a clone of it). `Lagged(n)` if `n` values
    /// were pushed out before this receiver got them (it then continues at
    /// the oldest kept one); `Closed` once every sender is gone and every
    /// value was received. Cancel-safe: dropping the future loses nothing.
    ///
    /// ```
    /// corun::run(async {
    ///     let (tx, mut rx) = corun::sync::broadcast::channel(4);
    ///     tx.send(1).unwrap();
    ///     tx.send(2).unwrap();
    ///     assert_eq!(rx.recv().await, Ok(1));
    ///     assert_eq!(rx.recv().await, Ok(2));
    /// });
    /// ```
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next value if there is one now.
    ///
    /// ```
    /// let (tx, mut rx) = corun::sync::broadcast::channel(4);
    /// tx.send('a').unwrap();
    /// assert_eq!(rx.try_recv(), Ok('a'));
    /// assert_eq!(rx.try_recv(), Err(corun::sync::broadcast::TryRecvError::Empty));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = lock(&self.shared);
        match take(&mut self.next, &mut st) {
            Some(Ok(v)) => Ok(v),
            Some(Err(RecvError::Lagged(n))) => Err(TryRecvError::Lagged(n)),
            Some(Err(RecvError::Closed)) => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let mut st = lock(&self.shared);
        if let Some(r) = take(&mut self.next, &mut st) {
            self.ended = matches!(r, Err(RecvError::Closed));
            return Poll::Ready(r);
        }
        match st.waiting.get_mut(&self.id) {
            Some(old) if old.will_wake(cx.waker()) => {}
            Some(old) => *old = cx.waker().clone(),
            None => {
                st.waiting.insert(self.id, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

/// For the receiver whose next wanted sequence is `next`: the next value,
/// a lag report, the end, or `None` for "wait".
fn take<T: Clone>(next: &mut u64, st: &mut State<T>) -> Option<Result<T, RecvError>> {
    if *next < st.head {
        let lost = st.head - *next;
        *next = st.head;
        return Some(Err(RecvError::Lagged(lost)));
    }
    if *next < st.tail() {
        let i = usize::try_from(*next - st.head).expect("within the ring");
        *next += 1;
        return Some(Ok(st.ring[i].clone()));
    }
    (st.senders == 0).then_some(Err(RecvError::Closed))
}

impl<T> Receiver<T> {
    /// A new receiver of the channel `shared` that gets the values sent
    /// from now on.
    fn joining(shared: &Arc<Mutex<State<T>>>) -> Receiver<T> {
        let (id, next) = lock(shared).new_receiver();
        Receiver {
            shared: shared.clone(),
            id,
            next,
            ended: false,
        }
    }

    /// A new receiver that gets the values sent from now on (not the ones
    /// this receiver has yet to get).
    ///
    /// ```
    /// let (tx, rx) = corun::sync::broadcast::channel(2);
    /// tx.send(1).unwrap();
    /// let mut fresh = rx.resubscribe();
    /// assert_eq!(fresh.try_recv(), Err(corun::sync::broadcast::TryRecvError::Empty));
    /// ```
    pub fn resubscribe(&self) -> Receiver<T> {
        Receiver::joining(&self.shared)
    }
}

/// A stream of the values: `Some(Ok(v))` per value, `Some(Err(Lagged(n)))`
/// when values were lost, and `None` where [`Receiver::recv`] says
/// `Closed`. Terminated (a `FusedStream`) after that `None`.
///
/// ```
/// use futures_util::StreamExt;
/// corun::run(async {
///     let (tx, rx) = corun::sync::broadcast::channel(4);
///     tx.send(1).unwrap();
///     tx.send(2).unwrap();
///     drop(tx);
///     let all: Vec<_> = rx.map(Result::unwrap).collect().await;
///     assert_eq!(all, [1, 2]);
/// });
/// ```
impl<T: Clone> futures_core::Stream for Receiver<T> {
    type Item = Result<T, RecvError>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(|r| match r {
            Err(RecvError::Closed) => None,
            other => Some(other),
        })
    }
}

impl<T: Clone> futures_core::stream::FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let stale = {
            let mut st = lock(&self.shared);
            st.receivers -= 1;
            st.waiting.remove(&self.id)
        };
        drop(stale);
    }
}

opaque_debug!(Sender => "broadcast::Sender", Receiver => "broadcast::Receiver");
