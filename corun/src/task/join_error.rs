//! `JoinError`: why awaiting a task gave no output (killed, or panicked
//! with a payload).
//!
//! It is one pointer wide, so `Result<T, JoinError>` costs `T` plus one
//! word, and `Result<(), JoinError>` a single word: joining a million tasks
//! keeps a million of these (`join_all`'s results). A task cell holds the
//! output or the error in the same place, never both, so there it costs
//! the larger of `T` and one word. A panic payload is boxed once more (a thin
//! pointer to the `Box<dyn Any>`); "killed" is a dangling sentinel that no
//! allocation can have, so null stays free for `Result`'s niche.
//!
//! This file only defines the error type; it never touches tasks.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::raw;

/// A panic payload as `catch_unwind` returns it.
type Payload = Box<dyn Any + Send + 'static>;

/// Why awaiting a [`Task`](crate::Task) gave no output: the task was
/// killed, or it panicked (and here is its payload). To `match` on the two
/// cases, take it apart with [`JoinError::into_kind`].
///
/// A killed task is killed for every observer: its handle, `wait_exit` and
/// the scheduler's counters all say Killed, even if a destructor of its
/// future panics while the kill drops it (that panic is logged through
/// `tracing` with the task's id and name, and goes no further). A task
/// whose future returns in the very poll during which it is killed is
/// killed too: its output is dropped.
///
/// ```
/// corun::run(async {
///     let t = corun::spawn(async { panic!("boom") });
///     let err = t.await.unwrap_err();
///     assert!(err.is_panic());
///     let payload = err.try_into_panic().unwrap();
///     assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "boom");
/// });
/// ```
pub struct JoinError {
    /// The boxed payload, or [`KILLED`](JoinError::KILLED_SENTINEL).
    repr: NonNull<Payload>,
    /// Owns a `Payload` (so: `Send`, not `Sync`, drops it).
    _owns: PhantomData<Payload>,
}

// SAFETY: a `JoinError` owns at most one `Box<dyn Any + Send>`, which is
// `Send`; moving the error moves that box.
unsafe impl Send for JoinError {}

impl JoinError {
    /// The sentinel standing for "killed": dangling (aligned, non-null),
    /// an address no `Box<Payload>` allocation can have.
    const KILLED_SENTINEL: NonNull<Payload> = NonNull::dangling();

    /// The task was killed (explicitly, or by a scheduler shutdown).
    pub(crate) fn killed() -> JoinError {
        JoinError {
            repr: Self::KILLED_SENTINEL,
            _owns: PhantomData,
        }
    }

    /// The task panicked with `payload`.
    pub(crate) fn panicked(payload: Payload) -> JoinError {
        JoinError {
            repr: NonNull::from(Box::leak(Box::new(payload))),
            _owns: PhantomData,
        }
    }

    /// True if the task was killed (explicitly, or by a scheduler shutdown)
    /// before it finished.
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn(corun::sleep(std::time::Duration::from_secs(60)));
    ///     t.kill();
    ///     assert!(t.await.unwrap_err().is_killed());
    /// });
    /// ```
    pub fn is_killed(&self) -> bool {
        self.repr == Self::KILLED_SENTINEL
    }

    /// True if the task panicked.
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn(async { panic!("x") });
    ///     assert!(t.await.unwrap_err().is_panic());
    /// });
    /// ```
    pub fn is_panic(&self) -> bool {
        !self.is_killed()
    }

    /// The payload given to `panic!`, if the task panicked.
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn(async { std::panic::panic_any(7u32) });
    ///     let err = t.await.unwrap_err();
    ///     assert_eq!(err.panic_payload().unwrap().downcast_ref::<u32>(), Some(&7));
    /// });
    /// ```
    pub fn panic_payload(&self) -> Option<&(dyn Any + Send + 'static)> {
        if self.is_killed() {
            return None;
        }
        // SAFETY: not the sentinel, so `repr` came from `Box::leak` in
        // `panicked` and is owned by `self`, which this borrow outlives.
        Some(unsafe { self.repr.as_ref() }.as_ref())
    }

    /// The payload given to `panic!` (to re-raise it with
    /// `std::panic::resume_unwind`, say), or the error itself back if the
    /// task was killed.
    ///
    /// ```
    /// corun::run(async {
    ///     let t = corun::spawn(async { panic!("boom") });
    ///     let payload = t.await.unwrap_err().try_into_panic().unwrap();
    ///     assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "boom");
    /// });
    /// ```
    pub fn try_into_panic(self) -> Result<Payload, JoinError> {
        if self.is_killed() {
            return Err(self);
        }
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: not the sentinel, so `repr` came from `Box::leak` in
        // `panicked`; `self` is not dropped (ManuallyDrop), so the box is
        // taken back exactly once.
        Ok(*unsafe { Box::from_raw(this.repr.as_ptr()) })
    }
}

/// A [`JoinError`] taken apart, to `match` on: the task was
/// [`Killed`](JoinErrorKind::Killed), or it
/// [`Panicked`](JoinErrorKind::Panicked) with this payload. (`JoinError`
/// itself stays one word wide; this is the form to branch on.)
///
/// ```
/// use corun::JoinErrorKind;
/// corun::run(async {
///     let t = corun::spawn(async { std::panic::panic_any(7u32) });
///     match t.await.unwrap_err().into_kind() {
///         JoinErrorKind::Panicked(p) => assert_eq!(p.downcast_ref::<u32>(), Some(&7)),
///         JoinErrorKind::Killed => unreachable!("nobody killed it"),
///     }
/// });
/// ```
#[derive(Debug)]
pub enum JoinErrorKind {
    /// The task was killed (explicitly, or by a scheduler shutdown) before
    /// it finished.
    Killed,
    /// The task panicked; the payload given to `panic!`.
    Panicked(Payload),
}

impl JoinError {
    /// Takes the error apart into a [`JoinErrorKind`] to `match` on.
    ///
    /// ```
    /// use corun::JoinErrorKind;
    /// corun::run(async {
    ///     let t = corun::spawn(corun::sleep(std::time::Duration::from_secs(60)));
    ///     t.kill();
    ///     assert!(matches!(t.await.unwrap_err().into_kind(), JoinErrorKind::Killed));
    /// });
    /// ```
    pub fn into_kind(self) -> JoinErrorKind {
        match self.try_into_panic() {
            Ok(payload) => JoinErrorKind::Panicked(payload),
            Err(_) => JoinErrorKind::Killed,
        }
    }
}

impl Drop for JoinError {
    fn drop(&mut self) {
        if !self.is_killed() {
            // SAFETY: not the sentinel: the box from `panicked`, owned by
            // `self` and freed only here.
            drop(unsafe { Box::from_raw(self.repr.as_ptr()) });
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.panic_payload() {
            None => f.write_str("Killed"),
            Some(p) => write!(f, "Panicked({:?})", raw::panic_message(p)),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.panic_payload() {
            None => f.write_str("task was killed"),
            Some(p) => write!(f, "task panicked: {}", raw::panic_message(p)),
        }
    }
}

impl std::error::Error for JoinError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_and_results_stay_small() {
        assert_eq!(size_of::<JoinError>(), 8);
        assert_eq!(size_of::<Result<(), JoinError>>(), 8);
        assert_eq!(size_of::<Result<u64, JoinError>>(), 16);
    }

    #[test]
    fn killed_and_panicked_read_back() {
        let k = JoinError::killed();
        assert!(k.is_killed() && !k.is_panic());
        assert!(k.panic_payload().is_none());
        assert_eq!(format!("{k:?} / {k}"), "Killed / task was killed");
        assert!(k.try_into_panic().unwrap_err().is_killed());

        let p = JoinError::panicked(Box::new(String::from("oops")));
        assert!(p.is_panic() && !p.is_killed());
        assert_eq!(format!("{p}"), "task panicked: oops");
        let payload = p.try_into_panic().unwrap();
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "oops");
        let p = JoinError::panicked(Box::new(5i64));
        match p.into_kind() {
            JoinErrorKind::Panicked(v) => assert_eq!(v.downcast_ref::<i64>(), Some(&5)),
            JoinErrorKind::Killed => panic!("a panic read back as a kill"),
        }
        assert!(matches!(
            JoinError::killed().into_kind(),
            JoinErrorKind::Killed
        ));
        // Dropped without being taken: the payload is freed (valgrind/ASan
        // check this).
        drop(JoinError::panicked(Box::new(vec![1u8; 64])));
    }
}
