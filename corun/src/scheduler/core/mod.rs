//! The scheduler loop and the state only its thread touches: the ready
//! queue, the registry of live tasks, the timers and the reactor.
//!
//! # The loop
//!
//! 1. Poll tasks from the ready queue, oldest first, until the budget is
//!    spent or the coarse clock (`ticker`) moves. A task woken
//!    meanwhile (or that yields) goes to the back of the queue; one that
//!    yields while nothing else is ready is polled again at once
//!    (`yield_alone`), with the same checks after each poll.
//!    The budget is [`BUDGET`]; while consecutive looks at the reactor find
//!    nothing, it doubles up to [`MAX_BUDGET`] (a CPU-bound phase then pays
//!    one `epoll_wait` per thousands of polls, not per 256), and it drops
//!    back to [`BUDGET`] as soon as an event or a message arrives.
//! 2. Poll the reactor: with a zero timeout if tasks are still ready or
//!    messages wait, else blocking until the instant the next timer tick
//!    starts (`Reactor::park_until`, exact to the nanosecond), or forever if
//!    no timer is pending — an idle scheduler makes no syscall at all.
//! 3. Fire expired timers.
//! 4. Take the messages other threads sent (spawns, wakes, kills, queries).
//! 5. Move the tasks steps 2–4 woke ahead of every ready task no turn
//!    woke, behind those earlier turns woke that have not run yet (woken
//!    tasks run first in first out, `docs/design/ready-queue.md`); those
//!    step 3 woke without `WOKEN_OUTSIDE` (see below). The tasks step 4
//!    admitted (spawned by other threads, never polled) go to the end
//!    instead, like local spawns.
//!
//! So while tasks keep yielding, ready I/O waits at most one tick gap plus
//! the poll in progress before the scheduler sees it (250 µs once batches
//! run long, up to 2 ms for the first two after a quiet spell,
//! `docs/design/cadence.md`); a task that yields with nothing else ready
//! and polls of 2 µs or more is timed by the batch itself (`lone_polls`,
//! one clock reading per check): about 250 µs of its polls per batch,
//! without a tick. The task it wakes
//! runs before every task that was ready and that no turn woke (a yielder
//! waits behind it). The budget and the clock only decide how often I/O is checked;
//! they never make a task's ready operation return `Pending`. Before the
//! poll of a task woken by I/O or a message the other ready tasks are set
//! aside, so what it spawns or wakes runs next, until the next turn (an
//! accept loop's handlers before clients not yet started); not for a task
//! a timer woke (a tick fires sleepers in batches, and their joiner would
//! run once per sleeper). A yield always goes behind every ready task and
//! the next waking turn's tasks, but ahead of later turns' (`ready`,
//! `docs/design/io-first.md`).
//!
//! Each poll is timed on the coarse clock for free: one relaxed load after
//! it; when the clock moved, `clock_moved` measures that poll (`slow_poll`)
//! and the batch ends. After each batch the core tells the ticker whether
//! it ran long (`AwakeGuard::batch_ended`), which sets the tick gap.
//!
//! After each poll the core also reads its kill flag (one relaxed load):
//! a kill sent from another thread during the poll is handled before the
//! task's outcome is settled, as a local kill would be
//! (`docs/design/many-cores.md`). With a seed, step 1 picks among the 64
//! oldest ready tasks and step 3 shuffles same-tick timers (`seeded`); under
//! virtual time, step 1 ends by count alone and step 2 jumps the clock to
//! the next timer instead of waiting for it (`clock`).
//!
//! Step 1 is `poll` (a batch, one task's poll), steps 2–5 are `turn`; this
//! file keeps the core's state, spawning, scheduling and `run_until`.
//!
//! # Task lifetime rules
//!
//! * The registry holds one reference per unfinished task (for a task not
//!   registered yet, the core holds it in the registry's name: `late`).
//! * A finished task leaves the registry at once; its registry reference is
//!   released then, unless the task sits in the ready queue (`SCHEDULED`),
//!   in which case the pop releases it.
//! * Futures are dropped on this thread only (completion, kill, shutdown),
//!   and never while a `RefCell` of the core is borrowed: user destructors
//!   may spawn, kill or wake re-entrantly.
//!
//! The clock and timers are in `clock`, how tasks end (completion, kill,
//! shutdown) in `ending`, waiting by id in `waiters`, the `tasks()` snapshot
//! in `snapshot`.
//!
//! This file does not know how a future is stored (see `task::raw`) nor how
//! the OS poller works (see `reactor`).

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::Stats;
use super::registry::Registry;
use ready::ReadyQueue;
mod clock;
mod details;
pub(crate) use details::Detail;
mod ending;
mod ready;
pub(crate) use clock::TICK_NS;
mod idle;
pub(crate) use idle::{DEFAULT_IDLE_SPIN, MAX_IDLE_SPIN};
mod late;
mod poll;
mod seeded;
mod sites;
mod slow_poll;
mod snapshot;
mod turn;
mod waiters;

use super::group::GroupSlot;
use super::shared::{CoreShared, Reply};
use super::ticker;
use crate::reactor::Reactor;
use crate::task::raw::{self, FINISHED, Header, SCHEDULED, UNREGISTERED};
use crate::task::{CORE_SHIFT, Exit, Task, TaskId};
use crate::time::wheel::Wheel;
use sites::Sites;

/// Task polls between two looks at the reactor while tasks stay ready.
pub(crate) const BUDGET: usize = 256;
/// The largest budget reached while the reactor keeps finding nothing.
pub(crate) const MAX_BUDGET: usize = 4096;

/// Scheduler numbers, for cheap "is this my scheduler" checks in futures.
static NEXT_SCHED: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// The id block of spawns from this thread onto schedulers of other
    /// threads: `(next, end)` sequence numbers.
    static REMOTE_IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A fresh id for a task spawned from this thread onto core `core` of a
/// scheduler running elsewhere.
pub(crate) fn remote_id(core: usize) -> u64 {
    let seq = REMOTE_IDS.with(|ids| {
        let (mut next, mut end) = ids.get();
        if next >= end {
            (next, end) = crate::task::next_block();
        }
        ids.set((next + 1, end));
        next
    });
    ((core as u64) << CORE_SHIFT) | seq
}

/// Hashes sequential `u64` ids (Fibonacci hashing spreads them over the
/// table's high bits, which the table probes with).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Options fixed when a scheduler is built.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) measure_busy_time: bool,
    /// How long to poll before blocking when idle (see `idle`); at most
    /// [`MAX_IDLE_SPIN`].
    pub(crate) idle_spin: Duration,
    /// Polls that last this many coarse microseconds or more are reported
    /// (`u64::MAX`: never).
    pub(crate) slow_poll_us: u64,
    /// The bound of `Scheduler::try_spawn`'s queue.
    pub(crate) max_queued_spawns: usize,
    /// Seed of a seeded schedule; `None`: first in, first out.
    pub(crate) seed: Option<u64>,
    /// The clock stands still while tasks run and jumps to the next timer
    /// when nothing else can happen (see `clock`).
    pub(crate) virtual_time: bool,
    /// Keep each task's parent and since when it waits (see `details`).
    pub(crate) dump_details: bool,
}

/// The slow-poll threshold unless a builder says otherwise: far above any
/// poll that only moves data between buffers and a socket.
pub(crate) const DEFAULT_SLOW_POLL: Duration = Duration::from_millis(10);

impl Default for Options {
    fn default() -> Options {
        Options {
            measure_busy_time: false,
            idle_spin: DEFAULT_IDLE_SPIN,
            slow_poll_us: DEFAULT_SLOW_POLL.as_micros() as u64,
            max_queued_spawns: usize::MAX,
            seed: None,
            virtual_time: false,
            dump_details: false,
        }
    }
}

/// The scheduler state of one thread.
pub(crate) struct Core {
    id: u32,
    /// This core's index in its scheduler, and the same shifted into
    /// place in the ids it hands out.
    index: usize,
    core_bits: u64,
    /// The cores of this core's scheduler (set once they have all started).
    group: GroupSlot,
    shared: Arc<CoreShared>,
    options: Options,
    /// Some per-task side table is kept (busy time or dump details): the
    /// one flag the spawn path tests for all of them.
    side_tables: bool,
    /// Tasks to poll, oldest first. Holds no references (see module docs).
    /// An `UnsafeCell`, not a `RefCell`: it is touched once per wake and
    /// once per poll (the yield path), only through [`Core::ready_mut`],
    /// whose borrows never outlive a `push_back`/`pop_front`/`is_empty`.
    ready: UnsafeCell<ReadyQueue>,
    /// Every unfinished task by id, for kill, wait and snapshots, but
    /// those not registered yet (`late`).
    registry: RefCell<Registry>,
    /// How many tasks are `UNREGISTERED`, and the id of the oldest of
    /// them (meaningless when there are none; see `late`).
    unregistered: Cell<usize>,
    lazy_since: Cell<u64>,
    /// Waiters by id (`wait`, `join_all`): target id -> (waiter key, waker).
    id_waiters: RefCell<IdMap<Vec<(u64, Waker)>>>,
    /// Outcomes delivered to id waiters that have not looked yet.
    exits: RefCell<IdMap<Exit>>,
    /// Waiters on other threads (other cores), by target id.
    remote_waiters: RefCell<IdMap<Vec<Reply<Exit>>>>,
    next_waiter: Cell<u64>,
    reactor: Reactor,
    wheel: RefCell<Wheel>,
    /// Time in `poll` per live task id, when measuring.
    busy_ns: RefCell<IdMap<u64>>,
    /// Spawn sites of this scheduler's tasks (see `sites`).
    sites: RefCell<Sites>,
    /// Longest poll in coarse microseconds, for tasks that had one of at
    /// least a tick (see `slow_poll`).
    longest: RefCell<IdMap<u64>>,
    /// Scratch space for fired timer wakers (woken after the wheel borrow).
    fired: RefCell<Vec<Waker>>,
    origin: Instant,
    /// Ticks (`TICK_NS`) since `origin` at the last clock reading.
    now_tick: Cell<u64>,
    /// The last clock reading on the coarse clock's scale (microseconds
    /// since the time base), exact: when the batch that follows began.
    clock_us: Cell<u64>,
    /// Exact time (as `clock_us`) at the end of the last poll of this
    /// batch during which the coarse clock moved: a later poll began after
    /// it (see `clock_moved`).
    since_us: Cell<u64>,
    /// The last clock reading in nanoseconds since `origin`: when the
    /// batch that follows began (`lone_polls` times lone yielders from it).
    batch_ns: Cell<u64>,
    /// `batch_ns` of the last batch that checked a lone yielder
    /// (`lone_polls`), the batch's age then (ns) and the poll budget left
    /// then: the next check in the same batch measures the polls between.
    lone_batch: Cell<u64>,
    lone_age: Cell<u64>,
    lone_left: Cell<usize>,
    /// `batch_ns` of the batch whose last such check timed it (its lone
    /// yielder's polls were long enough), else `u64::MAX`.
    lone_timed: Cell<u64>,
    ids: Cell<(u64, u64)>,
    /// The seeded schedule's generator, if the scheduler has a seed.
    rng: Option<seeded::Rng>,
    /// Virtual time: nanoseconds since `origin` on the virtual clock.
    virtual_ns: Option<Cell<u64>>,
    closing: Cell<bool>,
    stop: Cell<bool>,
    stats: Cell<Stats>,
    /// Declared last, so dropped last: hands the slab's remaining task
    /// cells over to their own accounting once every other part of the core
    /// (queues, timers, waiters) has let go of its tasks.
    _cells: CellsGuard,
}

/// The scheduler's side of the task slab's lifetime protocol (see
/// `task::slab`): slab cells hold no count of the shared state, so when
/// the core goes, one count is left behind for them if any cell is still
/// out (held by a handle or waker elsewhere); the last one freed gives it
/// back.
struct CellsGuard(Arc<CoreShared>);

impl Drop for CellsGuard {
    fn drop(&mut self) {
        let left = Arc::into_raw(self.0.clone());
        // SAFETY: this runs once, on the scheduler's thread (a core is
        // made, run and dropped there), as the core's last part, when the
        // core is no longer the thread's current scheduler: nothing
        // allocates from or frees into the slab's local lists again.
        if unsafe { self.0.slab.orphan() } {
            // No cell is out: nobody will give the count back, so drop it.
            // SAFETY: the count made just above.
            drop(unsafe { Arc::from_raw(left) });
        }
    }
}

impl Core {
    /// Core `index` of the scheduler whose cores `group` will hold.
    pub(crate) fn new(options: Options, index: usize, group: GroupSlot) -> std::io::Result<Core> {
        let reactor = Reactor::new()?;
        let shared = Arc::new(CoreShared::new(
            reactor.unparker(),
            options.max_queued_spawns,
        ));
        let rng = options.seed.map(|seed| seeded::Rng::new(seed, index));
        // Virtual time starts at the process's time base on every run, so
        // that the same program meets the same timer-wheel state (a replay
        // needs it), and moves only by jumps.
        let virtual_ns = options.virtual_time.then(|| Cell::new(0));
        Ok(Core {
            id: NEXT_SCHED.fetch_add(1, Ordering::Relaxed),
            index,
            core_bits: (index as u64) << CORE_SHIFT,
            group,
            shared: shared.clone(),
            side_tables: options.measure_busy_time || options.dump_details,
            registry: RefCell::new(Registry::new(shared.clone(), options.dump_details)),
            unregistered: Cell::new(0),
            lazy_since: Cell::new(0),
            options,
            ready: UnsafeCell::new(ReadyQueue::new()),
            id_waiters: RefCell::default(),
            exits: RefCell::default(),
            remote_waiters: RefCell::default(),
            next_waiter: Cell::new(0),
            reactor,
            wheel: RefCell::new(Wheel::new()),
            busy_ns: RefCell::default(),
            sites: RefCell::new(Sites::new()),
            longest: RefCell::default(),
            fired: RefCell::default(),
            // Ticks count from the deadlines' base, so that `Sleep` turns
            // a deadline into a tick without `Instant` arithmetic.
            origin: crate::time::clock_base(),
            now_tick: Cell::new(0),
            clock_us: Cell::new(0),
            since_us: Cell::new(0),
            batch_ns: Cell::new(0),
            lone_batch: Cell::new(u64::MAX),
            lone_age: Cell::new(0),
            lone_left: Cell::new(0),
            lone_timed: Cell::new(u64::MAX),
            ids: Cell::new((0, 0)),
            rng,
            virtual_ns,
            closing: Cell::new(false),
            stop: Cell::new(false),
            stats: Cell::new(Stats::default()),
            _cells: CellsGuard(shared),
        })
    }

    /// This scheduler's number (unique among the schedulers of the process
    /// until 2^32 have been created).
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    pub(crate) fn shared(&self) -> &Arc<CoreShared> {
        &self.shared
    }

    /// This core's index in its scheduler.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The cross-thread side of core `i` of this core's scheduler.
    pub(crate) fn peer(&self, i: usize) -> Option<Arc<CoreShared>> {
        self.group.get()?.core(i).cloned()
    }

    /// How many cores this core's scheduler has.
    pub(crate) fn cores(&self) -> usize {
        self.group.get().map_or(1, |g| g.len())
    }

    pub(crate) fn shared_ptr(&self) -> *const CoreShared {
        Arc::as_ptr(&self.shared)
    }

    pub(crate) fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// The task being polled (this thread's: a core runs on its own
    /// thread only), if any.
    pub(crate) fn current(&self) -> Option<NonNull<Header>> {
        super::context::current_task()
    }

    fn next_id(&self) -> u64 {
        let (mut next, mut end) = self.ids.get();
        if next >= end {
            (next, end) = crate::task::next_block();
        }
        self.ids.set((next + 1, end));
        self.core_bits | next
    }

    fn bump(&self, f: impl FnOnce(&mut Stats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut s = self.stats.get();
        let registry = self.registry.borrow();
        s.tasks = (registry.len() + self.unregistered.get()) as u64;
        (s.id_lookups, s.id_probes) = registry.lookup_counts();
        drop(registry);
        s.timers = self.wheel.borrow().len() as u64;
        s.queued_spawns = self.shared.queued_spawns() as u64;
        s
    }

    // ---- spawning ---------------------------------------------------------

    /// Spawns a future on this scheduler (this thread).
    pub(crate) fn spawn<F>(
        &self,
        future: F,
        name: Option<Box<str>>,
        site: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
    {
        let id = self.next_id();
        // Two references: the registry's and the handle's.
        let ptr = raw::allocate(future, id, name, &self.shared, 2, true);
        self.admit(ptr, site, true, 0);
        Task::from_raw(ptr)
    }

    /// Puts a new task (carrying its registry reference) in the registry
    /// and the ready queue; during shutdown it is killed straight away.
    /// `own_block`: spawned on this thread (by the task being polled, if
    /// any), with an id from this core's block. `remote_parent`: for a task
    /// spawned elsewhere, the id of the task that spawned it (0: none).
    /// Always inline: out of line, the call and its register saves were a
    /// large share of a spawn's own work.
    #[inline(always)]
    pub(crate) fn admit(
        &self,
        ptr: NonNull<Header>,
        site: &'static Location<'static>,
        own_block: bool,
        remote_parent: u64,
    ) {
        // SAFETY: the caller passes the registry reference.
        let h = unsafe { raw::header(ptr) };
        h.site.set(self.sites.borrow_mut().intern(site));
        if own_block & !self.side_tables & !self.closing.get() {
            // Registered when its first poll leaves it pending, or when a
            // look-up needs it (`late`); the local ids only grow, so this
            // one is the oldest if no other waits.
            let n = self.unregistered.get();
            if n == 0 {
                self.lazy_since.set(h.id);
            }
            self.unregistered.set(n + 1);
            h.owner_flags.set(h.owner_flags.get() | UNREGISTERED);
        } else {
            self.registry.borrow_mut().insert(ptr, own_block);
            if self.side_tables {
                self.admit_side(h, own_block, remote_parent);
            }
        }
        self.bump(|s| s.spawned += 1);
        tracing::trace!(task.id = h.id, task.name = h.name(), "spawn");
        if self.closing.get() {
            self.kill(TaskId::of(h));
        } else {
            self.schedule(ptr);
        }
    }

    /// Enters a new task in the side tables kept (see `side_tables`).
    #[cold]
    #[inline(never)]
    fn admit_side(&self, h: &Header, local: bool, remote_parent: u64) {
        if self.options.measure_busy_time {
            self.busy_ns.borrow_mut().insert(h.id, 0);
        }
        if self.options.dump_details {
            let parent = if local {
                self.parent_id()
            } else {
                remote_parent
            };
            self.note_spawn(h, parent);
        }
    }

    // ---- running ----------------------------------------------------------

    /// Queues a task of this scheduler for polling (a local wake).
    #[inline]
    pub(crate) fn schedule(&self, ptr: NonNull<Header>) {
        // SAFETY: wakers and the registry keep the task alive.
        let h = unsafe { raw::header(ptr) };
        let l = h.owner_flags.get();
        if l & (SCHEDULED | FINISHED) != 0 {
            return;
        }
        h.owner_flags.set(l | SCHEDULED);
        // SAFETY: a live task of this scheduler, just marked `SCHEDULED`;
        // it was not queued (a queued task is `SCHEDULED`), and its
        // registry reference outlives its time in the queue.
        self.ready_mut(|q| unsafe { q.push_back(ptr) });
    }

    /// Runs `f` on the ready queue.
    #[inline]
    fn ready_mut<R>(&self, f: impl FnOnce(&mut ReadyQueue) -> R) -> R {
        // SAFETY: `Core` is `!Sync` and used on its own thread only, and
        // every caller passes a closure that only pushes, pops, checks
        // emptiness or walks it (`late`: flags and registry entries, no
        // user code, no re-entry into the core), so this
        // `&mut` is the only reference to the queue while it lives.
        f(unsafe { &mut *self.ready.get() })
    }

    /// Tasks ready besides the running one, or messages waiting.
    pub(crate) fn others_ready(&self) -> bool {
        !self.ready_mut(|q| q.is_empty()) || self.shared.has_msgs()
    }

    // ---- the loop ---------------------------------------------------------

    /// Asks the loop to stop after the current task (shutdown from inside).
    pub(crate) fn request_stop(&self) {
        self.stop.set(true);
        // `yield_alone` checks this flag, not `stop`, after each poll.
        self.shared.raise_kill_flag();
    }

    /// Runs until `done()` or a stop request.
    pub(crate) fn run_until(&self, done: impl Fn() -> bool) {
        let awake = ticker::AwakeGuard::new();
        self.update_clock();
        let mut budget = BUDGET;
        loop {
            self.drain_messages();
            let began = self.clock_us.get();
            let began_ns = self.batch_ns.get();
            let (polled, cut) = self.run_ready(budget);
            // A clock cut that left nothing ready ended a batch that was
            // ending by itself (its last poll went back to waiting).
            let cut = cut && !self.ready_mut(|q| q.is_empty());
            self.bump(|s| s.polls += polled as u64);
            if done() || self.stop.get() {
                return;
            }
            let found = self.turn();
            // The batch ran long if the clock or the budget ended it (tasks
            // were still ready) after half a tick gap or more, the turn's
            // look at the poller included: the ticker keeps its short gap
            // while batches do. A batch that ran the queue dry ended by
            // itself, however long it took; a tick that lands early in a
            // batch ends it but says nothing of its length. A batch that
            // timed a lone yielder itself (`lone_polls`) does not need the
            // ticker to end it, however long it ran.
            let ran = self.clock_us.get().saturating_sub(began);
            let timed = self.lone_timed.get() == began_ns;
            awake.batch_ended(!timed && (cut || polled == budget) && ran >= ticker::PERIOD_US / 2);
            budget = if found || (polled < budget && !cut) {
                BUDGET
            } else {
                (budget * 2).min(MAX_BUDGET)
            };
        }
    }
}
