//! A growable array whose elements never move: storage comes in chunks
//! of [`CHUNK`] elements, so growing never copies and never leaves the old
//! copy behind.
//!
//! Why: a `Vec` that doubles inside the malloc heap frees its old buffer,
//! but the freed pages stay resident. Here memory grows by at most the
//! size of what is stored (plus the untouched tail of the newest chunk,
//! which the kernel does not back). Used by the registry, the timer wheel
//! and the reactor tables. More in `docs/design/memory.md`.
//!
//! Rules:
//! * Chunks are all the same size, so an index is a shift and a mask (the
//!   wheel indexes its entries several times per fired timer).
//! * Chunks come from the global allocator one at a time, in small pages,
//!   so the array counts only what it touched (no huge pages: see "Small
//!   pages, populated ahead" in `docs/design/memory.md`).
//!
//! This file is a plain container; it knows nothing about what it stores.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};
use std::ptr::NonNull;

/// log2 of [`CHUNK`].
const CHUNK_SHIFT: u32 = 10;
/// Elements per chunk (24 KiB of timer entries, 8 KiB of registry slots;
/// the kernel backs only the pages a chunk has filled).
const CHUNK: usize = 1 << CHUNK_SHIFT;

/// A push-only array with stable element addresses.
pub(crate) struct SegVec<T> {
    /// Chunk `k` holds indices `k * CHUNK ..` at this address; chunks are
    /// allocated one at a time with [`SegVec::CHUNK_LAYOUT`], never
    /// reallocated, freed on drop. Slots below `len` are initialised, the
    /// rest not.
    chunks: Vec<NonNull<T>>,
    len: usize,
    /// The array owns its `T`s.
    _owns: PhantomData<T>,
}

// SAFETY: a `SegVec<T>` owns its elements like a `Vec<T>` does (the raw
// pointers only point into its own allocations), so it may move to or be
// shared with another thread exactly when `T` may.
unsafe impl<T: Send> Send for SegVec<T> {}
// SAFETY: as above; `&SegVec<T>` only hands out `&T`.
unsafe impl<T: Sync> Sync for SegVec<T> {}

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
    /// The allocation of one chunk.
    const CHUNK_LAYOUT: Layout = {
        assert!(size_of::<T>() > 0, "SegVec does not store zero-sized types");
        match Layout::array::<T>(CHUNK) {
            Ok(l) => l,
            Err(_) => panic!("SegVec chunk too large"),
        }
    };

    pub(crate) const fn new() -> SegVec<T> {
        SegVec {
            chunks: Vec::new(),
            len: 0,
            _owns: PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value`; returns its index.
    pub(crate) fn push(&mut self, value: T) -> usize {
        let (k, off) = locate(self.len);
        if k == self.chunks.len() {
            self.grow();
        }
        // SAFETY: chunk `k` exists now and has `CHUNK` slots; slot `off`
        // is the first uninitialised one (slots fill in index order).
        unsafe { self.chunks[k].as_ptr().add(off).write(value) };
        self.len += 1;
        self.len - 1
    }

    /// Adds one chunk.
    #[cold]
    fn grow(&mut self) {
        let layout = Self::CHUNK_LAYOUT;
        // SAFETY: the layout's size is not zero (`T` is not zero-sized).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        self.chunks.push(ptr.cast::<T>());
    }

    /// The element at `i`, if `i < len`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        let (k, off) = locate(i);
        // SAFETY: `i < len`, so chunk `k` exists and slot `off` holds an
        // initialised element, borrowed for as long as `self` is.
        Some(unsafe { &*self.chunks.get_unchecked(k).as_ptr().add(off) })
    }

    /// The element at `i`, mutably, if `i < len`.
    #[inline]
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        let (k, off) = locate(i);
        // SAFETY: as in `get`; `&mut self` makes this the only borrow.
        Some(unsafe { &mut *self.chunks.get_unchecked(k).as_ptr().add(off) })
    }

    /// Every element in index order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().enumerate().flat_map(move |(k, c)| {
            let filled = self.len.saturating_sub(k * CHUNK).min(CHUNK);
            // SAFETY: the first `filled` slots of chunk `k` are exactly its
            // initialised elements (indices below `len`).
            unsafe { std::slice::from_raw_parts(c.as_ptr(), filled) }
        })
    }
}

impl<T> Drop for SegVec<T> {
    fn drop(&mut self) {
        if std::mem::needs_drop::<T>() {
            for (k, c) in self.chunks.iter().enumerate() {
                let filled = self.len.saturating_sub(k * CHUNK).min(CHUNK);
                // SAFETY: these are the chunk's initialised elements,
                // dropped once, never used again.
                unsafe {
                    std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(c.as_ptr(), filled))
                };
            }
        }
        for c in &self.chunks {
            // SAFETY: allocated in `grow` with exactly this layout; freed
            // once.
            unsafe { alloc::dealloc(c.as_ptr().cast(), Self::CHUNK_LAYOUT) };
        }
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

    #[test]
    fn many_chunks_keep_order_and_drop_every_element_once() {
        use std::rc::Rc;
        let token = Rc::new(());
        // 256-byte elements: 8 MiB over 33 chunks. (Large elements keep the
        // count of pushes low enough for Miri, which runs this test too.)
        type Elem = (usize, Rc<()>, [u64; 30]);
        assert_eq!(size_of::<Elem>(), 256);
        let n = (8 << 20) / 256 + 17;
        let mut v: SegVec<Elem> = SegVec::new();
        for i in 0..n {
            v.push((i, token.clone(), [0; 30]));
        }
        assert_eq!(Rc::strong_count(&token), n + 1);
        assert!(v.iter().map(|e| e.0).eq(0..n));
        assert_eq!(v[n - 1].0, n - 1);
        assert_eq!(v.chunks.len(), n.div_ceil(CHUNK));
        drop(v);
        assert_eq!(Rc::strong_count(&token), 1, "every element dropped once");
    }
}
