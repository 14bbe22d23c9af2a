//! Tests of the timing wheel (`super`): firing order and exactness at level
//! boundaries, cancel and stale keys, huge deadlines, and a randomized run
//! against a `BTreeMap` model. Only the wheel's own API is used here; no
//! clock, no scheduler.

use super::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Wake;

/// A waker that counts its wakes and logs its id into a shared log.
struct Probe {
    id: u64,
    wakes: AtomicUsize,
    log: Arc<Mutex<Vec<u64>>>,
}

impl Wake for Probe {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(self.id);
    }
}

fn probe(id: u64, log: &Arc<Mutex<Vec<u64>>>) -> (Arc<Probe>, Waker) {
    let p = Arc::new(Probe {
        id,
        wakes: AtomicUsize::new(0),
        log: log.clone(),
    });
    (p.clone(), Waker::from(p))
}

/// Advances and returns the ids fired, in firing order.
fn fire_ids(w: &mut Wheel, now: u64, log: &Arc<Mutex<Vec<u64>>>) -> Vec<u64> {
    w.advance(now, |w| w.into_waker().wake());
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn entry_is_compact() {
    assert!(std::mem::size_of::<Entry>() <= 24);
}

#[test]
fn fires_exactly_at_level_boundaries_in_order() {
    let log = Arc::default();
    let mut w = Wheel::new();
    // Around the first slot boundaries of levels 1, 2 and 3, then deep ones.
    let s = SLOTS as u64;
    let deadlines = [
        1u64,
        s - 2,
        s - 1,
        s,
        s + 1,
        s * s - 1,
        s * s,
        s * s + 1,
        s * s * s - 1,
        s * s * s,
        1 << 24,
        (1 << 30) + 7,
        (1 << 40) + 3,
    ];
    for &d in deadlines.iter().rev() {
        w.insert(d, probe(d, &log).1);
    }
    for &d in &deadlines {
        assert_eq!(
            fire_ids(&mut w, d - 1, &log),
            Vec::<u64>::new(),
            "early at {d}"
        );
        assert_eq!(w.next_expiration().map(|t| t <= d), Some(true));
        assert_eq!(fire_ids(&mut w, d, &log), vec![d], "exact at {d}");
    }
    assert_eq!(w.len(), 0);
    assert_eq!(w.next_expiration(), None);
}

#[test]
fn big_jump_fires_everything_in_deadline_order() {
    let log = Arc::default();
    let mut w = Wheel::new();
    let deadlines = [5u64, 70, 4100, 1 << 20, 1 << 39, 999_999_999_999];
    for &d in deadlines.iter().rev() {
        w.insert(d, probe(d, &log).1);
    }
    w.insert(2_000_000_000_000, probe(0, &log).1);
    assert_eq!(fire_ids(&mut w, 1_000_000_000_000, &log), deadlines);
    assert_eq!(w.now(), 1_000_000_000_000);
    assert_eq!(w.len(), 1);
    assert_eq!(fire_ids(&mut w, 2_000_000_000_000, &log), vec![0]);
}

#[test]
fn many_equal_deadlines_all_fire_once() {
    let log = Arc::default();
    let mut w = Wheel::new();
    let probes: Vec<_> = (0..10_000)
        .map(|i| {
            let (p, waker) = probe(i, &log);
            w.insert(777, waker);
            p
        })
        .collect();
    assert_eq!(fire_ids(&mut w, 776, &log).len(), 0);
    assert_eq!(fire_ids(&mut w, 777, &log).len(), 10_000);
    assert_eq!(fire_ids(&mut w, 1_000_000, &log).len(), 0);
    assert!(probes.iter().all(|p| p.wakes.load(Ordering::SeqCst) == 1));
}

#[test]
fn due_deadline_fires_on_next_advance_even_without_time_passing() {
    let log = Arc::default();
    let mut w = Wheel::new();
    w.advance(100, |_| unreachable!());
    w.insert(0, probe(1, &log).1);
    w.insert(100, probe(2, &log).1);
    assert_eq!(w.next_expiration(), Some(0), "the earliest due deadline");
    let mut fired = fire_ids(&mut w, 50, &log);
    fired.sort_unstable();
    assert_eq!(fired, vec![1, 2]);
    assert_eq!(w.now(), 100, "time never goes backwards");
}

#[test]
fn cancel_before_fire_drops_waker_and_never_fires() {
    let log = Arc::default();
    let mut w = Wheel::new();
    let (p, waker) = probe(1, &log);
    let key = w.insert(64, waker);
    let other = w.insert(64, probe(2, &log).1);
    assert_eq!(Arc::strong_count(&p), 2);
    assert!(w.cancel(key));
    assert_eq!(Arc::strong_count(&p), 1, "cancel drops the waker");
    assert!(!w.cancel(key), "double cancel is stale");
    assert_eq!(w.len(), 1);
    assert_eq!(fire_ids(&mut w, 64, &log), vec![2]);
    assert!(!w.cancel(other), "cancel after fire is stale");
    assert_eq!(p.wakes.load(Ordering::SeqCst), 0);
}

#[test]
fn stale_key_does_not_touch_reused_cell() {
    let log = Arc::default();
    let mut w = Wheel::new();
    let old = w.insert(10, probe(1, &log).1);
    assert!(w.cancel(old));
    let new = w.insert(20, probe(2, &log).1);
    assert_ne!(old, new);
    assert!(!w.cancel(old));
    assert!(!w.set_waker(old, &probe(3, &log).1));
    assert_eq!(fire_ids(&mut w, 20, &log), vec![2]);
}

#[test]
fn set_waker_replaces_pending_waker_only() {
    let log = Arc::default();
    let mut w = Wheel::new();
    let (first, waker) = probe(1, &log);
    let key = w.insert(5, waker.clone());
    assert!(w.set_waker(key, &waker));
    assert_eq!(Arc::strong_count(&first), 3, "will_wake: no replacement");
    let (_, second) = probe(2, &log);
    assert!(w.set_waker(key, &second));
    assert_eq!(Arc::strong_count(&first), 2, "old waker dropped");
    assert_eq!(fire_ids(&mut w, 5, &log), vec![2]);
    assert!(!w.set_waker(key, &second), "stale after fire");
}

#[test]
fn huge_deadlines_never_fire_early_and_do_not_overflow() {
    const MAX: u64 = MAX_DEADLINE;
    let log = Arc::default();
    let mut w = Wheel::new();
    w.insert(MAX - 1, probe(1, &log).1);
    w.insert(MAX, probe(2, &log).1);
    w.insert(1 << 47, probe(3, &log).1);
    let mut now = 0;
    for step in [1u64 << 36, 1 << 42, 1 << 46, (1 << 47) - 1] {
        now = step;
        assert!(fire_ids(&mut w, now, &log).is_empty(), "early at {now}");
        assert!(w.next_expiration().is_some_and(|t| t <= 1 << 47));
    }
    assert_eq!(fire_ids(&mut w, now + 1, &log), vec![3]);
    assert!(fire_ids(&mut w, MAX - 2, &log).is_empty());
    assert_eq!(w.next_expiration(), Some(MAX - 1));
    assert_eq!(fire_ids(&mut w, MAX - 1, &log), vec![1]);
    assert_eq!(fire_ids(&mut w, MAX, &log), vec![2]);
    // Beyond the range: clamped to the largest deadline, never wrapped.
    w.insert(u64::MAX, probe(4, &log).1);
    assert_eq!(w.next_expiration(), Some(MAX));
    assert_eq!(fire_ids(&mut w, u64::MAX, &log), vec![4]);
    assert_eq!(w.now(), MAX);
    assert_eq!(w.len(), 0);
}

/// xorshift64: deterministic, no extra crates.
fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn randomized_against_btreemap_model() {
    let log: Arc<Mutex<Vec<u64>>> = Arc::default();
    for seed in 1..=20u64 {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut w = Wheel::new();
        // (deadline, id) -> key
        let mut model: BTreeMap<(u64, u64), TimerKey> = BTreeMap::new();
        let mut next_id = 0u64;
        for _ in 0..3_000 {
            let now = w.now();
            match rng(&mut s) % 10 {
                0..=4 => {
                    let span =
                        [2u64, 64, 5_000, 1 << 20, 1 << 40, u64::MAX][rng(&mut s) as usize % 6];
                    let d = now.saturating_add(rng(&mut s) % span).saturating_sub(1);
                    // The wheel clamps; so does the model.
                    let d = d.min(MAX_DEADLINE);
                    next_id += 1;
                    let key = w.insert(d, probe(next_id, &log).1);
                    model.insert((d, next_id), key);
                }
                5 | 6 if !model.is_empty() => {
                    let nth = rng(&mut s) as usize % model.len();
                    let k = *model.keys().nth(nth).unwrap();
                    let key = model.remove(&k).unwrap();
                    assert!(w.cancel(key));
                    assert!(!w.cancel(key));
                }
                _ => {
                    let span =
                        [1u64, 64, 128, 4096, 16_384, 1 << 24, 1 << 45][rng(&mut s) as usize % 7];
                    let target = now.saturating_add(rng(&mut s) % span).min(MAX_DEADLINE);
                    let fired = fire_ids(&mut w, target, &log);
                    let mut expected = Vec::new();
                    while let Some(entry) = model.first_entry() {
                        if entry.key().0 > target {
                            break;
                        }
                        expected.push(entry.remove_entry().0);
                    }
                    let mut got = fired.clone();
                    let mut want: Vec<u64> = expected.iter().map(|&(_, id)| id).collect();
                    got.sort_unstable();
                    want.sort_unstable();
                    assert_eq!(got, want, "seed {seed}: fired set at {target}");
                    // Timers armed already due come first (any order), then the rest in
                    // deadline order (ties in any order).
                    let deadline = |id: u64| expected.iter().find(|x| x.1 == id).unwrap().0;
                    let order: Vec<u64> = fired.iter().map(|&id| deadline(id).max(now)).collect();
                    assert!(order.windows(2).all(|p| p[0] <= p[1]), "seed {seed}: order");
                }
            }
            assert_eq!(w.len(), model.len());
            match (w.next_expiration(), model.keys().next()) {
                (None, None) => {}
                (Some(t), Some(&(d, _))) => assert!(t <= d, "seed {seed}: {t} > {d}"),
                (got, want) => panic!("seed {seed}: next_expiration {got:?}, model {want:?}"),
            }
        }
    }
}

#[test]
fn million_inserts_then_cancels() {
    let log = Arc::default();
    let (p, waker) = probe(0, &log);
    let mut w = Wheel::new();
    let mut s = 0x2545_F491_4F6C_DD1D;
    let keys: Vec<_> = (0..1_000_000)
        .map(|_| w.insert(rng(&mut s) % 86_400_000, waker.clone()))
        .collect();
    assert_eq!(w.len(), 1_000_000);
    let cancelled = keys.iter().filter(|&&k| w.cancel(k)).count();
    assert_eq!(cancelled, 1_000_000);
    assert_eq!(w.len(), 0);
    assert_eq!(w.next_expiration(), None);
    assert_eq!(Arc::strong_count(&p), 2, "every stored waker dropped");
    w.advance(u64::MAX, |_| unreachable!());
}

/// A `fire` that panics halfway through a slot leaves the wheel consistent:
/// the timers it did not reach stay pending (cancellable by key), the rest
/// fire on the next advance, and each timer fires exactly once.
#[test]
fn panicking_fire_leaves_the_rest_pending() {
    let log = Arc::default();
    let mut w = Wheel::new();
    // Ten timers in one level-0 slot and ten cascading from level 1.
    let mut keys = Vec::new();
    let mut probes = Vec::new();
    for id in 0..20u64 {
        let (p, waker) = probe(id, &log);
        let deadline = if id < 10 { 5 } else { SLOTS as u64 + 3 };
        keys.push(w.insert(deadline, waker));
        probes.push(p);
    }
    let mut fired = 0;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        w.advance(SLOTS as u64 + 3, |waker| {
            fired += 1;
            waker.into_waker().wake();
            if fired == 4 {
                panic!("fire fails");
            }
        });
    }));
    assert!(outcome.is_err());
    assert_eq!(w.len(), 16, "four fired before the panic");
    // One of the pending ones can still be cancelled by its key.
    let first_fired = std::mem::take(&mut *log.lock().unwrap());
    let pending = (0..20u64).find(|id| !first_fired.contains(id)).unwrap();
    assert!(w.cancel(keys[pending as usize]));
    let rest = fire_ids(&mut w, SLOTS as u64 + 3, &log);
    assert_eq!(rest.len(), 15);
    assert_eq!(w.len(), 0);
    for (id, p) in probes.iter().enumerate() {
        let want = usize::from(id as u64 != pending);
        assert_eq!(p.wakes.load(Ordering::SeqCst), want, "timer {id}");
    }
}
