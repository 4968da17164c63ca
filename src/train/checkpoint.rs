//! Checkpoints and resume (the companion files of docs/formats.md).
//!
//! A run writes its network to `OUT` and, beside it, `OUT.checkpoint.json`
//! ([`Checkpoint`], format [`CHECKPOINT_FORMAT`]): the iteration, the loss, and the
//! whole [`TrainerState`] — the schedule's step size and rejection counters, the
//! minibatch position, the stall window — so that `train` resumed from the pair takes
//! exactly the steps an uninterrupted run would have taken. The CLI also writes
//! `OUT.report.json`; [`resume_point`] reads whichever of the two is later. Files of the
//! first checkpoint format (`relucert/train-checkpoint@1`, iteration and loss only) are
//! still read: the schedule then starts afresh from that iteration.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::StopCode;
use super::schedule::ScheduleState;
use crate::io::{self, IoError, IoProblem};
use crate::net::Net;

/// Format tag of [`Checkpoint`] files written now.
pub const CHECKPOINT_FORMAT: &str = "relucert/train-checkpoint@2";
/// Format tag of the first checkpoint files (no trainer state), still read.
pub const CHECKPOINT_FORMAT_V1: &str = "relucert/train-checkpoint@1";

/// Everything the driver carries from one step to the next besides the network.
///
/// Floating-point fields are written as decimal strings that read back to the same bits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Accepted iterations so far (counting from the first run).
    pub iteration: u64,
    /// The schedule's state (the fast schedule's α and consecutive rejections).
    pub schedule: ScheduleState,
    /// Rejected proposals so far (all runs).
    pub rejected_steps: u64,
    /// Minibatch shuffles done so far (each epoch reshuffles the previous permutation
    /// with the run's seed; resume replays them).
    pub epochs: u64,
    /// Position of the next minibatch in the current permutation.
    pub batch_position: usize,
    /// Best natural-log loss seen (for the stall window).
    #[serde(with = "super::schedule::exact_f64")]
    pub best_ln_loss: f64,
    /// Iteration at which the current stall window started.
    pub window_start: u64,
    /// Best natural-log loss at the start of the window.
    #[serde(with = "super::schedule::exact_f64")]
    pub window_ln_loss: f64,
}

/// The checkpoint file `OUT.checkpoint.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`CHECKPOINT_FORMAT`] (or [`CHECKPOINT_FORMAT_V1`] when read from an old file).
    pub format: String,
    /// Accepted iterations of the network beside it.
    pub iteration: u64,
    /// log10 of its loss.
    pub log10_loss: f64,
    /// The trainer's state (absent in the first format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TrainerState>,
    /// Why the run stopped, when the checkpoint was written at its end (`converged`,
    /// the old name of `target_loss`, is accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopCode>,
}

/// `OUT` followed by `suffix` (e.g. `n.json` → `n.json.checkpoint.json`).
pub fn companion(out: &Path, suffix: &str) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The checkpoint file beside a network file.
pub fn checkpoint_path(net: &Path) -> PathBuf {
    companion(net, ".checkpoint.json")
}

/// The report file beside a network file.
pub fn report_path(net: &Path) -> PathBuf {
    companion(net, ".report.json")
}

/// Writes `net` to `out` (atomically, in f64) and then its checkpoint file.
pub fn write_checkpoint(out: &Path, net: &Net, checkpoint: &Checkpoint) -> Result<(), IoError> {
    io::write_net(out, net, io::FileDtype::F64)?;
    io::write_json(&checkpoint_path(out), checkpoint)
}

/// Reads a checkpoint file, refusing an unknown format.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint, IoError> {
    let c: Checkpoint = io::read_json(path)?;
    if c.format != CHECKPOINT_FORMAT && c.format != CHECKPOINT_FORMAT_V1 {
        return Err(IoError { path: path.to_path_buf(), problem: IoProblem::Format { found: c.format, expected: CHECKPOINT_FORMAT } });
    }
    Ok(c)
}

/// Where a run resumed from a network file continues.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResumePoint {
    /// Iteration number of the network (0 when nothing beside it says otherwise).
    pub iteration: u64,
    /// The trainer state, when a checkpoint of the current format is the latest record.
    pub state: Option<TrainerState>,
}

/// The latest record beside a network file: its checkpoint or its report (the report's
/// `last_iteration`), whichever is later; absent files count as iteration 0. A file
/// that exists but cannot be read is an error, not a silent restart.
pub fn resume_point(net: &Path) -> Result<ResumePoint, IoError> {
    let ckpt_path = checkpoint_path(net);
    let ckpt = if ckpt_path.exists() { Some(read_checkpoint(&ckpt_path)?) } else { None };
    let rep_path = report_path(net);
    let report_iter = if rep_path.exists() {
        let v: serde_json::Value = io::read_json(&rep_path)?;
        v.get("last_iteration").and_then(|t| t.as_u64()).unwrap_or(0)
    } else {
        0
    };
    Ok(match ckpt {
        Some(c) if c.iteration >= report_iter => ResumePoint { iteration: c.iteration, state: c.state },
        _ => ResumePoint { iteration: report_iter, state: None },
    })
}
