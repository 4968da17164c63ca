//! Finishing a sweep directory: [`finish`] gathers every shard's records into
//! `runs.jsonl`, summarises them into `summary.csv` and draws the figure; [`merge`]
//! does the same for a directory whose figure it reads from `grid.json` (or is told),
//! never guessing it from the grid, since Figures 1(a) and 2 share one grid.

use std::path::{Path, PathBuf};

use super::grid::{read_saved_grid, Grid};
use super::plot::plot;
use super::store::{read_records, write_merged, Warning};
use super::summary::{summarize, write_summary_csv, SummaryRow};
use super::sweep::missing_runs;
use super::{ExpError, Figure};

/// What finishing a sweep directory produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The figure drawn.
    pub figure: Figure,
    /// The grid of the directory.
    pub grid: Grid,
    /// The summary (empty when no run has finished).
    pub rows: Vec<SummaryRow>,
    /// `runs.jsonl`, holding every record of every shard.
    pub merged: PathBuf,
    /// `summary.csv`, written when at least one run has finished.
    pub csv: Option<PathBuf>,
    /// The figure's SVG, written when at least one run has finished.
    pub svg: Option<PathBuf>,
    /// Runs found.
    pub runs: usize,
    /// Runs of the grid with no record yet (other shards still running, or failed).
    pub missing: usize,
    /// Damaged lines skipped while reading the shards.
    pub warnings: Vec<Warning>,
}

/// Gathers the records of `dir` (a sweep directory of `grid`) and writes
/// `runs.jsonl`, `summary.csv` and `<figure>.svg`.
pub fn finish(dir: &Path, figure: Figure, grid: &Grid) -> Result<Finished, ExpError> {
    let read = read_records(dir)?;
    let missing = missing_runs(grid, &read.records);
    let merged = write_merged(dir, &read.records)?;
    let rows = summarize(&read.records, figure.group_kind());
    let (mut csv, mut svg) = (None, None);
    if !read.records.is_empty() {
        let c = dir.join("summary.csv");
        write_summary_csv(&c, &rows)?;
        let s = dir.join(format!("{}.svg", figure.name()));
        plot(&s, figure, &rows)?;
        (csv, svg) = (Some(c), Some(s));
    }
    Ok(Finished {
        figure,
        grid: grid.clone(),
        rows,
        merged,
        csv,
        svg,
        runs: read.records.len(),
        missing,
        warnings: read.warnings,
    })
}

/// Which figure `merge` draws: `requested` when given (it must suit the grid), else
/// the one figure recorded in `grid.json`, else the one figure the grid can draw.
/// Several candidates (a Figure 1(a)/2 grid with none or both recorded) are refused
/// with [`ExpError::AmbiguousFigure`], which names them.
pub fn resolve_figure(dir: &Path, grid: &Grid, recorded: &[Figure], requested: Option<Figure>) -> Result<Figure, ExpError> {
    let possible = grid.figures();
    if let Some(f) = requested {
        return if possible.contains(&f) {
            Ok(f)
        } else {
            Err(ExpError::WrongFigure { dir: dir.to_path_buf(), figure: f, grid_figures: possible })
        };
    }
    let candidates: Vec<Figure> = if recorded.is_empty() {
        possible.to_vec()
    } else {
        recorded.iter().copied().filter(|f| possible.contains(f)).collect()
    };
    match candidates.as_slice() {
        [f] => Ok(*f),
        _ => Err(ExpError::AmbiguousFigure { dir: dir.to_path_buf(), candidates: if candidates.is_empty() { possible.to_vec() } else { candidates } }),
    }
}

/// Finishes the sweep directory `dir` (all shards found there) for `figure`, or for
/// the figure recorded in its `grid.json` (see [`resolve_figure`]).
pub fn merge(dir: &Path, figure: Option<Figure>) -> Result<Finished, ExpError> {
    let saved = read_saved_grid(dir)?;
    let figure = resolve_figure(dir, &saved.grid, &saved.figures, figure)?;
    finish(dir, figure, &saved.grid)
}
