//! The public ends of the mpsc channels, written once for both flavours:
//! [`channel_ends!`] defines `channel`, `unbounded_channel`, `Sender`,
//! `SendFuture`, `UnboundedSender`, `Receiver` and `RecvFuture` (with
//! their docs and examples) in the module that invokes it, over a
//! [`ChanRef`]: `mpsc`'s (a mutex and an atomic sender count, `Send`) or
//! `local`'s (a `RefCell` and a plain count, `!Send`).
//!
//! Every operation takes the state (locked or borrowed), runs one step of
//! `chan.rs`'s state machine, lets the state go, and only then calls the
//! waker the step handed back. This file must not know which flavour it
//! serves beyond [`ChanRef`], nor touch the scheduler.

use super::chan::Chan;

/// How the ends of one flavour reach their shared channel state.
pub(crate) trait ChanRef<T>: Clone {
    /// A new channel of capacity `cap` with one sender.
    fn new_chan(cap: usize) -> Self;
    /// Runs `f` on the state, locked or borrowed for the call only.
    /// `f` must not call back into the channel.
    fn with<R>(&self, f: impl FnOnce(&mut Chan<T>) -> R) -> R;
    /// Counts one more sender.
    fn add_sender(&self);
    /// Counts one sender less; true if it was the last.
    fn remove_sender(&self) -> bool;
    /// True once every sender is gone; may be called inside [`ChanRef::with`].
    fn senders_gone(&self) -> bool;
}

/// Defines the channel ends over `$chan` (a [`ChanRef`] generic over the
/// message type). `$m` names the invoking module in the doc examples;
/// `$debug` prefixes the names the `Debug` impls print; `$what` is how the
/// docs call the channel (`"channel"`, `"single-thread channel"`). The
/// invoking module implements [`ChanRef`] for `$chan`, so it has the trait
/// in scope.
macro_rules! channel_ends {
    (module: $m:literal, chan: $chan:ident, debug: $debug:literal, what: $what:literal) => {
        use std::fmt;
        use std::future::Future;
        use std::pin::Pin;
        use std::task::{Context, Poll, Waker};

        use $crate::sync::chan::{RecvStep, SendStep, wake};
        use $crate::sync::wake_all;

        #[doc = concat!("Creates a bounded ", $what, " holding at most `capacity` messages.")]
        /// A capacity of 0 is treated as 1 (a rendezvous channel is not
        /// offered).
        ///
        /// ```
        #[doc = concat!("use corun::sync::", $m, "::channel;")]
        ///
        /// corun::run(async {
        ///     let (tx, mut rx) = channel(1);
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
            let chan = <$chan<T> as $crate::sync::ends::ChanRef<T>>::new_chan(capacity.max(1));
            (
                Sender { chan: chan.clone() },
                Receiver { ended: false, chan },
            )
        }

        #[doc = concat!(
                    "Creates a ", $what, " without a bound: [`UnboundedSender::send`] never waits."
                )]
        /// The buffer grows (amortised) to the largest backlog and is then
        /// reused.
        ///
        /// ```
        #[doc = concat!("use corun::sync::", $m, "::unbounded_channel;")]
        ///
        /// corun::run(async {
        ///     let (tx, mut rx) = unbounded_channel();
        ///     for i in 0..1000 {
        ///         tx.send(i).unwrap();
        ///     }
        ///     assert_eq!(rx.recv().await, Some(0));
        ///     assert_eq!(rx.len(), 999);
        /// });
        /// ```
        pub fn unbounded_channel<T>() -> (UnboundedSender<T>, Receiver<T>) {
            let chan = <$chan<T> as $crate::sync::ends::ChanRef<T>>::new_chan(usize::MAX);
            (
                UnboundedSender { chan: chan.clone() },
                Receiver { ended: false, chan },
            )
        }

        /// The sending half of a bounded [`channel`]; clone it for more
        /// producers.
        ///
        /// ```
        #[doc = concat!("use corun::sync::", $m, "::channel;")]
        ///
        /// let (tx, mut rx) = channel(4);
        /// let tx2 = tx.clone();
        /// tx.try_send("a").unwrap();
        /// tx2.try_send("b").unwrap();
        /// assert_eq!(rx.try_recv(), Ok("a"));
        /// assert_eq!(rx.try_recv(), Ok("b"));
        /// ```
        pub struct Sender<T> {
            chan: $chan<T>,
        }

        impl<T> Sender<T> {
            /// Sends `value`, waiting while the channel is full. Fails,
            /// handing the value back, if the receiver is gone or closed.
            /// Waiting senders are served in FIFO order. Dropping the
            /// future while it waits sends nothing and leaves no trace (a
            /// slot already granted to it passes on).
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            ///
            /// corun::run(async {
            ///     let (tx, mut rx) = channel(1);
            ///     tx.send(5).await.unwrap();
            ///     assert_eq!(rx.recv().await, Some(5));
            /// });
            /// ```
            pub fn send(&self, value: T) -> SendFuture<'_, T> {
                SendFuture {
                    chan: &self.chan,
                    value: Some(value),
                    id: None,
                }
            }

            /// Sends `value` if there is room now.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            /// use corun::sync::mpsc::TrySendError;
            ///
            /// let (tx, _rx) = channel(1);
            /// assert!(tx.try_send(1).is_ok());
            /// assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
            /// ```
            pub fn try_send(&self, value: T) -> Result<(), $crate::sync::mpsc::TrySendError<T>> {
                let waker = self.chan.with(|c| c.try_send(value))?;
                wake(waker);
                Ok(())
            }

            /// True once the receiver is gone or closed.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            ///
            /// let (tx, mut rx) = channel::<()>(1);
            /// assert!(!tx.is_closed());
            /// rx.close();
            /// assert!(tx.is_closed());
            /// ```
            pub fn is_closed(&self) -> bool {
                self.chan.with(|c| c.is_closed())
            }
        }

        $crate::sync::ends::sender_impls!(Sender, $debug);

        /// Counts a sender out; the last one wakes the receiver (which
        /// then sees the end).
        fn drop_sender<T>(chan: &$chan<T>) {
            if chan.remove_sender() {
                let waker = chan.with(|c| c.take_rx_waker());
                wake(waker);
            }
        }

        /// Future of [`Sender::send`].
        ///
        /// ```
        #[doc = concat!("use corun::sync::", $m, "::{channel, SendFuture};")]
        ///
        /// corun::run(async {
        ///     let (tx, mut rx) = channel(1);
        ///     let fut: SendFuture<'_, u8> = tx.send(1);
        ///     fut.await.unwrap();
        ///     assert_eq!(rx.recv().await, Some(1));
        /// });
        /// ```
        #[must_use = "futures do nothing unless awaited"]
        pub struct SendFuture<'a, T> {
            chan: &'a $chan<T>,
            /// The value until it is pushed or handed back.
            value: Option<T>,
            /// Our place in `send_waiters` once queued.
            id: Option<u64>,
        }

        // The value is never pinned structurally: it is moved out by value only.
        impl<T> Unpin for SendFuture<'_, T> {}

        impl<T> Future for SendFuture<'_, T> {
            type Output = Result<(), $crate::sync::mpsc::SendError<T>>;

            // Always inline: the pending path is short, and a call would
            // save and restore registers around it on every send.
            #[inline(always)]
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                let this = &mut *self;
                let Some(value) = this.value.take() else {
                    // Polled after completion: nothing left to send.
                    return Poll::Pending;
                };
                let id = &mut this.id;
                let step = this.chan.with(|c| c.poll_send(value, id, cx.waker()));
                match step {
                    SendStep::Done(waker) => {
                        wake(waker);
                        Poll::Ready(Ok(()))
                    }
                    SendStep::Closed(value) => {
                        Poll::Ready(Err($crate::sync::mpsc::SendError(value)))
                    }
                    SendStep::Wait(value) => {
                        this.value = Some(value);
                        Poll::Pending
                    }
                }
            }
        }

        impl<T> Drop for SendFuture<'_, T> {
            #[inline]
            fn drop(&mut self) {
                if let Some(id) = self.id {
                    cancel_send(self.chan, id);
                }
            }
        }

        /// A queued send future is dropped (see [`SendFuture`]'s `Drop`):
        /// out of line, as a send that completed or never queued has
        /// nothing to undo.
        #[inline(never)]
        fn cancel_send<T>(chan: &$chan<T>, id: u64) {
            let waker = chan.with(|c| c.cancel_send(id));
            wake(waker);
        }

        /// The sending half of an [`unbounded_channel`]; clone it for more
        /// producers. Sending never waits.
        ///
        /// ```
        #[doc = concat!("use corun::sync::", $m, "::unbounded_channel;")]
        ///
        /// let (tx, mut rx) = unbounded_channel();
        /// tx.clone().send(1).unwrap();
        /// assert_eq!(rx.try_recv(), Ok(1));
        /// ```
        pub struct UnboundedSender<T> {
            chan: $chan<T>,
        }

        impl<T> UnboundedSender<T> {
            /// Sends `value` without waiting; fails, handing it back, if
            /// the receiver is gone or closed.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::unbounded_channel;")]
            ///
            /// let (tx, rx) = unbounded_channel();
            /// assert!(tx.send(1).is_ok());
            /// drop(rx);
            /// assert_eq!(tx.send(2).unwrap_err().0, 2);
            /// ```
            pub fn send(&self, value: T) -> Result<(), $crate::sync::mpsc::SendError<T>> {
                let waker = self.chan.with(|c| c.send_now(value))?;
                wake(waker);
                Ok(())
            }

            /// True once the receiver is gone or closed.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::unbounded_channel;")]
            ///
            /// let (tx, rx) = unbounded_channel::<()>();
            /// drop(rx);
            /// assert!(tx.is_closed());
            /// ```
            pub fn is_closed(&self) -> bool {
                self.chan.with(|c| c.is_closed())
            }
        }

        $crate::sync::ends::sender_impls!(UnboundedSender, $debug);

        #[doc = concat!("The receiving half of a ", $what, "; also a `futures_core::Stream`.")]
        ///
        /// ```
        #[doc = concat!("use corun::sync::", $m, "::channel;")]
        ///
        /// corun::run(async {
        ///     let (tx, mut rx) = channel(2);
        ///     tx.send(1).await.unwrap();
        ///     drop(tx);
        ///     assert_eq!(rx.recv().await, Some(1));
        ///     assert_eq!(rx.recv().await, None);
        /// });
        /// ```
        pub struct Receiver<T> {
            /// Set once a receive returned `None` (the end): from then on
            /// the receiver is a terminated `FusedStream`.
            ended: bool,
            chan: $chan<T>,
        }

        impl<T> Receiver<T> {
            /// Receives the next message, waiting while the channel is
            /// empty. Returns `None` once the channel is empty and every
            /// sender is gone (or the receiver was closed). Dropping the
            /// future loses no message.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            ///
            /// corun::run(async {
            ///     let (tx, mut rx) = channel(1);
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

            /// Polls for the next message; the building block of
            /// [`recv`](Self::recv) and of the `Stream` impl. On `Pending`,
            /// `cx`'s waker is stored and woken by the next send or by the
            /// last sender leaving.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            /// use std::task::{Context, Poll, Waker};
            ///
            /// let (tx, mut rx) = channel(1);
            /// let mut cx = Context::from_waker(Waker::noop());
            /// assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
            /// tx.try_send(3).unwrap();
            /// assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(3)));
            /// ```
            pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
                self.poll_inner(Some(cx.waker()))
            }

            /// Pops a message or registers `waker` (then the receiver waits).
            #[inline(always)]
            fn poll_inner(&mut self, waker: Option<&Waker>) -> Poll<Option<T>> {
                let chan = &self.chan;
                match chan.with(|c| c.poll_recv(waker, chan.senders_gone())) {
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
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            /// use corun::sync::mpsc::TryRecvError;
            ///
            /// let (tx, mut rx) = channel(1);
            /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            /// tx.try_send(1).unwrap();
            /// assert_eq!(rx.try_recv(), Ok(1));
            /// drop(tx);
            /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            /// ```
            pub fn try_recv(&mut self) -> Result<T, $crate::sync::mpsc::TryRecvError> {
                match self.poll_inner(None) {
                    Poll::Ready(Some(v)) => Ok(v),
                    Poll::Ready(None) => Err($crate::sync::mpsc::TryRecvError::Disconnected),
                    Poll::Pending => Err($crate::sync::mpsc::TryRecvError::Empty),
                }
            }

            /// Closes the channel from the receiving side: every pending
            /// and future send fails with its value handed back; messages
            /// already buffered can still be received, after which `recv`
            /// returns `None`.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            ///
            /// corun::run(async {
            ///     let (tx, mut rx) = channel(2);
            ///     tx.send(1).await.unwrap();
            ///     rx.close();
            ///     assert!(tx.send(2).await.is_err());
            ///     assert_eq!(rx.recv().await, Some(1));
            ///     assert_eq!(rx.recv().await, None);
            /// });
            /// ```
            pub fn close(&mut self) {
                let wakers = self.chan.with(|c| c.close());
                wake_all(wakers);
            }

            /// Number of buffered messages.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            ///
            /// let (tx, rx) = channel(4);
            /// tx.try_send(()).unwrap();
            /// assert_eq!(rx.len(), 1);
            /// ```
            pub fn len(&self) -> usize {
                self.chan.with(|c| c.len())
            }

            /// True if no message is buffered.
            ///
            /// ```
            #[doc = concat!("use corun::sync::", $m, "::channel;")]
            ///
            /// let (_tx, rx) = channel::<()>(4);
            /// assert!(rx.is_empty());
            /// ```
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }
        }

        impl<T> Drop for Receiver<T> {
            fn drop(&mut self) {
                self.close();
                // Run the messages' destructors once the state is let go;
                // the last waker goes too (it may keep a finished task's
                // memory alive).
                let (left, waker) = self.chan.with(|c| c.take_leftovers());
                drop(left);
                drop(waker);
            }
        }

        impl<T> fmt::Debug for Receiver<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!($debug, "Receiver { .. }"))
            }
        }

        impl<T> futures_core::Stream for Receiver<T> {
            type Item = T;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
                self.get_mut().poll_recv(cx)
            }
        }

        /// Terminated once a receive returned `None`, so `futures::select!`
        /// takes the receiver (and its `next()`) without `.fuse()`.
        ///
        /// ```
        /// use futures_core::stream::FusedStream;
        #[doc = concat!("use corun::sync::", $m, "::channel;")]
        ///
        /// corun::run(async {
        ///     let (tx, mut rx) = channel::<u8>(1);
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

        /// Terminated once its receiver has returned `None`, so
        /// `futures::select!` takes `rx.recv()` without `.fuse()`.
        ///
        /// ```
        /// use futures_core::future::FusedFuture;
        #[doc = concat!("use corun::sync::", $m, "::channel;")]
        ///
        /// corun::run(async {
        ///     let (tx, mut rx) = channel::<u8>(1);
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
        #[doc = concat!("use corun::sync::", $m, "::{channel, RecvFuture};")]
        ///
        /// corun::run(async {
        ///     let (tx, mut rx) = channel(1);
        ///     tx.try_send(9).unwrap();
        ///     let fut: RecvFuture<'_, i32> = rx.recv();
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

            // Always inline, as `SendFuture::poll`.
            #[inline(always)]
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
                    self.rx.chan.with(|c| c.stop_waiting());
                }
            }
        }
    };
}

pub(crate) use channel_ends;

/// `Clone` (one more sender), `Drop` (one sender less) and `Debug` for the
/// sender type `$name` of [`channel_ends!`].
macro_rules! sender_impls {
    ($name:ident, $debug:literal) => {
        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                self.chan.add_sender();
                $name {
                    chan: self.chan.clone(),
                }
            }
        }

        impl<T> Drop for $name<T> {
            fn drop(&mut self) {
                drop_sender(&self.chan);
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!($debug, stringify!($name), " { .. }"))
            }
        }
    };
}

pub(crate) use sender_impls;
