//! The local ready queue: a growable ring of task pointers, oldest first.
//!
//! A power-of-two ring with free-running head and tail counters, so a push
//! or a pop is a mask, a store or load and an increment; `VecDeque` spends
//! a few more instructions per operation on its general wrap handling, and
//! this queue is touched twice per task poll (the yield path). It only
//! stores pointers: it holds no task references (see `core`'s lifetime
//! rules) and knows nothing of task state.

use std::ptr::NonNull;

use crate::task::raw::Header;

/// FIFO of task pointers.
pub(crate) struct ReadyQueue {
    /// Slots; the length is a power of two. Slots outside `head..tail` hold
    /// stale pointers that are never read.
    buf: Box<[Option<NonNull<Header>>]>,
    /// Count of pops so far (wrapping); `head & mask` is the oldest slot.
    head: usize,
    /// Count of pushes so far (wrapping); `tail & mask` is the next free slot.
    tail: usize,
}

impl ReadyQueue {
    /// An empty queue with room for `capacity` (rounded up to a power of
    /// two, at least 1) tasks before it grows.
    pub(crate) fn with_capacity(capacity: usize) -> ReadyQueue {
        ReadyQueue {
            buf: vec![None; capacity.max(1).next_power_of_two()].into_boxed_slice(),
            head: 0,
            tail: 0,
        }
    }

    /// Number of queued tasks.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Appends `ptr` at the back.
    #[inline]
    pub(crate) fn push_back(&mut self, ptr: NonNull<Header>) {
        if self.len() == self.buf.len() {
            self.grow();
        }
        let mask = self.buf.len() - 1;
        self.buf[self.tail & mask] = Some(ptr);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Removes and returns the oldest task.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<NonNull<Header>> {
        if self.is_empty() {
            return None;
        }
        let mask = self.buf.len() - 1;
        let ptr = self.buf[self.head & mask];
        self.head = self.head.wrapping_add(1);
        ptr
    }

    /// Doubles the full ring in place. `realloc` moves a large buffer by
    /// remapping its pages (no copy, no new page faults for the queued
    /// part); then the wrapped-around run `0..head` is moved behind the old
    /// end so the queued pointers stay contiguous in ring order.
    #[cold]
    fn grow(&mut self) {
        let old = self.buf.len();
        debug_assert_eq!(self.len(), old, "grow is only called when full");
        let head = self.head & (old - 1);
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(old);
        // A queue this big is filled end to end, again and again; advise
        // before the new half is first written.
        crate::hugepage::advise_vec(&v);
        v.resize(old * 2, None);
        // Full ring: slots head..old, then 0..head, in ring order.
        let (front, back) = v.split_at_mut(old);
        back[..head].copy_from_slice(&front[..head]);
        self.buf = v.into_boxed_slice();
        self.head = head;
        self.tail = head + old;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(i: usize) -> NonNull<Header> {
        // Never dereferenced: the queue only moves pointers around.
        NonNull::new((i * 16 + 16) as *mut Header).unwrap()
    }

    #[test]
    fn fifo_across_growth_and_wraparound() {
        let mut q = ReadyQueue::with_capacity(2);
        let mut expect = std::collections::VecDeque::new();
        let mut next = 0;
        // Interleave pushes and pops so head and tail wrap many times while
        // the queue also grows from 2 to 64 slots.
        for round in 0..200 {
            for _ in 0..(round % 7) {
                q.push_back(fake(next));
                expect.push_back(fake(next));
                next += 1;
            }
            for _ in 0..(round % 5) {
                assert_eq!(q.pop_front(), expect.pop_front());
            }
            assert_eq!(q.len(), expect.len());
        }
        while let Some(p) = expect.pop_front() {
            assert_eq!(q.pop_front(), Some(p));
        }
        assert!(q.is_empty());
        assert_eq!(q.pop_front(), None);
    }

    #[test]
    fn capacity_rounds_up_to_a_power_of_two() {
        assert_eq!(ReadyQueue::with_capacity(0).buf.len(), 1);
        assert_eq!(ReadyQueue::with_capacity(3).buf.len(), 4);
        assert_eq!(ReadyQueue::with_capacity(256).buf.len(), 256);
    }
}
