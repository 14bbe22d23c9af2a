//! The sleep scaling chart: one SVG with two panels, tasks (N) against
//! overhead (wall − sleep) and tasks against RSS per task, a line per
//! runtime, log-scaled N. Drawn with plotters' SVG backend only.
//!
//! Reads finished rows; never runs anything.

use std::path::Path;

use plotters::prelude::*;

use crate::plan::Runtime;
use crate::report::{Outcome, Row};

/// Smallest overhead drawn (log axis), s.
const OVERHEAD_FLOOR: f64 = 1e-4;

/// Points of one runtime: (N, overhead s, RSS per task B).
type Series = Vec<(f64, f64, f64)>;

fn color(rt: Runtime) -> RGBColor {
    match rt {
        Runtime::Corun => RGBColor(214, 39, 40),
        Runtime::Thread => RGBColor(127, 127, 127),
        Runtime::TokioCt => RGBColor(31, 119, 180),
        Runtime::TokioMt => RGBColor(23, 190, 207),
        Runtime::Smol => RGBColor(44, 160, 44),
        Runtime::May => RGBColor(148, 103, 189),
        Runtime::Monoio => RGBColor(255, 127, 14),
        Runtime::Glommio => RGBColor(140, 86, 75),
        // Never drawn: the reference row runs httpd only.
        Runtime::Epoll => RGBColor(0, 0, 0),
    }
}

fn series(rows: &[Row]) -> Vec<(Runtime, Series)> {
    let mut out: Vec<(Runtime, Series)> = Vec::new();
    for r in rows.iter().filter(|r| r.cell.kind == "sleep") {
        if let Outcome::Ok(n, _) = &r.outcome {
            let p = (r.cell.n as f64, n.headline, n.per_op);
            match out.iter_mut().find(|(rt, _)| *rt == r.cell.runtime) {
                Some((_, s)) => s.push(p),
                None => out.push((r.cell.runtime, vec![p])),
            }
        }
    }
    for (_, s) in &mut out {
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Draws the chart into `path`. Returns Ok(false) when there is nothing to
/// draw (no successful sleep rows).
pub fn draw(rows: &[Row], path: &Path) -> Result<bool, String> {
    let data = series(rows);
    if data.is_empty() {
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let pts = data.iter().flat_map(|(_, s)| s.iter());
    let (mut nmin, mut nmax, mut omax, mut rmax) = (f64::MAX, 0f64, 0f64, 0f64);
    for &(n, o, r) in pts {
        nmin = nmin.min(n);
        nmax = nmax.max(n);
        omax = omax.max(o);
        rmax = rmax.max(r);
    }
    // Keep the log axis valid even with one size.
    let (nlo, nhi) = (nmin / 2.0, nmax * 2.0);
    let root = SVGBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let panels = root.split_evenly((1, 2));
    // Both y axes are log-scaled: threads and stackful coroutines cost
    // ~20× what a future does, and overhead spans milliseconds to seconds.
    let lo = |k: fn(&(f64, f64, f64)) -> f64| {
        data.iter()
            .flat_map(|(_, s)| s.iter().map(k))
            .fold(f64::MAX, f64::min)
    };
    let olo = (lo(|p| p.1) / 2.0).max(OVERHEAD_FLOOR);
    let rlo = (lo(|p| p.2) / 2.0).max(1.0);
    let x = (nlo, nhi);
    panel(
        &panels[0],
        &data,
        0,
        "sleep: overhead (wall − sleep)",
        "overhead, s (log)",
        x,
        (olo, (omax * 2.0).max(olo * 10.0)),
    )?;
    panel(
        &panels[1],
        &data,
        1,
        "sleep: RSS per task",
        "bytes per task (log)",
        x,
        (rlo, (rmax * 2.0).max(rlo * 10.0)),
    )?;
    root.present().map_err(|e| e.to_string())?;
    Ok(true)
}

/// Draws one panel: `which` 0 plots overhead, 1 plots RSS per task. The
/// legend goes where the data is not (threads and may sit top-left).
fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    data: &[(Runtime, Series)],
    which: usize,
    title: &str,
    ylabel: &str,
    x: (f64, f64),
    y: (f64, f64),
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x.0..x.1).log_scale(), (y.0..y.1).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("tasks (N)")
        .y_desc(ylabel)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| err(&e))?;
    for (rt, s) in data {
        let c = color(*rt);
        let pts: Vec<(f64, f64)> = s
            .iter()
            .map(|&(n, o, r)| (n, if which == 0 { o.max(OVERHEAD_FLOOR) } else { r }))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(rt.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, c.filled())))
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(if which == 0 {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::MiddleRight
        })
        .draw()
        .map_err(|e| err(&e))?;
    Ok(())
}
