//! The core of [`Mutex`](super::Mutex) and [`RwLock`](super::RwLock): a
//! reader-writer lock with a FIFO queue of waiters and hand-off.
//!
//! Rules:
//! * Grants go in queue order: a release grants the oldest waiter (a
//!   writer alone, or the run of readers at the front) by removing it from
//!   the queue; the future finds out it was granted by no longer being
//!   queued. A newcomer never overtakes a waiter (`try_*` fail while
//!   anyone waits), so neither readers nor writers starve.
//! * Cancellation loses nothing: a future dropped while queued leaves the
//!   queue (and lets the waiters behind it go, if it was what held them
//!   back); one dropped after being granted, before it saw the grant,
//!   releases it.
//! * Wakers are called after the state's lock is released.
//!
//! This file must NOT touch the scheduler or the values the locks guard.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use super::{lock, store_waker, wake_all};

/// Shared or exclusive access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    Read,
    Write,
}

struct Waiter {
    id: u64,
    access: Access,
    waker: Option<Waker>,
}

struct State {
    /// Readers holding the lock.
    readers: usize,
    /// A writer holds the lock.
    writer: bool,
    /// Waiting futures, oldest first, ids increasing.
    queue: VecDeque<Waiter>,
    next_id: u64,
}

impl State {
    fn fits(&self, access: Access) -> bool {
        match access {
            Access::Read => !self.writer,
            Access::Write => !self.writer && self.readers == 0,
        }
    }

    fn take(&mut self, access: Access) {
        match access {
            Access::Read => self.readers += 1,
            Access::Write => self.writer = true,
        }
    }

    /// Grants waiters from the front while they fit; their wakers.
    fn grant(&mut self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        while let Some(front) = self.queue.front() {
            if !self.fits(front.access) {
                break;
            }
            let w = self.queue.pop_front().expect("front exists");
            self.take(w.access);
            wakers.extend(w.waker);
        }
        wakers
    }

    fn release(&mut self, access: Access) -> Vec<Waker> {
        match access {
            Access::Read => self.readers -= 1,
            Access::Write => self.writer = false,
        }
        self.grant()
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.queue.binary_search_by_key(&id, |w| w.id).ok()
    }
}

/// The FIFO reader-writer lock (no value).
pub(crate) struct RawLock {
    /// A std mutex, not an async one: held only to update the counts and
    /// the queue, never across an await.
    state: Mutex<State>,
}

impl RawLock {
    pub(crate) const fn new() -> RawLock {
        RawLock {
            state: Mutex::new(State {
                readers: 0,
                writer: false,
                queue: VecDeque::new(),
                next_id: 0,
            }),
        }
    }

    /// Takes `access` now if it is free and nobody waits.
    pub(crate) fn try_acquire(&self, access: Access) -> bool {
        let mut st = lock(&self.state);
        if st.queue.is_empty() && st.fits(access) {
            st.take(access);
            true
        } else {
            false
        }
    }

    /// Waits for `access` in FIFO order.
    pub(crate) fn acquire(&self, access: Access) -> RawAcquire<'_> {
        RawAcquire {
            lock: self,
            access,
            id: None,
            done: false,
        }
    }

    /// Gives `access` back (a guard's drop), granting waiters.
    pub(crate) fn release(&self, access: Access) {
        let wakers = lock(&self.state).release(access);
        wake_all(wakers);
    }

    /// Readers holding the lock, and whether a writer does (for `Debug`).
    pub(crate) fn holders(&self) -> (usize, bool) {
        let st = lock(&self.state);
        (st.readers, st.writer)
    }
}

/// Future of [`RawLock::acquire`]: resolves once the access is held (the
/// caller then owns one release).
pub(crate) struct RawAcquire<'a> {
    lock: &'a RawLock,
    access: Access,
    /// Queue id once queued.
    id: Option<u64>,
    /// Resolved: the access belongs to the caller now.
    done: bool,
}

impl Future for RawAcquire<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(());
        }
        let mut st = lock(&this.lock.state);
        match this.id {
            None => {
                if st.queue.is_empty() && st.fits(this.access) {
                    st.take(this.access);
                    this.done = true;
                    return Poll::Ready(());
                }
                let id = st.next_id;
                st.next_id += 1;
                st.queue.push_back(Waiter {
                    id,
                    access: this.access,
                    waker: Some(cx.waker().clone()),
                });
                this.id = Some(id);
                Poll::Pending
            }
            Some(id) => match st.position(id) {
                Some(i) => {
                    store_waker(&mut st.queue[i].waker, cx.waker());
                    Poll::Pending
                }
                None => {
                    // Granted by a release: no longer queued.
                    this.done = true;
                    Poll::Ready(())
                }
            },
        }
    }
}

impl Drop for RawAcquire<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(id) = self.id else { return };
        let wakers = {
            let mut st = lock(&self.lock.state);
            match st.position(id) {
                // Still waiting: leave, and let those behind go if we
                // were what held them back.
                Some(i) => {
                    st.queue.remove(i);
                    st.grant()
                }
                // Granted but never seen: hand it on.
                None => st.release(self.access),
            }
        };
        wake_all(wakers);
    }
}
