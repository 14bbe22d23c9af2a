//! The task dump: [`TaskInfo`] snapshots of one or more cores rendered as
//! a text table for people, one row per task, ordered as a tree by parent
//! (a task under the task that spawned it, siblings by id).
//!
//! Rules of the table: columns are aligned (numbers to the right); a task
//! whose parent is not in the dump (none, ended, on a core left out, or
//! unknown because dump details are off) is a root; times are ages on the
//! clock of the task's own core, read when that core took its snapshot, so
//! a virtual clock reads right.
//!
//! This file only formats snapshots; it must not reach into schedulers or
//! tasks.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{TaskInfo, TaskState};

/// One core's snapshot, as a dump needs it.
pub(crate) struct CoreTasks {
    /// Its live tasks.
    pub(crate) tasks: Vec<TaskInfo>,
    /// The core's index.
    pub(crate) core: usize,
    /// The core's clock (virtual or real) when it took the snapshot.
    pub(crate) now: Instant,
    /// Whether it keeps parents and wait times.
    pub(crate) details: bool,
}

/// Tree levels drawn; deeper tasks are drawn at this depth, marked `⋯`.
const MAX_INDENT: usize = 24;
/// Characters of a name shown; longer names end in `…`.
const MAX_NAME: usize = 40;

/// The table of every task in `parts`, which are some of the `cores` cores
/// of one scheduler.
pub(crate) fn render(parts: &[CoreTasks], cores: usize) -> String {
    let mut all: Vec<(&TaskInfo, Instant)> = parts
        .iter()
        .flat_map(|p| p.tasks.iter().map(move |t| (t, p.now)))
        .collect();
    all.sort_by_key(|(t, _)| t.id);
    let details = !parts.is_empty() && parts.iter().all(|p| p.details);
    let busy = all.iter().any(|(t, _)| t.busy.is_some());

    let mut out = String::new();
    let n = all.len();
    let tasks = if n == 1 { "task" } else { "tasks" };
    let _ = match parts {
        [one] if cores > 1 => writeln!(
            out,
            "corun dump: {n} {tasks} on core {} of {cores}",
            one.core
        ),
        _ if cores == 1 => writeln!(out, "corun dump: {n} {tasks} on 1 core"),
        _ if parts.len() == cores => writeln!(out, "corun dump: {n} {tasks} on {cores} cores"),
        _ => writeln!(
            out,
            "corun dump: {n} {tasks} on {} of {cores} cores (the others have shut down)",
            parts.len()
        ),
    };
    if !details {
        out.push_str(
            "(parents and wait times are not kept: build the scheduler with \
             Builder::dump_details(true))\n",
        );
    }

    let mut header = vec!["TASK", "ID", "CORE", "STATE", "WAITS ON"];
    if details {
        header.push("SINCE");
    }
    header.extend(["POLLS", "LONGEST"]);
    if busy {
        header.push("BUSY");
    }
    if details {
        header.push("PARENT");
    }
    header.push("SPAWNED AT");
    let right: Vec<bool> = header
        .iter()
        .map(|h| matches!(*h, "CORE" | "POLLS"))
        .collect();

    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for (i, prefix) in tree_order(&all) {
        let (t, now) = all[i];
        let mut row = vec![
            format!("{prefix}{}", shown_name(t.name.as_deref())),
            t.id.to_string(),
            t.core.to_string(),
            state_word(&t.state).to_string(),
            waits_on(&t.state, now),
        ];
        if details {
            row.push(t.waiting_since.map_or_else(
                || "-".to_string(),
                |s| format!("{} ago", human(now.saturating_duration_since(s))),
            ));
        }
        row.push(t.polls.to_string());
        row.push(if t.longest_poll.is_zero() {
            "-".to_string()
        } else {
            human(t.longest_poll)
        });
        if busy {
            row.push(t.busy.map_or_else(|| "-".to_string(), human));
        }
        if details {
            row.push(t.parent.map_or_else(|| "-".to_string(), |p| p.to_string()));
        }
        row.push(
            t.spawned_at
                .map_or_else(|| "-".to_string(), |l| l.to_string()),
        );
        rows.push(row);
    }

    let mut widths = vec![0; header.len()];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = widths[c] - cell.chars().count();
            if right[c] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The order of the rows, each with its tree drawing: depth first from
/// the roots, children by id. Every task appears once, whatever the
/// parent links say.
fn tree_order(all: &[(&TaskInfo, Instant)]) -> Vec<(usize, String)> {
    let index: HashMap<u64, usize> = all
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (t.id.id, i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); all.len()];
    let mut roots = Vec::new();
    for (i, (t, _)) in all.iter().enumerate() {
        match t.parent.and_then(|p| index.get(&p.id)) {
            Some(&p) if p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let mut order = Vec::with_capacity(all.len());
    let mut seen = vec![false; all.len()];
    // (task, its row's drawing, the drawing its children continue from, depth)
    let mut stack: Vec<(usize, String, String, usize)> = Vec::new();
    let mut next_root = 0;
    loop {
        let Some((i, row, cont, depth)) = stack.pop() else {
            // Roots first; then anything a parent cycle kept out of reach.
            let Some(r) = roots
                .get(next_root)
                .copied()
                .or_else(|| seen.iter().position(|s| !s))
            else {
                break;
            };
            next_root += 1;
            if !seen[r] {
                stack.push((r, String::new(), String::new(), 0));
            }
            continue;
        };
        if seen[i] {
            continue;
        }
        seen[i] = true;
        order.push((i, row));
        let kids = &children[i];
        for (k, &child) in kids.iter().enumerate().rev() {
            let last = k + 1 == kids.len();
            let (row, cont) = if depth >= MAX_INDENT {
                (format!("{cont}⋯ "), cont.clone())
            } else if last {
                (format!("{cont}└─ "), format!("{cont}   "))
            } else {
                (format!("{cont}├─ "), format!("{cont}│  "))
            };
            stack.push((child, row, cont, depth + 1));
        }
    }
    order
}

/// A name as one cell: control characters escaped, long names cut.
fn shown_name(name: Option<&str>) -> String {
    let Some(name) = name else {
        return "(unnamed)".to_string();
    };
    let mut out = String::new();
    for (n, c) in name.chars().enumerate() {
        if n == MAX_NAME {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn state_word(state: &TaskState) -> &'static str {
    match state {
        TaskState::Ready => "ready",
        TaskState::Running => "running",
        TaskState::Sleeping { .. } | TaskState::SleepingForever => "sleeping",
        TaskState::Io { .. } => "io",
        TaskState::Joining(_) => "joining",
        TaskState::Idle => "idle",
    }
}

fn waits_on(state: &TaskState, now: Instant) -> String {
    match state {
        TaskState::Ready => "its turn".to_string(),
        TaskState::Running => "-".to_string(),
        TaskState::Sleeping { until } if *until > now => {
            format!("timer in {}", human(until.duration_since(now)))
        }
        TaskState::Sleeping { .. } => "timer, due".to_string(),
        TaskState::SleepingForever => "timer that never fires".to_string(),
        TaskState::Io { fd, interest } => match interest {
            crate::io::Interest::Read => format!("fd {fd} readable"),
            crate::io::Interest::Write => format!("fd {fd} writable"),
        },
        TaskState::Joining(id) => format!("task {id}"),
        TaskState::Idle => "a wake corun does not track".to_string(),
    }
}

/// A duration in the largest unit that keeps it short: `850µs`, `12.5ms`,
/// `3.2s`, `4m05s`, `2h07m`.
fn human(d: Duration) -> String {
    let us = d.as_micros();
    let s = d.as_secs();
    if d.is_zero() {
        "0s".to_string()
    } else if us < 1_000 {
        format!("{us}µs")
    } else if s == 0 {
        format!("{:.1}ms", d.as_secs_f64() * 1e3)
    } else if s < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskId;

    fn info(id: u64, parent: Option<u64>, name: &str) -> TaskInfo {
        TaskInfo {
            id: TaskId::from_u64(id),
            name: Some(name.to_string()),
            core: 0,
            state: TaskState::Idle,
            polls: 1,
            busy: None,
            longest_poll: Duration::ZERO,
            spawned_at: None,
            parent: parent.map(TaskId::from_u64),
            waiting_since: None,
        }
    }

    fn dump(tasks: Vec<TaskInfo>) -> String {
        let part = CoreTasks {
            tasks,
            core: 0,
            now: Instant::now(),
            details: true,
        };
        render(&[part], 1)
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(human(Duration::ZERO), "0s");
        assert_eq!(human(Duration::from_micros(850)), "850µs");
        assert_eq!(human(Duration::from_micros(12_500)), "12.5ms");
        assert_eq!(human(Duration::from_millis(3_200)), "3.2s");
        assert_eq!(human(Duration::from_secs(245)), "4m05s");
        assert_eq!(human(Duration::from_secs(2 * 3600 + 7 * 60)), "2h07m");
    }

    #[test]
    fn children_sit_under_their_parent_by_id() {
        let out = dump(vec![
            info(1, None, "main"),
            info(2, Some(1), "a"),
            info(3, Some(1), "b"),
            info(4, Some(2), "a1"),
            info(5, Some(99), "orphan"),
        ]);
        let names: Vec<&str> = out
            .lines()
            .skip(2)
            .map(|l| l.split("  #").next().unwrap().trim_end())
            .collect();
        assert_eq!(names, ["main", "├─ a", "│  └─ a1", "└─ b", "orphan"]);
    }

    #[test]
    fn a_parent_cycle_still_lists_every_task_once() {
        let out = dump(vec![info(1, Some(2), "x"), info(2, Some(1), "y")]);
        let tree: Vec<&str> = out
            .lines()
            .skip(2)
            .map(|l| l.split("  ").next().unwrap())
            .collect();
        assert_eq!(tree, ["x", "└─ y"]);
    }

    #[test]
    fn deep_chains_stop_indenting() {
        let tasks: Vec<TaskInfo> = (1..=100)
            .map(|i| info(i, (i > 1).then(|| i - 1), "t"))
            .collect();
        let out = dump(tasks);
        assert_eq!(out.lines().count(), 102);
        let widest = out.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest < 3 * MAX_INDENT + 120, "{widest}");
    }

    #[test]
    fn names_cannot_break_the_table() {
        let out = dump(vec![info(1, None, "two\nlines\tand tab")]);
        assert_eq!(out.lines().count(), 3);
        assert!(out.contains("two\\nlines\\tand tab"));
        let long = "x".repeat(100);
        let out = dump(vec![info(1, None, &long)]);
        assert!(out.contains(&format!("{}…", "x".repeat(MAX_NAME))));
    }
}
