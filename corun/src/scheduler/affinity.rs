//! Pinning core threads to CPUs ([`Builder::pin_cores`](super::Builder::pin_cores)):
//! which CPUs the process may use, pinning the calling thread to one of
//! them, and the thread-local record of the CPU this thread's core is
//! pinned to, which listeners read to steer connections
//! (`net::TcpListenerBuilder::steer_to_core`).
//!
//! Only the builder pins and unpins; this file must not touch a core or
//! its tasks. (The reasons: `docs/design/many-cores.md`, "Pinning and
//! steering".)

use std::cell::Cell;
use std::io;

thread_local! {
    /// The CPU this thread's core is pinned to; `None` on threads that are
    /// not pinned cores.
    static PINNED: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The CPU the core running on this thread is pinned to, if it is.
pub(crate) fn pinned_cpu() -> Option<usize> {
    PINNED.with(Cell::get)
}

/// The CPUs the calling thread may run on, lowest first.
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    let set = get_affinity()?;
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's size in bits.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Whether `cores` cores are pinned by default: when there are several
/// and each can have a CPU of its own, exactly filling what the process
/// may use (then no core gains anything by moving, and a moving core
/// only lands on a CPU that another core needs).
pub(crate) fn pin_by_default(cores: usize, allowed: usize) -> bool {
    cores > 1 && cores == allowed
}

/// The CPU core `index` is pinned to: the `index`-th allowed CPU, wrapping
/// when there are more cores than CPUs.
pub(crate) fn cpu_for(index: usize, allowed: &[usize]) -> Option<usize> {
    (!allowed.is_empty()).then(|| allowed[index % allowed.len()])
}

/// Pins the calling thread to `cpu` and records it for [`pinned_cpu`];
/// the guard restores the thread's former CPUs and record when dropped.
pub(crate) fn pin_current(cpu: usize) -> io::Result<Pinned> {
    let before = get_affinity()?;
    // SAFETY: cpu_set_t is plain bits; zeroed is the empty set.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is beyond the affinity mask"),
        ));
    }
    // SAFETY: `cpu` is below CPU_SETSIZE (checked above).
    unsafe { libc::CPU_SET(cpu, &mut one) };
    set_affinity(&one)?;
    let record = PINNED.with(|p| p.replace(Some(cpu)));
    Ok(Pinned { before, record })
}

/// Undoes a [`pin_current`] when dropped.
pub(crate) struct Pinned {
    before: libc::cpu_set_t,
    record: Option<usize>,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // Best effort: a thread that cannot widen its mask again keeps
        // running where it was pinned.
        let _ = set_affinity(&self.before);
        PINNED.with(|p| p.set(self.record));
    }
}

fn get_affinity() -> io::Result<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain bits; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the
    // calling thread.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if r == 0 {
        Ok(set)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_affinity(set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the
    // calling thread.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(set), set) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_cores_pin_by_default_only_when_they_fill_the_allowed_cpus() {
        assert!(pin_by_default(2, 2));
        assert!(pin_by_default(8, 8));
        assert!(!pin_by_default(1, 1));
        assert!(!pin_by_default(2, 4));
        assert!(!pin_by_default(4, 2));
    }

    #[test]
    fn cores_take_the_allowed_cpus_in_order_and_wrap() {
        assert_eq!(cpu_for(0, &[3, 5]), Some(3));
        assert_eq!(cpu_for(1, &[3, 5]), Some(5));
        assert_eq!(cpu_for(2, &[3, 5]), Some(3));
        assert_eq!(cpu_for(0, &[]), None);
    }

    #[test]
    fn pinning_the_thread_records_the_cpu_and_the_guard_restores_both() {
        std::thread::spawn(|| {
            let all = allowed_cpus().unwrap();
            let cpu = *all.last().unwrap();
            let guard = pin_current(cpu).unwrap();
            assert_eq!(allowed_cpus().unwrap(), [cpu]);
            assert_eq!(pinned_cpu(), Some(cpu));
            drop(guard);
            assert_eq!(allowed_cpus().unwrap(), all);
            assert_eq!(pinned_cpu(), None);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_cpu_beyond_the_mask_is_an_error() {
        let e = std::thread::spawn(|| pin_current(libc::CPU_SETSIZE as usize).err())
            .join()
            .unwrap();
        assert_eq!(e.unwrap().kind(), io::ErrorKind::InvalidInput);
    }
}
