//! Ctrl-C / SIGTERM as a socket a corun task can await, shared by the
//! example servers through `#[path]`. No `unsafe`: signal-hook's handler
//! writes a byte into the other end of a socket pair.
//!
//! This file must NOT keep any state of its own or touch corun internals.

use std::io;

use corun::net::UnixStream;

/// A socket that becomes readable when SIGINT or SIGTERM arrives. Call it
/// once per scheduler that waits for the signal.
pub fn signal_pipe() -> io::Result<UnixStream> {
    let (rx, tx) = std::os::unix::net::UnixStream::pair()?;
    tx.set_nonblocking(true)?;
    let tx2 = tx.try_clone()?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, tx)?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, tx2)?;
    UnixStream::from_std(rx)
}
