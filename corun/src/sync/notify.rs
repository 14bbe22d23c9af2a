//! [`Notify`]: wake-ups without data, with one stored permit (like
//! tokio's). Its latching sibling, `Event`, is in `event.rs`. This file must
//! NOT touch the scheduler.

use super::{WaitQueue, lock, wake_all};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

struct State {
    /// One stored `notify_one` that found nobody waiting.
    permit: bool,
    /// Registered `Notified` futures, oldest first.
    waiters: WaitQueue,
    /// Ids popped by `notify_one` whose futures have not completed yet: if
    /// such a future is dropped, its notification passes on.
    one_notified: Vec<u64>,
}

impl State {
    /// Notifies the oldest waiter, or stores the permit.
    fn notify_one(&mut self) -> Option<Waker> {
        match self.waiters.pop_front() {
            Some((id, waker)) => {
                self.one_notified.push(id);
                waker
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

/// Notifies tasks: [`notify_one`](Notify::notify_one) wakes the oldest
/// waiter or, if none waits, stores one permit that the next
/// [`notified`](Notify::notified) consumes at once;
/// [`notify_waiters`](Notify::notify_waiters) wakes every registered waiter
/// and stores nothing.
///
/// ```
/// use corun::sync::Notify;
/// use std::sync::Arc;
///
/// corun::run(async {
///     let notify = Arc::new(Notify::new());
///     let n2 = notify.clone();
///     let task = corun::spawn(async move {
///         n2.notified().await;
///         "woken"
///     });
///     notify.notify_one();
///     assert_eq!(task.await.unwrap(), "woken");
/// });
/// ```
pub struct Notify {
    state: Mutex<State>,
}

impl Notify {
    /// A `Notify` with no permit stored. `const`, so it can be a `static`.
    ///
    /// ```
    /// use corun::sync::Notify;
    ///
    /// static READY: Notify = Notify::new();
    /// READY.notify_one();
    /// ```
    pub const fn new() -> Self {
        Notify {
            state: Mutex::new(State {
                permit: false,
                waiters: WaitQueue::new(),
                one_notified: Vec::new(),
            }),
        }
    }

    /// Wakes the oldest registered waiter; if there is none, stores a
    /// permit (at most one) for the next `notified()`.
    ///
    /// ```
    /// use corun::sync::Notify;
    ///
    /// corun::run(async {
    ///     let n = Notify::new();
    ///     n.notify_one();
    ///     n.notified().await; // consumes the stored permit
    /// });
    /// ```
    pub fn notify_one(&self) {
        let waker = lock(&self.state).notify_one();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every currently registered waiter (polled at least once, or
    /// [`enable`](Notified::enable)d). Stores no permit.
    ///
    /// ```
    /// use corun::sync::Notify;
    /// use std::sync::Arc;
    ///
    /// corun::run(async {
    ///     let n = Arc::new(Notify::new());
    ///     let tasks: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let n = n.clone();
    ///             corun::spawn(async move { n.notified().await })
    ///         })
    ///         .collect();
    ///     corun::yield_now().await; // let them register
    ///     n.notify_waiters();
    ///     for t in tasks {
    ///         t.await.unwrap();
    ///     }
    /// });
    /// ```
    pub fn notify_waiters(&self) {
        let wakers = lock(&self.state).waiters.drain();
        wake_all(wakers);
    }

    /// A future that completes when notified. It registers on its first
    /// poll (or on [`Notified::enable`]); a stored permit completes it at
    /// once. Dropping it after `notify_one` picked it but before it
    /// completed passes the notification to the next waiter.
    ///
    /// ```
    /// use corun::sync::Notify;
    ///
    /// corun::run(async {
    ///     let n = Notify::new();
    ///     n.notify_one();
    ///     n.notified().await;
    /// });
    /// ```
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            state: Wait::Init,
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Notify { .. }")
    }
}

/// Where a `Notified` future stands.
#[derive(Clone, Copy)]
enum Wait {
    /// Not registered yet.
    Init,
    /// Queued under this id (or already popped by a notify).
    Waiting(u64),
    /// Took the stored permit in `enable`; completes on the next poll.
    Holding,
    /// Completed.
    Done,
}

/// Future of [`Notify::notified`].
///
/// ```
/// use corun::sync::{Notified, Notify};
///
/// corun::run(async {
///     let n = Notify::new();
///     let fut: Notified<'_> = n.notified();
///     n.notify_one();
///     fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    state: Wait,
}

impl Notified<'_> {
    /// Registers now, without polling, so a `notify_waiters` issued before
    /// the first poll still counts (check-then-wait across threads).
    ///
    /// ```
    /// use corun::sync::Notify;
    ///
    /// corun::run(async {
    ///     let n = Notify::new();
    ///     let mut fut = std::pin::pin!(n.notified());
    ///     fut.as_mut().enable();
    ///     n.notify_waiters();
    ///     fut.await;
    /// });
    /// ```
    pub fn enable(self: Pin<&mut Self>) {
        let this = self.get_mut();
        if let Wait::Init = this.state {
            let mut st = lock(&this.notify.state);
            if st.permit {
                st.permit = false;
                this.state = Wait::Holding;
            } else {
                this.state = Wait::Waiting(st.waiters.push(None));
            }
        }
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.state {
            Wait::Done => Poll::Ready(()),
            Wait::Holding => {
                this.state = Wait::Done;
                Poll::Ready(())
            }
            Wait::Init => {
                let mut st = lock(&this.notify.state);
                if st.permit {
                    st.permit = false;
                    this.state = Wait::Done;
                    return Poll::Ready(());
                }
                this.state = Wait::Waiting(st.waiters.push(Some(cx.waker())));
                Poll::Pending
            }
            Wait::Waiting(id) => {
                let mut st = lock(&this.notify.state);
                if st.waiters.update(id, cx.waker()) {
                    return Poll::Pending;
                }
                if let Some(i) = st.one_notified.iter().position(|&x| x == id) {
                    st.one_notified.swap_remove(i);
                }
                this.state = Wait::Done;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let waker = match self.state {
            Wait::Init | Wait::Done => return,
            Wait::Holding => lock(&self.notify.state).notify_one(),
            Wait::Waiting(id) => {
                let mut st = lock(&self.notify.state);
                if st.waiters.remove(id) {
                    return;
                }
                let Some(i) = st.one_notified.iter().position(|&x| x == id) else {
                    return; // woken by notify_waiters: nothing to pass on
                };
                st.one_notified.swap_remove(i);
                st.notify_one()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::test_util::{block_on, counting, poll, rounds};
    use std::sync::Arc;
    use std::thread;

    /// Two `notified()` futures of `n`, polled once (so registered, oldest
    /// first) with `wa` and `wb`.
    fn two_waiting<'a>(n: &'a Notify, wa: &Waker, wb: &Waker) -> (Notified<'a>, Notified<'a>) {
        let mut a = n.notified();
        let mut b = n.notified();
        assert!(poll(&mut a, wa).is_pending());
        assert!(poll(&mut b, wb).is_pending());
        (a, b)
    }

    #[test]
    fn notify_one_without_waiter_stores_a_single_permit() {
        let n = Notify::new();
        let (w, _) = counting();
        n.notify_one();
        n.notify_one();
        assert!(poll(&mut n.notified(), &w).is_ready());
        assert!(poll(&mut n.notified(), &w).is_pending());
    }

    #[test]
    fn notify_waiters_wakes_all_registered_and_stores_nothing() {
        let n = Notify::new();
        let (w, count) = counting();
        let (mut a, mut b) = two_waiting(&n, &w, &w);
        n.notify_waiters();
        assert_eq!(count.get(), 2);
        assert!(poll(&mut a, &w).is_ready());
        assert!(poll(&mut b, &w).is_ready());
        assert!(poll(&mut n.notified(), &w).is_pending());
    }

    #[test]
    fn notify_one_wakes_only_the_oldest_waiter() {
        let n = Notify::new();
        let (wa, ca) = counting();
        let (wb, cb) = counting();
        let (mut a, mut b) = two_waiting(&n, &wa, &wb);
        n.notify_one();
        assert_eq!((ca.get(), cb.get()), (1, 0));
        assert!(poll(&mut b, &wb).is_pending());
        assert!(poll(&mut a, &wa).is_ready());
    }

    #[test]
    fn dropped_notified_passes_a_notify_one_on() {
        let n = Notify::new();
        let (w, count) = counting();
        let (a, mut b) = two_waiting(&n, &w, &w);
        n.notify_one();
        drop(a);
        assert_eq!(count.get(), 2);
        assert!(poll(&mut b, &w).is_ready());
        // With nobody left, a dropped notified() returns it as the permit.
        let mut c = n.notified();
        assert!(poll(&mut c, &w).is_pending());
        n.notify_one();
        drop(c);
        assert!(poll(&mut n.notified(), &w).is_ready());
    }

    #[test]
    fn dropped_notified_after_notify_waiters_stores_nothing() {
        let n = Notify::new();
        let (w, _) = counting();
        let mut a = n.notified();
        assert!(poll(&mut a, &w).is_pending());
        n.notify_waiters();
        drop(a);
        assert!(poll(&mut n.notified(), &w).is_pending());
    }

    #[test]
    fn enabled_notified_sees_an_earlier_notify_waiters() {
        let n = Notify::new();
        let (w, _) = counting();
        let mut a = std::pin::pin!(n.notified());
        a.as_mut().enable();
        n.notify_waiters();
        let mut cx = Context::from_waker(&w);
        assert!(a.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn cross_thread_notify_one_is_never_lost() {
        let rounds = rounds(10_000);
        let ping = Arc::new(Notify::new());
        let pong = Arc::new(Notify::new());
        let (ping2, pong2) = (ping.clone(), pong.clone());
        let h = thread::spawn(move || {
            block_on(async {
                for _ in 0..rounds {
                    ping2.notified().await;
                    pong2.notify_one();
                }
            })
        });
        block_on(async {
            for _ in 0..rounds {
                ping.notify_one();
                pong.notified().await;
            }
        });
        h.join().unwrap();
    }
}
