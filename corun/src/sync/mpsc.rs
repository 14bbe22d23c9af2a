//! Multi-producer, single-consumer channels: [`channel`] (bounded) and
//! [`unbounded_channel`], usable across threads.
//!
//! The channel state and its rules (ring buffer allocated up front, FIFO
//! waiting senders that are granted freed slots, the receiver's waker kept
//! between waits) live in `chan.rs`, shared with [`local`](super::local),
//! and the ends are written once for both in `ends.rs`. Here that state
//! sits behind a `std::sync::Mutex`, and the number of senders is an
//! atomic counter outside it. This file must NOT touch the scheduler.
//!
//! Closing: [`Receiver::close`] (or dropping the receiver) makes every send
//! fail with the value handed back, while buffered values stay receivable;
//! dropping every sender makes `recv` return `None` once the buffer is empty.

mod error;

pub use error::{SendError, TryRecvError, TrySendError};

use super::chan::Chan;
use super::ends::{ChanRef, channel_ends};
use super::lock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The channel shared by all ends.
struct Inner<T> {
    chan: Mutex<Chan<T>>,
    /// Live `Sender`s and `UnboundedSender`s. Changed outside the lock; the
    /// last sender to leave then locks to wake the receiver.
    senders: AtomicUsize,
}

/// How the ends hold the channel.
type ChanArc<T> = Arc<Inner<T>>;

impl<T> ChanRef<T> for ChanArc<T> {
    fn new_chan(cap: usize) -> Self {
        Arc::new(Inner {
            chan: Mutex::new(Chan::new(cap)),
            senders: AtomicUsize::new(1),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Chan<T>) -> R) -> R {
        f(&mut lock(&self.chan))
    }

    fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    fn remove_sender(&self) -> bool {
        self.senders.fetch_sub(1, Ordering::AcqRel) == 1
    }

    fn senders_gone(&self) -> bool {
        self.senders.load(Ordering::Acquire) == 0
    }
}

channel_ends!(module: "mpsc", chan: ChanArc, debug: "", what: "channel");

#[cfg(test)]
mod tests;
