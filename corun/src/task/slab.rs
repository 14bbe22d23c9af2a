//! Task memory: each scheduler carves its task cells out of its own chunks,
//! sorted into size classes, and reuses freed cells of the same class.
//!
//! Why not the global allocator: here a spawn is a pop from a free list or
//! a pointer bump, a finished task's cell is reused by the next spawn
//! (still warm in cache), and fresh memory is made resident a window at a
//! time ahead of use, one `madvise` call instead of a page fault per small
//! page; `malloc` spent a large share of a million spawns in its own
//! bookkeeping and in page faults (`docs/design/memory.md`).
//!
//! # Rules
//!
//! * Blocks are multiples of [`GRAIN`] bytes, aligned to [`GRAIN`], at most
//!   [`MAX_BLOCK`] bytes; bigger or more aligned cells use the global
//!   allocator (see [`class_of`]).
//! * The scheduler's registry takes its pages from the chunks too
//!   ([`Slab::alloc_table`]): not blocks, never given back, gone with the
//!   slab.
//! * Only the owner scheduler's thread allocates and touches the local free
//!   lists. Any other thread gives a block back through a lock-free stack per
//!   class, which the owner takes over whole when its own list runs dry.
//! * Chunks stay in small pages, never advised for huge pages: on the
//!   project's virtual machines a fresh huge page comes from memory the
//!   guest reported free to the host, and its first touch cost anywhere
//!   from a quarter to five times a small page's, run by run (why, and the
//!   figures: "Small pages, populated ahead" in `docs/design/memory.md`).
//! * Only the current window ([`WINDOW`] bytes) is populated ahead of the
//!   blocks handed out: the memory made resident before it is used stays
//!   under one window per scheduler.
//! * Chunks are returned to the OS only when the slab drops, which happens
//!   when the scheduler's shared state drops, which happens after the last
//!   task cell is gone. A scheduler that once held a million tasks keeps
//!   their memory for reuse while it lives.
//! * Slab cells hold no count of that shared state each (two atomic
//!   operations per task saved); the slab counts its live blocks instead.
//!   The owner thread counts without atomics; a block freed on another
//!   thread is counted off in [`Slab::outstanding`]. When the scheduler
//!   goes away it calls [`Slab::orphan`], which folds its count into
//!   `outstanding`; while blocks are still out, the scheduler leaves one
//!   count of its shared state behind, and the [`Slab::free_remote`] that
//!   frees the last block reports it, so its caller gives that count back.
//!
//! Building with `RUSTFLAGS="--cfg corun_no_slab"` sends every cell to the
//! global allocator, so AddressSanitizer and valgrind see each one (the
//! sanitizer script runs both ways).
//!
//! This file hands out raw blocks only; it knows nothing of what a task cell
//! holds (`task::raw`) or of scheduling.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};

/// Block sizes are multiples of this, and blocks are aligned to it. Eight,
/// the alignment of a task header: a cell wastes at most 7 bytes to
/// rounding (16 would cost a spawned `async { 1u64 }` 8 bytes on its 72).
pub(crate) const GRAIN: usize = 8;
/// The largest block the slab serves.
pub(crate) const MAX_BLOCK: usize = 1024;
const CLASSES: usize = MAX_BLOCK / GRAIN;
/// The size of the memory [`Slab::alloc_table`] hands out: a registry page
/// (a 4 KiB array of keys and its few fields), rounded to the grain.
pub(crate) const TABLE_BYTES: usize = 4120;
/// Bytes at the start of each chunk holding its tag (one grain).
const TAG_SIZE: usize = GRAIN;
/// Chunk size and alignment ([`chunk_tag`] finds a chunk's start by
/// masking a block's address).
const CHUNK: usize = 2 << 20;
/// Bytes of a chunk populated at a time, ahead of the blocks cut from
/// them: 16 small pages per `madvise` call. A divisor of [`CHUNK`], at
/// least [`TABLE_BYTES`]. Larger saves little more (the call is a small
/// part of a window's cost) and makes an idle scheduler's RSS larger.
const WINDOW: usize = 64 << 10;
const _: () = assert!(CHUNK % WINDOW == 0 && WINDOW >= TABLE_BYTES);

/// The size class serving `layout`, or `None` if the slab cannot.
pub(crate) const fn class_of(layout: Layout) -> Option<usize> {
    if cfg!(corun_no_slab) || layout.align() > GRAIN || layout.size() > MAX_BLOCK {
        return None;
    }
    let grains = layout.size().div_ceil(GRAIN);
    if grains == 0 { None } else { Some(grains - 1) }
}

/// The size of the blocks of `class`.
const fn block_size(class: usize) -> usize {
    (class + 1) * GRAIN
}

/// A free block: its first word links to the next free block of its class.
struct FreeBlock {
    next: *mut FreeBlock,
}

/// The owner thread's part.
struct Local {
    free: [*mut FreeBlock; CLASSES],
    /// Next unused byte of the newest chunk, the end of its populated
    /// window, and the end of the chunk (all null before the first chunk).
    /// `bump` is derived from the chunk pointer, so the blocks cut from it
    /// carry the chunk's provenance.
    bump: *mut u8,
    end: *mut u8,
    chunk_end: *mut u8,
    chunks: Vec<NonNull<u8>>,
    /// Blocks handed out minus blocks given back by `free_local`.
    live: usize,
}

/// One scheduler's task memory.
pub(crate) struct Slab {
    local: UnsafeCell<Local>,
    /// Blocks freed on other threads, one lock-free stack per class.
    remote: [AtomicPtr<FreeBlock>; CLASSES],
    /// Before [`Slab::orphan`]: minus the blocks given back by
    /// `free_remote`. After: the blocks still out.
    outstanding: AtomicIsize,
}

// SAFETY: `local` is only touched by the owner thread (the contracts of
// `alloc` and `free_local`); `remote` is atomic. The raw pointers inside are
// owned by the slab.
unsafe impl Send for Slab {}
// SAFETY: as above.
unsafe impl Sync for Slab {}

impl Slab {
    pub(crate) fn new() -> Slab {
        Slab {
            local: UnsafeCell::new(Local {
                free: [ptr::null_mut(); CLASSES],
                bump: ptr::null_mut(),
                end: ptr::null_mut(),
                chunk_end: ptr::null_mut(),
                chunks: Vec::new(),
                live: 0,
            }),
            remote: [const { AtomicPtr::new(ptr::null_mut()) }; CLASSES],
            outstanding: AtomicIsize::new(0),
        }
    }

    /// A block of `class` (uninitialised), or `None` if the OS refused a new
    /// chunk (the caller then uses the global allocator). `tag` is written
    /// at the start of a chunk the call maps; [`chunk_tag`] reads it back
    /// from any block of the chunk. (The task cells pass their scheduler,
    /// which saves each cell a word.)
    ///
    /// # Safety
    /// Owner thread only, not re-entered (it runs no foreign code), and
    /// `class < CLASSES` (from [`class_of`]); every call passes the same
    /// `tag`.
    #[inline]
    pub(crate) unsafe fn alloc(&self, class: usize, tag: *const ()) -> Option<NonNull<u8>> {
        // SAFETY: owner thread, no other reference to `local` is live.
        let l = unsafe { &mut *self.local.get() };
        let head = l.free[class];
        if !head.is_null() {
            // SAFETY: blocks on the free list are ours and hold a link.
            l.free[class] = unsafe { (*head).next };
            l.live += 1;
            return NonNull::new(head.cast());
        }
        // A plain load first: the swap (a locked instruction) only when
        // another thread actually gave blocks back.
        if !self.remote[class].load(Ordering::Relaxed).is_null() {
            let taken = self.remote[class].swap(ptr::null_mut(), Ordering::Acquire);
            if !taken.is_null() {
                // SAFETY: the acquire swap pairs with the release pushes, so
                // the links written by other threads are visible.
                l.free[class] = unsafe { (*taken).next };
                l.live += 1;
                return NonNull::new(taken.cast());
            }
        }
        let block = bump(l, block_size(class), tag)?;
        l.live += 1;
        Some(block)
    }

    /// [`TABLE_BYTES`] bytes (uninitialised, `GRAIN`-aligned) for one of
    /// the scheduler's own tables (a registry page), cut from the chunks
    /// like a block, or `None` if the OS refused a new chunk. Such memory
    /// is not a block: it is not counted, never given back, and goes with
    /// the slab. Taking it here rather than from `malloc` puts it under
    /// the slab's huge-page policy: a million spawns take about a thousand
    /// fewer page faults (`docs/design/memory.md`).
    ///
    /// # Safety
    /// As for [`Slab::alloc`]; the caller never frees the memory and stops
    /// using it before the slab drops.
    pub(crate) unsafe fn alloc_table(&self, tag: *const ()) -> Option<NonNull<u8>> {
        // SAFETY: owner thread, no other reference to `local` is live.
        let l = unsafe { &mut *self.local.get() };
        bump(l, TABLE_BYTES, tag)
    }

    /// Gives back a block on the owner thread.
    ///
    /// # Safety
    /// Owner thread, not re-entered; `block` came from `alloc(class)` of
    /// this slab and nobody uses it any more.
    #[inline]
    pub(crate) unsafe fn free_local(&self, block: NonNull<u8>, class: usize) {
        // SAFETY: owner thread, no other reference to `local` is live.
        let l = unsafe { &mut *self.local.get() };
        let b = block.as_ptr().cast::<FreeBlock>();
        // SAFETY: the block is ours again, at least one word long and aligned.
        unsafe {
            b.write(FreeBlock {
                next: l.free[class],
            })
        };
        l.free[class] = b;
        l.live -= 1;
    }

    /// Gives back a block from any thread (and from the owner thread once
    /// its scheduler is gone). True if this was the last block out after
    /// [`Slab::orphan`]: the caller must then give back the count of the
    /// shared state that the scheduler left behind. Nothing of the slab may
    /// be touched after that.
    ///
    /// # Safety
    /// `block` came from `alloc(class)` of this slab and nobody uses it any
    /// more.
    #[must_use = "the last block out must release the scheduler's state"]
    pub(crate) unsafe fn free_remote(&self, block: NonNull<u8>, class: usize) -> bool {
        let b = block.as_ptr().cast::<FreeBlock>();
        let stack = &self.remote[class];
        let mut head = stack.load(Ordering::Relaxed);
        loop {
            // SAFETY: the block is ours until the push below publishes it.
            unsafe { b.write(FreeBlock { next: head }) };
            match stack.compare_exchange_weak(head, b, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        // Before `orphan` the count is at most 0 and never reaches 1, so
        // only a free after it can be the one that brings it from 1 to 0.
        self.outstanding.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// The owner's scheduler is going away: from now on every block comes
    /// back through [`Slab::free_remote`]. True if no block is out (then
    /// no `free_remote` will report a last block); false if some are, and
    /// the last `free_remote` will report it.
    ///
    /// # Safety
    /// Owner thread, called once, after which the owner thread never calls
    /// `alloc` or `free_local` again.
    pub(crate) unsafe fn orphan(&self) -> bool {
        // SAFETY: owner thread, no other reference to `local` is live.
        let live = unsafe { (*self.local.get()).live } as isize;
        // The blocks allocated but not freed locally, minus those already
        // freed remotely: the blocks still out.
        self.outstanding.fetch_add(live, Ordering::AcqRel) + live == 0
    }

    /// How many chunks the slab holds (for tests).
    #[cfg(all(test, not(corun_no_slab)))]
    fn chunks(&self) -> usize {
        // SAFETY: tests call this on the owner thread between operations.
        unsafe { (*self.local.get()).chunks.len() }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        for chunk in self.local.get_mut().chunks.drain(..) {
            // SAFETY: each chunk came from `new_chunk` and is freed once;
            // no block in it is in use (the shared state that owns this slab
            // outlives every block, see the module docs).
            unsafe { free_chunk(chunk) };
        }
    }
}

/// Cuts `size` bytes (a multiple of `GRAIN`, at most [`TABLE_BYTES`])
/// from the newest chunk's populated window, opening the next window or
/// mapping a new chunk when too little is left; `None` if the OS refused a
/// chunk.
#[inline]
fn bump(l: &mut Local, size: usize, tag: *const ()) -> Option<NonNull<u8>> {
    if l.end.addr() - l.bump.addr() < size {
        next_window(l, size, tag)?;
    }
    let block = l.bump;
    // Stays inside the window (or one past its end): `size` bytes were
    // left, checked above or made so by `next_window`.
    l.bump = l.bump.wrapping_add(size);
    NonNull::new(block)
}

/// Makes at least `size` bytes available at `l.bump`: populates the next
/// window of the newest chunk, or maps a new chunk (with `tag` at its
/// start) and populates its first window when the chunk has too little
/// left. `None` if the OS refused the chunk.
#[cold]
fn next_window(l: &mut Local, size: usize, tag: *const ()) -> Option<()> {
    if l.chunk_end.addr() - l.bump.addr() >= size {
        // `end` is window-aligned and below `chunk_end` (else too little
        // would be left in the chunk), so the next window fits in it; it
        // covers `size` as `size <= WINDOW`.
        populate(l.end, WINDOW);
        l.end = l.end.wrapping_add(WINDOW);
        return Some(());
    }
    let chunk = new_chunk()?;
    l.chunks.push(chunk);
    // `chunk_tag` reads the tag through the chunk's address alone
    // (a block's pointer may only cover the block): it needs the
    // chunk's provenance exposed.
    let _ = chunk.as_ptr().expose_provenance();
    populate(chunk.as_ptr(), WINDOW);
    // SAFETY: the chunk is fresh, writable, CHUNK-aligned and much
    // larger than the tag; blocks start after it.
    unsafe { chunk.as_ptr().cast::<*const ()>().write(tag) };
    // The tail of the old chunk (< TABLE_BYTES) is left unused.
    l.bump = chunk.as_ptr().wrapping_add(TAG_SIZE);
    l.end = chunk.as_ptr().wrapping_add(WINDOW);
    l.chunk_end = chunk.as_ptr().wrapping_add(CHUNK);
    Some(())
}

/// Makes the `len` bytes at `start` resident now, in one call, rather than
/// a page fault at a time as they are first written. `start` is
/// page-aligned and the range lies inside one of the slab's chunks.
/// Advice only: where the kernel lacks `MADV_POPULATE_WRITE` (before
/// Linux 5.14) the pages fault in on first use as before.
fn populate(start: *mut u8, len: usize) {
    // Miri has neither pages nor `madvise`; populating never changes
    // contents (fresh pages read as zero either way), so skipping it hides
    // nothing Miri could check.
    #[cfg(miri)]
    let _ = (start, len);
    #[cfg(all(target_os = "linux", not(miri)))]
    // SAFETY: the range lies inside a chunk the slab mapped read-write and
    // still owns. `MADV_POPULATE_WRITE` only faults its pages in as a
    // write would (a page already present keeps its contents); it fails
    // harmlessly (ignored here) on kernels without it.
    unsafe {
        libc::madvise(start.cast(), len, libc::MADV_POPULATE_WRITE);
    }
}

/// The tag given to [`Slab::alloc`] when it mapped the chunk holding
/// `block`.
///
/// # Safety
/// `block` lies in a chunk of a live slab (a block it handed out and not
/// yet freed, or any address inside such a block).
#[inline]
pub(crate) unsafe fn chunk_tag(block: *const u8) -> *const () {
    let base = block.addr() & !(CHUNK - 1);
    // The block's own provenance may not cover the chunk's first bytes (a
    // `&Header` covers the header only); `alloc` exposed the provenance of
    // the whole chunk for this.
    let head = ptr::with_exposed_provenance::<*const ()>(base);
    // SAFETY: the chunk is mapped while its slab lives (the caller's duty),
    // is CHUNK-aligned, and its first word was written by `alloc` before
    // any block of it was handed out.
    unsafe { head.read() }
}

/// Maps a `CHUNK`-aligned chunk of `CHUNK` bytes (lazily committed by the
/// kernel, in small pages).
#[cfg(not(miri))]
fn new_chunk() -> Option<NonNull<u8>> {
    // Map twice the size, then trim to an aligned chunk (the alignment
    // `chunk_tag` relies on).
    let len = 2 * CHUNK;
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing; no existing memory is affected.
    let raw = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return None;
    }
    let raw = raw.cast::<u8>();
    let head = raw.addr().next_multiple_of(CHUNK) - raw.addr();
    let tail = len - head - CHUNK;
    // Derived from the mapping's pointer, so the chunk keeps its
    // provenance.
    let aligned = raw.wrapping_add(head);
    // SAFETY: both ranges lie inside the mapping just made and outside the
    // chunk we keep; unmapping them touches nothing else.
    unsafe {
        if head > 0 {
            libc::munmap(raw.cast(), head);
        }
        if tail > 0 {
            libc::munmap(aligned.wrapping_add(CHUNK).cast(), tail);
        }
    }
    NonNull::new(aligned)
}

/// Gives a chunk back to the OS.
///
/// # Safety
/// `chunk` came from [`new_chunk`], is freed once, and nothing in it is
/// used any more.
#[cfg(not(miri))]
unsafe fn free_chunk(chunk: NonNull<u8>) {
    // SAFETY: `new_chunk` mapped exactly `CHUNK` bytes there (the caller's
    // duty).
    unsafe { libc::munmap(chunk.as_ptr().cast(), CHUNK) };
}

/// The layout of a chunk taken from the global allocator.
#[cfg(miri)]
const CHUNK_LAYOUT: Layout = match Layout::from_size_align(CHUNK, CHUNK) {
    Ok(l) => l,
    Err(_) => panic!("CHUNK is a power of two"),
};

/// [`new_chunk`] under Miri, from the global allocator: Miri's `munmap`
/// only takes back whole mappings, so the trimming above cannot run there.
/// The chunk has the same size and alignment, so every rule of the slab
/// (and `chunk_tag`) holds as in the real build.
#[cfg(miri)]
fn new_chunk() -> Option<NonNull<u8>> {
    // SAFETY: the layout has a non-zero size.
    NonNull::new(unsafe { std::alloc::alloc(CHUNK_LAYOUT) })
}

/// [`free_chunk`] under Miri.
///
/// # Safety
/// As for the real one.
#[cfg(miri)]
unsafe fn free_chunk(chunk: NonNull<u8>) {
    // SAFETY: allocated by `new_chunk` with this layout (the caller's duty).
    unsafe { std::alloc::dealloc(chunk.as_ptr(), CHUNK_LAYOUT) };
}

#[cfg(all(test, not(corun_no_slab)))]
mod tests {
    use super::*;

    /// The chunk tag the tests pass.
    const TAG: *const () = 0x5a5a_5a58 as *const ();

    #[test]
    fn classes_round_up_to_the_grain() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class_of(l(1, 1)), Some(0));
        assert_eq!(class_of(l(8, 8)), Some(0));
        assert_eq!(class_of(l(9, 8)), Some(1));
        assert_eq!(class_of(l(72, 8)), Some(8));
        assert_eq!(class_of(l(MAX_BLOCK, 8)), Some(CLASSES - 1));
        assert_eq!(class_of(l(MAX_BLOCK + 1, 8)), None);
        // More aligned than the grain: the global allocator serves it.
        assert_eq!(class_of(l(64, 16)), None);
        assert_eq!(class_of(l(0, 1)), None);
    }

    #[test]
    fn blocks_are_aligned_distinct_and_reused_last_in_first_out() {
        let slab = Slab::new();
        // SAFETY: this thread owns the slab; blocks are freed once.
        unsafe {
            let a = slab.alloc(3, TAG).unwrap();
            let b = slab.alloc(3, TAG).unwrap();
            assert_eq!(a.as_ptr() as usize % GRAIN, 0);
            assert_eq!(b.as_ptr() as usize - a.as_ptr() as usize, block_size(3));
            slab.free_local(a, 3);
            slab.free_local(b, 3);
            assert_eq!(slab.alloc(3, TAG), Some(b));
            assert_eq!(slab.alloc(3, TAG), Some(a));
            // Another class never gets these back.
            slab.free_local(a, 3);
            assert_ne!(slab.alloc(4, TAG), Some(a));
        }
    }

    #[test]
    fn blocks_freed_on_other_threads_come_back_to_the_owner() {
        struct Block(NonNull<u8>);
        // SAFETY: the test hands each block to exactly one thread.
        unsafe impl Send for Block {}
        let slab = std::sync::Arc::new(Slab::new());
        // SAFETY: this thread owns the slab.
        let blocks: Vec<Block> = (0..1000)
            .map(|_| Block(unsafe { slab.alloc(0, TAG) }.unwrap()))
            .collect();
        let mut sent: Vec<usize> = blocks.iter().map(|b| b.0.as_ptr() as usize).collect();
        let halves: Vec<Vec<Block>> = {
            let mut it = blocks.into_iter();
            vec![it.by_ref().take(500).collect(), it.collect()]
        };
        let threads: Vec<_> = halves
            .into_iter()
            .map(|half| {
                let slab = slab.clone();
                std::thread::spawn(move || {
                    for b in half {
                        // SAFETY: each block was allocated from `slab` with
                        // class 0 and is given back once.
                        let _ = unsafe { slab.free_remote(b.0, 0) };
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // SAFETY: owner thread again.
        let mut back: Vec<usize> = (0..1000)
            .map(|_| unsafe { slab.alloc(0, TAG) }.unwrap().as_ptr() as usize)
            .collect();
        sent.sort_unstable();
        back.sort_unstable();
        assert_eq!(back, sent, "every block given back remotely is reused");
    }

    #[test]
    fn chunks_are_added_when_one_is_full() {
        let slab = Slab::new();
        // The chunk's first grain holds its tag.
        let per_chunk = (CHUNK - TAG_SIZE) / MAX_BLOCK;
        // SAFETY: owner thread; blocks are leaked into the slab, which
        // unmaps them on drop; `chunk_tag` reads inside live blocks.
        unsafe {
            for _ in 0..per_chunk {
                let b = slab.alloc(CLASSES - 1, TAG).unwrap();
                assert_eq!(chunk_tag(b.as_ptr().add(MAX_BLOCK - 1)), TAG);
            }
            assert_eq!(slab.chunks(), 1);
            let b = slab.alloc(CLASSES - 1, TAG).unwrap();
            assert_eq!(chunk_tag(b.as_ptr()), TAG);
        }
        assert_eq!(slab.chunks(), 2);
    }

    /// Which of the chunk's small pages are resident, from `mincore`.
    fn resident_pages(chunk: usize) -> Vec<bool> {
        let mut v = vec![0u8; CHUNK / 4096];
        // SAFETY: the range is one chunk the caller's slab has mapped;
        // `v` has one byte per 4 KiB page of it.
        let rc = unsafe { libc::mincore(chunk as *mut libc::c_void, CHUNK, v.as_mut_ptr()) };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        v.iter().map(|b| b & 1 == 1).collect()
    }

    /// Whether this kernel knows `MADV_POPULATE_WRITE` (Linux 5.14+),
    /// asked on a page of our own.
    fn kernel_populates() -> bool {
        // SAFETY: a fresh private anonymous page, advised, then unmapped;
        // nothing else is touched.
        unsafe {
            let p = libc::mmap(
                ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            let ok = libc::madvise(p, 4096, libc::MADV_POPULATE_WRITE) == 0;
            libc::munmap(p, 4096);
            ok
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls mincore on the slab's mmap")]
    fn a_window_is_populated_ahead_of_the_bump_and_no_further() {
        let slab = Slab::new();
        // SAFETY: owner thread; the blocks stay in the slab until it drops.
        let first = unsafe { slab.alloc(0, TAG) }.unwrap();
        let chunk = first.as_ptr() as usize & !(CHUNK - 1);
        let pages = WINDOW / 4096;
        if !kernel_populates() {
            eprintln!("skipped: this kernel has no MADV_POPULATE_WRITE");
            return;
        }
        let resident = resident_pages(chunk);
        assert!(resident[..pages].iter().all(|&r| r), "the first window");
        assert!(!resident[pages..].iter().any(|&r| r), "past the window");
        // One block past the first window opens the second, only.
        let per_window = WINDOW / MAX_BLOCK;
        for _ in 0..per_window {
            // SAFETY: as above.
            unsafe { slab.alloc(CLASSES - 1, TAG) }.unwrap();
        }
        let resident = resident_pages(chunk);
        assert!(resident[..2 * pages].iter().all(|&r| r), "two windows");
        assert!(!resident[2 * pages..].iter().any(|&r| r), "past two");
    }

    #[test]
    fn the_last_block_out_after_orphan_is_reported_once() {
        let slab = std::sync::Arc::new(Slab::new());
        // SAFETY: this thread owns the slab until `orphan`; every block is
        // freed once.
        unsafe {
            let a = slab.alloc(2, TAG).unwrap();
            let b = slab.alloc(2, TAG).unwrap();
            let c = slab.alloc(2, TAG).unwrap();
            slab.free_local(a, 2);
            // Freed elsewhere before the owner goes: not the last one.
            struct Block(NonNull<u8>);
            // SAFETY: the block is handed to exactly one thread.
            unsafe impl Send for Block {}
            let (s2, b) = (slab.clone(), Block(b));
            let early = std::thread::spawn(move || {
                let b = b;
                s2.free_remote(b.0, 2)
            });
            assert!(!early.join().unwrap());
            // One block (c) is still out.
            assert!(!slab.orphan());
            assert!(slab.free_remote(c, 2), "the last block out reports it");
        }
        let empty = Slab::new();
        // SAFETY: as above.
        unsafe {
            let a = empty.alloc(0, TAG).unwrap();
            empty.free_local(a, 0);
            assert!(empty.orphan(), "nothing out: nobody will report");
        }
    }
}
