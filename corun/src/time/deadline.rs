//! [`Deadline`]: an `Option<Instant>` in eight bytes.
//!
//! Every sleeping task carries the deadline of its `Sleep`; an `Instant` is
//! 16 bytes (seconds and nanoseconds), which with the timer key made `Sleep`
//! 32 bytes and pushed a typical sleeping task's cell one slab class up.
//! Here a deadline is signed nanoseconds from a process-wide base instant
//! (taken at first use): ±292 years around it, exact to the nanosecond.
//! A deadline later than that counts as "never" (a `sleep` that long never
//! fires either way); an earlier one is clamped (it is long past anyway).
//!
//! This file converts instants only; it knows nothing of timers or ticks.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// "Never fires".
const NEVER: i64 = i64::MAX;

/// The instant all deadlines count from; schedulers count their clock
/// ticks from it too (`scheduler::core::clock`), so a deadline converts to a
/// tick with integer arithmetic only.
pub(crate) fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// An optional instant as signed nanoseconds from [`base`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(i64);

impl Deadline {
    /// Encodes `at` (`None`, or too far in the future: never).
    pub(crate) fn new(at: Option<Instant>) -> Deadline {
        let Some(at) = at else {
            return Deadline(NEVER);
        };
        let base = base();
        if at >= base {
            let n = at.duration_since(base).as_nanos();
            Deadline(
                i64::try_from(n)
                    .ok()
                    .filter(|&n| n != NEVER)
                    .unwrap_or(NEVER),
            )
        } else {
            let n = base.duration_since(at).as_nanos();
            Deadline(-(i64::try_from(n).unwrap_or(i64::MAX)))
        }
    }

    /// Nanoseconds from [`base`] (negative: before it), or `None` for never.
    pub(crate) fn nanos(self) -> Option<i64> {
        (self.0 != NEVER).then_some(self.0)
    }

    /// The instant, or `None` for never.
    pub(crate) fn get(self) -> Option<Instant> {
        let base = base();
        match self.0 {
            NEVER => None,
            n if n >= 0 => base.checked_add(Duration::from_nanos(n as u64)),
            // Clamped to the earliest instant the platform can express:
            // such a deadline is long past either way.
            n => Some(
                base.checked_sub(Duration::from_nanos(n.unsigned_abs()))
                    .unwrap_or(base),
            ),
        }
    }
}

impl std::fmt::Debug for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_near_and_far_instants() {
        let now = Instant::now();
        for at in [
            now,
            now + Duration::from_nanos(1),
            now + Duration::from_secs(86_400 * 365 * 100),
        ] {
            assert_eq!(Deadline::new(Some(at)).get(), Some(at));
        }
        if let Some(past) = now.checked_sub(Duration::from_millis(5)) {
            assert_eq!(Deadline::new(Some(past)).get(), Some(past));
        }
        assert_eq!(Deadline::new(None).get(), None);
        let far = now.checked_add(Duration::from_secs(86_400 * 365 * 1000));
        assert_eq!(Deadline::new(far).get(), None, "beyond the range: never");
    }

    #[test]
    fn is_one_word() {
        assert_eq!(std::mem::size_of::<Deadline>(), 8);
    }
}
