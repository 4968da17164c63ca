//! The paper's experiments (Section 6): grids of runs, resumable and shardable sweeps,
//! summaries (mean ± standard deviation over seeds) and SVG plots in the paper's layout.
//!
//! A sweep directory holds:
//! * `grid.json` — the grid that defines the runs (figure-independent: Figures 1(a) and
//!   2 share their runs). A directory holding another grid is refused.
//! * `runs-<i>-of-<n>.jsonl` — one JSON line per finished run, appended and synced as
//!   each run ends, so an interrupted sweep loses at most the run in progress. A torn
//!   last line is ignored on reading. Finished runs (matched by their key) are skipped.
//! * after a complete sweep or `merge`: `runs.jsonl` (all shards), `summary.csv` and the
//!   figure's `.svg`.
//!
//! What one run does is supplied by the caller (see [`sweep`]); the `relucert` binary
//! plugs in training plus the Figure-1 measurement.

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Errors of sweeps and their files.
#[derive(Debug, Error)]
pub enum ExpError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file holds something unexpected.
    #[error("{}: {detail}", path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The directory already holds runs of a different grid.
    #[error("{}: holds runs of another grid ({detail}); use a new --out directory", dir.display())]
    OtherGrid {
        /// The directory.
        dir: PathBuf,
        /// The first difference.
        detail: String,
    },
    /// An invalid `--shard` value.
    #[error("invalid --shard {0:?}: expected i/n with 0 ≤ i < n (e.g. 0/4, or $SLURM_ARRAY_TASK_ID/4)")]
    Shard(String),
    /// One run failed.
    #[error("run {key}: {message}")]
    Run {
        /// The run's key.
        key: String,
        /// What went wrong.
        message: String,
    },
    /// Plotting failed.
    #[error("{}: plotting failed: {detail}", path.display())]
    Plot {
        /// The output file.
        path: PathBuf,
        /// The cause.
        detail: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExpError + '_ {
    move |source| ExpError::Io { path: path.to_path_buf(), source }
}

/// The paper's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Figure {
    /// Figure 1(a): c* against d for m = d^α, width 1000.
    Fig1a,
    /// Figure 1(b): c* against d for m = d and several widths.
    Fig1b,
    /// Figure 2: fraction and number of samples on the margin (the runs of Figure 1(a)).
    Fig2,
}

impl Figure {
    /// The figure's name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Figure::Fig1a => "fig1a",
            Figure::Fig1b => "fig1b",
            Figure::Fig2 => "fig2",
        }
    }
}

/// How a grid trains its networks.
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleChoice {
    /// The paper's protocol: lr 1e-5 × 1.1 every 100 iterations.
    Paper,
    /// The toolkit's fast loss-normalised schedule.
    Fast,
}

/// The runs of a sweep: every combination of dimension, size rule, width and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Input dimensions d.
    pub dims: Vec<usize>,
    /// Exponents α with m = round(d^α); empty means m = d (Figure 1(b)).
    pub alphas: Vec<f64>,
    /// Network widths.
    pub widths: Vec<usize>,
    /// Seeds (data and initialisation).
    pub seeds: Vec<u64>,
    /// Training schedule.
    pub schedule: ScheduleChoice,
    /// Training stops below this loss.
    pub target_loss: f64,
    /// Iteration cap per run.
    pub max_iters: u64,
    /// Initialisation scale (1 = PyTorch's default).
    pub init_scale: f64,
}

impl Grid {
    /// The paper's grid for a figure (`quick`: a reduced grid that runs in minutes on
    /// 2 cores and still shows the effect).
    pub fn paper(figure: Figure, quick: bool, schedule: ScheduleChoice) -> Grid {
        let alphas = vec![0.5, 0.8, 1.0, 1.2, 1.5];
        let (dims, alphas, widths, seeds): (Vec<usize>, Vec<f64>, Vec<usize>, Vec<u64>) = match (figure, quick) {
            (Figure::Fig1a | Figure::Fig2, false) => ((1..=10).map(|i| 100 * i).collect(), alphas, vec![1000], (0..5).collect()),
            (Figure::Fig1b, false) => ((1..=10).map(|i| 100 * i).collect(), vec![], vec![100, 200, 500, 1000, 2000, 4000, 8000], (0..5).collect()),
            (Figure::Fig1a | Figure::Fig2, true) => (vec![30, 60, 90], vec![0.5, 0.8, 1.0], vec![100], (0..3).collect()),
            (Figure::Fig1b, true) => (vec![16, 32, 48], vec![], vec![25, 50, 100, 200], (0..3).collect()),
        };
        Grid { dims, alphas, widths, seeds, schedule, target_loss: 1e-30, max_iters: 2_000_000, init_scale: 1.0 }
    }

    /// All runs in a fixed order; `index` numbers them for sharding.
    pub fn runs(&self) -> Vec<RunSpec> {
        let mut out = Vec::new();
        let rules: Vec<Option<f64>> = if self.alphas.is_empty() { vec![None] } else { self.alphas.iter().map(|&a| Some(a)).collect() };
        for &d in &self.dims {
            for &alpha in &rules {
                let m = match alpha {
                    Some(a) => ((d as f64).powf(a).round() as usize).max(2),
                    None => d,
                };
                for &width in &self.widths {
                    for &seed in &self.seeds {
                        out.push(RunSpec { index: out.len(), d, m, alpha, width, seed });
                    }
                }
            }
        }
        out
    }
}

/// One run of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Position in the grid (for sharding).
    pub index: usize,
    /// Input dimension.
    pub d: usize,
    /// Number of samples.
    pub m: usize,
    /// α with m = round(d^α), or `None` when m = d by definition.
    pub alpha: Option<f64>,
    /// Network width.
    pub width: usize,
    /// Seed of the data and the initialisation.
    pub seed: u64,
}

impl RunSpec {
    /// A stable key naming the run.
    pub fn key(&self) -> String {
        let a = self.alpha.map_or("m=d".to_string(), |a| format!("a={a}"));
        format!("d={},{a},m={},k={},seed={}", self.d, self.m, self.width, self.seed)
    }
}

/// What a finished run records (one JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's key.
    pub key: String,
    /// The run.
    pub spec: RunSpec,
    /// Iterations of training.
    pub iterations: u64,
    /// log10 of the final training loss.
    pub log10_loss: f64,
    /// Why training stopped.
    pub stop_reason: String,
    /// Smallest margin.
    pub q_min: f64,
    /// q_min / ‖θ‖².
    pub normalized_margin: f64,
    /// Training accuracy.
    pub accuracy: f64,
    /// Samples on the margin (q_i ≤ 1.1 q_min).
    pub on_margin: usize,
    /// `on_margin / m`.
    pub on_margin_fraction: f64,
    /// The Figure 1 perturbation size c* (`None` when no finite c flips all of I).
    pub c_star: Option<f64>,
    /// √d.
    pub sqrt_d: f64,
    /// Seconds spent on the run.
    pub wall_seconds: f64,
}

/// A `--shard i/n` selection: runs whose index ≡ i (mod n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0-based.
    pub i: usize,
    /// Number of shards.
    pub n: usize,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { i: 0, n: 1 };

    /// Parses `i/n` with 0 ≤ i < n.
    pub fn parse(s: &str) -> Result<Shard, ExpError> {
        let bad = || ExpError::Shard(s.to_string());
        let (a, b) = s.split_once('/').ok_or_else(bad)?;
        let i: usize = a.trim().parse().map_err(|_| bad())?;
        let n: usize = b.trim().parse().map_err(|_| bad())?;
        if n == 0 || i >= n {
            return Err(bad());
        }
        Ok(Shard { i, n })
    }

    fn file(&self, dir: &Path) -> PathBuf {
        dir.join(format!("runs-{}-of-{}.jsonl", self.i, self.n))
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct GridFile {
    format: String,
    grid: Grid,
}

const GRID_FORMAT: &str = "relucert/grid@1";

/// Creates `dir` if needed and checks (or records) that it belongs to `grid`.
pub fn prepare_dir(dir: &Path, grid: &Grid) -> Result<(), ExpError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join("grid.json");
    if path.exists() {
        let text = std::fs::read(&path).map_err(io_err(&path))?;
        let saved: GridFile = serde_json::from_slice(&text)
            .map_err(|e| ExpError::Content { path: path.clone(), detail: format!("not a grid file: {e}") })?;
        if saved.format != GRID_FORMAT {
            return Err(ExpError::Content { path, detail: format!("unknown format {:?}", saved.format) });
        }
        if saved.grid != *grid {
            return Err(ExpError::OtherGrid { dir: dir.to_path_buf(), detail: grid_difference(&saved.grid, grid) });
        }
        return Ok(());
    }
    let body = serde_json::to_vec_pretty(&GridFile { format: GRID_FORMAT.into(), grid: grid.clone() })
        .map_err(|e| ExpError::Content { path: path.clone(), detail: e.to_string() })?;
    crate::io::write_atomic(&path, &body).map_err(|e| ExpError::Content { path: path.clone(), detail: e.problem.to_string() })
}

fn grid_difference(a: &Grid, b: &Grid) -> String {
    let (ja, jb) = (serde_json::to_value(a).unwrap_or_default(), serde_json::to_value(b).unwrap_or_default());
    if let (Some(oa), Some(ob)) = (ja.as_object(), jb.as_object()) {
        for (k, va) in oa {
            if ob.get(k) != Some(va) {
                return format!("saved {k} = {va}, requested {}", ob.get(k).cloned().unwrap_or_default());
            }
        }
    }
    "settings differ".into()
}

/// Reads every record in the run files of `dir` (all shards), skipping a torn last line.
pub fn read_records(dir: &Path) -> Result<Vec<RunRecord>, ExpError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let rd = std::fs::read_dir(dir).map_err(io_err(dir))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("runs-") && n.ends_with(".jsonl")))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        let lines: Vec<&str> = text.split('\n').collect();
        for (n, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<RunRecord>(line) {
                Ok(r) => {
                    if seen.insert(r.key.clone()) {
                        out.push(r);
                    }
                }
                // The last line of a file may be torn by an interruption: skip it.
                Err(_) if n + 1 == lines.len() => {}
                Err(e) => {
                    return Err(ExpError::Content { path: path.clone(), detail: format!("line {}: {e}", n + 1) })
                }
            }
        }
    }
    Ok(out)
}

/// Cuts off a torn last line left by an interrupted sweep (before appending again).
fn cut_torn_tail(path: &Path) -> Result<(), ExpError> {
    if let Ok(text) = std::fs::read(path) {
        if !text.is_empty() && text.last() != Some(&b'\n') {
            let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let f = OpenOptions::new().write(true).open(path).map_err(io_err(path))?;
            f.set_len(keep as u64).map_err(io_err(path))?;
        }
    }
    Ok(())
}

fn append_record(path: &Path, rec: &RunRecord) -> Result<(), ExpError> {
    let mut line = serde_json::to_string(rec).map_err(|e| ExpError::Content { path: path.to_path_buf(), detail: e.to_string() })?;
    line.push('\n');
    let mut f = OpenOptions::new().create(true).append(true).open(path).map_err(io_err(path))?;
    f.write_all(line.as_bytes()).map_err(io_err(path))?;
    f.sync_data().map_err(io_err(path))
}

/// Progress of a sweep, for a caller's progress bar.
#[derive(Debug, Clone)]
pub enum SweepEvent<'a> {
    /// The sweep starts: `todo` runs to do in this shard, `done` already finished.
    Start {
        /// Runs left.
        todo: usize,
        /// Runs found finished.
        done: usize,
    },
    /// One run starts.
    RunStart(&'a RunSpec),
    /// One run ended.
    RunEnd(&'a RunRecord),
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    /// Runs executed now.
    pub ran: usize,
    /// Runs skipped because they were already finished.
    pub skipped: usize,
    /// Runs of the whole grid not yet finished (in any shard).
    pub missing: usize,
}

/// Runs this shard's part of `grid` in `dir`, skipping finished runs and appending each
/// new record as soon as it ends. `jobs` runs execute at once (each on its own thread);
/// `progress` is called on the calling thread. After a failed run no new run starts,
/// the runs in flight finish and are recorded, and the first error is returned.
pub fn sweep(
    dir: &Path,
    grid: &Grid,
    shard: Shard,
    jobs: usize,
    run: &(dyn Fn(&RunSpec) -> Result<RunRecord, ExpError> + Sync),
    progress: &mut dyn FnMut(SweepEvent),
) -> Result<SweepOutcome, ExpError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;

    prepare_dir(dir, grid)?;
    let done: HashSet<String> = read_records(dir)?.into_iter().map(|r| r.key).collect();
    let mine: Vec<RunSpec> = grid.runs().into_iter().filter(|r| r.index % shard.n == shard.i).collect();
    let todo: Vec<&RunSpec> = mine.iter().filter(|r| !done.contains(&r.key())).collect();
    progress(SweepEvent::Start { todo: todo.len(), done: mine.len() - todo.len() });
    let file = shard.file(dir);
    cut_torn_tail(&file)?;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut first_err: Option<ExpError> = None;
    let mut ran = 0;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Option<Result<RunRecord, ExpError>>)>();
        for _ in 0..jobs.clamp(1, todo.len().max(1)) {
            let tx = tx.clone();
            let (next, stop, todo) = (&next, &stop, &todo);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(spec) = todo.get(i) else { return };
                let _ = tx.send((i, None));
                let result = run(spec);
                if result.is_err() {
                    stop.store(true, Ordering::SeqCst);
                }
                let _ = tx.send((i, Some(result)));
            });
        }
        drop(tx);
        for (i, msg) in rx {
            match msg {
                None => progress(SweepEvent::RunStart(todo[i])),
                Some(Ok(rec)) => match append_record(&file, &rec) {
                    Ok(()) => {
                        ran += 1;
                        progress(SweepEvent::RunEnd(&rec));
                    }
                    Err(e) => {
                        stop.store(true, Ordering::SeqCst);
                        first_err.get_or_insert(e);
                    }
                },
                Some(Err(e)) => {
                    first_err.get_or_insert(e);
                }
            }
        }
    });
    if let Some(e) = first_err {
        return Err(e);
    }
    let finished: HashSet<String> = read_records(dir)?.into_iter().map(|r| r.key).collect();
    let missing = grid.runs().iter().filter(|r| !finished.contains(&r.key())).count();
    Ok(SweepOutcome { ran, skipped: mine.len() - todo.len(), missing })
}

/// Reads the grid saved in `dir`.
pub fn read_grid(dir: &Path) -> Result<Grid, ExpError> {
    let path = dir.join("grid.json");
    let text = std::fs::read(&path).map_err(io_err(&path))?;
    let saved: GridFile =
        serde_json::from_slice(&text).map_err(|e| ExpError::Content { path: path.clone(), detail: e.to_string() })?;
    Ok(saved.grid)
}

/// One point of a plot: a group (α or width) at one d, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// "alpha" or "width".
    pub group_kind: &'static str,
    /// α or width.
    pub group: f64,
    /// Input dimension.
    pub d: usize,
    /// Samples.
    pub m: usize,
    /// Runs (seeds) in the group.
    pub runs: usize,
    /// Mean of c* over runs with a finite c*.
    pub c_star_mean: f64,
    /// Sample standard deviation of c* (0 for one run).
    pub c_star_std: f64,
    /// Runs whose c* was infinite.
    pub c_star_infinite: usize,
    /// Mean fraction of samples on the margin.
    pub on_margin_fraction_mean: f64,
    /// Mean number of samples not on the margin.
    pub off_margin_mean: f64,
    /// √d.
    pub sqrt_d: f64,
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// Groups records by (α or width, d) and averages over seeds.
pub fn summarize(records: &[RunRecord], by_width: bool) -> Vec<SummaryRow> {
    let mut groups: BTreeMap<(u64, usize), Vec<&RunRecord>> = BTreeMap::new();
    for r in records {
        let g = if by_width { r.spec.width as f64 } else { r.spec.alpha.unwrap_or(1.0) };
        groups.entry((g.to_bits(), r.spec.d)).or_default().push(r);
    }
    let mut rows: Vec<SummaryRow> = groups
        .into_iter()
        .map(|((g, d), rs)| {
            let finite: Vec<f64> = rs.iter().filter_map(|r| r.c_star).collect();
            let (c_star_mean, c_star_std) = mean_std(&finite);
            let fr: Vec<f64> = rs.iter().map(|r| r.on_margin_fraction).collect();
            let off: Vec<f64> = rs.iter().map(|r| (r.spec.m - r.on_margin) as f64).collect();
            SummaryRow {
                group_kind: if by_width { "width" } else { "alpha" },
                group: f64::from_bits(g),
                d,
                m: rs[0].spec.m,
                runs: rs.len(),
                c_star_mean,
                c_star_std,
                c_star_infinite: rs.len() - finite.len(),
                on_margin_fraction_mean: mean_std(&fr).0,
                off_margin_mean: mean_std(&off).0,
                sqrt_d: (d as f64).sqrt(),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.group.total_cmp(&b.group).then(a.d.cmp(&b.d)));
    rows
}

/// Writes the summary as CSV (atomically).
pub fn write_summary_csv(path: &Path, rows: &[SummaryRow]) -> Result<(), ExpError> {
    let mut s = String::from("group_kind,group,d,m,runs,c_star_mean,c_star_std,c_star_infinite,on_margin_fraction_mean,off_margin_mean,sqrt_d\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            r.group_kind, r.group, r.d, r.m, r.runs, r.c_star_mean, r.c_star_std, r.c_star_infinite,
            r.on_margin_fraction_mean, r.off_margin_mean, r.sqrt_d
        ));
    }
    crate::io::write_atomic(path, s.as_bytes()).map_err(|e| ExpError::Content { path: path.to_path_buf(), detail: e.problem.to_string() })
}

/// Writes all records of `dir` into one `runs.jsonl` (atomically).
pub fn write_merged(dir: &Path, records: &[RunRecord]) -> Result<PathBuf, ExpError> {
    let path = dir.join("runs.jsonl");
    let mut s = String::new();
    for r in records {
        s.push_str(&serde_json::to_string(r).map_err(|e| ExpError::Content { path: path.clone(), detail: e.to_string() })?);
        s.push('\n');
    }
    crate::io::write_atomic(&path, s.as_bytes()).map_err(|e| ExpError::Content { path: path.clone(), detail: e.problem.to_string() })?;
    Ok(path)
}

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
        let label = |g: f64| if rows.first().is_some_and(|r| r.group_kind == "width") { format!("width {g}") } else { format!("m = d^{g}") };
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

/// Settings of one real run beyond its [`RunSpec`]: how to train.
pub fn train_settings(grid: &Grid) -> crate::train::TrainSettings {
    use crate::train::{Schedule, TrainSettings};
    TrainSettings {
        schedule: match grid.schedule {
            ScheduleChoice::Paper => Schedule::PAPER,
            ScheduleChoice::Fast => Schedule::FAST,
        },
        target_log10_loss: grid.target_loss.log10(),
        max_iters: grid.max_iters,
        // The paper's SGD with batch 5,000 (full batch below 5,000 samples).
        batch: Some(5000),
        ..TrainSettings::default()
    }
}

/// One run of the paper's experiment: sphere data (seed), PyTorch-style initialisation
/// (seed), training to the grid's target loss, then the Figure 1 measurement with the
/// paper's 10 % slack.
///
/// `threads` is the trainer's thread count: 1 when several runs share the machine.
pub fn run_one(spec: &RunSpec, grid: &Grid, threads: usize) -> Result<RunRecord, ExpError> {
    let fail = |message: String| ExpError::Run { key: spec.key(), message };
    let start = std::time::Instant::now();
    let data = crate::data::Generator::Sphere.generate(spec.d, spec.m, spec.seed).map_err(|e| fail(e.to_string()))?;
    let init = crate::train::init_net(spec.d, spec.width, true, spec.seed, grid.init_scale).map_err(|e| fail(e.to_string()))?;
    let mut settings = train_settings(grid);
    settings.seed = spec.seed;
    settings.threads = threads;
    let out = crate::train::train(&data, init, &settings, &mut |_| {}).map_err(|e| fail(e.to_string()))?;
    let rep = &out.report;
    let fig = crate::radius::fig1(&out.net, &data, 0.1);
    let (on_margin, c_star) = match &fig {
        Ok(f) => (f.on_margin.len(), f.c_star.is_finite().then_some(f.c_star)),
        Err(_) => (0, None),
    };
    Ok(RunRecord {
        key: spec.key(),
        spec: spec.clone(),
        iterations: rep.iterations,
        log10_loss: rep.log10_loss,
        stop_reason: rep.stop_reason.code().to_string(),
        q_min: rep.q_min,
        normalized_margin: rep.normalized_margin,
        accuracy: rep.accuracy,
        on_margin,
        on_margin_fraction: on_margin as f64 / spec.m as f64,
        c_star,
        sqrt_d: (spec.d as f64).sqrt(),
        wall_seconds: start.elapsed().as_secs_f64(),
    })
}
