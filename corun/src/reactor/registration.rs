//! [`Registration`] (one refcounted handle on an fd's reactor slot) and
//! [`Ready`] (the future of one readiness wait).
//!
//! Both reach their reactor through `crate::scheduler::context::with_reactor`
//! and refuse (with an `io::Error`) to work on any other thread's reactor.
//! This file must NOT make syscalls itself nor know about tasks beyond the
//! `crate::task::set_waiting` snapshot hint.

use std::fmt;
use std::future::Future;
use std::io;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use super::scheduled_io::NONE;
use super::{Interest, Reactor, Readiness, Release, Remote, WaiterKey, make_token, probe};

/// One user's hold on an fd's registration; all `Registration`s of one fd
/// share one epoll registration and one readiness cache. Dropping the last
/// one deregisters the fd — drop it *before* closing the fd, or release it
/// with [`Registration::release_closing`] just before closing it.
///
/// `Send` so that I/O objects can live inside spawned futures, but only usable
/// on the thread of the reactor that made it: elsewhere every method returns
/// an error. Dropped on another thread, its release is queued and done at the
/// reactor's next `park` or `register`.
pub(crate) struct Registration {
    /// Queue for foreign-thread drops; also carries the reactor id.
    remote: Arc<Remote>,
    idx: u32,
    generation: u32,
    /// Waiter node of this registration's `poll_ready` per direction
    /// (`WaiterKey::NONE` when none): repeated `poll_ready` calls keep one
    /// waker per direction, the most recent, like `AsyncRead` expects.
    /// Atomics only so that `&Registration` may cross threads (I/O objects
    /// must be `Sync` for `Send` futures); they are used on the reactor's
    /// thread alone, hence `Relaxed`.
    own: [AtomicU64; 2],
}

impl Registration {
    pub(super) fn new(remote: Arc<Remote>, idx: u32, generation: u32) -> Registration {
        Registration {
            remote,
            idx,
            generation,
            own: [
                AtomicU64::new(WaiterKey::NONE.to_bits()),
                AtomicU64::new(WaiterKey::NONE.to_bits()),
            ],
        }
    }

    /// Runs `f` with this registration's reactor, or fails when the current
    /// thread has no reactor or another one.
    fn with_own<T>(&self, f: impl FnOnce(&Reactor) -> T) -> io::Result<T> {
        let id = self.remote.id;
        with_reactor(|r| (r.id() == id).then(|| f(r)))
            .flatten()
            .ok_or_else(|| {
                io::Error::other(
                    "corun: I/O object used outside the scheduler thread it was registered on",
                )
            })
    }

    /// Ready (with the cached readiness) if it satisfies `interest` (its bit,
    /// its closed bit or the error bit); otherwise keeps `cx.waker()` as this
    /// registration's waiter for that direction (replacing the one of an
    /// earlier call) and returns `Pending`.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Readiness>> {
        let cell = &self.own[interest.index()];
        let mut key = WaiterKey::from_bits(cell.load(Ordering::Relaxed));
        let result = self.poll_wait(cx.waker(), interest, &mut key, false);
        cell.store(key.to_bits(), Ordering::Relaxed);
        result
    }

    /// Forgets the readiness bit (and guess) of `interest`, after an
    /// operation in that direction returned `WouldBlock`. Closed and error
    /// bits stay; regular files stay ready. Does nothing off the reactor's
    /// thread (the next wait reports the error).
    pub(crate) fn clear_readiness(&self, interest: Interest) {
        let _ = self.with_own(|r| {
            if let Some(slot) = r.table.borrow_mut().slot(self.idx, self.generation) {
                if !slot.always_ready {
                    slot.readiness &= !interest.ready_bit();
                    slot.guess &= !interest.ready_bit();
                }
            }
        });
    }

    /// A future that resolves once `interest` is satisfied (see
    /// [`Registration::poll_ready`]); each such future is its own waiter.
    pub(crate) fn ready(&self, interest: Interest) -> Ready<'_> {
        Ready {
            reg: self,
            interest,
            waiter: None,
            guess: false,
        }
    }

    /// Like [`Registration::ready`], for a check made before an operation:
    /// the slot's guess (a direction no operation has found unready, see
    /// `Reactor::register_lazy`) resolves it at once, so the operation is
    /// tried without any other syscall.
    pub(crate) fn ready_or_guess(&self, interest: Interest) -> Ready<'_> {
        Ready {
            guess: true,
            ..self.ready(interest)
        }
    }

    /// Shared body of `poll_ready` and `Ready::poll`: `key` is the caller's
    /// waiter node (`WaiterKey::NONE` if none yet). With `guess`, the slot's
    /// guess satisfies `interest` too. A guessed direction not known ready is
    /// probed once (no Pending for a ready fd); a slot still not ready and
    /// not in epoll is added now (the next park reports the fd's state).
    fn poll_wait(
        &self,
        waker: &Waker,
        interest: Interest,
        key: &mut WaiterKey,
        guess: bool,
    ) -> Poll<io::Result<Readiness>> {
        let mut fd = -1;
        let outcome = self.with_own(|r| {
            let mut table = r.table.borrow_mut();
            let Some(slot) = table.slot(self.idx, self.generation) else {
                return (Poll::Ready(Err(stale())), None);
            };
            fd = slot.fd;
            let bit = interest.ready_bit();
            let mut bits = slot.readiness;
            if guess {
                bits |= slot.guess;
            } else if bits & interest.mask() == 0 && slot.guess & bit != 0 {
                slot.guess &= !bit;
                slot.readiness |= probe(fd);
                bits = slot.readiness;
            }
            if bits & interest.mask() == 0 {
                if let Err(e) = r.add_to_epoll(slot, make_token(self.idx, self.generation)) {
                    return (Poll::Ready(Err(e)), None);
                }
                bits = slot.readiness;
            }
            if bits & interest.mask() != 0 {
                let old = mem::replace(key, WaiterKey::NONE);
                let dropped = table.remove_waiter(self.idx, interest, old);
                return (Poll::Ready(Ok(Readiness::from_bits(bits))), dropped);
            }
            match table.refresh_waiter(*key, waker) {
                Ok(replaced) => (Poll::Pending, replaced),
                Err(()) => {
                    *key = table.add_waiter(self.idx, interest, waker.clone());
                    (Poll::Pending, None)
                }
            }
        });
        let (result, dropped) = match outcome {
            Ok(pair) => pair,
            Err(e) => return Poll::Ready(Err(e)),
        };
        // Dropped outside the table borrow: waker code may re-enter.
        drop(dropped);
        if result.is_pending() {
            crate::task::set_waiting(crate::task::Waiting::Fd(fd, interest));
        }
        result
    }
}

impl Registration {
    /// Releases this registration now, for an owner that closes the fd
    /// right after (and does nothing else with it): if it was the fd's last
    /// registration, the slot is freed without `EPOLL_CTL_DEL`, since the
    /// close removes the epoll entry (or, if a dup keeps the file open, the
    /// entry lingers with a token whose generation no new user of the slot
    /// has; see `Reactor::add_to_epoll` for its reuse). Afterwards the
    /// registration is inert: its methods report a stale registration and
    /// its drop does nothing.
    pub(crate) fn release_closing(&mut self) {
        self.release(true);
    }

    /// Slot index and generation (tests of slot reuse).
    #[cfg(test)]
    pub(super) fn slot(&self) -> (u32, u32) {
        (self.idx, self.generation)
    }

    /// Gives the slot reference and waiter nodes back, once.
    fn release(&mut self, closing: bool) {
        if self.idx == NONE {
            return;
        }
        let release = Release {
            idx: self.idx,
            generation: self.generation,
            own: self
                .own
                .each_ref()
                .map(|k| WaiterKey::from_bits(k.load(Ordering::Relaxed))),
            closing,
        };
        self.idx = NONE;
        match self.with_own(|r| r.release(release)) {
            // Leftover wakers are dropped here, outside every borrow.
            Ok(leftovers) => drop(leftovers),
            // Another thread: queued; the fd may be closed (and its number
            // reused) before the reactor gets to it, which is why a closing
            // release makes no DEL on that path either.
            Err(_) => self.remote.push(release),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.release(false);
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("slot", &self.idx)
            .field("reactor", &self.remote.id)
            .finish()
    }
}

/// Runs `f` with the current thread's reactor, if any.
#[cfg(not(test))]
fn with_reactor<R>(f: impl FnOnce(&Reactor) -> R) -> Option<R> {
    crate::scheduler::context::with_reactor(f)
}

/// In unit tests, a reactor installed by `tests::enter_reactor` takes
/// precedence over the scheduler's.
#[cfg(test)]
fn with_reactor<R>(f: impl FnOnce(&Reactor) -> R) -> Option<R> {
    match super::tests::installed() {
        Some(r) => Some(f(&r)),
        None => crate::scheduler::context::with_reactor(f),
    }
}

/// Error for a registration whose slot is gone (cannot happen while the
/// registration lives, unless the reactor was replaced).
fn stale() -> io::Error {
    io::Error::other("corun: reactor registration is no longer valid")
}

/// Future of one readiness wait on a [`Registration`]. Resolves to the
/// cached readiness once it satisfies the interest; removes its waker when
/// dropped before that.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Ready<'a> {
    reg: &'a Registration,
    interest: Interest,
    waiter: Option<WaiterKey>,
    /// Made by `ready_or_guess`.
    guess: bool,
}

impl Future for Ready<'_> {
    type Output = io::Result<Readiness>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut key = this.waiter.unwrap_or(WaiterKey::NONE);
        let result = this
            .reg
            .poll_wait(cx.waker(), this.interest, &mut key, this.guess);
        this.waiter = (key != WaiterKey::NONE).then_some(key);
        result
    }
}

impl Drop for Ready<'_> {
    fn drop(&mut self) {
        let Some(key) = self.waiter.take() else {
            return;
        };
        let reg = self.reg;
        let removed = reg.with_own(|r| {
            r.table
                .borrow_mut()
                .remove_waiter(reg.idx, self.interest, key)
        });
        // Dropped outside the table borrow.
        drop(removed);
    }
}

impl fmt::Debug for Ready<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("slot", &self.reg.idx)
            .field("interest", &self.interest)
            .finish()
    }
}
