//! [`Registration`] (one refcounted handle on an fd's reactor slot),
//! [`Wait`] (one readiness wait packed in a word, for the futures that keep
//! one in a task) and [`Ready`] (the future of one readiness wait).
//!
//! Both reach their reactor through `crate::scheduler::context::with_reactor`
//! and refuse (with an `io::Error`) to work on any other thread's reactor.
//! This file must NOT make syscalls itself nor know about tasks beyond the
//! `crate::task::set_waiting` snapshot hint.

use std::fmt;
use std::future::Future;
use std::io;
use std::mem;
use std::os::unix::io::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Waker};

use super::scheduled_io::NONE;
use super::scheduled_io::Table;
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
///
/// 12 bytes: one lives in every task that holds a socket. It keeps its
/// reactor's id (a drop on another thread finds the reactor's queue by it),
/// no slot generation (the reference it holds keeps its slot from being
/// freed or reused), and the waiter nodes of its `poll_ready` calls in the
/// reactor's table, made at the first such call that waits.
pub(crate) struct Registration {
    /// Id of the reactor that made it.
    reactor: u32,
    idx: u32,
    /// Index of this registration's `poll_ready` waiter keys (one per
    /// direction) in the reactor's table, or [`NONE`] before its first
    /// `poll_ready` that waited: repeated `poll_ready` calls keep one waker
    /// per direction, the most recent, like `AsyncRead` expects. Atomic only
    /// so that `&Registration` may cross threads (I/O objects must be `Sync`
    /// for `Send` futures); used on the reactor's thread alone, hence
    /// `Relaxed`.
    own: AtomicU32,
}

/// Where a wait keeps its waiter key: in the waiting future, or in the
/// table's entry for the registration's `poll_ready` calls.
enum KeyHome<'k> {
    Future(&'k mut WaiterKey),
    Own,
}

impl Registration {
    pub(super) fn new(reactor: u32, idx: u32) -> Registration {
        Registration {
            reactor,
            idx,
            own: AtomicU32::new(NONE),
        }
    }

    /// Runs `f` with this registration's reactor, or fails when the current
    /// thread has no reactor or another one.
    fn with_own<T>(&self, f: impl FnOnce(&Reactor) -> T) -> io::Result<T> {
        let id = u64::from(self.reactor);
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
        self.poll_wait(cx.waker(), interest, KeyHome::Own, false)
    }

    /// [`Registration::poll_ready`] for a check made before an operation:
    /// the slot's guess (a direction no operation has found unready)
    /// satisfies it too, so a new object's first operation is tried.
    pub(crate) fn poll_ready_or_guess(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<Readiness>> {
        self.poll_wait(cx.waker(), interest, KeyHome::Own, true)
    }

    /// Forgets the readiness bit (and guess) of `interest`, after an
    /// operation in that direction returned `WouldBlock`. Closed and error
    /// bits stay; regular files stay ready. Does nothing off the reactor's
    /// thread (the next wait reports the error).
    pub(crate) fn clear_readiness(&self, interest: Interest) {
        let _ = self.with_own(|r| {
            if let Some(slot) = r.table.borrow_mut().live_slot(self.idx) {
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
            wait: Wait::armed(interest, false),
        }
    }

    /// Like [`Registration::ready`], for a check made before an operation:
    /// the slot's guess (a direction no operation has found unready, see
    /// `Reactor::register_lazy`) resolves it at once, so the operation is
    /// tried without any other syscall.
    #[cfg(test)]
    pub(crate) fn ready_or_guess(&self, interest: Interest) -> Ready<'_> {
        Ready {
            reg: self,
            wait: Wait::armed(interest, true),
        }
    }

    /// Polls `wait` (see [`Wait`]): `Ready` once its interest is satisfied
    /// (the wait is then idle, its node gone), else `Pending` with its node
    /// queued. An idle wait is polled as an armed one.
    pub(crate) fn poll_wait_for(
        &self,
        waker: &Waker,
        wait: &mut Wait,
    ) -> Poll<io::Result<Readiness>> {
        let mut key = wait.key();
        let result = self.poll_wait(
            waker,
            wait.interest(),
            KeyHome::Future(&mut key),
            wait.guess(),
        );
        *wait = match result {
            Poll::Pending => wait.queued(key),
            Poll::Ready(_) => Wait::idle(wait.interest()),
        };
        result
    }

    /// Takes the node of `wait` out of its list, if queued (a wait dropped
    /// before it was satisfied); the wait becomes idle.
    pub(crate) fn cancel_wait(&self, wait: &mut Wait) {
        let key = wait.key();
        *wait = Wait::idle(wait.interest());
        if key == WaiterKey::NONE {
            return;
        }
        let interest = wait.interest();
        let removed =
            self.with_own(|r| r.table.borrow_mut().remove_waiter(self.idx, interest, key));
        // Dropped outside the table borrow.
        drop(removed);
    }

    /// Shared body of `poll_ready` and the waits: `home` holds the caller's
    /// waiter key (`WaiterKey::NONE` if none yet). With `guess`, the slot's
    /// guess satisfies `interest` too. A guessed direction not known ready is
    /// probed once (no Pending for a ready fd); a slot still not ready and
    /// not in epoll is added now (the next park reports the fd's state).
    fn poll_wait(
        &self,
        waker: &Waker,
        interest: Interest,
        mut home: KeyHome<'_>,
        guess: bool,
    ) -> Poll<io::Result<Readiness>> {
        let mut fd = -1;
        let outcome = self.with_own(|r| {
            let mut table = r.table.borrow_mut();
            let own = self.own.load(Ordering::Relaxed);
            let mut key = match &home {
                KeyHome::Future(k) => **k,
                KeyHome::Own => table.own_key(own, interest),
            };
            let out = wait_in(
                r, &mut table, self.idx, waker, interest, &mut key, guess, &mut fd,
            );
            match &mut home {
                KeyHome::Future(k) => **k = key,
                KeyHome::Own => {
                    let mut own = own;
                    table.set_own_key(&mut own, interest, key);
                    self.own.store(own, Ordering::Relaxed);
                }
            }
            out
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

/// The body of [`Registration::poll_wait`] under the table borrow: returns
/// the result and a waker that left the table (for the caller to drop
/// outside the borrow); sets `fd` to the slot's fd.
#[allow(clippy::too_many_arguments)]
fn wait_in(
    r: &Reactor,
    table: &mut Table,
    idx: u32,
    waker: &Waker,
    interest: Interest,
    key: &mut WaiterKey,
    guess: bool,
    fd: &mut RawFd,
) -> (Poll<io::Result<Readiness>>, Option<Waker>) {
    let Some(slot) = table.live_slot(idx) else {
        return (Poll::Ready(Err(stale())), None);
    };
    *fd = slot.fd;
    let bit = interest.ready_bit();
    let mut bits = slot.readiness;
    if guess {
        bits |= slot.guess;
    } else if bits & interest.mask() == 0 && slot.guess & bit != 0 {
        slot.guess &= !bit;
        slot.readiness |= probe(*fd);
        bits = slot.readiness;
    }
    if bits & interest.mask() == 0 {
        let token = make_token(idx, slot.generation);
        if let Err(e) = r.add_to_epoll(slot, token) {
            return (Poll::Ready(Err(e)), None);
        }
        bits = slot.readiness;
    }
    if bits & interest.mask() != 0 {
        let old = mem::replace(key, WaiterKey::NONE);
        let dropped = table.remove_waiter(idx, interest, old);
        return (Poll::Ready(Ok(Readiness::from_bits(bits))), dropped);
    }
    match table.refresh_waiter(*key, waker) {
        Ok(replaced) => (Poll::Pending, replaced),
        Err(()) => match table.add_waiter(idx, interest, waker.clone()) {
            Ok(new) => {
                *key = new;
                (Poll::Pending, None)
            }
            Err(e) => (Poll::Ready(Err(e)), None),
        },
    }
}

/// One readiness wait in one word (it lives in every task blocked on a
/// socket): its direction, its waiter node once queued, and before that
/// whether it is armed and whether the slot's guess satisfies it.
///
/// Layout: the low half holds the direction (bit 31) and the node index
/// (bits 0..31, [`NO_NODE`] when none); the high half holds the node's
/// generation when queued, else the [`ARMED`] and [`GUESS`] flags.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wait(u64);

/// Node index of a wait with no node (node indices stay below it).
pub(super) const NO_NODE: u32 = (1 << 31) - 1;
/// Direction bit of the low half: set for `Interest::Write`.
const WRITE: u64 = 1 << 31;
/// High-half flag of a wait with no node: it is to be polled (not idle).
const ARMED: u64 = 1 << 32;
/// High-half flag of an armed wait: the slot's guess satisfies it (a check
/// before an operation, see `ready_or_guess`).
const GUESS: u64 = 1 << 33;

impl Wait {
    /// A wait for `interest` not to be polled yet (its owner runs its
    /// operation first).
    pub(crate) fn idle(interest: Interest) -> Wait {
        Wait(match interest {
            Interest::Read => u64::from(NO_NODE),
            Interest::Write => u64::from(NO_NODE) | WRITE,
        })
    }

    /// A wait for `interest` to be polled; with `guess`, the slot's guess
    /// satisfies it (a check before an operation: no hidden yield on a new
    /// object, see `Reactor::register_lazy`).
    pub(crate) fn armed(interest: Interest, guess: bool) -> Wait {
        let flags = if guess { ARMED | GUESS } else { ARMED };
        Wait(Wait::idle(interest).0 | flags)
    }

    /// The direction waited for.
    pub(crate) fn interest(self) -> Interest {
        if self.0 & WRITE == 0 {
            Interest::Read
        } else {
            Interest::Write
        }
    }

    /// Whether it is to be polled (armed or queued), rather than idle.
    pub(crate) fn is_active(self) -> bool {
        self.node() != NO_NODE || self.0 & ARMED != 0
    }

    fn node(self) -> u32 {
        (self.0 as u32) & NO_NODE
    }

    fn guess(self) -> bool {
        self.node() == NO_NODE && self.0 & GUESS != 0
    }

    /// The waiter key of the queued node, or `WaiterKey::NONE`.
    fn key(self) -> WaiterKey {
        match self.node() {
            NO_NODE => WaiterKey::NONE,
            idx => WaiterKey::from_bits(self.0 >> 32 << 32 | u64::from(idx)),
        }
    }

    /// This wait with its node `key` queued (`WaiterKey::NONE`: armed).
    fn queued(self, key: WaiterKey) -> Wait {
        let dir = self.0 & WRITE;
        if key == WaiterKey::NONE {
            return Wait(Wait::idle(self.interest()).0 | ARMED);
        }
        Wait(key.to_bits() | dir)
    }
}

impl fmt::Debug for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("interest", &self.interest())
            .field("active", &self.is_active())
            .finish()
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
        let generation = self
            .with_own(|r| r.table.borrow().generation_of(self.idx))
            .expect("on the reactor's thread");
        (self.idx, generation)
    }

    /// Gives the slot reference and waiter nodes back, once.
    fn release(&mut self, closing: bool) {
        if self.idx == NONE {
            return;
        }
        let release = Release {
            idx: self.idx,
            own: self.own.load(Ordering::Relaxed),
            closing,
        };
        self.idx = NONE;
        match self.with_own(|r| r.release(release)) {
            // Leftover wakers are dropped here, outside every borrow.
            Ok(leftovers) => drop(leftovers),
            // Another thread: queued; the fd may be closed (and its number
            // reused) before the reactor gets to it, which is why a closing
            // release makes no DEL on that path either.
            Err(_) => Remote::push_to(self.reactor, release),
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
            .field("reactor", &self.reactor)
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
    wait: Wait,
}

impl Future for Ready<'_> {
    type Output = io::Result<Readiness>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.reg.poll_wait_for(cx.waker(), &mut this.wait)
    }
}

impl Drop for Ready<'_> {
    fn drop(&mut self) {
        self.reg.cancel_wait(&mut self.wait);
    }
}

impl fmt::Debug for Ready<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("slot", &self.reg.idx)
            .field("wait", &self.wait)
            .finish()
    }
}
