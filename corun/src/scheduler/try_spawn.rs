//! Bounded spawning from other threads: [`Scheduler::try_spawn`] and its
//! error. The bound itself lives in the injection queue (`shared`); this
//! file only asks for a place and builds the answer, and must not touch
//! the scheduler's thread-local state.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::shared::Refused;
use super::{Scheduler, context};
use crate::task::Task;

/// Why [`Scheduler::try_spawn`] did not spawn.
pub enum TrySpawnError<F> {
    /// The scheduler's queue of spawns from other threads holds its bound
    /// ([`Builder::max_queued_spawns`](crate::Builder::max_queued_spawns));
    /// here is the future back, to retry later or shed.
    Full(F),
    /// The scheduler has shut down (the future is dropped, as
    /// [`Scheduler::spawn`] drops it then).
    Shutdown,
}

impl<F> TrySpawnError<F> {
    /// True for [`TrySpawnError::Full`].
    ///
    /// ```
    /// let e = corun::TrySpawnError::Full(async {});
    /// assert!(e.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySpawnError::Full(_))
    }

    /// The future, if it was given back.
    ///
    /// ```
    /// let e = corun::TrySpawnError::Full(7);
    /// assert_eq!(e.into_future(), Some(7));
    /// ```
    pub fn into_future(self) -> Option<F> {
        match self {
            TrySpawnError::Full(f) => Some(f),
            TrySpawnError::Shutdown => None,
        }
    }
}

impl<F> fmt::Debug for TrySpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySpawnError::Full(_) => f.write_str("Full(..)"),
            TrySpawnError::Shutdown => f.write_str("Shutdown"),
        }
    }
}

impl<F> fmt::Display for TrySpawnError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySpawnError::Full(_) => {
                f.write_str("the scheduler's queue of spawns from other threads is full")
            }
            TrySpawnError::Shutdown => f.write_str("the scheduler has shut down"),
        }
    }
}

impl<F> std::error::Error for TrySpawnError<F> {}

impl Scheduler {
    /// Spawns a task from any thread, unless the scheduler's queue of spawns
    /// from other threads holds its bound
    /// ([`Builder::max_queued_spawns`](crate::Builder::max_queued_spawns)):
    /// then the future comes back in [`TrySpawnError::Full`]. Never blocks.
    /// On the scheduler's own thread nothing queues, so it never reports
    /// `Full` there.
    ///
    /// [`Scheduler::spawn`] ignores the bound: it never blocks and never
    /// refuses work while the scheduler runs. Producers that can outrun the
    /// scheduler use `try_spawn` and can watch
    /// [`Stats::queued_spawns`](crate::Stats::queued_spawns).
    ///
    /// ```
    /// let sched = corun::Builder::new().max_queued_spawns(1000).start().unwrap();
    /// match sched.try_spawn(async { 1 }) {
    ///     Ok(t) => assert_eq!(sched.block_on(t).unwrap().unwrap(), 1),
    ///     Err(e) => assert!(e.is_full()), // the future is in `e`
    /// }
    /// sched.shutdown().unwrap();
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<Task<F::Output>, TrySpawnError<F>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (core, shared) = self.place();
        let reserved = !context::is_local(Arc::as_ptr(shared));
        if reserved {
            match shared.reserve_spawn() {
                Ok(()) => {}
                Err(Refused::Full) => return Err(TrySpawnError::Full(future)),
                Err(Refused::Closed) => return Err(TrySpawnError::Shutdown),
            }
        }
        self.spawn_to(core, future, None, reserved)
            .map_err(|_| TrySpawnError::Shutdown)
    }
}
