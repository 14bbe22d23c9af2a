//! The process-wide half of signal handling: one count per signal, the
//! pipes the handler writes to, and the installation of the handler.
//!
//! The handler (run by the kernel on whatever thread it picks) does only
//! async-signal-safe things: it bumps the signal's count and writes one
//! byte into the pipe of every claimed [`Slot`]. Each scheduler that has
//! listeners claims one slot and watches its read end on its reactor
//! (`hub.rs`). Everything else (claiming, installing) takes locks and runs
//! on ordinary threads, never in the handler.
//!
//! Rules that keep the handler sound:
//! * a slot's write fd, once set, is never closed or changed: the handler
//!   may have loaded it just before the slot was released, and a closed fd
//!   number could be reused by an unrelated file. A released slot keeps its
//!   socket pair for the next claimer;
//! * the handler takes no lock and allocates nothing.
//!
//! This file must not touch the reactor or tasks.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// One more than the largest signal number listened for (Linux's `_NSIG`).
pub(crate) const NSIG: usize = 65;
/// Most schedulers that listen for signals at once (one slot each).
pub(crate) const MAX_SLOTS: usize = 256;

/// Deliveries of each signal since the process started; the handler adds
/// one per delivery. A listener compares it with the value it saw last.
static COUNTS: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];

/// One scheduler's pipe, as the handler sees it.
struct Slot {
    /// Write end (non-blocking); -1 until the slot is first claimed, then
    /// fixed for the life of the process.
    write: AtomicI32,
    /// Claimed by a hub: the handler writes only to claimed slots.
    in_use: AtomicBool,
}

static SLOTS: [Slot; MAX_SLOTS] = [const {
    Slot {
        write: AtomicI32::new(-1),
        in_use: AtomicBool::new(false),
    }
}; MAX_SLOTS];
/// Slots ever claimed (the handler looks no further).
static HIGH: AtomicUsize = AtomicUsize::new(0);

/// Read ends of released slots, kept for the next claimer (indexed like
/// `SLOTS`). A `std::sync::Mutex`: held for a claim or release only.
static SPARE: Mutex<Vec<Option<UnixStream>>> = Mutex::new(Vec::new());
/// Signals whose handler is installed.
static INSTALLED: Mutex<[bool; NSIG]> = Mutex::new([false; NSIG]);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single assignment: a panic
    // elsewhere cannot leave them half-done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Deliveries of `sig` so far (0 for a number out of range).
pub(crate) fn count(sig: i32) -> u64 {
    usize::try_from(sig)
        .ok()
        .and_then(|i| COUNTS.get(i))
        .map_or(0, |c| c.load(Ordering::SeqCst))
}

/// Checks `sig` and installs the process-wide handler for it, once.
/// From then on the signal's default action (such as terminating on
/// `SIGINT`) is replaced for the rest of the process.
pub(crate) fn install(sig: i32) -> io::Result<()> {
    let idx = usize::try_from(sig)
        .ok()
        .filter(|&i| (1..NSIG).contains(&i))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("corun::signal: {sig} is not a signal number"),
            )
        })?;
    if signal_hook_registry::FORBIDDEN.contains(&sig) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "corun::signal: signal {sig} cannot be listened for (SIGKILL, SIGSTOP, SIGILL, SIGFPE and SIGSEGV are refused)"
            ),
        ));
    }
    let mut installed = lock(&INSTALLED);
    if installed[idx] {
        return Ok(());
    }
    // SAFETY: `on_signal` is async-signal-safe: it touches only atomics in
    // statics and calls `write(2)` on fds that stay open for the life of
    // the process (see the module rules); it never panics, allocates or
    // locks. signal-hook-registry saves and restores `errno` around it and
    // chains to any handler installed before.
    unsafe { signal_hook_registry::register(sig, move || on_signal(idx)) }?;
    installed[idx] = true;
    Ok(())
}

/// The handler body: count the delivery, then poke every claimed pipe.
fn on_signal(idx: usize) {
    // Count first: a listener woken by the byte must find the new count.
    // SeqCst here and in `count` and `Claim::new`: a listener claims its
    // slot, then reads the count; the handler bumps the count, then reads
    // the claim; with SeqCst at least one of them sees the other's write,
    // so a delivery is never both uncounted and unpoked.
    COUNTS[idx].fetch_add(1, Ordering::SeqCst);
    let high = HIGH.load(Ordering::SeqCst).min(MAX_SLOTS);
    for slot in &SLOTS[..high] {
        if !slot.in_use.load(Ordering::SeqCst) {
            continue;
        }
        let fd = slot.write.load(Ordering::Acquire);
        if fd >= 0 {
            let byte = 1u8;
            // SAFETY: `fd` is a non-blocking socket that is never closed
            // (module rules), and the buffer is one valid byte on the
            // stack. A full socket answers EAGAIN, which is fine: its
            // reader has a wake-up pending already.
            unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
        }
    }
}

/// A claimed slot: the read end whose readability means "some signal
/// arrived". Dropping it drains the socket and releases the slot.
pub(crate) struct Claim {
    idx: usize,
    read: Option<UnixStream>,
}

impl Claim {
    /// Claims a free slot (reusing its sockets) or a new one.
    pub(crate) fn new() -> io::Result<Claim> {
        let mut spare = lock(&SPARE);
        if let Some(idx) = spare.iter().position(Option::is_some) {
            let read = spare[idx].take();
            SLOTS[idx].in_use.store(true, Ordering::SeqCst);
            return Ok(Claim { idx, read });
        }
        let idx = spare.len();
        if idx >= MAX_SLOTS {
            return Err(io::Error::other(format!(
                "corun::signal: more than {MAX_SLOTS} schedulers listen for signals at once"
            )));
        }
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        // The write end is never closed (module rules): its fd moves into
        // the slot for good.
        SLOTS[idx]
            .write
            .store(write.into_raw_fd(), Ordering::Release);
        spare.push(None);
        // The handler must find the slot below HIGH once it sees it claimed.
        HIGH.store(idx + 1, Ordering::SeqCst);
        SLOTS[idx].in_use.store(true, Ordering::SeqCst);
        Ok(Claim {
            idx,
            read: Some(read),
        })
    }

    /// The read end (non-blocking).
    pub(crate) fn read_end(&self) -> &UnixStream {
        self.read.as_ref().expect("present until drop")
    }

    /// The read end's fd.
    pub(crate) fn fd(&self) -> i32 {
        self.read_end().as_raw_fd()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        SLOTS[self.idx].in_use.store(false, Ordering::Release);
        if let Some(read) = self.read.take() {
            // Bytes left over would only cost the next claimer one
            // needless wake; drain them now.
            let mut buf = [0u8; 64];
            while matches!(io::Read::read(&mut &read, &mut buf), Ok(n) if n > 0) {}
            lock(&SPARE)[self.idx] = Some(read);
        }
    }
}
