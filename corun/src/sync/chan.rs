//! The state machine of a multi-producer, single-consumer channel, shared by
//! [`mpsc`](super::mpsc) (which keeps it behind a `Mutex`) and
//! [`local`](super::local) (behind a `RefCell`).
//!
//! Messages live in one ring buffer (`VecDeque`) allocated up front (up to
//! 1024 slots, growing only past that), so sending allocates nothing.
//! Senders blocked on a full channel wait in a FIFO [`WaitQueue`]; a slot
//! freed by a receive is *granted* to the oldest of them (counted in
//! `reserved`), so a newcomer cannot overtake it. The receiver's last waker
//! is kept after a wake (only `rx_waiting` is cleared), so a receiver that
//! waits again from the same task stores nothing and a sender wakes it
//! without taking it: no waker clone or drop, hence no reference-count
//! atomics, per message.
//!
//! Every method runs with the state borrowed (locked). Wakers that may run
//! user code are handed back for the caller to call once the borrow ends;
//! only corun task wakers, which merely queue their task, are woken in
//! place. This file knows neither the lock nor the scheduler.

use std::collections::VecDeque;
use std::task::Waker;

use super::mpsc::{SendError, TrySendError};
use super::{WaitQueue, store_waker};

/// What one poll of a send did.
pub(crate) enum SendStep<T> {
    /// Pushed; wake this (the receiver's foreign waker) after unlocking.
    Done(Option<Waker>),
    /// The channel is closed: the value comes back.
    Closed(T),
    /// Full: the sender is queued (its id in the future); keep the value.
    Wait(T),
}

/// What one poll of a receive did.
pub(crate) enum RecvStep<T> {
    /// A message, and a granted sender's waker to call after unlocking.
    Msg(T, Option<Waker>),
    /// Empty and no sender left (or closed): the end of the stream.
    End,
    /// Empty; the receiver waits (its waker is stored if one was given).
    Empty,
}

/// The channel state (see the module docs).
pub(crate) struct Chan<T> {
    /// The messages, oldest first.
    buf: VecDeque<T>,
    /// Maximum `buf.len() + reserved`; `usize::MAX` when unbounded.
    cap: usize,
    /// Slots granted to popped sender waiters that have not pushed yet.
    reserved: usize,
    /// The receiver's last waker.
    rx_waker: Option<Waker>,
    /// True while the receiver waits for a message.
    rx_waiting: bool,
    /// Senders waiting for a slot, oldest first.
    send_waiters: WaitQueue,
    /// Set by `close` (the receiver's close or drop): sends fail.
    closed: bool,
}

impl<T> Chan<T> {
    /// An empty channel holding up to `cap` messages.
    pub(crate) fn new(cap: usize) -> Chan<T> {
        Chan {
            buf: VecDeque::with_capacity(cap.min(1024)),
            cap,
            reserved: 0,
            rx_waker: None,
            rx_waiting: false,
            send_waiters: WaitQueue::new(),
            closed: false,
        }
    }

    /// True if a sender that is not queued may push now.
    fn has_room(&self) -> bool {
        self.send_waiters.is_empty() && self.buf.len() + self.reserved < self.cap
    }

    /// Grants a freed slot to the oldest waiting sender; returns its waker.
    /// Inline, with the grant itself out of line: a receive calls it every
    /// time, and mostly nobody waits.
    #[inline]
    fn grant(&mut self) -> Option<Waker> {
        if self.send_waiters.is_empty() || self.closed || self.buf.len() + self.reserved >= self.cap
        {
            return None;
        }
        self.grant_oldest()
    }

    /// [`Chan::grant`] once a slot is free and a sender waits.
    #[inline(never)]
    fn grant_oldest(&mut self) -> Option<Waker> {
        let (_, waker) = self.send_waiters.pop_front()?;
        self.reserved += 1;
        waker
    }

    /// Pushes `value` (room already checked) and wakes a waiting receiver:
    /// a corun task waker right here, any other one returned (a clone, made
    /// out of line: the inline path is the task waker's). Always inline:
    /// a send's poll is built of it, and out of line it is a frame per
    /// send.
    #[inline(always)]
    fn push(&mut self, value: T) -> Option<Waker> {
        self.buf.push_back(value);
        if !self.rx_waiting {
            return None;
        }
        self.rx_waiting = false;
        let w = self.rx_waker.as_ref()?;
        if crate::task::waker::is_task_waker(w) {
            crate::task::waker::wake_task_by_ref(w);
            None
        } else {
            clone_waker(w)
        }
    }

    /// `try_send`: pushes if there is room now.
    pub(crate) fn try_send(&mut self, value: T) -> Result<Option<Waker>, TrySendError<T>> {
        if self.closed {
            return Err(TrySendError::Closed(value));
        }
        if !self.has_room() {
            return Err(TrySendError::Full(value));
        }
        Ok(self.push(value))
    }

    /// An unbounded send: pushes unless closed.
    pub(crate) fn send_now(&mut self, value: T) -> Result<Option<Waker>, SendError<T>> {
        if self.closed {
            return Err(SendError(value));
        }
        Ok(self.push(value))
    }

    /// One poll of a bounded send future; `id` is its place in the queue.
    /// Inline for the send that finds room; the rest is out of line.
    #[inline]
    pub(crate) fn poll_send(
        &mut self,
        value: T,
        id: &mut Option<u64>,
        waker: &Waker,
    ) -> SendStep<T> {
        if !self.closed && id.is_none() && self.has_room() {
            return SendStep::Done(self.push(value));
        }
        self.poll_send_slow(value, id, waker)
    }

    /// [`Chan::poll_send`] of a send that is queued, must queue, or meets
    /// a closed channel.
    #[inline(never)]
    fn poll_send_slow(&mut self, value: T, id: &mut Option<u64>, waker: &Waker) -> SendStep<T> {
        if self.closed {
            if let Some(id) = id.take() {
                if !self.send_waiters.remove(id) {
                    self.reserved -= 1;
                }
            }
            return SendStep::Closed(value);
        }
        let may_push = match *id {
            None => self.has_room(),
            Some(queued) if self.send_waiters.update(queued, waker) => false,
            Some(_) => {
                // Granted: the slot counted in `reserved` is ours.
                self.reserved -= 1;
                *id = None;
                true
            }
        };
        if may_push {
            return SendStep::Done(self.push(value));
        }
        if id.is_none() {
            *id = Some(self.send_waiters.push(Some(waker)));
        }
        SendStep::Wait(value)
    }

    /// A queued send future was dropped: leaves the queue, or passes a
    /// slot already granted to it on (returns that sender's waker).
    pub(crate) fn cancel_send(&mut self, id: u64) -> Option<Waker> {
        if self.send_waiters.remove(id) {
            return None;
        }
        self.reserved -= 1;
        self.grant()
    }

    /// One poll of a receive. `senders_gone` says no sender is left;
    /// `waker` (none for `try_recv`) is stored when the receiver must wait.
    #[inline]
    pub(crate) fn poll_recv(&mut self, waker: Option<&Waker>, senders_gone: bool) -> RecvStep<T> {
        if let Some(v) = self.buf.pop_front() {
            self.rx_waiting = false;
            let granted = self.grant();
            return RecvStep::Msg(v, granted);
        }
        if self.closed || senders_gone {
            return RecvStep::End;
        }
        if let Some(w) = waker {
            store_waker(&mut self.rx_waker, w);
            self.rx_waiting = true;
        }
        RecvStep::Empty
    }

    /// The receiver stopped waiting (its future was dropped).
    pub(crate) fn stop_waiting(&mut self) {
        self.rx_waiting = false;
    }

    /// The last sender left: the receiver's waker, to wake after unlocking.
    pub(crate) fn take_rx_waker(&mut self) -> Option<Waker> {
        self.rx_waiting = false;
        self.rx_waker.take()
    }

    /// Closes the channel; the wakers of the queued senders, to wake after
    /// unlocking (none if it was closed already).
    pub(crate) fn close(&mut self) -> Vec<Waker> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        self.send_waiters.take_wakers()
    }

    /// The receiver is gone: hands out what is left (the buffered messages
    /// and the last waker) for the caller to drop after unlocking.
    pub(crate) fn take_leftovers(&mut self) -> (VecDeque<T>, Option<Waker>) {
        self.rx_waiting = false;
        (std::mem::take(&mut self.buf), self.rx_waker.take())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }
}

/// A clone of a foreign receiver waker, to wake after unlocking. Out of
/// line: a channel between corun tasks never needs it.
#[inline(never)]
fn clone_waker(w: &Waker) -> Option<Waker> {
    Some(w.clone())
}

/// Calls `waker`, if any (after the caller's borrow ended).
#[inline]
pub(crate) fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}
