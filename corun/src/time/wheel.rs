//! The hierarchical timing wheel behind every corun timer.
//!
//! What lives here: a single-threaded (`&mut self`) structure that maps deadlines in
//! ticks (the caller's unit: `scheduler::core::clock` uses ticks of 2^17 ns) to
//! wakers (kept as [`SlimWaker`]s) with O(1) insert and cancel, and an `advance` that fires every due timer
//! in deadline order at a cost independent of how many ticks went by. Its tests are in
//! `wheel/tests.rs`.
//!
//! What must NOT be here: clocks and `Instant` conversion (the caller turns instants into
//! ticks), the scheduler's ready queue, the reactor, and anything thread-safe. The wheel
//! never calls a waker itself; it hands due wakers to the caller's `fire` closure, still
//! slim, so the scheduler can queue its own tasks without building a `Waker`.
//!
//! # Layout
//!
//! * Entries live in one slab (a `SegVec<Entry>`: it grows without copying) with an
//!   intrusive free list. An entry is 24 bytes (a million sleeping tasks each hold one):
//!   the waker (8, a [`SlimWaker`]), one word holding a 16-bit generation over the 48-bit
//!   deadline, and `prev`/`next` links as `u32` indices. The list an entry is on is not
//!   stored: the invariant below derives it from the deadline and `now`.
//! * Deadlines are at most [`MAX_DEADLINE`] (2^48 - 1 ticks, about 1 170 years of
//!   2^17 ns ticks); larger ones are clamped to it (the caller treats those as "never").
//! * A [`TimerKey`] is the index plus a check word: the generation, bumped whenever an
//!   entry is freed, and the low 16 bits of the deadline. A key of a fired or cancelled
//!   timer is stale unless the slot was reused a multiple of 2^16 times *and* the new
//!   deadline agrees in its low 16 bits. `Sleep` holds a stale key only for a timer that
//!   fired, and arms new timers only at ticks after the current one, so such a collision
//!   needs 65 536 reuses of one slot within one wake and a deadline a multiple of 2^16
//!   ticks (8.6 s) away: accepted.
//! * `LEVELS` = 7 levels of 128 slots; a slot of level `l` covers `128^l` ticks. Seven
//!   levels of 7 bits cover all 48 bits of a deadline, so there is no overflow list: a
//!   deadline of `MAX_DEADLINE` simply sits in level 6 and cascades down like any other.
//!   With 2^17 ns ticks, level 1 spans 2^14 ticks (2.1 s): a one-second sleep is moved
//!   down once before it fires, as with millisecond ticks and 64 slots.
//! * Each slot is the head of a doubly linked list (push at the front, O(1) unlink). One
//!   extra list, `EXPIRED`, holds timers armed with a deadline that is already due.
//! * One `u128` occupancy bitmap per level makes `next_expiration` a few `trailing_zeros`.
//!
//! # Invariant
//!
//! A pending entry with deadline `d > now` sits at the level of the highest 7-bit group in
//! which `d` and `now` differ, in the slot given by `d`'s bits of that group; one with
//! `d <= now` sits on `EXPIRED`. This holds at all times, not only when the entry is
//! linked: `now` never passes the start of an unprocessed slot, so it keeps `d`'s bits
//! above that group and stays below `d` in that group. `unlink` relies on it to find the
//! list head to update. Time only
//! moves forward up to the start of the earliest occupied slot (where that slot is
//! processed: its entries fire or move to lower levels), so every occupied slot of level
//! `l` lies strictly after `now`'s own slot of level `l`, and a lower non-empty level always
//! expires before a higher one. Hence `advance` visits only occupied slots: its cost is
//! O(fired + cascaded entries + levels), never O(elapsed ticks).
//!
//! No `unsafe` here: indices are bounds-checked. The cost of a timer is dominated by cache
//! misses on the entry slab, not by the checks, so unchecked indexing would not pay for its
//! risk. Why this shape (tick length, levels, entry size): `docs/design/timer-wheel.md`.

use std::task::Waker;

use crate::segvec::SegVec;
use crate::task::slim_waker::SlimWaker;

/// Bits of a deadline consumed by one level.
const SLOT_BITS: u32 = 7;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Bits of a deadline; the top 16 bits of an entry's word are its generation.
const DEADLINE_BITS: u32 = 48;
/// The largest deadline; larger ones are clamped to it.
pub(crate) const MAX_DEADLINE: u64 = (1 << DEADLINE_BITS) - 1;
/// Levels; `LEVELS * SLOT_BITS >= DEADLINE_BITS`, so every deadline has a level.
const LEVELS: usize = 7;
/// List number of the list of timers that were already due when armed.
const EXPIRED: u16 = (LEVELS * SLOTS) as u16;
/// "No entry" in links and list heads.
const NIL: u32 = u32::MAX;

/// Handle to an inserted timer; stale keys (fired or cancelled) are detected via a check
/// word (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    /// Slab index of the entry.
    index: u32,
    /// The entry's generation (high half) and deadline's low 16 bits when it was armed.
    check: u32,
}

impl TimerKey {
    /// A key that matches no entry (an unarmed `Sleep` holds it; it is never
    /// looked up while unarmed).
    pub(crate) const NONE: TimerKey = TimerKey {
        index: NIL,
        check: 0,
    };
}

/// One slab cell: a pending timer or a vacant cell on the free list.
struct Entry {
    /// `Some` while the timer is pending; `None` marks a vacant cell. One
    /// word: a task waker is kept as its task pointer.
    waker: Option<SlimWaker>,
    /// Generation (top 16 bits: bumped each time the cell is freed) over the tick at which
    /// the timer fires (low [`DEADLINE_BITS`]).
    word: u64,
    /// Previous entry in the same list, or `NIL` if this is the head.
    prev: u32,
    /// Next entry in the same list; for a vacant cell, the next vacant cell.
    next: u32,
}

impl Entry {
    fn deadline(&self) -> u64 {
        self.word & MAX_DEADLINE
    }

    fn check(&self) -> u32 {
        check_of(self.word)
    }
}

/// The check word of a key (see the module docs) for an entry's word.
fn check_of(word: u64) -> u32 {
    ((word >> DEADLINE_BITS) as u32) << 16 | (word & 0xFFFF) as u32
}

/// A hierarchical timing wheel of ticks (see the module docs).
pub(crate) struct Wheel {
    /// The slab of entries, pending and vacant.
    entries: SegVec<Entry>,
    /// Head of the free list of vacant cells, or `NIL`.
    free: u32,
    /// Number of pending timers.
    len: usize,
    /// Current tick: the largest `now` passed to `advance`.
    now: u64,
    /// List heads: `LEVELS * SLOTS` slots, then the `EXPIRED` list.
    heads: Box<[u32; LEVELS * SLOTS + 1]>,
    /// Per level, bit `s` is set iff slot `s` is non-empty.
    occupied: [u128; LEVELS],
    /// Lower bound of the deadlines on the `EXPIRED` list (`u64::MAX` when it is empty).
    expired_min: u64,
}

impl Wheel {
    /// Empty wheel, current tick 0. The caller converts instants to ticks.
    pub(crate) fn new() -> Wheel {
        Wheel {
            entries: SegVec::new(),
            free: NIL,
            len: 0,
            now: 0,
            heads: Box::new([NIL; LEVELS * SLOTS + 1]),
            occupied: [0; LEVELS],
            expired_min: u64::MAX,
        }
    }

    /// The wheel's current tick (the `now` of the last `advance`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Arms a timer firing at tick `deadline` (deadline <= now() fires on the next advance).
    /// A deadline above [`MAX_DEADLINE`] is clamped to it.
    ///
    /// The slab is indexed by `u32`; 2^32 - 1 pending timers (96 GiB of entries) would
    /// exhaust memory long before the index, so that limit is a panic, not an error.
    pub(crate) fn insert(&mut self, deadline: u64, waker: impl Into<SlimWaker>) -> TimerKey {
        let deadline = deadline.min(MAX_DEADLINE);
        // The entry is filled in and put at the front of its list in one
        // visit (one slab lookup for it, one for the old head): at a million
        // timers, each lookup of a cold entry is a cache miss.
        let list = self.list_of(deadline);
        let head = self.heads[list as usize];
        let waker = Some(waker.into());
        let (index, word) = if self.free != NIL {
            let index = self.free;
            let entry = &mut self.entries[index as usize];
            self.free = entry.next;
            entry.waker = waker;
            entry.word = (entry.word & !MAX_DEADLINE) | deadline;
            entry.prev = NIL;
            entry.next = head;
            (index, entry.word)
        } else {
            let index = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("corun timer wheel: more than 2^32 - 2 timers");
            self.entries.push(Entry {
                waker,
                word: deadline,
                prev: NIL,
                next: head,
            });
            (index, deadline)
        };
        self.len += 1;
        self.push_head(list, index, head, deadline);
        TimerKey {
            index,
            check: check_of(word),
        }
    }

    /// Replaces the waker of a pending timer unless `waker.will_wake(old)`. Returns false if
    /// the key is stale.
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) -> bool {
        let Some(index) = self.live(key) else {
            return false;
        };
        let slot = &mut self.entries[index as usize].waker;
        if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
            *slot = Some(SlimWaker::from_ref(waker));
        }
        true
    }

    /// O(1) removal. Returns false (and does nothing) for a stale key. Drops the stored waker.
    #[cfg(test)]
    pub(crate) fn cancel(&mut self, key: TimerKey) -> bool {
        // The waker is dropped here, after the wheel is consistent again.
        self.remove(key).is_some()
    }

    /// Like [`Wheel::cancel`], but hands the waker back so the caller can
    /// drop it outside any borrow of the wheel (a waker's drop may run
    /// arbitrary code). `None` for a stale key.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Option<SlimWaker>> {
        let index = self.live(key)?;
        let list = self.list_of(self.entries[index as usize].deadline());
        self.unlink(index, list);
        Some(self.release(index))
    }

    /// A tick t such that no timer fires before t (exact for entries in the finest level; may
    /// be an earlier cascade point for coarser levels). None when no timer is pending.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        if self.heads[EXPIRED as usize] != NIL {
            return Some(self.expired_min);
        }
        self.next_slot().map(|(_, _, start)| start)
    }

    /// Moves time to `now` (never backwards; smaller values are ignored; larger than
    /// [`MAX_DEADLINE`] counts as `MAX_DEADLINE`), calling `fire(waker)` for every timer
    /// with deadline <= now, exactly once each: first those armed already due (in any
    /// order), then the others in deadline order. Each entry is unlinked and freed before
    /// its waker is handed to `fire`, so the wheel is consistent at every call (and stays
    /// usable if `fire` panics).
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(SlimWaker)) {
        let now = now.min(MAX_DEADLINE);
        while let Some((index, _)) = self.pop_front(EXPIRED) {
            if let Some(waker) = self.release(index) {
                fire(waker);
            }
        }
        while let Some((level, slot, start)) = self.next_slot() {
            if start > now {
                break;
            }
            // Never past an unprocessed slot: `start` is the earliest occupied one.
            self.now = start;
            // The whole list at once: its entries are walked by their `next`
            // links, and none of them needs its `prev` fixed on the way (each
            // is freed or moved as it is visited; see `Detached`).
            let head = self.take_list((level * SLOTS + slot) as u16);
            let mut rest = Detached {
                wheel: self,
                next: head,
            };
            while rest.next != NIL {
                let index = rest.next;
                let wheel = &mut *rest.wheel;
                let entry = &mut wheel.entries[index as usize];
                rest.next = entry.next;
                let deadline = entry.deadline();
                if deadline <= start {
                    // Freed in the same visit (see `release`).
                    let waker = entry.waker.take();
                    entry.word = entry.word.wrapping_add(1 << DEADLINE_BITS);
                    entry.next = wheel.free;
                    wheel.free = index;
                    wheel.len -= 1;
                    if let Some(waker) = waker {
                        fire(waker);
                    }
                } else {
                    // Later within this coarse slot: its level is now lower.
                    wheel.link(index, deadline);
                }
            }
        }
        self.now = self.now.max(now);
    }

    /// Empties `list` (a wheel slot) and returns its former head: the
    /// entries stay chained by `next` but belong to no list until the
    /// caller frees or relinks each of them.
    fn take_list(&mut self, list: u16) -> u32 {
        let head = std::mem::replace(&mut self.heads[list as usize], NIL);
        let (level, slot) = (list as usize / SLOTS, list as usize % SLOTS);
        self.occupied[level] &= !(1 << slot);
        head
    }

    /// Index of the pending entry `key` refers to, or `None` if the key is stale.
    fn live(&self, key: TimerKey) -> Option<u32> {
        let entry = self.entries.get(key.index as usize)?;
        (entry.check() == key.check && entry.waker.is_some()).then_some(key.index)
    }

    /// The earliest occupied wheel slot as `(level, slot, start tick)`, ignoring `EXPIRED`.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let slot = self.occupied[level].trailing_zeros() as usize;
        Some((level, slot, slot_start(self.now, level, slot)))
    }

    /// The list a pending entry with this deadline is on (see the invariant).
    fn list_of(&self, deadline: u64) -> u16 {
        if deadline <= self.now {
            EXPIRED
        } else {
            let (level, slot) = level_and_slot(self.now, deadline);
            (level * SLOTS + slot) as u16
        }
    }

    /// Pushes the (unlinked) entry `index`, whose deadline is `deadline`, onto the list
    /// that deadline belongs to now.
    fn link(&mut self, index: u32, deadline: u64) {
        let list = self.list_of(deadline);
        let head = self.heads[list as usize];
        let entry = &mut self.entries[index as usize];
        entry.prev = NIL;
        entry.next = head;
        self.push_head(list, index, head, deadline);
    }

    /// Second half of a push at the front of `list`: entry `index` (deadline `deadline`)
    /// already links to `head`, the list's head until now; makes it the head and marks
    /// the list non-empty.
    fn push_head(&mut self, list: u16, index: u32, head: u32, deadline: u64) {
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[list as usize] = index;
        if list == EXPIRED {
            self.expired_min = self.expired_min.min(deadline);
        } else {
            let (level, slot) = (list as usize / SLOTS, list as usize % SLOTS);
            self.occupied[level] |= 1 << slot;
        }
    }

    /// Removes the pending entry `index` from `list` (the list it is on), clearing the
    /// slot's occupancy bit when the list becomes empty.
    fn unlink(&mut self, index: u32, list: u16) {
        let Entry { prev, next, .. } = self.entries[index as usize];
        if prev == NIL {
            debug_assert_eq!(self.heads[list as usize], index, "entry not on its list");
            self.heads[list as usize] = next;
            if next == NIL && list == EXPIRED {
                self.expired_min = u64::MAX;
            } else if next == NIL {
                let (level, slot) = (list as usize / SLOTS, list as usize % SLOTS);
                self.occupied[level] &= !(1 << slot);
            }
        } else {
            self.entries[prev as usize].next = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Unlinks the first entry of `list`, if any, and returns it with its deadline (read
    /// in the same visit as its link).
    fn pop_front(&mut self, list: u16) -> Option<(u32, u64)> {
        let head = self.heads[list as usize];
        if head == NIL {
            return None;
        }
        let entry = &self.entries[head as usize];
        let (next, deadline) = (entry.next, entry.deadline());
        debug_assert_eq!(entry.prev, NIL, "the head has no predecessor");
        self.heads[list as usize] = next;
        if next != NIL {
            self.entries[next as usize].prev = NIL;
        } else if list == EXPIRED {
            self.expired_min = u64::MAX;
        } else {
            let (level, slot) = (list as usize / SLOTS, list as usize % SLOTS);
            self.occupied[level] &= !(1 << slot);
        }
        Some((head, deadline))
    }

    /// Frees the unlinked entry `index`: bumps its generation, puts it on the free list and
    /// returns its waker.
    fn release(&mut self, index: u32) -> Option<SlimWaker> {
        let entry = &mut self.entries[index as usize];
        let waker = entry.waker.take();
        entry.word = entry.word.wrapping_add(1 << DEADLINE_BITS);
        entry.next = self.free;
        self.free = index;
        self.len -= 1;
        waker
    }
}

/// The rest of a list `advance` took whole (`take_list`): the entries from
/// `next` on are pending but on no list. Should `fire` panic, dropping this
/// puts them back where the invariant says they belong, so the wheel stays
/// consistent; on the normal path `next` is `NIL` by then and the drop does
/// nothing.
struct Detached<'a> {
    wheel: &'a mut Wheel,
    next: u32,
}

impl Drop for Detached<'_> {
    fn drop(&mut self) {
        while self.next != NIL {
            let index = self.next;
            let entry = &self.wheel.entries[index as usize];
            self.next = entry.next;
            let deadline = entry.deadline();
            self.wheel.link(index, deadline);
        }
    }
}

/// Level and slot of a deadline `deadline > now`: the highest 7-bit group in which the two
/// differ, and the deadline's bits in that group.
fn level_and_slot(now: u64, deadline: u64) -> (usize, usize) {
    let masked = (now ^ deadline) | (SLOTS as u64 - 1);
    let level = ((63 - masked.leading_zeros()) / SLOT_BITS) as usize;
    let slot = ((deadline >> (level as u32 * SLOT_BITS)) & (SLOTS as u64 - 1)) as usize;
    (level, slot)
}

/// First tick of slot `slot` of level `level`, within the level window containing `now`.
fn slot_start(now: u64, level: usize, slot: usize) -> u64 {
    let shift = level as u32 * SLOT_BITS;
    let window_bits = shift + SLOT_BITS;
    let base = if window_bits >= 64 {
        0
    } else {
        now & !((1u64 << window_bits) - 1)
    };
    // Cannot overflow: the result is at most the deadline of an entry in that slot.
    base + ((slot as u64) << shift)
}

#[cfg(test)]
mod tests;
