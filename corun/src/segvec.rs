//! A growable array whose elements never move: storage comes in segments
//! of doubling size (64, 128, 256, … elements), so growing never copies
//! and never leaves the old copy behind.
//!
//! Why: a `Vec` that doubles inside the malloc heap frees its old buffer,
//! but the freed pages stay resident; at 10 000 idle connections the dead
//! copies of the reactor's per-fd tables and of the task registry came to
//! tens of bytes per connection in RSS. Here memory grows by at most the
//! size of what is stored (plus the untouched tail of the newest segment,
//! which the kernel does not back), and indexing costs one leading-zeros
//! count. Used by the registry, the timer wheel and the reactor tables.
//!
//! This file is a plain container; it knows nothing about what it stores.

use std::ops::{Index, IndexMut};

/// log2 of the first segment's length.
const FIRST_SHIFT: u32 = 6;

/// A push-only array with stable element addresses.
pub(crate) struct SegVec<T> {
    /// Segment `k` has capacity `64 << k` and is never reallocated.
    segs: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for SegVec<T> {
    fn default() -> Self {
        SegVec::new()
    }
}

/// The segment and offset of index `i`.
#[inline]
fn locate(i: usize) -> (usize, usize) {
    let q = (i >> FIRST_SHIFT) + 1;
    let k = (usize::BITS - 1 - q.leading_zeros()) as usize;
    let start = ((1usize << k) - 1) << FIRST_SHIFT;
    (k, i - start)
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
            self.segs
                .push(Vec::with_capacity(1 << (FIRST_SHIFT as usize + k)));
        }
        // The segment has room: its capacity is exactly the number of
        // indices that map to it, so this push never reallocates.
        self.segs[k].push(value);
        self.len += 1;
        self.len - 1
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        let (k, off) = locate(i);
        self.segs.get(k)?.get(off)
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
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
    fn indices_map_to_consecutive_segments() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        assert_eq!(locate(448), (3, 0));
    }

    #[test]
    fn push_get_and_iterate_across_segments_without_moving() {
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
        for i in [0usize, 63, 64, 65, 4095, 99_999] {
            assert_eq!(v[i], i as u32);
            v[i] += 1;
            assert_eq!(v.get(i), Some(&(i as u32 + 1)));
        }
        assert_eq!(v.get(100_000), None);
        assert_eq!(v.get_mut(usize::MAX), None);
    }
}
