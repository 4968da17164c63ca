//! SVG plots of summary rows in the paper's layout (plotters' SVG backend): c* against
//! d with error bars and the √d line for Figures 1(a)/(b), and the two on-margin panels
//! of Figure 2 (docs/radius.md defines c*).

use std::path::Path;

use super::summary::{GroupKind, SummaryRow};
use super::{ExpError, Figure};

/// Draws the figure from summary rows into an SVG file, in the paper's layout:
/// Figures 1(a)/(b) plot c* (mean ± std over seeds) against d, one line per α or width,
/// with the √d line; Figure 2 plots (a) the fraction on the margin and (b) the number
/// of samples off the margin.
pub fn plot(path: &Path, figure: Figure, rows: &[SummaryRow]) -> Result<(), ExpError> {
    plot_inner(path, figure, rows).map_err(|e| ExpError::Plot { path: path.to_path_buf(), detail: e.to_string() })
}

fn plot_inner(path: &Path, figure: Figure, rows: &[SummaryRow]) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let width = if figure == Figure::Fig2 { 1100 } else { 640 };
        let root = SVGBackend::with_string(&mut svg, (width, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let groups: Vec<f64> = {
            let mut g: Vec<f64> = rows.iter().map(|r| r.group).collect();
            g.sort_by(f64::total_cmp);
            g.dedup();
            g
        };
        let d_max = rows.iter().map(|r| r.d).max().unwrap_or(1) as f64;
        let d_min = rows.iter().map(|r| r.d).min().unwrap_or(0) as f64;
        let x_range = (d_min * 0.9)..(d_max * 1.05);
        let label = |g: f64| match rows.first().map(|r| r.group_kind) {
            Some(GroupKind::Width) => format!("width {g}"),
            _ => format!("m = d^{g}"),
        };
        let panels: Vec<(&str, DrawingArea<SVGBackend, plotters::coord::Shift>)> = if figure == Figure::Fig2 {
            let (a, b) = root.split_horizontally(550);
            vec![("(a) fraction of samples on the margin", a), ("(b) samples not on the margin", b)]
        } else {
            vec![(if figure == Figure::Fig1a { "Figure 1(a): c* vs d, m = d^alpha" } else { "Figure 1(b): c* vs d, m = d" }, root.clone())]
        };
        for (p, (title, area)) in panels.iter().enumerate() {
            let value = |r: &SummaryRow| -> (f64, f64) {
                match (figure, p) {
                    (Figure::Fig2, 0) => (r.on_margin_fraction_mean, 0.0),
                    (Figure::Fig2, _) => (r.off_margin_mean, 0.0),
                    _ => (r.c_star_mean, r.c_star_std),
                }
            };
            let mut y_max = rows.iter().map(|r| { let (v, s) = value(r); v + s }).filter(|v| v.is_finite()).fold(0.0f64, f64::max);
            if figure != Figure::Fig2 {
                y_max = y_max.max(d_max.sqrt());
            }
            let y_max = if figure == Figure::Fig2 && p == 0 { 1.05 } else { (y_max * 1.1).max(1e-9) };
            let mut chart = ChartBuilder::on(area)
                .caption(*title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(x_range.clone(), 0.0..y_max)?;
            let y_desc = match (figure, p) {
                (Figure::Fig2, 0) => "fraction on margin",
                (Figure::Fig2, _) => "samples not on margin",
                _ => "minimal perturbation c*",
            };
            chart.configure_mesh().x_desc("input dimension d").y_desc(y_desc).draw()?;
            for (gi, &g) in groups.iter().enumerate() {
                let color = Palette99::pick(gi).to_rgba();
                let pts: Vec<(f64, f64, f64)> = rows
                    .iter()
                    .filter(|r| r.group == g)
                    .map(|r| { let (v, s) = value(r); (r.d as f64, v, s) })
                    .filter(|(_, v, _)| v.is_finite())
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.iter().map(|&(x, y, _)| (x, y)), color.stroke_width(2)))?
                    .label(label(g))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
                chart.draw_series(pts.iter().map(|&(x, y, s)| ErrorBar::new_vertical(x, y - s, y, y + s, color.filled(), 6)))?;
            }
            if figure != Figure::Fig2 {
                let n = 50;
                let line: Vec<(f64, f64)> = (0..=n).map(|i| { let x = d_min * 0.9 + (d_max * 1.05 - d_min * 0.9) * i as f64 / n as f64; (x, x.sqrt()) }).collect();
                chart
                    .draw_series(LineSeries::new(line, BLACK.stroke_width(2)))?
                    .label("sqrt(d)")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
            }
            chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        }
        root.present()?;
    }
    crate::io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}
