//! The one failure of every corun operation used where no corun scheduler
//! runs (a plain thread, another runtime's executor): the same message as
//! an `io::Error` where the operation's output can carry one (sockets,
//! signals, processes), and as a panic where it cannot (`sleep`, `spawn`).
//!
//! This file holds the message only; it must not decide where a check
//! happens.

use std::io;

/// The text of that failure, error or panic alike.
pub(crate) const MESSAGE: &str = "corun: used outside a corun scheduler; call it from a task \
                                  running on a corun scheduler (inside corun::run, or a task \
                                  spawned on a Scheduler)";

/// The failure as an `io::Error` (kind `Other`).
pub(crate) fn error() -> io::Error {
    io::Error::other(MESSAGE)
}
