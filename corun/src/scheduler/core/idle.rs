//! What an idle scheduler does before it blocks: it keeps polling the
//! reactor (without a timeout) and its message queue for a short while
//! ([`DEFAULT_IDLE_SPIN`], or [`crate::Builder::idle_spin`]).
//!
//! # Why
//!
//! A scheduler blocked in `epoll_wait` has to be woken by whoever makes
//! work for it: a peer writing to one of its sockets, another thread
//! sending it a message. On Linux the waker pays for that wake-up inside
//! its own `write` or `send` (finding the sleeping thread, an interrupt to
//! its CPU, on a virtual machine an exit to the hypervisor), and the
//! sleeper pays the latency of getting back onto its CPU. A server
//! answering a steady stream of small requests runs out of work for a few
//! tens of microseconds at a time, thousands of times a second: measured
//! with `wrk` against the benchmark's keep-alive server on this project's
//! 2-core VMs, the scheduler blocked once per 3–90 requests without the
//! spin, and once per 42–1 160 requests with 50 µs of it. `wrk`, which is
//! the side that runs out of CPU there, completed 6–12 % more requests per
//! second (medians of two batches of 5 and 6 alternating runs: 72k → 81k,
//! 79k → 84k).
//!
//! # The price
//!
//! Up to the spin's length of CPU time each time the scheduler runs out of
//! work (a scheduler woken every millisecond spends up to 5 % of a core
//! spinning with the default), and the poll syscalls that go with it. A
//! scheduler whose only waits are long (sleeping tasks, idle connections)
//! pays it once per wait. It never delays a timer: the spin ends at the
//! next timer's tick at the latest.
//!
//! This file only decides how long to poll before blocking; it must not run
//! tasks, fire timers or handle messages (the loop in `mod.rs` does, right
//! after).

use std::time::{Duration, Instant};

use super::Core;

/// How long an idle scheduler polls before it blocks, unless its builder
/// said otherwise.
pub(crate) const DEFAULT_IDLE_SPIN: Duration = Duration::from_micros(50);

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
