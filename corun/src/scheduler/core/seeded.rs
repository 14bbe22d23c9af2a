//! The pseudo-random source of a seeded schedule (`Builder::seed`): which
//! of the oldest ready tasks runs next, and in which order timers due at
//! the same tick wake. A splitmix64 sequence: tiny, fast, and the same
//! numbers on every platform for the same seed, which replay needs. It
//! decides orders only; it must not touch tasks itself.

use std::cell::Cell;

/// A splitmix64 generator.
pub(crate) struct Rng(Cell<u64>);

impl Rng {
    /// The generator of core `core` of a scheduler seeded with `seed`
    /// (each core draws its own sequence).
    pub(crate) fn new(seed: u64, core: usize) -> Rng {
        let r = Rng(Cell::new(
            seed ^ (core as u64).wrapping_mul(0xA076_1D64_78BD_642F),
        ));
        r.next();
        r
    }

    pub(crate) fn next(&self) -> u64 {
        let s = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` ≥ 1).
    pub(crate) fn below(&self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    /// Shuffles `items` (Fisher–Yates).
    pub(crate) fn shuffle<T>(&self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_sequence_other_seed_or_core_another() {
        let seq = |seed, core| {
            let r = Rng::new(seed, core);
            (0..16).map(|_| r.below(10)).collect::<Vec<_>>()
        };
        assert_eq!(seq(7, 0), seq(7, 0));
        assert_ne!(seq(7, 0), seq(8, 0));
        assert_ne!(seq(7, 0), seq(7, 1));
        assert!(seq(7, 0).iter().all(|&k| k < 10));
    }

    #[test]
    fn shuffle_keeps_every_item() {
        let r = Rng::new(1, 0);
        let mut v: Vec<u32> = (0..100).collect();
        r.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
