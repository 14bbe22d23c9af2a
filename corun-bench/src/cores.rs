//! What the multi-core cells share inside a child process: their
//! description ([`CoresWork`]: the `cores` CPU + I/O mix, and urlfetch and
//! httpd at N cores), the 16 KiB hash every runtime runs, the 64-byte
//! request and its check, pinning the process to N CPUs, and the open-file
//! limit the mix needs.
//!
//! Nothing here names a runtime (the programs are in `peers/*_cores.rs`),
//! prints, or picks sizes (`plan.rs` does).

use std::io;

use crate::common::{self, Outcome};

/// Bytes each round hashes.
pub const HASH_BYTES: usize = 16 * 1024;

/// Bytes of each request (and of its echo).
pub const MSG: usize = 64;

/// Rounds of hash + round trip each task of the `cores` mix does.
pub const ROUNDS: u32 = 16;

/// How long urlfetch's accept loop waits for the next connection before
/// it stops (the fetches that never connected then report their errors).
pub const ACCEPT_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

/// A multi-core cell: the runtime runs on `cores` cores (corun:
/// `Builder::cores`; tokio-mt: that many workers), the process pinned to
/// that many CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoresWork {
    /// `tasks` tasks, each connecting once to the runtime's own echo server
    /// and then doing `rounds` × (hash [`HASH_BYTES`], send [`MSG`] bytes,
    /// read their echo).
    Mix {
        /// Client tasks.
        tasks: u64,
        /// Rounds per task.
        rounds: u32,
        /// Cores (or workers).
        cores: usize,
        /// corun's tuned layout: each core's clients connect to that
        /// core's own listener, so no round trip crosses cores (the
        /// `cores-tuned` kind; tokio-mt does not run it).
        tuned: bool,
    },
    /// urlfetch (`common::Work::UrlFetch`) on `cores` cores.
    UrlFetch {
        /// Fetches.
        n: u64,
        /// Cores (or workers).
        cores: usize,
        /// corun's tuned urlfetch (two schedulers, chunked client spawns;
        /// the `urlfetch-tuned` kind; tokio-mt does not run it).
        tuned: bool,
    },
    /// httpd (`common::Work::Httpd`) on `cores` cores; corun's server is
    /// `corun/examples/http_server` (see `crate::http_example`).
    Httpd {
        /// Load seconds.
        secs: u64,
        /// Cores (or workers).
        cores: usize,
    },
}

impl CoresWork {
    /// The cores (or workers) the cell runs on.
    pub fn cores(&self) -> usize {
        match *self {
            CoresWork::Mix { cores, .. }
            | CoresWork::UrlFetch { cores, .. }
            | CoresWork::Httpd { cores, .. } => cores,
        }
    }
}

/// The block every round hashes: fixed bytes, the same in every runtime.
static BLOCK: [u8; HASH_BYTES] = block();

const fn block() -> [u8; HASH_BYTES] {
    let mut b = [0u8; HASH_BYTES];
    let mut i = 0;
    while i < HASH_BYTES {
        b[i] = (i.wrapping_mul(31) ^ (i >> 7)) as u8;
        i += 1;
    }
    b
}

/// FNV-1a over `data`, started from `seed`: one dependent multiply per
/// byte, so it cannot be vectorised away and costs the same everywhere.
pub fn fnv1a(seed: u64, data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One round's CPU work: [`fnv1a`] of the [`HASH_BYTES`] block with a seed
/// of the task and round (so no two rounds hash alike).
pub fn hash_round(task: u64, round: u32) -> u64 {
    let seed = task.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(round);
    fnv1a(seed, std::hint::black_box(&BLOCK[..]))
}

/// The request of `task`'s round `round`: task, round and hash, then
/// filler, [`MSG`] bytes in all.
pub fn request(task: u64, round: u32, hash: u64) -> [u8; MSG] {
    let mut m = [0x5a_u8; MSG];
    m[..8].copy_from_slice(&task.to_le_bytes());
    m[8..12].copy_from_slice(&round.to_le_bytes());
    m[16..24].copy_from_slice(&hash.to_le_bytes());
    m
}

/// Checks that the echo of `sent` came back unchanged.
pub fn check_echo(sent: &[u8; MSG], got: &[u8; MSG]) -> Result<(), String> {
    if sent == got {
        Ok(())
    } else {
        let task = u64::from_le_bytes(sent[..8].try_into().expect("8 bytes"));
        Err(format!("task {task}: echo differs from the request"))
    }
}

/// The first `n` of the `allowed` CPUs, or why there are not enough.
pub fn first_cpus(allowed: &[usize], n: usize) -> Result<Vec<usize>, String> {
    if n == 0 {
        return Err("cannot run on 0 CPUs".into());
    }
    if allowed.len() < n {
        return Err(format!(
            "needs {n} CPUs, this process may use {}",
            allowed.len()
        ));
    }
    Ok(allowed[..n].to_vec())
}

/// Pins the calling thread, and so every thread it starts afterwards, to
/// the first `n` CPUs it may use (what `taskset` does to a process). Call it
/// before the runtime starts its threads. Returns the CPUs.
pub fn pin_to_cpus(n: usize) -> Result<Vec<usize>, String> {
    // SAFETY: cpu_set_t is plain bits; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a valid cpu_set_t of `size` bytes; pid 0 is this thread.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Err(format!("sched_getaffinity: {}", io::Error::last_os_error()));
    }
    let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's size in bits.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect();
    let cpus = first_cpus(&allowed, n)?;
    // SAFETY: as above; CPU_ZERO/CPU_SET only write bits of `set`.
    unsafe {
        libc::CPU_ZERO(&mut set);
        for &cpu in &cpus {
            libc::CPU_SET(cpu, &mut set);
        }
    }
    // SAFETY: `set` is a valid cpu_set_t of `size` bytes; pid 0 is this thread.
    if unsafe { libc::sched_setaffinity(0, size, &set) } != 0 {
        return Err(format!("sched_setaffinity: {}", io::Error::last_os_error()));
    }
    Ok(cpus)
}

/// Open files the mix needs for `tasks` tasks: both ends of one connection
/// per task, plus a margin for listeners, pollers and stdio.
pub fn mix_files(tasks: u64) -> u64 {
    tasks * 2 + 64
}

/// How many of `n` mix tasks fit in `nofile` open files (see
/// [`mix_files`]), in whole hundreds when capped: 10 000 tasks need 20 064
/// files, one process may open 20 000 on this project's machines, and the
/// hard limit cannot be raised there, so the cell runs 9 900.
pub fn mix_tasks_within(n: u64, nofile: u64) -> u64 {
    if mix_files(n) <= nofile {
        return n;
    }
    let fit = nofile.saturating_sub(mix_files(0)) / 2;
    (fit / 100 * 100).max(fit.min(100))
}

/// This process's hard limit on open files.
pub fn nofile_hard() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct we pass by valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    lim.rlim_max
}

/// The listen backlog the mix's echo listeners ask for, in every runtime:
/// one place per task (the kernel caps it at `net.core.somaxconn`, which
/// the parent raises where it may). All the tasks connect at once; with
/// a runtime's default backlog (tokio's is 128) the cell would time SYN
/// retransmits, which urlfetch measures, instead of the cores' scaling.
pub fn mix_backlog(tasks: u64) -> u32 {
    u32::try_from(tasks).unwrap_or(u32::MAX).max(1024)
}

/// Makes sure this process may open `need` files: raises the soft limit,
/// and the hard one where allowed (root), or says what is missing.
pub fn ensure_nofile(need: u64) -> Result<(), String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct we pass by valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", io::Error::last_os_error()));
    }
    if lim.rlim_cur >= need {
        return Ok(());
    }
    let want = libc::rlimit {
        rlim_cur: need,
        rlim_max: lim.rlim_max.max(need),
    };
    // SAFETY: setrlimit reads only the struct we pass by valid pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } != 0 {
        return Err(format!(
            "needs {need} open files (2 per task), the limit is {} (hard {}) and cannot be \
             raised ({}): raise it with `ulimit -Hn` as root",
            lim.rlim_cur,
            lim.rlim_max,
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The outcome of a mix run: every round trip done and checked, or the
/// first error; the listen-queue overflows since `overflows0` and the CPU
/// used since `u0` go in as notes.
pub fn mix_outcome(
    want: u64,
    done: u64,
    first_err: Option<String>,
    secs: f64,
    overflows0: u64,
    u0: common::Usage,
) -> Result<Outcome, String> {
    let used = u0.since();
    if let Some(e) = first_err {
        return Err(format!(
            "{} of {want} round trips missing, first error: {e}",
            want - done
        ));
    }
    common::check("round trips", done, want)?;
    let overflows = common::listen_overflows().saturating_sub(overflows0);
    Ok(Outcome::secs(secs)
        .with_usage(used)
        .with("listen_overflows", overflows as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // FNV-1a 64 of "" and "a" (the published test values).
        assert_eq!(fnv1a(0, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(0, b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn rounds_hash_differently_and_repeatably() {
        assert_eq!(hash_round(7, 3), hash_round(7, 3));
        assert_ne!(hash_round(7, 3), hash_round(7, 4));
        assert_ne!(hash_round(7, 3), hash_round(8, 3));
    }

    #[test]
    fn a_request_carries_task_round_and_hash_and_checks_only_its_own_echo() {
        let m = request(42, 5, 0xdead_beef);
        assert_eq!(m.len(), MSG);
        assert_eq!(u64::from_le_bytes(m[..8].try_into().unwrap()), 42);
        assert_eq!(u32::from_le_bytes(m[8..12].try_into().unwrap()), 5);
        assert_eq!(
            u64::from_le_bytes(m[16..24].try_into().unwrap()),
            0xdead_beef
        );
        assert!(check_echo(&m, &m).is_ok());
        let mut bad = m;
        bad[63] ^= 1;
        assert!(check_echo(&m, &bad).unwrap_err().contains("task 42"));
    }

    #[test]
    fn first_cpus_takes_the_lowest_allowed_or_says_how_many_there_are() {
        assert_eq!(first_cpus(&[1, 3, 4], 2), Ok(vec![1, 3]));
        assert_eq!(first_cpus(&[2], 1), Ok(vec![2]));
        assert!(first_cpus(&[0], 2).unwrap_err().contains("may use 1"));
        assert!(first_cpus(&[0, 1], 0).is_err());
    }

    #[test]
    fn pinning_to_one_cpu_leaves_this_thread_one_cpu() {
        // On its own thread: the affinity stays with the thread that set it.
        let cpus = std::thread::spawn(|| {
            let cpus = pin_to_cpus(1).unwrap();
            // SAFETY: sched_getcpu takes no arguments.
            let now = unsafe { libc::sched_getcpu() };
            (cpus, now)
        })
        .join()
        .unwrap();
        assert_eq!(cpus.0.len(), 1);
        assert_eq!(cpus.1 as usize, cpus.0[0]);
    }

    #[test]
    fn the_mix_needs_two_files_and_a_backlog_place_per_task() {
        assert_eq!(mix_files(10_000), 20_064);
        assert_eq!(mix_backlog(10_000), 10_000);
        assert_eq!(mix_backlog(200), 1024);
        assert_eq!(mix_tasks_within(10_000, 20_064), 10_000);
        assert_eq!(mix_tasks_within(10_000, 20_000), 9_900);
        assert_eq!(mix_tasks_within(10_000, 1_024), 400);
        assert_eq!(mix_tasks_within(10_000, 200), 68);
        assert_eq!(mix_tasks_within(200, 1_024), 200);
        assert!(ensure_nofile(64).is_ok());
    }

    #[test]
    fn a_mix_outcome_fails_on_missing_round_trips_or_an_error() {
        let u0 = common::Usage::now();
        let o = mix_outcome(32, 32, None, 1.5, common::listen_overflows(), u0).unwrap();
        assert_eq!(o.secs, 1.5);
        assert!(o.extra.contains_key("listen_overflows") && o.extra.contains_key("user_s"));
        assert!(
            mix_outcome(32, 31, None, 1.0, 0, u0)
                .unwrap_err()
                .contains("got 31")
        );
        let e = mix_outcome(32, 16, Some("reset".into()), 1.0, 0, u0).unwrap_err();
        assert!(e.contains("16 of 32") && e.contains("reset"), "{e}");
    }
}
