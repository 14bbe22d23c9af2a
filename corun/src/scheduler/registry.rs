//! The registry of a scheduler's live tasks: a slab indexed by slot.
//!
//! Every unfinished task has a slot; its header records the slot, and a
//! [`TaskId`](crate::TaskId) carries it as a hint, so kill and wait by id
//! cost one array access plus an id check (no hashing, and spawn/finish
//! touch memory that is probably already in cache: freed slots are reused
//! last-in first-out). An id whose slot is unknown (made with
//! `TaskId::from_u64`) is looked up by a scan. The registry stores pointers
//! only; it does not own or free tasks (the core manages references).

use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use crate::segvec::SegVec;
use crate::task::raw::{self, Header};

/// Marks "no slot" in a `TaskId` hint and the end of the free list.
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// One slot, one word: a task pointer (tasks are 8-aligned, so bit 0 is
/// clear), or a vacant slot `(next_free << 1) | 1`.
#[derive(Clone, Copy)]
struct Entry(usize);

impl Entry {
    fn occupied(ptr: NonNull<Header>) -> Entry {
        Entry(ptr.as_ptr() as usize)
    }

    fn vacant(next: u32) -> Entry {
        Entry(((next as usize) << 1) | 1)
    }

    fn task(self) -> Option<NonNull<Header>> {
        if self.0 & 1 == 0 {
            NonNull::new(self.0 as *mut Header)
        } else {
            None
        }
    }

    fn next_free(self) -> Option<u32> {
        (self.0 & 1 == 1).then_some((self.0 >> 1) as u32)
    }
}

pub(crate) struct Registry {
    entries: SegVec<Entry>,
    free: u32,
    len: usize,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            entries: SegVec::new(),
            free: NO_SLOT,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `ptr` and records its slot in its header.
    pub(crate) fn insert(&mut self, ptr: NonNull<Header>) {
        let slot = if self.free != NO_SLOT {
            let slot = self.free;
            // The free list only ever holds vacant slots.
            self.free = self.entries[slot as usize].next_free().unwrap_or(NO_SLOT);
            self.entries[slot as usize] = Entry::occupied(ptr);
            slot
        } else {
            // More than 4 billion live tasks would exhaust memory long
            // before the slot index; saturate rather than wrap.
            let slot = u32::try_from(self.entries.len()).unwrap_or(NO_SLOT - 1);
            self.entries.push(Entry::occupied(ptr));
            slot
        };
        self.len += 1;
        // SAFETY: the caller hands over a live task.
        unsafe { raw::header(ptr) }
            .slot
            .store(slot, Ordering::Relaxed);
    }

    /// The live task with this id, using the slot hint when it has one.
    pub(crate) fn get(&self, id: u64, slot: u32) -> Option<NonNull<Header>> {
        let matches = |ptr: NonNull<Header>| {
            // SAFETY: occupied entries point at live tasks.
            unsafe { raw::header(ptr) }.id == id
        };
        if slot != NO_SLOT {
            return self
                .entries
                .get(slot as usize)
                .and_then(|e| e.task())
                .filter(|p| matches(*p));
        }
        self.iter().find(|p| matches(*p))
    }

    /// Removes the task `ptr` (which must be registered).
    pub(crate) fn remove(&mut self, ptr: NonNull<Header>) {
        // SAFETY: the caller passes a live, registered task.
        let slot = unsafe { raw::header(ptr) }.slot.load(Ordering::Relaxed);
        if self.entries.get(slot as usize).and_then(|e| e.task()) != Some(ptr) {
            return;
        }
        self.entries[slot as usize] = Entry::vacant(self.free);
        self.free = slot;
        self.len -= 1;
    }

    /// Every live task, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = NonNull<Header>> + '_ {
        self.entries.iter().filter_map(|e| e.task())
    }
}
