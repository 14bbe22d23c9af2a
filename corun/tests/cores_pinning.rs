//! Pinning cores to CPUs (`Builder::pin_cores` and its default) and
//! steering connections to the core that makes them
//! (`TcpListenerBuilder::steer_to_core` on pinned cores): each core runs
//! on the CPU it was given, `Builder::run` gives its thread its CPUs back,
//! and a connection from core k's task to a group of `SO_REUSEPORT`
//! listeners, one per core, is accepted on core k.
//!
//! Counts only, no timing. Tests that need two CPUs say so and do nothing
//! on a machine with one. Tests only; must not reach into corun internals.

mod common;

use std::sync::{Arc, Mutex};

use common::{allowed, watchdog};
use corun::Builder;
use corun::net::{TcpListener, TcpStream};

/// Cores for a test that needs two CPUs or more: one per allowed CPU, at
/// most 4; `None` (and a note) on a one-CPU machine.
fn cores_for_steering(what: &str) -> Option<usize> {
    let n = allowed().len().min(4);
    if n < 2 {
        eprintln!("{what}: needs 2 CPUs, this process may use 1; nothing checked");
        return None;
    }
    Some(n)
}

/// The CPUs each core's thread may run on, by core.
fn cores_affinity(b: Builder) -> Vec<Vec<usize>> {
    b.run(async {
        let each: Vec<_> = (0..corun::cores())
            .map(|core| corun::spawn_on(core, || async { allowed() }).unwrap())
            .collect();
        let mut out = Vec::new();
        for t in each {
            out.push(t.await.unwrap());
        }
        out
    })
}

#[test]
fn pinned_cores_each_run_on_their_own_allowed_cpu_in_order() {
    watchdog("pinned", || {
        let all = allowed();
        let n = all.len().min(4);
        let got = cores_affinity(Builder::new().cores(n).pin_cores(true));
        let want: Vec<Vec<usize>> = all[..n].iter().map(|&c| vec![c]).collect();
        assert_eq!(got, want);
    });
}

#[test]
fn more_cores_than_cpus_wrap_around_the_allowed_cpus() {
    watchdog("wrap", || {
        let all = allowed();
        let n = all.len() + 1;
        let got = cores_affinity(Builder::new().cores(n).pin_cores(true));
        assert_eq!(got[n - 1], [all[0]]);
    });
}

#[test]
fn unpinned_cores_keep_every_allowed_cpu() {
    watchdog("unpinned", || {
        let all = allowed();
        let got = cores_affinity(Builder::new().cores(2).pin_cores(false));
        assert_eq!(got, [all.clone(), all]);
    });
}

#[test]
fn by_default_cores_are_pinned_when_there_is_one_per_allowed_cpu() {
    watchdog("default", || {
        let all = allowed();
        if all.len() < 2 {
            eprintln!("default pinning: needs 2 CPUs; nothing checked");
            return;
        }
        let one_each = cores_affinity(Builder::new().cores(all.len()));
        assert!(one_each.iter().all(|cpus| cpus.len() == 1), "{one_each:?}");
        let more = cores_affinity(Builder::new().cores(all.len() + 1));
        assert!(more.iter().all(|cpus| *cpus == all), "{more:?}");
        let single = cores_affinity(Builder::new());
        assert_eq!(single, [all]);
    });
}

#[test]
fn run_gives_its_thread_back_every_cpu_it_had() {
    watchdog("restore", || {
        let before = allowed();
        let inside = Builder::new()
            .cores(2)
            .pin_cores(true)
            .run(async { allowed() });
        assert_eq!(inside, [before[0]]);
        assert_eq!(allowed(), before);
    });
}

/// Serves `l` on this core: for each connection, reads the connecting
/// task's core (one byte), records (it, this core), answers one byte.
async fn record_accepts(l: TcpListener, seen: Arc<Mutex<Vec<(usize, usize)>>>) {
    loop {
        let (s, _) = l.accept().await.unwrap();
        let seen = seen.clone();
        corun::spawn(async move {
            let mut from = [0u8; 1];
            s.read_exact(&mut from).await.unwrap();
            seen.lock()
                .unwrap()
                .push((usize::from(from[0]), corun::core()));
            s.write_all(b"k").await.unwrap();
        })
        .detach();
    }
}

/// Each core binds a `SO_REUSEPORT` listener on one port (steering as
/// `steer` says), then `per_core` tasks on every core each make one
/// connection to it. Returns (connecting core, accepting core) for every
/// connection.
fn connect_from_every_core(cores: usize, steer: bool, per_core: usize) -> Vec<(usize, usize)> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    Builder::new().cores(cores).pin_cores(true).run(async move {
        let builder = TcpListener::builder().reuse_port(true).steer_to_core(steer);
        let first = builder.bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        corun::spawn(record_accepts(first, seen2.clone())).detach();
        let (bound_tx, mut bound_rx) = corun::sync::mpsc::channel(cores);
        for core in 1..cores {
            let (seen, bound) = (seen2.clone(), bound_tx.clone());
            corun::spawn_on(core, move || async move {
                let l = builder.bind(("127.0.0.1", port)).unwrap();
                bound.send(()).await.unwrap();
                record_accepts(l, seen).await;
            })
            .unwrap()
            .detach();
        }
        // Every listener is bound before anyone connects.
        for _ in 1..cores {
            bound_rx.recv().await.unwrap();
        }
        let mut clients = Vec::new();
        for core in 0..cores {
            for _ in 0..per_core {
                clients.push(
                    corun::spawn_on(core, move || async move {
                        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                        s.write_all(&[corun::core() as u8]).await.unwrap();
                        let mut ok = [0u8; 1];
                        s.read_exact(&mut ok).await.unwrap();
                    })
                    .unwrap(),
                );
            }
        }
        for c in clients {
            c.await.unwrap();
        }
    });
    Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
}

#[test]
fn with_steering_each_connection_is_accepted_on_the_core_that_made_it() {
    let Some(cores) = cores_for_steering("steering") else {
        return;
    };
    let seen = watchdog("steering", move || connect_from_every_core(cores, true, 50));
    assert_eq!(seen.len(), cores * 50);
    let crossed: Vec<_> = seen.iter().filter(|(from, on)| from != on).collect();
    assert!(
        crossed.is_empty(),
        "{} crossed cores: {crossed:?}",
        crossed.len()
    );
}

#[test]
fn without_steering_the_kernel_hash_sends_some_connections_across() {
    let Some(cores) = cores_for_steering("no steering") else {
        return;
    };
    // The hash picks each connection's listener independently (about
    // 1 - 1/cores of them elsewhere): that none of 200 crossed has odds
    // below 2^-200.
    let seen = watchdog("no steering", move || {
        connect_from_every_core(cores, false, 100)
    });
    assert_eq!(seen.len(), cores * 100);
    let crossed = seen.iter().filter(|(from, on)| from != on).count();
    assert!(crossed > 0, "{seen:?}");
}
