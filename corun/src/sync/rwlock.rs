//! [`RwLock`]: an async reader-writer lock, FIFO-fair (a waiting writer
//! holds back the readers that came after it, so writers never starve)
//! and cancellation-safe (see `raw_lock.rs` for the rules).
//!
//! This file must NOT touch the scheduler; it adds the guarded value and
//! the guards to `raw_lock.rs`'s core.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::raw_lock::{Access, RawLock};

/// An async reader-writer lock: any number of readers at once, or one
/// writer; guards may be held across `.await`s. Requests are served in
/// the order they were made: readers that arrive while a writer waits
/// queue behind it. A future dropped while waiting gives up its place;
/// one dropped just after being granted passes the lock on. `Send` and
/// `Sync` (for a `Send + Sync` value).
///
/// ```
/// use std::sync::Arc;
/// use corun::sync::RwLock;
///
/// corun::run(async {
///     let config = Arc::new(RwLock::new(String::from("v1")));
///     let r1 = config.read().await;
///     let r2 = config.read().await; // readers share
///     assert_eq!(*r1, *r2);
///     drop((r1, r2));
///     *config.write().await = String::from("v2");
///     assert_eq!(*config.read().await, "v2");
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawLock,
    value: UnsafeCell<T>,
}

// SAFETY: the value moves between threads with the lock, hence `T: Send`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: through `&RwLock`, readers on several threads share `&T` (so
// `T: Sync`) and a writer gets `&mut T` on any thread (so `T: Send`); the
// raw lock never lets a writer overlap anyone. As for `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]'s value; released when dropped.
///
/// ```
/// corun::run(async {
///     let lock = corun::sync::RwLock::new(3);
///     let guard = lock.read().await;
///     assert_eq!(*guard, 3);
/// });
/// ```
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// `Send`/`Sync` as `&T` is: the guard hands out `&T`.
    _value: PhantomData<&'a T>,
}

/// Exclusive access to an [`RwLock`]'s value; released when dropped.
///
/// ```
/// corun::run(async {
///     let lock = corun::sync::RwLock::new(3);
///     let mut guard = lock.write().await;
///     *guard += 1;
///     drop(guard);
///     assert_eq!(*lock.read().await, 4);
/// });
/// ```
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// `Send`/`Sync` as `&mut T` is: the guard hands out `&mut T`.
    _value: PhantomData<&'a mut T>,
}

impl<T> RwLock<T> {
    /// A lock holding `value`. `const`, so it can be a `static`.
    ///
    /// ```
    /// static LIMIT: corun::sync::RwLock<u32> = corun::sync::RwLock::new(10);
    /// corun::run(async { assert_eq!(*LIMIT.read().await, 10) });
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            raw: RawLock::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the lock.
    ///
    /// ```
    /// assert_eq!(corun::sync::RwLock::new('x').into_inner(), 'x');
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared access: at once unless a writer holds the lock or
    /// anyone waits (a waiting writer goes first).
    ///
    /// ```
    /// corun::run(async {
    ///     let lock = corun::sync::RwLock::new(vec![1, 2]);
    ///     assert_eq!(lock.read().await.len(), 2);
    /// });
    /// ```
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        // Once resolved, the access belongs to the guard, which releases it.
        self.raw.acquire(Access::Read).await;
        RwLockReadGuard {
            lock: self,
            _value: PhantomData,
        }
    }

    /// Waits for exclusive access: once no reader or writer holds the lock
    /// and every earlier request was served.
    ///
    /// ```
    /// corun::run(async {
    ///     let lock = corun::sync::RwLock::new(0);
    ///     *lock.write().await = 7;
    ///     assert_eq!(*lock.read().await, 7);
    /// });
    /// ```
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.raw.acquire(Access::Write).await;
        RwLockWriteGuard {
            lock: self,
            _value: PhantomData,
        }
    }

    /// Shared access if it can be had now without overtaking a waiter.
    ///
    /// ```
    /// let lock = corun::sync::RwLock::new(1);
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_none());
    /// assert!(lock.try_read().is_some());
    /// drop(r);
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw.try_acquire(Access::Read).then(|| RwLockReadGuard {
            lock: self,
            _value: PhantomData,
        })
    }

    /// Exclusive access if the lock is free and nobody waits.
    ///
    /// ```
    /// let lock = corun::sync::RwLock::new(1);
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw
            .try_acquire(Access::Write)
            .then(|| RwLockWriteGuard {
                lock: self,
                _value: PhantomData,
            })
    }

    /// The value, through `&mut self`: no locking needed.
    ///
    /// ```
    /// let mut lock = corun::sync::RwLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds read access, so no writer exists until
        // it drops; other holders only read too.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.release(Access::Read);
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds write access: no other guard exists
        // until it drops.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference lent out.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.release(Access::Write);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (readers, writer) = self.raw.holders();
        f.debug_struct("RwLock")
            .field("readers", &readers)
            .field("writer", &writer)
            .finish()
    }
}

impl<T: Default> Default for RwLock<T> {
    /// A lock holding `T::default()`.
    ///
    /// ```
    /// let lock: corun::sync::RwLock<String> = Default::default();
    /// assert!(lock.into_inner().is_empty());
    /// ```
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}
