//! Running a sweep: [`sweep`] runs one shard of a grid on a small thread pool, skipping
//! finished runs and appending each record to the shard's locked file as it ends;
//! [`run_one`] is the paper's run (sphere data, training, the Figure-1 measurement of
//! docs/radius.md).

use std::collections::HashSet;
use std::path::Path;

use super::grid::{prepare_dir, Grid, RunSpec, ScheduleChoice, Shard};
use super::store::{read_records, RunRecord, ShardFile, Warning};
use super::{ExpError, Figure};

/// Progress of a sweep, for a caller's progress bar and warnings.
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
    /// Something was skipped or could not be guaranteed; the sweep goes on.
    Warning(&'a Warning),
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

/// Runs of `grid` that have no record among `records`.
pub fn missing_runs(grid: &Grid, records: &[RunRecord]) -> usize {
    let keys: HashSet<&str> = records.iter().map(|r| r.key.as_str()).collect();
    grid.runs().iter().filter(|r| !keys.contains(r.key().as_str())).count()
}

/// Runs this shard's part of `grid` in `dir` for `figure` (recorded in `grid.json`,
/// see [`prepare_dir`]), skipping finished runs and appending each new record as soon
/// as it ends. `jobs` runs execute at once (each on its own thread); `progress` is
/// called on the calling thread.
///
/// The shard's file is locked for the whole sweep: a second sweep of the same shard
/// (in this or another process) fails with [`ExpError::Locked`] before running
/// anything. After a failed run no new run starts, the runs in flight finish and are
/// recorded, and the first error is returned.
pub fn sweep(
    dir: &Path,
    figure: Figure,
    grid: &Grid,
    shard: Shard,
    jobs: usize,
    run: &(dyn Fn(&RunSpec) -> Result<RunRecord, ExpError> + Sync),
    progress: &mut dyn FnMut(SweepEvent),
) -> Result<SweepOutcome, ExpError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;

    prepare_dir(dir, grid, None)?;
    // Lock before reading what is done, so two sweeps of one shard never both run it;
    // a refused sweep records nothing, not even its figure.
    let (mut file, lock_warning) = ShardFile::open(dir, shard)?;
    prepare_dir(dir, grid, Some(figure))?;
    if let Some(w) = &lock_warning {
        progress(SweepEvent::Warning(w));
    }
    let before = read_records(dir)?;
    for w in &before.warnings {
        progress(SweepEvent::Warning(w));
    }
    let done: HashSet<String> = before.records.into_iter().map(|r| r.key).collect();
    let mine: Vec<RunSpec> = grid.runs().into_iter().filter(|r| shard.contains(r.index)).collect();
    let todo: Vec<&RunSpec> = mine.iter().filter(|r| !done.contains(&r.key())).collect();
    progress(SweepEvent::Start { todo: todo.len(), done: mine.len() - todo.len() });
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
                Some(Ok(rec)) => match file.append(&rec) {
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
    let after = read_records(dir)?;
    Ok(SweepOutcome { ran, skipped: mine.len() - todo.len(), missing: missing_runs(grid, &after.records) })
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

/// The paper's on-margin slack: sample i is on the margin when q_i ≤ 1.1·q_min.
pub const ON_MARGIN_SLACK: f64 = 0.1;

/// One run of the paper's experiment: sphere data (seed), PyTorch-style initialisation
/// (seed), training to the grid's target loss, then the Figure 1 measurement with the
/// paper's 10 % slack.
///
/// A failed training is an error; a failed Figure-1 measurement (for instance a net
/// that does not separate its data) is recorded with its reason in `fig1_failure`,
/// c* and the on-margin counts null, so that it is counted but never mistaken for an
/// infinite c*.
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
    let (on_margin, c_star, fig1_failure) = match crate::radius::fig1(&out.net, &data, ON_MARGIN_SLACK) {
        Ok(f) => (Some(f.on_margin.len()), f.c_star.is_finite().then_some(f.c_star), None),
        Err(e) => (None, None, Some(e.to_string())),
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
        on_margin_fraction: on_margin.map(|k| k as f64 / spec.m as f64),
        c_star,
        fig1_failure,
        sqrt_d: (spec.d as f64).sqrt(),
        wall_seconds: start.elapsed().as_secs_f64(),
    })
}
