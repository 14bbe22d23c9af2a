//! The reaper: collects the exit of children whose [`Child`](super::Child)
//! was dropped before they were reaped, so none stays a zombie.
//!
//! One thread, started at the first such child, runs a corun scheduler
//! with a task per orphan that waits for its exit (`wait.rs`) and reaps
//! it. The thread lives for the rest of the process, parked in epoll when
//! there is nothing to reap. If it cannot be started, or an orphan cannot
//! be watched, the orphan's `wait` runs on the blocking pool instead.
//!
//! This file must not touch a live `Child`'s state: it only receives
//! `std::process::Child`es nobody else holds.

use std::future::poll_fn;
use std::sync::OnceLock;

use super::wait::Watcher;
use crate::sync::mpsc::{self, UnboundedSender};

static REAPER: OnceLock<Option<UnboundedSender<std::process::Child>>> = OnceLock::new();

/// Takes `child` (not yet reaped) and reaps it when it exits.
pub(crate) fn adopt(child: std::process::Child) {
    let reaper = REAPER.get_or_init(start);
    let child = match reaper {
        Some(tx) => match tx.send(child) {
            Ok(()) => return,
            Err(e) => e.0,
        },
        None => child,
    };
    block_on_pool(child);
}

/// Starts the reaper thread; `None` if it cannot be started.
fn start() -> Option<UnboundedSender<std::process::Child>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<std::process::Child>();
    let started = std::thread::Builder::new()
        .name("corun-reaper".into())
        .spawn(move || {
            crate::run(async move {
                while let Some(child) = rx.recv().await {
                    crate::spawn(reap(child)).detach();
                }
            })
        });
    match started {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::warn!(
                "corun::process: cannot start the reaper thread ({e}); reaping on the blocking pool"
            );
            None
        }
    }
}

/// Waits for `child` on this (the reaper's) scheduler.
async fn reap(mut child: std::process::Child) {
    let mut watcher = match Watcher::new(child.id()) {
        Ok(w) => w,
        Err(_) => return block_on_pool(child),
    };
    if poll_fn(|cx| watcher.poll_exit(&mut child, cx))
        .await
        .is_err()
    {
        block_on_pool(child);
    }
}

/// Last resort: a blocking `waitpid` on a pool thread.
fn block_on_pool(mut child: std::process::Child) {
    drop(crate::unblock::spawn(move || {
        let _ = child.wait();
    }));
}
