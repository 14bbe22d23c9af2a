//! The task dump (`corun::dump`, `corun::dump_all`, `Scheduler::dump`,
//! `Scheduler::dump_async`): a row for a task in every state with what it
//! waits on and since when, the tree by parent, several cores, and the
//! table without dump details. Times are read on a virtual clock, so every
//! age in these tables is exact.

mod common;

use std::os::fd::AsRawFd;
use std::time::Duration;

use common::watchdog;
use corun::net::TcpListener;
use corun::sync::oneshot;
use corun::{Builder, SchedulerError, TaskId};

/// A dump's table, read by its header's columns.
struct Table {
    text: String,
    /// The header line, as chars.
    header: Vec<char>,
}

impl Table {
    fn new(text: String) -> Table {
        let header = text
            .lines()
            .find(|l| l.starts_with("TASK"))
            .unwrap_or_else(|| panic!("no header in\n{text}"))
            .chars()
            .collect();
        Table { text, header }
    }

    /// Where the header word `name` starts and ends (char offsets).
    fn span(&self, name: &str) -> (usize, usize) {
        let word: Vec<char> = name.chars().collect();
        let start = (0..self.header.len())
            .find(|&i| {
                self.header[i..].starts_with(&word)
                    && (i == 0 || self.header[i - 1] == ' ')
                    && self.header.get(i + word.len()).is_none_or(|c| *c == ' ')
            })
            .unwrap_or_else(|| panic!("no column {name} in\n{}", self.text));
        (start, start + word.len())
    }

    fn has_column(&self, name: &str) -> bool {
        let h: String = self.header.iter().collect();
        h.split("  ").any(|w| w.trim() == name)
    }

    fn rows(&self) -> Vec<Vec<char>> {
        self.text
            .lines()
            .skip_while(|l| !l.starts_with("TASK"))
            .skip(1)
            .map(|l| l.chars().collect())
            .collect()
    }

    /// The row of task `id`.
    fn row(&self, id: TaskId) -> Vec<char> {
        let (at, _) = self.span("ID");
        let tag: Vec<char> = format!("{id} ").chars().collect();
        let rows: Vec<Vec<char>> = self
            .rows()
            .into_iter()
            .filter(|r| r.get(at..).is_some_and(|r| r.starts_with(&tag)))
            .collect();
        assert_eq!(rows.len(), 1, "one row for {id} in\n{}", self.text);
        rows.into_iter().next().unwrap()
    }

    /// Task `id`'s cell in column `name`. Cells are left-aligned under
    /// their header word and hold no double space, except numbers (right-
    /// aligned: ending under the header's end) and the tree (`TASK`).
    fn cell(&self, id: TaskId, name: &str) -> String {
        let row = self.row(id);
        let (start, end) = self.span(name);
        let cell: String = match name {
            "TASK" => row[..self.span("ID").0].iter().collect(),
            "CORE" | "POLLS" => {
                let from = (0..end).rev().find(|&i| row[i] == ' ').map_or(0, |i| i + 1);
                row[from..end].iter().collect()
            }
            _ => {
                let rest: String = row[start..].iter().collect();
                rest.split("  ").next().unwrap().to_string()
            }
        };
        cell.trim_end().to_string()
    }

    /// The tree column of every row, in order.
    fn tree(&self) -> Vec<String> {
        let at = self.span("ID").0;
        self.rows()
            .iter()
            .map(|r| r[..at].iter().collect::<String>().trim_end().to_string())
            .collect()
    }
}

#[test]
fn every_state_has_its_row_with_what_it_waits_on_and_since_when() {
    let (text, ids, fd) = watchdog("dump of every state", || {
        Builder::new()
            .virtual_time(true)
            .dump_details(true)
            .run(async {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let fd = listener.as_raw_fd();
                let sleeper = corun::spawn_named("sleeper", corun::sleep(Duration::from_secs(60)));
                let sid = sleeper.id();
                let forever = corun::spawn_named("forever", corun::sleep(Duration::MAX));
                let io = corun::spawn_named("acceptor", async move {
                    let _ = listener.accept().await;
                });
                let joiner = corun::spawn_named("joiner", sleeper);
                let (_keep, rx) = oneshot::channel::<()>();
                let idler = corun::spawn_named("idler", async move {
                    let _ = rx.await;
                });
                let (wake, rx) = oneshot::channel::<()>();
                let woken = corun::spawn_named("woken", async move {
                    let _ = rx.await;
                });
                corun::yield_now().await; // each of them runs once and waits
                corun::sleep(Duration::from_secs(5)).await; // 5 s of corun time
                wake.send(()).unwrap(); // ready again, not polled yet
                let fresh = corun::spawn(async {}); // ready, never polled
                let ids = [
                    corun::current().unwrap(),
                    sid,
                    forever.id(),
                    io.id(),
                    joiner.id(),
                    idler.id(),
                    woken.id(),
                    fresh.id(),
                ];
                (corun::dump(), ids, fd)
            })
    });
    let [main, sleeper, forever, io, joiner, idler, woken, fresh] = ids;
    print!("{text}");
    assert!(
        text.starts_with("corun dump: 8 tasks on 1 core\n"),
        "{text}"
    );
    assert!(!text.contains("not kept"), "{text}");
    let t = Table::new(text);
    let expect = [
        // id, state, waits on, since, polls
        (main, "running", "-".to_string(), "-", "3"),
        (
            sleeper,
            "sleeping",
            "timer in 55.0s".into(),
            "5.0s ago",
            "1",
        ),
        (
            forever,
            "sleeping",
            "timer that never fires".into(),
            "5.0s ago",
            "1",
        ),
        (io, "io", format!("fd {fd} readable"), "5.0s ago", "1"),
        (
            joiner,
            "joining",
            format!("task {sleeper}"),
            "5.0s ago",
            "1",
        ),
        (
            idler,
            "idle",
            "a wake corun does not track".into(),
            "5.0s ago",
            "1",
        ),
        (woken, "ready", "its turn".into(), "5.0s ago", "1"),
        (fresh, "ready", "its turn".into(), "0s ago", "0"),
    ];
    for (id, state, waits, since, polls) in expect {
        assert_eq!(t.cell(id, "STATE"), state, "{id}");
        assert_eq!(t.cell(id, "WAITS ON"), waits, "{id}");
        assert_eq!(t.cell(id, "SINCE"), since, "{id}");
        assert_eq!(t.cell(id, "POLLS"), polls, "{id}");
        assert_eq!(t.cell(id, "CORE"), "0", "{id}");
        // Real time (a poll that lasted a coarse tick shows it), so only
        // its presence is certain.
        assert!(!t.cell(id, "LONGEST").is_empty(), "{id}");
        assert!(
            t.cell(id, "SPAWNED AT").contains("dump.rs:"),
            "{id}: {}",
            t.cell(id, "SPAWNED AT")
        );
        let parent = if id == main {
            "-".to_string()
        } else {
            main.to_string()
        };
        assert_eq!(t.cell(id, "PARENT"), parent, "{id}");
    }
    assert_eq!(t.cell(main, "TASK"), "main");
    assert_eq!(t.cell(fresh, "TASK"), "└─ (unnamed)");
    assert_eq!(t.cell(sleeper, "TASK"), "├─ sleeper");
}

#[test]
fn tasks_form_a_tree_by_parent_and_orphans_are_roots() {
    let (text, ids) = watchdog("dump tree", || {
        Builder::new().dump_details(true).run(async {
            let a = corun::spawn_named("a", async {
                let a1 = corun::spawn_named("a1", async {
                    let a11 = corun::spawn_named("a11", std::future::pending::<()>());
                    let id = a11.id();
                    a11.detach();
                    std::future::pending::<()>().await;
                    id
                });
                let a2 = corun::spawn_named("a2", std::future::pending::<()>());
                let ids = (a1.id(), a2.id());
                a1.detach();
                a2.detach();
                std::future::pending::<()>().await;
                ids
            });
            let b = corun::spawn_named("b", std::future::pending::<()>());
            // A task whose parent has ended.
            let mayfly = corun::spawn_named("mayfly", async {
                corun::spawn_named("orphan", std::future::pending::<()>()).id()
            });
            let mayfly_id = mayfly.id();
            let orphan = mayfly.await.unwrap();
            // Until a, a1 and a11 have each had their turn to spawn.
            for _ in 0..1000 {
                if corun::tasks().len() == 7 {
                    break;
                }
                corun::yield_now().await;
            }
            let infos = corun::tasks();
            let named = |n: &str| {
                infos
                    .iter()
                    .find(|i| i.name.as_deref() == Some(n))
                    .unwrap_or_else(|| panic!("no {n}"))
                    .id
            };
            let ids = [
                a.id(),
                named("a1"),
                named("a11"),
                named("a2"),
                b.id(),
                orphan,
                mayfly_id,
            ];
            (corun::dump(), ids)
        })
    });
    let [a, a1, a11, a2, b, orphan, mayfly] = ids;
    print!("{text}");
    let t = Table::new(text);
    assert_eq!(
        t.tree(),
        [
            "main",
            "├─ a",
            "│  ├─ a1",
            "│  │  └─ a11",
            "│  └─ a2",
            "└─ b",
            "orphan",
        ]
    );
    assert_eq!(t.cell(a1, "PARENT"), a.to_string());
    assert_eq!(t.cell(a11, "PARENT"), a1.to_string());
    assert_eq!(t.cell(a2, "PARENT"), a.to_string());
    assert_eq!(t.cell(b, "PARENT"), t.cell(a, "PARENT"));
    assert_eq!(t.cell(orphan, "PARENT"), mayfly.to_string());
}

#[test]
fn without_details_the_dump_lists_every_task_flat_and_says_what_is_missing() {
    let text = watchdog("dump without details", || {
        corun::run(async {
            let child = corun::spawn_named("child", async {
                let _grandchild = corun::spawn_named("grandchild", std::future::pending::<()>());
                std::future::pending::<()>().await
            });
            for _ in 0..1000 {
                if corun::tasks().len() == 3 {
                    break;
                }
                corun::yield_now().await;
            }
            let infos = corun::tasks();
            assert!(
                infos
                    .iter()
                    .all(|i| i.parent.is_none() && i.waiting_since.is_none())
            );
            let table = corun::dump();
            child.kill();
            table
        })
    });
    print!("{text}");
    assert!(text.contains("Builder::dump_details(true)"), "{text}");
    let t = Table::new(text);
    assert!(!t.has_column("PARENT") && !t.has_column("SINCE"));
    assert!(t.has_column("WAITS ON") && t.has_column("SPAWNED AT"));
    assert_eq!(t.tree(), ["main", "child", "grandchild"]);
}

#[test]
fn task_info_carries_parent_and_waiting_since_with_details() {
    watchdog("task info details", || {
        Builder::new()
            .dump_details(true)
            .virtual_time(true)
            .run(async {
                let main = corun::current().unwrap();
                let t0 = corun::time::now();
                let child = corun::spawn(corun::sleep(Duration::from_secs(10)));
                corun::sleep(Duration::from_secs(2)).await;
                let infos = corun::tasks();
                let me = infos.iter().find(|i| i.id == main).unwrap();
                assert_eq!(me.parent, None);
                assert_eq!(me.waiting_since, None, "the running task is not waiting");
                let c = infos.iter().find(|i| i.id == child.id()).unwrap();
                assert_eq!(c.parent, Some(main));
                let since = c.waiting_since.expect("kept with dump details");
                // On corun's (virtual) clock, to within a clock tick.
                let waited = corun::time::now() - since;
                assert!(
                    waited >= Duration::from_secs(2) && waited < Duration::from_millis(2001),
                    "{waited:?}"
                );
                assert!(since <= t0 + Duration::from_millis(1), "{since:?} {t0:?}");
            })
    });
}

#[test]
fn a_dump_covers_every_core_and_draws_parents_across_cores() {
    watchdog("dump of two cores", || {
        let sched = Builder::new().cores(2).dump_details(true).start().unwrap();
        // A parent on core 0 spawns a child on core 1.
        let (parent, child) = sched
            .spawn_on(0, || async {
                let child = corun::spawn_on(1, || async {
                    std::future::pending::<()>().await;
                })
                .unwrap();
                let id = child.id();
                child.detach();
                (corun::current().unwrap(), id)
            })
            .map(|t| sched.block_on(t).unwrap().unwrap())
            .unwrap();
        // Spawned from this thread, which runs no task: no parent.
        let lone = sched.spawn_on(1, std::future::pending::<()>).unwrap().id();
        let text = sched.dump().unwrap();
        print!("{text}");
        assert!(
            text.starts_with("corun dump: 2 tasks on 2 cores\n"),
            "{text}"
        );
        let t = Table::new(text);
        // The spawner itself ended: its child is a root naming it.
        assert_eq!(t.cell(child, "CORE"), "1");
        assert_eq!(t.cell(child, "PARENT"), parent.to_string());
        assert_eq!(t.cell(lone, "PARENT"), "-");
        assert_eq!(t.cell(lone, "CORE"), "1");

        // Inside a task: the blocking form refuses, the async forms answer.
        let s = sched.clone();
        let (refused, all, here, everywhere) = sched
            .spawn_on(0, move || async move {
                let refused = matches!(s.dump(), Err(SchedulerError::OnSchedulerThread));
                let all = s.dump_async().await.unwrap();
                (refused, all, corun::dump(), corun::dump_all().await)
            })
            .map(|t| sched.block_on(t).unwrap().unwrap())
            .unwrap();
        assert!(refused);
        // (`block_on` adds a task of its own, on a core of its choosing.)
        for table in [&all, &everywhere] {
            assert!(
                table.lines().next().unwrap().ends_with(" on 2 cores"),
                "{table}"
            );
            let t = Table::new(table.clone());
            assert_eq!(t.cell(child, "PARENT"), parent.to_string());
            assert_eq!(t.cell(lone, "CORE"), "1");
        }
        assert!(
            here.lines().next().unwrap().ends_with(" on core 0 of 2"),
            "{here}"
        );
        let t = Table::new(here);
        assert!(t.rows().iter().all(|r| r[t.span("CORE").1 - 1] == '0'));
        sched.shutdown().unwrap();
    });
}

#[test]
fn a_child_on_another_core_sits_under_its_living_parent() {
    watchdog("tree across cores", || {
        let sched = Builder::new().cores(2).dump_details(true).start().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let parent = sched
            .spawn_on(0, move || async move {
                let child = corun::spawn_on(1, || async {
                    std::future::pending::<()>().await;
                })
                .unwrap();
                tx.send(child.id()).unwrap();
                child.await.ok();
            })
            .unwrap()
            .id();
        let child = rx.recv_timeout(common::WATCHDOG).unwrap();
        let text = sched.dump().unwrap();
        print!("{text}");
        let t = Table::new(text);
        assert_eq!(t.cell(parent, "TASK"), "(unnamed)");
        assert_eq!(t.cell(child, "TASK"), "└─ (unnamed)");
        assert_eq!(t.cell(child, "CORE"), "1");
        sched.shutdown().unwrap();
    });
}

#[test]
fn a_one_core_scheduler_dumps_on_its_own_thread_and_from_outside() {
    watchdog("dump of one core", || {
        let sched = corun::Scheduler::start().unwrap();
        sched
            .spawn_named("napper", corun::sleep(Duration::from_secs(3600)))
            .unwrap()
            .detach();
        let text = sched.dump().unwrap();
        assert!(text.starts_with("corun dump: 1 task on 1 core\n"), "{text}");
        assert!(text.contains("not kept"), "{text}");
        let s = sched.clone();
        let inside = sched.block_on(async move { s.dump() }).unwrap().unwrap();
        assert!(
            inside.starts_with("corun dump: 2 tasks on 1 core\n"),
            "{inside}"
        );
        sched.shutdown().unwrap();
    });
}

#[test]
fn details_stay_with_tasks_that_outlive_thousands_of_others() {
    watchdog("details of long-lived tasks", || {
        Builder::new()
            .dump_details(true)
            .virtual_time(true)
            .run(async {
                let main = corun::current().unwrap();
                let keep: Vec<_> = (0..5)
                    .map(|_| corun::spawn(std::future::pending::<()>()))
                    .collect();
                corun::yield_now().await; // they start waiting
                let t0 = corun::time::now();
                corun::sleep(Duration::from_secs(1)).await;
                // Thousands of short tasks after them: the places the
                // scheduler keeps its tasks in move on and are tidied.
                for _ in 0..4 {
                    let batch: Vec<_> = (0..1024).map(|_| corun::spawn(async {})).collect();
                    corun::join_all(batch).await;
                }
                let now = corun::time::now();
                let infos = corun::tasks();
                assert_eq!(infos.len(), 6);
                for k in &keep {
                    let i = infos.iter().find(|i| i.id == k.id()).unwrap();
                    assert_eq!(i.parent, Some(main), "{i}");
                    let waited = now - i.waiting_since.unwrap();
                    assert!(
                        waited >= now - t0 && waited < now - t0 + Duration::from_millis(1),
                        "{waited:?}"
                    );
                }
            })
    });
}
