//! `Task<T>`: the handle returned by spawn.
//!
//! Awaiting it gives the task's output, or a [`JoinError`] saying whether it
//! was killed or panicked. Dropping it detaches the task, which runs on.
//! This file talks to the task cell through the join protocol of
//! [`raw`](super::raw) and to the scheduler only to kill; it never polls.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::protocol;
use super::raw::{self, Header};
use super::{JoinError, TaskId, Waiting};
use crate::scheduler::context;

/// A handle to a spawned task.
///
/// * `.await` it for `Result<T, JoinError>`.
/// * [`kill`](Task::kill) it to drop its future at its current await point.
/// * Drop it to let the task run on by itself (detach); killing is always
///   explicit.
///
/// ```
/// corun::run(async {
///     let task = corun::spawn(async { 1 + 2 });
///     assert_eq!(task.await.unwrap(), 3);
/// });
/// ```
pub struct Task<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only touches the atomic parts of the header, the join
// waker under its lock, and the output after `COMPLETE` (acquire), which the
// owner thread no longer touches. Moving the handle moves the right to read
// a `T` to another thread, hence `T: Send`.
unsafe impl<T: Send> Send for Task<T> {}
// SAFETY: `&Task` allows `id`, `name`, `is_finished` and `kill`, which are
// thread-safe as argued above (kill off-thread is a message).
unsafe impl<T: Send> Sync for Task<T> {}

impl<T> Unpin for Task<T> {}

impl<T> Task<T> {
    /// Wraps a raw task; the handle owns one reference.
    pub(crate) fn from_raw(raw: NonNull<Header>) -> Task<T> {
        Task {
            raw,
            _output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle owns a reference, so the task is alive.
        unsafe { raw::header(self.raw) }
    }

    /// The task's id.
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn(async {});
    ///     println!("task {}", t.id());
    /// });
    /// ```
    pub fn id(&self) -> TaskId {
        TaskId::of(self.header())
    }

    /// The name given at spawn, if any.
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn_named("worker-1", async {});
    ///     assert_eq!(t.name(), Some("worker-1"));
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.header().name()
    }

    /// True once the task has ended (its output, or why it has none, is
    /// ready to be awaited).
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn(async {});
    ///     assert!(!t.is_finished());
    ///     corun::yield_now().await;
    ///     assert!(t.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        protocol::is_complete(&self.header().remote_flags)
    }

    /// Kills the task: its future is dropped at its current await point (at
    /// once if it is not running; a task that kills itself ends at its next
    /// await). Returns false if it had already ended.
    ///
    /// Called from another thread (or another core), the kill is sent as a
    /// message and means the same: if this returns true, the task had not
    /// ended, and it ends killed (even if it returns during the poll in
    /// progress).
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn(corun::sleep(std::time::Duration::from_secs(3600)));
    ///     assert!(t.kill());
    ///     assert!(t.await.unwrap_err().is_killed());
    /// });
    /// ```
    pub fn kill(&self) -> bool {
        let h = self.header();
        if let Some(killed) = context::kill_if_local(h.owner_ptr(), TaskId::of(h)) {
            return killed;
        }
        if !protocol::send_kill(&h.remote_flags) {
            return false;
        }
        // A closed scheduler has killed (or is killing) every task.
        let _ = h.owner().push_kill(TaskId::of(h), None);
        true
    }

    /// Lets the task run on by itself; same as dropping the handle.
    ///
    /// ```
    /// corun::run(async {
    ///     corun::spawn(async { println!("still runs") }).detach();
    ///     corun::yield_now().await;
    /// });
    /// ```
    pub fn detach(self) {}
}

impl<T> Future for Task<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let h = self.header();
        if !raw::register_join_waker(h, cx.waker()) {
            crate::task::set_waiting(Waiting::Task(TaskId::of(h)));
            return Poll::Pending;
        }
        // SAFETY: `COMPLETE` was observed with acquire ordering, so the
        // owner thread has written the outcome and will not touch the stage
        // again; this handle is the task's, so its output type is `T`.
        Poll::Ready(unsafe { raw::take_output::<T>(self.raw) })
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        let h = self.header();
        if protocol::release_handle(&h.remote_flags) {
            // The owner saw the handle and left the outcome to us. Unread
            // outputs are dropped here (on the handle's thread: T is Send if
            // the handle could move); an unread panic is logged.
            // SAFETY: after `COMPLETE` the stage belongs to the handle.
            if let Some(msg) = unsafe { raw::drop_stage(self.raw) } {
                log_unread_panic(h, &msg);
            }
        }
        // SAFETY: the handle owned one reference.
        unsafe { raw::ref_dec(self.raw) };
    }
}

/// Logs the panic of a task whose handle was dropped unread. Out of line:
/// the usual drop (an awaited task) saves no registers for the logger.
#[cold]
#[inline(never)]
fn log_unread_panic(h: &Header, msg: &str) {
    tracing::error!(task.id = h.id, task.name = h.name(), "task panicked: {msg}");
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}
