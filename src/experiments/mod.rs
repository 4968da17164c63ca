//! The paper's experiments (Section 6): grids of runs, resumable and shardable sweeps,
//! summaries (mean ± standard deviation over seeds) and SVG plots in the paper's layout.
//!
//! A sweep directory holds (docs/formats.md):
//! * `grid.json` — the grid that defines the runs, and the figures asked of the
//!   directory. Figures 1(a) and 2 share their runs, so the figure is recorded rather
//!   than guessed from the grid. A directory holding another grid is refused.
//! * `runs-<i>-of-<n>.jsonl` — one JSON line per finished run of shard i of n, appended
//!   and synced as each run ends, so an interrupted sweep loses at most the runs in
//!   progress. The file is locked while its sweep runs. Finished runs (matched by their
//!   key) are skipped on resume.
//! * after a complete sweep or [`merge()`]: `runs.jsonl` (all shards), `summary.csv` and
//!   the figure's `.svg`.
//!
//! Source files: `grid.rs` (grids, shards, `grid.json`), `store.rs` (JSONL records and
//! locks), `sweep.rs` (thread pool and [`run_one`]), `summary.rs` (statistics and CSV),
//! `plot.rs`, and `merge.rs` ([`finish`], [`merge()`]). What one run does is supplied by
//! the caller of [`sweep()`]; the command line plugs in [`run_one`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

mod grid;
mod merge;
mod plot;
mod store;
mod summary;
mod sweep;

pub use grid::{prepare_dir, read_grid, read_saved_grid, Grid, RunSpec, SavedGrid, ScheduleChoice, Shard, GRID_FORMAT};
pub use merge::{finish, merge, resolve_figure, Finished};
pub use plot::plot;
pub use store::{read_records, write_merged, Records, RunRecord, ShardFile, Warning};
pub use summary::{mean_std, summarize, summary_csv, write_summary_csv, GroupKind, SummaryRow};
pub use sweep::{missing_runs, run_one, sweep, train_settings, SweepEvent, SweepOutcome, ON_MARGIN_SLACK};

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
    /// A file could not be read or written through the toolkit's file layer.
    #[error(transparent)]
    File(#[from] crate::io::IoError),
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
    /// Another sweep (in this or another process) holds the shard's run file.
    #[error("{}: another sweep of this shard is running (the file is locked); wait for it, or run another --shard", path.display())]
    Locked {
        /// The shard's run file.
        path: PathBuf,
    },
    /// The figure cannot be drawn from the directory's grid.
    #[error("{}: {} cannot be drawn from this grid (it draws {})", dir.display(), figure.name(), names(grid_figures))]
    WrongFigure {
        /// The directory.
        dir: PathBuf,
        /// The figure asked for.
        figure: Figure,
        /// The figures the grid draws.
        grid_figures: &'static [Figure],
    },
    /// The directory's grid draws several figures and `grid.json` does not single one out.
    #[error("{}: the runs serve {}; choose one with --figure", dir.display(), names(candidates))]
    AmbiguousFigure {
        /// The directory.
        dir: PathBuf,
        /// The figures it could be.
        candidates: Vec<Figure>,
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

fn names(figures: &[Figure]) -> String {
    figures.iter().map(|f| f.name()).collect::<Vec<_>>().join(" and ")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExpError + '_ {
    move |source| ExpError::Io { path: path.to_path_buf(), source }
}

/// The paper's figures.
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
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

    /// How the figure groups its runs: by width for Figure 1(b), else by α.
    pub fn group_kind(self) -> GroupKind {
        match self {
            Figure::Fig1b => GroupKind::Width,
            Figure::Fig1a | Figure::Fig2 => GroupKind::Alpha,
        }
    }
}
