//! One value, sent once, from one task to another: [`channel`].
//!
//! The shared cell is a `Mutex` around the value, the receiver's waker and
//! two liveness flags; each operation takes the lock once. This file must
//! NOT touch the scheduler.

use super::{lock, store_waker};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

struct State<T> {
    /// The sent value until the receiver takes it.
    value: Option<T>,
    /// The receiver's waker while it waits.
    rx_waker: Option<Waker>,
    /// False once the sender sent or was dropped.
    tx_alive: bool,
    /// False once the receiver was closed or dropped.
    rx_alive: bool,
}

type Shared<T> = Arc<Mutex<State<T>>>;

/// Creates a one-shot channel.
///
/// ```
/// use corun::sync::oneshot;
///
/// corun::run(async {
///     let (tx, rx) = oneshot::channel();
///     corun::spawn(async move { tx.send(42).unwrap() });
///     assert_eq!(rx.await, Ok(42));
/// });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(State {
        value: None,
        rx_waker: None,
        tx_alive: true,
        rx_alive: true,
    }));
    (
        Sender {
            shared: Some(shared.clone()),
        },
        Receiver { shared },
    )
}

/// The sender was dropped without sending.
///
/// ```
/// use corun::sync::oneshot::{self, RecvError};
///
/// corun::run(async {
///     let (tx, rx) = oneshot::channel::<u8>();
///     drop(tx);
///     assert_eq!(rx.await, Err(RecvError));
/// });
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot sender dropped without sending")
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::try_recv`] returned no value.
///
/// ```
/// use corun::sync::oneshot::{self, TryRecvError};
///
/// let (tx, mut rx) = oneshot::channel::<u8>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Not sent yet; the sender is still alive.
    Empty,
    /// No value will come (sender dropped, or the value was already taken).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("oneshot empty"),
            TryRecvError::Closed => f.write_str("oneshot closed"),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// The sending half; [`send`](Sender::send) consumes it.
///
/// ```
/// use corun::sync::oneshot;
///
/// let (tx, mut rx) = oneshot::channel();
/// tx.send("done").unwrap();
/// assert_eq!(rx.try_recv(), Ok("done"));
/// ```
pub struct Sender<T> {
    /// `None` after `send` (so `Drop` has nothing to do).
    shared: Option<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`; hands it back if the receiver is gone or closed.
    ///
    /// ```
    /// use corun::sync::oneshot;
    ///
    /// let (tx, rx) = oneshot::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(5), Err(5));
    /// ```
    pub fn send(mut self, value: T) -> Result<(), T> {
        let Some(shared) = self.shared.take() else {
            return Err(value);
        };
        let mut st = lock(&shared);
        st.tx_alive = false;
        if !st.rx_alive {
            return Err(value);
        }
        st.value = Some(value);
        let waker = st.rx_waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// True once the receiver is gone or closed (a send would fail).
    ///
    /// ```
    /// use corun::sync::oneshot;
    ///
    /// let (tx, rx) = oneshot::channel::<()>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.as_ref().is_none_or(|s| !lock(s).rx_alive)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let mut st = lock(&shared);
        st.tx_alive = false;
        let waker = st.rx_waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Sender { .. }")
    }
}

/// The receiving half: a future of the value, or [`RecvError`] if the
/// sender was dropped without sending. Dropping it while waiting removes
/// its waker; polling it again after it resolved returns `Err(RecvError)`.
///
/// ```
/// use corun::sync::oneshot;
///
/// corun::run(async {
///     let (tx, rx) = oneshot::channel();
///     tx.send(1).unwrap();
///     assert_eq!(rx.await, Ok(1));
/// });
/// ```
pub struct Receiver<T> {
    shared: Shared<T>,
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent.
    ///
    /// ```
    /// use corun::sync::oneshot;
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// tx.send(3).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = lock(&self.shared);
        match st.value.take() {
            Some(v) => Ok(v),
            None if st.tx_alive => Err(TryRecvError::Empty),
            None => Err(TryRecvError::Closed),
        }
    }

    /// Refuses the value: a later `send` fails and hands it back. A value
    /// sent before `close` can still be taken with `try_recv` or `.await`.
    ///
    /// ```
    /// use corun::sync::oneshot;
    ///
    /// let (tx, mut rx) = oneshot::channel();
    /// rx.close();
    /// assert_eq!(tx.send(1), Err(1));
    /// ```
    pub fn close(&mut self) {
        lock(&self.shared).rx_alive = false;
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = lock(&self.shared);
        if let Some(v) = st.value.take() {
            return Poll::Ready(Ok(v));
        }
        if !st.tx_alive {
            return Poll::Ready(Err(RecvError));
        }
        store_waker(&mut st.rx_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared);
        st.rx_alive = false;
        let value = st.value.take();
        let waker = st.rx_waker.take();
        drop(st);
        drop((value, waker));
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Receiver { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::test_util::{block_on, counting, poll, rounds};
    use std::thread;

    #[test]
    fn value_sent_before_await_is_received() {
        let (tx, rx) = channel();
        tx.send(1).unwrap();
        assert_eq!(block_on(rx), Ok(1));
    }

    #[test]
    fn waiting_receiver_is_woken_by_send() {
        let (tx, mut rx) = channel();
        let (w, count) = counting();
        assert!(poll(&mut rx, &w).is_pending());
        tx.send("x").unwrap();
        assert_eq!(count.get(), 1);
        assert_eq!(poll(&mut rx, &w), Poll::Ready(Ok("x")));
        // Polled again after completion: an error, not a panic.
        assert_eq!(poll(&mut rx, &w), Poll::Ready(Err(RecvError)));
    }

    #[test]
    fn dropping_sender_wakes_receiver_with_error() {
        let (tx, mut rx) = channel::<u8>();
        let (w, count) = counting();
        assert!(poll(&mut rx, &w).is_pending());
        drop(tx);
        assert_eq!(count.get(), 1);
        assert_eq!(poll(&mut rx, &w), Poll::Ready(Err(RecvError)));
    }

    #[test]
    fn send_to_dropped_or_closed_receiver_returns_value() {
        let (tx, rx) = channel();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(9), Err(9));

        let (tx, mut rx) = channel();
        rx.close();
        assert_eq!(tx.send(8), Err(8));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn dropping_receiver_drops_unreceived_value() {
        let (tx, rx) = channel();
        let item = Arc::new(());
        tx.send(item.clone()).unwrap();
        drop(rx);
        assert_eq!(Arc::strong_count(&item), 1);
    }

    #[test]
    fn cross_thread_send_is_received() {
        for i in 0..rounds(1000) {
            let (tx, rx) = channel();
            let h = thread::spawn(move || tx.send(i).unwrap());
            assert_eq!(block_on(rx), Ok(i));
            h.join().unwrap();
        }
    }
}
