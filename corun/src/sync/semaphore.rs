//! [`Semaphore`]: counted permits, handed to waiters in FIFO order.
//!
//! A released permit goes straight to the oldest waiter (it is removed from
//! the [`WaitQueue`] and so knows it holds the permit), so a newcomer can
//! never overtake a waiter. This file must NOT touch the scheduler.

use super::{WaitQueue, lock, wake_all};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

struct State {
    /// Permits nobody holds and nobody was granted.
    permits: usize,
    /// Set by `close`: acquires fail, queued waiters are woken.
    closed: bool,
    /// Tasks waiting for a permit, oldest first.
    waiters: WaitQueue,
}

impl State {
    /// Returns one permit: to the oldest waiter if any (returning its waker
    /// to call after unlocking), else to the pool.
    fn release(&mut self) -> Option<Waker> {
        if !self.closed {
            if let Some((_, waker)) = self.waiters.pop_front() {
                return waker;
            }
        }
        self.permits = self.permits.saturating_add(1);
        None
    }
}

/// Counted permits with FIFO waking and `close`.
///
/// ```
/// use corun::sync::Semaphore;
///
/// corun::run(async {
///     let sem = Semaphore::new(2);
///     let a = sem.acquire().await.unwrap();
///     let _b = sem.acquire().await.unwrap();
///     assert_eq!(sem.available_permits(), 0);
///     drop(a);
///     assert_eq!(sem.available_permits(), 1);
/// });
/// ```
pub struct Semaphore {
    /// A std mutex, not an async one: nothing awaits while it is held.
    state: Mutex<State>,
}

/// The semaphore was closed.
///
/// ```
/// use corun::sync::{AcquireError, Semaphore};
///
/// corun::run(async {
///     let sem = Semaphore::new(1);
///     sem.close();
///     assert_eq!(sem.acquire().await.unwrap_err(), AcquireError);
/// });
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct AcquireError;

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why [`Semaphore::try_acquire`] failed.
///
/// ```
/// use corun::sync::{Semaphore, TryAcquireError};
///
/// let sem = Semaphore::new(0);
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// sem.close();
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryAcquireError {
    /// No permit free now (or others are queued for one).
    NoPermits,
    /// The semaphore was closed.
    Closed,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::NoPermits => f.write_str("no permits available"),
            TryAcquireError::Closed => f.write_str("semaphore closed"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

impl Semaphore {
    /// A semaphore with `permits` permits. `const`, so it can be a `static`.
    ///
    /// ```
    /// use corun::sync::Semaphore;
    ///
    /// static LIMIT: Semaphore = Semaphore::new(10);
    /// assert_eq!(LIMIT.available_permits(), 10);
    /// ```
    pub const fn new(permits: usize) -> Self {
        Semaphore {
            state: Mutex::new(State {
                permits,
                closed: false,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Waits for a permit; fails once the semaphore is closed. Waiters get
    /// permits in the order they first waited. Dropping the future while it
    /// waits leaves the queue; a permit already granted to it passes on.
    ///
    /// ```
    /// use corun::sync::Semaphore;
    ///
    /// corun::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await.unwrap();
    ///     assert!(sem.try_acquire().is_err());
    ///     drop(permit);
    ///     assert!(sem.try_acquire().is_ok());
    /// });
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            sem: self,
            id: None,
        }
    }

    /// Takes a permit if one is free and nobody is queued.
    ///
    /// ```
    /// use corun::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(p);
    /// ```
    pub fn try_acquire(&self) -> Result<Permit<'_>, TryAcquireError> {
        let mut st = lock(&self.state);
        if st.closed {
            return Err(TryAcquireError::Closed);
        }
        if st.permits == 0 || !st.waiters.is_empty() {
            return Err(TryAcquireError::NoPermits);
        }
        st.permits -= 1;
        Ok(Permit { sem: self })
    }

    /// Adds `n` permits, waking up to `n` waiters (oldest first).
    ///
    /// ```
    /// use corun::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let mut wakers = Vec::new();
        let mut st = lock(&self.state);
        let mut granted = 0;
        while granted < n && !st.closed {
            let Some((_, waker)) = st.waiters.pop_front() else {
                break;
            };
            granted += 1;
            wakers.extend(waker);
        }
        st.permits = st.permits.saturating_add(n - granted);
        drop(st);
        wake_all(wakers);
    }

    /// Permits free right now.
    ///
    /// ```
    /// use corun::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// Closes the semaphore: every waiting and later acquire fails with
    /// [`AcquireError`]. Permits already held stay valid and are returned
    /// to the count when dropped.
    ///
    /// ```
    /// use corun::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert!(sem.try_acquire().is_err());
    /// ```
    pub fn close(&self) {
        let mut st = lock(&self.state);
        if st.closed {
            return;
        }
        st.closed = true;
        let wakers = st.waiters.take_wakers();
        drop(st);
        wake_all(wakers);
    }

    /// True once [`close`](Self::close) was called.
    ///
    /// ```
    /// use corun::sync::Semaphore;
    ///
    /// assert!(!Semaphore::new(1).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    fn release_one(&self) {
        let waker = lock(&self.state).release();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("permits", &st.permits)
            .field("closed", &st.closed)
            .finish()
    }
}

/// One permit of a [`Semaphore`], returned when dropped.
///
/// ```
/// use corun::sync::Semaphore;
///
/// let sem = Semaphore::new(1);
/// {
///     let _permit = sem.try_acquire().unwrap();
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permit is released as soon as it is dropped"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
}

impl Permit<'_> {
    /// Keeps the permit taken forever (it is not returned on drop).
    ///
    /// ```
    /// use corun::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.sem.release_one();
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permit { .. }")
    }
}

/// Future of [`Semaphore::acquire`].
///
/// ```
/// use corun::sync::{Acquire, Semaphore};
///
/// corun::run(async {
///     let sem = Semaphore::new(1);
///     let fut: Acquire<'_> = sem.acquire();
///     assert!(fut.await.is_ok());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    /// Our place in the wait queue once queued.
    id: Option<u64>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Permit<'a>, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sem = self.sem;
        let mut st = lock(&sem.state);
        match self.id {
            None => {
                if st.closed {
                    return Poll::Ready(Err(AcquireError));
                }
                if st.permits > 0 && st.waiters.is_empty() {
                    st.permits -= 1;
                    return Poll::Ready(Ok(Permit { sem }));
                }
                self.id = Some(st.waiters.push(Some(cx.waker())));
                Poll::Pending
            }
            Some(id) => {
                if st.waiters.update(id, cx.waker()) {
                    if st.closed {
                        st.waiters.remove(id);
                        self.id = None;
                        return Poll::Ready(Err(AcquireError));
                    }
                    return Poll::Pending;
                }
                // Granted: the permit is ours.
                self.id = None;
                if st.closed {
                    st.permits = st.permits.saturating_add(1);
                    return Poll::Ready(Err(AcquireError));
                }
                Poll::Ready(Ok(Permit { sem }))
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let mut st = lock(&self.sem.state);
        if st.waiters.remove(id) {
            return;
        }
        // Granted but never taken: pass the permit on.
        let waker = st.release();
        drop(st);
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    #[test]
    fn permits_are_counted() {
        let sem = Semaphore::new(2);
        let a = sem.try_acquire().unwrap();
        let b = sem.try_acquire().unwrap();
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        drop(a);
        assert_eq!(sem.available_permits(), 1);
        b.forget();
        sem.add_permits(3);
        assert_eq!(sem.available_permits(), 4);
    }

    #[test]
    fn waiters_are_served_in_fifo_order_without_overtaking() {
        let sem = Semaphore::new(1);
        let (w, _) = counting();
        let held = sem.try_acquire().unwrap();
        let mut futs: Vec<_> = (0..4).map(|_| sem.acquire()).collect();
        for f in &mut futs {
            assert!(poll(f, &w).is_pending());
        }
        drop(held); // granted to futs[0]
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        // Later waiters stay pending even when polled first.
        for f in futs.iter_mut().skip(1).rev() {
            assert!(poll(f, &w).is_pending());
        }
        for i in 0..4 {
            let Poll::Ready(Ok(p)) = poll(&mut futs[i], &w) else {
                panic!("waiter {i} should hold the permit");
            };
            for f in futs.iter_mut().skip(i + 1) {
                assert!(poll(f, &w).is_pending());
            }
            drop(p);
        }
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn add_permits_wakes_that_many_waiters() {
        let sem = Semaphore::new(0);
        let (w, count) = counting();
        let mut futs: Vec<_> = (0..3).map(|_| sem.acquire()).collect();
        for f in &mut futs {
            assert!(poll(f, &w).is_pending());
        }
        sem.add_permits(2);
        assert_eq!(count.get(), 2);
        assert_eq!(sem.available_permits(), 0);
        assert!(poll(&mut futs[2], &w).is_pending());
        sem.add_permits(5);
        assert_eq!(sem.available_permits(), 4);
    }

    #[test]
    fn close_fails_waiting_and_new_acquires_and_keeps_counts() {
        let sem = Semaphore::new(1);
        let (w, count) = counting();
        let held = sem.try_acquire().unwrap();
        let mut a = sem.acquire();
        let mut b = sem.acquire();
        assert!(poll(&mut a, &w).is_pending());
        assert!(poll(&mut b, &w).is_pending());
        drop(held); // granted to `a` before the close
        sem.close();
        assert_eq!(count.get(), 2);
        assert!(matches!(poll(&mut a, &w), Poll::Ready(Err(AcquireError))));
        assert!(matches!(poll(&mut b, &w), Poll::Ready(Err(AcquireError))));
        assert!(block_on(sem.acquire()).is_err());
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn dropped_acquire_loses_no_permit() {
        let sem = Semaphore::new(1);
        let (w, count) = counting();
        let held = sem.try_acquire().unwrap();
        let mut a = sem.acquire();
        let mut b = sem.acquire();
        let mut c = sem.acquire();
        assert!(poll(&mut a, &w).is_pending());
        assert!(poll(&mut b, &w).is_pending());
        assert!(poll(&mut c, &w).is_pending());
        drop(b); // queued: leaves
        drop(held); // grants `a`
        drop(a); // granted, unused: passes to `c`
        assert_eq!(count.get(), 2);
        let Poll::Ready(Ok(p)) = poll(&mut c, &w) else {
            panic!("c should have the permit");
        };
        drop(p);
        drop(c);
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn cross_thread_mutual_exclusion_holds() {
        let rounds = rounds(10_000);
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (sem, inside, total) = (sem.clone(), inside.clone(), total.clone());
                thread::spawn(move || {
                    block_on(async {
                        for _ in 0..rounds {
                            let _p = sem.acquire().await.unwrap();
                            let n = inside.fetch_add(1, Ordering::SeqCst);
                            assert!(n < 2, "more holders than permits");
                            total.fetch_add(1, Ordering::SeqCst);
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    })
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(total.load(Ordering::SeqCst), 4 * rounds);
        assert_eq!(sem.available_permits(), 2);
    }
}
