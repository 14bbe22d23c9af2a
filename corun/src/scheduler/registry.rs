//! The registry of a scheduler's live tasks, laid out by id so that any id
//! reaches its task in O(1).
//!
//! # Layout
//!
//! Task ids come in blocks of [`BLOCK`] consecutive sequence numbers (see
//! `task::TaskId`). A task spawned on this scheduler's own thread lives in
//! the *page* of its id's block, at the offset of its id in the block:
//! spawning fills the current page front to back, and finding a task by id
//! is a block lookup (a small map, one entry per page) plus an array index.
//! A task spawned from another thread carries an id from that thread's
//! block, so it lives in the *overflow* table instead (a free-listed array
//! plus a map from id to index).
//!
//! A task's place is found from its id alone: the page of its id's block
//! (the current page, the page last looked up, or the block map), at the
//! offset of its id; if that entry is not this task, the overflow's map.
//! Nothing of the place is kept in the task (a million sleeping tasks each
//! save the four bytes of a slot number): every lookup checks the pointer
//! or id it finds.
//!
//! A page names its tasks in four bytes, not eight: a cell's key is its
//! distance from the registry's base address (the first cell it held) in
//! 8-byte units, which reaches 16 GiB either way: a scheduler's slab chunks
//! are mapped near one another. A task whose cell lies farther (say, a
//! boxed cell in the `brk` heap) lives in the overflow, whose entries are
//! pointers. Keys go back to pointers through exposed provenance: every
//! cell's was exposed when it was allocated (`task::raw`).
//!
//! # Memory
//!
//! Pages are cut from the scheduler's task slab (`task::slab`), in small
//! pages populated ahead, as the task cells are. A page is emptied when its
//! last task ends, and kept for the next burst of spawns. A page that is
//! no longer the current one and holds [`COMPACT_AT`] tasks or fewer is
//! compacted (its tasks move to the overflow and it is emptied) when the
//! next page is started, so a few long-lived tasks never pin whole pages:
//! a live task costs four bytes in a page that holds more than
//! `COMPACT_AT` tasks, or an overflow entry, once spawning goes on.
//!
//! Compaction waits for the next page because a spare page is only ever
//! needed there (slab memory never goes back to the OS), and because a
//! page draining in spawn order would otherwise send its last
//! `COMPACT_AT` tasks through the overflow's map just before they end:
//! 23 of the 430 instructions of a spawn and join in the benchmark's
//! spawn cell (`docs/design/memory.md`).
//!
//! Why ids are laid out this way: `docs/design/many-cores.md`.
//!
//! # Dump details
//!
//! A registry built with details keeps one [`Detail`] beside every entry
//! (a page's array, and one parallel to the overflow), which moves with
//! its task when a page is compacted: a task's details cost no lookup of
//! their own, and tasks spawned in a row keep theirs side by side. A
//! detail is written when its task is registered and is not cleared when
//! the task leaves; the next task in that place overwrites it.
//!
//! The registry stores pointers only; it does not own or free tasks (the
//! core manages references) and knows nothing of scheduling.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use super::core::{Detail, IdMap};
use super::shared::CoreShared;
use crate::task::raw::{self, Header};
use crate::task::slab::{GRAIN, TABLE_BYTES};
use crate::task::{BLOCK, BLOCK_SHIFT, seq_of};

/// No page (of `Registry::cur_page`).
const NONE: u32 = u32::MAX;
/// The bit of a place (see [`Registry::place`]) that says "overflow".
const OVERFLOW: u32 = 1 << 31;
/// A non-current page holding this many tasks or fewer is compacted: a
/// 4 KiB page then costs each task it keeps at most 4096 / 17 bytes.
/// (Every page that drains in spawn order sends its last `COMPACT_AT`
/// tasks through the overflow's map, so lower is cheaper for spawns.)
const COMPACT_AT: u32 = 16;
/// Spare pages from the global allocator kept for reuse rather than freed
/// (spawn bursts reuse them); slab pages are all kept (see `spare`).
const SPARE_PAGES: usize = 64;

type Entry = Option<NonNull<Header>>;

/// A page entry: the key of the task's cell (see the module docs), or
/// [`EMPTY`].
type Key = u32;
/// A page entry with no task; no cell has this key (the registry's base
/// address lies just before the first cell it held, and a cell that
/// starts exactly there later gets no key).
const EMPTY: Key = 0;

struct Page {
    /// The id block this page holds.
    block: u64,
    /// Occupied entries.
    live: u32,
    /// The page came from the global allocator (the slab could not map a
    /// chunk, or the build has no slab), not from the slab's chunks.
    boxed: bool,
    entries: [Key; BLOCK],
    /// The entries' details, if the registry keeps them.
    details: Option<Box<[Detail; BLOCK]>>,
}

// A page is cut from the slab's chunks as a table (see `new_page`).
const _: () =
    assert!(std::mem::size_of::<Page>() <= TABLE_BYTES && std::mem::align_of::<Page>() <= GRAIN);

/// A page the registry owns: memory of the slab's chunks (or, for a
/// `boxed` page, of the global allocator), which the registry alone
/// touches, on the owner thread. Pages never leave the registry: an
/// emptied page is kept for reuse (see `Registry::spare`), and what a page
/// owns besides its memory (its details) is dropped with the registry.
struct PagePtr(NonNull<Page>);

impl Deref for PagePtr {
    type Target = Page;
    fn deref(&self) -> &Page {
        // SAFETY: a page is initialised when its `PagePtr` is made, and
        // only its registry, which owns the one `PagePtr`, reaches it.
        unsafe { self.0.as_ref() }
    }
}

impl DerefMut for PagePtr {
    fn deref_mut(&mut self) -> &mut Page {
        // SAFETY: as for `deref`; `&mut self` is the only way in.
        unsafe { self.0.as_mut() }
    }
}

pub(crate) struct Registry {
    /// Whose slab the pages come from.
    owner: Arc<CoreShared>,
    /// The address keys count from (0 until the first task comes).
    base: usize,
    /// Pages by page number; `None` for a free page number.
    pages: Vec<Option<PagePtr>>,
    /// Free page numbers, reused first.
    free_pages: Vec<u32>,
    /// Page number of each id block that has a page.
    by_block: IdMap<u32>,
    /// The id block and page number local spawns fill now (`NONE` when
    /// there is none).
    cur_block: u64,
    cur_page: u32,
    /// The id block and page number of the last page found through the
    /// block map (tasks end roughly in the order they were spawned, so most
    /// lookups of a non-current page find it here); `u64::MAX` for none.
    last: Cell<(u64, u32)>,
    /// Emptied pages, kept for reuse: slab memory has no way back but
    /// this (a burst of spawns is followed by another, which reuses them).
    spare: Vec<PagePtr>,
    /// Old pages that came down to [`COMPACT_AT`] tasks, as `(block, page
    /// number)`, compacted when the next page starts if they still hold
    /// any (an entry whose page number now holds another block is stale).
    thinned: Vec<(u64, u32)>,
    overflow: Vec<Entry>,
    overflow_free: Vec<u32>,
    overflow_by_id: IdMap<u32>,
    /// Details of the overflow entries, index for index (empty without
    /// details).
    overflow_details: Vec<Detail>,
    /// Whether details are kept.
    keeps_details: bool,
    len: usize,
    /// Lookups by id, and entries they examined (each lookup examines at
    /// most two: page, overflow).
    lookups: u64,
    probes: u64,
}

impl Registry {
    /// An empty registry whose pages come from `owner`'s slab (the
    /// caller is `owner`'s thread, and so are all later calls); `details`:
    /// keep a [`Detail`] per task.
    pub(crate) fn new(owner: Arc<CoreShared>, details: bool) -> Registry {
        Registry {
            owner,
            base: 0,
            pages: Vec::new(),
            free_pages: Vec::new(),
            by_block: IdMap::default(),
            cur_block: u64::MAX,
            cur_page: NONE,
            last: Cell::new((u64::MAX, NONE)),
            spare: Vec::new(),
            thinned: Vec::new(),
            overflow: Vec::new(),
            overflow_free: Vec::new(),
            overflow_by_id: IdMap::default(),
            overflow_details: Vec::new(),
            keeps_details: details,
            len: 0,
            lookups: 0,
            probes: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// `(lookups by id, entries examined)` so far.
    pub(crate) fn lookup_counts(&self) -> (u64, u64) {
        (self.lookups, self.probes)
    }

    /// Stores `ptr`. `own_block`: spawned on this scheduler's thread, with
    /// an id from one of its blocks. Tasks enter in about the order of
    /// their ids, but not exactly: one spawned earlier may enter later
    /// (late registration, `scheduler::core`), into its block's page if
    /// that still has one.
    pub(crate) fn insert(&mut self, ptr: NonNull<Header>, own_block: bool) {
        // SAFETY: the caller hands over a live task.
        let id = unsafe { raw::header(ptr) }.id;
        let seq = seq_of(id);
        self.len += 1;
        if own_block {
            let page = if self.cur_block == seq >> BLOCK_SHIFT {
                self.cur_page
            } else {
                self.page_for(seq >> BLOCK_SHIFT, ptr)
            };
            let key = self.key_of(ptr);
            if key != EMPTY {
                return self.put(page, seq, key);
            }
        }
        self.put_overflow(id, ptr);
    }

    fn put(&mut self, page: u32, seq: u64, key: Key) {
        let off = (seq as usize) & (BLOCK - 1);
        if let Some(p) = self.pages[page as usize].as_deref_mut() {
            p.entries[off] = key;
            p.live += 1;
        }
    }

    /// The key of the cell at `ptr`, or [`EMPTY`] if it lies too far from
    /// the base (or at the base itself).
    #[inline]
    fn key_of(&self, ptr: NonNull<Header>) -> Key {
        // Cells are 8-aligned, so the distance loses nothing in the shift.
        let dist = (ptr.as_ptr().addr().wrapping_sub(self.base) as isize) >> 3;
        let key = dist as i32;
        if key as isize == dist {
            key as u32
        } else {
            EMPTY
        }
    }

    /// The task whose cell has key `key` (not [`EMPTY`]).
    fn task_at(&self, key: Key) -> NonNull<Header> {
        let addr = self.base.wrapping_add_signed((key as i32 as isize) << 3);
        // SAFETY: the key was made by `key_of` from a registered, so live,
        // task's pointer, whose provenance `task::raw` exposed when it
        // allocated the cell; a non-null pointer made the key.
        unsafe { NonNull::new_unchecked(ptr::with_exposed_provenance_mut(addr)) }
    }

    fn put_overflow(&mut self, id: u64, ptr: NonNull<Header>) -> u32 {
        let idx = match self.overflow_free.pop() {
            Some(i) => {
                self.overflow[i as usize] = Some(ptr);
                i
            }
            None => {
                // Two billion overflow tasks would exhaust memory first;
                // saturating keeps the slot bit intact.
                let i = u32::try_from(self.overflow.len()).unwrap_or(OVERFLOW - 1);
                self.overflow.push(Some(ptr));
                if self.keeps_details {
                    self.overflow_details.push(Detail::default());
                }
                i
            }
        };
        self.overflow_by_id.insert(id, idx);
        OVERFLOW | idx
    }

    /// The page of `block` (not the current one): the one it has, else a
    /// new page, made the current one.
    #[inline(never)]
    fn page_for(&mut self, block: u64, first: NonNull<Header>) -> u32 {
        match self.page_of(block) {
            Some(n) => n,
            None => self.start_page(block, first),
        }
    }

    /// Makes a new page for `block` (which has none) the current one,
    /// compacting the page it replaces if little of it is left.
    #[inline(never)]
    fn start_page(&mut self, block: u64, first: NonNull<Header>) -> u32 {
        if self.base == 0 {
            // Just before the first cell, so that no key of a live cell is 0.
            self.base = first.as_ptr().addr() - 8;
        }
        let old = std::mem::replace(&mut self.cur_page, NONE);
        self.cur_block = u64::MAX;
        if old != NONE {
            match self.pages[old as usize].as_ref().map(|p| p.live) {
                Some(0) => {
                    if let Some(page) = self.pages[old as usize].take() {
                        self.release_page(old, page);
                    }
                }
                Some(live) if live <= COMPACT_AT => self.compact(old),
                _ => {}
            }
        }
        self.compact_thinned();
        let mut page = self.spare.pop().unwrap_or_else(|| {
            let mut page = self.new_page();
            if self.keeps_details {
                page.details = Some(Box::new([Detail::default(); BLOCK]));
            }
            page
        });
        page.block = block;
        let n = match self.free_pages.pop() {
            Some(n) => {
                self.pages[n as usize] = Some(page);
                n
            }
            None => {
                self.pages.push(Some(page));
                // Page numbers fit the slot's 21 bits until two billion
                // tasks live at once, which memory forbids first.
                (self.pages.len() - 1) as u32
            }
        };
        self.by_block.insert(block, n);
        (self.cur_block, self.cur_page) = (block, n);
        n
    }

    /// Compacts the old pages noted in `thinned` that still hold tasks
    /// (those emptied meanwhile were released when their last task ended).
    fn compact_thinned(&mut self) {
        while let Some((block, n)) = self.thinned.pop() {
            let holds = self.pages[n as usize]
                .as_ref()
                .is_some_and(|p| p.block == block && p.live > 0 && p.live <= COMPACT_AT);
            if holds && n != self.cur_page {
                self.compact(n);
            }
        }
    }

    /// Moves what page `n` still holds to the overflow and releases the
    /// page.
    fn compact(&mut self, n: u32) {
        let Some(mut page) = self.pages[n as usize].take() else {
            return;
        };
        let page_ref = &mut *page;
        for off in 0..BLOCK {
            let key = std::mem::replace(&mut page_ref.entries[off], EMPTY);
            if key != EMPTY {
                let ptr = self.task_at(key);
                // SAFETY: occupied entries point at live tasks.
                let h = unsafe { raw::header(ptr) };
                let slot = self.put_overflow(h.id, ptr);
                if let Some(details) = &page_ref.details {
                    let idx = (slot & !OVERFLOW) as usize;
                    if let Some(d) = self.overflow_details.get_mut(idx) {
                        *d = details[off];
                    }
                }
            }
        }
        page.live = 0;
        self.release_page(n, page);
    }

    /// Releases page number `n`, whose entries are all empty: its number is
    /// free again, and the page is kept as a spare (or freed, see
    /// [`SPARE_PAGES`]).
    fn release_page(&mut self, n: u32, page: PagePtr) {
        self.by_block.remove(&page.block);
        if self.last.get().1 == n {
            self.last.set((u64::MAX, NONE));
        }
        self.free_pages.push(n);
        if self.spare.len() < SPARE_PAGES || !page.boxed {
            self.spare.push(page);
        } else {
            free_boxed(page);
        }
    }

    /// The live task with this id.
    pub(crate) fn get(&mut self, id: u64) -> Option<NonNull<Header>> {
        self.lookups += 1;
        self.probes += 1;
        if let Some(n) = self.page_of(seq_of(id) >> BLOCK_SHIFT) {
            let slot = (n << BLOCK_SHIFT) | (seq_of(id) as u32 & (BLOCK as u32 - 1));
            if let Some(p) = self.at(slot).filter(|p| id_of(*p) == id) {
                return Some(p);
            }
        }
        self.probes += 1;
        let idx = *self.overflow_by_id.get(&id)?;
        self.at(OVERFLOW | idx).filter(|p| id_of(*p) == id)
    }

    /// The page number of id block `block`, if it has a page.
    #[inline]
    fn page_of(&self, block: u64) -> Option<u32> {
        if block == self.cur_block {
            return Some(self.cur_page);
        }
        let (last_block, last_page) = self.last.get();
        if block == last_block {
            return Some(last_page);
        }
        self.page_of_slow(block)
    }

    /// [`Registry::page_of`] through the block map.
    #[inline(never)]
    fn page_of_slow(&self, block: u64) -> Option<u32> {
        let n = *self.by_block.get(&block)?;
        self.last.set((block, n));
        Some(n)
    }

    /// Where the registered task `ptr` is: `page << 10 | offset` for a
    /// paged task, [`OVERFLOW`]` | index` for the overflow; `None` if it is
    /// not registered.
    #[inline]
    fn place(&self, ptr: NonNull<Header>) -> Option<u32> {
        // SAFETY: the caller passes a live task.
        let id = unsafe { raw::header(ptr) }.id;
        let seq = seq_of(id);
        if let Some(n) = self.page_of(seq >> BLOCK_SHIFT) {
            let slot = (n << BLOCK_SHIFT) | (seq as u32 & (BLOCK as u32 - 1));
            if self.at(slot) == Some(ptr) {
                return Some(slot);
            }
        }
        self.place_overflow(id, ptr)
    }

    /// [`Registry::place`] in the overflow.
    #[inline(never)]
    fn place_overflow(&self, id: u64, ptr: NonNull<Header>) -> Option<u32> {
        let idx = *self.overflow_by_id.get(&id)?;
        (self.at(OVERFLOW | idx) == Some(ptr)).then_some(OVERFLOW | idx)
    }

    /// What slot `slot` holds, if it is occupied.
    fn at(&self, slot: u32) -> Entry {
        if slot & OVERFLOW != 0 {
            return *self.overflow.get((slot & !OVERFLOW) as usize)?;
        }
        let page = self.pages.get((slot >> BLOCK_SHIFT) as usize)?.as_deref()?;
        let key = page.entries[slot as usize & (BLOCK - 1)];
        (key != EMPTY).then(|| self.task_at(key))
    }

    /// The place of `ptr` if it is registered here and details are kept.
    fn detail_slot(&self, ptr: NonNull<Header>) -> Option<u32> {
        if !self.keeps_details {
            return None;
        }
        self.place(ptr)
    }

    /// The detail kept for the registered task `ptr` (`None` without
    /// details, or for a task that is not registered).
    pub(crate) fn detail(&self, ptr: NonNull<Header>) -> Option<Detail> {
        let slot = self.detail_slot(ptr)?;
        if slot & OVERFLOW != 0 {
            return self
                .overflow_details
                .get((slot & !OVERFLOW) as usize)
                .copied();
        }
        let page = self.pages.get((slot >> BLOCK_SHIFT) as usize)?.as_deref()?;
        Some(page.details.as_deref()?[slot as usize & (BLOCK - 1)])
    }

    /// [`Registry::detail`], to change.
    pub(crate) fn detail_mut(&mut self, ptr: NonNull<Header>) -> Option<&mut Detail> {
        let slot = self.detail_slot(ptr)?;
        if slot & OVERFLOW != 0 {
            return self.overflow_details.get_mut((slot & !OVERFLOW) as usize);
        }
        let page = self
            .pages
            .get_mut((slot >> BLOCK_SHIFT) as usize)?
            .as_deref_mut()?;
        Some(&mut page.details.as_deref_mut()?[slot as usize & (BLOCK - 1)])
    }

    /// Removes the task `ptr` (which must be registered).
    #[inline]
    pub(crate) fn remove(&mut self, ptr: NonNull<Header>) {
        // SAFETY: the caller passes a live, registered task.
        let seq = seq_of(unsafe { raw::header(ptr) }.id);
        let key = self.key_of(ptr);
        let (last_block, last_page) = self.last.get();
        let n = if seq >> BLOCK_SHIFT == self.cur_block {
            self.cur_page
        } else if seq >> BLOCK_SHIFT == last_block {
            last_page
        } else {
            return self.remove_slow(ptr);
        };
        let Some(page) = self
            .pages
            .get_mut(n as usize)
            .and_then(|p| p.as_deref_mut())
        else {
            return self.remove_slow(ptr);
        };
        let entry = &mut page.entries[seq as usize & (BLOCK - 1)];
        if key == EMPTY || *entry != key {
            return self.remove_slow(ptr);
        }
        *entry = EMPTY;
        page.live -= 1;
        self.len -= 1;
        if page.live <= COMPACT_AT && n != self.cur_page {
            self.page_thinned(n);
        }
    }

    /// [`Registry::remove`] of a task whose page is neither the current one
    /// nor the one found last, or that is in the overflow.
    #[inline(never)]
    fn remove_slow(&mut self, ptr: NonNull<Header>) {
        match self.place(ptr) {
            Some(slot) if slot & OVERFLOW != 0 => self.remove_overflow(slot & !OVERFLOW, ptr),
            Some(slot) => {
                let n = slot >> BLOCK_SHIFT;
                let Some(page) = self
                    .pages
                    .get_mut(n as usize)
                    .and_then(|p| p.as_deref_mut())
                else {
                    return;
                };
                page.entries[slot as usize & (BLOCK - 1)] = EMPTY;
                page.live -= 1;
                self.len -= 1;
                if page.live <= COMPACT_AT && n != self.cur_page {
                    self.page_thinned(n);
                }
            }
            None => {}
        }
    }

    /// Page `n` (not the current page) came down to [`COMPACT_AT`] tasks
    /// or fewer: released if it holds none, else noted as it reaches
    /// `COMPACT_AT` for compaction when the next page starts. (An old page
    /// mostly only loses tasks; one that gained some by late registration
    /// may be noted twice, or hold more than `COMPACT_AT` again when the
    /// note is read, which then leaves it be.)
    #[inline(never)]
    fn page_thinned(&mut self, n: u32) {
        let Some(page) = self.pages[n as usize].as_ref() else {
            return;
        };
        match page.live {
            0 => {
                if let Some(page) = self.pages[n as usize].take() {
                    self.release_page(n, page);
                }
            }
            COMPACT_AT => self.thinned.push((page.block, n)),
            _ => {}
        }
    }

    #[inline(never)]
    fn remove_overflow(&mut self, idx: u32, ptr: NonNull<Header>) {
        if self.overflow.get(idx as usize).copied().flatten() != Some(ptr) {
            return;
        }
        self.len -= 1;
        self.overflow[idx as usize] = None;
        self.overflow_free.push(idx);
        self.overflow_by_id.remove(&id_of(ptr));
    }

    /// Every live task (pages in page order, then the overflow).
    pub(crate) fn iter(&self) -> impl Iterator<Item = NonNull<Header>> + '_ {
        self.pages
            .iter()
            .flatten()
            .flat_map(|p| p.entries.iter().filter(|&&k| k != EMPTY))
            .map(|&k| self.task_at(k))
            .chain(self.overflow.iter().flatten().copied())
    }
}

impl Registry {
    /// An empty page, from the slab's chunks (where it falls under the
    /// slab's huge-page policy; `docs/design/memory.md`), else from the
    /// global allocator. Zeroed in place: no page-sized value crosses the
    /// stack.
    fn new_page(&self) -> PagePtr {
        let from_slab = if cfg!(corun_no_slab) {
            None
        } else {
            // SAFETY: the registry lives on the owner's thread (`new`'s
            // contract) and calls no slab function re-entrantly; pages are
            // never given back, and the slab outlives the registry (it
            // holds `owner`).
            unsafe { self.owner.slab.alloc_table(Arc::as_ptr(&self.owner).cast()) }
        };
        let (raw, boxed) = match from_slab {
            Some(p) => (p.cast::<Page>(), false),
            None => {
                let layout = std::alloc::Layout::new::<Page>();
                // SAFETY: `Page` has a non-zero size.
                let raw = unsafe { std::alloc::alloc(layout) }.cast::<Page>();
                match NonNull::new(raw) {
                    Some(p) => (p, true),
                    None => std::alloc::handle_alloc_error(layout),
                }
            }
        };
        // SAFETY: `raw` is fresh memory of at least `Page`'s size and
        // alignment (the const assertion above, or its own layout), and all
        // zero bytes are a valid `Page`: block 0, live 0, not boxed, every
        // entry `EMPTY` and no details (an `Option<Box<_>>` is null for
        // `None`).
        unsafe {
            raw.as_ptr().write_bytes(0, 1);
            (*raw.as_ptr()).boxed = boxed;
        }
        PagePtr(raw)
    }
}

/// Frees a page from the global allocator, with its details.
fn free_boxed(mut page: PagePtr) {
    drop(page.details.take());
    // SAFETY: a boxed page was allocated with `Page`'s layout by the
    // global allocator (`new_page`), and this was its one `PagePtr`.
    unsafe { std::alloc::dealloc(page.0.as_ptr().cast(), std::alloc::Layout::new::<Page>()) };
}

impl Drop for Registry {
    /// Drops what the pages own. A slab page's memory goes with the slab
    /// (which `owner` keeps alive until this returns); a boxed page's is
    /// freed.
    fn drop(&mut self) {
        let pages = self.pages.drain(..).flatten();
        for mut page in pages.chain(self.spare.drain(..)) {
            if page.boxed {
                free_boxed(page);
            } else {
                drop(page.details.take());
            }
        }
    }
}

fn id_of(ptr: NonNull<Header>) -> u64 {
    // SAFETY: registered entries point at live tasks.
    unsafe { raw::header(ptr) }.id
}
