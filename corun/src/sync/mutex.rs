//! [`Mutex`]: an async mutex whose guard may be held across `.await`s,
//! FIFO-fair and cancellation-safe (see `raw_lock.rs` for the rules).
//!
//! This file must NOT touch the scheduler; it adds the guarded value and
//! the guard to `raw_lock.rs`'s core.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::raw_lock::{Access, RawLock};

/// An async mutex: [`lock`](Mutex::lock) waits (without blocking the
/// thread) until the value is free, and the guard may be held across
/// `.await`s. Waiters get the lock in the order they asked; a `lock`
/// future dropped while waiting gives up its place, and one dropped just
/// after being granted the lock passes it on. `Send` and `Sync` (for a
/// `Send` value): it works across schedulers and threads.
///
/// Use `std::sync::Mutex` instead when the lock is never held across an
/// `.await`: it is cheaper.
///
/// ```
/// use std::sync::Arc;
/// use corun::sync::Mutex;
///
/// corun::run(async {
///     let count = Arc::new(Mutex::new(0));
///     let tasks: Vec<_> = (0..10)
///         .map(|_| {
///             let count = count.clone();
///             corun::spawn(async move {
///                 let mut n = count.lock().await;
///                 corun::yield_now().await; // held across an await
///                 *n += 1;
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(*count.lock().await, 10);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawLock,
    value: UnsafeCell<T>,
}

// SAFETY: the value moves between threads with the mutex, hence `T: Send`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: `&Mutex` only reaches the value through a guard, and the raw
// lock grants one guard at a time, so the value is used by one thread at
// a time: `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Exclusive access to a [`Mutex`]'s value; unlocks when dropped.
///
/// ```
/// use corun::sync::Mutex;
///
/// corun::run(async {
///     let m = Mutex::new(vec![1]);
///     let mut guard = m.lock().await;
///     guard.push(2);
///     drop(guard);
///     assert_eq!(*m.lock().await, [1, 2]);
/// });
/// ```
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// `Send`/`Sync` as `&mut T` is: the guard hands out `&mut T`.
    _value: PhantomData<&'a mut T>,
}

impl<T> Mutex<T> {
    /// A mutex holding `value`. `const`, so it can be a `static`.
    ///
    /// ```
    /// static NAMES: corun::sync::Mutex<Vec<String>> = corun::sync::Mutex::new(Vec::new());
    /// corun::run(async {
    ///     NAMES.lock().await.push("a".into());
    ///     assert_eq!(NAMES.lock().await.len(), 1);
    /// });
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawLock::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the mutex.
    ///
    /// ```
    /// let m = corun::sync::Mutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits until the value is free and locks it. Waiters are served in
    /// the order they first waited.
    ///
    /// ```
    /// corun::run(async {
    ///     let m = corun::sync::Mutex::new(1);
    ///     *m.lock().await += 1;
    ///     assert_eq!(*m.lock().await, 2);
    /// });
    /// ```
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        // Once resolved, the access belongs to the guard, which releases it.
        self.raw.acquire(Access::Write).await;
        self.guard()
    }

    /// Locks the value if it is free and nobody waits for it.
    ///
    /// ```
    /// let m = corun::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_acquire(Access::Write).then(|| self.guard())
    }

    /// The value, through `&mut self`: no locking needed.
    ///
    /// ```
    /// let mut m = corun::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            _value: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the raw lock's write access, so no other
        // guard exists until it drops; `&self` lends the value no longer
        // than the guard lives.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference lent out.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.raw.release(Access::Write);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, locked) = self.raw.holders();
        f.debug_struct("Mutex").field("locked", &locked).finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    /// A mutex holding `T::default()`.
    ///
    /// ```
    /// let m: corun::sync::Mutex<u8> = Default::default();
    /// assert_eq!(m.into_inner(), 0);
    /// ```
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}
