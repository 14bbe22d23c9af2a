//! The reactor's per-fd bookkeeping: a slab of compact [`Slot`]s (one per
//! registered fd, refcounted), an fd → slot index, and one shared slab of
//! waiter nodes that forms an intrusive doubly linked list per slot and
//! direction.
//!
//! Memory: a slot is 24 bytes and allocates nothing; a waiting task costs one
//! 24-byte node in the shared node slab (its waker kept in one word, a
//! `SlimWaker`), so an idle connection with a parked reader costs about
//! 24 + 24 + 4 (fd index) bytes here. A registration that uses `poll_ready`
//! adds one 16-byte entry for its two waiter keys.
//!
//! This file is plain data structures: it must NOT make syscalls, touch
//! thread-locals, or wake/drop wakers itself — every waker that leaves a list
//! is handed back to the caller, who wakes or drops it after releasing its
//! `RefCell` borrow (waker code may re-enter the reactor).

use std::collections::HashMap;
use std::io;
use std::os::unix::io::RawFd;
use std::task::Waker;

use super::readiness::Interest;
use super::registration::NO_NODE;
use crate::segvec::SegVec;
use crate::task::slim_waker::SlimWaker;

/// "No index" in slot and node links.
pub(super) const NONE: u32 = u32::MAX;

/// fds below this are indexed by a dense `Vec<u32>` (4 bytes per fd number);
/// larger ones (rare: a huge `RLIMIT_NOFILE` plus `dup2`) go to a map.
const DENSE_FDS: usize = 1 << 20;

/// Per-fd state. Free slots have `refs == 0`.
pub(super) struct Slot {
    /// The registered fd (needed for `EPOLL_CTL_DEL` and the fd index).
    pub(super) fd: RawFd,
    /// Number of live `Registration`s sharing this slot.
    refs: u32,
    /// Bumped each time the slot is freed, so stale tokens/keys are ignored.
    pub(super) generation: u32,
    /// Head node of the read (0) and write (1) waiter lists, or [`NONE`].
    heads: [u32; 2],
    /// Cached readiness bits (see `Readiness`): only what the OS reported.
    pub(super) readiness: u8,
    /// Ready bits of the directions no operation has found unready yet (a
    /// creator's guess): checks before an operation pass on them, so the
    /// first operation is always tried; real waits ignore them.
    pub(super) guess: u8,
    /// Not in epoll (regular file: `EPERM`); permanently readable+writable.
    pub(super) always_ready: bool,
    /// Added to epoll (at its first wait that found the fd not ready).
    pub(super) in_epoll: bool,
}

/// Identifies one waiter node; stale once the node was woken or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaiterKey {
    idx: u32,
    generation: u32,
}

impl WaiterKey {
    /// A key that never matches a node.
    pub(super) const NONE: WaiterKey = WaiterKey {
        idx: NONE,
        generation: 0,
    };

    /// Packs the key into one word (for atomic storage).
    pub(super) fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.idx)
    }

    /// Unpacks [`WaiterKey::to_bits`].
    pub(super) fn from_bits(bits: u64) -> WaiterKey {
        WaiterKey {
            idx: bits as u32,
            generation: (bits >> 32) as u32,
        }
    }
}

/// One waiting task. Free nodes have `waker == None` and use `next` as the
/// free-list link.
struct Node {
    /// One word: a task waker is kept as its task pointer (a million idle
    /// connections each park one reader here).
    waker: Option<SlimWaker>,
    next: u32,
    prev: u32,
    generation: u32,
}

/// fd number → slot index.
#[derive(Default)]
struct FdIndex {
    dense: Vec<u32>,
    sparse: HashMap<RawFd, u32>,
}

impl FdIndex {
    fn get(&self, fd: RawFd) -> Option<u32> {
        let i = fd as usize;
        if i < DENSE_FDS {
            self.dense.get(i).copied().filter(|&s| s != NONE)
        } else {
            self.sparse.get(&fd).copied()
        }
    }

    fn set(&mut self, fd: RawFd, slot: u32) {
        let i = fd as usize;
        if i < DENSE_FDS {
            if self.dense.len() <= i {
                self.dense.resize(i + 1, NONE);
            }
            self.dense[i] = slot;
        } else if slot == NONE {
            self.sparse.remove(&fd);
        } else {
            self.sparse.insert(fd, slot);
        }
    }
}

/// All slots and waiter nodes of one reactor.
#[derive(Default)]
pub(super) struct Table {
    slots: SegVec<Slot>,
    free_slots: Vec<u32>,
    fds: FdIndex,
    live: usize,
    nodes: SegVec<Node>,
    free_node: Option<u32>,
    /// The `poll_ready` waiter keys (read, write) of the registrations that
    /// waited through it; a registration holds its entry's index.
    owners: SegVec<[WaiterKey; 2]>,
    free_owners: Vec<u32>,
}

impl Table {
    /// Number of live slots.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// Shares the live slot of `fd`, if any: bumps its refcount.
    pub(super) fn share(&mut self, fd: RawFd) -> io::Result<Option<(u32, u32)>> {
        let Some(idx) = self.fds.get(fd) else {
            return Ok(None);
        };
        let slot = &mut self.slots[idx as usize];
        slot.refs = slot
            .refs
            .checked_add(1)
            .ok_or_else(|| io::Error::other("too many registrations of one fd"))?;
        Ok(Some((idx, slot.generation)))
    }

    /// Creates the slot of an fd not yet registered; refcount 1.
    pub(super) fn insert(&mut self, fd: RawFd) -> io::Result<(u32, u32)> {
        let idx = match self.free_slots.pop() {
            Some(idx) => idx,
            None => {
                let idx = u32::try_from(self.slots.len())
                    .ok()
                    // `NONE - 1` is the alarm's token, `NONE - 2` the watch's.
                    .filter(|&i| i < NONE - 2)
                    .ok_or_else(|| io::Error::other("reactor slab full"))?;
                self.slots.push(Slot {
                    fd,
                    refs: 0,
                    generation: 0,
                    heads: [NONE; 2],
                    readiness: 0,
                    guess: 0,
                    always_ready: false,
                    in_epoll: false,
                });
                idx
            }
        };
        let slot = &mut self.slots[idx as usize];
        slot.fd = fd;
        slot.refs = 1;
        slot.heads = [NONE; 2];
        slot.readiness = 0;
        slot.guess = 0;
        slot.always_ready = false;
        slot.in_epoll = false;
        self.fds.set(fd, idx);
        self.live += 1;
        Ok((idx, slot.generation))
    }

    /// The live slot `idx`, for a registration (whose reference keeps it
    /// live).
    pub(super) fn live_slot(&mut self, idx: u32) -> Option<&mut Slot> {
        self.slots.get_mut(idx as usize).filter(|s| s.refs > 0)
    }

    /// The current generation of slot `idx` (0 for an index never used).
    pub(super) fn generation_of(&self, idx: u32) -> u32 {
        self.slots.get(idx as usize).map_or(0, |s| s.generation)
    }

    /// The `interest` key of the `poll_ready` entry `own` (`NONE`: none).
    pub(super) fn own_key(&self, own: u32, interest: Interest) -> WaiterKey {
        self.owners
            .get(own as usize)
            .map_or(WaiterKey::NONE, |keys| keys[interest.index()])
    }

    /// Stores `key` as the `interest` key of the `poll_ready` entry `*own`,
    /// making the entry (and setting `*own`) if there is none and `key` is a
    /// real key.
    pub(super) fn set_own_key(&mut self, own: &mut u32, interest: Interest, key: WaiterKey) {
        if *own == NONE {
            if key == WaiterKey::NONE {
                return;
            }
            *own = match self.free_owners.pop() {
                Some(o) => o,
                None => {
                    // Bounded by the live registrations (each holds one slot
                    // reference, and slots are counted in `u32`).
                    self.owners.push([WaiterKey::NONE; 2]) as u32
                }
            };
        }
        if let Some(keys) = self.owners.get_mut(*own as usize) {
            keys[interest.index()] = key;
        }
    }

    /// Frees the `poll_ready` entry `own` (if any) and returns its keys.
    pub(super) fn take_own(&mut self, own: u32) -> [WaiterKey; 2] {
        match self.owners.get_mut(own as usize) {
            Some(keys) => {
                let taken = std::mem::replace(keys, [WaiterKey::NONE; 2]);
                self.free_owners.push(own);
                taken
            }
            None => [WaiterKey::NONE; 2],
        }
    }

    /// The live slot `idx` if it still has generation `generation`.
    pub(super) fn slot(&mut self, idx: u32, generation: u32) -> Option<&mut Slot> {
        self.slots
            .get_mut(idx as usize)
            .filter(|s| s.refs > 0 && s.generation == generation)
    }

    /// Drops one reference. When it was the last, frees the slot, moves any
    /// leftover waker into `out` and returns the fd and whether it was added
    /// to epoll.
    pub(super) fn release(
        &mut self,
        idx: u32,
        generation: u32,
        out: &mut Vec<Waker>,
    ) -> Option<(RawFd, bool)> {
        let slot = self.slot(idx, generation)?;
        slot.refs -= 1;
        if slot.refs > 0 {
            return None;
        }
        let (fd, polled) = (slot.fd, slot.in_epoll);
        slot.generation = slot.generation.wrapping_add(1);
        for dir in 0..2 {
            self.take_list(idx, dir, out);
        }
        self.fds.set(fd, NONE);
        // A slot whose generation wrapped is retired (24 bytes kept per
        // 2^32 uses): were it reused, events still carrying one of its old
        // tokens (an epoll entry that outlived its fd's close through a dup)
        // would match the new user and set sticky closed/error bits on it.
        if self.slots[idx as usize].generation != 0 {
            self.free_slots.push(idx);
        }
        self.live -= 1;
        Some((fd, polled))
    }

    /// Adds `waker` to the `interest` list of slot `idx` (which must be
    /// live). Fails when [`NO_NODE`] nodes are in use (a `Wait` holds a node
    /// index in 31 bits).
    pub(super) fn add_waiter(
        &mut self,
        idx: u32,
        interest: Interest,
        waker: Waker,
    ) -> io::Result<WaiterKey> {
        let dir = interest.index();
        let head = self.slots[idx as usize].heads[dir];
        let node_idx = match self.free_node {
            Some(n) => {
                let next_free = self.nodes[n as usize].next;
                self.free_node = (next_free != NONE).then_some(next_free);
                n
            }
            None => {
                if self.nodes.len() >= NO_NODE as usize {
                    return Err(io::Error::other("corun: too many tasks waiting for I/O"));
                }
                self.nodes.push(Node {
                    waker: None,
                    next: NONE,
                    prev: NONE,
                    generation: 0,
                });
                (self.nodes.len() - 1) as u32
            }
        };
        let node = &mut self.nodes[node_idx as usize];
        node.waker = Some(SlimWaker::new(waker));
        node.next = head;
        node.prev = NONE;
        let generation = node.generation;
        if head != NONE {
            self.nodes[head as usize].prev = node_idx;
        }
        self.slots[idx as usize].heads[dir] = node_idx;
        Ok(WaiterKey {
            idx: node_idx,
            generation,
        })
    }

    /// Whether `key` still names a queued waiter.
    fn is_queued(&self, key: WaiterKey) -> bool {
        self.nodes
            .get(key.idx as usize)
            .is_some_and(|n| n.generation == key.generation && n.waker.is_some())
    }

    /// Stores `waker` in the queued node `key` unless it would wake the same
    /// task already. Returns `Err(())` if the key is stale (woken or removed);
    /// `Ok(Some(old))` hands back a replaced waker for the caller to drop.
    pub(super) fn refresh_waiter(
        &mut self,
        key: WaiterKey,
        waker: &Waker,
    ) -> Result<Option<Waker>, ()> {
        if !self.is_queued(key) {
            return Err(());
        }
        let slot = &mut self.nodes[key.idx as usize].waker;
        match slot {
            Some(w) if w.will_wake(waker) => Ok(None),
            _ => Ok(slot
                .replace(SlimWaker::new(waker.clone()))
                .map(SlimWaker::into_waker)),
        }
    }

    /// Unlinks the node `key` from the `interest` list of slot `idx`; returns
    /// its waker (to be dropped by the caller) or `None` if already gone.
    pub(super) fn remove_waiter(
        &mut self,
        idx: u32,
        interest: Interest,
        key: WaiterKey,
    ) -> Option<Waker> {
        if !self.is_queued(key) {
            return None;
        }
        let (prev, next) = {
            let n = &self.nodes[key.idx as usize];
            (n.prev, n.next)
        };
        if prev == NONE {
            self.slots[idx as usize].heads[interest.index()] = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NONE {
            self.nodes[next as usize].prev = prev;
        }
        self.free(key.idx)
    }

    /// Returns node `n` to the free list; bumps its generation.
    fn free(&mut self, n: u32) -> Option<Waker> {
        let next_free = self.free_node.unwrap_or(NONE);
        let node = &mut self.nodes[n as usize];
        node.generation = node.generation.wrapping_add(1);
        node.next = next_free;
        node.prev = NONE;
        self.free_node = Some(n);
        node.waker.take().map(SlimWaker::into_waker)
    }

    /// Moves every waker of list `dir` of slot `idx` into `out`.
    fn take_list(&mut self, idx: u32, dir: usize, out: &mut Vec<Waker>) {
        let mut cur = std::mem::replace(&mut self.slots[idx as usize].heads[dir], NONE);
        while cur != NONE {
            let next = self.nodes[cur as usize].next;
            out.extend(self.free(cur));
            cur = next;
        }
    }

    /// Records readiness `bits` reported for slot `idx`/`generation` (ignored when
    /// stale; only the `gen_mask` bits of the generation are compared) and
    /// moves the wakers of every direction they satisfy into `out`.
    pub(super) fn set_ready(
        &mut self,
        idx: u32,
        generation: u32,
        gen_mask: u32,
        bits: u8,
        out: &mut Vec<Waker>,
    ) {
        let Some(slot) = self
            .slots
            .get_mut(idx as usize)
            .filter(|s| s.refs > 0 && s.generation & gen_mask == generation & gen_mask)
        else {
            return;
        };
        slot.readiness |= bits;
        for interest in [Interest::Read, Interest::Write] {
            if bits & interest.mask() != 0 {
                self.take_list(idx, interest.index(), out);
            }
        }
    }

    /// Sets the generation of slot `idx` (tests of generation wrap-around).
    #[cfg(test)]
    pub(super) fn set_generation(&mut self, idx: u32, generation: u32) {
        self.slots[idx as usize].generation = generation;
    }

    /// Number of queued waiters (tests of cleanup).
    #[cfg(test)]
    pub(super) fn queued_waiters(&self) -> usize {
        self.nodes.iter().filter(|n| n.waker.is_some()).count()
    }
}

/// Sizes that the memory budget (≤ 256 bytes per idle connection) relies on.
#[cfg(test)]
pub(super) fn sizes() -> (usize, usize) {
    (std::mem::size_of::<Slot>(), std::mem::size_of::<Node>())
}
