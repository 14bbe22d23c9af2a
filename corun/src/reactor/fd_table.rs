//! The process's file-descriptor table, grown once ahead of need before
//! corun starts a thread.
//!
//! Linux grows a full fd table by copying it; in a process of more than
//! one thread it first waits for an RCU grace period (`expand_fdtable`),
//! which on a VM takes milliseconds. With the ticker thread running, every
//! doubling an accept storm causes would stall the scheduler inside
//! `accept4` or `socket` for one (`docs/design/fd-table.md`). Grown while
//! the process is still single-threaded, the table needs no grace period,
//! and later opens find room.
//!
//! Only the table's size changes (kernel memory, not the process's RSS);
//! no descriptor stays open. Nothing here touches the reactor's state.

use std::sync::Once;

/// The most slots the table is grown to ahead of need: 64 Ki slots are
/// 512 KiB of kernel memory; a process allowed more grows past it on
/// demand as before.
const AHEAD_MAX: libc::rlim_t = 1 << 16;

/// Grows the table to the soft `RLIMIT_NOFILE`, at most [`AHEAD_MAX`]
/// slots, once per process. Best effort: any failure leaves the table to
/// grow on demand.
pub(crate) fn grow_ahead() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = grow_to(slots_ahead());
    });
}

/// How many slots to grow the table to.
fn slots_ahead() -> libc::c_int {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct passed by a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    // Fits: AHEAD_MAX is far below c_int::MAX.
    lim.rlim_cur.min(AHEAD_MAX) as libc::c_int
}

/// Makes the table hold at least `slots` descriptors by opening one
/// descriptor numbered `slots - 1` and closing it again.
fn grow_to(slots: libc::c_int) -> std::io::Result<()> {
    if slots <= 1 {
        return Ok(());
    }
    // An fd of our own to duplicate: the standard ones may be closed.
    // SAFETY: eventfd takes no pointers; failure shows in the result.
    let probe = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if probe < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `probe` is an open fd we own; F_DUPFD_CLOEXEC opens the
    // lowest free fd >= `slots - 1` as a copy of it (growing the table).
    let high = unsafe { libc::fcntl(probe, libc::F_DUPFD_CLOEXEC, slots - 1) };
    let err = std::io::Error::last_os_error();
    // SAFETY: both are fds this function opened and nobody else knows.
    unsafe {
        if high >= 0 {
            libc::close(high);
        }
        libc::close(probe);
    }
    if high < 0 { Err(err) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    /// The table's size as `/proc/self/status` reports it (`FDSize`).
    fn fd_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line["FDSize:".len()..].trim().parse().unwrap()
    }

    #[test]
    fn the_table_is_grown_to_the_soft_limit_capped() {
        super::grow_ahead();
        let want = super::slots_ahead() as u64;
        assert!(want > 1, "RLIMIT_NOFILE unreadable or tiny");
        let size = fd_size();
        assert!(size >= want, "FDSize {size}, want at least {want}");
    }

    #[test]
    fn a_table_already_large_enough_stays_as_it_is() {
        super::grow_ahead();
        let before = fd_size();
        super::grow_to(2).unwrap();
        assert_eq!(fd_size(), before);
    }
}
