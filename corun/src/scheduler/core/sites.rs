//! Spawn sites: the `#[track_caller]` location of every spawn, interned per
//! scheduler into the one-byte index a task header carries (`Header::site`).
//!
//! Index 0 means "unknown": a scheduler keeps its first 127 distinct spawn
//! sites (the index is the low seven bits of the header's byte,
//! `SITE_INDEX`); tasks spawned from further sites report none. A spawn from a site
//! seen before costs one compare in a small direct-mapped cache.
//!
//! This file only maps locations to indexes and back; it must not touch
//! tasks or their headers.

use std::collections::HashMap;
use std::panic::Location;

use crate::task::raw::SITE_INDEX;

/// Slots in the direct-mapped cache in front of the map.
const CACHE: usize = 16;

/// A scheduler's spawn sites.
pub(super) struct Sites {
    /// `table[i - 1]` is the site of index `i`.
    table: Vec<&'static Location<'static>>,
    /// Recently interned sites by address: `(address, index)`.
    cache: [(usize, u8); CACHE],
    by_addr: HashMap<usize, u8>,
}

impl Sites {
    pub(super) fn new() -> Sites {
        Sites {
            table: Vec::new(),
            cache: [(0, 0); CACHE],
            by_addr: HashMap::new(),
        }
    }

    /// The index of `site`, interning it if there is room (else 0).
    #[inline]
    pub(super) fn intern(&mut self, site: &'static Location<'static>) -> u8 {
        let addr = std::ptr::from_ref(site) as usize;
        let slot = (addr >> 3) % CACHE;
        let (cached, index) = self.cache[slot];
        if cached == addr {
            return index;
        }
        let index = self.intern_slow(addr, site);
        self.cache[slot] = (addr, index);
        index
    }

    #[inline(never)]
    fn intern_slow(&mut self, addr: usize, site: &'static Location<'static>) -> u8 {
        if let Some(&index) = self.by_addr.get(&addr) {
            return index;
        }
        let Ok(index) = u8::try_from(self.table.len() + 1) else {
            return 0;
        };
        if index > SITE_INDEX {
            return 0;
        }
        self.table.push(site);
        self.by_addr.insert(addr, index);
        index
    }

    /// The site of `index` (a header's `site` byte: its other bits are
    /// ignored); `None` for 0 (unknown).
    pub(super) fn get(&self, index: u8) -> Option<&'static Location<'static>> {
        let index = index & SITE_INDEX;
        self.table.get(usize::from(index).checked_sub(1)?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[test]
    fn a_site_keeps_its_index_and_reads_back() {
        let mut sites = Sites::new();
        let (a, b) = (here(), here());
        let ia = sites.intern(a);
        let ib = sites.intern(b);
        assert_ne!(ia, 0);
        assert_ne!(ia, ib);
        assert_eq!(sites.intern(a), ia);
        assert_eq!(sites.get(ia).map(|l| l.line()), Some(a.line()));
        assert_eq!(sites.get(ib).map(|l| l.line()), Some(b.line()));
        assert_eq!(sites.get(0), None);
    }

    #[test]
    fn sites_past_the_127th_are_unknown() {
        let mut sites = Sites::new();
        // Distinct locations (copies in a static, so still reachable at
        // exit: no leak for the sanitizers) stand in for distinct sites.
        static COPIES: std::sync::OnceLock<Vec<Location<'static>>> = std::sync::OnceLock::new();
        let locs: Vec<&'static Location<'static>> = COPIES
            .get_or_init(|| (0..300).map(|_| *here()).collect())
            .iter()
            .collect();
        let indexes: Vec<u8> = locs.iter().map(|l| sites.intern(l)).collect();
        assert!(indexes[..127].iter().all(|&i| i != 0));
        assert!(indexes[127..].iter().all(|&i| i == 0));
        // Interned ones stay interned, whatever the cache holds.
        for (l, &i) in locs.iter().zip(&indexes).take(127) {
            assert_eq!(sites.intern(l), i);
        }
    }
}
