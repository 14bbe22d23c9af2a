//! A growable array whose elements never move: storage comes in chunks
//! of [`CHUNK`] elements, so growing never copies and never leaves the old
//! copy behind.
//!
//! Why: a `Vec` that doubles inside the malloc heap frees its old buffer,
//! but the freed pages stay resident; at 10 000 idle connections the dead
//! copies of the reactor's per-fd tables and of the task registry came to
//! tens of bytes per connection in RSS. Here memory grows by at most the
//! size of what is stored (plus the untouched tail of the newest chunk,
//! which the kernel does not back). Used by the registry, the timer wheel
//! and the reactor tables.
//!
//! Chunks are all the same size (they doubled before, from 64 elements):
//! an index is then a shift and a mask, where doubling segments needed a
//! leading-zeros count, a subtraction and a length check. Callgrind:
//! 1 million sleeping tasks, 1 454 → 1 438 million instructions (firing a
//! timer indexes the wheel's entries about seven times); spawning and
//! joining a task, 475 → 466.
//!
//! This file is a plain container; it knows nothing about what it stores.

use std::ops::{Index, IndexMut};

/// log2 of [`CHUNK`].
const CHUNK_SHIFT: u32 = 10;
/// Elements per chunk (24 KiB of timer entries, 8 KiB of registry slots;
/// the kernel backs only the pages a chunk has filled).
const CHUNK: usize = 1 << CHUNK_SHIFT;

/// A push-only array with stable element addresses.
pub(crate) struct SegVec<T> {
    /// Chunk `k` holds indices `k * CHUNK ..`; it is never reallocated.
    segs: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for SegVec<T> {
    fn default() -> Self {
        SegVec::new()
    }
}

/// The chunk and offset of index `i`.
#[inline]
fn locate(i: usize) -> (usize, usize) {
    (i >> CHUNK_SHIFT, i & (CHUNK - 1))
}

impl<T> SegVec<T> {
    pub(crate) const fn new() -> SegVec<T> {
        SegVec {
            segs: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value`; returns its index.
    pub(crate) fn push(&mut self, value: T) -> usize {
        let (k, _) = locate(self.len);
        if k == self.segs.len() {
            self.segs.push(Vec::with_capacity(CHUNK));
        }
        // The chunk has room: its capacity is exactly the number of
        // indices that map to it, so this push never reallocates.
        self.segs[k].push(value);
        self.len += 1;
        self.len - 1
    }

    /// The element at `i`, if `i < len`. (Chunks fill in order, so an
    /// index past the end has no chunk or lies past its chunk's length:
    /// the two slice checks are the only bounds checks needed.)
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        let (k, off) = locate(i);
        self.segs.get(k)?.get(off)
    }

    /// The element at `i`, mutably, if `i < len`.
    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        let (k, off) = locate(i);
        self.segs.get_mut(k)?.get_mut(off)
    }

    /// Every element in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.segs.iter().flatten()
    }
}

impl<T> Index<usize> for SegVec<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(v) => v,
            None => panic!("SegVec index {i} out of bounds (len {})", self.len),
        }
    }
}

impl<T> IndexMut<usize> for SegVec<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len;
        match self.get_mut(i) {
            Some(v) => v,
            None => panic!("SegVec index {i} out of bounds (len {len})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_map_to_consecutive_chunks() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(CHUNK - 1), (0, CHUNK - 1));
        assert_eq!(locate(CHUNK), (1, 0));
        assert_eq!(locate(3 * CHUNK + 5), (3, 5));
    }

    #[test]
    fn push_get_and_iterate_across_chunks_without_moving() {
        let mut v = SegVec::new();
        let mut first = std::ptr::null();
        for i in 0..100_000u32 {
            assert_eq!(v.push(i), i as usize);
            if i == 0 {
                first = &v[0] as *const u32;
            }
        }
        assert_eq!(v.len(), 100_000);
        assert!(std::ptr::eq(first, &v[0]), "an element moved");
        assert!(v.iter().copied().eq(0..100_000));
        for i in [0usize, 63, 64, 1023, 1024, 1025, 4095, 99_999] {
            assert_eq!(v[i], i as u32);
            v[i] += 1;
            assert_eq!(v.get(i), Some(&(i as u32 + 1)));
        }
        assert_eq!(v.get(100_000), None);
        // Past the end inside the last chunk, and far past it.
        assert_eq!(v.get(100_001), None);
        assert_eq!(v.get_mut(usize::MAX), None);
    }
}
