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
//! Wakers are called after the `RefCell` borrow ends, except corun's own
//! task wakers, which only queue their task and are woken in place; the
//! receiver's waker is kept between waits, so a receiver waiting again from
//! the same task costs no waker clone. This file must NOT touch the
//! scheduler: the only coupling is the `Waker`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::mpsc::{SendError, TryRecvError, TrySendError};
use super::{WaitQueue, store_waker, wake_all};

/// The channel state shared by both ends.
struct State<T> {
    /// The messages, oldest first.
    buf: VecDeque<T>,
    /// Maximum `buf.len() + reserved`; `usize::MAX` when unbounded.
    cap: usize,
    /// Slots granted to popped sender waiters that have not pushed yet.
    reserved: usize,
    /// The receiver's last waker (kept after a wake, see the module docs).
    rx_waker: Option<Waker>,
    /// True while the receiver waits for a message.
    rx_waiting: bool,
    /// Senders waiting for a slot, oldest first.
    send_waiters: WaitQueue,
    /// Set by `Receiver::close` or by dropping the receiver: sends fail.
    closed: bool,
    /// Live senders (bounded and unbounded).
    senders: usize,
}

type Shared<T> = Rc<RefCell<State<T>>>;

impl<T> State<T> {
    fn has_room(&self) -> bool {
        self.send_waiters.is_empty() && self.buf.len() + self.reserved < self.cap
    }

    /// Grants a freed slot to the oldest waiting sender; returns its waker.
    fn grant(&mut self) -> Option<Waker> {
        if self.closed || self.buf.len() + self.reserved >= self.cap {
            return None;
        }
        let (_, waker) = self.send_waiters.pop_front()?;
        self.reserved += 1;
        waker
    }

    /// Pushes `value` and wakes a waiting receiver: a corun task waker in
    /// place, any other one returned (cloned) for a wake after the borrow.
    fn push(&mut self, value: T) -> Option<Waker> {
        self.buf.push_back(value);
        if !self.rx_waiting {
            return None;
        }
        self.rx_waiting = false;
        let w = self.rx_waker.as_ref()?;
        if crate::task::waker::is_task_waker(w) {
            w.wake_by_ref();
            None
        } else {
            Some(w.clone())
        }
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

fn new_shared<T>(cap: usize) -> Shared<T> {
    Rc::new(RefCell::new(State {
        buf: VecDeque::with_capacity(cap.min(1024)),
        cap,
        reserved: 0,
        rx_waker: None,
        rx_waiting: false,
        send_waiters: WaitQueue::new(),
        closed: false,
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
        Receiver { shared },
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
        Receiver { shared },
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
        st.rx_waiting = false;
        st.rx_waker.take()
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
        let waker = {
            let mut st = self.shared.borrow_mut();
            if st.closed {
                return Err(TrySendError::Closed(value));
            }
            if !st.has_room() {
                return Err(TrySendError::Full(value));
            }
            st.push(value)
        };
        wake(waker);
        Ok(())
    }

    /// True once the receiver is gone or closed.
    pub fn is_closed(&self) -> bool {
        self.shared.borrow().closed
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
        let mut st = this.shared.borrow_mut();
        if st.closed {
            if let Some(id) = this.id.take() {
                if !st.send_waiters.remove(id) {
                    st.reserved -= 1;
                }
            }
            return Poll::Ready(Err(SendError(value)));
        }
        let may_push = match this.id {
            None => st.has_room(),
            Some(id) if st.send_waiters.update(id, cx.waker()) => false,
            Some(_) => {
                // Granted: the slot counted in `reserved` is ours.
                st.reserved -= 1;
                this.id = None;
                true
            }
        };
        if may_push {
            let waker = st.push(value);
            drop(st);
            wake(waker);
            return Poll::Ready(Ok(()));
        }
        if this.id.is_none() {
            this.id = Some(st.send_waiters.push(Some(cx.waker())));
        }
        drop(st);
        this.value = Some(value);
        Poll::Pending
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let waker = {
            let mut st = self.shared.borrow_mut();
            if st.send_waiters.remove(id) {
                return;
            }
            // Granted but never used: give the slot to the next waiter.
            st.reserved -= 1;
            st.grant()
        };
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
        let waker = {
            let mut st = self.shared.borrow_mut();
            if st.closed {
                return Err(SendError(value));
            }
            st.push(value)
        };
        wake(waker);
        Ok(())
    }

    /// True once the receiver is gone or closed.
    pub fn is_closed(&self) -> bool {
        self.shared.borrow().closed
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
        let next = {
            let mut st = self.shared.borrow_mut();
            match st.buf.pop_front() {
                Some(v) => {
                    st.rx_waiting = false;
                    Some((v, st.grant()))
                }
                None if st.closed || st.senders == 0 => return Poll::Ready(None),
                None => {
                    if let Some(w) = waker {
                        store_waker(&mut st.rx_waker, w);
                        st.rx_waiting = true;
                    }
                    None
                }
            }
        };
        match next {
            Some((v, granted)) => {
                wake(granted);
                Poll::Ready(Some(v))
            }
            None => Poll::Pending,
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
        let wakers = {
            let mut st = self.shared.borrow_mut();
            if st.closed {
                return;
            }
            st.closed = true;
            st.send_waiters.take_wakers()
        };
        wake_all(wakers);
    }

    /// Number of buffered messages.
    pub fn len(&self) -> usize {
        self.shared.borrow().buf.len()
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
        let (left, waker) = {
            let mut st = self.shared.borrow_mut();
            st.rx_waiting = false;
            (std::mem::take(&mut st.buf), st.rx_waker.take())
        };
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
            self.rx.shared.borrow_mut().rx_waiting = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::test_util::{counting, poll};

    #[test]
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
