//! The two public value types of fd readiness: [`Interest`] (which direction a
//! task waits for) and [`Readiness`] (the bit set the reactor caches per fd).
//!
//! Pure values: this file must NOT touch the poller, the slot table or wakers.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// The direction a task waits for on a file descriptor.
///
/// ```
/// use corun::io::{Interest, Readiness};
///
/// let interest = Interest::Read;
/// assert_ne!(interest, Interest::Write);
/// // A hang-up satisfies a reader as well as plain readability does.
/// assert!(interest.is_satisfied_by(Readiness::READ_CLOSED));
/// assert!(!interest.is_satisfied_by(Readiness::WRITABLE));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interest {
    /// Wait until a read would not block (data, end of stream, error).
    Read,
    /// Wait until a write would not block (buffer space, hang-up, error).
    Write,
}

impl Interest {
    /// Whether `readiness` wakes a waiter of this direction: its own bit, its
    /// closed bit, or the error bit.
    ///
    /// ```
    /// use corun::io::{Interest, Readiness};
    ///
    /// assert!(Interest::Write.is_satisfied_by(Readiness::WRITABLE));
    /// assert!(Interest::Write.is_satisfied_by(Readiness::ERROR));
    /// assert!(!Interest::Write.is_satisfied_by(Readiness::READABLE));
    /// ```
    pub fn is_satisfied_by(self, readiness: Readiness) -> bool {
        readiness.0 & self.mask() != 0
    }

    /// Bits that satisfy a waiter of this direction.
    pub(crate) fn mask(self) -> u8 {
        match self {
            Interest::Read => Readiness::READABLE.0 | Readiness::READ_CLOSED.0 | Readiness::ERROR.0,
            Interest::Write => {
                Readiness::WRITABLE.0 | Readiness::WRITE_CLOSED.0 | Readiness::ERROR.0
            }
        }
    }

    /// The bit that `clear_readiness` removes for this direction (closed and
    /// error bits are sticky).
    pub(crate) fn ready_bit(self) -> u8 {
        match self {
            Interest::Read => Readiness::READABLE.0,
            Interest::Write => Readiness::WRITABLE.0,
        }
    }

    /// Index of this direction's waiter list (0 = read, 1 = write).
    pub(crate) fn index(self) -> usize {
        match self {
            Interest::Read => 0,
            Interest::Write => 1,
        }
    }
}

/// A set of readiness bits of a file descriptor, as last reported by the OS.
///
/// Returned by `corun::io::readable`/`writable` and the `Async` wrapper. The
/// closed bits mean the peer hung up (a read returns end of stream, a write
/// fails); the error bit means the next operation reports the pending error.
///
/// ```
/// use corun::io::Readiness;
///
/// let r = Readiness::READABLE | Readiness::READ_CLOSED;
/// assert!(r.is_readable() && r.is_read_closed());
/// assert!(!r.is_writable());
/// assert!(r.contains(Readiness::READABLE));
/// assert!(!r.contains(Readiness::READABLE | Readiness::WRITABLE));
/// assert!(Readiness::default().is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Readiness(u8);

impl Readiness {
    /// A read would not block.
    pub const READABLE: Readiness = Readiness(1);
    /// A write would not block.
    pub const WRITABLE: Readiness = Readiness(1 << 1);
    /// The read half is closed (peer hung up or shut down its write side).
    pub const READ_CLOSED: Readiness = Readiness(1 << 2);
    /// The write half is closed (peer hung up); writes fail.
    pub const WRITE_CLOSED: Readiness = Readiness(1 << 3);
    /// An error is pending on the fd; the next operation reports it.
    pub const ERROR: Readiness = Readiness(1 << 4);

    /// Builds a set from raw bits (internal; unknown bits are kept as is).
    pub(crate) const fn from_bits(bits: u8) -> Readiness {
        Readiness(bits)
    }

    /// The raw bits (internal).
    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    /// No bit set.
    ///
    /// ```
    /// use corun::io::Readiness;
    /// assert!(Readiness::default().is_empty());
    /// assert!(!Readiness::ERROR.is_empty());
    /// ```
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// [`Readiness::READABLE`] is set.
    ///
    /// ```
    /// use corun::io::Readiness;
    /// assert!(Readiness::READABLE.is_readable());
    /// ```
    pub fn is_readable(self) -> bool {
        self.contains(Readiness::READABLE)
    }

    /// [`Readiness::WRITABLE`] is set.
    ///
    /// ```
    /// use corun::io::Readiness;
    /// assert!(Readiness::WRITABLE.is_writable());
    /// ```
    pub fn is_writable(self) -> bool {
        self.contains(Readiness::WRITABLE)
    }

    /// [`Readiness::READ_CLOSED`] is set.
    ///
    /// ```
    /// use corun::io::Readiness;
    /// assert!(Readiness::READ_CLOSED.is_read_closed());
    /// ```
    pub fn is_read_closed(self) -> bool {
        self.contains(Readiness::READ_CLOSED)
    }

    /// [`Readiness::WRITE_CLOSED`] is set.
    ///
    /// ```
    /// use corun::io::Readiness;
    /// assert!(Readiness::WRITE_CLOSED.is_write_closed());
    /// ```
    pub fn is_write_closed(self) -> bool {
        self.contains(Readiness::WRITE_CLOSED)
    }

    /// [`Readiness::ERROR`] is set.
    ///
    /// ```
    /// use corun::io::Readiness;
    /// assert!(Readiness::ERROR.is_error());
    /// ```
    pub fn is_error(self) -> bool {
        self.contains(Readiness::ERROR)
    }

    /// Every bit of `other` is set in `self`.
    ///
    /// ```
    /// use corun::io::Readiness;
    /// let both = Readiness::READABLE | Readiness::WRITABLE;
    /// assert!(both.contains(Readiness::WRITABLE));
    /// assert!(!Readiness::WRITABLE.contains(both));
    /// ```
    pub fn contains(self, other: Readiness) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Readiness {
    type Output = Readiness;

    fn bitor(self, rhs: Readiness) -> Readiness {
        Readiness(self.0 | rhs.0)
    }
}

impl BitOrAssign for Readiness {
    fn bitor_assign(&mut self, rhs: Readiness) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(Readiness, &str); 5] = [
            (Readiness::READABLE, "READABLE"),
            (Readiness::WRITABLE, "WRITABLE"),
            (Readiness::READ_CLOSED, "READ_CLOSED"),
            (Readiness::WRITE_CLOSED, "WRITE_CLOSED"),
            (Readiness::ERROR, "ERROR"),
        ];
        let mut set = f.debug_set();
        for (bit, name) in NAMES {
            if self.contains(bit) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}
