//! [`Builder`]: a scheduler's settings, and starting it (on threads of
//! its own, or on the current thread until a future ends). It starts cores
//! and hands them their group; it must not run tasks itself.

use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use super::affinity;
use super::core::{Core, MAX_IDLE_SPIN, Options};
use super::group::{Group, GroupSlot};
use super::shared::{CoreShared, Msg};
use super::{Scheduler, context, in_task, ticker};
use crate::task::MAX_CORES;

/// Configures a scheduler before starting it.
///
/// ```
/// let sched = corun::Builder::new().thread_name("io-0").measure_busy_time(true).start().unwrap();
/// let t = sched.spawn(async { 7 }).unwrap();
/// assert_eq!(sched.block_on(async move { t.await.unwrap() }).unwrap(), 7);
/// sched.shutdown().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    thread_name: String,
    cores: usize,
    /// `None`: pin when [`affinity::pin_by_default`] says so.
    pin_cores: Option<bool>,
    pub(super) options: Options,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Default settings: thread named `corun`, busy time not measured, no
    /// [idle spin](Builder::idle_spin).
    ///
    /// ```
    /// let _b = corun::Builder::new();
    /// ```
    pub fn new() -> Builder {
        Builder {
            thread_name: "corun".to_string(),
            cores: 1,
            pin_cores: None,
            options: Options::default(),
        }
    }

    /// Name of the OS thread [`start`](Builder::start) creates.
    ///
    /// ```
    /// let s = corun::Builder::new().thread_name("net").start().unwrap();
    /// s.shutdown().unwrap();
    /// ```
    pub fn thread_name(mut self, name: impl Into<String>) -> Builder {
        self.thread_name = name.into();
        self
    }

    /// Measure the time each task spends in `poll` (two clock readings per
    /// poll; off by default), shown by [`Scheduler::tasks`].
    ///
    /// ```
    /// let v = corun::Builder::new().measure_busy_time(true).run(async {
    ///     corun::tasks()[0].busy.is_some()
    /// });
    /// assert!(v);
    /// ```
    pub fn measure_busy_time(mut self, on: bool) -> Builder {
        self.options.measure_busy_time = on;
        self
    }

    /// How long the scheduler keeps polling for I/O and messages when it
    /// runs out of work, before it blocks in the kernel. Default
    /// `Duration::ZERO`: it blocks at once; anything above 10 ms counts as
    /// 10 ms.
    ///
    /// A blocked scheduler must be woken by whoever brings it work (a
    /// peer's write to one of its sockets, another thread's message), which
    /// costs the waker a cross-CPU wake-up and the scheduler the latency of
    /// getting its CPU back; a spin through short gaps saves both. The
    /// price is CPU: each look at the poller during the spin is a syscall,
    /// up to this much CPU time each time the scheduler runs dry, and a
    /// server that spins answers requests one at a time where a blocked one
    /// wakes to a batch, so it spends more CPU per request (figures:
    /// `docs/design/idle-spin.md`). Worth it only where wake-up latency
    /// matters more than CPU. Timers are never delayed by it; its polls
    /// are counted in [`Stats::spin_polls`](crate::Stats::spin_polls).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // A scheduler that polls for 20 µs before it blocks.
    /// let v = corun::Builder::new().idle_spin(Duration::from_micros(20)).run(async {
    ///     corun::sleep(Duration::from_millis(1)).await;
    ///     7
    /// });
    /// assert_eq!(v, 7);
    /// ```
    pub fn idle_spin(mut self, spin: Duration) -> Builder {
        self.options.idle_spin = spin.min(MAX_IDLE_SPIN);
        self
    }

    /// Bounds the queue of tasks spawned from other threads and not yet
    /// taken in by the scheduler: [`Scheduler::try_spawn`] gives the future
    /// back once `n` wait there. Default: no bound. [`Scheduler::spawn`]
    /// ignores it (it never blocks nor refuses while the scheduler runs);
    /// the queue's length is in [`Stats::queued_spawns`](crate::Stats::queued_spawns). `0` counts as 1.
    ///
    /// ```
    /// let s = corun::Builder::new().max_queued_spawns(10_000).start().unwrap();
    /// assert!(s.try_spawn(async {}).is_ok());
    /// s.shutdown().unwrap();
    /// ```
    pub fn max_queued_spawns(mut self, n: usize) -> Builder {
        self.options.max_queued_spawns = n.max(1);
        self
    }

    /// Report every poll that runs this long or longer without returning:
    /// a `tracing` warning names the task (id, name, spawn site) and how
    /// long it ran, [`Stats::slow_polls`](crate::Stats::slow_polls) counts it, and
    /// [`TaskInfo::longest_poll`](crate::TaskInfo::longest_poll) keeps each task's longest poll. Default
    /// 10 ms; `Duration::MAX` turns the warning off.
    ///
    /// Every other task of the scheduler waits while one poll runs, so a
    /// slow poll is a missing yield (a loop over ready I/O or a long
    /// computation without `yield_now().await`) or blocking work that
    /// belongs in [`crate::unblock`]. Polls are timed on a coarse clock
    /// that advances every 250 µs to 2 ms while the scheduler runs, so
    /// timing costs nothing per poll and durations are exact to about one
    /// such gap; a threshold under 2 ms may miss polls shorter than 2 ms.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let slow = corun::Builder::new()
    ///     .slow_poll(Duration::from_millis(5))
    ///     .run(async {
    ///         // 20 ms without an await: every other task waits as long.
    ///         let t0 = Instant::now();
    ///         while t0.elapsed() < Duration::from_millis(20) {}
    ///         corun::yield_now().await;
    ///         corun::stats().slow_polls
    ///     });
    /// assert_eq!(slow, 1);
    /// ```
    pub fn slow_poll(mut self, threshold: Duration) -> Builder {
        self.options.slow_poll_us = u64::try_from(threshold.as_micros()).unwrap_or(u64::MAX);
        self
    }

    /// Seeds the schedule: among the tasks ready at the same moment (up to
    /// the 64 oldest) and among timers due at the same tick, the order is
    /// drawn from a pseudo-random sequence with this seed, instead of first
    /// in, first out. Without a seed here, the `CORUN_SEED` environment
    /// variable gives one (a decimal `u64`); with neither, the order is
    /// FIFO and costs nothing extra.
    ///
    /// A concurrency bug that depends on which task runs first shows up
    /// under some seeds; the same seed replays the same interleaving on one
    /// core with [virtual time](Builder::virtual_time) and no real I/O (the
    /// OS decides when socket readiness arrives, so with real sockets a
    /// replay is best-effort, and with several cores the threads' timing
    /// still varies). `#[corun::test(seeds = N)]` runs a test under many.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let order = |seed| {
    ///     corun::Builder::new().seed(seed).run(async {
    ///         let log = Rc::new(RefCell::new(Vec::new()));
    ///         let tasks: Vec<_> = (0..8)
    ///             .map(|i| {
    ///                 let log = log.clone();
    ///                 corun::spawn(async move { log.borrow_mut().push(i) })
    ///             })
    ///             .collect();
    ///         corun::join_all(tasks).await;
    ///         Rc::try_unwrap(log).unwrap().into_inner()
    ///     })
    /// };
    /// assert_eq!(order(7), order(7)); // replays
    /// assert!((0..8).any(|s| order(s) != order(7))); // other seeds, other orders
    /// ```
    pub fn seed(mut self, seed: u64) -> Builder {
        self.options.seed = Some(seed);
        self
    }

    /// Runs the scheduler on a virtual clock: it stands still while tasks
    /// run, and when no task is ready and a look at the OS poller finds no
    /// I/O and no message, it jumps to the next timer. `sleep`, `timeout`
    /// and `interval` of hours then finish at once, in the order their
    /// deadlines say. [`corun::time::now`](crate::time::now) reads this
    /// clock; `Instant::now()` does not. The clock starts at the same
    /// instant in every run (the process's time base, so it may read
    /// earlier than `Instant::now()`), which lets a seed replay a schedule
    /// with timers exactly; measure durations as differences of `now()`.
    ///
    /// Work a task awaits on the blocking pool ([`crate::unblock`], file
    /// operations) and child processes ([`crate::process`], until their exit
    /// is collected) hold the clock while they run: the scheduler waits for
    /// them for real instead of jumping.
    ///
    /// Real sockets still work: while a task waits for I/O with no timer
    /// pending, the scheduler blocks for real; but a timer pending beside
    /// I/O that is still on its way (a peer process that has not answered
    /// yet) fires first, since the clock jumps as soon as nothing is ready.
    /// Use it for code whose waits are timers and corun's own channels.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let wall = std::time::Instant::now();
    /// let out = corun::Builder::new().virtual_time(true).run(async {
    ///     let never = std::future::pending::<()>();
    ///     corun::timeout(Duration::from_secs(3600), never).await
    /// });
    /// assert!(out.is_err()); // timed out after an hour of corun time
    /// assert!(wall.elapsed() < Duration::from_secs(3600));
    /// ```
    pub fn virtual_time(mut self, on: bool) -> Builder {
        self.options.virtual_time = on;
        self
    }

    /// Keep, for every task, the task that spawned it and since when it
    /// waits (off by default), so that [`Scheduler::dump`] draws the tasks
    /// as a tree by parent with a wait time each, and [`TaskInfo`](crate::TaskInfo)
    /// carries [`parent`](crate::TaskInfo::parent) and
    /// [`waiting_since`](crate::TaskInfo::waiting_since).
    ///
    /// The task cell has no room for them, so they live beside the task's
    /// entry in the scheduler's registry: with this on, a spawn and every
    /// poll that returns `Pending` write there once more, and a live task
    /// takes 16 more bytes. Off, the dump still lists every task (state, what it
    /// waits on, polls, longest poll, spawn site) and says that the rest is
    /// not kept.
    ///
    /// ```
    /// let table = corun::Builder::new().dump_details(true).run(async {
    ///     let _child = corun::spawn_named("child", corun::sleep(std::time::Duration::from_secs(9)));
    ///     corun::yield_now().await; // let it start sleeping
    ///     corun::dump()
    /// });
    /// println!("{table}");
    /// // The child sits under `main`, the task that spawned it.
    /// assert!(table.lines().any(|l| l.starts_with("└─ child")));
    /// ```
    pub fn dump_details(mut self, on: bool) -> Builder {
        self.options.dump_details = on;
        self
    }

    /// The options with the seed from `CORUN_SEED` if none was given.
    fn resolved(&self) -> std::io::Result<super::core::Options> {
        let mut options = self.options.clone();
        if options.seed.is_none() {
            if let Some(v) = std::env::var_os("CORUN_SEED") {
                let seed = v.to_str().and_then(|v| v.trim().parse::<u64>().ok());
                options.seed = Some(seed.ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("CORUN_SEED={v:?} is not a decimal u64 (e.g. CORUN_SEED=17)"),
                    )
                })?);
            }
        }
        Ok(options)
    }

    /// How many cores (scheduler threads) the scheduler runs on: 1 by
    /// default; 0 means one per available CPU; at most 256 (more counts as
    /// 256). Each core is a whole scheduler on its own thread; tasks never
    /// move between cores, so a task's future need not be `Send` when it is
    /// made on its core ([`Scheduler::spawn_on`], [`crate::spawn_on`]).
    /// See the crate docs' "Many cores" section.
    ///
    /// ```
    /// let sched = corun::Builder::new().cores(2).start().unwrap();
    /// let on: Vec<usize> = sched
    ///     .spawn_on_each(|core| async move { (core, corun::core()) })
    ///     .unwrap()
    ///     .into_iter()
    ///     .map(|t| { let (asked, ran) = sched.block_on(t).unwrap().unwrap(); assert_eq!(asked, ran); ran })
    ///     .collect();
    /// assert_eq!(on, [0, 1]);
    /// sched.shutdown().unwrap();
    /// ```
    pub fn cores(mut self, n: usize) -> Builder {
        self.cores = match n {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(MAX_CORES);
        self
    }

    /// Pin each core's thread to a CPU of its own (`true`) or let the OS
    /// move it (`false`). Core `k` gets the `k`-th of the CPUs the thread
    /// calling [`start`](Builder::start) or [`run`](Builder::run) may use
    /// (wrapping if there are more cores than CPUs); [`run`](Builder::run)
    /// gives its thread its former CPUs back when it returns.
    ///
    /// Default: pinned when there are several cores and exactly one per
    /// CPU the process may use (`cores(0)`, or a process confined with
    /// `taskset` to as many CPUs as it has cores), else not. Pinned, a
    /// core's `SO_REUSEPORT` listener is given the connections the kernel
    /// handles on that core's CPU
    /// ([`steer_to_core`](crate::net::TcpListenerBuilder::steer_to_core)),
    /// so a connection made by a task on that core is served there too.
    /// Turn it off when the CPUs are shared with other busy processes: a
    /// pinned core cannot leave a CPU another process keeps busy.
    ///
    /// ```
    /// let sched = corun::Builder::new().cores(2).pin_cores(false).start().unwrap();
    /// assert_eq!(sched.cores(), 2);
    /// sched.shutdown().unwrap();
    /// ```
    pub fn pin_cores(mut self, on: bool) -> Builder {
        self.pin_cores = Some(on);
        self
    }

    /// The CPU each core is pinned to (`None`s when not pinned), from the
    /// calling thread's allowed CPUs.
    /// Only an explicit `pin_cores(true)` fails when the allowed CPUs
    /// cannot be read; the default then leaves the cores unpinned.
    fn cpus(&self) -> std::io::Result<Vec<Option<usize>>> {
        let allowed = match (self.pin_cores, self.cores) {
            (Some(false), _) | (None, 1) => Vec::new(),
            (Some(true), _) => affinity::allowed_cpus()?,
            (None, _) => affinity::allowed_cpus().unwrap_or_default(),
        };
        let pin = self
            .pin_cores
            .unwrap_or_else(|| affinity::pin_by_default(self.cores, allowed.len()));
        Ok((0..self.cores)
            .map(|i| affinity::cpu_for(i, &allowed).filter(|_| pin))
            .collect())
    }

    /// Starts the scheduler: one OS thread per core (named after
    /// [`thread_name`](Builder::thread_name), with `-N` appended when there
    /// are several cores).
    ///
    /// ```
    /// let s = corun::Builder::new().start().unwrap();
    /// s.shutdown().unwrap();
    /// ```
    pub fn start(mut self) -> std::io::Result<Scheduler> {
        self.options = self.resolved()?;
        // Before the first thread this starts (`reactor::fd_table`).
        crate::reactor::fd_table::grow_ahead();
        let cpus = self.cpus()?;
        if cpus.iter().any(Option::is_some) {
            ticker::start_before_pinning();
        }
        let slot = GroupSlot::default();
        let mut threads = Vec::with_capacity(self.cores);
        let mut shareds = Vec::with_capacity(self.cores);
        for (index, &cpu) in cpus.iter().enumerate() {
            match self.start_core(index, cpu, &slot) {
                Ok((thread, shared)) => {
                    threads.push(thread);
                    shareds.push(shared);
                }
                Err(e) => {
                    // Stop the cores already running; they hold no task yet.
                    for s in &shareds {
                        let _ = s.push(Msg::Shutdown);
                    }
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(e);
                }
            }
        }
        let _ = slot.set(Group::new(shareds));
        Ok(Scheduler::from_parts(slot, threads))
    }

    /// Starts core `index` on a thread of its own, pinned to `cpu` if one
    /// is given; returns the thread and the core's cross-thread side once
    /// the core exists.
    fn start_core(
        &self,
        index: usize,
        cpu: Option<usize>,
        slot: &GroupSlot,
    ) -> std::io::Result<(JoinHandle<()>, Arc<CoreShared>)> {
        let (tx, rx) = mpsc::channel();
        let options = self.options.clone();
        let slot = slot.clone();
        let name = if self.cores > 1 {
            format!("{}-{index}", self.thread_name)
        } else {
            self.thread_name.clone()
        };
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let pinned =
                cpu.map(|cpu| affinity::pin_current(cpu).map_err(|e| pin_error(index, cpu, e)));
            let _pinned = match pinned.transpose() {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let core = match Core::new(options, index, slot) {
                Ok(core) => core,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(Ok(core.shared().clone()));
            drop(tx);
            let _enter = context::enter(&core);
            core.run_until(|| false);
            core.shutdown();
        })?;
        match rx.recv() {
            Ok(Ok(shared)) => Ok((thread, shared)),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(std::io::Error::other("scheduler thread failed to start")),
        }
    }

    /// Runs a scheduler until `future` completes, with `future` on core 0
    /// on the current thread (see [`crate::run`]) and any further cores on
    /// threads of their own, which shut down (their tasks killed) when it
    /// completes.
    ///
    /// ```
    /// assert_eq!(corun::Builder::new().run(async { 5 }), 5);
    /// let cores = corun::Builder::new().cores(2).run(async { corun::cores() });
    /// assert_eq!(cores, 2);
    /// ```
    ///
    /// # Panics
    ///
    /// If the OS refuses the poller or a thread, or pinning a core that
    /// [`pin_cores`](Builder::pin_cores) asked for, or `future` panics (its
    /// panic is resumed here).
    #[track_caller]
    pub fn run<F: Future + 'static>(self, future: F) -> F::Output
    where
        F::Output: 'static,
    {
        let site = Location::caller();
        let options = self.resolved().unwrap_or_else(|e| panic!("corun: {e}"));
        let this = Builder { options, ..self };
        assert_outside_scheduler();
        // Before the first thread this starts (`reactor::fd_table`).
        crate::reactor::fd_table::grow_ahead();
        let cpus = this
            .cpus()
            .unwrap_or_else(|e| panic!("corun: cannot read the allowed CPUs: {e}"));
        if cpus.iter().any(Option::is_some) {
            ticker::start_before_pinning();
        }
        // Held until `run` returns: this thread gets its CPUs back then.
        let _pinned = cpus.first().copied().flatten().map(|cpu| {
            affinity::pin_current(cpu).unwrap_or_else(|e| panic!("corun: {}", pin_error(0, cpu, e)))
        });
        let slot = GroupSlot::default();
        let core0 = Core::new(this.options.clone(), 0, slot.clone())
            .unwrap_or_else(|e| panic!("corun: cannot create the OS poller: {e}"));
        let mut threads = Vec::new();
        let mut shareds = vec![core0.shared().clone()];
        for (index, &cpu) in cpus.iter().enumerate().skip(1) {
            let (thread, shared) = this
                .start_core(index, cpu, &slot)
                .unwrap_or_else(|e| panic!("corun: cannot start core {index}: {e}"));
            threads.push(thread);
            shareds.push(shared);
        }
        let _ = slot.set(Group::new(shareds));
        let stop_others = StopCores { slot, threads };
        let out = in_task::run_on(core0, future, site);
        drop(stop_others);
        out
    }
}

/// [`crate::run`]: what [`Builder::run`] does for a default builder (one
/// core, unpinned, no thread started), kept apart so that a program which
/// only calls `corun::run` links none of the multi-core start-up (core
/// threads, their hand-over channel, CPU affinity): in a small program
/// nearly all of the text is resident (`docs/design/memory.md`, "The sleep
/// 10 000 cell"), so code never run still costs its size in RSS.
#[track_caller]
pub(crate) fn run_default<F: Future + 'static>(future: F) -> F::Output
where
    F::Output: 'static,
{
    let site = Location::caller();
    let core0 = start_default();
    in_task::run_on(core0, future, site)
}

/// Core 0 of a default builder's scheduler, for [`run_default`].
fn start_default() -> Core {
    let options = Builder::new()
        .resolved()
        .unwrap_or_else(|e| panic!("corun: {e}"));
    assert_outside_scheduler();
    let slot = GroupSlot::default();
    let core0 = Core::new(options, 0, slot.clone())
        .unwrap_or_else(|e| panic!("corun: cannot create the OS poller: {e}"));
    let _ = slot.set(Group::new(vec![core0.shared().clone()]));
    core0
}

/// `run` blocks its thread until its future ends: never on a scheduler's.
fn assert_outside_scheduler() {
    assert!(
        !context::in_scheduler(),
        "corun::run called inside a running scheduler; spawn the future or await it instead"
    );
}

/// Says which core could not be pinned to which CPU, and why.
fn pin_error(index: usize, cpu: usize, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!("cannot pin core {index} to CPU {cpu}: {e}"),
    )
}

/// Stops and joins cores `1..` of a `Builder::run` when it ends, panics
/// included.
struct StopCores {
    slot: GroupSlot,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for StopCores {
    fn drop(&mut self) {
        if let Some(group) = self.slot.get() {
            for s in group.iter().skip(1) {
                let _ = s.push(Msg::Shutdown);
            }
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
