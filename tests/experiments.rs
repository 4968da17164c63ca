//! Sweep machinery: grids, sharding, resuming, torn lines, foreign directories, summaries
//! and plots — with a stand-in run function, so these tests need no training.

use std::sync::atomic::{AtomicUsize, Ordering};

use relucert::experiments::{self, ExpError, Figure, GroupKind, Grid, RunRecord, RunSpec, ScheduleChoice, Shard, Warning};

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
        on_margin: Some(spec.m - 1),
        on_margin_fraction: Some((spec.m - 1) as f64 / spec.m as f64),
        c_star: Some(c),
        fig1_failure: None,
        kkt: None,
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
        let out = experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard { i, n: 3 }, 1 + i, &run, &mut |_| {}).unwrap();
        ran += out.ran;
    }
    assert_eq!(ran, total);
    assert_eq!(calls.load(Ordering::SeqCst), total);
    // A second pass over the whole grid runs nothing.
    let out = experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 2, &run, &mut |_| {}).unwrap();
    assert_eq!((out.ran, out.skipped, out.missing), (0, total, 0));
    assert_eq!(experiments::read_records(dir.path()).unwrap().records.len(), total);
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
    assert!(experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 1, &failing, &mut |_| {}).is_err());
    assert_eq!(experiments::read_records(dir.path()).unwrap().records.len(), 2);
    // Simulate a torn last line from a kill during the write.
    let f = dir.path().join("runs-0-of-1.jsonl");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("{\"key\":\"d=4,a=0.5");
    std::fs::write(&f, text).unwrap();
    assert_eq!(experiments::read_records(dir.path()).unwrap().records.len(), 2);
    let out = experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 2, &fake_run, &mut |_| {}).unwrap();
    assert_eq!(out.ran, grid.runs().len() - 2);
    assert_eq!(experiments::read_records(dir.path()).unwrap().records.len(), grid.runs().len());
}

#[test]
fn foreign_directories_and_bad_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let grid = small_grid();
    experiments::prepare_dir(dir.path(), &grid, None).unwrap();
    let mut other = grid.clone();
    other.seeds = vec![7];
    let e = experiments::prepare_dir(dir.path(), &other, None).unwrap_err();
    assert!(matches!(e, ExpError::OtherGrid { .. }), "{e}");
    assert!(e.to_string().contains("seeds"));
    for s in ["3/3", "1/0", "x/2", "2", "-1/2"] {
        assert!(Shard::parse(s).is_err(), "{s}");
    }
    assert_eq!(Shard::parse("2/5").unwrap(), Shard { i: 2, n: 5 });
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(experiments::prepare_dir(&file.join("sub"), &grid, None).is_err());
}

#[test]
fn summary_means_and_plots() {
    let grid = small_grid();
    let recs: Vec<RunRecord> = grid.runs().iter().map(|s| fake_run(s).unwrap()).collect();
    let rows = experiments::summarize(&recs, GroupKind::Alpha);
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

#[test]
fn csv_header_and_values_come_from_the_rows() {
    let grid = small_grid();
    let mut recs: Vec<RunRecord> = grid.runs().iter().map(|s| fake_run(s).unwrap()).collect();
    recs[0].c_star = None;
    let rows = experiments::summarize(&recs, GroupKind::Alpha);
    let text = experiments::summary_csv(&rows).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let json = serde_json::to_value(&rows[0]).unwrap();
    let fields: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
    let mut sorted = header.clone();
    sorted.sort();
    assert_eq!(sorted, fields, "one column per field of SummaryRow");
    assert_eq!(header[0], "group_kind");
    let lines: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(lines.len(), rows.len());
    for (line, row) in lines.iter().zip(&rows) {
        let col = |name: &str| &line[header.iter().position(|h| h == name).unwrap()];
        assert_eq!(col("group_kind"), "alpha");
        assert_eq!(col("d").parse::<usize>().unwrap(), row.d);
        assert_eq!(col("c_star_infinite").parse::<usize>().unwrap(), row.c_star_infinite);
        assert_eq!(col("c_star_mean").parse::<f64>().unwrap(), row.c_star_mean, "floats round-trip exactly");
    }
    assert_eq!(rows.iter().map(|r| r.c_star_infinite).sum::<usize>(), 1);
    assert_eq!(serde_json::to_value(GroupKind::Width).unwrap(), "width");
}

#[test]
fn a_failed_figure1_measurement_is_counted_not_averaged() {
    let grid = small_grid();
    let mut recs: Vec<RunRecord> = grid.runs().iter().map(|s| fake_run(s).unwrap()).collect();
    // The first run of the first group failed: no c*, no on-margin count, a reason.
    let first = &mut recs[0];
    let (group_d, group_alpha) = (first.spec.d, first.spec.alpha);
    first.c_star = None;
    first.on_margin = None;
    first.on_margin_fraction = None;
    first.fig1_failure = Some("the network does not separate the data".into());
    let line = serde_json::to_value(&recs[0]).unwrap();
    assert!(line["c_star"].is_null() && line["on_margin"].is_null());
    assert_eq!(line["fig1_failure"], "the network does not separate the data");
    // A measured run writes no failure field (its line is as before).
    assert!(serde_json::to_value(&recs[1]).unwrap().get("fig1_failure").is_none());
    let rows = experiments::summarize(&recs, GroupKind::Alpha);
    let row = rows.iter().find(|r| r.d == group_d && Some(r.group) == group_alpha).unwrap();
    assert_eq!((row.runs, row.failed, row.c_star_infinite), (2, 1, 0));
    // Only seed 1 is left: its own c* and margin fraction, deviation 0.
    let seed1 = fake_run(&grid.runs()[1]).unwrap();
    assert_eq!(row.c_star_mean, seed1.c_star.unwrap());
    assert_eq!(row.c_star_std, 0.0);
    assert_eq!(row.on_margin_fraction_mean, seed1.on_margin_fraction.unwrap());
    assert!(rows.iter().filter(|r| r.d != group_d || Some(r.group) != group_alpha).all(|r| r.failed == 0));
}

#[test]
fn run_one_records_a_failed_measurement_with_its_reason() {
    // One gradient step cannot separate 12 random points: Figure 1 has no on-margin
    // set, which must be a recorded failure, not c* = ∞.
    let mut grid = Grid::paper(Figure::Fig1b, true, ScheduleChoice::Paper);
    grid.dims = vec![12];
    grid.widths = vec![3];
    grid.seeds = vec![1];
    grid.max_iters = 1;
    let spec = &grid.runs()[0];
    let rec = experiments::run_one(spec, &grid, 1).unwrap();
    assert!(rec.accuracy < 1.0, "the premise: training did not separate (accuracy {})", rec.accuracy);
    assert!(rec.fig1_failure.as_deref().is_some_and(|w| !w.is_empty()), "{rec:?}");
    assert_eq!((rec.c_star, rec.on_margin, rec.on_margin_fraction), (None, None, None));
    let rows = experiments::summarize(&[rec], GroupKind::Width);
    assert_eq!((rows[0].failed, rows[0].c_star_infinite), (1, 0));
    assert!(rows[0].c_star_mean.is_nan());
}

#[test]
fn a_second_lock_on_a_shard_is_refused_and_other_shards_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let (first, warning) = experiments::ShardFile::open(dir.path(), Shard { i: 0, n: 2 }).unwrap();
    assert!(warning.is_none(), "{warning:?}");
    let e = experiments::ShardFile::open(dir.path(), Shard { i: 0, n: 2 }).unwrap_err();
    assert!(matches!(e, ExpError::Locked { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("runs-0-of-2.jsonl") && msg.contains("another sweep") && !msg.contains('\n'), "{msg}");
    // Another shard of the same directory is not blocked.
    let other = experiments::ShardFile::open(dir.path(), Shard { i: 1, n: 2 });
    assert!(other.is_ok());
    drop(first);
    assert!(experiments::ShardFile::open(dir.path(), Shard { i: 0, n: 2 }).is_ok(), "the lock ends with its holder");
}

#[test]
fn a_sweep_refuses_a_shard_that_another_sweep_is_running() {
    let dir = tempfile::tempdir().unwrap();
    let grid = small_grid();
    let total = grid.runs().len();
    let nested_calls = AtomicUsize::new(0);
    // While the outer sweep runs its first job, start a second sweep of the same shard
    // (refused before running anything) and one of another shard layout (allowed).
    let run = |s: &RunSpec| {
        if s.index == 0 {
            let inner = experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 1, &|_: &RunSpec| {
                nested_calls.fetch_add(1, Ordering::SeqCst);
                Err(ExpError::Run { key: "x".into(), message: "must not run".into() })
            }, &mut |_| {});
            assert!(matches!(inner, Err(ExpError::Locked { .. })), "{inner:?}");
        }
        fake_run(s)
    };
    let out = experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 1, &run, &mut |_| {}).unwrap();
    assert_eq!(out.ran, total);
    assert_eq!(nested_calls.load(Ordering::SeqCst), 0, "the refused sweep ran nothing");
    let recs = experiments::read_records(dir.path()).unwrap();
    assert_eq!(recs.records.len(), total);
    assert!(recs.warnings.is_empty());
}

#[test]
fn a_damaged_line_inside_a_file_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let grid = small_grid();
    let runs = grid.runs();
    experiments::prepare_dir(dir.path(), &grid, Some(Figure::Fig1a)).unwrap();
    // Two good records around a torn one (an old interrupted write that was appended to).
    let line = |i: usize| serde_json::to_string(&fake_run(&runs[i]).unwrap()).unwrap();
    let torn = &line(1)[..40];
    let f = dir.path().join("runs-0-of-1.jsonl");
    std::fs::write(&f, format!("{}\n{torn}{}\n{}\n", line(0), line(2), line(3))).unwrap();
    let read = experiments::read_records(dir.path()).unwrap();
    let keys: Vec<&str> = read.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, [runs[0].key(), runs[3].key()]);
    assert_eq!(read.warnings.len(), 1);
    assert!(matches!(&read.warnings[0], Warning::SkippedLine { line: 2, .. }), "{:?}", read.warnings);
    // A sweep carries on: reports the warning, reruns the two lost runs, and finishes.
    let mut warnings = Vec::new();
    let out = experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 2, &fake_run, &mut |ev| {
        if let experiments::SweepEvent::Warning(w) = ev {
            warnings.push(w.to_string());
        }
    })
    .unwrap();
    assert_eq!((out.ran, out.skipped, out.missing), (runs.len() - 2, 2, 0));
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("line 2") && warnings[0].contains("skipped"), "{}", warnings[0]);
    let fin = experiments::merge(dir.path(), None).unwrap();
    assert_eq!((fin.runs, fin.missing, fin.warnings.len()), (runs.len(), 0, 1));
}

#[test]
fn a_whole_last_record_without_its_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let grid = small_grid();
    let runs = grid.runs();
    experiments::prepare_dir(dir.path(), &grid, Some(Figure::Fig1a)).unwrap();
    let f = dir.path().join("runs-0-of-1.jsonl");
    std::fs::write(&f, serde_json::to_string(&fake_run(&runs[0]).unwrap()).unwrap()).unwrap();
    assert_eq!(experiments::read_records(dir.path()).unwrap().records.len(), 1);
    let out = experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 1, &fake_run, &mut |_| {}).unwrap();
    assert_eq!((out.ran, out.skipped), (runs.len() - 1, 1));
    let read = experiments::read_records(dir.path()).unwrap();
    assert_eq!((read.records.len(), read.warnings.len()), (runs.len(), 0));
}

fn sweep_dir(figure: Figure) -> (tempfile::TempDir, Grid) {
    let dir = tempfile::tempdir().unwrap();
    let mut grid = Grid::paper(figure, true, ScheduleChoice::Fast);
    grid.dims.truncate(2);
    grid.seeds = vec![0, 1];
    (dir, grid)
}

#[test]
fn merge_draws_the_figure_that_was_swept() {
    for figure in [Figure::Fig1a, Figure::Fig1b, Figure::Fig2] {
        let (dir, grid) = sweep_dir(figure);
        // Two shards, as on a cluster; the merge finds both.
        for i in 0..2 {
            experiments::sweep(dir.path(), figure, &grid, Shard { i, n: 2 }, 1, &fake_run, &mut |_| {}).unwrap();
        }
        let fin = experiments::merge(dir.path(), None).unwrap();
        assert_eq!(fin.figure, figure);
        assert_eq!((fin.runs, fin.missing), (grid.runs().len(), 0));
        let svg = std::fs::read_to_string(fin.svg.as_ref().unwrap()).unwrap();
        assert!(fin.svg.as_ref().unwrap().ends_with(format!("{}.svg", figure.name())));
        match figure {
            Figure::Fig2 => assert!(svg.contains("fraction of samples on the margin") && !svg.contains("c* vs d")),
            Figure::Fig1a => assert!(svg.contains("Figure 1(a)")),
            Figure::Fig1b => assert!(svg.contains("Figure 1(b)") && svg.contains("width 25")),
        }
        assert_eq!(fin.rows[0].group_kind, figure.group_kind());
        let merged = std::fs::read_to_string(&fin.merged).unwrap();
        assert_eq!(merged.lines().count(), grid.runs().len());
    }
}

#[test]
fn merge_never_guesses_between_figures_that_share_a_grid() {
    let (dir, grid) = sweep_dir(Figure::Fig1a);
    experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 1, &fake_run, &mut |_| {}).unwrap();
    // Figure 2 asked of the same directory reuses every run, and is recorded too.
    let out = experiments::sweep(dir.path(), Figure::Fig2, &grid, Shard::ALL, 1, &fake_run, &mut |_| {}).unwrap();
    assert_eq!((out.ran, out.skipped), (0, grid.runs().len()));
    assert_eq!(experiments::read_saved_grid(dir.path()).unwrap().figures, [Figure::Fig1a, Figure::Fig2]);
    let e = experiments::merge(dir.path(), None).unwrap_err();
    assert!(matches!(&e, ExpError::AmbiguousFigure { .. }) && e.to_string().contains("--figure"), "{e}");
    assert_eq!(experiments::merge(dir.path(), Some(Figure::Fig2)).unwrap().figure, Figure::Fig2);
    let e = experiments::merge(dir.path(), Some(Figure::Fig1b)).unwrap_err();
    assert!(matches!(e, ExpError::WrongFigure { .. }), "{e}");

    // A grid.json written before figures were recorded: Figure 1(b)'s grid is
    // unambiguous, Figure 1(a)'s needs the figure named.
    for (figure, inferred) in [(Figure::Fig1b, Some(Figure::Fig1b)), (Figure::Fig1a, None)] {
        let (dir, grid) = sweep_dir(figure);
        experiments::sweep(dir.path(), figure, &grid, Shard::ALL, 1, &fake_run, &mut |_| {}).unwrap();
        let path = dir.path().join("grid.json");
        let mut old: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("figures");
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        assert!(experiments::read_saved_grid(dir.path()).unwrap().figures.is_empty());
        match inferred {
            Some(f) => assert_eq!(experiments::merge(dir.path(), None).unwrap().figure, f),
            None => {
                assert!(matches!(experiments::merge(dir.path(), None), Err(ExpError::AmbiguousFigure { .. })));
                assert_eq!(experiments::merge(dir.path(), Some(Figure::Fig2)).unwrap().figure, Figure::Fig2);
            }
        }
    }
}

#[test]
fn a_two_run_grid_trains_and_measures() {
    // The real run function on a 2-run grid (seconds): both runs separate their data,
    // reach the target loss and give a finite c* below √d.
    let mut grid = Grid::paper(Figure::Fig1a, true, ScheduleChoice::Fast);
    grid.dims = vec![10];
    grid.alphas = vec![1.0];
    grid.widths = vec![20];
    grid.seeds = vec![0, 1];
    let dir = tempfile::tempdir().unwrap();
    let g = grid.clone();
    let run = move |s: &RunSpec| experiments::run_one(s, &g, 1);
    let out = experiments::sweep(dir.path(), Figure::Fig1a, &grid, Shard::ALL, 2, &run, &mut |_| {}).unwrap();
    assert_eq!((out.ran, out.missing), (2, 0));
    let fin = experiments::merge(dir.path(), None).unwrap();
    assert_eq!(fin.rows.len(), 1);
    let row = &fin.rows[0];
    assert_eq!((row.runs, row.failed, row.c_star_infinite), (2, 0, 0));
    assert!(row.c_star_mean > 0.0 && row.c_star_mean < row.sqrt_d, "{row:?}");
    for r in experiments::read_records(dir.path()).unwrap().records {
        assert_eq!(r.accuracy, 1.0);
        assert!(r.log10_loss <= -30.0 && r.fig1_failure.is_none(), "{r:?}");
        assert!(r.on_margin.is_some_and(|k| (1..=10).contains(&k)));
    }
}

fn relucert(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_relucert")).args(args).output().unwrap()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_binary_sweeps_a_shard_and_merges_each_figure() {
    // Shards of the quick grids that hold one or two runs (fast schedule: seconds).
    for (figure, shard, runs) in [("fig2", "0/27", 1), ("fig1b", "0/18", 2), ("fig1a", "0/27", 1)] {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("sweep");
        let d = out_dir.to_str().unwrap();
        let rep = json_of(&relucert(&["reproduce", figure, "--quick", "--schedule", "fast", "--shard", shard, "--out", d, "--json"]));
        assert_eq!(rep["figure"], figure);
        assert_eq!(rep["ran"], runs);
        let merged = json_of(&relucert(&["reproduce", "merge", d, "--json"]));
        assert_eq!(merged["figure"], figure, "merge draws the figure that was swept");
        assert_eq!((merged["ran"].as_u64(), merged["missing"].as_u64()), (Some(0), rep["missing"].as_u64()));
        assert!(out_dir.join(format!("{figure}.svg")).exists());
        let rows = merged["rows"].as_array().unwrap();
        assert_eq!(rows.iter().map(|r| r["runs"].as_u64().unwrap()).sum::<u64>(), runs);
        assert_eq!(rows[0]["group_kind"], if figure == "fig1b" { "width" } else { "alpha" });
    }
}

#[test]
fn the_binary_refuses_a_shard_in_use_and_an_ambiguous_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let grid = Grid::paper(Figure::Fig1a, true, ScheduleChoice::Fast);
    experiments::prepare_dir(dir.path(), &grid, None).unwrap();
    // This test holds shard 0/27's lock, as a running sweep would.
    let (_held, _) = experiments::ShardFile::open(dir.path(), Shard { i: 0, n: 27 }).unwrap();
    let out = relucert(&["reproduce", "fig1a", "--quick", "--schedule", "fast", "--shard", "0/27", "--out", d]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("runs-0-of-27.jsonl") && err.contains("another sweep"), "{err}");
    // No figure recorded for a Figure 1(a)/2 grid: merge asks which one.
    let out = relucert(&["reproduce", "merge", d]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--figure") && err.contains("fig1a and fig2"), "{err}");
    let rep = json_of(&relucert(&["reproduce", "merge", d, "--figure", "fig2", "--json"]));
    assert_eq!(rep["figure"], "fig2");
}

#[test]
fn kkt_point_statistics_sit_beside_the_trained_ones() {
    let grid = small_grid();
    let recs: Vec<RunRecord> = grid
        .runs()
        .iter()
        .map(|s| {
            let mut r = fake_run(s).unwrap();
            // Seed 0 polished to a KKT point where every sample is on the margin and c*
            // is half the trained one; seed 1's polish failed.
            r.kkt = Some(experiments::KktPoint {
                polish_status: if s.seed == 0 { "kkt" } else { "stalled" }.into(),
                eps_rel: (s.seed == 0).then_some(1e-10),
                distance: (s.seed == 0).then_some(0.25),
                c_star: (s.seed == 0).then(|| r.c_star.unwrap() / 2.0),
                on_margin: (s.seed == 0).then_some(s.m),
                on_margin_fraction: (s.seed == 0).then_some(1.0),
                failure: (s.seed != 0).then(|| "polish: stalled".to_string()),
                seconds: 0.0,
            });
            r
        })
        .collect();
    let rows = experiments::summarize(&recs, GroupKind::Alpha);
    for row in &rows {
        let seed0 = recs.iter().find(|r| r.spec.d == row.d && r.spec.alpha == Some(row.group) && r.spec.seed == 0).unwrap();
        assert_eq!((row.runs, row.failed), (2, 0), "the trained statistics are unchanged");
        assert_eq!((row.kkt_certified, row.kkt_failed, row.kkt_c_star_infinite), (Some(1), Some(1), Some(0)));
        assert_eq!(row.kkt_c_star_mean, Some(seed0.c_star.unwrap() / 2.0));
        assert_eq!((row.kkt_c_star_std, row.kkt_on_margin_fraction_mean, row.kkt_off_margin_mean), (Some(0.0), Some(1.0), Some(0.0)));
        assert_eq!(row.kkt_distance_mean, Some(0.25));
        let k = row.at_kkt().unwrap();
        assert_eq!((k.c_star_mean, k.failed, k.on_margin_fraction_mean), (seed0.c_star.unwrap() / 2.0, 1, 1.0));
    }
    let text = experiments::summary_csv(&rows).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.ends_with("kkt_off_margin_mean,kkt_distance_mean"), "{header}");
    assert!(text.lines().all(|l| l.split(',').count() == header.split(',').count()));
    // Without KKT measurements the rows carry no kkt_* fields at all.
    let plain = experiments::summarize(&[fake_run(&grid.runs()[0]).unwrap()], GroupKind::Alpha);
    assert!(plain[0].at_kkt().is_none());
    assert!(serde_json::to_value(&plain[0]).unwrap().as_object().unwrap().keys().all(|k| !k.starts_with("kkt")));
    // finish draws the figure at the KKT points too.
    let dir = tempfile::tempdir().unwrap();
    experiments::prepare_dir(dir.path(), &grid, Some(Figure::Fig2)).unwrap();
    let (mut file, _) = experiments::ShardFile::open(dir.path(), Shard::ALL).unwrap();
    for r in &recs {
        file.append(r).unwrap();
    }
    drop(file);
    let fin = experiments::merge(dir.path(), None).unwrap();
    assert!(fin.svg_kkt.as_ref().is_some_and(|p| p.ends_with("fig2-kkt.svg") && p.exists()));
}

#[test]
fn a_run_is_measured_at_its_polished_kkt_point_too() {
    let mut grid = Grid::paper(Figure::Fig1a, true, ScheduleChoice::Fast);
    grid.dims = vec![10];
    grid.alphas = vec![1.0];
    grid.widths = vec![20];
    grid.seeds = vec![0];
    grid.at = experiments::At::Both;
    let rec = experiments::run_one(&grid.runs()[0], &grid, 1).unwrap();
    let k = rec.kkt.as_ref().unwrap();
    eprintln!("{k:?}");
    assert_eq!(k.polish_status, "kkt", "{k:?}");
    assert!(k.eps_rel.is_some_and(|e| e <= 1e-8) && k.failure.is_none(), "{k:?}");
    let (c, n) = (k.c_star.unwrap(), k.on_margin.unwrap());
    assert!(c > 0.0 && c < rec.sqrt_d && (1..=10).contains(&n));
    // The same point measured independently: polish again and take Figure 1 there.
    let data = relucert::Generator::Sphere.generate(10, 10, 0).unwrap();
    let init = relucert::train::init_net(10, 20, true, 0, 1.0).unwrap();
    let mut ts = experiments::train_settings(&grid);
    ts.threads = 1;
    let net = relucert::train::train(&data, init, &ts, &mut |_| {}).unwrap().net;
    let star = relucert::polish::polish(&net, &data, &Default::default()).unwrap().net.unwrap();
    let f = relucert::radius::fig1(&star, &data, 0.1).unwrap();
    assert_eq!((f.c_star, f.on_margin.len()), (c, n));
    assert!(grid.at.includes_kkt() && serde_json::to_value(&grid).unwrap()["at"] == "both");
}

#[test]
fn the_binary_measures_at_kkt_points_with_at_both() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let rep = json_of(&relucert(&["reproduce", "fig2", "--quick", "--schedule", "fast", "--shard", "0/27", "--at", "both", "--out", d, "--json"]));
    let row = &rep["rows"][0];
    assert_eq!(row["runs"], 1);
    assert_eq!(row["kkt_certified"], 1, "{row}");
    assert_eq!((row["failed"].as_u64(), row["kkt_failed"].as_u64()), (Some(0), Some(0)));
    assert!(row["kkt_c_star_mean"].as_f64().is_some_and(|c| c > 0.0) && row["kkt_on_margin_fraction_mean"].as_f64().is_some());
    assert!(rep["plot_kkt"].as_str().is_some_and(|p| p.ends_with("fig2-kkt.svg")));
    // Another --at on the same directory is another grid.
    let out = relucert(&["reproduce", "fig2", "--quick", "--schedule", "fast", "--shard", "0/27", "--out", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another grid"));
    let out = relucert(&["reproduce", "fig2", "--at", "nowhere", "--out", d]);
    assert_eq!(out.status.code(), Some(2), "a bad --at is a usage error");
}

/// A FIFO where a shard's run file belongs is refused from its metadata at once (opening
/// and reading it would block the sweep forever).
#[test]
fn a_fifo_as_shard_file_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let shard = Shard { i: 0, n: 1 };
    let path = shard.file(dir.path());
    let made = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo (coreutils)");
    assert!(made.success(), "mkfifo failed");
    let Err(err) = relucert::experiments::ShardFile::open(dir.path(), shard) else {
        panic!("a FIFO must be refused");
    };
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
