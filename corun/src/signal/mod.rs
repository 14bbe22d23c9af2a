//! Unix signals as futures and streams: [`ctrl_c`], and [`signal`] for any
//! signal a program may catch (`SIGTERM`, `SIGHUP`, `SIGUSR1`, ...).
//!
//! ```
//! use corun::signal::{self, SignalKind};
//!
//! corun::run(async {
//!     let mut hup = signal::signal(SignalKind::hangup()).unwrap();
//!     // Someone sends SIGHUP to this process (here: ourselves).
//!     let pid = std::process::id().to_string();
//!     corun::unblock(move || std::process::Command::new("kill").args(["-HUP", &pid]).status())
//!         .await
//!         .unwrap();
//!     hup.recv().await.unwrap();
//!     println!("reloading configuration");
//! });
//! ```
//!
//! # What to expect
//!
//! * **Any number of listeners**, in any number of tasks and schedulers:
//!   each [`Signal`] sees every delivery that happens after it was made.
//! * **Deliveries merge**: a listener that was not waiting when two
//!   deliveries arrived sees one (the kernel merges pending signals too).
//!   [`Signal::recv`] answers "at least one since the last `recv`".
//! * **A signal's default action is replaced for good** once a listener for
//!   it has been made: after [`signal`]`(SignalKind::interrupt())`, Ctrl-C
//!   no longer ends the process, even when every listener is gone. Handlers
//!   installed before (by other libraries) still run.
//! * `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE` and `SIGSEGV` cannot be
//!   listened for: [`signal`] answers `InvalidInput`.
//! * A listener is polled on a corun scheduler thread; polled elsewhere,
//!   it fails with an `io::Error`, like corun's sockets. It is `Send`: it
//!   may move between schedulers and keeps seeing deliveries.
//!
//! # How it works
//!
//! One process-wide handler per signal counts the delivery and writes a
//! byte into a socket pair per scheduler that has listeners; that scheduler
//! watches the other end on its reactor like any socket and wakes its
//! listeners, which compare the count with the one they saw last. No thread
//! is started. The handler is installed through `signal-hook-registry`,
//! which chains to handlers installed before.
//!
//! This module must not touch task or scheduler internals: it reaches the
//! reactor through `scheduler::context` and wakes tasks by `Waker`.

mod hub;
mod registry;

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use hub::Hub;

/// Which signal to listen for: a signal number with names for the common
/// ones.
///
/// ```
/// use corun::signal::SignalKind;
/// assert_eq!(SignalKind::terminate().as_raw(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGUSR1), SignalKind::user_defined1());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// A signal by its number (checked when listened for).
    ///
    /// ```
    /// let k = corun::signal::SignalKind::from_raw(libc::SIGWINCH);
    /// assert_eq!(k, corun::signal::SignalKind::window_change());
    /// ```
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::interrupt().as_raw(), libc::SIGINT);
    /// ```
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// `SIGINT`: Ctrl-C in a terminal.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::interrupt().as_raw(), libc::SIGINT);
    /// ```
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: a polite request to end (what `kill` and service
    /// managers send).
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::terminate().as_raw(), libc::SIGTERM);
    /// ```
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; by convention, reload settings.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::hangup().as_raw(), libc::SIGHUP);
    /// ```
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ in a terminal.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::quit().as_raw(), libc::SIGQUIT);
    /// ```
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`, free for the program's own use.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::user_defined1().as_raw(), libc::SIGUSR1);
    /// ```
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`, free for the program's own use.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::user_defined2().as_raw(), libc::SIGUSR2);
    /// ```
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process stopped or ended.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::child().as_raw(), libc::SIGCHLD);
    /// ```
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGPIPE`: a write to a pipe or socket nobody reads (Rust programs
    /// ignore it from the start; listening for it replaces that).
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::pipe().as_raw(), libc::SIGPIPE);
    /// ```
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGALRM`: a timer set with `alarm(2)` expired.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::alarm().as_raw(), libc::SIGALRM);
    /// ```
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGWINCH`: the terminal's size changed.
    ///
    /// ```
    /// assert_eq!(corun::signal::SignalKind::window_change().as_raw(), libc::SIGWINCH);
    /// ```
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignalKind({})", self.0)
    }
}

/// Listener ids (keys of a hub's waker map); never reused.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A listener for one signal: [`Signal::recv`] resolves once per delivery
/// (deliveries that arrive while nobody waits merge into one). Also a
/// `Stream` of `io::Result<()>` that never ends (and a `FusedStream`, so
/// `futures::select!` takes it as is).
///
/// ```
/// use corun::signal::{self, SignalKind};
///
/// corun::run(async {
///     let mut usr1 = signal::signal(SignalKind::user_defined1()).unwrap();
///     let pid = std::process::id().to_string();
///     corun::unblock(move || std::process::Command::new("kill").args(["-USR1", &pid]).status())
///         .await
///         .unwrap();
///     usr1.recv().await.unwrap();
/// });
/// ```
pub struct Signal {
    kind: SignalKind,
    /// The signal's delivery count when this listener last looked.
    seen: u64,
    id: u64,
    /// The hub of the reactor this listener was last polled on.
    hub: Option<Arc<Hub>>,
}

/// Listens for `kind`: installs the process-wide handler at the first call
/// for that signal (from then on its default action is replaced; see the
/// [module docs](self)). Every delivery after this call is seen by the
/// returned listener.
///
/// May be called on any thread; the listener is polled on a corun
/// scheduler thread. Fails with `InvalidInput` for a number that is not a
/// signal or one that cannot be caught (`SIGKILL`, `SIGSTOP`) or must not
/// be (`SIGILL`, `SIGFPE`, `SIGSEGV`).
///
/// ```
/// use corun::signal::{self, SignalKind};
///
/// let term = signal::signal(SignalKind::terminate()).unwrap();
/// assert_eq!(term.kind(), SignalKind::terminate());
/// let err = signal::signal(SignalKind::from_raw(libc::SIGKILL)).err().unwrap();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    registry::install(kind.0)?;
    Ok(Signal {
        kind,
        seen: registry::count(kind.0),
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        hub: None,
    })
}

/// Waits for Ctrl-C (`SIGINT`) once: a shorthand for
/// [`signal`]`(SignalKind::interrupt())` and one [`Signal::recv`]. The
/// listener is made when this future is first polled; a Ctrl-C before that
/// is not seen. For a long-lived program, keep one [`Signal`] instead.
///
/// ```
/// use std::time::Duration;
///
/// corun::run(async {
///     // Serve until Ctrl-C (here: for at most 10 ms).
///     let stopped = corun::timeout(Duration::from_millis(10), corun::signal::ctrl_c()).await;
///     assert!(stopped.is_err(), "nobody pressed Ctrl-C");
/// });
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    signal(SignalKind::interrupt())?.recv().await
}

impl Signal {
    /// Waits for the next delivery of the signal (at once if one arrived
    /// since the last `recv` or since this listener was made).
    ///
    /// Cancel-safe: dropping the future loses no delivery. Fails only when
    /// polled outside a corun scheduler, or if the reactor refuses the
    /// signal socket.
    ///
    /// ```
    /// use corun::signal::{self, SignalKind};
    ///
    /// corun::run(async {
    ///     let mut usr2 = signal::signal(SignalKind::user_defined2()).unwrap();
    ///     let pid = std::process::id().to_string();
    ///     corun::unblock(move || std::process::Command::new("kill").args(["-USR2", &pid]).status())
    ///         .await
    ///         .unwrap();
    ///     usr2.recv().await.unwrap();
    /// });
    /// ```
    pub async fn recv(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery (see [`Signal::recv`]); for hand-written
    /// futures.
    ///
    /// ```
    /// use std::task::{Context, Waker};
    /// use corun::signal::{self, SignalKind};
    ///
    /// corun::run(async {
    ///     let mut s = signal::signal(SignalKind::window_change()).unwrap();
    ///     let mut cx = Context::from_waker(Waker::noop());
    ///     assert!(s.poll_recv(&mut cx).is_pending(), "no SIGWINCH yet");
    /// });
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let now = registry::count(self.kind.0);
            if now != self.seen {
                self.seen = now;
                return Poll::Ready(Ok(()));
            }
            let hub = match &self.hub {
                Some(h) if h.is_current() => h.clone(),
                _ => {
                    let hub = match Hub::current() {
                        Ok(h) => h,
                        Err(e) => return Poll::Ready(Err(e)),
                    };
                    if let Some(old) = self.hub.replace(hub.clone()) {
                        old.remove(self.id);
                    }
                    hub
                }
            };
            match hub.poll_drained(self.id, cx) {
                // Bytes arrived: some signal was delivered; look again.
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // Look once more now that the waker is registered and
                    // the hub's slot claimed: a delivery that came before
                    // the claim was counted but wrote no byte to this
                    // hub; one that comes after will.
                    let now = registry::count(self.kind.0);
                    if now != self.seen {
                        self.seen = now;
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// The signal this listener waits for.
    ///
    /// ```
    /// use corun::signal::{self, SignalKind};
    /// let s = signal::signal(SignalKind::hangup()).unwrap();
    /// assert_eq!(s.kind(), SignalKind::hangup());
    /// ```
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.take() {
            hub.remove(self.id);
        }
    }
}

impl futures_core::Stream for Signal {
    type Item = io::Result<()>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl futures_core::stream::FusedStream for Signal {
    /// Never: a signal can always arrive again.
    fn is_terminated(&self) -> bool {
        false
    }
}
