//! [`Event`]: a latching flag, like Python's `threading.Event` (the seed's
//! "Event"): once set, every wait completes at once until it is cleared.
//! This file must NOT touch the scheduler.

use super::{WaitQueue, lock, wake_all};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// A latching flag: once [`set`](Event::set), every
/// [`wait`](Event::wait) completes at once until [`clear`](Event::clear).
///
/// ```
/// use corun::sync::Event;
/// use std::sync::Arc;
///
/// corun::run(async {
///     let ev = Arc::new(Event::new());
///     let ev2 = ev.clone();
///     let task = corun::spawn(async move { ev2.wait().await });
///     ev.set();
///     task.await.unwrap();
///     ev.wait().await; // still set
/// });
/// ```
pub struct Event {
    /// The flag; read without the lock on the fast path.
    set: AtomicBool,
    /// Waiters registered while the flag was clear.
    waiters: Mutex<WaitQueue>,
}

impl Event {
    /// A clear event. `const`, so it can be a `static`.
    ///
    /// ```
    /// use corun::sync::Event;
    ///
    /// static SHUTDOWN: Event = Event::new();
    /// assert!(!SHUTDOWN.is_set());
    /// ```
    pub const fn new() -> Self {
        Event {
            set: AtomicBool::new(false),
            waiters: Mutex::new(WaitQueue::new()),
        }
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// ```
    /// use corun::sync::Event;
    ///
    /// let ev = Event::new();
    /// ev.set();
    /// assert!(ev.is_set());
    /// ```
    pub fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
        let wakers = lock(&self.waiters).drain();
        wake_all(wakers);
    }

    /// Clears the flag; later `wait`s wait again. Waiters already woken by
    /// a `set` still complete.
    ///
    /// ```
    /// use corun::sync::Event;
    ///
    /// let ev = Event::new();
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// ```
    pub fn clear(&self) {
        self.set.store(false, Ordering::SeqCst);
    }

    /// True while the flag is set.
    ///
    /// ```
    /// use corun::sync::Event;
    ///
    /// assert!(!Event::new().is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Completes once the flag is set (at once if it already is).
    ///
    /// ```
    /// use corun::sync::Event;
    ///
    /// corun::run(async {
    ///     let ev = Event::new();
    ///     ev.set();
    ///     ev.wait().await;
    /// });
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            id: None,
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

/// Future of [`Event::wait`].
///
/// ```
/// use corun::sync::{Event, EventWait};
///
/// corun::run(async {
///     let ev = Event::new();
///     ev.set();
///     let fut: EventWait<'_> = ev.wait();
///     fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    /// Our place in the wait queue once queued.
    id: Option<u64>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let ev = self.event;
        if self.id.is_none() && ev.is_set() {
            return Poll::Ready(());
        }
        let mut q = lock(&ev.waiters);
        match self.id {
            None => {
                // Re-check under the lock: `set` stores the flag before it
                // locks to drain, so either we see it or it sees us.
                if ev.is_set() {
                    return Poll::Ready(());
                }
                self.id = Some(q.push(Some(cx.waker())));
                Poll::Pending
            }
            Some(id) => {
                if ev.is_set() {
                    q.remove(id);
                } else if q.update(id, cx.waker()) {
                    return Poll::Pending;
                }
                // Set now, or drained by a `set` since (even if cleared).
                self.id = None;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            lock(&self.event.waiters).remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::test_util::{block_on, counting, poll};
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn event_latches_until_cleared() {
        let ev = Event::new();
        let (w, count) = counting();
        let mut a = ev.wait();
        assert!(poll(&mut a, &w).is_pending());
        ev.set();
        assert_eq!(count.get(), 1);
        ev.clear();
        // Woken by the set, so it completes even though cleared since.
        assert!(poll(&mut a, &w).is_ready());
        assert!(poll(&mut ev.wait(), &w).is_pending());
        ev.set();
        assert!(poll(&mut ev.wait(), &w).is_ready());
        assert!(ev.is_set());
    }

    #[test]
    fn dropped_event_wait_removes_its_waker() {
        let ev = Event::new();
        let (w, count) = counting();
        let mut a = ev.wait();
        assert!(poll(&mut a, &w).is_pending());
        drop(a);
        ev.set();
        assert_eq!(count.get(), 0);
    }

    #[test]
    fn cross_thread_event_wakes_every_waiter() {
        let ev = Arc::new(Event::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let ev = ev.clone();
                thread::spawn(move || block_on(ev.wait()))
            })
            .collect();
        ev.set();
        for h in handles {
            h.join().unwrap();
        }
    }
}
