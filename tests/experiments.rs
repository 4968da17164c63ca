//! Sweep machinery: grids, sharding, resuming, torn lines, foreign directories, summaries
//! and plots — with a stand-in run function, so these tests need no training.

use std::sync::atomic::{AtomicUsize, Ordering};

use relucert::experiments::{self, ExpError, Figure, Grid, RunRecord, RunSpec, ScheduleChoice, Shard};

fn fake_run(spec: &RunSpec) -> Result<RunRecord, ExpError> {
    let c = (spec.d as f64).sqrt() / 4.0 + spec.seed as f64 * 0.01;
    Ok(RunRecord {
        key: spec.key(),
        spec: spec.clone(),
        iterations: 10,
        log10_loss: -31.0,
        stop_reason: "target".into(),
        q_min: 1.0,
        normalized_margin: 0.1,
        accuracy: 1.0,
        on_margin: spec.m - 1,
        on_margin_fraction: (spec.m - 1) as f64 / spec.m as f64,
        c_star: Some(c),
        sqrt_d: (spec.d as f64).sqrt(),
        wall_seconds: 0.0,
    })
}

fn small_grid() -> Grid {
    let mut g = Grid::paper(Figure::Fig1a, true, ScheduleChoice::Fast);
    g.dims = vec![4, 9];
    g.seeds = vec![0, 1];
    g
}

#[test]
fn paper_grids_have_the_papers_shape() {
    let g = Grid::paper(Figure::Fig1a, false, ScheduleChoice::Paper);
    let runs = g.runs();
    assert_eq!(runs.len(), 10 * 5 * 5);
    assert!(runs.iter().any(|r| r.d == 1000 && r.m == 31623 && r.width == 1000));
    assert_eq!(Grid::paper(Figure::Fig2, false, ScheduleChoice::Paper), g, "Figure 2 reuses Figure 1(a)'s runs");
    let b = Grid::paper(Figure::Fig1b, false, ScheduleChoice::Paper).runs();
    assert!(b.iter().all(|r| r.m == r.d));
    assert!(b.iter().any(|r| r.width == 8000) && b.iter().any(|r| r.width == 100));
}

#[test]
fn shards_partition_the_grid_and_resume_skips_finished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let grid = small_grid();
    let total = grid.runs().len();
    let calls = AtomicUsize::new(0);
    let run = |s: &RunSpec| {
        calls.fetch_add(1, Ordering::SeqCst);
        fake_run(s)
    };
    let mut ran = 0;
    for i in 0..3 {
        let out = experiments::sweep(dir.path(), &grid, Shard { i, n: 3 }, 1 + i, &run, &mut |_| {}).unwrap();
        ran += out.ran;
    }
    assert_eq!(ran, total);
    assert_eq!(calls.load(Ordering::SeqCst), total);
    // A second pass over the whole grid runs nothing.
    let out = experiments::sweep(dir.path(), &grid, Shard::ALL, 2, &run, &mut |_| {}).unwrap();
    assert_eq!((out.ran, out.skipped, out.missing), (0, total, 0));
    assert_eq!(experiments::read_records(dir.path()).unwrap().len(), total);
}

#[test]
fn interrupted_sweep_loses_at_most_the_run_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let grid = small_grid();
    let failing = |s: &RunSpec| {
        if s.index == 2 {
            Err(ExpError::Run { key: s.key(), message: "interrupted".into() })
        } else {
            fake_run(s)
        }
    };
    assert!(experiments::sweep(dir.path(), &grid, Shard::ALL, 1, &failing, &mut |_| {}).is_err());
    assert_eq!(experiments::read_records(dir.path()).unwrap().len(), 2);
    // Simulate a torn last line from a kill during the write.
    let f = dir.path().join("runs-0-of-1.jsonl");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("{\"key\":\"d=4,a=0.5");
    std::fs::write(&f, text).unwrap();
    assert_eq!(experiments::read_records(dir.path()).unwrap().len(), 2);
    let out = experiments::sweep(dir.path(), &grid, Shard::ALL, 2, &fake_run, &mut |_| {}).unwrap();
    assert_eq!(out.ran, grid.runs().len() - 2);
    assert_eq!(experiments::read_records(dir.path()).unwrap().len(), grid.runs().len());
}

#[test]
fn foreign_directories_and_bad_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let grid = small_grid();
    experiments::prepare_dir(dir.path(), &grid).unwrap();
    let mut other = grid.clone();
    other.seeds = vec![7];
    let e = experiments::prepare_dir(dir.path(), &other).unwrap_err();
    assert!(matches!(e, ExpError::OtherGrid { .. }), "{e}");
    assert!(e.to_string().contains("seeds"));
    for s in ["3/3", "1/0", "x/2", "2", "-1/2"] {
        assert!(Shard::parse(s).is_err(), "{s}");
    }
    assert_eq!(Shard::parse("2/5").unwrap(), Shard { i: 2, n: 5 });
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(experiments::prepare_dir(&file.join("sub"), &grid).is_err());
}

#[test]
fn summary_means_and_plots() {
    let grid = small_grid();
    let recs: Vec<RunRecord> = grid.runs().iter().map(|s| fake_run(s).unwrap()).collect();
    let rows = experiments::summarize(&recs, false);
    assert_eq!(rows.len(), grid.dims.len() * grid.alphas.len());
    for r in &rows {
        assert_eq!(r.runs, 2);
        let expect = (r.d as f64).sqrt() / 4.0 + 0.005;
        assert!((r.c_star_mean - expect).abs() < 1e-12);
        assert!((r.c_star_std - 0.01 / 2f64.sqrt()).abs() < 1e-12);
    }
    let dir = tempfile::tempdir().unwrap();
    for f in [Figure::Fig1a, Figure::Fig2] {
        let p = dir.path().join(format!("{}.svg", f.name()));
        experiments::plot(&p, f, &rows).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("input dimension d"));
    }
    experiments::write_summary_csv(&dir.path().join("s.csv"), &rows).unwrap();
}
