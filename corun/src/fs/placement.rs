//! Where a write of a [`File`](super::File) runs: the one decision, as a
//! table, shared by borrowed writes (`File::write`, `write_all`,
//! `AsyncWrite`) and owned ones (`File::write_all_owned`).
//!
//! Each fact is asked only when the rows above it need it, in the order of
//! the columns (asking the file counts down its pool writes after a slow
//! one; asking the lane takes the place):
//!
//! | nothing read ahead? | file allows inline? ([`Policy::may_write`](super::inline::Policy::may_write)) | in a run? ([`Policy::in_run`](super::inline::Policy::in_run)) | scheduler has other work? | lane has room? | the write runs |
//! |---|---|---|---|---|---|
//! | no: read-ahead to seek back over first | – | – | – | – | [`Route::Pool`] |
//! | yes | no: not a regular file, `O_DIRECT`/`O_SYNC`/`O_DSYNC`, over [`MAX_INLINE_WRITE`], or one of the [`POOL_WRITES_AFTER_SLOW`] writes after one slower than [`SLOW_WRITE`] | – | – | – | [`Route::Pool`] |
//! | yes | yes | yes: a write after one this table sent inline, up to [`RUN`] in a row | – | – | [`Route::Inline`] |
//! | yes | yes | no | no: nothing else ready, no message waiting | – | [`Route::Inline`], starting a run |
//! | yes | yes | no | yes | no: [`PER_LANE`] moved writes per lane thread in flight, or no lane at all (one core) | [`Route::Inline`], starting a run |
//! | yes | yes | no | yes | yes | [`Route::Lane`], holding its place |
//!
//! Why these rows (a lone writer never moves; the lane's places make the
//! split follow the two sides' speeds; a file written inline stays inline
//! for a short run, so its writes come in a row on one core; one lane
//! thread per core beyond the first): `docs/design/write-placement.md`.
//!
//! A run keeps the scheduler thread for at most [`RUN`] writes of one
//! task in a row (each at most [`MAX_INLINE_WRITE`]; a 32 KiB buffered
//! write takes about 10 µs), and only while that task keeps writing
//! without awaiting anything else.
//!
//! The facts are kept where they belong: the per-file one in `inline.rs`,
//! the lane's places in `spread.rs`, the lane's threads in `lane.rs`. This
//! file only combines them; it must not run a write, nor keep state.

use super::inline::Policy;
#[cfg(doc)]
use super::inline::{MAX_INLINE_WRITE, POOL_WRITES_AFTER_SLOW, SLOW_WRITE};
#[cfg(doc)]
use super::spread::PER_LANE;
use super::spread::{self, Ticket};

/// Where one write runs. `P` is what holds a lane place: a [`Ticket`]
/// (the tests use a plain value).
pub(super) enum Route<P = Ticket> {
    /// Here, on the scheduler thread.
    Inline,
    /// On the write lane, holding one of its places.
    Lane(P),
    /// On the blocking pool.
    Pool,
}

/// Writes of one file in a row that run inline once the table sends one
/// inline: the one it sent, and `RUN - 1` after it without asking the
/// scheduler or the lane.
pub(super) const RUN: u32 = 4;

/// What the file's own facts say, before the scheduler and the lane are
/// asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileSays {
    /// Not inline-able: the pool.
    Pool,
    /// Inline-able and inside a run: inline.
    Run,
    /// Inline-able, no run: ask the other columns.
    Ask,
}

/// Where a write of `len` bytes runs, for a file whose per-file policy is
/// `policy` and that has `ahead` bytes of unread read-ahead: the table of
/// the module docs.
pub(super) fn route(policy: &mut Policy, len: usize, ahead: usize) -> Route {
    let mut said = FileSays::Pool;
    let route = decide(
        || {
            said = if ahead != 0 || !policy.may_write(len) {
                FileSays::Pool
            } else if policy.in_run() {
                FileSays::Run
            } else {
                FileSays::Ask
            };
            said
        },
        spread::has_lane(),
        crate::scheduler::context::others_ready,
        spread::take_place,
    );
    if said == FileSays::Ask && matches!(route, Route::Inline) {
        policy.start_run(RUN - 1);
    }
    route
}

/// The table over its facts, each asked lazily in column order
/// (`has_lane` is fixed for the process).
fn decide<P>(
    file: impl FnOnce() -> FileSays,
    has_lane: bool,
    busy: impl FnOnce() -> bool,
    room: impl FnOnce() -> Option<P>,
) -> Route<P> {
    match file() {
        FileSays::Pool => return Route::Pool,
        FileSays::Run => return Route::Inline,
        FileSays::Ask => {}
    }
    if !has_lane || !busy() {
        return Route::Inline;
    }
    room().map_or(Route::Inline, Route::Lane)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Runs [`decide`] on the given facts (an inline-able file outside a
    /// run unless `file` says otherwise); returns the route and which
    /// facts were asked (the file, busy, room).
    fn run(inline_able: bool, has_lane: bool, busy: bool, room: bool) -> (&'static str, [bool; 3]) {
        let file = if inline_able {
            FileSays::Ask
        } else {
            FileSays::Pool
        };
        run_file(file, has_lane, busy, room)
    }

    fn run_file(
        file: FileSays,
        has_lane: bool,
        busy: bool,
        room: bool,
    ) -> (&'static str, [bool; 3]) {
        let asked = [Cell::new(false), Cell::new(false), Cell::new(false)];
        let route = decide(
            || {
                asked[0].set(true);
                file
            },
            has_lane,
            || {
                asked[1].set(true);
                busy
            },
            || {
                asked[2].set(true);
                room.then_some(())
            },
        );
        let name = match route {
            Route::Inline => "inline",
            Route::Lane(()) => "lane",
            Route::Pool => "pool",
        };
        (name, asked.map(|c| c.get()))
    }

    #[test]
    fn every_row_of_the_table() {
        // Not inline-able (read-ahead, or the per-file policy says no):
        // the pool, and neither the scheduler nor the lane is asked.
        assert_eq!(run(false, true, true, true), ("pool", [true, false, false]));
        // A lone writer: inline, and no lane place is taken.
        assert_eq!(
            run(true, true, false, true),
            ("inline", [true, true, false])
        );
        // Other work, but the lane is full: inline.
        assert_eq!(run(true, true, true, false), ("inline", [true, true, true]));
        // Other work and a free place: the lane.
        assert_eq!(run(true, true, true, true), ("lane", [true, true, true]));
        // No lane (one core): inline, without asking the scheduler.
        assert_eq!(
            run(true, false, true, true),
            ("inline", [true, false, false])
        );
        // In a run: inline, without asking the scheduler or the lane.
        assert_eq!(
            run_file(FileSays::Run, true, true, true),
            ("inline", [true, false, false])
        );
    }

    #[test]
    fn an_inline_write_starts_a_run_and_a_moved_one_does_not() {
        let path = std::env::temp_dir().join(format!("corun-placement-run-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        let mut p = Policy::probe(&f);
        if !p.pool_only() {
            // Off a scheduler thread nothing is busy: inline, and the next
            // RUN - 1 writes are inside the run.
            assert!(matches!(route(&mut p, 1, 0), Route::Inline));
            for _ in 1..RUN {
                assert!(p.in_run());
            }
            assert!(!p.in_run());
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn read_ahead_sends_a_write_to_the_pool_without_counting_it() {
        let path = std::env::temp_dir().join(format!("corun-placement-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        let mut p = Policy::probe(&f);
        assert!(matches!(route(&mut p, 1, 10), Route::Pool));
        // Off a scheduler thread nothing is busy: an inline-able write
        // stays inline (or goes to the pool where nothing is inline).
        let expect_inline = !p.pool_only();
        let r = route(&mut p, 1, 0);
        assert_eq!(matches!(r, Route::Inline), expect_inline);
        assert_eq!(matches!(r, Route::Pool), !expect_inline);
        std::fs::remove_file(&path).unwrap();
    }
}
