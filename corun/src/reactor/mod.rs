//! The I/O reactor: one per scheduler thread, wrapping the OS poller (epoll
//! through `mio`) and turning readiness events into waker calls.
//!
//! # How it works
//!
//! - Each fd is registered **once** (edge-triggered, for read and write) for
//!   as long as any `Registration` of it lives; registrations of one fd share
//!   one refcounted slot (see `scheduled_io`). `register` (tests) adds the
//!   fd to epoll at once; `register_lazy` (used by `io`) only makes the slot
//!   and binds it to this reactor, and the fd enters epoll at the slot's
//!   first wait that finds it not ready, so an fd whose operations never
//!   block costs no `epoll_ctl`. The last drop deregisters it
//!   (`EPOLL_CTL_DEL`, if it was added), so callers drop their registration *before* closing the fd. A registration of an fd that was closed and reused behind the
//!   reactor's back (without dropping the registration first) is a caller bug
//!   that the reactor cannot detect.
//! - Exception: a release marked *closing* (`Registration::release_closing`,
//!   used by a dropped `Async` whose object closes its fd right after, on
//!   this thread or queued from another) frees the slot without the DEL: the
//!   kernel drops an epoll entry when the last fd of its open file goes. If a
//!   dup (or a forked child between fork and exec) keeps the file open, the
//!   entry outlives the close with its old token; its events are ignored
//!   because the token's generation no longer matches the slot's (a slot is
//!   retired rather than reused once its generation wraps), and if the same
//!   file comes back under the same fd number and is registered again,
//!   `EPOLL_CTL_ADD` fails with `EEXIST` and `register` takes the entry over
//!   with `EPOLL_CTL_MOD`. Releases that are not closing (`Async::into_inner`,
//!   `io::readable`'s temporary registrations, user objects that may not own
//!   their fd) keep the DEL; so does every release on targets whose tokens
//!   cannot carry the generation (32-bit).
//! - Readiness is cached per slot: a wait on an fd already known ready returns
//!   at once without a syscall. After an operation returns `WouldBlock`, the
//!   caller clears that direction (`clear_readiness`); no event can slip in
//!   between the operation and the clear, because events are only dispatched
//!   inside `Reactor::park`, which never runs while a task is being polled.
//!   Closed and error bits are sticky: once seen they stay until the fd is
//!   deregistered.
//! - Any number of tasks wait per fd and direction; an event wakes *all*
//!   waiters of every direction it satisfies. A hang-up (`EPOLLHUP`) or error
//!   satisfies both directions.
//!   A new registration starts with no readiness; epoll reports the fd's
//!   current state right after the add (edge-triggered or not), so nothing
//!   that happened before the add is lost.
//! - No hidden yield on a new object: a lazy slot also keeps a *guess*, the
//!   directions no operation has found unready yet (`io` guesses both).
//!   `Registration::ready_or_guess`, the check before an operation, passes
//!   on it, so the first operation is tried at once. A real wait ignores the
//!   guess, but on a guessed direction not known ready it asks `poll(2)`
//!   once instead of returning Pending for a park to report a ready fd.
//!   A `WouldBlock` clears the guess with the readiness.
//! - Regular files and directories (any fd epoll refuses with `EPERM`) cannot
//!   be polled: like `poll(2)`, the reactor treats them as always readable
//!   and writable, never puts them in epoll, and ignores `clear_readiness`.
//! - Invalid or closed fds fail to register with `EBADF` (with
//!   `register_lazy`, at the first wait).
//! - Memory: a slot is 24 bytes with no allocation of its own; each waiting
//!   task adds one 24-byte node in a reactor-wide slab (plus the 12-byte
//!   `Registration` inside the task, and its one-word `Wait`).
//! - `Reactor::park` blocks in `epoll_wait` until an event, the timeout, or
//!   an `Unparker::unpark` from any thread (a `mio::Waker` on a reserved
//!   token). `Reactor::park_until` blocks until an exact instant instead: it
//!   arms a timerfd (`alarm`, another reserved token) and waits without a
//!   timeout, since `epoll_wait`'s own timeout is whole milliseconds and
//!   subject to timer slack.
//!
//! The reactor is `!Send` and used through `&self` with interior mutability;
//! the scheduler owns it and exposes it through a thread-local
//! (`crate::scheduler::context::with_reactor`). Registrations are `Send` but
//! only usable on their reactor's thread; one dropped elsewhere is queued and
//! released at the reactor's next `park`/`register`.
//!
//! This module must NOT touch task state, timers or the scheduler's queues: the
//! only coupling is `std::task::Waker` (plus a snapshot hint via
//! `crate::task::set_waiting`).

mod alarm;
pub(crate) mod fd_table;
mod readiness;
mod registration;
mod scheduled_io;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_closing;
#[cfg(test)]
mod tests_lazy;

use std::cell::RefCell;
use std::io;
use std::marker::PhantomData;
use std::mem;
use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use alarm::Alarm;
use mio::unix::SourceFd;
use mio::{Events, Poll, Token};

pub use readiness::{Interest, Readiness};
// `Ready` is named by the io layers that keep the future in a struct.
#[allow(unused_imports)]
pub(crate) use registration::{Ready, Registration, Wait};
pub(crate) use scheduled_io::WaiterKey;
use scheduled_io::{Slot, Table};

/// Token of the cross-thread waker; never a valid slot token (slot indices
/// stay below `u32::MAX`).
const UNPARK_TOKEN: Token = Token(usize::MAX);

/// Token of the alarm (timerfd); never a valid slot token either (slot
/// indices stay below `u32::MAX - 1`).
const ALARM_TOKEN: Token = Token(usize::MAX - 1);

/// Token of fds that only end a park (`Reactor::watch`: an io_uring
/// whose completions the scheduler reaps after each park); never a valid
/// slot token either (slot indices stay below `u32::MAX - 2`).
const WATCH_TOKEN: Token = Token(usize::MAX - 2);

/// How many events one `epoll_wait` returns at most; the rest stay queued in
/// the kernel for the next park.
const EVENTS_CAPACITY: usize = 1024;

/// Source of unique reactor ids (never reused: a registration compares
/// its reactor's id with the current thread's).
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// The `Remote` of every live reactor, for registrations dropped on another
/// thread: a registration keeps its reactor's 4-byte id rather than an
/// 8-byte `Arc` (one lives in every task holding a socket). A `Mutex` over a
/// short list (one entry per scheduler thread) because only that rare path
/// and reactor creation and drop touch it.
static REMOTES: Mutex<Vec<Arc<Remote>>> = Mutex::new(Vec::new());

/// Per-thread I/O reactor. See the module docs.
pub(crate) struct Reactor {
    /// Unique id; registrations compare it with the current thread's reactor.
    id: u32,
    /// The epoll instance. `RefCell` because `Poll::poll` takes `&mut self`.
    poll: RefCell<Poll>,
    /// Event buffer reused by every park.
    events: RefCell<Events>,
    /// Slots and waiters.
    table: RefCell<Table>,
    /// Wakers collected during dispatch, woken after all borrows end; kept to
    /// reuse its capacity.
    wake_buf: RefCell<Vec<Waker>>,
    /// Cross-thread wake-up of `park`.
    unparker: Unparker,
    /// Ends `park_until` at its instant; `None` if no timerfd could be made
    /// (`park_until` then falls back to a rounded-up timeout).
    alarm: Option<Alarm>,
    /// State shared with registrations dropped on other threads.
    remote: Arc<Remote>,
    /// The reactor stays on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

/// Releases of registrations dropped away from their reactor's thread.
/// A `std::sync::Mutex` because it is touched from foreign threads only on
/// that rare path, and by the reactor once per park when the flag is set.
pub(crate) struct Remote {
    /// Id of the owning reactor.
    id: u32,
    /// Set (after a push) when `pending` may be non-empty.
    has_pending: AtomicBool,
    /// Set when the reactor is gone: foreign drops then have nothing to do.
    closed: AtomicBool,
    /// Queued releases.
    pending: Mutex<Vec<Release>>,
}

/// What a dropped registration gives back: its slot reference and the
/// waiter nodes of its `poll_ready` calls.
#[derive(Clone, Copy)]
pub(crate) struct Release {
    idx: u32,
    /// The registration's `poll_ready` keys in the table, or `NONE`.
    own: u32,
    /// The owner closes the fd right after this release (a dropped
    /// `Async` whose object owns its fd): the close removes the epoll
    /// entry, so the release makes no `EPOLL_CTL_DEL`.
    closing: bool,
}

impl Remote {
    /// Queues a release for the next park of reactor `id`, if it still
    /// lives (foreign-thread drop).
    fn push_to(id: u32, release: Release) {
        let remote = {
            let remotes = REMOTES.lock().unwrap_or_else(|e| e.into_inner());
            remotes.iter().find(|r| r.id == id).cloned()
        };
        if let Some(remote) = remote {
            remote.push(release);
        }
    }

    /// Queues a release for the reactor's next park (foreign-thread drop).
    fn push(&self, release: Release) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.push(release);
        drop(pending);
        self.has_pending.store(true, Ordering::Release);
    }
}

/// Thread-safe handle that wakes its reactor out of [`Reactor::park`].
///
/// An unpark that arrives while the reactor is not parked makes the next
/// park return at once (the eventfd stays signalled).
#[derive(Clone, Debug)]
pub(crate) struct Unparker(Arc<mio::Waker>);

impl Unparker {
    /// Wakes the reactor's current or next `park`.
    pub(crate) fn unpark(&self) {
        // An eventfd write can only fail when the counter is saturated, which
        // means the reactor is already signalled.
        let _ = self.0.wake();
    }
}

impl Reactor {
    /// Creates an epoll instance and its cross-thread waker.
    pub(crate) fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), UNPARK_TOKEN)?;
        let alarm = Alarm::new(poll.registry(), ALARM_TOKEN).ok();
        let id = NEXT_ID
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1))
            .map_err(|_| io::Error::other("corun: reactor ids exhausted (2^32 made)"))?;
        let remote = Arc::new(Remote {
            id,
            has_pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
        });
        REMOTES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(remote.clone());
        Ok(Reactor {
            id,
            poll: RefCell::new(poll),
            events: RefCell::new(Events::with_capacity(EVENTS_CAPACITY)),
            table: RefCell::new(Table::default()),
            wake_buf: RefCell::new(Vec::new()),
            unparker: Unparker(Arc::new(waker)),
            alarm,
            remote,
            _not_send: PhantomData,
        })
    }

    /// This reactor's unique id (never reused within the process).
    pub(crate) fn id(&self) -> u64 {
        u64::from(self.id)
    }

    /// Thread-safe handle that wakes a parked reactor.
    pub(crate) fn unparker(&self) -> Unparker {
        self.unparker.clone()
    }

    /// Number of registrations (distinct fds) currently alive.
    #[allow(dead_code)] // for cleanup tests here and in the scheduler
    pub(crate) fn registrations(&self) -> usize {
        self.table.borrow().live()
    }

    /// Blocks until I/O events, `timeout` (`None` = forever,
    /// `Some(Duration::ZERO)` = just poll) or an unpark; then wakes the
    /// waiters of every registration that became ready. Returns the number of
    /// I/O events dispatched (neither the unpark nor the alarm of
    /// `park_until` is counted). A signal interrupting the wait returns
    /// `Ok(0)`.
    pub(crate) fn park(&self, timeout: Option<Duration>) -> io::Result<usize> {
        self.drain_remote();
        let mut wake = mem::take(&mut *self.wake_buf.borrow_mut());
        let mut dispatched = 0;
        {
            let mut poll = self.poll.try_borrow_mut().map_err(|_| reentrant_park())?;
            let mut events = self.events.try_borrow_mut().map_err(|_| reentrant_park())?;
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
                Err(e) => return Err(e),
            }
            let mut table = self.table.borrow_mut();
            for event in events.iter() {
                if event.token() == UNPARK_TOKEN {
                    continue;
                }
                if event.token() == WATCH_TOKEN {
                    // Counted: the scheduler reaps what it signals.
                    dispatched += 1;
                    continue;
                }
                if event.token() == ALARM_TOKEN {
                    if let Some(alarm) = &self.alarm {
                        alarm.fired();
                    }
                    continue;
                }
                dispatched += 1;
                let (idx, generation) = split_token(event.token());
                table.set_ready(
                    idx,
                    generation,
                    TOKEN_GEN_MASK,
                    readiness_of(event),
                    &mut wake,
                );
            }
        }
        for waker in wake.drain(..) {
            waker.wake();
        }
        *self.wake_buf.borrow_mut() = wake;
        Ok(dispatched)
    }

    /// Like [`Reactor::park`], blocking until the instant `at` at the latest
    /// (returns at once if it has passed). The wait ends at `at` to within
    /// the kernel's wake-up latency, never before it, unless an event or an
    /// unpark comes first.
    pub(crate) fn park_until(&self, at: Instant) -> io::Result<usize> {
        match &self.alarm {
            Some(alarm) if alarm.set(at).is_ok() => self.park(None),
            _ => {
                // No timerfd: the poller's timeout, rounded up (mio rounds
                // a sub-millisecond rest up to a whole millisecond).
                self.park(Some(at.saturating_duration_since(Instant::now())))
            }
        }
    }

    /// Adds `fd` to epoll for readability so that it ends a park (counted
    /// as one event) and nothing else: no slot, no waiters. Whoever calls
    /// this reaps what the fd signals after each park (`fs::uring`), and
    /// closes the fd (which removes it) when done.
    pub(crate) fn watch(&self, fd: RawFd) -> io::Result<()> {
        self.poll.borrow().registry().register(
            &mut SourceFd(&fd),
            WATCH_TOKEN,
            mio::Interest::READABLE,
        )
    }

    /// Registers `fd` for read and write readiness and adds it to epoll now
    /// (if its slot is not there yet), or shares its existing registration.
    /// Fails with `EBADF` for a negative, closed or invalid fd. Regular files
    /// (epoll answers `EPERM`) get a registration that is always readable
    /// and writable.
    #[cfg(test)]
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<Registration> {
        let (idx, generation) = self.slot_of(fd, 0)?;
        let mut table = self.table.borrow_mut();
        let added = match table.slot(idx, generation) {
            Some(slot) => self.add_to_epoll(slot, make_token(idx, generation)),
            None => Ok(()),
        };
        if let Err(e) = added {
            let mut leftovers = Vec::new();
            table.release(idx, generation, &mut leftovers);
            drop(table);
            drop(leftovers);
            return Err(e);
        }
        Ok(Registration::new(self.id, idx))
    }

    /// Like [`Reactor::register`] but makes no syscall: the slot is added to
    /// epoll at its first wait that finds it not ready. A new slot's guess
    /// is `guess` (ready bits of `Readiness`; see the module docs). An fd
    /// epoll refuses (`EBADF`) is reported by that first wait.
    pub(crate) fn register_lazy(&self, fd: RawFd, guess: u8) -> io::Result<Registration> {
        let (idx, _) = self.slot_of(fd, guess)?;
        Ok(Registration::new(self.id, idx))
    }

    /// Shares the live slot of `fd` or makes a new one (not in epoll yet,
    /// with `guess`).
    fn slot_of(&self, fd: RawFd, guess: u8) -> io::Result<(u32, u32)> {
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        self.drain_remote();
        let mut table = self.table.borrow_mut();
        if let Some(shared) = table.share(fd)? {
            return Ok(shared);
        }
        let (idx, generation) = table.insert(fd)?;
        if let Some(slot) = table.slot(idx, generation) {
            slot.guess = guess;
        }
        Ok((idx, generation))
    }

    /// Adds the fd of `slot` to epoll under `token`, unless it is there
    /// already (or can never be: a regular file). Epoll reports the fd's
    /// current state right after the add, so the next park delivers it.
    fn add_to_epoll(&self, slot: &mut Slot, token: Token) -> io::Result<()> {
        if slot.in_epoll || slot.always_ready {
            return Ok(());
        }
        let fd = slot.fd;
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        let poll = self.poll.borrow();
        let added = match poll
            .registry()
            .register(&mut SourceFd(&fd), token, interest)
        {
            // The (open file, fd number) pair is still in epoll under an old
            // token: its last registration was released without a DEL because
            // the fd was closing, but a dup kept the file open and the number
            // now names that file again. Take the entry over with our token.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                poll.registry()
                    .reregister(&mut SourceFd(&fd), token, interest)
            }
            other => other,
        };
        match added {
            Ok(()) => slot.in_epoll = true,
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                slot.always_ready = true;
                slot.readiness = (Readiness::READABLE | Readiness::WRITABLE).bits();
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Releases one registration reference (and its `poll_ready` waiters);
    /// deregisters the fd when it was the last. Wakers that leave the table
    /// are returned for the caller to drop outside any borrow.
    fn release(&self, release: Release) -> Vec<Waker> {
        let mut leftovers = Vec::new();
        let mut table = self.table.borrow_mut();
        for (interest, key) in [Interest::Read, Interest::Write]
            .into_iter()
            .zip(table.take_own(release.own))
        {
            if key != WaiterKey::NONE {
                leftovers.extend(table.remove_waiter(release.idx, interest, key));
            }
        }
        // The registration's reference kept its slot live: this is its
        // generation.
        let generation = table.generation_of(release.idx);
        if let Some((fd, polled)) = table.release(release.idx, generation, &mut leftovers) {
            // A closing fd leaves epoll with its close. Only where tokens
            // carry the generation: elsewhere an entry surviving the close
            // (dup) could hand stale events to the slot's next user.
            let closing = release.closing && TOKEN_GEN_MASK == u32::MAX;
            if polled && !closing {
                // Fails harmlessly (EBADF/ENOENT) if the fd was already closed,
                // which removed it from epoll anyway.
                let _ = self.poll.borrow().registry().deregister(&mut SourceFd(&fd));
            }
        }
        leftovers
    }

    /// Processes registrations dropped on other threads.
    fn drain_remote(&self) {
        if !self.remote.has_pending.swap(false, Ordering::AcqRel) {
            return;
        }
        let pending = {
            let mut queue = self
                .remote
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            mem::take(&mut *queue)
        };
        for release in pending {
            drop(self.release(release));
        }
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.remote.closed.store(true, Ordering::Release);
        REMOTES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|r| r.id != self.id);
    }
}

/// Error of a nested `park` (from a waker run by `park` itself).
fn reentrant_park() -> io::Error {
    io::Error::other("Reactor::park called re-entrantly")
}

/// Slot index in the low 32 bits, generation in the high 32 (64-bit targets;
/// on 32-bit targets the generation is not carried and reads as 0).
fn make_token(idx: u32, generation: u32) -> Token {
    Token(((u64::from(generation) << 32) | u64::from(idx)) as usize)
}

/// Generation bits that survive the trip through a `Token`.
const TOKEN_GEN_MASK: u32 = if usize::BITS >= 64 { u32::MAX } else { 0 };

/// Inverse of [`make_token`]; the generation is masked to what fits.
fn split_token(token: Token) -> (u32, u32) {
    let raw = token.0 as u64;
    (raw as u32, (raw >> 32) as u32)
}

/// The readiness of `fd` now, by a `poll(2)` that does not block, mapped as
/// mio maps epoll's events (0 if the fd is invalid: the epoll add reports it).
fn probe(fd: RawFd) -> u8 {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`, count 1; a zero timeout never blocks.
    if unsafe { libc::poll(&mut p, 1, 0) } != 1 {
        return 0;
    }
    let ev = p.revents;
    let has = |bits: libc::c_short| ev & bits != 0;
    let mut r = Readiness::default();
    if has(libc::POLLIN) {
        r |= Readiness::READABLE;
    }
    if has(libc::POLLOUT) {
        r |= Readiness::WRITABLE;
    }
    if has(libc::POLLHUP) || (has(libc::POLLIN) && has(libc::POLLRDHUP)) {
        r |= Readiness::READ_CLOSED;
    }
    if has(libc::POLLHUP) || (has(libc::POLLOUT) && has(libc::POLLERR)) || ev == libc::POLLERR {
        r |= Readiness::WRITE_CLOSED;
    }
    if has(libc::POLLERR) {
        r |= Readiness::ERROR;
    }
    r.bits()
}

/// Maps a mio event to readiness bits.
fn readiness_of(event: &mio::event::Event) -> u8 {
    let mut r = Readiness::default();
    if event.is_readable() {
        r |= Readiness::READABLE;
    }
    if event.is_writable() {
        r |= Readiness::WRITABLE;
    }
    if event.is_read_closed() {
        r |= Readiness::READ_CLOSED;
    }
    if event.is_write_closed() {
        r |= Readiness::WRITE_CLOSED;
    }
    if event.is_error() {
        r |= Readiness::ERROR;
    }
    r.bits()
}
