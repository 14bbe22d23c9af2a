//! Creating files one directory at a time: opens that may create a file
//! (`File::create`, `OpenOptions` with `create` or `create_new`) run on
//! the blocking pool, but at most one per parent directory at once; the
//! others for that directory queue here, and the pool thread that finishes
//! one takes the next without a wake-up.
//!
//! Rules, with the reasons in `docs/design/write-placement.md`:
//!
//! * The kernel holds the parent directory's lock (exclusively) while it
//!   creates a name, so creates in one directory run one at a time anyway;
//!   run in parallel, each waiting thread needs a wake-up to take the lock
//!   over, and on a busy machine that hand-over chain spreads 100 creates
//!   over tens of milliseconds. One thread running them back to back takes
//!   no hand-over.
//! * A path that exists and is not a regular file (a FIFO, a device) may
//!   block in `open` for as long as it likes (a FIFO until a reader comes),
//!   with the directory unlocked: such an open runs on the pool on its own,
//!   never in the queue, so it cannot hold up the directory's other creates.
//! * Queued creates start in FIFO order; each runs to completion (they are
//!   [`pool::job`]s, which catch panics and wake their task).
//! * Directories are told apart by the path's parent as written (no
//!   `canonicalize`): two spellings of one directory only lose the
//!   queueing, never correctness.
//!
//! This file only orders jobs: it must not open files itself, nor touch a
//! `File`, the lane, the scheduler or the reactor.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::unblock::{self as pool, Job, lock};

/// Directories with a create running, each with the creates queued behind
/// it (empty while the running one is the last).
fn dirs() -> &'static Mutex<HashMap<PathBuf, VecDeque<Job>>> {
    static DIRS: OnceLock<Mutex<HashMap<PathBuf, VecDeque<Job>>>> = OnceLock::new();
    DIRS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The directory a create of `path` changes: its parent as written.
pub(super) fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_owned(),
        None => path.to_owned(),
    }
}

/// Whether an open of `path` that may create it can wait in its
/// directory's queue: yes unless it exists and is not a regular file (an
/// open of a FIFO or device may block with the directory unlocked). Runs
/// on a pool thread (`stat` may block).
pub(super) fn may_queue(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) => m.is_file(),
        Err(_) => true,
    }
}

/// Runs `job` (an open that may create a file in `dir`) on the pool, after
/// the creates already queued for `dir`.
pub(super) fn submit(dir: PathBuf, job: Job) {
    let mut dirs = lock(dirs());
    if let Some(queue) = dirs.get_mut(&dir) {
        queue.push_back(job);
        return;
    }
    dirs.insert(dir.clone(), VecDeque::new());
    drop(dirs);
    pool::submit(Box::new(move || run(dir, job)));
}

/// Runs `job`, then the creates queued for `dir` behind it, until none is
/// left (then `dir` is forgotten, under the lock, so a create queued
/// meanwhile is never stranded).
fn run(dir: PathBuf, mut job: Job) {
    loop {
        // Pool jobs catch their own panics; belt and braces, so `dir`'s
        // queue is never left without a runner.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let mut dirs = lock(dirs());
        match dirs.get_mut(&dir).and_then(VecDeque::pop_front) {
            Some(next) => job = next,
            None => {
                dirs.remove(&dir);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_directory_of_a_path_as_written() {
        assert_eq!(dir_of(Path::new("f0")), PathBuf::from("."));
        assert_eq!(dir_of(Path::new("/tmp/x/f0")), PathBuf::from("/tmp/x"));
        assert_eq!(dir_of(Path::new("/")), PathBuf::from("/"));
    }

    #[test]
    fn only_regular_or_missing_paths_queue() {
        let dir = std::env::temp_dir();
        assert!(may_queue(
            &dir.join(format!("corun-no-such-{}", std::process::id()))
        ));
        assert!(!may_queue(&dir), "a directory is not a regular file");
        let path = dir.join(format!("corun-create-unit-{}", std::process::id()));
        std::fs::write(&path, b"x").unwrap();
        assert!(may_queue(&path));
        std::fs::remove_file(&path).unwrap();
        assert!(!may_queue(Path::new("/dev/null")));
    }

    #[test]
    fn one_create_per_directory_at_a_time_in_order_and_all_run() {
        const JOBS: usize = 200;
        let dir = PathBuf::from(format!("/corun-unit-dir-{}", std::process::id()));
        let other = PathBuf::from(format!("/corun-unit-other-{}", std::process::id()));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut pending = Vec::new();
        for i in 0..JOBS {
            let (running, most, order) = (running.clone(), most.clone(), order.clone());
            let (job, p) = pool::job(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                lock(&order).push(i);
                std::thread::yield_now();
                running.fetch_sub(1, Ordering::SeqCst);
            });
            submit(dir.clone(), job);
            pending.push(p);
        }
        // Another directory's creates are not held up behind `dir`'s.
        let (job, p) = pool::job(|| 7);
        submit(other, job);
        let again = dir.clone();
        crate::run(async move {
            assert_eq!(p.await, 7);
            for p in pending {
                p.await;
            }
            // A create submitted after the queue drained (its runner
            // exiting or gone) still runs: no job is ever stranded.
            let (job, p) = pool::job(|| 8);
            submit(again, job);
            let late = crate::time::timeout(std::time::Duration::from_secs(10), p).await;
            assert_eq!(late.ok(), Some(8));
        });
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert_eq!(*lock(&order), (0..JOBS).collect::<Vec<_>>());
    }
}
