//! What a sweep runs: the paper's grids ([`Grid`], [`RunSpec`]), the `--shard i/n`
//! selection ([`Shard`]), and the sweep directory's `grid.json`, which pins a directory
//! to one grid and records the figures that were asked of it (docs/formats.md).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io_err, ExpError, Figure};

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

    /// The figures this grid's runs can draw: Figure 1(b) for an m = d grid (no α),
    /// else Figures 1(a) and 2, which share their runs.
    pub fn figures(&self) -> &'static [Figure] {
        if self.alphas.is_empty() {
            &[Figure::Fig1b]
        } else {
            &[Figure::Fig1a, Figure::Fig2]
        }
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

    /// Whether the run numbered `index` belongs to this shard.
    pub fn contains(&self, index: usize) -> bool {
        index % self.n == self.i
    }

    /// This shard's run file in `dir`.
    pub fn file(&self, dir: &Path) -> PathBuf {
        dir.join(format!("runs-{}-of-{}.jsonl", self.i, self.n))
    }
}

/// `grid.json`: the grid, and the figures asked of the directory (absent in files
/// written before figures were recorded).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct GridFile {
    format: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    figures: Vec<Figure>,
    grid: Grid,
}

/// The format tag of `grid.json`.
pub const GRID_FORMAT: &str = crate::io::tags::GRID;

/// What `grid.json` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedGrid {
    /// The grid of the directory's runs.
    pub grid: Grid,
    /// The figures that sweeps in the directory were run for, in the order first asked
    /// (empty for a directory written before figures were recorded).
    pub figures: Vec<Figure>,
}

fn read_grid_file(path: &Path) -> Result<GridFile, ExpError> {
    let text = crate::io::read_bytes(path)?;
    let saved: GridFile = serde_json::from_slice(&text)
        .map_err(|e| ExpError::Content { path: path.to_path_buf(), detail: format!("not a grid file: {e}") })?;
    if saved.format != GRID_FORMAT {
        return Err(ExpError::Content { path: path.to_path_buf(), detail: format!("unknown format {:?}", saved.format) });
    }
    Ok(saved)
}

fn write_grid_file(path: &Path, file: &GridFile) -> Result<(), ExpError> {
    let body = serde_json::to_vec_pretty(file).map_err(|e| ExpError::Content { path: path.to_path_buf(), detail: e.to_string() })?;
    Ok(crate::io::write_atomic(path, &body)?)
}

/// Creates `dir` if needed and checks (or records) that it belongs to `grid`; with a
/// `figure`, also records that this figure was asked of the directory, so that
/// [`merge`](super::merge) draws it without guessing from the grid.
///
/// Refuses a directory of another grid, and a figure the grid cannot draw.
pub fn prepare_dir(dir: &Path, grid: &Grid, figure: Option<Figure>) -> Result<(), ExpError> {
    if let Some(f) = figure {
        if !grid.figures().contains(&f) {
            return Err(ExpError::WrongFigure { dir: dir.to_path_buf(), figure: f, grid_figures: grid.figures() });
        }
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    // Serialise read-modify-write of grid.json between processes (shards started
    // together); held only for this function.
    let _guard = super::store::lock_blocking(&dir.join(".grid.lock"))?;
    let path = dir.join("grid.json");
    if !path.exists() {
        let file = GridFile { format: GRID_FORMAT.into(), figures: figure.into_iter().collect(), grid: grid.clone() };
        return write_grid_file(&path, &file);
    }
    let mut saved = read_grid_file(&path)?;
    if saved.grid != *grid {
        return Err(ExpError::OtherGrid { dir: dir.to_path_buf(), detail: grid_difference(&saved.grid, grid) });
    }
    match figure {
        Some(f) if !saved.figures.contains(&f) => {
            saved.figures.push(f);
            write_grid_file(&path, &saved)
        }
        _ => Ok(()),
    }
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

/// Reads the grid saved in `dir`.
pub fn read_grid(dir: &Path) -> Result<Grid, ExpError> {
    Ok(read_saved_grid(dir)?.grid)
}

/// Reads `dir/grid.json`: the grid and the figures recorded for the directory.
pub fn read_saved_grid(dir: &Path) -> Result<SavedGrid, ExpError> {
    let file = read_grid_file(&dir.join("grid.json"))?;
    Ok(SavedGrid { grid: file.grid, figures: file.figures })
}
