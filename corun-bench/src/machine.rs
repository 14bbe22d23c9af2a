//! The machine check: three short measurements of the machine itself, taken
//! before and after the table, so that a reader can tell a slow table from
//! a slow machine.
//!
//! These machines are shared: within minutes the same binary's figures
//! move by half, peers' as much as corun's, and what moves most is the
//! price of memory the process has never touched (the kernel zeroes every
//! new page; spawn and sleep at a million tasks touch 70–140 MB). So the
//! check times exactly that, in small and in huge pages, and a fixed chain
//! of dependent arithmetic for the CPU. It runs in the parent, outside every measured region, and must
//! not touch runtimes, children or the tables' numbers.

use std::hint::black_box;
use std::time::Instant;

/// Bytes of fresh memory written per try.
const FRESH_BYTES: usize = 64 << 20;
/// Steps of the dependent arithmetic chain per try.
const CHAIN_STEPS: u64 = 20_000_000;
/// Tries of each measurement; the best one counts.
const TRIES: usize = 3;

/// What one check measured (the best of [`TRIES`], but see
/// `fresh_huge_gb_s`).
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// GB/s writing memory fresh from the kernel (page faults and the
    /// kernel's zeroing included), one byte in every 64.
    pub fresh_gb_s: f64,
    /// The same in memory advised for transparent huge pages, as corun's
    /// task slab past its first 4 MiB. On a virtual machine whose free
    /// memory the guest reports to the host (virtio-balloon free page
    /// reporting: blocks of 2 MiB and more), fresh huge pages come from
    /// reported blocks, and the host must back them again on first touch:
    /// this figure falls furthest when the machine has been idle. One
    /// try, taken first.
    pub fresh_huge_gb_s: f64,
    /// ns per step of a dependent multiply-add chain.
    pub chain_ns: f64,
}

impl Check {
    /// Measures now; takes about a quarter of a second.
    pub fn measure() -> Check {
        Check {
            // First and once: a second try would reuse the blocks the
            // first just gave back, before the guest reports them again.
            fresh_huge_gb_s: fresh_huge_memory_gb_s(),
            fresh_gb_s: (0..TRIES).map(|_| fresh_memory_gb_s()).fold(0.0, f64::max),
            chain_ns: (0..TRIES).map(|_| chain_ns()).fold(f64::INFINITY, f64::min),
        }
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        format!(
            "fresh memory {:.2} GB/s (huge pages {:.2}), arithmetic chain {:.3} ns/step",
            self.fresh_gb_s, self.fresh_huge_gb_s, self.chain_ns
        )
    }

    /// The check as a JSON line (`when`: "start" or "end").
    pub fn json(&self, when: &str) -> serde_json::Value {
        serde_json::json!({
            "machine_check": when,
            "fresh_gb_s": self.fresh_gb_s,
            "fresh_huge_gb_s": self.fresh_huge_gb_s,
            "chain_ns": self.chain_ns,
        })
    }
}

/// Writes one byte per cache line of a fresh zeroed allocation (large
/// enough that the allocator maps it straight from the kernel, untouched).
fn fresh_memory_gb_s() -> f64 {
    let t0 = Instant::now();
    let mut v: Vec<u8> = vec![0; FRESH_BYTES];
    for i in (0..v.len()).step_by(64) {
        v[i] = 1;
    }
    black_box(&mut v);
    let secs = t0.elapsed().as_secs_f64();
    drop(v);
    FRESH_BYTES as f64 / secs.max(1e-9) / 1e9
}

/// [`fresh_memory_gb_s`] in an anonymous mapping advised `MADV_HUGEPAGE`
/// (its 2 MiB-aligned part). Where the advice is refused or THP is off,
/// this measures small pages, like the other figure.
fn fresh_huge_memory_gb_s() -> f64 {
    const HUGE: usize = 2 << 20;
    let len = FRESH_BYTES + HUGE;
    let t0 = Instant::now();
    // SAFETY: a private anonymous mapping at an address of the kernel's
    // choosing; no existing memory is affected.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if map == libc::MAP_FAILED {
        return 0.0;
    }
    let start = (map as usize).next_multiple_of(HUGE);
    // SAFETY: [start, start + FRESH_BYTES) lies inside the mapping (it is
    // a huge page longer than that); madvise only changes how the kernel
    // backs it, and the writes stay inside it.
    unsafe {
        libc::madvise(start as *mut libc::c_void, FRESH_BYTES, libc::MADV_HUGEPAGE);
        let p = start as *mut u8;
        for i in (0..FRESH_BYTES).step_by(64) {
            p.add(i).write_volatile(1);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    // SAFETY: unmaps exactly the mapping made above, no longer used.
    unsafe { libc::munmap(map, len) };
    FRESH_BYTES as f64 / secs.max(1e-9) / 1e9
}

/// A 64-bit linear congruential chain: each step needs the one before.
/// `black_box` on every step keeps the compiler from folding steps
/// together (it would otherwise unroll the chain into fewer, wider steps),
/// so a step costs the multiply-add plus a store and reload, the same
/// amount of work on every machine.
fn chain_ns() -> f64 {
    let t0 = Instant::now();
    let mut x = 1u64;
    for _ in 0..CHAIN_STEPS {
        x = black_box(x)
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    black_box(x);
    t0.elapsed().as_secs_f64() * 1e9 / CHAIN_STEPS as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_measures_positive_finite_figures() {
        let c = Check::measure();
        assert!(c.fresh_gb_s.is_finite() && c.fresh_gb_s > 0.0, "{c:?}");
        assert!(
            c.fresh_huge_gb_s.is_finite() && c.fresh_huge_gb_s > 0.0,
            "{c:?}"
        );
        assert!(c.chain_ns.is_finite() && c.chain_ns > 0.0, "{c:?}");
        let j = c.json("start");
        assert_eq!(j["machine_check"], "start");
        assert_eq!(j["chain_ns"].as_f64(), Some(c.chain_ns));
        assert!(c.describe().contains("GB/s"));
    }
}
