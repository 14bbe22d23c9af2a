//! Ctrl-C / SIGTERM as one future a corun task can await, shared by the
//! example servers through `#[path]`; built on `corun::signal`.
//!
//! This file must NOT keep any state of its own or touch corun internals.

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use corun::signal::{Signal, SignalKind};

/// Listeners for SIGINT and SIGTERM. Make one per scheduler that waits for
/// them; every listener sees each signal.
pub struct Shutdown(Signal, Signal);

/// Starts listening for SIGINT and SIGTERM.
pub fn shutdown_signals() -> io::Result<Shutdown> {
    Ok(Shutdown(
        corun::signal::signal(SignalKind::interrupt())?,
        corun::signal::signal(SignalKind::terminate())?,
    ))
}

impl Shutdown {
    /// Waits until either signal arrives.
    pub async fn recv(&mut self) {
        poll_fn(|cx| match (self.0.poll_recv(cx), self.1.poll_recv(cx)) {
            (Poll::Pending, Poll::Pending) => Poll::Pending,
            _ => Poll::Ready(()),
        })
        .await
    }
}
