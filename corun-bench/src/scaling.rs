//! The `cores` table's extras: each run's note (how busy the cores were,
//! the listen queue, and for corun how the work landed on its cores), and
//! the speed-up lines under the table (1-core wall ÷ 2-core wall per
//! runtime, against the target).
//!
//! Parent side, formatting only: nothing here runs workloads or decides
//! sizes.

use std::collections::BTreeMap;

use crate::plan::{Runtime, Workload};
use crate::report::{Outcome, Row};

/// The speed-up corun must reach (and at least tokio-mt's).
pub const TARGET: f64 = 1.8;

/// One cores run's note: CPU busy over the wall (in cores), the kernel's
/// share, listen overflows, and per core (corun) connections accepted and
/// idle parks.
pub fn cores_note(secs: f64, extra: &BTreeMap<String, f64>) -> String {
    let x = |k: &str| extra.get(k).copied().unwrap_or(0.0);
    let cpu = x("user_s") + x("sys_s");
    let mut s = format!(
        "busy {:.2} cores, kernel {:.0} %; listen overflows {}",
        cpu / secs.max(1e-9),
        x("sys_s") / cpu.max(1e-9) * 100.0,
        x("listen_overflows")
    );
    let per_core = |prefix: &str| {
        (0..)
            .map_while(|c| extra.get(&format!("{prefix}{c}")).copied())
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
    };
    let accepted = per_core("accepted_core");
    if !accepted.is_empty() {
        s.push_str(&format!("; accepted per core {}", accepted.join("/")));
    }
    let parks = per_core("parks_core");
    if !parks.is_empty() {
        s.push_str(&format!("; parks per core {}", parks.join("/")));
    }
    s
}

/// A runtime's speed-up: the median 1-core wall over the median 2-core
/// wall, and the range its runs allow (slowest 1-core ÷ fastest 2-core
/// at most, fastest ÷ slowest at least).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speedup {
    /// Median over median.
    pub median: f64,
    /// (least, most) the runs allow.
    pub range: (f64, f64),
}

/// The speed-up of `rt` in the cores rows, if both its cells succeeded;
/// the 2-core cell is of kind `two` (`cores`, or `cores-tuned`).
pub fn speedup(rows: &[Row], rt: Runtime, two: &str) -> Option<Speedup> {
    let wall = |cores: u64, kind: &str| {
        rows.iter()
            .find(|r| {
                r.cell.workload == Workload::Cores
                    && r.cell.runtime == rt
                    && r.cell.param == cores
                    && r.cell.kind == kind
            })
            .and_then(|r| match &r.outcome {
                Outcome::Ok(n, _) => Some((n.secs, n.spread.headline)),
                _ => None,
            })
    };
    let ((one, (one_min, one_max)), (two, (two_min, two_max))) = (wall(1, "cores")?, wall(2, two)?);
    (two > 0.0 && two_min > 0.0).then(|| Speedup {
        median: one / two,
        range: (one_min / two_max, one_max / two_min),
    })
}

/// The lines under the cores table: each runtime's speed-up and whether
/// corun meets its target.
pub fn summary(rows: &[Row]) -> String {
    let mut out = String::from("speed-up, 1-core wall ÷ 2-core wall (range over the runs):\n");
    let mut corun = None;
    let mut tokio = None;
    for rt in Runtime::ALL {
        let Some(s) = speedup(rows, rt, "cores") else {
            continue;
        };
        out.push_str(&format!(
            "  {:<9} {:.2}× ({:.2}–{:.2})\n",
            rt.name(),
            s.median,
            s.range.0,
            s.range.1
        ));
        match rt {
            Runtime::Corun => corun = Some(s.median),
            Runtime::TokioMt => tokio = Some(s.median),
            _ => {}
        }
    }
    if let Some(s) = speedup(rows, Runtime::Corun, "cores-tuned") {
        out.push_str(&format!(
            "  {:<9} {:.2}× ({:.2}–{:.2}), tuned (each client on its core's listener)\n",
            "corun", s.median, s.range.0, s.range.1
        ));
    }
    if let Some(c) = corun {
        let vs_tokio = tokio.map_or(String::new(), |t| {
            let word = if c >= t { "meets" } else { "misses" };
            format!("; {word} ≥ tokio-mt's {t:.2}×")
        });
        let word = if c >= TARGET { "meets" } else { "misses" };
        out.push_str(&format!(
            "  target: corun {word} ≥ {TARGET}× ({c:.2}×){vs_tokio}\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Numbers, Spread};

    fn row(rt: Runtime, cores: u64, secs: f64, range: (f64, f64)) -> Row {
        row_of("cores", rt, cores, secs, range)
    }

    fn row_of(kind: &str, rt: Runtime, cores: u64, secs: f64, range: (f64, f64)) -> Row {
        let cell = crate::plan::cells(&[Workload::Cores], &[rt], false)
            .into_iter()
            .find(|c| c.param == cores && c.kind == kind)
            .unwrap();
        let n = Numbers {
            secs,
            headline: secs,
            per_op: 0.0,
            peak_kb: 0.0,
            more: Default::default(),
            spread: Spread {
                runs: 3,
                headline: range,
                per_op: (0.0, 0.0),
                more: Default::default(),
            },
        };
        Row {
            cell,
            outcome: Outcome::Ok(n, String::new()),
        }
    }

    #[test]
    fn speed_up_is_one_core_wall_over_two_core_wall_with_the_runs_range() {
        let rows = [
            row(Runtime::Corun, 1, 4.0, (3.8, 4.4)),
            row(Runtime::Corun, 2, 2.0, (1.9, 2.2)),
        ];
        let s = speedup(&rows, Runtime::Corun, "cores").unwrap();
        assert_eq!(s.median, 2.0);
        assert!((s.range.0 - 3.8 / 2.2).abs() < 1e-12 && (s.range.1 - 4.4 / 1.9).abs() < 1e-12);
        assert_eq!(speedup(&rows, Runtime::TokioMt, "cores"), None);
        assert_eq!(speedup(&rows, Runtime::Corun, "cores-tuned"), None);
    }

    #[test]
    fn a_failed_cell_has_no_speed_up() {
        let mut rows = vec![row(Runtime::Corun, 1, 4.0, (4.0, 4.0))];
        let mut two = row(Runtime::Corun, 2, 2.0, (2.0, 2.0));
        two.outcome = Outcome::Fail("timeout".into());
        rows.push(two);
        assert_eq!(speedup(&rows, Runtime::Corun, "cores"), None);
    }

    #[test]
    fn the_summary_says_whether_corun_meets_both_targets() {
        let rows = [
            row(Runtime::Corun, 1, 3.4, (3.4, 3.4)),
            row(Runtime::Corun, 2, 2.0, (2.0, 2.0)),
            row(Runtime::TokioMt, 1, 5.0, (5.0, 5.0)),
            row(Runtime::TokioMt, 2, 2.5, (2.5, 2.5)),
            row_of("cores-tuned", Runtime::Corun, 2, 1.7, (1.7, 1.7)),
        ];
        let text = summary(&rows);
        assert!(
            text.contains("corun     2.00× (2.00–2.00), tuned"),
            "{text}"
        );
        assert!(text.contains("corun     1.70×"), "{text}");
        assert!(text.contains("tokio-mt  2.00×"), "{text}");
        assert!(
            text.contains("corun misses ≥ 1.8× (1.70×); misses ≥ tokio-mt's 2.00×"),
            "{text}"
        );
    }

    #[test]
    fn the_note_shows_busy_cores_and_per_core_counts() {
        let extra: BTreeMap<String, f64> = [
            ("user_s", 3.0),
            ("sys_s", 1.0),
            ("listen_overflows", 0.0),
            ("accepted_core0", 4990.0),
            ("accepted_core1", 5010.0),
            ("parks_core0", 12.0),
            ("parks_core1", 30.0),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        let note = cores_note(2.0, &extra);
        assert!(note.starts_with("busy 2.00 cores, kernel 25 %"), "{note}");
        assert!(note.contains("accepted per core 4990/5010"), "{note}");
        assert!(note.contains("parks per core 12/30"), "{note}");
    }
}
