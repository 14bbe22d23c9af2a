//! The per-scheduler half of signal handling: one [`Hub`] per reactor that
//! has listeners, holding a claimed pipe (`registry.rs`) registered with
//! that reactor, and the wakers of the listeners polled there.
//!
//! Protocol: a listener that finds no new delivery puts its waker in the
//! hub, then asks the reactor whether the pipe is readable, with the hub's
//! own waker. A readable pipe is drained by whichever listener gets there
//! first, and that listener wakes every waiting listener of the hub: once
//! drained, epoll may not report the edge any more (it re-checks the fd),
//! so the others would otherwise sleep through their signal. Each listener
//! then compares the signal's count with the one it saw last.
//!
//! This file must not touch task or scheduler internals: it reaches the
//! reactor through `context::with_reactor` and wakes tasks by `Waker`.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};

use super::registry::Claim;
use crate::outside::error as outside;
use crate::reactor::{Interest, Readiness, Registration};
use crate::scheduler::context;

/// The listeners' wakers, keyed by listener id (one waker each, the most
/// recent, so a listener polled many times keeps one entry).
#[derive(Default)]
struct Waiters {
    /// A `std::sync::Mutex`: held only to insert, remove or take the map,
    /// never across a wake.
    map: Mutex<HashMap<u64, Waker>>,
}

impl Waiters {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Waker>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes (and forgets) every waiter but `skip`'s.
    fn wake_all_but(&self, skip: Option<u64>) {
        let all = {
            let mut map = self.lock();
            let own = skip.and_then(|id| map.remove_entry(&id));
            let all = std::mem::take(&mut *map);
            if let Some((id, w)) = own {
                map.insert(id, w);
            }
            all
        };
        // Woken outside the lock: waker code may come back here.
        for (_, w) in all {
            w.wake();
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_all_but(None);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all_but(None);
    }
}

/// One reactor's signal pipe and its waiting listeners.
pub(crate) struct Hub {
    /// Id of the reactor `reg` belongs to.
    reactor: u64,
    // Declared before `claim`: the registration goes before the read end
    // returns to the registry for another scheduler.
    reg: Registration,
    claim: Claim,
    waiters: Arc<Waiters>,
    /// Wakes every waiter; the reactor holds it while the pipe is empty.
    wake_all: Waker,
}

thread_local! {
    /// This thread's hub, shared by its listeners; it lives as long as one
    /// of them holds it.
    static CURRENT: std::cell::RefCell<Weak<Hub>> = const { std::cell::RefCell::new(Weak::new()) };
}

impl Hub {
    /// The hub of this thread's reactor, made (claiming a pipe) if none.
    pub(crate) fn current() -> io::Result<Arc<Hub>> {
        let reactor = context::with_reactor(|r| r.id()).ok_or_else(outside)?;
        CURRENT.with(|cur| {
            if let Some(hub) = cur.borrow().upgrade() {
                if hub.reactor == reactor {
                    return Ok(hub);
                }
            }
            let claim = Claim::new()?;
            // Guess readable: bytes may have arrived before the claim was
            // drained; the first wait finds out with one read.
            let guess = Readiness::READABLE.bits();
            let reg = context::with_reactor(|r| r.register_lazy(claim.fd(), guess))
                .ok_or_else(outside)??;
            let waiters = Arc::new(Waiters::default());
            let hub = Arc::new(Hub {
                reactor,
                reg,
                claim,
                wake_all: Waker::from(waiters.clone()),
                waiters,
            });
            *cur.borrow_mut() = Arc::downgrade(&hub);
            Ok(hub)
        })
    }

    /// True if this hub belongs to the reactor of the current thread.
    pub(crate) fn is_current(&self) -> bool {
        context::with_reactor(|r| r.id()) == Some(self.reactor)
    }

    /// Waits for the pipe to have bytes, keeping `cx`'s waker under `id`.
    /// `Ready(Ok(()))` once bytes were drained (every waiter was woken):
    /// the caller re-checks its count and calls again if nothing new.
    pub(crate) fn poll_drained(&self, id: u64, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        {
            let mut map = self.waiters.lock();
            match map.get_mut(&id) {
                Some(w) if w.will_wake(cx.waker()) => {}
                Some(w) => *w = cx.waker().clone(),
                None => {
                    map.insert(id, cx.waker().clone());
                }
            }
        }
        let mut hub_cx = Context::from_waker(&self.wake_all);
        loop {
            match self.reg.poll_ready(&mut hub_cx, Interest::Read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(_)) => {}
            }
            let mut drained = 0;
            let mut buf = [0u8; 64];
            loop {
                match self.claim.read_end().read(&mut buf) {
                    Ok(0) => {
                        // The write end is never closed: cannot happen.
                        return Poll::Ready(Err(io::Error::other(
                            "corun::signal: signal pipe closed",
                        )));
                    }
                    Ok(n) => drained += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            // Empty now: forget the readiness, so the next wait sleeps until
            // the next byte's edge.
            self.reg.clear_readiness(Interest::Read);
            if drained > 0 {
                // The caller re-checks at once; everyone else is woken.
                self.waiters.wake_all_but(Some(id));
                return Poll::Ready(Ok(()));
            }
        }
    }

    /// Forgets the waker of listener `id` (it is being dropped).
    pub(crate) fn remove(&self, id: u64) {
        self.waiters.lock().remove(&id);
    }
}
