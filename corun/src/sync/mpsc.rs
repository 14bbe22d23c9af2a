//! Multi-producer, single-consumer channels: [`channel`] (bounded) and
//! [`unbounded_channel`], usable across threads.
//!
//! The channel state and its rules (ring buffer allocated up front, FIFO
//! waiting senders that are granted freed slots, the receiver's waker kept
//! between waits) live in `chan.rs`, shared with [`local`](super::local);
//! here that state sits behind a `std::sync::Mutex`, and the number of
//! senders is an atomic counter outside it. This file must NOT touch the
//! scheduler.
//!
//! Closing: [`Receiver::close`] (or dropping the receiver) makes every send
//! fail with the value handed back, while buffered values stay receivable;
//! dropping every sender makes `recv` return `None` once the buffer is empty.

mod error;

pub use error::{SendError, TryRecvError, TrySendError};

use super::chan::{Chan, RecvStep, SendStep, wake};
use super::{lock, wake_all};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// The channel shared by both ends.
struct Shared<T> {
    state: Mutex<Chan<T>>,
    /// Live `Sender`s and `UnboundedSender`s. Changed outside the lock; the
    /// last sender to leave then locks to wake the receiver.
    senders: AtomicUsize,
}

fn new_shared<T>(cap: usize) -> Arc<Shared<T>> {
    Arc::new(Shared {
        state: Mutex::new(Chan::new(cap)),
        senders: AtomicUsize::new(1),
    })
}

/// Creates a bounded channel holding at most `capacity` messages. A
/// capacity of 0 is treated as 1 (a rendezvous channel is not offered).
///
/// ```
/// use corun::sync::mpsc;
///
/// corun::run(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     corun::spawn(async move {
///         for i in 0..3 {
///             tx.send(i).await.unwrap();
///         }
///     });
///     assert_eq!(rx.recv().await, Some(0));
///     assert_eq!(rx.recv().await, Some(1));
///     assert_eq!(rx.recv().await, Some(2));
///     assert_eq!(rx.recv().await, None);
/// });
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = new_shared(capacity.max(1));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver {
            ended: false,
            shared,
        },
    )
}

/// Creates a channel without a bound: [`UnboundedSender::send`] never waits.
/// The buffer grows (amortised) to the largest backlog and is then reused.
///
/// ```
/// use corun::sync::mpsc;
///
/// corun::run(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     for i in 0..1000 {
///         tx.send(i).unwrap();
///     }
///     assert_eq!(rx.recv().await, Some(0));
///     assert_eq!(rx.len(), 999);
/// });
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, Receiver<T>) {
    let shared = new_shared(usize::MAX);
    (
        UnboundedSender {
            shared: shared.clone(),
        },
        Receiver {
            ended: false,
            shared,
        },
    )
}

fn add_sender<T>(shared: &Arc<Shared<T>>) -> Arc<Shared<T>> {
    shared.senders.fetch_add(1, Ordering::Relaxed);
    shared.clone()
}

fn drop_sender<T>(shared: &Shared<T>) {
    if shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
        let waker = lock(&shared.state).take_rx_waker();
        wake(waker);
    }
}

fn is_closed<T>(shared: &Shared<T>) -> bool {
    lock(&shared.state).is_closed()
}

/// The sending half of a bounded channel; clone it for more producers.
///
/// ```
/// use corun::sync::mpsc;
///
/// let (tx, mut rx) = mpsc::channel(4);
/// let tx2 = tx.clone();
/// tx.try_send("a").unwrap();
/// tx2.try_send("b").unwrap();
/// assert_eq!(rx.try_recv(), Ok("a"));
/// assert_eq!(rx.try_recv(), Ok("b"));
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full. Fails, handing the
    /// value back, if the receiver is gone or closed. Waiting senders are
    /// served in FIFO order. Dropping the future while it waits sends
    /// nothing and leaves no trace (a slot already granted to it passes on).
    ///
    /// ```
    /// use corun::sync::mpsc;
    ///
    /// corun::run(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     tx.send(5).await.unwrap();
    ///     assert_eq!(rx.recv().await, Some(5));
    /// });
    /// ```
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            shared: &self.shared,
            value: Some(value),
            id: None,
        }
    }

    /// Sends `value` if there is room now.
    ///
    /// ```
    /// use corun::sync::mpsc::{self, TrySendError};
    ///
    /// let (tx, _rx) = mpsc::channel(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let waker = lock(&self.shared.state).try_send(value)?;
        wake(waker);
        Ok(())
    }

    /// True once the receiver is gone or closed.
    ///
    /// ```
    /// use corun::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel::<()>(1);
    /// assert!(!tx.is_closed());
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        is_closed(&self.shared)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            shared: add_sender(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        drop_sender(&self.shared);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

/// Future of [`Sender::send`].
///
/// ```
/// use corun::sync::mpsc;
///
/// corun::run(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     let fut: mpsc::SendFuture<'_, u8> = tx.send(1);
///     fut.await.unwrap();
///     assert_eq!(rx.recv().await, Some(1));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    shared: &'a Shared<T>,
    /// The value until it is pushed or handed back.
    value: Option<T>,
    /// Our place in `send_waiters` once queued.
    id: Option<u64>,
}

// The value is never pinned structurally: it is moved out by value only.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(value) = this.value.take() else {
            // Polled after completion: nothing left to send.
            return Poll::Pending;
        };
        let step = lock(&this.shared.state).poll_send(value, &mut this.id, cx.waker());
        match step {
            SendStep::Done(waker) => {
                wake(waker);
                Poll::Ready(Ok(()))
            }
            SendStep::Closed(value) => Poll::Ready(Err(SendError(value))),
            SendStep::Wait(value) => {
                this.value = Some(value);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let waker = lock(&self.shared.state).cancel_send(id);
        wake(waker);
    }
}

/// The sending half of an unbounded channel; clone it for more producers.
///
/// ```
/// use corun::sync::mpsc;
///
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// tx.clone().send(1).unwrap();
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
pub struct UnboundedSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` without waiting; fails, handing it back, if the
    /// receiver is gone or closed.
    ///
    /// ```
    /// use corun::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::unbounded_channel();
    /// assert!(tx.send(1).is_ok());
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let waker = lock(&self.shared.state).send_now(value)?;
        wake(waker);
        Ok(())
    }

    /// True once the receiver is gone or closed.
    ///
    /// ```
    /// use corun::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::unbounded_channel::<()>();
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        is_closed(&self.shared)
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        UnboundedSender {
            shared: add_sender(&self.shared),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        drop_sender(&self.shared);
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnboundedSender { .. }")
    }
}

/// The receiving half of a channel; also a `futures_core::Stream`.
///
/// ```
/// use corun::sync::mpsc;
///
/// corun::run(async {
///     let (tx, mut rx) = mpsc::channel(2);
///     tx.send(1).await.unwrap();
///     drop(tx);
///     assert_eq!(rx.recv().await, Some(1));
///     assert_eq!(rx.recv().await, None);
/// });
/// ```
pub struct Receiver<T> {
    /// Set once a receive returned `None` (the end): from then on the
    /// receiver is a terminated `FusedStream`.
    ended: bool,
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting while the channel is empty.
    /// Returns `None` once the channel is empty and every sender is gone
    /// (or the receiver was closed). Dropping the future loses no message.
    ///
    /// ```
    /// use corun::sync::mpsc;
    ///
    /// corun::run(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     corun::spawn(async move { tx.send("hi").await.unwrap() });
    ///     assert_eq!(rx.recv().await, Some("hi"));
    /// });
    /// ```
    pub fn recv(&mut self) -> RecvFuture<'_, T> {
        RecvFuture {
            rx: self,
            registered: false,
        }
    }

    /// Polls for the next message; the building block of [`recv`](Self::recv)
    /// and of the `Stream` impl. On `Pending`, `cx`'s waker is stored and
    /// woken by the next send or by the last sender leaving.
    ///
    /// ```
    /// use corun::sync::mpsc;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
    /// tx.try_send(3).unwrap();
    /// assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(3)));
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_inner(Some(cx.waker()))
    }

    /// Pops a message or registers `waker` (then the receiver waits).
    fn poll_inner(&mut self, waker: Option<&Waker>) -> Poll<Option<T>> {
        let mut st = lock(&self.shared.state);
        let senders_gone = self.shared.senders.load(Ordering::Acquire) == 0;
        match st.poll_recv(waker, senders_gone) {
            RecvStep::Msg(v, granted) => {
                drop(st);
                wake(granted);
                Poll::Ready(Some(v))
            }
            RecvStep::End => {
                self.ended = true;
                Poll::Ready(None)
            }
            RecvStep::Empty => Poll::Pending,
        }
    }

    /// Receives a message if one is buffered now.
    ///
    /// ```
    /// use corun::sync::mpsc::{self, TryRecvError};
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.poll_inner(None) {
            Poll::Ready(Some(v)) => Ok(v),
            Poll::Ready(None) => Err(TryRecvError::Disconnected),
            Poll::Pending => Err(TryRecvError::Empty),
        }
    }

    /// Closes the channel from the receiving side: every pending and future
    /// send fails with its value handed back; messages already buffered can
    /// still be received, after which `recv` returns `None`.
    ///
    /// ```
    /// use corun::sync::mpsc;
    ///
    /// corun::run(async {
    ///     let (tx, mut rx) = mpsc::channel(2);
    ///     tx.send(1).await.unwrap();
    ///     rx.close();
    ///     assert!(tx.send(2).await.is_err());
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn close(&mut self) {
        let wakers = lock(&self.shared.state).close();
        wake_all(wakers);
    }

    /// Number of buffered messages.
    ///
    /// ```
    /// use corun::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel(4);
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.shared.state).len()
    }

    /// True if no message is buffered.
    ///
    /// ```
    /// use corun::sync::mpsc;
    ///
    /// let (_tx, rx) = mpsc::channel::<()>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        // Run the messages' destructors outside the lock; the last waker
        // goes too (it may keep a finished task's memory alive).
        let (left, waker) = lock(&self.shared.state).take_leftovers();
        drop(left);
        drop(waker);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

/// Terminated once a receive returned `None`, so `futures::select!` takes
/// the receiver (and its `next()`) without `.fuse()`.
///
/// ```
/// use futures_core::stream::FusedStream;
/// use corun::sync::mpsc;
///
/// corun::run(async {
///     let (tx, mut rx) = mpsc::channel::<u8>(1);
///     drop(tx);
///     assert!(!rx.is_terminated());
///     assert_eq!(rx.recv().await, None);
///     assert!(rx.is_terminated());
/// });
/// ```
impl<T> futures_core::stream::FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

/// Terminated once its receiver has returned `None`, so `futures::select!`
/// takes `rx.recv()` without `.fuse()`.
///
/// ```
/// use futures_core::future::FusedFuture;
/// use corun::sync::mpsc;
///
/// corun::run(async {
///     let (tx, mut rx) = mpsc::channel::<u8>(1);
///     drop(tx);
///     assert_eq!(rx.recv().await, None);
///     assert!(rx.recv().is_terminated());
/// });
/// ```
impl<T> futures_core::future::FusedFuture for RecvFuture<'_, T> {
    fn is_terminated(&self) -> bool {
        self.rx.ended
    }
}

/// Future of [`Receiver::recv`].
///
/// ```
/// use corun::sync::mpsc;
///
/// corun::run(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     tx.try_send(9).unwrap();
///     let fut: mpsc::RecvFuture<'_, i32> = rx.recv();
///     assert_eq!(fut.await, Some(9));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T> {
    rx: &'a mut Receiver<T>,
    /// True while our waker may sit in the receiver's slot.
    registered: bool,
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        let r = this.rx.poll_inner(Some(cx.waker()));
        this.registered = r.is_pending();
        r
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        if self.registered {
            // Cancelled while waiting: no wake is due any more.
            lock(&self.rx.shared.state).stop_waiting();
        }
    }
}

#[cfg(test)]
mod tests;
