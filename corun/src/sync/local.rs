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
//! The state machine itself is `chan.rs`, and the ends are written once
//! for both flavours in `ends.rs`; this file only says how the ends reach
//! the state: a `RefCell` in an `Rc`, with a plain sender count. It must
//! NOT touch the scheduler: the only coupling is the `Waker`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::chan::Chan;
use super::ends::{ChanRef, channel_ends};

/// The channel shared by all ends: the state of `chan.rs`, borrowed for
/// one step at a time, and the number of live senders.
struct Inner<T> {
    chan: RefCell<Chan<T>>,
    senders: Cell<usize>,
}

/// How the ends hold the channel.
type ChanRc<T> = Rc<Inner<T>>;

impl<T> ChanRef<T> for ChanRc<T> {
    fn new_chan(cap: usize) -> Self {
        Rc::new(Inner {
            chan: RefCell::new(Chan::new(cap)),
            senders: Cell::new(1),
        })
    }

    // Always inline: the send and receive futures' polls are built of it,
    // and a call per step costs a frame.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Chan<T>) -> R) -> R {
        f(&mut self.chan.borrow_mut())
    }

    fn add_sender(&self) {
        self.senders.set(self.senders.get() + 1);
    }

    fn remove_sender(&self) -> bool {
        let n = self.senders.get() - 1;
        self.senders.set(n);
        n == 0
    }

    #[inline]
    fn senders_gone(&self) -> bool {
        self.senders.get() == 0
    }
}

channel_ends!(module: "local", chan: ChanRc, debug: "local::", what: "single-thread channel");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::mpsc::{TryRecvError, TrySendError};
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
