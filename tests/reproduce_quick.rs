//! The quick grids' known answers (issue 6). Minutes of training, so `#[ignore]`d:
//! `cargo test --release --test reproduce_quick -- --ignored --nocapture`.

use relucert::experiments::{self, Figure, Grid, RunSpec, ScheduleChoice, Shard};

fn run_quick(figure: Figure) -> (Vec<experiments::SummaryRow>, f64) {
    let dir = tempfile::tempdir().unwrap();
    let grid = Grid::paper(figure, true, ScheduleChoice::Paper);
    let start = std::time::Instant::now();
    let g = grid.clone();
    let run = move |s: &RunSpec| experiments::run_one(s, &g, 1);
    let out = experiments::sweep(dir.path(), figure, &grid, Shard::ALL, 2, &run, &mut |_| {}).unwrap();
    assert_eq!(out.missing, 0);
    let secs = start.elapsed().as_secs_f64();
    let recs = experiments::read_records(dir.path()).unwrap().records;
    assert!(recs.iter().all(|r| r.accuracy == 1.0 && r.log10_loss <= -30.0), "every run converged");
    let rows = experiments::summarize(&recs, figure.group_kind());
    for r in &rows {
        println!(
            "{} {} d={} m={} c*={:.4}±{:.4} √d={:.3} on-margin={:.3}",
            r.group_kind.name(), r.group, r.d, r.m, r.c_star_mean, r.c_star_std, r.sqrt_d, r.on_margin_fraction_mean
        );
    }
    println!("{} quick grid: {} runs in {secs:.1} s", figure.name(), recs.len());
    (rows, secs)
}

#[test]
#[ignore]
fn fig1a_quick_known_answers() {
    let (rows, _) = run_quick(Figure::Fig1a);
    for r in &rows {
        assert_eq!(r.c_star_infinite, 0);
        assert!(r.c_star_mean < 0.75 * r.sqrt_d, "c* {} not well below √d {} (α {}, d {})", r.c_star_mean, r.sqrt_d, r.group, r.d);
        if r.group == 0.5 {
            assert_eq!(r.on_margin_fraction_mean, 1.0, "α = 0.5, d = {}: every sample on the margin", r.d);
        } else {
            assert!(r.on_margin_fraction_mean >= 0.9, "α = {}, d = {}: {} on the margin", r.group, r.d, r.on_margin_fraction_mean);
        }
    }
}

#[test]
#[ignore]
fn fig1b_quick_known_answers() {
    let (rows, _) = run_quick(Figure::Fig1b);
    let dims: Vec<usize> = {
        let mut d: Vec<usize> = rows.iter().map(|r| r.d).collect();
        d.dedup();
        d.sort();
        d.dedup();
        d
    };
    for d in dims {
        let at: Vec<&experiments::SummaryRow> = rows.iter().filter(|r| r.d == d).collect();
        let mean = at.iter().map(|r| r.c_star_mean).sum::<f64>() / at.len() as f64;
        for r in &at {
            assert!(r.c_star_mean < r.sqrt_d, "width {}, d {}: c* {} ≥ √d", r.group, d, r.c_star_mean);
            // Widths agree within one standard deviation (of the width's own seeds, or
            // the spread across widths when that is larger).
            let spread = at.iter().map(|q| q.c_star_std).fold(0.0, f64::max);
            assert!((r.c_star_mean - mean).abs() <= spread.max(1e-12), "width {} at d {}: c* {} vs mean {} (std {})", r.group, d, r.c_star_mean, mean, spread);
        }
    }
}
