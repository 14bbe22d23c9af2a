//! corun: a coroutine runtime with explicit yield points, for programs that
//! run 10 000 to 1 000 000+ concurrent, mostly I/O-bound tasks.
//!
//! A task is an `async` block; it gives the CPU back only at its `.await`s,
//! so every yield point is in plain sight. corun adds none of its own: no
//! preemption, no budget that makes a ready operation return `Pending`.
//!
//! # The seed's story in code
//!
//! corun continues a small Python library: a scheduler of coroutines that
//! can spawn, yield, sleep, wait for and kill each other and wait for file
//! descriptors. The same, in Rust:
//!
//! ```
//! use std::time::Duration;
//! use std::os::unix::net::UnixStream;
//!
//! corun::run(async {
//!     // spawn + explicit yield
//!     let worker = corun::spawn_named("worker", async {
//!         for _ in 0..3 {
//!             corun::yield_now().await;
//!         }
//!         "done"
//!     });
//!     // sleep, then wait for another task (by handle, or by id)
//!     corun::sleep(Duration::from_millis(10)).await;
//!     assert_eq!(worker.await.unwrap(), "done");
//!
//!     // kill a task at its current await point
//!     let sleeper = corun::spawn(corun::sleep(Duration::from_secs(3600)));
//!     assert!(corun::kill(sleeper.id()));
//!     assert!(!corun::wait(sleeper.id()).await); // no such task any more
//!     assert!(sleeper.await.unwrap_err().is_killed());
//!
//!     // wait for an fd to become readable
//!     let (a, b) = UnixStream::pair().unwrap();
//!     std::io::Write::write_all(&mut &b, b"x").unwrap();
//!     let r = corun::io::readable(&a).await.unwrap();
//!     assert!(r.is_readable());
//! });
//!
//! // A scheduler on its own thread, driven from outside: join-all, shutdown.
//! let sched = corun::Scheduler::start().unwrap();
//! let ids: Vec<_> = (0..10)
//!     .map(|i| sched.spawn(async move { corun::sleep(Duration::from_millis(i)).await }).unwrap().id())
//!     .collect();
//! let exits = sched.join_all(&ids).unwrap();
//! assert_eq!(exits.len(), 10);
//! sched.shutdown().unwrap();
//! ```
//!
//! A task that panics never takes the scheduler down: its handle resolves to
//! a [`JoinError`] holding the panic's payload, and the panic is logged with
//! the task's id and name through `tracing` when nobody holds the handle.
//!
//! # Fairness: where to yield
//!
//! corun never turns a ready operation into `Pending`: a read on a socket
//! that has data returns it at once. So a loop whose socket always has data
//! (a client flooding its connection) never reaches a `Pending` await and
//! keeps the thread: every other task waits. That is the contract: a task
//! that never yields starves everyone, and the slow-poll warning names it
//! (`examples/slow_poll.rs` shows both: a checksum that holds the thread
//! for 70 ms and is named in the warning, and its fix, which yields every
//! 64 KiB).
//!
//! A task that yields lets the others run, other sockets included: while
//! tasks keep yielding, the scheduler still checks the OS poller at least
//! every 250 µs of run time (2 ms for the first stretch after a quiet
//! spell), and tasks woken by I/O run before the task that yielded.
//!
//! The rule: in a loop over I/O that may stay ready, call [`yield_now`]
//! once every 16 operations (16 reads of a connection loop, 16 requests
//! served on a connection), with a plain local counter: rare enough to
//! cost next to nothing beside the I/O, often enough that no connection
//! holds the thread for long. Every example server does it.
//!
//! ```
//! use std::cell::Cell;
//! use std::net::Shutdown;
//! use std::rc::Rc;
//! use corun::net::UnixStream;
//!
//! corun::run(async {
//!     let (server, client) = UnixStream::pair().unwrap();
//!     // A flood: 64 reads' worth queued and the socket known ready both
//!     // ways, so no operation of the echo below waits.
//!     client.write_all(&[7; 64 * 64]).await.unwrap();
//!     client.shutdown(Shutdown::Write).unwrap();
//!     server.readable().await.unwrap();
//!     server.writable().await.unwrap();
//!
//!     let other_ran = Rc::new(Cell::new(false));
//!     let flag = other_ran.clone();
//!     let echo = corun::spawn(async move {
//!         let mut buf = [0u8; 64];
//!         let mut reads = 0u64;
//!         loop {
//!             let n = server.read(&mut buf).await?;
//!             if n == 0 {
//!                 break;
//!             }
//!             server.write_all(&buf[..n]).await?;
//!             reads += 1;
//!             if reads % 16 == 0 {
//!                 corun::yield_now().await; // explicit: let other connections run
//!             }
//!         }
//!         // Without the yield, the flood would have ended before it ran.
//!         assert!(other_ran.get(), "the other task ran during the flood");
//!         std::io::Result::Ok(reads)
//!     });
//!     // Another connection's task, queued behind the echo.
//!     corun::spawn(async move { flag.set(true) }).detach();
//!
//!     assert_eq!(echo.await.unwrap().unwrap(), 64);
//!     let mut back = [0; 64 * 64];
//!     client.read_exact(&mut back).await.unwrap();
//!     assert_eq!(back, [7; 64 * 64]);
//! });
//! ```
//!
//! # Many cores
//!
//! [`corun::run`](run) runs one scheduler on the current thread. For a
//! machine's other cores, [`Builder::cores`] starts one scheduler thread
//! per core behind one [`Scheduler`] handle (`Send + Sync + Clone`), or
//! runs `main`'s future on core 0 with [`Builder::run`]. Each core is a
//! whole scheduler: its own ready queue, timers and OS poller, and **tasks
//! never move between cores**, so nothing in the hot path is shared and a
//! task's future need not be `Send` when it is made on its core.
//!
//! * [`Scheduler::spawn`] (a `Send` future, from anywhere) places the task
//!   round-robin over the cores: one relaxed counter increment, an even
//!   spread of a fan-out whatever the tasks' lengths, and no reading of
//!   other cores' queues.
//! * [`Scheduler::spawn_on`] and, inside a task, [`spawn_on`] run a `Send`
//!   closure on the core you name; the future it returns may hold `Rc`s and
//!   `RefCell`s. [`Scheduler::spawn_on_each`] starts one task per core: the
//!   thread-per-core server, where each core binds its own listener with
//!   `SO_REUSEPORT` and the kernel spreads connections over them.
//! * With one core per CPU the process may use, each core is pinned to its
//!   CPU ([`Builder::pin_cores`]), and a core's `SO_REUSEPORT` listener gets
//!   the connections the kernel handles on that CPU
//!   ([`steer_to_core`](net::TcpListenerBuilder::steer_to_core)): a
//!   connection made by a task on core k is served on core k, so its round
//!   trips never cross cores.
//! * [`core()`] and [`cores`] say where a task runs. [`spawn`] inside a task
//!   stays on the caller's core.
//! * Ids are unique across cores and carry their core: [`kill`](Scheduler::kill),
//!   [`wait`], [`wait_exit`], [`Scheduler::join_all`], [`Scheduler::tasks`]
//!   (whose [`TaskInfo::core`] names the core) and [`Scheduler::stats`]
//!   work on every core, and any id reaches its task without a search.
//! * No call blocks a scheduler thread: a [`Scheduler`] method that needs
//!   another core's answer has an `async` form (`kill_async`,
//!   `tasks_async`, `stats_async`) and, called from inside a task, the
//!   blocking form returns [`SchedulerError::OnSchedulerThread`] instead of waiting.
//!   A kill from another thread means what a local one means.
//!
//! Cores talk through `Send` values: [`sync::mpsc`] channels, [`sync::Event`],
//! a [`Task`] handle awaited on another core, or a [`sync::oneshot`] reply.
//!
//! ```
//! use corun::sync::mpsc;
//!
//! let total = corun::Builder::new().cores(2).run(async {
//!     let (tx, mut rx) = mpsc::channel::<usize>(16);
//!     // One producer per core; each one's state stays on its core.
//!     for core in 0..corun::cores() {
//!         let tx = tx.clone();
//!         corun::spawn_on(core, move || {
//!             let here = std::rc::Rc::new(core); // not Send: fine
//!             async move {
//!                 for i in 0..10 {
//!                     tx.send(*here * 100 + i).await.unwrap();
//!                 }
//!             }
//!         })
//!         .unwrap()
//!         .detach();
//!     }
//!     drop(tx);
//!     let mut total = 0;
//!     while let Some(v) = rx.recv().await {
//!         total += v;
//!     }
//!     total
//! });
//! assert_eq!(total, 45 + 1045);
//! ```
//!
//! # Finding races: seeds and virtual time
//!
//! corun's explicit yields make the order of ready tasks the scheduler's
//! choice alone, so it can be varied on purpose and replayed.
//! [`Builder::seed`] (or the `CORUN_SEED` environment variable) draws that
//! order from a seed; [`Builder::virtual_time`] makes timers jump instead
//! of wait, so an hour-long timeout takes no time and a run is the same
//! every time. On one core, with virtual time and no real I/O, a seed
//! replays its interleaving exactly (with real sockets the OS decides when
//! data arrives, so a replay is best-effort). [`tasks`] and
//! [`Scheduler::tasks`] show what every task waits on.
//!
//! In tests, `#[corun::test(virtual_time, seeds = 64)]` runs the body under
//! seeds 0 to 63, each on a fresh scheduler; a failing seed is printed with
//! the command that replays it (`CORUN_SEED=… cargo test … --exact`).
//!
//! A check-then-act across an await: two withdrawals of 70 from 100. The
//! plain first-in-first-out order happens to run them one after the other;
//! some seeds interleave them and the balance goes negative, and the same
//! seed does it again.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! fn bank(builder: corun::Builder) -> i64 {
//!     builder.run(async {
//!         let balance = Rc::new(Cell::new(100i64));
//!         let withdraw = |delay| {
//!             let balance = balance.clone();
//!             corun::spawn(async move {
//!                 for _ in 0..delay {
//!                     corun::yield_now().await;
//!                 }
//!                 if balance.get() >= 70 {
//!                     corun::yield_now().await; // e.g. writing an audit log
//!                     balance.set(balance.get() - 70);
//!                 }
//!             })
//!         };
//!         let (a, b) = (withdraw(0), withdraw(2));
//!         a.await.unwrap();
//!         b.await.unwrap();
//!         balance.get()
//!     })
//! }
//!
//! let plain = corun::Builder::new().virtual_time(true);
//! assert_eq!(bank(plain), 30); // the default order hides the bug
//! let seeded = |s| corun::Builder::new().seed(s).virtual_time(true);
//! let found = (0..64).find(|&s| bank(seeded(s)) < 0).expect("a seed finds it");
//! assert!(bank(seeded(found)) < 0); // and replays it
//! ```
//!
//! # Seeing inside: the task dump
//!
//! [`dump`] (this core), [`dump_all`] and [`Scheduler::dump`] (every core)
//! print every live task as a table for people: its state, what it waits on
//! (a timer, an fd, another task, a wake corun does not track), polls,
//! longest poll and spawn site. With [`Builder::dump_details`] the
//! scheduler also keeps each task's parent and since when it waits, and the
//! table becomes a tree by parent. [`tasks`] gives the same as data.
//!
//! ```
//! let table = corun::Builder::new().dump_details(true).run(async {
//!     let (_tx, rx) = corun::sync::oneshot::channel::<()>();
//!     let _stuck = corun::spawn_named("stuck", async move { rx.await.ok() });
//!     corun::yield_now().await;
//!     corun::dump()
//! });
//! print!("{table}");
//! // corun dump: 2 tasks on 1 core
//! // TASK      ID  CORE  STATE    WAITS ON                     SINCE      POLLS  ...  PARENT  SPAWNED AT
//! // main      #1     0  running  -                            -              2  ...  -       src/main.rs:2:54
//! // └─ stuck  #2     0  idle     a wake corun does not track  160µs ago      1  ...  #1      src/main.rs:4:18
//! assert!(table.lines().any(|l| l.starts_with("└─ stuck") && l.contains("idle")));
//! ```
//!
//! # Memory
//!
//! A task is one allocation: a 40-byte header, then its future (later its
//! output, or the error it failed with, in the same bytes): a task that
//! returns a `u64` takes 48 bytes. A scheduler carves these from its own slab and keeps four
//! bytes per live task in its registry (pages of 1 024 ids, freed as they
//! empty); a pending timer adds 24 bytes. A million
//! tasks sleeping in the benchmark cost about 130 bytes each, all told.
//!
//! corun's memory stays in small pages: it never asks for transparent huge
//! pages, whose first touch costs a time that varies run by run on virtual
//! machines. A scheduler's task memory is made resident 64 KiB at a time,
//! just ahead of use (`MADV_POPULATE_WRITE`), which takes one call where
//! page faults would take sixteen; so RSS shows at most 64 KiB per
//! scheduler more than the tasks touched.
//!
//! # The public API
//!
//! * Running: [`run`] (a scheduler on this thread until a future ends),
//!   [`Scheduler`] (one or more cores on threads of their own, driven from
//!   outside: `spawn`, `spawn_on`, `block_on`, `join_all`, `kill`,
//!   `shutdown`; [`Builder`] for cores, seeds, virtual time and other
//!   options), [`macro@main`] and [`macro@test`] for `async fn main` and tests.
//! * Many cores: [`spawn_on`], [`core()`], [`cores`] (see "Many cores").
//! * Tasks: [`spawn`], [`spawn_named`], [`yield_now`], [`kill`], [`wait`],
//!   [`wait_exit`], [`join_all`], [`current`], [`tasks`], [`stats`]; a
//!   [`Task`] handle is a future of the task's output.
//! * Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`] ([`time`]).
//! * I/O: [`io`] (fd readiness, the [`io::Async`] wrapper), [`net`] (TCP,
//!   UDP, Unix sockets, [`net::lookup_host`]), [`fs`] (files without
//!   blocking the scheduler).
//! * Blocking work: [`unblock`] runs a closure on the blocking pool.
//! * Between tasks: [`sync`] (mpsc, oneshot, broadcast and watch
//!   channels, `Notify`, `Event`, `Semaphore`, `Mutex`, `RwLock`).
//! * The operating system: [`signal`] (Ctrl-C and Unix signals),
//!   [`process`] (child processes with piped streams).
//! * HTTP: with the `hyper` cargo feature, `corun::hyper` gives hyper 1.x
//!   its I/O, executor and timer (`CorunIo`, `CorunExecutor`,
//!   `CorunTimer`): serving and requesting with hyper need no glue.
//!
//! Every one of these that needs a scheduler fails the same way when used
//! outside one (a plain thread, another runtime): an `io::Error` where the
//! result can carry one, a panic with the same message where it cannot
//! (`sleep`, `spawn`).
//!
//! # Coming from tokio
//!
//! | tokio | corun |
//! |---|---|
//! | `#[tokio::main]`, `Runtime::block_on` | [`run`], [`Scheduler::block_on`] |
//! | `tokio::spawn`, `JoinHandle`, `abort` | [`spawn`], [`Task`], [`kill`] / [`Task::kill`] |
//! | `task::yield_now`, `spawn_blocking` | [`yield_now`], [`unblock`] |
//! | `time::{sleep, timeout, interval}` | [`sleep`], [`timeout`], [`interval`] |
//! | `net::{TcpListener, TcpStream, UdpSocket, UnixStream, lookup_host}` | the same names in [`net`] |
//! | `fs::*` | [`fs`] |
//! | `sync::{mpsc, oneshot, broadcast, watch, Notify, Semaphore, Mutex, RwLock}` | the same names in [`sync`] ([`sync::local`] for `!Send` channel ends) |
//! | `signal::ctrl_c`, `signal::unix::signal` | [`signal::ctrl_c`], [`signal::signal`] |
//! | `process::Command` | [`process::Command`] |
//! | hyper-util's `TokioIo`, `TokioExecutor`, `TokioTimer` | `corun::hyper::{CorunIo, CorunExecutor, CorunTimer}` (feature `hyper`) |
//! | `AsyncReadExt`/`AsyncWriteExt` (tokio's traits) | `futures-io`'s traits (and inherent `read`/`write_all`); `tokio-util`'s `compat` bridges the two |
//!
//! What differs:
//!
//! * **Yields are explicit.** corun never makes a ready operation return
//!   `Pending` (tokio's coop budget does): a loop over I/O that stays
//!   ready calls [`yield_now`] now and then (see
//!   [Fairness](#fairness-where-to-yield)).
//! * **Tasks are killed by id**, from anywhere: [`kill`] ends a task at its
//!   current `.await`, running its destructors; [`wait`] waits for one by
//!   id.
//! * **No `Send` inside a scheduler**: a task spawned with [`spawn`] stays
//!   on its scheduler's thread and may hold `Rc`s; only futures handed to a
//!   [`Scheduler`] from outside must be `Send`.
//! * Combining futures uses the `futures` crate: `select!`, `join!`,
//!   `FuturesUnordered`. corun's channel receivers are `FusedStream`s and
//!   their `recv()` futures `FusedFuture`s, so `select!` takes them as
//!   they are:
//!
//! ```
//! use futures_util::{join, select, FutureExt};
//! use std::time::Duration;
//!
//! corun::run(async {
//!     let (tx, mut rx) = corun::sync::mpsc::channel::<u32>(1);
//!     let (a, b) = join!(
//!         corun::spawn(async move { tx.send(7).await.unwrap() }),
//!         corun::spawn(async { 2 }),
//!     );
//!     a.unwrap();
//!     assert_eq!(b.unwrap(), 2);
//!     select! {
//!         v = rx.recv() => assert_eq!(v, Some(7)),
//!         _ = corun::sleep(Duration::from_secs(5)).fuse() => panic!("no message"),
//!     }
//! });
//! ```
//!
//! # Interop
//!
//! corun's streams implement `futures-io`'s `AsyncRead`/`AsyncWrite`, its
//! receivers `futures-core`'s `Stream`, and its wakers work from any
//! thread, so crates written against those traits run on corun as they
//! are: `futures`' combinators, `async-channel` and `async-lock` (across
//! schedulers too), TLS with `futures-rustls` over a corun `TcpStream`,
//! websockets with `async-tungstenite`. Crates written for tokio's traits
//! need a bridge: `tokio-util`'s `compat` for a stream (then its `Framed`
//! works), or `async-compat` to run a tokio-only crate's futures (such as
//! `reqwest`'s) inside a corun task.
//!
//! Three example programs show each case end to end, a server and a
//! client in one process on loopback; `tests/interop.rs` runs them, so
//! they stay working:
//!
//! | example | shows |
//! |---|---|
//! | `examples/interop_tls.rs` | TLS 1.3 with `futures-rustls` on corun `TcpStream`s: a self-signed certificate made with `rcgen` at start, data both ways (full duplex on a split stream), `close_notify`, a wrong server name refused |
//! | `examples/interop_ws.rs` | websockets with `async-tungstenite`: upgrade, text and binary messages both ways, the close handshake |
//! | `examples/interop_compat.rs` | `tokio-util`'s `compat` + `Framed` + `LinesCodec` on a corun stream; a client written for tokio alone (`tokio::net`, `tokio::time`) run in a corun task under `async_compat::Compat` |
//!
//! Run one with `cargo run -p corun --example interop_tls` (or
//! `interop_ws`, `interop_compat`). A tokio-only future polled in a corun
//! task without `async_compat::Compat` panics with tokio's "there is no
//! reactor running": tokio's sockets and timers need its reactor, which
//! `Compat` supplies (on a thread of its own; corun's wakers accept wakes
//! from there).
//!
//! Each module's doc comment describes its own files; private modules
//! (`task`, `scheduler`, `reactor`) are documented in the source.

#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod fs;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
mod loom;
mod macro_support;
pub mod net;
pub(crate) mod outside;
pub mod process;
pub(crate) mod reactor;
pub(crate) mod scheduler;
pub(crate) mod segvec;
pub mod signal;
pub mod sync;
pub(crate) mod task;
pub mod time;
pub(crate) mod unblock;

#[allow(deprecated)]
pub use scheduler::Error;
pub use scheduler::in_task::{
    WaitExit, YieldNow, core, cores, current, dump, dump_all, join_all, kill, run, spawn,
    spawn_named, spawn_on, stats, tasks, wait, wait_exit, yield_now,
};
pub use scheduler::{Builder, Scheduler, SchedulerError, Stats, TrySpawnError};
pub use task::{
    Exit, JoinError, JoinErrorKind, ParseTaskIdError, Task, TaskId, TaskInfo, TaskState,
};
pub use time::{Interval, Sleep, Timeout, interval, sleep, sleep_until, timeout};
pub use unblock::{blocking_threads, max_blocking_threads, set_max_blocking_threads, unblock};

/// `async fn main()` on a corun scheduler: `#[corun::main]`, or
/// `#[corun::main(cores = N)]` for N cores with `main` on core 0. The
/// function becomes a plain `fn main` calling [`Builder::run`].
///
/// ```
/// #[corun::main(cores = 2)]
/// async fn main() {
///     let on = corun::spawn_on(1, || async { corun::core() }).unwrap();
///     assert_eq!(on.await.unwrap(), 1);
/// }
/// ```
pub use corun_macros::main;

/// An `async fn` test on a fresh scheduler, with the schedule's seed,
/// virtual time and cores as options; `seeds = N` hunts for races by
/// running the body under N seeds and prints the command that replays a
/// failing one. The scheduler it runs on is a [`Builder`] with
/// [`cores`](Builder::cores), [`seed`](Builder::seed) and
/// [`virtual_time`](Builder::virtual_time) set from the options.
///
/// ```
/// use std::time::Duration;
///
/// #[corun::test(virtual_time, seeds = 20)]
/// async fn an_hour_passes_at_once() {
///     let start = corun::time::now();
///     corun::sleep(Duration::from_secs(3600)).await;
///     assert!(corun::time::now() - start >= Duration::from_secs(3600));
/// }
/// # fn main() {}
/// ```
pub use corun_macros::test;

/// What `#[corun::test]` expands to calls; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::macro_support::{Outcome, TestSpec, run_test};
}

/// The README's code runs as a doctest, so the tour cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
