//! Single-thread multi-producer, single-consumer channels: [`channel`]
//! (bounded) and [`unbounded_channel`], for tasks of one scheduler.
//!
//! The same contract as [`mpsc`](super::mpsc) (FIFO messages, FIFO waiting
//! senders that are granted freed slots, the same closing rules and error
//! types), but the ends are `!Send`: the state sits in an `Rc<RefCell<..>>`
//! instead of behind a mutex, so a send or a receive is a few plain loads
//! and stores with no atomic instruction. Under thread-per-core that is the
//! common case (tasks of one scheduler talking to each other); use `mpsc`
//! when an end must move to another thread.
//!
//! The state machine itself is `chan.rs`, shared with `mpsc`; this file
//! only wraps it in an `Rc<RefCell<..>>` with a plain sender count, and
//! calls the wakers it hands back once the borrow has ended. It must NOT
//! touch the scheduler: the only coupling is the `Waker`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::chan::{Chan, RecvStep, SendStep, wake};
use super::mpsc::{SendError, TryRecvError, TrySendError};
use super::wake_all;

/// The channel shared by both ends: the state of `chan.rs` and the number
/// of live senders.
struct State<T> {
    chan: Chan<T>,
    senders: usize,
}

type Shared<T> = Rc<RefCell<State<T>>>;

fn new_shared<T>(cap: usize) -> Shared<T> {
    Rc::new(RefCell::new(State {
        chan: Chan::new(cap),
        senders: 1,
    }))
}

/// Creates a bounded single-thread channel holding at most `capacity`
/// messages (0 is treated as 1).
///
/// ```
/// use corun::sync::local;
///
/// corun::run(async {
///     let (tx, mut rx) = local::channel(1);
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

/// Creates a single-thread channel without a bound.
///
/// ```
/// use corun::sync::local;
///
/// let (tx, mut rx) = local::unbounded_channel();
/// for i in 0..100 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.len(), 100);
/// assert_eq!(rx.try_recv(), Ok(0));
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

fn add_sender<T>(shared: &Shared<T>) -> Shared<T> {
    shared.borrow_mut().senders += 1;
    shared.clone()
}

fn drop_sender<T>(shared: &Shared<T>) {
    let waker = {
        let mut st = shared.borrow_mut();
        st.senders -= 1;
        if st.senders > 0 {
            return;
        }
        st.chan.take_rx_waker()
    };
    wake(waker);
}

/// The sending half of a bounded [`channel`]; clone it for more producers.
///
/// ```
/// use corun::sync::local;
///
/// let (tx, mut rx) = local::channel(2);
/// tx.clone().try_send('a').unwrap();
/// tx.try_send('b').unwrap();
/// assert_eq!(rx.try_recv(), Ok('a'));
/// ```
pub struct Sender<T> {
    shared: Shared<T>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full; fails, handing the
    /// value back, once the receiver is gone or closed. Waiting senders are
    /// served in FIFO order; dropping the future while it waits sends
    /// nothing and passes a slot already granted to it on.
    ///
    /// ```
    /// use corun::sync::local;
    ///
    /// corun::run(async {
    ///     let (tx, mut rx) = local::channel(1);
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
    /// use corun::sync::local;
    /// use corun::sync::mpsc::TrySendError;
    ///
    /// let (tx, _rx) = local::channel(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let waker = self.shared.borrow_mut().chan.try_send(value)?;
        wake(waker);
        Ok(())
    }

    /// True once the receiver is gone or closed.
    pub fn is_closed(&self) -> bool {
        self.shared.borrow().chan.is_closed()
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
        f.write_str("local::Sender { .. }")
    }
}

/// Future of [`Sender::send`].
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
            return Poll::Pending; // polled after completion
        };
        let step = (this.shared.borrow_mut().chan).poll_send(value, &mut this.id, cx.waker());
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
        let waker = self.shared.borrow_mut().chan.cancel_send(id);
        wake(waker);
    }
}

/// The sending half of an [`unbounded_channel`]; clone it for more
/// producers. Sending never waits.
pub struct UnboundedSender<T> {
    shared: Shared<T>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value`; fails, handing it back, once the receiver is gone or
    /// closed.
    ///
    /// ```
    /// use corun::sync::local;
    ///
    /// let (tx, rx) = local::unbounded_channel();
    /// assert!(tx.send(1).is_ok());
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().0, 2);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let waker = self.shared.borrow_mut().chan.send_now(value)?;
        wake(waker);
        Ok(())
    }

    /// True once the receiver is gone or closed.
    pub fn is_closed(&self) -> bool {
        self.shared.borrow().chan.is_closed()
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
        f.write_str("local::UnboundedSender { .. }")
    }
}

/// The receiving half of a single-thread channel.
pub struct Receiver<T> {
    /// Set once a receive returned `None` (the end): from then on the
    /// receiver is a terminated `FusedStream`.
    ended: bool,
    shared: Shared<T>,
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting for one; `None` once every sender
    /// is gone (or the channel is closed) and the buffer is empty.
    ///
    /// ```
    /// use corun::sync::local;
    ///
    /// corun::run(async {
    ///     let (tx, mut rx) = local::channel(4);
    ///     tx.send("hi").await.unwrap();
    ///     drop(tx);
    ///     assert_eq!(rx.recv().await, Some("hi"));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn recv(&mut self) -> RecvFuture<'_, T> {
        RecvFuture {
            rx: self,
            registered: false,
        }
    }

    /// Poll form of [`recv`](Receiver::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_inner(Some(cx.waker()))
    }

    fn poll_inner(&mut self, waker: Option<&Waker>) -> Poll<Option<T>> {
        let step = {
            let mut st = self.shared.borrow_mut();
            let senders_gone = st.senders == 0;
            st.chan.poll_recv(waker, senders_gone)
        };
        match step {
            RecvStep::Msg(v, granted) => {
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
    /// use corun::sync::local;
    /// use corun::sync::mpsc::TryRecvError;
    ///
    /// let (tx, mut rx) = local::channel(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.poll_inner(None) {
            Poll::Ready(Some(v)) => Ok(v),
            Poll::Ready(None) => Err(TryRecvError::Disconnected),
            Poll::Pending => Err(TryRecvError::Empty),
        }
    }

    /// Closes the channel: pending and later sends fail with their value;
    /// buffered messages can still be received.
    ///
    /// ```
    /// use corun::sync::local;
    ///
    /// corun::run(async {
    ///     let (tx, mut rx) = local::channel(2);
    ///     tx.send(1).await.unwrap();
    ///     rx.close();
    ///     assert!(tx.send(2).await.is_err());
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn close(&mut self) {
        let wakers = self.shared.borrow_mut().chan.close();
        wake_all(wakers);
    }

    /// Number of buffered messages.
    pub fn len(&self) -> usize {
        self.shared.borrow().chan.len()
    }

    /// True if no message is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        // Message destructors and the last waker run after the borrow.
        let (left, waker) = self.shared.borrow_mut().chan.take_leftovers();
        drop(left);
        drop(waker);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("local::Receiver { .. }")
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
/// use corun::sync::local;
///
/// corun::run(async {
///     let (tx, mut rx) = local::channel::<u8>(1);
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
/// use corun::sync::local;
///
/// corun::run(async {
///     let (tx, mut rx) = local::channel::<u8>(1);
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
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T> {
    rx: &'a mut Receiver<T>,
    /// True while the receiver waits through this future.
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
            self.rx.shared.borrow_mut().chan.stop_waiting();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::test_util::{counting, poll};

    #[test]
    #[cfg_attr(
        miri,
        ignore = "runs a scheduler, whose ticker thread outlives the test"
    )]
    fn messages_arrive_in_order_and_full_channel_makes_senders_wait_fifo() {
        let order = Rc::new(RefCell::new(Vec::new()));
        let got = crate::run({
            let order = order.clone();
            async move {
                let (tx, mut rx) = channel(1);
                for name in ["a", "b", "c"] {
                    let tx = tx.clone();
                    let order = order.clone();
                    crate::spawn(async move {
                        tx.send(name).await.unwrap();
                        order.borrow_mut().push(name);
                    })
                    .detach();
                }
                drop(tx);
                let mut got = Vec::new();
                while let Some(v) = rx.recv().await {
                    got.push(v);
                }
                got
            }
        });
        assert_eq!(got, ["a", "b", "c"]);
        assert_eq!(*order.borrow(), ["a", "b", "c"]);
    }

    #[test]
    fn waiting_senders_are_granted_the_free_slot_one_at_a_time_in_order() {
        let (tx, mut rx) = channel(1);
        let mut sends = [tx.send("a"), tx.send("b"), tx.send("c")];
        let wakers = [counting(), counting(), counting()];
        let polled: Vec<bool> = sends
            .iter_mut()
            .zip(&wakers)
            .map(|(f, (w, _))| poll(f, w).is_ready())
            .collect();
        assert_eq!(polled, [true, false, false], "one slot: `a` fits");
        for (i, want) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(rx.try_recv(), Ok(want));
            let woken: Vec<usize> = wakers.iter().map(|(_, c)| c.get()).collect();
            // Each freed slot wakes the oldest waiting sender only.
            let expect: Vec<usize> = (0..3).map(|j| usize::from(j > 0 && j <= i + 1)).collect();
            assert_eq!(woken, expect, "after receiving {want}");
            if i + 1 < 3 {
                let (w, _) = &wakers[i + 1];
                assert!(matches!(poll(&mut sends[i + 1], w), Poll::Ready(Ok(()))));
            }
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn receiver_gone_fails_sends_and_hands_values_back() {
        let (tx, rx) = channel(1);
        let (utx, urx) = unbounded_channel::<String>();
        drop(rx);
        drop(urx);
        assert!(tx.is_closed());
        assert!(matches!(tx.try_send(7), Err(TrySendError::Closed(7))));
        assert_eq!(utx.send("x".into()).unwrap_err().0, "x");
    }

    #[test]
    fn a_foreign_waker_is_woken_once_per_wait_and_kept_between_waits() {
        let (tx, mut rx) = unbounded_channel();
        let (waker, count) = counting();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(count.get(), 1, "one wake per wait, not per message");
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        drop(tx);
        assert_eq!(count.get(), 2, "the last sender leaving wakes the receiver");
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn a_cancelled_send_passes_its_granted_slot_on() {
        let (tx, mut rx) = channel(1);
        tx.try_send(0).unwrap();
        let (waker, _count) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut first = tx.send(1);
        let mut second = tx.send(2);
        assert!(Pin::new(&mut first).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut second).poll(&mut cx).is_pending());
        assert_eq!(rx.try_recv(), Ok(0)); // grants the slot to `first`
        drop(first); // ... which passes it to `second`
        assert!(matches!(poll(&mut second, &waker), Poll::Ready(Ok(()))));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }
}
