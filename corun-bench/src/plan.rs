//! What gets run: the runtimes, the workloads, and the sizes of every cell
//! (full and `--quick`), including which cells a peer cannot run ("n/a").
//!
//! Pure data and arithmetic: nothing here spawns processes, runs workloads
//! or prints.

use clap::ValueEnum;

use corun_bench::cores;

/// A runtime under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    /// corun, the runtime this benchmark exists for.
    Corun,
    /// One OS thread per task, 32 KiB stacks, blocking std I/O.
    Thread,
    /// tokio current_thread.
    #[value(name = "tokio-ct")]
    TokioCt,
    /// tokio multi_thread, 2 workers.
    #[value(name = "tokio-mt")]
    TokioMt,
    /// async-executor LocalExecutor + async-io.
    Smol,
    /// may, stackful coroutines.
    May,
    /// monoio, thread-per-core io_uring (one runtime here).
    Monoio,
    /// glommio, thread-per-core io_uring (one executor here).
    Glommio,
    /// Not a runtime: httpd's reference row, a one-thread epoll loop
    /// written straight on libc (`peers::epoll_raw`). Runs httpd only.
    Epoll,
}

/// The load generator that drives the httpd cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Load {
    /// `corun-bench-load`: what `wrk -t1 -c100 --timeout 2s` does, built in
    /// (one epoll thread, no runtime), so nothing beyond the toolchain is
    /// needed.
    #[default]
    Builtin,
    /// The external `wrk -t1 -c100 --timeout 2s`, as a cross-check of the
    /// built-in generator (needs wrk installed).
    Wrk,
}

impl Load {
    /// The name on the command line and in the child's environment
    /// (`corun_bench::common::LOAD_ENV`).
    pub fn name(self) -> &'static str {
        match self {
            Load::Builtin => "builtin",
            Load::Wrk => "wrk",
        }
    }

    /// How the httpd case column names a run of `secs` seconds.
    fn words(self, secs: u64) -> String {
        match self {
            Load::Builtin => format!("load -c100 -d{secs}s (wrk-like, built in)"),
            Load::Wrk => format!("wrk -t1 -c100 -d{secs}s"),
        }
    }
}

impl Runtime {
    /// Every runtime, in table order.
    pub const ALL: [Runtime; 9] = [
        Runtime::Corun,
        Runtime::Thread,
        Runtime::TokioCt,
        Runtime::TokioMt,
        Runtime::Smol,
        Runtime::May,
        Runtime::Monoio,
        Runtime::Glommio,
        Runtime::Epoll,
    ];

    /// The name used on the command line, in tables and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Corun => "corun",
            Runtime::Thread => "thread",
            Runtime::TokioCt => "tokio-ct",
            Runtime::TokioMt => "tokio-mt",
            Runtime::Smol => "smol",
            Runtime::May => "may",
            Runtime::Monoio => "monoio",
            Runtime::Glommio => "glommio",
            Runtime::Epoll => "epoll",
        }
    }

    /// The row label in tables: the name, or for the reference row what it
    /// is (so nobody reads it as a peer).
    pub fn label(self) -> &'static str {
        match self {
            Runtime::Epoll => "epoll (raw, no runtime; reference)",
            rt => rt.name(),
        }
    }

    /// Whether this runtime has a row in cases of `kind` with second
    /// parameter `param`: the raw epoll loop only in httpd on one core.
    fn has_row(self, kind: &str, param: u64) -> bool {
        self != Runtime::Epoll || (kind == "httpd" && param == 0)
    }

    /// The child binary (next to the parent's) that runs its single-core
    /// cells.
    pub fn child_bin(self) -> &'static str {
        match self {
            Runtime::Corun => "corun-bench-child-corun",
            Runtime::Thread => "corun-bench-child-thread",
            Runtime::TokioCt | Runtime::TokioMt => "corun-bench-child-tokio",
            Runtime::Smol => "corun-bench-child-smol",
            Runtime::May => "corun-bench-child-may",
            Runtime::Monoio => "corun-bench-child-monoio",
            Runtime::Glommio => "corun-bench-child-glommio",
            Runtime::Epoll => "corun-bench-child-epoll",
        }
    }

    /// The child binary that runs its multi-core cells, if it has any: a
    /// separate one, so that the single-core cells' peak RSS does not carry
    /// the multi-core runner's code.
    pub fn cores_child_bin(self) -> Option<&'static str> {
        match self {
            Runtime::Corun => Some("corun-bench-child-corun-cores"),
            Runtime::TokioCt | Runtime::TokioMt => Some("corun-bench-child-tokio-cores"),
            _ => None,
        }
    }

    /// Whether this binary can run it (corun needs the `corun` feature).
    pub fn compiled_in(self) -> bool {
        self != Runtime::Corun || cfg!(feature = "corun")
    }
}

/// A workload (one table each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Every workload below.
    All,
    /// N tasks sleep 1 s each.
    Sleep,
    /// Spawn and join empty tasks.
    Spawn,
    /// One task yields repeatedly.
    Yield,
    /// Token round trips through capacity-1 channels.
    Pingpong,
    /// Timers armed then cancelled; armed and fired.
    Timers,
    /// 100 tasks write 100 × 32 KiB each to their own file.
    Fileio,
    /// In-process HTTP/1.0 server and N fetching clients.
    Urlfetch,
    /// Keep-alive HTTP/1.1 server under a wrk-like load.
    Httpd,
    /// Idle connections held from a separate client process.
    Conns,
    /// Echo server: one flooding client and timed bystanders.
    Flood,
    /// CPU + I/O mix on 1 and 2 cores: speed-up.
    Cores,
}

impl Workload {
    /// Every concrete workload, in run order.
    pub const EACH: [Workload; 11] = [
        Workload::Spawn,
        Workload::Yield,
        Workload::Pingpong,
        Workload::Timers,
        Workload::Sleep,
        Workload::Fileio,
        Workload::Urlfetch,
        Workload::Conns,
        Workload::Flood,
        Workload::Cores,
        Workload::Httpd,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::All => "all",
            Workload::Sleep => "sleep",
            Workload::Spawn => "spawn",
            Workload::Yield => "yield",
            Workload::Pingpong => "pingpong",
            Workload::Timers => "timers",
            Workload::Fileio => "fileio",
            Workload::Urlfetch => "urlfetch",
            Workload::Httpd => "httpd",
            Workload::Conns => "conns",
            Workload::Flood => "flood",
            Workload::Cores => "cores",
        }
    }
}

/// One row of one table: a workload case at one size on one runtime.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The table it belongs to.
    pub workload: Workload,
    /// Child-side kind: sleep, spawn, yield, pingpong, timers-cancel,
    /// timers-fire, fileio, urlfetch, httpd, conns, flood.
    pub kind: &'static str,
    /// Operation count (tasks, yields, round trips, connections, …; for
    /// fileio the task count, for httpd the load's seconds, for flood the
    /// bystanders).
    pub n: u64,
    /// Second parameter: sleep ms, fileio writes per file, flood ms; the
    /// core count for cores, and for urlfetch and httpd at N cores (see
    /// [`multi_core`]); else 0.
    pub param: u64,
    /// The runtime.
    pub runtime: Runtime,
    /// Why this runtime does not run this case, when it does not.
    pub na: Option<&'static str>,
    /// Index of the case within its workload (sizes in order).
    pub case_index: usize,
    /// The load generator of an httpd cell (other cells ignore it).
    pub load: Load,
}

impl Cell {
    /// The size column, e.g. `n=10000` or `cancel n=1000000`.
    pub fn case(&self) -> String {
        match self.kind {
            "timers-cancel" => format!("cancel n={}", self.n),
            "timers-fire" => format!("fire n={}", self.n),
            "fileio" => format!("{} files × {} × 32 KiB", self.n, self.param),
            "fileio-uring" => format!(
                "{} files × {} × 32 KiB, tuned: io_uring writes (CORUN_FS_URING=1)",
                self.n, self.param
            ),
            "httpd" if self.param == 0 => self.load.words(self.n),
            "sleep" => format!("n={} × {} ms", self.n, self.param),
            "flood" => format!("{} bystanders, {} ms", self.n, self.param),
            "cores" | "cores-tuned" => format!(
                "{} tasks × {} rounds, {}{}",
                self.n,
                cores::ROUNDS,
                cores_words(self.param),
                if self.kind == "cores-tuned" {
                    ", tuned: clients connect to their core's listener"
                } else {
                    ""
                }
            ),
            "httpd" => format!("{}, {}", self.load.words(self.n), cores_words(self.param)),
            "urlfetch-tuned" => format!(
                "n={}, tuned: 2 schedulers, chunked client spawns, raised backlog",
                self.n
            ),
            _ if self.param > 0 => format!("n={}, {}", self.n, cores_words(self.param)),
            _ => format!("n={}", self.n),
        }
    }

    /// The child binary that runs it: the runtime's multi-core child for a
    /// multi-core case (see [`multi_core`]), else its single-core child.
    pub fn child_bin(&self) -> &'static str {
        match (
            multi_core(self.kind, self.param),
            self.runtime.cores_child_bin(),
        ) {
            (Some(_), Some(bin)) => bin,
            _ => self.runtime.child_bin(),
        }
    }

    /// The key grouping the same case across runtimes (ignores per-runtime
    /// size caps so that capped rows stay in the same group).
    pub fn group(&self) -> String {
        format!("{}#{}", self.kind, self.case_index)
    }
}

/// `1 core`, `2 cores`.
fn cores_words(n: u64) -> String {
    format!("{n} core{}", if n == 1 { "" } else { "s" })
}

/// The core count of a multi-core case (the `cores` workload, and urlfetch
/// or httpd with a core count), which only corun and tokio-mt run: corun
/// on that many cores, tokio-mt with that many workers, each pinned to
/// that many CPUs.
pub fn multi_core(kind: &str, param: u64) -> Option<u64> {
    match kind {
        "cores" | "cores-tuned" => Some(param),
        "urlfetch" | "urlfetch-tuned" | "httpd" if param > 0 => Some(param),
        _ => None,
    }
}

/// Sizes for one run of the command.
struct Sizes {
    sleep: &'static [u64],
    sleep_ms: u64,
    spawn: u64,
    yields: u64,
    pingpong: u64,
    timers: u64,
    fileio: (u64, u64),
    urlfetch: &'static [u64],
    httpd_secs: u64,
    conns: u64,
    /// Bystanders, flood ms.
    flood: (u64, u64),
    /// Tasks of the cores mix.
    cores: u64,
    /// Fetches of urlfetch at 2 cores.
    urlfetch_2: u64,
    /// Fetches of corun's tuned urlfetch row.
    urlfetch_tuned: u64,
}

const FULL: Sizes = Sizes {
    sleep: &[10_000, 100_000, 1_000_000],
    sleep_ms: 1000,
    spawn: 1_000_000,
    // BENCHMARKS.md's size; the peers, 7 to 65 times slower per yield, do
    // fewer (see `fit`): the per-yield cost is what the table compares.
    yields: 10_000_000,
    pingpong: 1_000_000,
    timers: 1_000_000,
    fileio: (100, 100),
    urlfetch: &[1_000, 10_000],
    httpd_secs: 5,
    conns: 10_000,
    flood: (100, 5_000),
    cores: 10_000,
    urlfetch_2: 10_000,
    urlfetch_tuned: 10_000,
};

const QUICK: Sizes = Sizes {
    sleep: &[1_000],
    sleep_ms: 50,
    spawn: 10_000,
    yields: 100_000,
    pingpong: 10_000,
    timers: 10_000,
    fileio: (10, 10),
    urlfetch: &[100],
    httpd_secs: 1,
    conns: 200,
    flood: (10, 300),
    cores: 200,
    urlfetch_2: 100,
    // The tuned row's two-scheduler path starts here.
    urlfetch_tuned: corun_bench::peers::corun_rt::URLFETCH_SPREAD_FROM,
};

/// Live threads (or may stacks) this machine allows comfortably.
const LIVE_LIMIT: u64 = 10_000;

/// Per-runtime size for a case of nominal size `n`: a smaller count where the
/// nominal one would take most of the time budget, or n/a.
fn fit(kind: &str, n: u64, rt: Runtime) -> Result<u64, &'static str> {
    use Runtime::*;
    match (kind, rt) {
        ("sleep", Thread) if n > LIVE_LIMIT => Err("n/a: ~16 000 OS threads max here"),
        ("sleep", May) if n > LIVE_LIMIT => Err("n/a: stacks hit vm.max_map_count"),
        ("timers-cancel" | "timers-fire", Thread) => Err("n/a: no timer API"),
        ("timers-cancel" | "timers-fire", May) => Err("n/a: no timer futures"),
        ("spawn", Thread) => Ok(n.min(20_000)),
        ("spawn", May) => Ok(n.min(20_000)),
        ("yield", Thread) => Ok(n.min(1_000_000)),
        ("yield", TokioCt | TokioMt | Smol | May | Monoio | Glommio) => Ok(n.min(2_000_000)),
        ("pingpong", Thread) => Ok(n.min(20_000)),
        ("pingpong", TokioMt) => Ok(n.min(200_000)),
        ("flood", Thread | May) => Err("n/a: flood compares the async runtimes"),
        _ => Ok(n),
    }
}

/// Runs per cell of `workload`: `asked` (`--runs`) when given, else 1 with
/// `--quick`, else 5 for the latency workloads (httpd, flood: their tails
/// swing most from run to run) and 3 for the rest.
pub fn runs(workload: Workload, asked: Option<u32>, quick: bool) -> u32 {
    let default = match workload {
        _ if quick => 1,
        Workload::Httpd | Workload::Flood => 5,
        _ => 3,
    };
    asked.unwrap_or(default).max(1)
}

/// Every cell to show, in order: workloads as listed, each case, each runtime.
pub fn cells(workloads: &[Workload], runtimes: &[Runtime], quick: bool) -> Vec<Cell> {
    let s = if quick { &QUICK } else { &FULL };
    let mut out = Vec::new();
    for &w in workloads {
        let cases: Vec<(&'static str, u64, u64)> = match w {
            Workload::All => Vec::new(),
            Workload::Sleep => s.sleep.iter().map(|&n| ("sleep", n, s.sleep_ms)).collect(),
            Workload::Spawn => vec![("spawn", s.spawn, 0)],
            Workload::Yield => vec![("yield", s.yields, 0)],
            Workload::Pingpong => vec![("pingpong", s.pingpong, 0)],
            Workload::Timers => vec![("timers-cancel", s.timers, 0), ("timers-fire", s.timers, 0)],
            Workload::Fileio => vec![
                ("fileio", s.fileio.0, s.fileio.1),
                // corun with its opt-in io_uring write path, a labelled
                // row of its own (docs/design/uring-files.md).
                ("fileio-uring", s.fileio.0, s.fileio.1),
            ],
            Workload::Urlfetch => s
                .urlfetch
                .iter()
                .map(|&n| ("urlfetch", n, 0))
                // Both ends of every connection live in the child, and at
                // 2 cores nearly all of them can be open at once.
                .chain([(
                    "urlfetch",
                    cores::mix_tasks_within(s.urlfetch_2, cores::nofile_hard()),
                    2,
                )])
                // corun's tuned layout, a labelled row of its own (two
                // scheduler threads: the 2-core machine's both cores).
                .chain([("urlfetch-tuned", s.urlfetch_tuned, 2)])
                .collect(),
            Workload::Httpd => vec![("httpd", s.httpd_secs, 0), ("httpd", s.httpd_secs, 2)],
            Workload::Conns => vec![("conns", s.conns, 0)],
            Workload::Flood => vec![("flood", s.flood.0, s.flood.1)],
            Workload::Cores => {
                let tasks = cores::mix_tasks_within(s.cores, cores::nofile_hard());
                vec![
                    ("cores", tasks, 1),
                    ("cores", tasks, 2),
                    ("cores-tuned", tasks, 2),
                ]
            }
        };
        for (case_index, (kind, n, param)) in cases.into_iter().enumerate() {
            for &rt in runtimes {
                let runs_it = match kind {
                    "cores-tuned" | "urlfetch-tuned" => rt == Runtime::Corun,
                    _ => matches!(rt, Runtime::Corun | Runtime::TokioMt),
                };
                let corun_only = kind == "fileio-uring" && rt != Runtime::Corun;
                if (multi_core(kind, param).is_some() && !runs_it)
                    || corun_only
                    || !rt.has_row(kind, param)
                {
                    continue;
                }
                let (n, na) = match fit(kind, n, rt) {
                    Ok(n) => (n, None),
                    Err(why) => (n, Some(why)),
                };
                out.push(Cell {
                    workload: w,
                    kind,
                    n,
                    param,
                    runtime: rt,
                    na,
                    case_index,
                    load: Load::default(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corun_yields_the_specified_ten_million_times_and_slow_peers_fewer() {
        let cells = cells(&[Workload::Yield], &Runtime::ALL, false);
        let n = |rt: Runtime| cells.iter().find(|c| c.runtime == rt).map(|c| c.n);
        assert_eq!(n(Runtime::Corun), Some(10_000_000));
        assert_eq!(n(Runtime::Thread), Some(1_000_000));
        for rt in [
            Runtime::TokioCt,
            Runtime::TokioMt,
            Runtime::Smol,
            Runtime::May,
            Runtime::Monoio,
            Runtime::Glommio,
        ] {
            assert_eq!(n(rt), Some(2_000_000));
        }
    }

    #[test]
    fn flood_runs_100_bystanders_for_5_s_on_the_async_runtimes_only() {
        let cells = cells(&[Workload::Flood], &Runtime::ALL, false);
        for c in &cells {
            assert_eq!((c.kind, c.n, c.param), ("flood", 100, 5_000));
            let async_rt = !matches!(c.runtime, Runtime::Thread | Runtime::May);
            assert_eq!(c.na.is_none(), async_rt, "{:?}", c.runtime);
        }
        assert_eq!(cells[0].case(), "100 bystanders, 5000 ms");
        let quick = super::cells(&[Workload::Flood], &[Runtime::TokioCt], true).remove(0);
        assert!(quick.n < 100 && quick.param < 1_000, "{quick:?}");
    }

    #[test]
    fn cores_runs_corun_and_tokio_mt_on_one_core_then_two() {
        let cells = cells(&[Workload::Cores], &Runtime::ALL, false);
        let got: Vec<(Runtime, u64)> = cells.iter().map(|c| (c.runtime, c.param)).collect();
        assert_eq!(
            got,
            [
                (Runtime::Corun, 1),
                (Runtime::TokioMt, 1),
                (Runtime::Corun, 2),
                (Runtime::TokioMt, 2),
                (Runtime::Corun, 2),
            ]
        );
        let tasks = cores::mix_tasks_within(10_000, cores::nofile_hard());
        assert!(cells.iter().all(|c| c.n == tasks));
        assert!(cells[..4].iter().all(|c| c.kind == "cores"));
        assert_eq!(cells[4].kind, "cores-tuned");
        let tuned = cells[4].case();
        assert!(tuned.ends_with("2 cores, tuned: clients connect to their core's listener"));
        assert_eq!(
            cells[0].case(),
            format!("{tasks} tasks × 16 rounds, 1 core")
        );
        assert_eq!(
            cells[2].case(),
            format!("{tasks} tasks × 16 rounds, 2 cores")
        );
        assert_ne!(cells[0].group(), cells[2].group());
        let quick = super::cells(&[Workload::Cores], &[Runtime::Corun], true);
        assert!(quick.iter().all(|c| c.n <= 200), "{quick:?}");
    }

    #[test]
    fn urlfetch_and_httpd_add_a_two_core_case_for_corun_and_tokio_mt_only() {
        let fetches = cores::mix_tasks_within(10_000, cores::nofile_hard());
        for (w, n) in [(Workload::Urlfetch, fetches), (Workload::Httpd, 5)] {
            let cells = cells(&[w], &Runtime::ALL, false);
            let two: Vec<&Cell> = cells
                .iter()
                .filter(|c| c.param == 2 && !c.kind.ends_with("-tuned"))
                .collect();
            let rts: Vec<Runtime> = two.iter().map(|c| c.runtime).collect();
            assert_eq!(rts, [Runtime::Corun, Runtime::TokioMt], "{w:?}");
            assert!(
                two.iter()
                    .all(|c| c.n == n && multi_core(c.kind, c.param) == Some(2))
            );
            assert!(two[0].case().ends_with(", 2 cores"), "{}", two[0].case());
            // The one-core cases keep every runtime (the raw epoll
            // reference row is httpd's only).
            let one: Vec<Runtime> = cells
                .iter()
                .filter(|c| c.param == 0)
                .map(|c| c.runtime)
                .collect();
            let peers = Runtime::ALL.len() - 1;
            match w {
                Workload::Httpd => assert_eq!(one, Runtime::ALL, "{w:?}"),
                _ => assert_eq!(one.len() % peers, 0, "{w:?}"),
            }
            assert!(two.iter().all(|c| c.runtime != Runtime::Epoll));
        }
        assert_eq!(multi_core("sleep", 1000), None);
        assert_eq!(multi_core("urlfetch", 0), None);
    }

    #[test]
    fn fileio_has_a_labelled_io_uring_row_for_corun_only() {
        let cells = cells(&[Workload::Fileio], &Runtime::ALL, false);
        let tuned: Vec<&Cell> = cells.iter().filter(|c| c.kind == "fileio-uring").collect();
        assert_eq!(tuned.len(), 1);
        assert_eq!(tuned[0].runtime, Runtime::Corun);
        assert!(tuned[0].case().contains("tuned"), "{}", tuned[0].case());
        // The plain row is still there for every peer that runs it.
        assert!(
            cells
                .iter()
                .any(|c| c.kind == "fileio" && c.runtime == Runtime::Corun)
        );
        assert!(
            cells
                .iter()
                .any(|c| c.kind == "fileio" && c.runtime == Runtime::Thread)
        );
    }

    #[test]
    fn urlfetch_headline_cells_are_plain_and_the_tuned_one_is_a_labelled_corun_row() {
        let cells = cells(&[Workload::Urlfetch], &Runtime::ALL, false);
        let tuned: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.kind == "urlfetch-tuned")
            .collect();
        assert_eq!(tuned.len(), 1);
        assert_eq!(tuned[0].runtime, Runtime::Corun);
        assert_eq!(tuned[0].n, 10_000);
        assert!(tuned[0].case().contains("tuned"), "{}", tuned[0].case());
        assert_ne!(
            tuned[0].group(),
            cells.iter().find(|c| c.kind == "urlfetch").unwrap().group()
        );
        // Every runtime runs the plain one-core sizes, corun among them.
        for n in [1_000, 10_000] {
            let plain = cells
                .iter()
                .filter(|c| c.kind == "urlfetch" && c.n == n && c.param == 0);
            let peers = Runtime::ALL
                .iter()
                .filter(|r| **r != Runtime::Epoll)
                .count();
            assert_eq!(plain.count(), peers, "n={n}");
        }
    }

    #[test]
    fn the_raw_epoll_loop_is_a_labelled_httpd_row_only() {
        for w in Workload::EACH {
            let has = cells(&[w], &Runtime::ALL, false)
                .iter()
                .any(|c| c.runtime == Runtime::Epoll);
            assert_eq!(has, w == Workload::Httpd, "{w:?}");
        }
        assert!(Runtime::Epoll.label().contains("reference"));
        assert_eq!(Runtime::Corun.label(), "corun");
    }

    #[test]
    fn httpd_cases_name_their_load_generator() {
        let mut cells = cells(&[Workload::Httpd], &[Runtime::TokioMt], false);
        assert_eq!(cells[0].load, Load::Builtin);
        assert_eq!(cells[0].case(), "load -c100 -d5s (wrk-like, built in)");
        assert_eq!(
            cells[1].case(),
            "load -c100 -d5s (wrk-like, built in), 2 cores"
        );
        cells[1].load = Load::Wrk;
        assert_eq!(cells[1].case(), "wrk -t1 -c100 -d5s, 2 cores");
    }

    #[test]
    fn latency_workloads_take_five_runs_unless_asked_or_quick() {
        assert_eq!(runs(Workload::Flood, None, false), 5);
        assert_eq!(runs(Workload::Httpd, None, false), 5);
        assert_eq!(runs(Workload::Spawn, None, false), 3);
        assert_eq!(runs(Workload::Flood, None, true), 1);
        assert_eq!(runs(Workload::Flood, Some(2), false), 2);
        assert_eq!(runs(Workload::Spawn, Some(7), true), 7);
        assert_eq!(runs(Workload::Spawn, Some(0), false), 1);
    }
}
