//! Transparent huge pages for large buffers that the runtime fills from
//! end to end: the slab's chunks, the chunk groups of a big `SegVec`, the
//! output of `join_all`.
//!
//! Why: a first touch of a small page costs a page fault, and spawning a
//! million tasks touches enough memory that the faults are most of its
//! cost; a huge page takes one fault for 512 small ones. Measurements and
//! the choice of thresholds: `docs/design/memory.md`.
//!
//! The advice is only given for buffers of [`MIN_BYTES`] or more, and only
//! for the 2 MiB-aligned middle of a buffer: a huge page is resident as a
//! whole, so a small buffer, or the edges of one, would cost up to 2 MiB of
//! RSS for a few bytes used. For the same reason structures that grow
//! piece by piece start using huge pages only past [`GROWN_BYTES`]. The
//! kernel may ignore the advice (THP off, or no huge page free); memory
//! then comes in small pages. The advice belongs to the address
//! range, not the buffer: should the allocator later reuse the range of a
//! freed `join_all` output for small allocations, the kernel may back that
//! with huge pages too (at most the size of that output).
//!
//! This file only advises; it never allocates or frees.

/// The size (and alignment) of a transparent huge page on x86-64.
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// Buffers smaller than this get no advice: below two huge pages the
/// rounding to whole huge pages would cost more RSS than the faults cost
/// time.
pub(crate) const MIN_BYTES: usize = 2 * HUGE_PAGE;

/// A structure that grows piece by piece (the slab, a `SegVec`) asks for
/// huge pages only for the memory it adds after holding this much in
/// small pages. Its newest huge page is resident as a whole even when
/// barely used, so this bounds that waste to one huge page on a structure
/// of at least 4 MiB: a third of its RSS at worst, less as it grows.
/// Lower, and 10 000 idle connections pay a huge page of RSS they barely
/// use; higher, and a million spawns pay thousands more small-page faults
/// (see `docs/design/memory.md`).
pub(crate) const GROWN_BYTES: usize = 2 * HUGE_PAGE;

/// Advises huge pages for the 2 MiB-aligned part of `len` bytes at `ptr`,
/// if `len` is at least [`MIN_BYTES`]. The memory must belong to the caller
/// (a live allocation of at least `len` bytes); its contents are unchanged.
pub(crate) fn advise(ptr: *const u8, len: usize) {
    if len < MIN_BYTES {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + len) & !(HUGE_PAGE - 1);
    if end > start {
        advise_aligned(start as *mut u8, end - start);
    }
}

/// Advises huge pages for exactly `len` bytes at `ptr`, which must be
/// `HUGE_PAGE`-aligned and belong to the caller (a live mapping of at least
/// `len` bytes). For memory the caller maps itself in whole huge pages,
/// like the slab's chunks.
pub(crate) fn advise_aligned(ptr: *mut u8, len: usize) {
    debug_assert_eq!(ptr as usize % HUGE_PAGE, 0);
    // Miri has neither pages nor `madvise`; the advice never changes
    // contents, so skipping it hides nothing Miri could check.
    #[cfg(miri)]
    let _ = (ptr, len);
    #[cfg(all(target_os = "linux", not(miri)))]
    // SAFETY: the range lies inside the caller's memory and is page
    // aligned. `MADV_HUGEPAGE` only changes how the kernel backs the
    // range; it never changes or discards its contents, and it fails
    // harmlessly (ignored here) where THP is unsupported.
    unsafe {
        libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE);
    }
}

/// [`advise`] for the spare and used capacity of a vector.
pub(crate) fn advise_vec<T>(v: &Vec<T>) {
    advise(v.as_ptr().cast(), v.capacity() * std::mem::size_of::<T>());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `VmFlags` line of the mapping that holds `addr`, from
    /// `/proc/self/smaps`.
    fn vm_flags_at(addr: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = (lo..hi).contains(&addr);
                    continue;
                }
            }
            if inside && line.starts_with("VmFlags:") {
                return line.to_string();
            }
        }
        panic!("no mapping holds {addr:#x}");
    }

    /// A fresh anonymous mapping, unmapped on drop: memory that no
    /// allocator reused and nobody advised before (a `Vec` could land on
    /// heap pages another test advised).
    struct Mapping {
        ptr: *mut u8,
        len: usize,
    }

    impl Mapping {
        fn new(len: usize) -> Mapping {
            // SAFETY: a new private anonymous mapping at an address of the
            // kernel's choosing; no existing memory is affected.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
            Mapping { ptr: p.cast(), len }
        }

        fn bytes(&mut self) -> &mut [u8] {
            // SAFETY: the mapping is ours, readable, writable and `len`
            // bytes long while `self` lives.
            unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
        }

        fn hg_at(&self, offset: usize) -> bool {
            vm_flags_at(self.ptr as usize + offset).contains(" hg")
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: unmaps exactly the mapping made in `new`, once.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }

    fn thp_available() -> bool {
        let there = std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists();
        if !there {
            eprintln!("skipped: this kernel has no transparent huge pages");
        }
        there
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc/self/smaps of an mmap")]
    fn only_the_aligned_middle_of_a_big_buffer_is_advised() {
        if !thp_available() {
            return;
        }
        // A buffer of four huge pages plus a page before and a page after
        // them, so that both of its ends are unaligned, inside a mapping
        // large enough to hold it wherever the kernel puts the mapping.
        let mut m = Mapping::new(6 * HUGE_PAGE);
        for (i, b) in m.bytes().iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let aligned = (m.ptr as usize + 4096).next_multiple_of(HUGE_PAGE) - m.ptr as usize;
        let (buf, len) = (aligned - 4096, 4 * HUGE_PAGE + 2 * 4096);
        assert!(!m.hg_at(aligned), "advised too early");
        // SAFETY: `buf..buf + len` lies inside the mapping.
        advise(unsafe { m.ptr.add(buf) }, len);
        assert!(m.hg_at(aligned), "the first aligned huge page");
        assert!(
            m.hg_at(aligned + 4 * HUGE_PAGE - 1),
            "the last aligned huge page"
        );
        assert!(!m.hg_at(buf), "the unaligned head");
        assert!(!m.hg_at(aligned + 4 * HUGE_PAGE), "the unaligned tail");
        let unchanged = m
            .bytes()
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8);
        assert!(unchanged, "advice changed the contents");
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc/self/smaps of an mmap")]
    fn buffers_below_min_bytes_get_no_advice() {
        if !thp_available() {
            return;
        }
        let m = Mapping::new(MIN_BYTES);
        let middle = (m.ptr as usize).next_multiple_of(HUGE_PAGE) - m.ptr as usize;
        advise(m.ptr, MIN_BYTES - 1);
        assert!(!m.hg_at(middle), "a buffer below MIN_BYTES was advised");
        advise(m.ptr, MIN_BYTES);
        assert!(m.hg_at(middle), "a buffer of MIN_BYTES was not advised");
    }
}
