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
//! It also reads the real clock as such nanoseconds directly
//! ([`real_now_nanos`]), the cheap way for `sleep` to place a deadline.
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
    origin().at
}

/// The time base, with a reading of the monotonic clock in nanoseconds
/// taken just before it (so at or before it on that clock).
struct Origin {
    at: Instant,
    before: i64,
}

fn origin() -> &'static Origin {
    static ORIGIN: OnceLock<Origin> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let before = mono_ns();
        Origin {
            at: Instant::now(),
            before,
        }
    })
}

/// Nanoseconds from [`base`] to now on the real clock, at or after the
/// true value (by the nanoseconds between [`origin`]'s two readings): a
/// deadline placed on it never fires early. Cheaper than `Instant::now()`
/// and `duration_since`: no `Instant` arithmetic (once per long `sleep`).
///
/// Only for placing deadlines: asking "has it come?" with it could say
/// yes those few nanoseconds early, and asking with an early-erring twin
/// could say no to `sleep(ZERO)`; that question reads `Instant`.
pub(crate) fn real_now_nanos() -> i64 {
    // Both readings are of the same monotonic clock, the later one second:
    // the difference is in 0..=now, no overflow.
    mono_ns() - origin().before
}

/// The clock `Instant` reads, in nanoseconds: `CLOCK_MONOTONIC` on Linux
/// (what std's `Instant` reads there), read directly.
#[cfg(all(target_os = "linux", not(miri)))]
// `time_t` and `c_long` are `i64` here but 32 bits on some Linux targets.
#[allow(clippy::unnecessary_cast)]
fn mono_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec` for the call's duration;
    // CLOCK_MONOTONIC always exists on Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // The seconds since boot: nanoseconds overflow an `i64` after 292
    // years of uptime, so plain arithmetic (once per long `sleep`).
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

/// Elsewhere (and under Miri): `Instant` itself, from a private epoch.
#[cfg(not(all(target_os = "linux", not(miri))))]
fn mono_ns() -> i64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    i64::try_from(epoch.elapsed().as_nanos()).unwrap_or(i64::MAX)
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

    /// `now_ns` (nanoseconds from [`base`]) plus `d`: never if that is
    /// beyond the range, as [`Deadline::new`] would say for the instant.
    #[inline]
    pub(crate) fn after(now_ns: i64, d: Duration) -> Deadline {
        // Below 2^32 seconds (136 years) the nanoseconds fit an `i64`
        // without a check (at most 4.3e18 < 9.2e18); once per long sleep.
        let d_ns = if d.as_secs() < 1 << 32 {
            Some(d.as_secs() as i64 * 1_000_000_000 + i64::from(d.subsec_nanos()))
        } else {
            i64::try_from(d.as_secs())
                .ok()
                .and_then(|s| s.checked_mul(1_000_000_000))
                .and_then(|n| n.checked_add(i64::from(d.subsec_nanos())))
        };
        Deadline(
            d_ns.and_then(|n| now_ns.checked_add(n))
                .filter(|&n| n != NEVER)
                .unwrap_or(NEVER),
        )
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

    /// The direct reading is at or after `Instant`'s: a deadline placed
    /// with it is at or after one placed with `Instant`.
    #[test]
    fn direct_reading_is_not_before_instant() {
        for _ in 0..1000 {
            let instant = Deadline::new(Some(Instant::now())).nanos().unwrap();
            let direct = real_now_nanos();
            assert!(instant <= direct, "instant {instant} > direct {direct}");
        }
    }

    #[test]
    fn after_adds_or_says_never() {
        let d = Duration::new(3, 5);
        assert_eq!(Deadline::after(7, d).nanos(), Some(3_000_000_012));
        assert_eq!(Deadline::after(-7, Duration::ZERO).nanos(), Some(-7));
        assert_eq!(Deadline::after(0, Duration::MAX).nanos(), None);
        let near_end = Duration::from_nanos(i64::MAX as u64 - 10);
        assert_eq!(Deadline::after(20, near_end).nanos(), None);
        assert_eq!(
            Deadline::after(10, near_end).nanos(),
            None,
            "i64::MAX is never"
        );
        assert_eq!(Deadline::after(9, near_end).nanos(), Some(i64::MAX - 1));
        // Either side of the unchecked conversion's bound (2^32 seconds).
        let below = Duration::new((1 << 32) - 1, 999_999_999);
        assert_eq!(
            Deadline::after(-5, below).nanos(),
            Some(4_294_967_295_999_999_994)
        );
        let at = Duration::from_secs(1 << 32);
        assert_eq!(
            Deadline::after(1, at).nanos(),
            Some(4_294_967_296_000_000_001)
        );
        assert_eq!(Deadline::after(i64::MAX - 1, below).nanos(), None);
    }

    #[test]
    fn is_one_word() {
        assert_eq!(std::mem::size_of::<Deadline>(), 8);
    }
}
