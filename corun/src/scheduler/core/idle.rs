//! What an idle scheduler may do before it blocks: keep polling the
//! reactor (without a timeout) and its message queue for a short while, if
//! its builder asked for it ([`crate::Builder::idle_spin`]). By default it
//! does not ([`DEFAULT_IDLE_SPIN`] is zero): it blocks at once.
//!
//! Why off by default: every look at the poller during the spin is an
//! `epoll_wait` that usually finds nothing, and a server whose client is
//! the slow side runs dry thousands of times a second, so the spin bills
//! its user several syscalls per request and takes away the batching a
//! blocked scheduler gets for free (it wakes to all the requests that came
//! meanwhile). The spin only pays where a wake-up's latency matters more
//! than CPU. The measurements: `docs/design/idle-spin.md`.
//!
//! Rules: the spin never delays a timer (it ends at the next timer's
//! instant at the latest), never exceeds [`MAX_IDLE_SPIN`], ends as soon
//! as an I/O event or a message turns up, and counts each look in
//! `Stats::spin_polls`.
//!
//! This file only decides how long to poll before blocking; it must not run
//! tasks, fire timers or handle messages (the loop in `mod.rs` does, right
//! after).

use std::time::{Duration, Instant};

use super::Core;

/// How long an idle scheduler polls before it blocks, unless its builder
/// said otherwise: not at all (see the module docs).
pub(crate) const DEFAULT_IDLE_SPIN: Duration = Duration::ZERO;

/// The longest spin a builder may ask for; longer requests are cut to it
/// (a scheduler spinning for seconds would be a busy loop in all but name).
pub(crate) const MAX_IDLE_SPIN: Duration = Duration::from_millis(10);

impl Core {
    /// Polls the reactor without blocking, and checks for messages, until
    /// one of them has something, `deadline` (the next timer's instant, if
    /// any) passes, or the idle spin is over. Returns how many I/O events
    /// it dispatched, and whether the loop may still block (false if
    /// anything turned up).
    pub(super) fn spin_before_park(&self, deadline: Option<Instant>) -> (usize, bool) {
        let spin = self.options.idle_spin;
        if spin.is_zero() {
            return (0, true);
        }
        let start = Instant::now();
        // `spin` is at most MAX_IDLE_SPIN, so this cannot overflow in
        // practice; if it did, `None` would end the spin at once.
        let mut until = start.checked_add(spin).unwrap_or(start);
        if let Some(d) = deadline {
            until = until.min(d);
        }
        loop {
            if self.shared.has_msgs() {
                return (0, false);
            }
            self.bump(|s| s.spin_polls += 1);
            match self.reactor.park(Some(Duration::ZERO)) {
                Ok(0) => {}
                Ok(n) => return (n, false),
                // The blocking park reports the error (and the loop goes on).
                Err(_) => return (0, true),
            }
            if Instant::now() >= until {
                return (0, true);
            }
        }
    }
}
